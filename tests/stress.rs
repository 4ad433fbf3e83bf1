//! Load and job control under `trapline record`: hundreds of threads, a storm of a thousand processes, threads racing
//! to exec, children killed while stopped, stop and continue signals sent to the workload or to trapline, a storm of
//! queued signals, workloads whose first process or thread leaves before the rest, and SIGTERM sent to trapline while
//! the workload survives it or after its first process is gone. Each fixture counts what it did itself; the trace
//! must hold exactly that, the exit status must be the workload's, and every run is bounded by the helpers' timeout.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::live::{Live, descendants, send, state};
use common::*;
use serde_json::{Value, json};

fn fixture_str(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

/// The numbers after each of `keys` in a fixture's report line (`threads 512 getppid 10240`).
fn numbers(line: &str, keys: &[&str]) -> Vec<u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    keys.iter()
        .map(|k| {
            let i = words.iter().position(|w| w == k).unwrap_or_else(|| panic!("no {k:?} in {line:?}"));
            words[i + 1].parse().unwrap_or_else(|_| panic!("{k:?} is not followed by a number in {line:?}"))
        })
        .collect()
}

fn totals(trace: &Value) -> &Value {
    &trace["runs"][0]["totals"]
}

/// Records `fixture args` with `opts`, checks the trace invariants and that the fixture exited with `status`.
fn record_checked(opts: &[&str], fixture: &str, args: &[&str], status: i32) -> Recorded {
    let exe = fixture_str(fixture);
    let mut cmd = vec![exe.as_str()];
    cmd.extend_from_slice(args);
    let r = record_with(opts, &cmd);
    assert_eq!(
        r.code(),
        status,
        "{fixture} {args:?}: stdout:\n{}\nstderr:\n{}",
        r.out.stdout_str(),
        r.out.stderr_str()
    );
    assert_eq!(r.trace["runs"][0]["exit"], json!({"status": status}), "{fixture} {args:?}");
    check_trace(&r.trace);
    r
}

fn threads_counted_exactly(results: &str, n: u64, k: u64) {
    let r = record_checked(&["--results", results], "stress_threads", &[&n.to_string(), &k.to_string()], 0);
    let stdout = r.out.stdout_str();
    let did = numbers(&stdout, &["threads", "getppid", "gettid"]);
    assert_eq!(did, [n, n * k, n], "the fixture's own count: {stdout}");
    assert_eq!(count(&r.trace, "getppid"), did[1], "getppid calls in the trace vs made by the {n} threads");
    assert_eq!(count(&r.trace, "gettid"), did[2], "gettid calls in the trace vs made by the {n} threads");
    assert_eq!(totals(&r.trace)["processes"], 1, "{}", totals(&r.trace));
    assert_eq!(totals(&r.trace)["threads"], n + 1, "main thread and {n} workers: {}", totals(&r.trace));
    if results == "all" {
        for c in classes_named(&r.trace, "getppid") {
            assert_eq!(c["results"], json!({"ok": count_of(c)}), "every getppid result is seen: {c}");
        }
    }
}

#[test]
fn threads_512_every_call_counted_exactly() {
    threads_counted_exactly("auto", 512, 20);
}

#[test]
fn threads_512_every_call_and_result_counted_with_results_all() {
    threads_counted_exactly("all", 512, 5);
}

#[test]
fn fork_storm_every_child_call_recorded_once() {
    let r = record_checked(&[], "stress_forks", &["1000", "4"], 0);
    let stdout = r.out.stdout_str();
    assert_eq!(numbers(&stdout, &["forked", "getpgid"]), [1000, 1000], "the fixture's own count: {stdout}");
    let t = &r.trace;
    assert_eq!(count(t, "getpgid"), 1000, "one getpgid per child");
    let getpgid = classes_named(t, "getpgid");
    assert_eq!(getpgid.len(), 1, "{getpgid:?}");
    assert_eq!(getpgid[0]["processes"], 1000, "made by 1000 distinct processes: {}", getpgid[0]);
    let exit_group = classes_named(t, "exit_group");
    assert_eq!(exit_group.len(), 1, "{exit_group:?}");
    assert_eq!(exit_group[0]["processes"], 1001, "every process, parent included, exits: {}", exit_group[0]);
    // fork() is clone on x86_64. A clone interrupted by a signal (SIGCHLD from an earlier child) is restarted by
    // the kernel (ERESTARTNOINTR) and enters seccomp a second time: that entry is no new call.
    assert_eq!(count(t, "clone"), 1000, "one clone per fork, restarts not counted");
}

#[test]
fn fork_storm_totals_count_each_process_once() {
    let r = record_checked(&[], "stress_forks", &["1000", "4"], 0);
    let t = &r.trace;
    assert_eq!(
        (totals(t)["processes"].as_u64(), totals(t)["threads"].as_u64()),
        (Some(1001), Some(1005)),
        "1001 processes (the parent and 1000 children) and 1005 threads (4 forking threads): {}",
        totals(t)
    );
}

#[test]
fn fork_storm_restarted_clones_are_not_reported_as_failures() {
    let r = record_checked(&["--results", "all"], "stress_forks", &["1000", "4"], 0);
    let clone = classes_named(&r.trace, "clone");
    assert_eq!(clone.len(), 1, "{clone:?}");
    assert_eq!(clone[0]["results"]["ok"], 1000, "1000 forks succeeded: {}", clone[0]);
    assert_eq!(clone[0]["count"], 1000, "each with one result, restarts not counted: {}", clone[0]);
    // A clone the kernel restarts (ERESTARTNOINTR, 513, when SIGCHLD arrives meanwhile) never returns to the
    // workload: the kernel's internal restart codes 512..=517 are not failures the program saw.
    let internal: Vec<String> = errors(clone[0])
        .into_keys()
        .filter(|e| ["E512", "E513", "E514", "E515", "E516", "E517"].contains(&e.as_str()) || e.starts_with("ERESTART"))
        .collect();
    assert!(internal.is_empty(), "kernel-internal restarts counted as clone failures: {}", clone[0]);
}

/// A readv blocked on a pipe is interrupted three ways: by an ignored signal (under a tracer even that
/// interrupts it) and by a handler with SA_RESTART, after which the kernel enters it again, and by a handler
/// without, after which it fails with EINTR and the program calls it again. The kernel's second entries are no
/// calls of the program's; the EINTR it saw is a result. The same from the registers (kernels before 5.3).
#[test]
fn calls_the_kernel_restarts_after_a_signal_are_counted_once() {
    let exe = fixture_str("restart");
    for (opts, results) in
        [(&[][..], Value::Null), (&["--results", "all"][..], json!({"ok": 1, "errors": {"EINTR": 1}}))]
    {
        for registers in ["0", "1"] {
            let dir = TempDir::new("restart");
            let out = run(record_command(&dir, opts, &[&exe]).env("TRAPLINE_PTRACE_REGISTERS", registers));
            assert_eq!(out.code(), 0, "{opts:?} registers={registers}: {}", out.stderr_str());
            let t = read_trace(&dir.join("trace.json"), &out);
            check_trace(&t);
            let readv = classes_named(&t, "readv");
            assert_eq!(readv.len(), 1, "{readv:?}");
            assert_eq!(
                readv[0]["count"], 2,
                "{opts:?} registers={registers}: the first readv and the retry: {}",
                readv[0]
            );
            assert_eq!(
                readv[0].get("results").cloned().unwrap_or(Value::Null),
                results,
                "{opts:?} registers={registers}"
            );
            assert_eq!(count(&t, "rt_sigreturn"), 2, "{opts:?} registers={registers}: two handlers returned");
        }
    }
}

#[test]
fn threads_racing_to_exec() {
    for mode in ["", "leader-exits"] {
        for round in 0..8 {
            let args: Vec<&str> = if mode.is_empty() { vec!["8"] } else { vec!["8", mode] };
            let r = record_checked(&[], "stress_exec_race", &args, 7);
            let t = &r.trace;
            let what = format!("mode {mode:?}, round {round}");
            assert_eq!(count(t, "getpgid"), 1, "{what}: the exec'd program's one call");
            let execve = count(t, "execve");
            assert!((2..=9).contains(&execve), "{what}: execve {execve}: the command, then 1 to 8 racing threads");
            assert_eq!(totals(t)["processes"], 1, "{what}: {}", totals(t));
            assert_eq!(totals(t)["threads"], 9, "{what}: {}", totals(t));
            let exe = std::fs::canonicalize(fixture("stress_exec_race")).unwrap();
            assert_eq!(classes_named(t, "getpgid")[0]["exes"], json!([exe.to_str().unwrap()]), "{what}");
        }
    }
}

#[test]
fn children_killed_while_stopped() {
    for results in ["auto", "all"] {
        let r = record_checked(&["--results", results], "stress_stopkill", &["40"], 0);
        let stdout = r.out.stdout_str();
        assert_eq!(numbers(&stdout, &["stopped", "killed"]), [40, 40], "--results {results}: {stdout}");
        let t = &r.trace;
        assert_eq!(count(t, "kill"), 80, "--results {results}: a SIGSTOP and a SIGKILL per child");
        assert_eq!(totals(t)["processes"], 41, "--results {results}: {}", totals(t));
    }
}

/// Waits until every pid is in a stop (`T` job control, `t` tracing stop); panics after 10 s.
fn wait_stopped(pids: &[i32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pids.iter().all(|p| matches!(state(*p), Some('T' | 't'))) {
        let states: Vec<Option<char>> = pids.iter().map(|p| state(*p)).collect();
        assert!(Instant::now() < deadline, "{what}: {pids:?} not stopped after 10 s: {states:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Starts `trapline record` on stress_jobctl (exit status 5; it works until `dir/stop` exists) and returns it with
/// the workload's two pids.
fn start_jobctl(dir: &TempDir) -> (Live, Vec<i32>) {
    let exe = fixture_str("stress_jobctl");
    let stop = dir.join("stop");
    let mut live = Live::spawn(&mut record_command(dir, &[], &[&exe, "5", stop.to_str().unwrap()]));
    let line = live.line();
    let pids: Vec<i32> = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{line}");
    (live, pids)
}

/// The end of a stress_jobctl run: exit 5, and the trace has exactly the getppid calls both processes counted.
fn finish_jobctl(mut live: Live, dir: &TempDir, what: &str) {
    std::fs::write(dir.join("stop"), "").unwrap();
    let out = live.wait();
    assert_eq!(out.code(), 5, "{what}: stderr:\n{}", out.stderr_str());
    let stdout = out.stdout_str();
    let child = stdout.lines().find(|l| l.starts_with("child ")).unwrap_or_else(|| panic!("{what}: {stdout}"));
    let main = stdout.lines().find(|l| l.starts_with("main ")).unwrap_or_else(|| panic!("{what}: {stdout}"));
    let made = numbers(child, &["getppid"])[0] + numbers(main, &["getppid"])[0];
    let trace = read_trace(&dir.join("trace.json"), &out);
    check_trace(&trace);
    assert_eq!(count(&trace, "getppid"), made, "{what}: getppid calls in the trace vs made: {stdout}");
    assert_eq!(trace["runs"][0]["exit"], json!({"status": 5}), "{what}");
    assert_eq!(totals(&trace)["processes"], 2, "{what}: {}", totals(&trace));
    assert_eq!(totals(&trace)["threads"], 6, "{what}: {}", totals(&trace));
}

#[test]
fn stop_continue_and_tstp_sent_to_the_workload() {
    let dir = TempDir::new("jobctl");
    let (live, pids) = start_jobctl(&dir);
    for round in 0..4 {
        for p in &pids {
            send(*p, libc::SIGSTOP);
        }
        // Stopped for real, as without a tracer: every process of the workload stops.
        wait_stopped(&pids, &format!("SIGSTOP round {round}"));
        thread::sleep(Duration::from_millis(50));
        for p in &pids {
            send(*p, libc::SIGCONT);
        }
        thread::sleep(Duration::from_millis(30));
        for p in &pids {
            send(*p, libc::SIGTSTP);
        }
        thread::sleep(Duration::from_millis(50));
        for p in &pids {
            send(*p, libc::SIGCONT);
        }
        thread::sleep(Duration::from_millis(30));
    }
    finish_jobctl(live, &dir, "stopped and continued");
}

#[test]
fn stop_and_continue_sent_to_trapline_itself() {
    let dir = TempDir::new("jobctl-tracer");
    let (live, pids) = start_jobctl(&dir);
    let tracer = live.pid();
    for round in 0..4 {
        send(tracer, libc::SIGSTOP);
        wait_stopped(&[tracer], &format!("trapline, SIGSTOP round {round}"));
        thread::sleep(Duration::from_millis(100));
        send(tracer, libc::SIGCONT);
        thread::sleep(Duration::from_millis(50));
        send(tracer, libc::SIGTSTP);
        thread::sleep(Duration::from_millis(50));
        send(tracer, libc::SIGCONT);
        thread::sleep(Duration::from_millis(50));
    }
    assert!(pids.iter().all(|p| descendants(tracer).contains(p)), "the workload still runs under trapline");
    finish_jobctl(live, &dir, "trapline stopped and continued");
}

#[test]
fn sigterm_to_trapline_is_forwarded_and_the_workload_that_survives_it_finishes() {
    for (mode, terms) in [("handler", 1), ("ignore", 0)] {
        let dir = TempDir::new("sigterm");
        let exe = fixture_str("stress_ignore_term");
        let go = dir.join("go");
        let mut live = Live::spawn(&mut record_command(&dir, &[], &[&exe, mode, go.to_str().unwrap()]));
        assert_eq!(live.line(), "ready", "{mode}");
        live.signal(libc::SIGTERM);
        // The workload that ignores SIGTERM cannot tell when it came: let it go on a little after it was sent.
        thread::sleep(Duration::from_millis(100));
        std::fs::write(&go, "").unwrap();
        let out = live.wait();
        assert_eq!(out.code(), 3, "{mode}: the workload's own status; stderr:\n{}", out.stderr_str());
        let stdout = out.stdout_str();
        let report = stdout.lines().last().unwrap_or_default();
        assert_eq!(numbers(report, &["terms", "getppid"]), [terms, 100], "{mode}: {stdout}");
        let trace = read_trace(&dir.join("trace.json"), &out);
        let run = &trace["runs"][0];
        assert_eq!(run["exit"], json!({"status": 3}), "{mode}");
        assert_eq!(run["complete"], false, "{mode}: {run}");
        assert_eq!(run["incomplete"], "trapline received SIGTERM", "{mode}: {run}");
        assert_eq!(count(&trace, "getppid"), 100, "{mode}: every call after the signal is still recorded");
    }
}

#[test]
fn signal_storm_every_signal_delivered_once() {
    let r = record_checked(&[], "stress_signals", &["500"], 0);
    let stdout = r.out.stdout_str();
    assert_eq!(numbers(&stdout, &["sent", "received"]), [2000, 2000], "no signal lost or doubled: {stdout}");
    // Each handler run ends in one rt_sigreturn; sigqueue may be retried when the queue is full.
    assert_eq!(count(&r.trace, "rt_sigreturn"), 2000);
    assert!(count(&r.trace, "rt_sigqueueinfo") >= 2000, "rt_sigqueueinfo: {}", count(&r.trace, "rt_sigqueueinfo"));
}

#[test]
fn recording_goes_on_after_the_first_process_or_thread_leaves() {
    // The first process exits 4; its child makes its call 300 ms later, and is recorded.
    let r = record_checked(&[], "stress_orphans", &["root-exits"], 4);
    assert_eq!(count(&r.trace, "getpgid"), 1, "the orphan's call");
    assert_eq!(totals(&r.trace)["processes"], 2, "{}", totals(&r.trace));
    // The main thread leaves with pthread_exit; the other thread's 100 calls and its exit(6) are the run's.
    let r = record_checked(&[], "stress_orphans", &["leader-exits"], 6);
    assert_eq!(count(&r.trace, "getppid"), 100);
    assert_eq!(totals(&r.trace)["threads"], 2, "{}", totals(&r.trace));
}

/// Starts `trapline record` on `stress_orphans daemon`: the first process exits 4 and its child stays until
/// `dir/stop` exists. Returns once the first process is gone (and reaped), with its pid and the child's.
fn start_daemon(dir: &TempDir) -> (Live, i32, i32) {
    let exe = fixture_str("stress_orphans");
    let stop = dir.join("stop");
    let mut live = Live::spawn(&mut record_command(dir, &[], &[&exe, "daemon", stop.to_str().unwrap()]));
    let line = live.line();
    let words: Vec<i32> = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(words.len(), 2, "{line}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(words[0]).is_some() {
        assert!(Instant::now() < deadline, "the first process {} did not end", words[0]);
        thread::sleep(Duration::from_millis(5));
    }
    (live, words[0], words[1])
}

/// Waits up to 10 s for trapline to end; otherwise lets the workload go and fails with `why`.
fn ends_within_10_s(live: &mut Live, dir: &TempDir, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live.exited() {
        if Instant::now() > deadline {
            std::fs::write(dir.join("stop"), "").unwrap();
            panic!("{why}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_to_trapline_after_the_first_process_exited_stops_the_rest_of_the_workload() {
    let dir = TempDir::new("sigterm-daemon");
    let (mut live, _, child) = start_daemon(&dir);
    live.signal(libc::SIGTERM);
    ends_within_10_s(
        &mut live,
        &dir,
        "trapline got SIGTERM but the workload's remaining process was never told: trapline keeps waiting for it",
    );
    let out = live.wait();
    assert_eq!(out.code(), 4, "the first process's status; stderr:\n{}", out.stderr_str());
    assert!(!matches!(state(child), Some(s) if s != 'Z'), "the remaining process got the SIGTERM and ended");
    let trace = read_trace(&dir.join("trace.json"), &out);
    assert_eq!(trace["runs"][0]["incomplete"], "trapline received SIGTERM", "{}", trace["runs"][0]);
}

/// Starts `sleep 60` as the process with id `pid` (which must be free), by setting the kernel's last pid just
/// before the fork; retries while other forks on the machine take it first.
fn decoy_with_pid(pid: i32) -> std::process::Child {
    for _ in 0..200 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).expect("ns_last_pid (run as root)");
        let mut decoy = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        if decoy.id() as i32 == pid {
            return decoy;
        }
        let _ = decoy.kill();
        let _ = decoy.wait();
    }
    panic!("could not start a process with pid {pid}");
}

#[test]
fn sigterm_to_trapline_after_the_first_process_exited_reaches_no_stranger() {
    let dir = TempDir::new("sigterm-stranger");
    let (mut live, root, _) = start_daemon(&dir);
    // An unrelated process now has the first process's pid, as happens on a busy machine.
    let mut stranger = decoy_with_pid(root);
    live.signal(libc::SIGTERM);
    thread::sleep(Duration::from_millis(300));
    let hit = stranger.try_wait().unwrap();
    let _ = stranger.kill();
    let _ = stranger.wait();
    std::fs::write(dir.join("stop"), "").unwrap();
    let _ = live.wait();
    assert!(hit.is_none(), "trapline forwarded its SIGTERM to pid {root}, which is no longer the workload's: {hit:?}");
}
