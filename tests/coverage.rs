//! `trapline coverage`: convergence and behaviour coverage of real recordings (small C programs, Python
//! multiprocessing), `--known` and merged inputs, the explain report's section, and bad input.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Finished, TRAPLINE, TempDir, program, run};
use serde_json::Value;

/// Opens, writes and closes: the same calls every run.
const STEADY: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || write(fd, "x", 1) != 1) return 1;
    close(fd);
    return 0;
}
"#;

/// Exercises what a healthy run of a small service does, and what its shutdown path does: a child process, a
/// pipe, an AF_UNIX pair with a message, an AF_INET socket, a signal to the child, a file made and removed.
const BUSY: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int p[2], sv[2];
    if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return 1;
    char byte = 'x';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (sendmsg(sv[0], &msg, 0) != 1 || recvmsg(sv[1], &msg, 0) != 1) return 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 1;
    close(s);
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    if (child < 0 || kill(child, SIGTERM)) return 1;
    waitpid(child, NULL, 0);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/made", argv[1]);
    if (mkdir(dir, 0700) || rmdir(dir)) return 1;
    return 0;
}
"#;

/// multiprocessing with N workers (0: the same work in the parent): the debug run and the real one.
const WORKERS: &str = r#"
import multiprocessing, sys

def square(x):
    return x * x

if __name__ == "__main__":
    workers = int(sys.argv[1])
    if workers == 0:
        print(sum(map(square, range(20))))
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            print(sum(pool.map(square, range(20))))
"#;

/// Records `cmd` into `dir/name`, which must succeed.
fn record_into(dir: &TempDir, name: &str, opts: &[&str], cmd: &[&str]) -> PathBuf {
    let trace = dir.join(name);
    let out = run(Command::new(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(&trace)
        .args(opts)
        .arg("--")
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "record {cmd:?}: {}", out.stderr_str());
    trace
}

fn trapline(args: &[&str], files: &[&Path]) -> Finished {
    run(Command::new(TRAPLINE).args(args).args(files).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

fn coverage_json(traces: &[&Path]) -> Value {
    let out = trapline(&["coverage", "--format", "json"], traces);
    assert_eq!(out.code(), 0, "coverage: {}", out.stderr_str());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("coverage JSON: {e}\n{}", out.stdout_str()))
}

fn behaviour<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["behaviours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == kind)
        .unwrap_or_else(|| panic!("no behaviour {kind} in {report:#}"))
}

fn python() -> String {
    if Path::new("/usr/bin/python3").exists() {
        return "/usr/bin/python3".into();
    }
    let out = run(Command::new("sh").args(["-c", "command -v python3"]).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let path = out.stdout_str().trim().to_string();
    assert!(!path.is_empty(), "python3 not found");
    path
}

#[test]
fn three_identical_runs_converge() {
    let exe = program("coverage_steady", STEADY);
    let exe = exe.to_str().unwrap();
    let dir = TempDir::new("coverage-steady");
    let traces: Vec<PathBuf> = (1..=3).map(|i| record_into(&dir, &format!("run{i}.json"), &[], &[exe])).collect();
    let paths: Vec<&Path> = traces.iter().map(PathBuf::as_path).collect();

    let report = coverage_json(&paths);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs[0]["new_classes"].as_u64().unwrap() > 0);
    assert_eq!(runs[1]["new_classes"], 0, "{report:#}");
    assert_eq!(runs[2]["new_classes"], 0, "{report:#}");
    assert_eq!(report["seen_once"], 0);
    assert_eq!(report["next_run_new"], 0.0);
    assert_eq!(report["further_runs"], 0);
    assert_eq!(report["verdict"], "runs 2 and 3 added nothing; no class seen in only one run");

    let text = trapline(&["coverage"], &paths);
    assert_eq!(text.code(), 0);
    assert!(text.stdout_str().contains("runs 2 and 3 added nothing"), "{}", text.stdout_str());
    assert!(text.stderr_str().starts_with("trapline: 3 runs,"), "{}", text.stderr_str());
}

#[test]
fn one_run_has_every_class_seen_once_and_says_how_many_more_runs() {
    let exe = program("coverage_steady", STEADY);
    let dir = TempDir::new("coverage-one");
    let trace = record_into(&dir, "run.json", &[], &[exe.to_str().unwrap()]);
    let report = coverage_json(&[&trace]);
    let classes = report["classes"].as_u64().unwrap();
    assert_eq!(report["seen_once"].as_u64(), Some(classes));
    // Every class of one run is seen once: that estimates nothing.
    assert_eq!(report["next_run_new"], Value::Null);
    assert_eq!(report["further_runs"], Value::Null);
    assert!(report["verdict"].as_str().unwrap().starts_with("one run:"), "{report:#}");
}

#[test]
fn python_workers_zero_misses_processes_and_ipc_that_two_workers_need() {
    let py = python();
    let dir = TempDir::new("coverage-workers");
    let script = dir.join("workers.py");
    fs::write(&script, WORKERS).unwrap();
    let script = script.to_str().unwrap();
    let debug = record_into(&dir, "workers0.json", &[], &[&py, script, "0"]);
    let real = record_into(&dir, "workers2.json", &[], &[&py, script, "2"]);

    let alone = coverage_json(&[&debug]);
    for kind in ["processes", "pipes", "shared-memory", "signals"] {
        assert_eq!(behaviour(&alone, kind)["status"], "not-exercised", "{kind}: {alone:#}");
    }
    let text = trapline(&["coverage"], &[&debug]).stdout_str();
    assert!(text.contains("never started a process"), "{text}");
    assert!(text.contains("made no pipe"), "{text}");

    let both = coverage_json(&[&debug, &real]);
    assert!(both["runs"][1]["new_classes"].as_u64().unwrap() > 0, "{both:#}");
    let seen_once = both["seen_once"].as_u64().unwrap();
    assert!(seen_once > 0);
    // If further runs add nothing, those classes stay seen once: seen_once / runs <= 5% needs 20 runs each.
    assert_eq!(both["further_runs"].as_u64(), Some(seen_once * 20 - 2));
    let wide = trapline(&["coverage", "--format", "json", "--target", "0.5"], &[&debug, &real]);
    let wide: Value = serde_json::from_slice(&wide.stdout).unwrap();
    assert_eq!(wide["further_runs"].as_u64(), Some(seen_once * 2 - 2));
    let processes = behaviour(&both, "processes");
    assert_eq!(processes["status"], "exercised");
    assert_eq!(processes["runs"], 1, "only the run with workers forked: {both:#}");
    assert_eq!(behaviour(&both, "pipes")["status"], "exercised");
}

#[test]
fn a_busy_program_exercises_ipc_network_signals_and_files() {
    let exe = program("coverage_busy", BUSY);
    let dir = TempDir::new("coverage-busy");
    let trace = record_into(&dir, "busy.json", &[], &[exe.to_str().unwrap(), dir.path().to_str().unwrap()]);
    let report = coverage_json(&[&trace]);
    for kind in ["processes", "pipes", "unix-sockets", "network", "signals", "file-creation", "file-removal"] {
        assert_eq!(behaviour(&report, kind)["status"], "exercised", "{kind}: {report:#}");
    }
    // sendmsg and recvmsg were made, but whether they carried fds is not recorded.
    assert_eq!(behaviour(&report, "fd-passing")["status"], "cannot-tell");
    let network = behaviour(&report, "network");
    assert_eq!(network["summary"], "used AF_INET sockets");
    assert!(behaviour(&report, "signals")["evidence"][0].as_str().unwrap().starts_with("kill"));
    assert_eq!(behaviour(&report, "listen")["status"], "not-exercised");
}

#[test]
fn known_and_merged_runs_are_partial_and_say_so() {
    let exe = program("coverage_steady", STEADY);
    let exe = exe.to_str().unwrap();
    let dir = TempDir::new("coverage-known");
    let first = record_into(&dir, "run1.json", &[], &[exe]);
    let second = record_into(&dir, "run2.json", &[], &[exe]);
    let third = record_into(&dir, "run3.json", &[], &[exe]);
    let merged = dir.join("merged.json");
    let out = trapline(&["merge", "-o", merged.to_str().unwrap()], &[&second, &third]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let profile = dir.join("profile.json");
    let out = trapline(&["profile", "--runtime", "none", "-o", profile.to_str().unwrap()], &[&first]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let known = record_into(&dir, "known.json", &["--known", profile.to_str().unwrap()], &[exe]);

    let report = coverage_json(&[&first, &merged, &known]);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!((runs[1]["first"].as_u64(), runs[1]["last"].as_u64()), (Some(2), Some(3)));
    assert_eq!(runs[1]["new_classes"], 0);
    assert_eq!(runs[2]["known"], true);
    assert_eq!(runs[2]["new_classes"], 0, "the profile covered the run: {report:#}");
    assert_eq!(report["total_runs"], 4);
    assert_eq!(report["full_runs"], 3);
    assert_eq!(report["seen_once"], 0);
    let notes = report["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().starts_with("runs 2-3") && n.as_str().unwrap().contains("merged"))
    );
    assert!(notes.iter().any(|n| n.as_str().unwrap().starts_with("run 4") && n.as_str().unwrap().contains("--known")));
}

#[test]
fn profile_explain_has_a_coverage_section() {
    let exe = program("coverage_steady", STEADY);
    let dir = TempDir::new("coverage-explain");
    let trace = record_into(&dir, "run.json", &[], &[exe.to_str().unwrap()]);
    let explain = dir.join("explain.md");
    let out = trapline(&["profile", "-o", "/dev/null", "--explain", explain.to_str().unwrap()], &[&trace]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let md = fs::read_to_string(&explain).unwrap();
    for heading in ["## Coverage", "### Convergence", "### Behaviour"] {
        assert!(md.contains(&format!("\n{heading}\n")), "{heading} missing:\n{md}");
    }
    assert!(md.contains("never sent a signal: cleanup after Ctrl-C or a timeout will be denied"), "{md}");
}

#[test]
fn bad_input_is_one_line_and_no_report() {
    let exe = program("coverage_steady", STEADY);
    let dir = TempDir::new("coverage-bad");
    let trace = record_into(&dir, "run.json", &[], &[exe.to_str().unwrap()]);
    let report = dir.join("report.txt");
    let twice = trapline(&["coverage", "-o", report.to_str().unwrap()], &[&trace, &trace]);
    assert_eq!(twice.code(), 2);
    assert!(twice.stdout.is_empty());
    let err = twice.stderr_str();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("trapline: ") && err.contains("run.json"), "{err}");
    assert!(!report.exists(), "no partial report");

    let target = trapline(&["coverage", "--target", "2"], &[&trace]);
    assert_eq!(target.code(), 2);
    assert_eq!(target.stderr_str().lines().count(), 1, "{}", target.stderr_str());
    assert!(target.stderr_str().contains("probability"), "{}", target.stderr_str());

    let garbage = dir.join("garbage.json");
    fs::write(&garbage, "{\"schema\": 1, \"runs\": [").unwrap();
    let bad = trapline(&["coverage"], &[&garbage]);
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr_str().starts_with("trapline: ") && bad.stderr_str().contains("garbage.json:1:"));
}

/// A job that starts a worker: healthy, the worker finishes on its own; on a timeout (`timeout` argument) the
/// job stops it with SIGTERM, the error path no healthy run takes. Exit 3 when the kill is refused.
const JOB: &str = r#"
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int timeout = argc > 1 && strcmp(argv[1], "timeout") == 0;
    pid_t worker = fork();
    if (worker == 0) {
        alarm(2); /* never outlive a refused kill by long */
        if (!timeout) { usleep(1000); _exit(0); }
        for (;;) usleep(100000);
    }
    if (worker < 0) return 1;
    usleep(1000);
    if (timeout && kill(worker, SIGTERM) != 0) return 3;
    int status;
    waitpid(worker, &status, 0);
    return 0;
}
"#;

#[test]
fn allow_group_signals_widens_for_the_timeout_path_and_says_so() {
    let exe = program("coverage_job", JOB);
    let exe = exe.to_str().unwrap();
    let dir = TempDir::new("coverage-group");
    let healthy = record_into(&dir, "healthy.json", &[], &[exe]);
    let report = coverage_json(&[&healthy]);
    assert_eq!(behaviour(&report, "signals")["status"], "not-exercised");

    let narrow = dir.join("narrow.json");
    let out = trapline(&["profile", "--runtime", "none", "-o", narrow.to_str().unwrap()], &[&healthy]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    assert!(!out.stderr_str().contains("widened"), "{}", out.stderr_str());
    let wide = dir.join("wide.json");
    let explain = dir.join("wide.md");
    let args = ["profile", "--runtime", "none", "--allow-group", "signals", "-o", wide.to_str().unwrap()];
    let out = trapline(&[&args[..], &["--explain", explain.to_str().unwrap()]].concat(), &[&healthy]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let said = out.stderr_str();
    assert!(said.contains("trapline: widened by --allow-group signals: kill,"), "{said}");
    assert!(!said.contains("wait4"), "the healthy run reaped its worker already: {said}");

    let md = fs::read_to_string(&explain).unwrap();
    assert!(md.contains("| `kill` | always | 0 | – | – | | **widened** by `--allow-group signals`"), "{md}");
    assert!(md.contains("\n## Widened deliberately\n"), "{md}");

    // The timeout path under each profile: only the widened one lets the job stop its worker.
    let under = |profile: &Path| trapline(&["run", "--profile", profile.to_str().unwrap(), "--", exe, "timeout"], &[]);
    assert_eq!(under(&narrow).code(), 3, "kill is denied by the profile of healthy runs");
    let widened = under(&wide);
    assert_eq!(widened.code(), 0, "{}", widened.stderr_str());
}

#[test]
fn allow_group_names_only_known_groups() {
    let out = trapline(&["profile", "--allow-group", "everything", "t.json"], &[]);
    assert_eq!(out.code(), 2);
    let err = out.stderr_str();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("signals") && err.contains("cleanup"), "{err}");
}

/// A server that a run without arguments never starts: its socket, bind and listen, and a raw sched_yield
/// `syscall` instruction, are reachable but never observed.
const BRANCHY: &str = r#"
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        long ret;
        __asm__ volatile ("syscall" : "=a"(ret) : "a"(24L) : "rcx", "r11", "memory");
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET };
        if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) || listen(s, 1)) return 3;
        close(s);
    }
    return 0;
}
"#;

fn reachable_rows(report: &Value, binary: &str) -> Vec<String> {
    report["reachable_unobserved"]
        .as_array()
        .unwrap_or_else(|| panic!("no reachable_unobserved: {report:#}"))
        .iter()
        .filter(|row| row["binary"] == binary)
        .map(|row| row["syscall"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn reachable_never_observed_names_the_branch_a_run_did_not_take() {
    let exe = program("coverage_branchy", BRANCHY);
    let exe = exe.to_str().unwrap();
    let dir = TempDir::new("coverage-reach");
    let trace = record_into(&dir, "plain.json", &[], &[exe]);
    let cache = dir.join("cache");
    let args = ["coverage", "--format", "json", "--reachable", "--cache", cache.to_str().unwrap()];
    let out = trapline(&args, &[&trace]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let gaps = reachable_rows(&report, exe);
    for syscall in ["socket", "bind", "listen", "sched_yield"] {
        assert!(gaps.contains(&syscall.to_string()), "{syscall} not reachable from {exe}: {gaps:?}");
    }
    assert!(!gaps.contains(&"exit_group".to_string()), "the run exited: observed, so no gap: {gaps:?}");
    let mine = report["reachable"]["binaries"].as_array().unwrap().iter().find(|b| b["binary"] == exe).unwrap();
    assert_eq!(mine["broad"], false);
    // libc reaches nearly everything: counted as broad, ranked after the program.
    let libc = report["reachable"]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .position(|b| b["binary"].as_str().unwrap().contains("libc.so"));
    let program_at = report["reachable"]["binaries"].as_array().unwrap().iter().position(|b| b["binary"] == exe);
    if let Some(libc) = libc {
        assert!(program_at < Some(libc), "specific before broad: {report:#}");
    }

    // The result is cached per build id: an entry for the program's build id is what the next report uses.
    let id = mine["build_id"].as_str().expect("gcc writes a build id").to_string();
    let entry = cache.join(format!("{id}.json"));
    let mut cached: Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    cached["syscalls"] = serde_json::json!(["reboot"]);
    fs::write(&entry, cached.to_string()).unwrap();
    let again: Value = serde_json::from_slice(&trapline(&args, &[&trace]).stdout).unwrap();
    assert_eq!(reachable_rows(&again, exe), ["reboot"]);

    let text = trapline(&["coverage", "--reachable", "--cache", dir.join("other").to_str().unwrap()], &[&trace]);
    let text = text.stdout_str();
    assert!(text.contains(&format!("  {exe}: bind, listen, sched_yield, socket")), "{text}");
}

#[test]
fn include_reachable_widens_the_profile_for_the_branch_not_taken() {
    let exe = program("coverage_branchy", BRANCHY);
    let exe = exe.to_str().unwrap();
    let dir = TempDir::new("coverage-include");
    let trace = record_into(&dir, "plain.json", &[], &[exe]);
    let cache = dir.join("cache");
    let narrow = dir.join("narrow.json");
    let out = trapline(&["profile", "--runtime", "none", "-o", narrow.to_str().unwrap()], &[&trace]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let wide = dir.join("wide.json");
    let explain = dir.join("wide.md");
    let out = trapline(
        &[
            "profile",
            "--runtime",
            "none",
            "--include-reachable",
            "coverage_branchy",
            "--cache",
            cache.to_str().unwrap(),
            "-o",
            wide.to_str().unwrap(),
            "--explain",
            explain.to_str().unwrap(),
        ],
        &[&trace],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let said = out.stderr_str();
    assert!(said.contains("trapline: widened by --include-reachable coverage_branchy: bind, listen,"), "{said}");
    let md = fs::read_to_string(&explain).unwrap();
    assert!(md.contains("**widened** by `--include-reachable coverage_branchy`"), "{md}");

    let under = |profile: &Path| trapline(&["run", "--profile", profile.to_str().unwrap(), "--", exe, "serve"], &[]);
    assert_eq!(under(&narrow).code(), 3, "the profile of the plain run denies the server its socket");
    let served = under(&wide);
    assert_eq!(served.code(), 0, "{}", served.stderr_str());

    let unknown = trapline(&["profile", "--include-reachable", "libnothing.so", "-o", "/dev/null"], &[&trace]);
    assert_eq!(unknown.code(), 2);
    let err = unknown.stderr_str();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("trapline: --include-reachable libnothing.so:") && err.contains("coverage_branchy"),
        "{err}"
    );
}
