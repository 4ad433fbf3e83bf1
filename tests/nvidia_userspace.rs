//! NVIDIA's real userspace as a test client: Debian 12's non-free libcuda1, libnvidia-ml1 and nvidia-smi (535),
//! fetched into a scratch directory by scripts/nvidia-userspace.sh (nothing installed), run on the emulated GPU
//! rig under `trapline record`. With no driver behind the nodes they stop at their first requests; every NVIDIA
//! request they make on the way is named. Skipped, with the reason, where the packages cannot be fetched.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::container::{RIG, describe, rig_or_skip};
use common::*;
use serde_json::Value;

/// The unpacked packages' root, or why there is none.
fn userspace() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nvidia-userspace");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/nvidia-userspace.sh");
    let out = run(Command::new(script).arg(&dir).stdout(Stdio::piped()).stderr(Stdio::piped()));
    match out.code() {
        0 => Ok(PathBuf::from(out.stdout_str().trim())),
        _ => Err(out.stderr_str().trim().to_string()),
    }
}

fn userspace_or_skip(test: &str) -> Option<PathBuf> {
    if !rig_or_skip(test) {
        return None;
    }
    match userspace() {
        Ok(root) => Some(root),
        Err(why) => {
            eprintln!("{test}: skipped: {why}");
            None
        }
    }
}

/// `trapline record` of `program` on the rig, with the unpacked libraries on the library path: how it ended,
/// and the trace.
fn record_on_rig(root: &Path, program: &[&std::ffi::OsStr]) -> (Finished, Value) {
    let dir = TempDir::new("nvidia-userspace");
    let out = run(Command::new(RIG)
        .arg(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(dir.join("trace.json"))
        .arg("--")
        .args(program)
        .env("LD_LIBRARY_PATH", root.join("usr/lib/x86_64-linux-gnu/nvidia/current"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let trace = read_trace(&dir.join("trace.json"), &out);
    (out, trace)
}

/// The NVIDIA ioctls of a trace: (request name, RM command or class name, device), each asserted named.
fn nvidia_requests(trace: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for class in classes(trace).iter().filter(|c| c["syscall"] == "ioctl") {
        let family = class["fd"]["family"].as_str().unwrap_or_default();
        if !family.starts_with("nvidia") {
            continue;
        }
        let name = class["args"][0]["decoded"].as_str().unwrap_or_default().to_string();
        assert!(!name.is_empty() && !name.starts_with("_IO"), "an unnamed NVIDIA request: {class}");
        let detail = class["args"][1]["decoded"].as_str().unwrap_or_default().to_string();
        assert!(!detail.starts_with("class 0x"), "an unnamed RM command: {class}");
        let device = class["fd"]["path"].as_str().unwrap_or(family).to_string();
        found.push((name, detail, device));
    }
    found.sort();
    found
}

#[test]
fn real_libcuda_cuinit_on_the_rig_is_named() {
    let Some(root) = userspace_or_skip("nvidia_userspace_cuinit") else { return };
    let exe = fixture("cuinit_dlopen");
    let libcuda = root.join("usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so.1");
    let (_, trace) = record_on_rig(&root, &[exe.as_os_str(), libcuda.as_os_str()]);
    let requests = nvidia_requests(&trace);
    let named: Vec<&str> = requests.iter().map(|(name, _, _)| name.as_str()).collect();
    // The rig's /proc/driver/nvidia and /dev/char links take it as far as opening /dev/nvidiactl and asking for
    // the driver's version, its parameters and the cards; then, its requests refused, it gives up (cuInit 100).
    for expected in ["NV_ESC_CHECK_VERSION_STR", "NV_ESC_SYS_PARAMS", "NV_ESC_CARD_INFO"] {
        assert!(named.contains(&expected), "{expected} not among {requests:?}");
    }
    assert!(requests.iter().any(|(_, _, device)| device == "/dev/nvidiactl"), "{requests:?}");
    // Its last RM control goes to an fd it never opened: inferred from the request, and its command read.
    assert!(
        requests.iter().any(|(name, detail, _)| name == "NV_ESC_RM_CONTROL" && detail.starts_with("NV0000_CTRL_")),
        "{requests:?}"
    );
}

#[test]
fn real_nvidia_smi_on_the_rig_is_named() {
    let Some(root) = userspace_or_skip("nvidia_userspace_smi") else { return };
    let smi = root.join("usr/lib/nvidia/current/nvidia-smi");
    let (out, trace) = record_on_rig(&root, &[smi.as_os_str()]);
    // No driver answers: NVML reports a version mismatch, and nvidia-smi exits with its own status.
    assert!(out.stdout_str().contains("NVML"), "{}", describe(&out));
    let requests = nvidia_requests(&trace);
    assert!(
        requests.iter().any(|(name, _, device)| name == "NV_ESC_CHECK_VERSION_STR" && device == "/dev/nvidiactl"),
        "{requests:?}"
    );
}
