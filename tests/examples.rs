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

/// The CI examples are what users copy: every shell step passes shellcheck (as the runner runs it: bash on
/// GitHub, sh on GitLab), and every GitHub action is a major that runs on Node 24 (runners dropped Node 20).
#[test]
fn ci_examples_pass_shellcheck_and_use_current_actions() {
    let dir = TempDir::new("ci-examples");
    let ci = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci");
    // Every shell step as one file each: GitHub's `run:`, GitLab's `before_script:` and `script:` lines.
    let extract = r##"
import os, sys, yaml
ci, out = sys.argv[1], sys.argv[2]
uses = []
workflow = yaml.safe_load(open(os.path.join(ci, "github-actions.yml")))
for job in workflow["jobs"].values():
    for n, step in enumerate(job["steps"]):
        if "run" in step:
            open(os.path.join(out, f"github-{n}.bash"), "w").write("#!/bin/bash\nset -e\n" + step["run"])
        if "uses" in step:
            uses.append(step["uses"])
gitlab = yaml.safe_load(open(os.path.join(ci, "gitlab-ci.yml")))
for name, job in gitlab.items():
    lines = job.get("before_script", []) + job.get("script", [])
    open(os.path.join(out, f"gitlab-{name}.sh"), "w").write("#!/bin/sh\nset -e\n" + "\n".join(lines) + "\n")
print("\n".join(uses))
"##;
    let extracted = run(Command::new("/usr/bin/python3")
        .args(["-c", extract, ci])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(extracted.code(), 0, "{}", extracted.stderr_str());
    let mut scripts: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    scripts.sort();
    assert!(scripts.len() >= 5, "{scripts:?}");
    let checked = run(Command::new("shellcheck").args(&scripts).stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(
        checked.code(),
        0,
        "shellcheck (make deps installs it):\n{}{}",
        checked.stdout_str(),
        checked.stderr_str()
    );

    // The first major of each action that runs on Node 24.
    let node24 = [
        ("actions/checkout", 5),
        ("actions/cache", 5),
        ("actions/github-script", 8),
        ("actions/upload-artifact", 6),
        ("github/codeql-action/upload-sarif", 4),
    ];
    for action in extracted.stdout_str().lines() {
        let (name, version) = action.split_once("@v").unwrap_or_else(|| panic!("{action}: not pinned to a major"));
        let major: u32 = version.split('.').next().unwrap().parse().unwrap();
        let (_, first) = node24.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{action}: unknown action"));
        assert!(major >= *first, "{action}: runs on Node 20, which runners no longer have; use v{first} or later");
    }
}
