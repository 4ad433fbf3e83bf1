//! `--backend notify`: seccomp user notification instead of ptrace. It must see the same calls as the ptrace
//! backend (results aside), across threads, forks and execs, and pass the workload's exit status through.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

use common::*;

/// (syscall, arch, argument values, fd kind) -> calls: what both backends must agree on.
fn calls(trace: &Value) -> BTreeMap<(String, String, Vec<String>, String), u64> {
    let mut out = BTreeMap::new();
    for c in classes(trace) {
        let args = c["args"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap().to_string()).collect();
        let fd = c["fd"]["kind"].as_str().unwrap_or("").to_string();
        let key = (c["syscall"].as_str().unwrap().to_string(), c["arch"].as_str().unwrap().to_string(), args, fd);
        *out.entry(key).or_insert(0) += count_of(c);
    }
    out
}

/// The two backends record the same program; names and counts must match exactly, except for calls whose
/// count depends on timing (thread start-up contention). Output is compared unless it holds pids.
fn same_as_ptrace(cmd: &[&str], timing: &[&str], same_output: bool) {
    let ptrace = record(cmd);
    let notify = record_with(&["--backend", "notify"], cmd);
    assert_eq!(notify.code(), ptrace.code(), "{}", notify.out.stderr_str());
    if same_output {
        assert_eq!(notify.out.stdout_str(), ptrace.out.stdout_str());
    }
    let run = &notify.trace["runs"][0];
    assert_eq!(run["backend"], "notify");
    assert_eq!(run["results"], "none");
    assert!(classes(&notify.trace).iter().all(|c| c.get("results").is_none()), "notify sees no results");
    let (mut a, mut b) = (calls(&ptrace.trace), calls(&notify.trace));
    for map in [&mut a, &mut b] {
        map.retain(|(name, ..), _| !timing.contains(&name.as_str()));
    }
    assert_eq!(b, a, "notify (left) and ptrace (right) disagree for {cmd:?}");
    assert_eq!(run["totals"]["processes"], ptrace.trace["runs"][0]["totals"]["processes"]);
}

#[test]
fn threads_are_all_seen() {
    same_as_ptrace(&[fixture("threads64").to_str().unwrap()], &["futex"], true);
}

#[test]
fn forks_clone3_vfork_and_execs_are_all_seen() {
    same_as_ptrace(&[fixture("forkexec").to_str().unwrap()], &[], false);
}

#[test]
fn exit_status_and_death_by_signal_pass_through() {
    let exited = record_with(&["--backend", "notify"], &[fixture("exitcode").to_str().unwrap(), "42"]);
    assert_eq!(exited.code(), 42);
    let killed = record_with(&["--backend", "notify"], &[fixture("killself").to_str().unwrap(), "TERM"]);
    assert_eq!(killed.code(), 128 + 15);
    assert_eq!(killed.trace["runs"][0]["exit"]["signal"], "SIGTERM");
}

#[test]
fn devices_are_described_as_with_ptrace() {
    let notify = record_with(&["--backend", "notify"], &[fixture("ioctl_bit31").to_str().unwrap()]);
    let ioctl = classes_named(&notify.trace, "ioctl")
        .into_iter()
        .find(|c| c["args"][0]["value"] == "0xc0104629")
        .expect("the bit-31 ioctl");
    assert_eq!(ioctl["fd"]["path"], "/dev/null");
    assert_eq!(ioctl["args"][0]["decoded"], "_IOWR('F', 0x29, 16)");
}
