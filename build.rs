//! Builds the eBPF recorder's kernel side (`src/record/ebpf/trapline.bpf.c`) with clang and generates its
//! libbpf skeleton, so the binary carries the program and loads it with CO-RE relocations on any kernel with
//! BTF. `make deps` installs clang and the libbpf headers.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SOURCE: &str = "src/record/ebpf/trapline.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("trapline.skel.rs");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    // The UAPI headers the program includes sit in Debian's multiarch directory.
    let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
    let target = match arch.as_str() {
        "x86_64" => "-D__TARGET_ARCH_x86",
        "aarch64" => "-D__TARGET_ARCH_arm64",
        other => panic!("the eBPF recorder is not built for {other}"),
    };
    if let Err(error) = SkeletonBuilder::new()
        .source(SOURCE)
        .clang_args(["-Isrc/record/ebpf", multiarch.as_str(), target])
        .build_and_generate(&out)
    {
        panic!("building {SOURCE} failed (clang and libbpf-dev installed? `make deps` installs them): {error:#}");
    }
    for file in [SOURCE, "src/record/ebpf/kernel.h", "src/record/ebpf/interface.h"] {
        println!("cargo:rerun-if-changed={file}");
    }
}
