//! `-` is standard output for `-o` and standard input where a trace is read, for every command; never a file
//! named `-`.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

/// Runs `trapline ARGS` in `dir` with standard input from `stdin` (a file in `dir`), through the shell's `<`.
fn trapline_in(dir: &TempDir, args: &str, stdin: &str) -> Finished {
    let script = format!("exec \"$0\" {args} < {stdin}");
    run(Command::new("sh")
        .args(["-c", &script, TRAPLINE])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()))
}

#[test]
fn dash_is_stdout_and_stdin_never_a_file() {
    let dir = TempDir::new("stdio");
    fs::write(dir.join("empty"), "").unwrap();

    let recorded = trapline_in(&dir, "record -q -o - -- /bin/true", "empty");
    assert_eq!(recorded.code(), 0, "{}", recorded.stderr_str());
    let trace: Value = serde_json::from_slice(&recorded.stdout).expect("the trace on stdout");
    assert_eq!(trace["runs"][0]["exit"]["status"], 0);
    fs::write(dir.join("t.json"), &recorded.stdout).unwrap();

    let profiled = trapline_in(&dir, "profile --runtime none - -o -", "t.json");
    assert_eq!(profiled.code(), 0, "{}", profiled.stderr_str());
    let profile: Value = serde_json::from_slice(&profiled.stdout).expect("the profile on stdout");
    assert!(profile["syscalls"].as_array().is_some_and(|s| !s.is_empty()), "{profile}");

    let merged = trapline_in(&dir, "merge - -o -", "t.json");
    assert_eq!(merged.code(), 0, "{}", merged.stderr_str());
    assert!(merged.stderr_str().ends_with("-> standard output\n"), "{}", merged.stderr_str());
    serde_json::from_slice::<Value>(&merged.stdout).expect("the merge on stdout");

    let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["empty", "t.json"], "no file named '-'");
}

#[test]
fn standard_input_is_read_once() {
    let dir = TempDir::new("stdio-twice");
    let recorded = record(&["/bin/true"]);
    fs::copy(recorded.dir.join("trace.json"), dir.join("t.json")).unwrap();
    let twice = trapline_in(&dir, "merge - -", "t.json");
    assert_eq!(twice.code(), 2, "{}", twice.stderr_str());
    assert_eq!(twice.stderr_str(), "trapline: cannot read -: standard input (-) can be read only once\n");
    assert!(twice.stdout.is_empty());
}
