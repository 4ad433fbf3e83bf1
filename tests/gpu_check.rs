//! `scripts/gpu-check.sh`, the check prepared for a machine with a real NVIDIA GPU, run end to end on the
//! emulated GPU rig: a stand-in `nvidia-smi` answers `-L` and the driver query as the real one does and, run
//! plainly, makes a CUDA initialisation's device calls (`tests/fixtures/cuda_init.c`). The script must record it,
//! profile it, lint the profiles, run it under its profile, record it again with the notify backend and summarise
//! the requests by name and device, with every file named by the driver version, so that a GPU machine's one short
//! run brings back what it should.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::container::{RIG, rig_or_skip};
use common::*;

const DRIVER: &str = "580.159.04";

#[test]
fn gpu_check_records_profiles_and_runs_a_gpu_workload_on_the_rig() {
    if !rig_or_skip("gpu_check_records_profiles_and_runs_a_gpu_workload_on_the_rig") {
        return;
    }
    let dir = TempDir::new("gpu-check");
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let smi = bin.join("nvidia-smi");
    fs::write(
        &smi,
        format!(
            "#!/bin/sh\n\
             # A stand-in for nvidia-smi on the emulated rig.\n\
             case \"$*\" in\n\
             -L) echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)' ;;\n\
             *--query-gpu=driver_version*) echo '{DRIVER}' ;;\n\
             '') exec {} ;;\n\
             *) echo \"nvidia-smi stand-in: unexpected arguments: $*\" >&2; exit 2 ;;\n\
             esac\n",
            fixture("cuda_init").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&smi, fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = dir.join("out");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gpu-check.sh");
    let out = run(Command::new(RIG)
        .args(["env", &format!("PATH={path}"), &format!("TRAPLINE={TRAPLINE}")])
        .arg(format!("OUT={}", out_dir.display()))
        .arg("BUDGET=120")
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let log = format!("stdout:\n{}\nstderr:\n{}", out.stdout_str(), out.stderr_str());
    assert_eq!(out.code(), 0, "{log}");
    let said = out.stdout_str();
    for line in
        [&format!("NVIDIA driver version: {DRIVER}") as &str, "nvidia-smi ran under its profile", "SKIPPED: PyTorch"]
    {
        assert!(said.contains(line), "expected {line:?} in the output; {log}");
    }
    assert!(!said.contains("FAILED"), "{log}");

    // Every file is named by the driver version.
    for file in [
        format!("traces/nvidia-smi-{DRIVER}.json"),
        format!("traces/nvidia-smi-{DRIVER}-notify.json"),
        format!("profiles/nvidia-smi-{DRIVER}.json"),
        format!("profiles/nvidia-smi-{DRIVER}-portable.json"),
        format!("reports/nvidia-smi-{DRIVER}.md"),
        format!("summary-{DRIVER}.txt"),
        format!("env-{DRIVER}.txt"),
    ] {
        let path = out_dir.join(&file);
        assert!(path.is_file() && fs::metadata(&path).unwrap().len() > 0, "{file} missing or empty; {log}");
    }

    // The trace holds the stand-in's device calls, decoded; the profile allows them per request.
    let trace: Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join(format!("traces/nvidia-smi-{DRIVER}.json"))).unwrap())
            .unwrap();
    let run = &trace["runs"][0];
    assert_eq!(run["exit"]["status"], 0, "{run}");
    let ioctls = classes_named(&trace, "ioctl");
    assert!(
        ioctls.iter().any(|c| c["fd"]["path"] == "/dev/nvidiactl" && c["args"][0]["decoded"] == "NV_ESC_RM_CONTROL"),
        "no RM_CONTROL on /dev/nvidiactl in the trace"
    );
    let profile: Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join(format!("profiles/nvidia-smi-{DRIVER}.json"))).unwrap())
            .unwrap();
    let ioctl_rules = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == "ioctl") && r.get("args").is_some())
        .count();
    assert!(ioctl_rules >= 10, "expected an ioctl rule per request, got {ioctl_rules}");

    // The summary names requests and devices, and the RM commands behind them.
    let summary = fs::read_to_string(out_dir.join(format!("summary-{DRIVER}.txt"))).unwrap();
    for needle in
        ["NV_ESC_RM_CONTROL", "NV_ESC_RM_ALLOC (NVOS64)", "/dev/nvidiactl", "/dev/nvidia-uvm", "UVM_INITIALIZE"]
    {
        assert!(summary.contains(needle), "{needle:?} not in the summary:\n{summary}");
    }
    // The notify backend (what the agent sees) names the same device requests as ptrace.
    let ioctls = summary
        .lines()
        .find_map(|l| l.split_once("ioctl classes ").map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no notify comparison in the summary:\n{summary}"));
    let (notify, ptrace) = ioctls.split_once(" vs ").unwrap();
    assert_eq!(notify, ptrace, "ioctl classes under notify and ptrace:\n{summary}");
}
