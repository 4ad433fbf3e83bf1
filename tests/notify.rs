//! `--backend notify`: seccomp user notification instead of ptrace. It must see the same calls as the ptrace
//! backend (results aside), across threads, forks and execs, and pass the workload's exit status through.

mod common;

use std::collections::BTreeMap;

use std::process::{Command, Stdio};

use serde_json::{Value, json};

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
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&killed.out.status), Some(15));
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

/// An fd number described once and then reused for another device, by each way a number changes hands (close,
/// dup2, dup3, close_range, exec, fork, a clone sharing the fd table): each backend caches descriptions, and
/// each must name the device the call really reached.
#[test]
fn reused_fd_numbers_are_described_anew() {
    let exe = fixture("fd_reuse");
    let exe = exe.to_str().unwrap();
    // Also with fds left open by whoever started it (a shell's `exec 3<...`, a test runner): the fixture must
    // not depend on which numbers are free.
    let inheriting = format!("exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null; exec {exe}");
    let launches: [&[&str]; 2] = [&[exe], &["sh", "-c", &inheriting]];
    for (backend, launch) in ["ptrace", "notify"].into_iter().flat_map(|b| launches.map(|l| (b, l))) {
        let r = record_with(&["--backend", backend], launch);
        assert_eq!(r.code(), 0, "{backend} {launch:?}: stderr:\n{}", r.out.stderr_str());
        let mut seen = BTreeMap::new();
        for c in classes_named(&r.trace, "ioctl") {
            let request = u64::from_str_radix(c["args"][0]["value"].as_str().unwrap().trim_start_matches("0x"), 16);
            if let Ok(request @ 0x7800..=0x780f) = request {
                let path = c["fd"]["path"].as_str().unwrap_or("?").to_string();
                assert!(seen.insert(request, path).is_none(), "{backend}: request {request:#x} on two devices");
            }
        }
        let expected: BTreeMap<u64, String> = (0..7u64)
            .flat_map(|step| [(0x7800 + 2 * step, "/dev/null"), (0x7801 + 2 * step, "/dev/zero")])
            .map(|(request, path)| (request, path.to_string()))
            .collect();
        assert_eq!(seen, expected, "{backend}: request -> device");
    }
}

/// A thread id is reused by a new process (pid_max is often 32768): what was known of the old one (its fds,
/// its executable) must not be taken for the new one. The fixture hands pids on through ns_last_pid, in a pid
/// namespace of its own.
#[test]
fn a_reused_pid_is_a_new_process() {
    let dir = TempDir::new("pid-reuse");
    let trace = dir.join("trace.json");
    let exe = fixture("pid_reuse");
    let out = run(Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", TRAPLINE, "record", "-q", "--backend", "notify", "-o"])
        .arg(&trace)
        .arg("--")
        .arg(&exe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr_str());
    let trace = read_trace(&trace, &out);
    let device = |request: &str| {
        let c = classes_named(&trace, "ioctl").into_iter().find(|c| c["args"][0]["value"] == request).unwrap().clone();
        c["fd"]["path"].as_str().unwrap().to_string()
    };
    assert_eq!(device("0x7900"), "/dev/null");
    assert_eq!(device("0x7901"), "/dev/zero", "the second child's fd 7, not the first's");
    let getpgid = classes_named(&trace, "getpgid");
    assert_eq!(getpgid.len(), 1);
    assert_eq!(getpgid[0]["exes"], json!([exe.canonicalize().unwrap().to_str().unwrap()]), "not /bin/true's");
    assert_eq!(trace["runs"][0]["totals"]["processes"], 5, "the fixture and four children, two on reused pids");
}
