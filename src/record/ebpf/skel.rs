//! The libbpf skeleton of `trapline.bpf.c`, generated at build time by `build.rs`.

#![allow(clippy::all, clippy::pedantic, unsafe_op_in_unsafe_fn)]

include!(concat!(env!("OUT_DIR"), "/trapline.skel.rs"));
