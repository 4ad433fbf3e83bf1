//! `trapline agent`: runc hands each container's seccomp notify fd to the agent (the recording profile's
//! listenerPath); the agent writes one Trace per container, and the profile made from it starts the container.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::agent::{Agent, recording_profile, wait_for};
use common::container::{Bundle, describe, runc_or_skip, static_fixture};
use common::*;

const WORKLOAD: &str = "busybox mkdir -p /tmp/w && busybox echo written > /tmp/w/f && busybox cat /tmp/w/f && \
                        busybox ls /tmp/w; busybox echo done";

#[test]
fn agent_records_a_container_whose_profile_then_starts_it() {
    let Some(runc) = runc_or_skip("agent") else { return };
    let dir = TempDir::new("agent");
    let socket = dir.join("agent.sock");
    let out = dir.join("traces");
    let _agent = Agent::start(&socket, &out);

    let recording = recording_profile(&socket);
    assert_eq!(recording["listenerPath"], socket.to_str().unwrap());
    let notified = recording["syscalls"][0]["names"].as_array().unwrap();
    assert!(notified.iter().all(|n| n != "write") && notified.iter().any(|n| n == "openat"));

    let mut bundle = Bundle::new(&runc, &["/bin/busybox", "sh", "-c", WORKLOAD]);
    bundle.add_file(Path::new("/bin/busybox"), "/bin/busybox");
    fs::create_dir_all(bundle.dir.join("rootfs/tmp")).unwrap();
    bundle.config["process"]["terminal"] = serde_json::json!(false);
    let unconfined = bundle.run(None);
    let recorded = bundle.run(Some(&recording));
    assert_eq!(recorded.code(), 0, "{}", describe(&recorded));
    assert_eq!(recorded.stdout_str(), unconfined.stdout_str());

    // One trace, named after the container, once it has ended.
    let (trace_path, trace) = the_trace(&out);
    let run = &trace["runs"][0];
    assert_eq!(run["backend"], "notify-agent");
    assert_eq!(run["container"], "runc");
    assert_eq!(run["unobserved"], serde_json::json!(["write"]));
    let names: Vec<&str> = classes(&trace).iter().map(|c| c["syscall"].as_str().unwrap()).collect();
    for needed in ["execve", "openat", "getdents64", "exit_group"] {
        assert!(names.contains(&needed), "{needed} missing: {names:?}");
    }
    assert!(!names.contains(&"write"), "runc does not notify write");

    // The profile of the agent's trace, with no runtime list, starts the container.
    let made = run_profile(&trace_path);
    let confined = bundle.run(Some(&made));
    assert_eq!(confined.code(), 0, "{}", describe(&confined));
    assert_eq!(confined.stdout_str(), unconfined.stdout_str());
}

/// The one trace the agent writes into `out` once the container has ended: its path and contents. A write
/// in progress has a hidden name for an instant (`.NAME.json.XXXXXX`, renamed over `NAME.json` when whole), as a
/// directory watcher sees it too: hidden names are not traces.
fn the_trace(out: &Path) -> (std::path::PathBuf, Value) {
    let visible = |e: &fs::DirEntry| !e.file_name().to_string_lossy().starts_with('.');
    let written = || {
        fs::read_dir(out).map(|d| d.flatten().filter(visible).map(|e| e.path()).collect::<Vec<_>>()).unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while written().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let traces = written();
    assert_eq!(traces.len(), 1, "{traces:?}");
    let trace = serde_json::from_slice(&fs::read(&traces[0]).unwrap()).unwrap();
    (traces[0].clone(), trace)
}

/// `trapline profile --runtime none TRACE`: the profile of an agent's trace, as JSON.
fn run_profile(trace: &Path) -> Value {
    let out = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
        .args(["profile", "--runtime", "none"])
        .arg(trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    serde_json::from_str(&out.stdout_str()).unwrap()
}

/// A bundle of the busybox workload `script`, with `seccomp` as its filter when given.
fn busybox_bundle(runc: &Path, script: &str, seccomp: Option<&Value>) -> Bundle {
    let bundle = Bundle::new(runc, &["/bin/busybox", "sh", "-c", script]);
    bundle.add_file(Path::new("/bin/busybox"), "/bin/busybox");
    fs::create_dir_all(bundle.dir.join("rootfs/tmp")).unwrap();
    let mut config = bundle.config.clone();
    if let Some(profile) = seccomp {
        config["linux"]["seccomp"] = profile.clone();
    }
    fs::write(bundle.dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    bundle
}

/// (syscall, argument values) of the classes the busybox workload itself made: runc's own calls differ
/// between the ways of recording (timing), `write` is not observable by the agent, and `rt_sigreturn` follows
/// a SIGCHLD handler only when the signal arrives while the shell is not already waiting.
fn workload_calls(trace: &Value) -> std::collections::BTreeSet<(String, Vec<String>)> {
    classes(trace)
        .iter()
        .filter(|c| c["exes"] == serde_json::json!(["/bin/busybox"]))
        .filter(|c| c["syscall"] != "write" && c["syscall"] != "rt_sigreturn")
        .map(|c| {
            let args = c["args"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap().to_string()).collect();
            (c["syscall"].as_str().unwrap().to_string(), args)
        })
        .collect()
}

#[test]
fn two_containers_at_once_are_both_recorded_and_one_ending_early_does_not_disturb_the_other() {
    let Some(runc) = runc_or_skip("agent_concurrent") else { return };
    let dir = TempDir::new("agent2");
    let socket = dir.join("agent.sock");
    let out = dir.join("traces");
    let bin = env!("CARGO_BIN_EXE_trapline");
    let _agent = Agent::start(&socket, &out);
    let recording = run(Command::new(bin)
        .args(["profile", "--recording", "--listener"])
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let recording: Value = serde_json::from_str(&recording.stdout_str()).unwrap();

    let long = busybox_bundle(&runc, WORKLOAD, Some(&recording));
    let short = busybox_bundle(&runc, "busybox true", Some(&recording));
    let _lock = common::container::RuncLock::take();
    let start = |bundle: &Bundle, id: &str| {
        Command::new(&runc)
            .args(["run", "--bundle"])
            .arg(bundle.dir.path())
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let ids = [format!("agent-long-{}", std::process::id()), format!("agent-short-{}", std::process::id())];
    let (long_run, short_run) = (start(&long, &ids[0]), start(&short, &ids[1]));
    let long_out = long_run.wait_with_output().unwrap();
    let short_out = short_run.wait_with_output().unwrap();
    for id in &ids {
        let _ = Command::new(&runc).args(["delete", "-f", id]).status();
    }
    assert!(long_out.status.success(), "{}", String::from_utf8_lossy(&long_out.stderr));
    assert!(short_out.status.success(), "{}", String::from_utf8_lossy(&short_out.stderr));
    assert!(String::from_utf8_lossy(&long_out.stdout).ends_with("done\n"));

    let long_trace = out.join(format!("{}.json", ids[0]));
    let short_trace = out.join(format!("{}.json", ids[1]));
    assert!(wait_for(&long_trace) && wait_for(&short_trace), "both containers get a trace");
    let agent_trace: Value = serde_json::from_slice(&fs::read(&long_trace).unwrap()).unwrap();

    // The same workload recorded through runc with ptrace: the agent saw the same calls, `write` aside.
    let plain = busybox_bundle(&runc, WORKLOAD, None);
    let traced = dir.join("ptrace.json");
    let recorded = run(Command::new(bin)
        .args(["record", "-q", "--container", "-o"])
        .arg(&traced)
        .args(["--"])
        .arg(&runc)
        .args(["run", "--bundle"])
        .arg(plain.dir.path())
        .arg(format!("agent-ptrace-{}", std::process::id()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(recorded.code(), 0, "{}", describe(&recorded));
    let ptrace_trace: Value = serde_json::from_slice(&fs::read(&traced).unwrap()).unwrap();
    let (by_agent, by_ptrace) = (workload_calls(&agent_trace), workload_calls(&ptrace_trace));
    assert!(!by_agent.is_empty());
    assert_eq!(by_agent, by_ptrace, "agent (left) and ptrace (right) recordings of the same workload");
}

#[test]
fn a_socket_in_use_is_refused() {
    let dir = TempDir::new("agent-busy");
    let socket = dir.join("agent.sock");
    let bin = env!("CARGO_BIN_EXE_trapline");
    let _first = Agent::start(&socket, &dir.join("out"));
    let second = run(Command::new(bin)
        .args(["agent", "--socket"])
        .arg(&socket)
        .arg("--out")
        .arg(dir.join("out2"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(second.code(), 2);
    assert_eq!(second.stderr_str().lines().count(), 1, "{}", second.stderr_str());
    assert!(second.stderr_str().contains("in use"), "{}", second.stderr_str());
}

/// Under the recording profile the agent caches fds (every close and dup2 is notified): an fd number reused for
/// another device, by each way a number changes hands, must still be named by the device the call reached.
#[test]
fn reused_fd_numbers_are_described_anew_in_a_container() {
    let Some(runc) = runc_or_skip("agent") else { return };
    let dir = TempDir::new("agent-fds");
    let socket = dir.join("agent.sock");
    let out = dir.join("traces");
    let _agent = Agent::start(&socket, &out);
    let mut bundle = Bundle::new(&runc, &["/fd_reuse"]);
    bundle.add_file(&static_fixture("fd_reuse"), "/fd_reuse");
    bundle.config["process"]["terminal"] = serde_json::json!(false);
    let recorded = bundle.run(Some(&recording_profile(&socket)));
    assert_eq!(recorded.code(), 0, "{}", describe(&recorded));

    let (_, trace) = the_trace(&out);
    let seen: BTreeMap<String, String> = classes_named(&trace, "ioctl")
        .into_iter()
        .filter(|c| c["args"][0]["value"].as_str().is_some_and(|v| v.starts_with("0x780")))
        .map(|c| (c["args"][0]["value"].as_str().unwrap().to_string(), c["fd"]["path"].to_string()))
        .collect();
    let expected: BTreeMap<String, String> = (0..7u64)
        .flat_map(|step| [(0x7800 + 2 * step, "\"/dev/null\""), (0x7801 + 2 * step, "\"/dev/zero\"")])
        .map(|(request, path)| (format!("{request:#x}"), path.to_string()))
        .collect();
    assert_eq!(seen, expected, "request -> device");
}
