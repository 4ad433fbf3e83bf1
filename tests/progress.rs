//! A long recording says what it is doing and saves what it saw as it goes: a status line on a terminal, `-v`
//! lines for new classes, and checkpoints that survive a SIGKILL of the recorder.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;

/// A workload that makes calls for `seconds`: the watcher only runs while calls flow.
fn busy(seconds: f64) -> Vec<String> {
    let script = format!("import os, time\nend = time.time() + {seconds}\nwhile time.time() < end: os.getppid()");
    vec!["python3".into(), "-c".into(), script]
}

#[test]
fn a_killed_recording_leaves_its_last_checkpoint() {
    let dir = TempDir::new("checkpoint");
    let trace = dir.join("trace.json");
    let mut trapline = Command::new(TRAPLINE)
        .args(["record", "-q", "--checkpoint", "1", "-o"])
        .arg(&trace)
        .arg("--")
        .args(busy(20.0))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let checkpoint = loop {
        if let Some(saved) = fs::read(&trace).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
            break saved;
        }
        assert!(Instant::now() < deadline, "no checkpoint written");
        thread::sleep(Duration::from_millis(50));
    };
    trapline.kill().unwrap();
    trapline.wait().unwrap();
    let run = &checkpoint["runs"][0];
    assert_eq!(run["complete"], false, "{run}");
    assert!(run["incomplete"].as_str().unwrap().starts_with("checkpoint after "), "{run}");
    assert!(run["totals"]["processes"].as_u64() >= Some(1), "{run}");
    assert!(count(&checkpoint, "getppid") > 0, "the calls made so far are in it");
    // The file left behind is the last checkpoint, whole.
    let left: Value = serde_json::from_slice(&fs::read(&trace).unwrap()).expect("a whole trace after SIGKILL");
    assert_eq!(left["runs"][0]["complete"], false);
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["trace.json"], "no temporary file left");
}

#[test]
fn a_finished_recording_replaces_its_checkpoints() {
    let recorded = record_with(&["--checkpoint", "1"], &busy(1.5).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let run = &recorded.trace["runs"][0];
    assert_eq!((run["complete"].as_bool(), run.get("incomplete")), (Some(true), None), "{run}");
}

#[test]
fn a_terminal_gets_a_status_line() {
    let dir = TempDir::new("status-line");
    let trace = dir.join("trace.json");
    // script(1) gives trapline a terminal and copies what it shows to its own stdout.
    let command = format!(
        "{TRAPLINE} record -o {} -- python3 -c 'import os, time\nend = time.time() + 2.5\nwhile time.time() < end: os.getppid()'",
        trace.display()
    );
    let out =
        run(Command::new("script").args(["-qec", &command, "/dev/null"]).stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let shown = out.stdout_str();
    assert!(shown.contains(" calls, ") && shown.contains(" classes, "), "{shown:?}");
    assert!(shown.contains("\r\x1b[Ktrapline: ") && shown.contains(" new in the last minute"), "{shown:?}");
    assert!(shown.contains("\r\x1b[Ktrapline: recorded "), "the status line is cleared before the summary: {shown:?}");
    // Not on a pipe: a log gets no carriage returns.
    let piped = record(&busy(1.5).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!piped.out.stderr_str().contains('\r'), "{:?}", piped.out.stderr_str());
}

#[test]
fn verbose_names_each_new_class_once() {
    let recorded = record_with(&["-v"], &["/bin/true"]);
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let stderr = recorded.out.stderr_str();
    let new: Vec<&str> = stderr.lines().filter_map(|l| l.strip_prefix("trapline: new: ")).collect();
    assert_eq!(new.len(), classes(&recorded.trace).len(), "{stderr}");
    assert!(new.iter().any(|l| l.starts_with("execve")), "{stderr}");
}
