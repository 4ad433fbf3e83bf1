//! `trapline decode`: values named the way a reviewer reads a profile or a bug report, one line per value,
//! `unknown` (and exit status 1) where no table knows one.

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn decode(args: &[&str]) -> Finished {
    run(Command::new(TRAPLINE).arg("decode").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

#[test]
fn ioctl_requests_are_named_on_their_device_or_by_what_settles_it() {
    let out = decode(&["ioctl", "0xc020462a", "21505", "0xc0084b01"]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "0xc020462a NV_ESC_RM_CONTROL (on NVIDIA frontend (/dev/nvidiactl, /dev/nvidiaN))\n\
         0x5401 TCGETS\n\
         0xc0084b01 AMDKFD_IOC_GET_VERSION (on AMD KFD (/dev/kfd))\n"
    );
    // A bare 1 is FIBMAP or UVM_RESERVE_VA: unknown on any fd, named on the UVM device (by path or family).
    let out = decode(&["ioctl", "1"]);
    assert_eq!((out.code(), out.stdout_str()), (1, "0x1 unknown\n".to_string()));
    for device in ["/dev/nvidia-uvm", "nvidia-uvm"] {
        let out = decode(&["ioctl", "1", "--device", device]);
        assert_eq!((out.code(), out.stdout_str()), (0, "0x1 UVM_RESERVE_VA\n".to_string()), "{device}");
    }
}

#[test]
fn rm_commands_and_classes_name_their_branches_and_say_unknown() {
    let out = decode(&["rm-control", "0x20800110", "0x2080_01e9", "0x12345678"]);
    assert_eq!(out.code(), 1, "one value is unknown: {}", out.stderr_str());
    let lines: Vec<String> = out.stdout_str().lines().map(String::from).collect();
    assert_eq!(lines[0], "0x20800110 NV2080_CTRL_CMD_GPU_GET_NAME_STRING");
    assert!(
        lines[1].starts_with("0x208001e9 ") && lines[1].contains("(570)"),
        "renumbered between branches: {lines:?}"
    );
    assert_eq!(lines[2], "0x12345678 unknown");
    let out = decode(&["rm-class", "0xc7c0", "0xabcd", "--format", "json"]);
    assert_eq!(out.code(), 1);
    let rows: Value = serde_json::from_str(&out.stdout_str()).unwrap();
    assert_eq!(rows, json!([{"value": "0xc7c0", "name": "AMPERE_COMPUTE_B"}, {"value": "0xabcd", "name": null}]));
}

#[test]
fn syscalls_both_ways_per_architecture() {
    let out = decode(&["syscall", "openat", "59", "--arch", "x86_64"]);
    assert_eq!((out.code(), out.stdout_str()), (0, "openat 257\n59 execve\n".to_string()), "{}", out.stderr_str());
    let out = decode(&["syscall", "openat", "--arch", "aarch64"]);
    assert_eq!(out.stdout_str(), "openat 56\n");
    let out = decode(&["syscall", "no_such_call"]);
    assert_eq!((out.code(), out.stdout_str()), (1, "no_such_call unknown\n".to_string()));
}

#[test]
fn bad_values_fail_with_one_line() {
    for args in [&["ioctl", "zz"][..], &["ioctl", "1", "--device", "/dev/null"], &["syscall", "1", "--arch", "vax"]] {
        let out = decode(args);
        assert_eq!(out.code(), 2, "{args:?}");
        let stderr = out.stderr_str();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("trapline: "), "{stderr}");
        assert!(out.stdout_str().is_empty(), "no partial output: {args:?}");
    }
}

/// What gVisor's nvproxy handles for real CUDA workloads, over every driver ABI it supports
/// (tests/fixtures/nvproxy/lists.json, values taken by scripts/nvproxy-lists.py from gVisor at the commit it
/// names): every frontend escape, UVM request, RM control command and alloc class in it is named.
#[test]
fn every_value_nvproxy_handles_is_named() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nvproxy/lists.json");
    let lists: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let values = |key: &str| -> Vec<(String, String)> {
        let rows = lists[key].as_array().unwrap_or_else(|| panic!("{key} missing in {path}"));
        rows.iter().map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().to_string())).collect()
    };
    let mut report = Vec::new();
    let mut missing = Vec::new();
    let escape_request = |nr: &str| format!("{:#x}", 0xc000_4600 | u32::from_str_radix(&nr[2..], 16).unwrap());
    for (key, args, to_request) in [
        (
            "frontendIoctl",
            &["ioctl", "--device", "/dev/nvidiactl"][..],
            Some(&escape_request as &dyn Fn(&str) -> String),
        ),
        ("uvmIoctl", &["ioctl", "--device", "/dev/nvidia-uvm"][..], None),
        ("controlCmd", &["rm-control"][..], None),
        ("allocationClass", &["rm-class"][..], None),
    ] {
        let rows = values(key);
        let asked: Vec<String> = rows.iter().map(|(v, _)| to_request.map_or_else(|| v.clone(), |f| f(v))).collect();
        let mut command = vec!["--format", "json"];
        command.extend_from_slice(args);
        command.extend(asked.iter().map(String::as_str));
        let out = decode(&command);
        let answers: Value =
            serde_json::from_str(&out.stdout_str()).unwrap_or_else(|e| panic!("{e}: {}", out.stderr_str()));
        let unnamed: Vec<String> = rows
            .iter()
            .zip(answers.as_array().unwrap())
            .filter(|(_, a)| a["name"].is_null())
            .map(|((v, name), _)| format!("{key} {v} ({name} in gVisor)"))
            .collect();
        report.push(format!("{key}: {} of {} named", rows.len() - unnamed.len(), rows.len()));
        missing.extend(unnamed);
    }
    eprintln!("nvproxy coverage at gVisor {}: {}", lists["gvisor_commit"], report.join(", "));
    assert!(missing.is_empty(), "not named:\n{}", missing.join("\n"));
}
