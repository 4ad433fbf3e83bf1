//! `trapline record` error paths: command not found (127), unusable output path and bad usage (2).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn trapline(dir: &Path) -> Command {
    let mut c = Command::new(TRAPLINE);
    c.current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn missing_command_exits_127() {
    let dir = TempDir::new("notfound");
    let out = run(trapline(dir.path()).args(["record", "--", "trapline-no-such-command", "arg"]));
    assert_eq!(out.code(), 127, "{}", out.stderr_str());
    assert_eq!(out.stderr_str(), "trapline: trapline-no-such-command: command not found\n");
    assert!(out.stdout.is_empty());
    assert!(entries(dir.path()).is_empty(), "no trace may be written: {:?}", entries(dir.path()));
}

#[test]
fn missing_program_path_exits_127() {
    // A name with a slash is not looked up in $PATH; like a shell, trapline may word this one differently
    // ("No such file or directory"), but it is still 127, one line naming the program, and no trace.
    let dir = TempDir::new("nosuchfile");
    for cmd in ["/nonexistent/dir/cmd", "./not-here"] {
        let out = run(trapline(dir.path()).args(["record", "--", cmd, "arg"]));
        assert_eq!(out.code(), 127, "{cmd}: {}", out.stderr_str());
        let stderr = out.stderr_str();
        assert!(stderr.starts_with(&format!("trapline: {cmd}: ")) && stderr.lines().count() == 1, "{cmd}: {stderr:?}");
        assert!(entries(dir.path()).is_empty(), "{cmd}: {:?}", entries(dir.path()));
    }
}

#[test]
fn program_that_cannot_be_executed_exits_126() {
    let dir = TempDir::new("noexec");
    fs::write(dir.join("script"), "#!/bin/sh\nexit 0\n").unwrap();
    fs::create_dir(dir.join("subdir")).unwrap();
    let before = entries(dir.path());
    for cmd in ["./script", "./subdir"] {
        let out = run(trapline(dir.path()).args(["record", "--", cmd]));
        assert_eq!(out.code(), 126, "{cmd}: {}", out.stderr_str());
        let stderr = out.stderr_str();
        assert!(stderr.starts_with(&format!("trapline: {cmd}: ")) && stderr.lines().count() == 1, "{cmd}: {stderr:?}");
        assert_eq!(entries(dir.path()), before, "{cmd}: no trace may be written");
    }
}

#[test]
fn missing_command_with_explicit_output_writes_nothing() {
    let dir = TempDir::new("notfound-o");
    let out = run(trapline(dir.path()).args(["record", "-q", "-o", "t.json", "--", "trapline-no-such-command"]));
    assert_eq!(out.code(), 127, "{}", out.stderr_str());
    assert!(out.stderr_str().contains("command not found"), "{}", out.stderr_str());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

/// `-o path` that cannot be written: exit 2 with one `trapline: ...` line naming the path, before the workload
/// starts (its marker file must not appear), and nothing left in the directories involved.
fn assert_refused(dir: &TempDir, output: &Path) {
    let before = entries(dir.path());
    let marker = dir.join("workload-ran");
    let out = run(trapline(dir.path())
        .args(["record", "-o"])
        .arg(output)
        .args(["--", "/bin/sh", "-c", "echo ran > \"$0\""])
        .arg(&marker));
    let stderr = out.stderr_str();
    assert_eq!(out.code(), 2, "-o {}: {stderr}", output.display());
    assert!(!marker.exists(), "-o {}: the workload ran", output.display());
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr:?}");
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    assert!(stderr.starts_with("trapline: "), "{stderr:?}");
    assert!(stderr.contains(output.to_str().unwrap()), "the message must name {}: {stderr:?}", output.display());
    assert!(out.stdout.is_empty());
    assert_eq!(entries(dir.path()), before, "no partial output may be left behind");
}

#[test]
fn output_in_nonexistent_proc_directory_is_refused() {
    let dir = TempDir::new("unwritable-proc");
    assert_refused(&dir, Path::new("/proc/nonexistent/x.json"));
}

#[test]
fn output_in_missing_directory_is_refused() {
    let dir = TempDir::new("unwritable-missing");
    assert_refused(&dir, &dir.join("no/such/dir/trace.json"));
    // The line says what is missing and how to make it, not a bare ENOENT.
    let out = run(trapline(dir.path()).args(["record", "-o", "traces/run1.json", "--", "true"]));
    assert_eq!(
        out.stderr_str(),
        "trapline: cannot write traces/run1.json: the directory traces does not exist; create it (mkdir -p \
         traces) or choose another -o\n"
    );
}

#[test]
fn output_under_a_regular_file_is_refused() {
    let dir = TempDir::new("unwritable-notdir");
    fs::write(dir.join("file"), "x").unwrap();
    assert_refused(&dir, &dir.join("file/trace.json"));
    assert_eq!(fs::read_to_string(dir.join("file")).unwrap(), "x");
}

#[test]
fn output_that_is_a_directory_is_refused() {
    let dir = TempDir::new("unwritable-isdir");
    fs::create_dir(dir.join("out")).unwrap();
    assert_refused(&dir, &dir.join("out"));
    assert!(entries(&dir.join("out")).is_empty(), "nothing may be written inside");
}

#[test]
fn output_where_no_file_can_be_created_is_refused() {
    // sysfs does not let anyone, root included, create files.
    let dir = TempDir::new("unwritable-sysfs");
    assert_refused(&dir, Path::new("/sys/trapline-test.json"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new("usage");
    for args in [
        &["record"][..],
        &["record", "--"],
        &["record", "--no-such-flag", "--", "true"],
        &["record", "--results", "bogus", "--", "true"],
        &["record", "--backend", "bogus", "--", "true"],
        &["record", "--duration", "5", "--", "true"],
        &["record", "--cgroup", "/sys/fs/cgroup", "--", "true"],
        &["record", "--backend", "ptrace", "--cgroup", "/sys/fs/cgroup"],
        &["record", "--max-classes", "64", "--", "true"],
        &["record", "--backend", "ebpf", "--max-classes", "0", "--", "true"],
        &["agent", "--out", "traces"],
        &["no-such-subcommand"],
    ] {
        let out = run(trapline(dir.path()).args(args));
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr_str());
        let stderr = out.stderr_str();
        assert!(stderr.starts_with("trapline: ") && stderr.lines().count() == 1, "{args:?}: one line: {stderr:?}");
        assert!(entries(dir.path()).is_empty(), "{args:?}: {:?}", entries(dir.path()));
    }
}

/// A process that is already traced cannot be traced again: the inner trapline gets EPERM from ptrace and
/// says how to allow tracing, in one line, without running the workload or writing a trace.
#[test]
fn ptrace_not_permitted_says_how_to_allow_it() {
    let dir = TempDir::new("nested");
    let inner = dir.join("inner.json");
    let marker = dir.join("ran");
    let bin = env!("CARGO_BIN_EXE_trapline");
    let out = run(Command::new(bin)
        .args(["record", "-q", "-o"])
        .arg(dir.join("outer.json"))
        .args(["--", bin, "record", "-o"])
        .arg(&inner)
        .args(["--", "touch"])
        .arg(&marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 2, "{}", out.stderr_str());
    let stderr = out.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ptrace is not permitted") && stderr.contains("SYS_PTRACE"), "{stderr}");
    assert!(!marker.exists(), "the workload must not run untraced");
    assert!(!inner.exists());
}

/// An output that is not a regular file (a FIFO here; `/dev/null` or `/dev/stdout` in practice) is written in
/// place: renaming a temporary file over it would replace the node itself.
#[test]
fn output_to_a_fifo_is_written_in_place() {
    let dir = TempDir::new("fifo");
    let fifo = dir.join("trace.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(&fifo).expect("read the fifo"))
    };
    let out = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
        .args(["record", "-q", "-o"])
        .arg(&fifo)
        .args(["--", "/bin/true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let bytes = reader.join().unwrap();
    let trace: serde_json::Value = serde_json::from_slice(&bytes).expect("the trace came through the fifo");
    assert_eq!(trace["schema"], 1);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the fifo must still be a fifo");
}
