//! The examples that can run here run in the test suite: `examples/busybox/run.sh` records a container through
//! runc, profiles it, runs it under the profile and checks that a step outside it is denied.

mod common;

use std::process::{Command, Stdio};

use common::container::{RuncLock, runc_or_skip};
use common::*;

#[test]
fn busybox_example_runs_end_to_end() {
    let Some(_runc) = runc_or_skip("busybox_example") else { return };
    let dir = TempDir::new("example");
    let _lock = RuncLock::take();
    let out = run(Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/busybox/run.sh"))
        .arg(dir.path())
        .env("TRAPLINE", env!("CARGO_BIN_EXE_trapline"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "stdout:\n{}\nstderr:\n{}", out.stdout_str(), out.stderr_str());
    assert!(out.stdout_str().contains("denied, as it should be"), "{}", out.stdout_str());
    assert!(out.stderr_str().contains("Operation not permitted"), "{}", out.stderr_str());
    assert!(dir.join("app.seccomp.md").exists());
}
