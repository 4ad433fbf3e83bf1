//! `trapline run --profile` enforces a profile (a denied call fails with the profile's errno), `--audit`
//! reports the same call without failing the workload, and `record --known` records only what is new.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

/// Makes a socket only when asked: the profile is made from a run without it.
const PROGRAM: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("pid ok %d\n", getpid() > 0);
    if (argc > 1) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        printf("socket %s\n", fd >= 0 ? "ok" : strerror(errno));
    }
    return 0;
}
"#;

fn trapline(args: &[&str]) -> Finished {
    run(Command::new(env!("CARGO_BIN_EXE_trapline")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

/// A profile made from a run of the program without its socket.
fn profile_without_socket(dir: &TempDir) -> (String, String) {
    let exe = program("run_socket", PROGRAM).to_str().unwrap().to_string();
    let trace = dir.join("base.json");
    let recorded = trapline(&["record", "-q", "-o", trace.to_str().unwrap(), "--", &exe]);
    assert_eq!(recorded.code(), 0, "{}", recorded.stderr_str());
    let profile = dir.join("base.profile.json");
    let made = trapline(&["profile", "--runtime", "none", "-o", profile.to_str().unwrap(), trace.to_str().unwrap()]);
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    (exe, profile.to_str().unwrap().to_string())
}

#[test]
fn run_enforces_and_audit_reports_without_denying() {
    let dir = TempDir::new("run");
    let (exe, profile) = profile_without_socket(&dir);

    let allowed = trapline(&["run", "--profile", &profile, "--", &exe]);
    assert_eq!(allowed.code(), 0, "{}", allowed.stderr_str());
    assert_eq!(allowed.stdout_str(), "pid ok 1\n");

    // socket(AF_INET) is outside the profile: under it the call fails with the profile's errno (EPERM).
    let enforced = trapline(&["run", "--profile", &profile, "--", &exe, "socket"]);
    assert_eq!(enforced.code(), 0, "{}", enforced.stderr_str());
    assert_eq!(enforced.stdout_str(), "pid ok 1\nsocket Operation not permitted\n");

    // Audited, the same call goes through and is reported, decoded.
    let audited = dir.join("audit.json");
    let audit =
        trapline(&["run", "--profile", &profile, "--audit", "-o", audited.to_str().unwrap(), "--", &exe, "socket"]);
    assert_eq!(audit.code(), 0, "{}", audit.stderr_str());
    assert_eq!(audit.stdout_str(), "pid ok 1\nsocket ok\n");
    let report = audit.stderr_str();
    assert!(report.contains("would deny"), "{report}");
    assert!(report.contains("socket domain=0x2 (AF_INET)"), "{report}");
    let trace: Value = serde_json::from_slice(&fs::read(&audited).unwrap()).unwrap();
    let names: Vec<&str> =
        trace["classes"].as_array().unwrap().iter().map(|c| c["syscall"].as_str().unwrap()).collect();
    assert_eq!(names, ["socket"], "only the call outside the profile stops: {names:?}");
}

#[test]
fn record_known_records_only_what_is_new() {
    let dir = TempDir::new("known");
    let (exe, profile) = profile_without_socket(&dir);

    let nothing_new = dir.join("same.json");
    let same = trapline(&["record", "-q", "--known", &profile, "-o", nothing_new.to_str().unwrap(), "--", &exe]);
    assert_eq!(same.code(), 0, "{}", same.stderr_str());
    let trace: Value = serde_json::from_slice(&fs::read(&nothing_new).unwrap()).unwrap();
    assert_eq!(trace["classes"], serde_json::json!([]), "a run the profile covers records nothing");
    assert_eq!(trace["runs"][0]["known"], profile.as_str());

    let new = dir.join("new.json");
    let more = trapline(&["record", "-q", "--known", &profile, "-o", new.to_str().unwrap(), "--", &exe, "socket"]);
    assert_eq!(more.code(), 0, "{}", more.stderr_str());
    assert_eq!(more.stdout_str(), "pid ok 1\nsocket ok\n", "recording never denies");
    let trace: Value = serde_json::from_slice(&fs::read(&new).unwrap()).unwrap();
    let classes = trace["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 1, "{classes:?}");
    assert_eq!(classes[0]["syscall"], "socket");
    assert_eq!(classes[0]["args"][0]["decoded"], "AF_INET");

    // The diff shows what is new and nothing as removed: the run used the profile's rules untraced.
    let diff = trapline(&["diff", "--format", "json", &profile, new.to_str().unwrap()]);
    assert_eq!(diff.code(), 0, "{}", diff.stderr_str());
    let report: Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!((report["summary"]["added"].as_u64(), report["summary"]["removed"].as_u64()), (Some(1), Some(0)));
    assert!(report["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("--known")), "{report}");
}

#[test]
fn a_profile_that_denies_exec_is_refused_clearly() {
    let dir = TempDir::new("noexec");
    let profile = dir.join("noexec.json");
    fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let out = trapline(&["run", "--profile", profile.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(out.code(), 126, "{}", out.stderr_str());
    let stderr = out.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("denies execve"), "{stderr}");
}

/// Enforced, each distinct denied call is named once, the moment it is first made (call, decoded arguments,
/// answer, executable, call site), and the workload gets exactly the kernel's answer: `--quiet` runs it untraced,
/// with the same output and not a word.
#[test]
fn each_denied_call_is_named_once_as_it_happens() {
    let dir = TempDir::new("run-report");
    let (_, profile) = profile_without_socket(&dir);
    let exe = program(
        "run_sockets",
        r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
int main(void) {
    for (int i = 0; i < 3; i++) {
        printf("socket %s\n", socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? "ok" : strerror(errno));
    }
    return 0;
}
"#,
    );
    let exe = exe.to_str().unwrap();
    let reported = trapline(&["run", "--profile", &profile, "--", exe]);
    let quiet = trapline(&["run", "--quiet", "--profile", &profile, "--", exe]);
    assert_eq!(reported.code(), 0, "{}", reported.stderr_str());
    assert_eq!(quiet.code(), 0, "{}", quiet.stderr_str());
    let expected = "socket Operation not permitted\n".repeat(3);
    assert_eq!(reported.stdout_str(), expected);
    assert_eq!(quiet.stdout_str(), expected);
    assert_eq!(quiet.stderr_str(), "");

    let stderr = reported.stderr_str();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line for the denied class, one summary: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("trapline: denied socket domain=0x2 (AF_INET)"), "{line}");
    assert!(line.contains("SCMP_ACT_ERRNO(EPERM)") && line.contains(&format!(" in {exe}")), "{line}");
    assert!(line.contains("called from run_sockets main+0x"), "no call site: {line}");
    assert!(lines[1].ends_with("denied 3 calls of 1 kind (each named above)"), "{}", lines[1]);
}

/// A workload that fails under a profile gets one line pointing at `--audit`, its status passed through; one
/// that succeeds gets none.
#[test]
fn a_workload_failing_under_a_profile_is_pointed_at_audit() {
    let dir = TempDir::new("run-fails");
    let profile = dir.join("allow.json");
    fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    let profile = profile.to_str().unwrap();
    let failed = trapline(&["run", "--profile", profile, "--", "/bin/sh", "-c", "exit 3"]);
    assert_eq!(failed.code(), 3, "{}", failed.stderr_str());
    let stderr = failed.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("trapline: the workload exited with status 3 under "), "{stderr}");
    assert!(stderr.contains(&format!("trapline run --audit --profile {profile} -- COMMAND")), "{stderr}");
    let passed = trapline(&["run", "--profile", profile, "--", "/bin/true"]);
    assert_eq!((passed.code(), passed.stderr_str()), (0, String::new()));
}

/// Under --known, calls the profile allows run without a stop, thread creation included: the recording still
/// counts threads as threads (from /proc), not as processes.
#[test]
fn record_known_counts_threads_as_threads() {
    let dir = TempDir::new("known-threads");
    let profile = dir.join("allow.json");
    fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    let trace = dir.join("t.json");
    let script = "import threading\nts = [threading.Thread(target=lambda: None) for _ in range(4)]\n\
                  [t.start() for t in ts]\n[t.join() for t in ts]";
    let out = trapline(&[
        "record",
        "--known",
        profile.to_str().unwrap(),
        "-o",
        trace.to_str().unwrap(),
        "--",
        "/usr/bin/python3",
        "-c",
        script,
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let trace: Value = serde_json::from_slice(&fs::read(&trace).unwrap()).unwrap();
    let totals = &trace["runs"][0]["totals"];
    assert_eq!((totals["processes"].as_u64(), totals["threads"].as_u64()), (Some(1), Some(5)), "{totals}");
}

/// A workload killed by a signal under `run` makes trapline die by that signal, as it would die untraced.
#[test]
fn run_dies_by_the_signal_that_killed_the_workload() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("run-signal");
    let profile = dir.join("allow.json");
    fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    let profile = profile.to_str().unwrap();
    let enforced = trapline(&["run", "--profile", profile, "--", "/bin/sh", "-c", "kill -INT $$"]);
    assert_eq!(enforced.status.signal(), Some(libc::SIGINT), "{}", enforced.stderr_str());
    let audited = trapline(&["run", "--audit", "--profile", profile, "--", "/bin/sh", "-c", "kill -TERM $$"]);
    assert_eq!(audited.status.signal(), Some(libc::SIGTERM), "{}", audited.stderr_str());
}

/// The fix loop: a profile extended with a `--known` trace (which holds only what was new) keeps every old
/// rule and allows the new call, and the workload runs under it.
#[test]
fn a_profile_is_extended_with_a_known_trace() {
    let dir = TempDir::new("extend");
    let (exe, profile) = profile_without_socket(&dir);
    let new = dir.join("new.json");
    let more = trapline(&["record", "-q", "--known", &profile, "-o", new.to_str().unwrap(), "--", &exe, "socket"]);
    assert_eq!(more.code(), 0, "{}", more.stderr_str());
    let extended = dir.join("extended.json");
    let explain = dir.join("extended.md");
    let made = trapline(&[
        "profile",
        "--runtime",
        "none",
        &profile,
        new.to_str().unwrap(),
        "-o",
        extended.to_str().unwrap(),
        "--explain",
        explain.to_str().unwrap(),
    ]);
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    let old: Value = serde_json::from_slice(&fs::read(&profile).unwrap()).unwrap();
    let grown: Value = serde_json::from_slice(&fs::read(&extended).unwrap()).unwrap();
    let names = |p: &Value| -> std::collections::BTreeSet<String> {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["names"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&grown).is_superset(&names(&old)), "every old rule is kept");
    assert!(names(&grown).contains("socket") && !names(&old).contains("socket"));
    let under = trapline(&["run", "--profile", extended.to_str().unwrap(), "--", &exe, "socket"]);
    assert_eq!(under.stdout_str(), "pid ok 1\nsocket ok\n", "{}", under.stderr_str());
    let md = fs::read_to_string(&explain).unwrap();
    assert!(md.contains(&format!("kept from `{profile}`")), "{md}");

    // Provenance: the --known run is no evidence that a rule of the full run was rare ("1 of 1", not "1 of 2").
    let base = dir.join("base.json");
    let both = trapline(&[
        "profile",
        "--runtime",
        "none",
        base.to_str().unwrap(),
        new.to_str().unwrap(),
        "-o",
        "/dev/null",
        "--explain",
        explain.to_str().unwrap(),
    ]);
    assert_eq!(both.code(), 0, "{}", both.stderr_str());
    let md = fs::read_to_string(&explain).unwrap();
    let row = |name: &str| md.lines().find(|l| l.starts_with(&format!("| `{name}` |"))).unwrap_or_default().to_string();
    assert!(row("getpid").contains("| 1 of 1 |"), "{md}");
    assert!(row("socket").contains("| 1 of 2 ⚠ |"), "{md}");
}

/// A Python multiprocessing pool whose worker makes a call the profile lacks: the worker, a forked process,
/// gets the error Python turns into a PermissionError, and trapline names the call and where Python made it.
/// The pool is closed and joined rather than left to `with`: `with` terminates it, and whether that sends a
/// worker SIGTERM depends on whether the worker has already exited, so a recording may lack `kill` and the run
/// under its profile then hangs on a worker Python could not stop.
#[test]
fn a_denial_in_a_python_worker_process_is_named() {
    let dir = TempDir::new("run-python");
    let script = dir.join("pool.py");
    fs::write(
        &script,
        r#"
import multiprocessing as mp, os, sys
def work(d):
    src = os.path.join(d, 'a')
    open(src, 'w').close()
    if len(sys.argv) > 1:
        try:
            os.symlink(src, os.path.join(d, 'b'))
            return 'linked'
        except PermissionError:
            return 'denied'
    return 'plain'
if __name__ == '__main__':
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'work')
    os.makedirs(d, exist_ok=True)
    p = mp.get_context('fork').Pool(2)
    print(p.map(work, [d]))
    p.close()
    p.join()
"#,
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let trace = dir.join("pool.json");
    let trace = trace.to_str().unwrap();
    let recorded = trapline(&["record", "-q", "-o", trace, "--", "python3", script]);
    assert_eq!((recorded.code(), recorded.stdout_str()), (0, "['plain']\n".to_string()), "{}", recorded.stderr_str());
    let profile = dir.join("pool.profile.json");
    let profile = profile.to_str().unwrap();
    let made = trapline(&["profile", "--runtime", "none", "-o", profile, trace]);
    assert_eq!(made.code(), 0, "{}", made.stderr_str());

    let enforced = trapline(&["run", "--profile", profile, "--", "python3", script, "symlink"]);
    assert_eq!(enforced.stdout_str(), "['denied']\n", "{}", enforced.stderr_str());
    let stderr = enforced.stderr_str();
    let line = stderr.lines().find(|l| l.starts_with("trapline: denied symlink")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("SCMP_ACT_ERRNO(EPERM)") && line.contains("python3"), "{line}");
    assert!(line.contains(", at ") && line.contains("called from"), "no call site: {line}");
}

/// Where trapline may not trace (here: an outer profile denies ptrace, as a container without CAP_SYS_PTRACE
/// does), the kernel enforces the profile alone and trapline says that denials go unnamed.
#[test]
fn without_ptrace_the_kernel_enforces_alone() {
    let dir = TempDir::new("run-noptrace");
    let (exe, profile) = profile_without_socket(&dir);
    let outer = dir.join("no-ptrace.json");
    fs::write(
        &outer,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let trapline_bin = env!("CARGO_BIN_EXE_trapline");
    let out = trapline(&[
        "run",
        "--quiet",
        "--profile",
        outer.to_str().unwrap(),
        "--",
        trapline_bin,
        "run",
        "--profile",
        &profile,
        "--",
        &exe,
        "socket",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    assert_eq!(out.stdout_str(), "pid ok 1\nsocket Operation not permitted\n");
    let stderr = out.stderr_str();
    assert!(stderr.contains("warning: ptrace is not permitted here"), "{stderr}");
    assert!(!stderr.contains("denied socket"), "{stderr}");
}

/// A process the command leaves behind is still under the profile and still traced: `run` waits for it as
/// `record` does, names its denial, and passes on the command's own exit status, not the straggler's.
#[test]
fn a_denial_in_a_process_the_command_left_behind_is_named() {
    let dir = TempDir::new("run-straggler");
    let profile = dir.join("no-mkdir.json");
    fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let target = dir.join("made");
    let script = format!("(sleep 0.3; mkdir {} 2>/dev/null; exit 5) & exit 3", target.display());
    let out = trapline(&["run", "--profile", profile.to_str().unwrap(), "--", "/bin/sh", "-c", &script]);
    assert_eq!(out.code(), 3, "{}", out.stderr_str());
    assert!(!target.exists(), "the straggler's mkdir was denied");
    let stderr = out.stderr_str();
    assert!(stderr.lines().any(|l| l.starts_with("trapline: denied mkdir")), "{stderr}");
}
