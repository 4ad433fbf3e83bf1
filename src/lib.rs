//! trapline records what a workload asks of the Linux kernel and turns it into the smallest OCI seccomp
//! profile that still lets it run.

pub mod cli;
pub mod decode;
pub mod files;
pub mod import;
pub mod observe;
pub mod profile;
pub mod record;
pub mod review;
pub mod trace;
