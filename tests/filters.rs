//! Recording through seccomp filters already in force. A call that a filter denies never reaches trapline's
//! own SECCOMP_RET_TRACE (the strongest answer wins), so a task under a filter of its own, or a workload under a
//! filter trapline inherited, is followed at every syscall entry instead: every call is in the trace, with the
//! error it got, and the denials are marked where the filters can be read. strace -f is the oracle for how
//! many calls there were.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use common::*;

fn denied(class: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(class.get("denied").cloned().unwrap_or(json!({}))).unwrap()
}

/// How many calls of `name` `strace -f` sees the fixture make.
fn strace_count(args: &[&str], name: &str) -> u64 {
    let dir = TempDir::new("filters-strace");
    let log = dir.join("strace.log");
    let out = run(Command::new("strace")
        .arg("-f")
        .arg("-qq")
        .arg("-e")
        .arg(format!("trace={name}"))
        .arg("-o")
        .arg(&log)
        .arg(fixture("own_filter"))
        .args(args));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    fs::read_to_string(&log).unwrap().lines().filter(|l| l.contains(&format!("{name}("))).count() as u64
}

#[test]
fn calls_the_workloads_own_filter_denies_are_recorded_and_marked() {
    let exe = fixture("own_filter");
    let rec = record(&[exe.to_str().unwrap(), "install"]);
    assert_eq!(rec.code(), 0, "the workload saw other answers than its filter gives: {}", rec.out.stderr_str());
    check_trace(&rec.trace);
    assert_eq!(
        rec.trace["runs"][0]["filters"],
        json!({"inherited": false, "loaded": 1, "attributed": true, "seen": true}),
        "{}",
        rec.trace["runs"][0]
    );

    // Two threads and a child, 41 calls, every one denied with EPERM.
    let getppid = classes_named(&rec.trace, "getppid");
    assert_eq!(getppid.len(), 1);
    assert_eq!(count_of(getppid[0]), 41);
    assert_eq!(count_of(getppid[0]), strace_count(&["install"], "getppid"), "strace saw another number of calls");
    assert_eq!(errors(getppid[0]), BTreeMap::from([("EPERM".to_string(), 41)]));
    assert_eq!(denied(getppid[0]), BTreeMap::from([("SCMP_ACT_ERRNO(EPERM)".to_string(), 41)]));

    // getpgid is denied whatever its argument; getsid only for 0: three of its four calls.
    let getpgid = classes_named(&rec.trace, "getpgid");
    assert_eq!(getpgid.len(), 1);
    assert_eq!(denied(getpgid[0]), BTreeMap::from([("SCMP_ACT_ERRNO(ENOSYS)".to_string(), 5)]));
    let getsid = classes_named(&rec.trace, "getsid");
    assert_eq!(getsid.iter().map(|c| count_of(c)).sum::<u64>(), 4);
    let marked: u64 = getsid.iter().map(|c| denied(c).get("SCMP_ACT_ERRNO(EACCES)").copied().unwrap_or(0)).sum();
    assert_eq!(marked, 3, "the filter's argument test was run wrongly");

    // Calls the filter allows are not marked.
    for name in ["execve", "exit_group", "wait4", "clone", "clone3"] {
        for class in classes_named(&rec.trace, name) {
            assert!(denied(class).is_empty(), "{name} marked as denied: {class}");
        }
    }
}

#[test]
fn without_a_filter_nothing_is_marked() {
    let exe = fixture("own_filter");
    let rec = record(&[exe.to_str().unwrap(), "none"]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    assert!(rec.trace["runs"][0].get("filters").is_none(), "{}", rec.trace["runs"][0]);
    assert!(classes(&rec.trace).iter().all(|c| c.get("denied").is_none()));
    assert_eq!(count(&rec.trace, "getppid"), 41);
}

#[test]
fn a_recording_under_an_inherited_filter_still_sees_the_calls_it_denies() {
    // trapline itself runs under a profile that fails getppid: the workload inherits it with trapline's own
    // filter stacked on top, and the denied calls never reach that one. (Quiet: a traced trapline cannot
    // trace.)
    let dir = TempDir::new("filters-outer");
    let profile = dir.join("outer.json");
    fs::write(
        &profile,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})
            .to_string(),
    )
    .unwrap();
    let trace = dir.join("trace.json");
    let exe = fixture("own_filter");
    let out = run(Command::new(TRAPLINE)
        .args(["run", "--quiet", "--profile"])
        .arg(&profile)
        .args(["--", TRAPLINE, "record", "-q", "-o"])
        .arg(&trace)
        .arg("--")
        .arg(&exe)
        .arg("none"));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let trace = read_trace(&trace, &out);
    let getppid = classes_named(&trace, "getppid");
    assert_eq!(getppid.len(), 1, "the calls the outer filter denied are missing");
    assert_eq!(count_of(getppid[0]), 41);
    assert_eq!(errors(getppid[0]), BTreeMap::from([("EPERM".to_string(), 41)]));
    // Running under a filter, trapline cannot read one (the kernel refuses PTRACE_SECCOMP_GET_FILTER): the
    // trace says the calls are there, with their errors, but not which were denied.
    assert_eq!(
        trace["runs"][0]["filters"],
        json!({"inherited": true, "loaded": 0, "attributed": false, "seen": true}),
        "{}",
        trace["runs"][0]
    );
}

/// The entries of a profile that name `syscall`, as (action, errnoRet).
fn entries_for(profile: &Value, syscall: &str) -> Vec<(String, Option<u64>)> {
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["names"].as_array().unwrap().iter().any(|n| n == syscall))
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["errnoRet"].as_u64()))
        .collect()
}

#[test]
fn a_profile_keeps_denied_what_ran_denied_with_the_errno_it_got() {
    let exe = fixture("own_filter");
    let rec = record(&[exe.to_str().unwrap(), "install"]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    let trace = rec.dir.join("trace.json");
    let profile = |extra: &[&str], name: &str| -> Value {
        let out = run(Command::new(TRAPLINE)
            .arg("profile")
            .arg(&trace)
            .arg("-o")
            .arg(rec.dir.join(name))
            .arg("--explain")
            .arg(rec.dir.join(format!("{name}.md")))
            // `trapline run` starts the workload itself: no runtime's calls to add.
            .args(["--runtime", "none"])
            .args(extra));
        assert_eq!(out.code(), 0, "{}", out.stderr_str());
        serde_json::from_str(&fs::read_to_string(rec.dir.join(name)).unwrap()).unwrap()
    };
    let under = |name: &str| {
        run(Command::new(TRAPLINE).arg("run").arg("--profile").arg(rec.dir.join(name)).arg("--").arg(&exe).arg("check"))
    };

    // getppid was denied with EPERM, as the default does: no entry. getpgid got ENOSYS: an entry keeps it so.
    // getsid ran as often as it was denied: allowed.
    let kept = profile(&[], "kept.json");
    assert_eq!(entries_for(&kept, "getppid"), vec![]);
    assert_eq!(entries_for(&kept, "getpgid"), vec![("SCMP_ACT_ERRNO".to_string(), Some(libc::ENOSYS as u64))]);
    assert_eq!(entries_for(&kept, "getsid"), vec![("SCMP_ACT_ALLOW".to_string(), None)]);
    let explained = fs::read_to_string(rec.dir.join("kept.json.md")).unwrap();
    let section = explained.split("## Denied when recorded").nth(1).expect("no 'Denied when recorded' section");
    assert!(section.contains("`getppid`") && section.contains("SCMP_ACT_ERRNO(EPERM)"), "{section}");
    assert!(section.contains("stay denied"), "{section}");
    // Under the profile alone (no filter of its own), the workload gets the answers it ran with.
    let out = under("kept.json");
    assert_eq!(out.code(), 0, "the profile did not answer as the filter did: {}", out.stderr_str());

    let allowed = profile(&["--allow-denied"], "allowed.json");
    assert_eq!(entries_for(&allowed, "getppid"), vec![("SCMP_ACT_ALLOW".to_string(), None)]);
    assert_eq!(entries_for(&allowed, "getpgid"), vec![("SCMP_ACT_ALLOW".to_string(), None)]);
    assert!(fs::read_to_string(rec.dir.join("allowed.json.md")).unwrap().contains("**allowed** here"));
    assert_eq!(under("allowed.json").code(), 3, "getppid and getpgid should have run");
}

#[test]
fn check_and_diff_accept_what_was_denied_when_recorded_and_still_is() {
    let exe = fixture("own_filter");
    let rec = record(&[exe.to_str().unwrap(), "install"]);
    let trace = rec.dir.join("trace.json");
    let profile = rec.dir.join("profile.json");
    let made = run(Command::new(TRAPLINE).arg("profile").arg(&trace).arg("-o").arg(&profile));
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    let checked = run(Command::new(TRAPLINE).args(["check", "--profile"]).arg(&profile).arg(&trace));
    assert_eq!(checked.code(), 0, "{}{}", checked.stdout_str(), checked.stderr_str());
    let diffed = run(Command::new(TRAPLINE).args(["diff", "--exit-code"]).arg(&profile).arg(&trace));
    assert_eq!(diffed.code(), 0, "{}{}", diffed.stdout_str(), diffed.stderr_str());

    // A profile that answers getpgid with EPERM instead of the ENOSYS the workload got is a change check names
    // (the entry also holds clone3, which glibc then gets EPERM for: a violation too).
    let mut edited: Value = serde_json::from_str(&fs::read_to_string(&profile).unwrap()).unwrap();
    edited["syscalls"]
        .as_array_mut()
        .unwrap()
        .retain(|e| !e["names"].as_array().unwrap().iter().any(|n| n == "getpgid"));
    fs::write(&profile, edited.to_string()).unwrap();
    let checked = run(Command::new(TRAPLINE)
        .args(["check", "--profile"])
        .arg(&profile)
        .arg(&trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(checked.code(), 1, "{}{}", checked.stdout_str(), checked.stderr_str());
    let said = checked.stdout_str() + &checked.stderr_str();
    assert!(said.contains("getpgid"), "{said}");
}
