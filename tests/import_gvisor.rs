//! `trapline import strace` on gVisor's `runsc --strace` logs, told apart from strace's by their lines: excerpts
//! of real logs from gVisor's issue tracker (tests/fixtures/gvisor, each with its source), and strace's own hex
//! dumps of the NVIDIA RM structs. What the logs say of NVIDIA's RM (the control command, the class) lands in
//! the class as a recording would put it there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

fn fixture_log(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name)
}

/// `trapline import strace [EXTRA] LOG`: its result, and the trace when one was written.
fn import(log: &Path, extra: &[&str]) -> (Finished, Option<Value>) {
    let dir = TempDir::new("import-gvisor");
    let output = dir.join("trace.json");
    let out = run(Command::new(TRAPLINE)
        .args(["import", "strace"])
        .args(extra)
        .arg(log)
        .arg("-o")
        .arg(&output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let trace = std::fs::read_to_string(&output).ok().map(|text| serde_json::from_str(&text).unwrap());
    (out, trace)
}

fn imported(log: &Path) -> (Value, String) {
    let (out, trace) = import(log, &[]);
    assert_eq!(out.code(), 0, "{}: {}", log.display(), out.stderr_str());
    (trace.unwrap(), out.stderr_str())
}

/// The ioctl classes: (decoded request, what the RM word was named, the device's path).
fn ioctls(trace: &Value) -> Vec<(String, String, String)> {
    classes(trace)
        .iter()
        .filter(|c| c["syscall"] == "ioctl")
        .map(|c| {
            let decoded = |i: usize| c["args"][i]["decoded"].as_str().unwrap_or_default().to_string();
            (decoded(0), decoded(1), c["fd"]["path"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn nvproxys_debug_notes_name_the_rm_control_command() {
    let (trace, stderr) = imported(&fixture_log("gvisor", "h100_control_commands.log"));
    let mut ioctls = ioctls(&trace);
    ioctls.sort();
    assert_eq!(
        ioctls,
        [
            ("NV_ESC_RM_CONTROL".into(), String::new(), "/dev/nvidiactl".into()),
            ("NV_ESC_RM_CONTROL".into(), "NV2080_CTRL_CMD_GR_GET_TPC_MASK".into(), "/dev/nvidiactl".into()),
        ],
        "the command the notes name; the excerpt's first call had its note before the excerpt began"
    );
    // Four calls: three with their entry, exit and note, and one whose entry the excerpt begins after.
    assert_eq!(count(&trace, "ioctl"), 3 + 1, "{stderr}");
    let run = &trace["runs"][0];
    assert_eq!(run["complete"], false, "the excerpt ends inside a call: {run}");
}

#[test]
fn interleaved_threads_and_an_unknown_escape_are_read() {
    let (trace, _) = imported(&fixture_log("gvisor", "ddp_unknown_frontend_ioctl.log"));
    let ioctl = classes(&trace).iter().find(|c| c["syscall"] == "ioctl").cloned().unwrap();
    assert_eq!(ioctl["args"][0]["value"], "0xc08046d4", "{ioctl}");
    assert_eq!(ioctl["fd"]["path"], "/dev/nvidiactl", "{ioctl}");
    assert_eq!(ioctl["fd"]["family"], "nvidia-frontend", "{ioctl}");
    assert_eq!(ioctl["results"]["errors"]["EINVAL"], 1, "{ioctl}");
    let accept = classes(&trace).iter().find(|c| c["syscall"] == "accept").cloned().unwrap();
    assert_eq!(accept["results"]["errors"]["EAGAIN"], 1, "{accept}");
}

#[test]
fn unquoted_paths_unnamed_syscalls_and_old_results_are_read() {
    let (trace, _) = imported(&fixture_log("gvisor", "nvidia_smi.log"));
    let openat = classes(&trace).iter().find(|c| c["syscall"] == "openat").cloned().unwrap();
    assert_eq!(openat["results"]["errors"]["ENOENT"], 1, "{openat}");
    assert_eq!(count(&trace, "geteuid"), 1);
    assert_eq!(count(&trace, "stat"), 1);

    let (trace, _) = imported(&fixture_log("gvisor", "nvidia_smi_topo.log"));
    // gVisor's `sys_439` is faccessat2 in x86_64's table.
    assert_eq!(count(&trace, "faccessat2"), 3);
    assert_eq!(count(&trace, "close"), 1);
}

/// strace 6.10 on dumps the argument of an ioctl it cannot decode: the NVOS54 and NVOS21 structs hold the
/// control command (offset 8) and the class (offset 12). A dump cut before them is imported without it, and
/// said in the skipped-lines summary; `--strict` refuses the log.
#[test]
fn strace_struct_dumps_give_the_rm_command_and_class() {
    let log = fixture_log("strace", "ioctl_dumps.log");
    let (trace, stderr) = imported(&log);
    let mut ioctls = ioctls(&trace);
    ioctls.sort();
    assert_eq!(
        ioctls,
        [
            ("NV_ESC_RM_ALLOC (NVOS21)".into(), "AMPERE_COMPUTE_A".into(), "/dev/nvidiactl".into()),
            ("NV_ESC_RM_CONTROL".into(), String::new(), "/dev/nvidiactl".into()),
            ("NV_ESC_RM_CONTROL".into(), "NV2080_CTRL_CMD_GPU_GET_INFO_V2".into(), "/dev/nvidiactl".into()),
        ],
        "the cut dump's call is counted without its command"
    );
    assert!(stderr.contains("struct dump cut short"), "{stderr}");
    let (strict, trace) = import(&log, &["--strict"]);
    assert_eq!(strict.code(), 2, "{}", strict.stderr_str());
    assert!(trace.is_none());
    assert!(strict.stderr_str().contains("ioctl_dumps.log:5"), "{}", strict.stderr_str());
}

/// Lines of the other format are counted by reason, never read as calls of this one.
#[test]
fn a_log_mixing_the_formats_says_so() {
    let dir = TempDir::new("import-mixed");
    let gvisor = std::fs::read_to_string(fixture_log("gvisor", "nvidia_smi_topo.log")).unwrap();
    let mixed = dir.join("mixed.log");
    std::fs::write(&mixed, format!("{gvisor}7 getpid() = 7\n")).unwrap();
    let (trace, stderr) = imported(&mixed);
    assert_eq!(count(&trace, "getpid"), 0);
    assert!(stderr.contains("another log format"), "{stderr}");

    let strace_first = dir.join("strace-first.log");
    let gvisor_line = gvisor.lines().nth(1).unwrap();
    std::fs::write(&strace_first, format!("7 getpid() = 7\n{gvisor_line}\n7 +++ exited with 0 +++\n")).unwrap();
    let (trace, stderr) = imported(&strace_first);
    assert_eq!((count(&trace, "getpid"), count(&trace, "close")), (1, 0));
    assert!(stderr.contains("another log format"), "{stderr}");
}
