//! strace as the oracle: for real programs, `trapline record` must see the same syscalls, the same number of times,
//! as `strace -f -c`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Syscalls whose counts depend on timing in the shell pipeline, so they differ between two runs of it, even
/// between two strace runs. Only their presence is compared. Evidence (strace -f -c, 60 runs, Debian 12, 2 CPUs):
/// - `read`: the pipeline's readers get whatever the writer has written so far: 19 to 22 reads per run.
/// - `rt_sigreturn`: sh's SIGCHLD handler runs once per delivered (possibly coalesced) SIGCHLD: 1 to 3 per run.
const PIPELINE_TIMING: &[&str] = &["read", "rt_sigreturn"];

/// In threads64, how often the 64 threads contend on the barrier and join futexes: 65 to 67 futex calls in 20
/// strace runs.
const THREADS_TIMING: &[&str] = &["futex"];

/// `strace -c` counts a syscall when it returns, so calls that never return are missing from its summary. trapline
/// counts them on entry; they are checked to be present in the trace instead.
const NEVER_RETURN: &[&str] = &["exit", "exit_group"];

type Counts = BTreeMap<(String, String), u64>;

/// Parses `strace -c -U name,calls` output: a table for the native arch, then optionally one introduced by
/// "System call usage summary for 32 bit mode:" (i386 calls of a 64-bit process).
fn parse_strace_summary(text: &str) -> Counts {
    let mut counts = Counts::new();
    let mut arch = native_arch();
    for line in text.lines() {
        if line.contains("32 bit mode") {
            arch = "i386";
        } else if line.contains("x32 mode") {
            arch = "x32";
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [name, calls] = fields[..]
            && name != "total"
            && name != "syscall"
            && let Ok(calls) = calls.parse::<u64>()
        {
            *counts.entry((arch.to_string(), name.to_string())).or_insert(0) += calls;
        }
    }
    counts
}

fn trace_counts(trace: &serde_json::Value) -> Counts {
    let mut counts = Counts::new();
    for c in classes(trace) {
        let key = (c["arch"].as_str().unwrap().to_string(), c["syscall"].as_str().unwrap().to_string());
        *counts.entry(key).or_insert(0) += count_of(c);
    }
    counts
}

/// Runs `cmd` under strace and under trapline (same cwd, stdin/stdout /dev/null, stderr piped) and compares.
/// `setup` prepares a fresh working directory for each run, so both see the same starting state. Counts must be
/// equal except for the `timing` syscalls, which must only be present in both.
fn compare(cmd: &[&str], setup: &dyn Fn(&Path), timing: &[&str]) {
    let sdir = TempDir::new("oracle-strace");
    setup(sdir.path());
    let summary = sdir.join("strace.out");
    let s = run(Command::new("strace")
        .args(["-f", "-c", "-U", "name,calls", "-o"])
        .arg(&summary)
        .arg("--")
        .args(cmd)
        .current_dir(sdir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped()));
    assert!(s.status.success(), "strace {cmd:?} failed: {:?}\n{}", s.status, s.stderr_str());
    let text = fs::read_to_string(&summary).unwrap();
    let expected = parse_strace_summary(&text);
    assert!(expected.len() > 10, "strace summary not understood:\n{text}");

    let tdir = TempDir::new("oracle-trapline");
    setup(tdir.path());
    let trace_path = tdir.join("trace.json");
    let t = run(Command::new(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(&trace_path)
        .arg("--")
        .args(cmd)
        .current_dir(tdir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped()));
    assert_eq!(t.code(), 0, "trapline record {cmd:?}:\n{}", t.stderr_str());
    let trace = read_trace(&trace_path, &t);
    check_trace(&trace);
    let mut actual = trace_counts(&trace);

    for name in NEVER_RETURN {
        actual.remove(&(native_arch().to_string(), name.to_string()));
    }
    assert!(count(&trace, "exit_group") >= 1, "{cmd:?}: no exit_group in the trace");

    let names = |c: &Counts| c.keys().cloned().collect::<BTreeSet<_>>();
    let (want, got) = (names(&expected), names(&actual));
    let mut problems = Vec::new();
    for k in want.difference(&got) {
        problems.push(format!("{}/{}: strace {} vs trapline absent", k.0, k.1, expected[k]));
    }
    for k in got.difference(&want) {
        problems.push(format!("{}/{}: trapline {} vs strace absent", k.0, k.1, actual[k]));
    }
    for (k, &n) in &expected {
        if let Some(&m) = actual.get(k)
            && n != m
            && !timing.contains(&k.1.as_str())
        {
            problems.push(format!("{}/{}: strace {n} vs trapline {m}", k.0, k.1));
        }
    }
    assert!(
        problems.is_empty(),
        "{cmd:?}: trapline and strace disagree:\n  {}\nstrace summary:\n{text}",
        problems.join("\n  ")
    );
}

fn nothing(_: &Path) {}

/// A small directory tree to archive: 20 files, a subdirectory and a symlink.
fn make_tree(dir: &Path) {
    let data = dir.join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    for i in 0..20 {
        fs::write(data.join(format!("f{i}.txt")), format!("file {i}\n").repeat(i + 1)).unwrap();
    }
    fs::write(data.join("sub/big.bin"), vec![7u8; 300_000]).unwrap();
    std::os::unix::fs::symlink("f1.txt", data.join("link")).unwrap();
}

/// The system python, not a version-manager shim (a shim would run a shell script around it).
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
fn shell_pipeline_matches_strace() {
    // `tail`, not `head`: head exits after 3 lines and the SIGPIPE/EPIPE race that follows changes which
    // syscalls sort makes (tgkill, gettid, ...), from run to run, under strace alone.
    compare(&["sh", "-c", "ls /usr/bin | sort | tail -3 >/dev/null"], &nothing, PIPELINE_TIMING);
}

#[test]
fn python_startup_matches_strace() {
    let py = python();
    compare(&[&py, "-c", "pass"], &nothing, &[]);
}

#[test]
fn tar_matches_strace() {
    compare(&["tar", "-cf", "out.tar", "data"], &make_tree, &[]);
}

#[test]
fn tar_to_dev_null_matches_strace() {
    compare(&["tar", "-cf", "/dev/null", "data"], &make_tree, &[]);
}

#[test]
fn fork_exec_fixture_matches_strace() {
    let exe = fixture("forkexec");
    compare(&[exe.to_str().unwrap()], &nothing, &[]);
}

#[test]
fn int80_fixture_matches_strace_including_i386_table() {
    let exe = fixture("int80");
    compare(&[exe.to_str().unwrap()], &nothing, &[]);
}

#[test]
fn threads64_fixture_matches_strace() {
    let exe = fixture("threads64");
    compare(&[exe.to_str().unwrap()], &nothing, THREADS_TIMING);
}

#[test]
fn strace_summary_parser() {
    let text = "\
syscall              calls
---------------- ---------
read                     1
getpid                   1
---------------- ---------
total                    2
System call usage summary for 32 bit mode:
syscall              calls
---------------- ---------
getpid                   3
---------------- ---------
total                    3
";
    let c = parse_strace_summary(text);
    let k = |a: &str, n: &str| (a.to_string(), n.to_string());
    assert_eq!(c.len(), 3);
    assert_eq!(c[&k(native_arch(), "read")], 1);
    assert_eq!(c[&k(native_arch(), "getpid")], 1);
    assert_eq!(c[&k("i386", "getpid")], 3);
}
