//! GPU workloads without a GPU: `tests/fixtures/cuda_init.c` makes a CUDA initialisation's device calls
//! (NVIDIA frontend and UVM, AMD KFD) from several threads on the emulated GPU rig (`scripts/gpu-rig.sh`:
//! /dev/zero bind-mounted at the GPU node paths, so every ioctl answers ENOTTY and mmap works). The tests check
//! that `trapline record` names every request by its device, records the RM control commands and alloc
//! classes, and that `trapline profile` turns the trace into ioctl rules that `trapline run` and runc enforce:
//! every call still reaches the "device" (ENOTTY, errno 25), and a request whose rule is removed fails with EPERM
//! (errno 1).
//!
//! The rig needs root (it mounts in a private mount namespace) and util-linux `unshare`; the container tests
//! also need runc and a static libc for `cc -static`. Without them the tests print why and pass, unless
//! `TRAPLINE_REQUIRE_RUNC=1` is set, which turns a missing prerequisite into a failure.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use common::container::{Bundle, RIG, describe, rig_or_skip, runc_or_skip, static_fixture};
use common::*;

/// The emulated rig, relative to the repository.
/// The nodes the rig (and the container bundle) emulate, sorted as `run.gpu.devices` lists them.
const GPU_NODES: [&str; 4] = ["/dev/kfd", "/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl"];

/// An OCI `MASKED_EQ` mask that compares the low 32 bits: the whole request, whatever is in the high half.
const MASK_32: u64 = 0xffff_ffff;
/// The mask that also ignores an NVIDIA frontend request's size bits (29-16).
const SIZE_MASK: u64 = 0xC000_FFFF;
/// NVIDIA frontend escapes whose argument is an array sized by GPU or entry count (reference, "How NVIDIA
/// request codes are formed"): CARD_INFO, ATTACH_GPUS_TO_FD, EXPORT_TO_DMABUF_FD, RM_MAP/UNMAP_MEMORY_DMA.
const SIZE_VARIES: [u64; 5] = [0xc8, 0xd4, 0xd9, 0x57, 0x58];

const RM_CONTROL: u64 = 0xC020_462A;
const RM_ALLOC_NVOS21: u64 = 0xC020_462B;
const RM_ALLOC_NVOS64: u64 = 0xC030_462B;
const CARD_INFO_32: u64 = 0xC900_46C8;

/// How many ioctls the fixture makes (one output line each), and how many device mmaps.
const FIXTURE_IOCTLS: usize = 16;
const FIXTURE_MMAPS: usize = 3;

/// Every request the fixture makes on an emulated node: (request, name, fd path, device family).
const REQUESTS: &[(u64, &str, &str, &str)] = &[
    (0xC048_46D2, "NV_ESC_CHECK_VERSION_STR", "/dev/nvidiactl", "nvidia-frontend"),
    (0xC008_46D6, "NV_ESC_SYS_PARAMS", "/dev/nvidiactl", "nvidia-frontend"),
    (CARD_INFO_32, "NV_ESC_CARD_INFO", "/dev/nvidiactl", "nvidia-frontend"),
    (RM_ALLOC_NVOS21, "NV_ESC_RM_ALLOC (NVOS21)", "/dev/nvidiactl", "nvidia-frontend"),
    (RM_ALLOC_NVOS64, "NV_ESC_RM_ALLOC (NVOS64)", "/dev/nvidiactl", "nvidia-frontend"),
    (RM_CONTROL, "NV_ESC_RM_CONTROL", "/dev/nvidiactl", "nvidia-frontend"),
    (0xC004_46C9, "NV_ESC_REGISTER_FD", "/dev/nvidia0", "nvidia-frontend"),
    (0x3000_0001, "UVM_INITIALIZE", "/dev/nvidia-uvm", "nvidia-uvm"),
    (75, "UVM_MM_INITIALIZE", "/dev/nvidia-uvm", "nvidia-uvm"),
    (0x8008_4B01, "AMDKFD_IOC_GET_VERSION", "/dev/kfd", "amd-kfd"),
];

/// The RM control commands (`NVOS54.cmd`) the fixture issues.
const CONTROL_COMMANDS: &[(u64, &str)] = &[
    (0x801307, "NV0080_CTRL_CMD_FB_GET_CAPS_V2"),
    (0x20800102, "NV2080_CTRL_CMD_GPU_GET_INFO_V2"),
    (0x2080122b, "NV2080_CTRL_CMD_GR_GET_TPC_MASK"),
];

/// The RM allocations (request form, `hClass`) the fixture makes.
const ALLOC_CLASSES: &[(u64, u64, &str)] = &[
    (RM_ALLOC_NVOS21, 0x41, "NV01_ROOT_CLIENT"),
    (RM_ALLOC_NVOS21, 0xcbc0, "HOPPER_COMPUTE_A"),
    (RM_ALLOC_NVOS64, 0x80, "NV01_DEVICE_0"),
    (RM_ALLOC_NVOS64, 0x2080, "NV20_SUBDEVICE_0"),
    (RM_ALLOC_NVOS64, 0xcbc0, "HOPPER_COMPUTE_A"),
];

/// `scripts/gpu-rig.sh trapline record -q -o <tmp>/trace.json -- program`: must succeed, with a complete trace.
fn record_on_rig(program: &Path) -> Recorded {
    let dir = TempDir::new("gpu-rec");
    let out = run(Command::new(RIG)
        .arg(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(dir.join("trace.json"))
        .arg("--")
        .arg(program)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let trace = read_trace(&dir.join("trace.json"), &out);
    assert_eq!(out.code(), 0, "cuda_init under trapline on the rig: {}", describe(&out));
    check_trace(&trace);
    Recorded { out, trace, dir }
}

/// `trapline profile <trace> OPTS -o <tmp>/NAME.json`, which must succeed; returns the parsed profile.
fn profile_of(rec: &Recorded, name: &str, opts: &[&str]) -> Value {
    let path = rec.dir.join(format!("{name}.json"));
    let out = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(rec.dir.join("trace.json"))
        .args(opts)
        .arg("-o")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "trapline profile {opts:?}: {}", out.stderr_str());
    serde_json::from_slice(&fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("profile is not JSON: {e}"))
}

/// One line of the fixture's output.
#[derive(Debug)]
struct Line {
    label: String,
    /// The register the fixture passed as the request; `None` for an mmap line.
    request: Option<u64>,
    errno: i32,
}

/// Parses `LABEL request=0xR errno=E` and `mmap:LABEL errno=E` lines.
fn fixture_lines(out: &Finished) -> Vec<Line> {
    out.stdout_str()
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let bad = || panic!("unexpected fixture output line {l:?}: {}", describe(out));
            let errno = words.last().and_then(|w| w.strip_prefix("errno=")).and_then(|e| e.parse().ok());
            let (Some(errno), Some(label)) = (errno, words.first()) else { bad() };
            let request = match words.len() {
                2 if label.starts_with("mmap:") => None,
                3 => match words[1].strip_prefix("request=0x").map(|h| u64::from_str_radix(h, 16)) {
                    Some(Ok(r)) => Some(r),
                    _ => bad(),
                },
                _ => bad(),
            };
            Line { label: label.to_string(), request, errno }
        })
        .collect()
}

/// The fixture ran to its end with every ioctl answered by `expected(request)` and every mmap mapped.
fn check_fixture_output(out: &Finished, what: &str, expected: impl Fn(u64) -> i32) {
    assert_eq!(out.code(), 0, "{what}: {}", describe(out));
    let lines = fixture_lines(out);
    let ioctls: Vec<&Line> = lines.iter().filter(|l| l.request.is_some()).collect();
    let mmaps: Vec<&Line> = lines.iter().filter(|l| l.request.is_none()).collect();
    assert_eq!(ioctls.len(), FIXTURE_IOCTLS, "{what}: ioctl lines: {}", describe(out));
    assert_eq!(mmaps.len(), FIXTURE_MMAPS, "{what}: mmap lines: {}", describe(out));
    for l in ioctls {
        let request = l.request.unwrap();
        assert_eq!(l.errno, expected(request & MASK_32), "{what}: {} ({request:#x}): {}", l.label, describe(out));
    }
    for l in mmaps {
        assert_eq!(l.errno, 0, "{what}: {} failed: {}", l.label, describe(out));
    }
}

/// ENOTTY: the emulated device answered every ioctl.
fn all_enotty(_request: u64) -> i32 {
    libc::ENOTTY
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.strip_prefix("0x").unwrap_or_else(|| panic!("not 0x hex: {s}")), 16).unwrap()
}

/// The class's request (argument 1), as a profile compares it.
fn request_of(class: &Value) -> u64 {
    let a = arg(class, Some(1)).unwrap_or_else(|| panic!("ioctl class without a request: {class}"));
    hex(&a["value"])
}

/// The `MASKED_EQ` (mask, value) a trace's ioctl class should be allowed with: the low 32 bits, except the
/// size bits of NVIDIA frontend requests that vary with GPU count, or of every frontend request when `portable`.
fn expected_rule(class: &Value, portable: bool) -> (u64, u64) {
    let request = request_of(class);
    let frontend = class["fd"]["family"] == "nvidia-frontend";
    let nr = request & 0xff;
    if frontend && (portable || SIZE_VARIES.contains(&nr)) {
        (SIZE_MASK, request & SIZE_MASK)
    } else {
        (MASK_32, request)
    }
}

/// The ioctl rules of a profile as (mask, value), checking each entry's shape: ALLOW for `ioctl` alone, one
/// `SCMP_CMP_MASKED_EQ` on argument 1, no rule twice.
fn ioctl_rules(profile: &Value) -> BTreeSet<(u64, u64)> {
    let entries = profile["syscalls"].as_array().unwrap_or_else(|| panic!("profile without syscalls: {profile}"));
    let mut rules = BTreeSet::new();
    for e in entries.iter().filter(|e| e["names"].as_array().is_some_and(|n| n.iter().any(|n| n == "ioctl"))) {
        assert_eq!(e["names"], serde_json::json!(["ioctl"]), "ioctl shares an entry: {e}");
        assert_eq!(e["action"], "SCMP_ACT_ALLOW", "{e}");
        let args = e["args"].as_array().unwrap_or_else(|| panic!("ioctl allowed without a condition: {e}"));
        assert_eq!(args.len(), 1, "{e}");
        let a = &args[0];
        assert_eq!((a["index"].as_u64(), a["op"].as_str()), (Some(1), Some("SCMP_CMP_MASKED_EQ")), "{e}");
        let rule = (a["value"].as_u64().expect("mask"), a["valueTwo"].as_u64().expect("valueTwo"));
        assert!(rules.insert(rule), "ioctl rule {rule:x?} appears twice: {profile}");
    }
    rules
}

/// The rules the profile must hold for the trace: one per distinct request (or masked request).
fn expected_rules(trace: &Value, portable: bool) -> BTreeSet<(u64, u64)> {
    classes_named(trace, "ioctl").into_iter().map(|c| expected_rule(c, portable)).collect()
}

fn assert_rules(profile: &Value, trace: &Value, portable: bool) {
    let got = ioctl_rules(profile);
    let want = expected_rules(trace, portable);
    let fmt = |s: &BTreeSet<(u64, u64)>| s.iter().map(|(m, v)| format!("{m:#x}/{v:#x}")).collect::<Vec<_>>();
    assert_eq!(
        got,
        want,
        "ioctl rules (mask/value), portable={portable}: profile has extra {:?}, lacks {:?}",
        fmt(&got.difference(&want).copied().collect()),
        fmt(&want.difference(&got).copied().collect())
    );
}

/// The profile without the ioctl rule(s) whose valueTwo is `value_two`; panics unless exactly one is removed.
fn without_rule(profile: &Value, value_two: u64) -> Value {
    let mut p = profile.clone();
    let entries = p["syscalls"].as_array_mut().expect("profile.syscalls");
    let before = entries.len();
    entries.retain(|e| !(e["names"] == serde_json::json!(["ioctl"]) && e["args"][0]["valueTwo"] == value_two));
    assert_eq!(before - entries.len(), 1, "expected exactly one ioctl rule for {value_two:#x}: {profile}");
    p
}

/// The GPU ioctls (classes on the emulated nodes) by request.
fn gpu_ioctls(trace: &Value) -> BTreeMap<u64, Vec<&Value>> {
    let mut by = BTreeMap::<u64, Vec<&Value>>::new();
    for c in classes_named(trace, "ioctl") {
        if c["fd"]["path"].as_str().is_some_and(|p| GPU_NODES.contains(&p)) {
            by.entry(request_of(c)).or_default().push(c);
        }
    }
    by
}

/// Records the (dynamic) fixture on the rig and checks what the trace says about each device call.
#[test]
fn rig_trace_names_every_request_by_device() {
    if !rig_or_skip("rig_trace_names_every_request_by_device") {
        return;
    }
    let rec = record_on_rig(&fixture("cuda_init"));
    check_fixture_output(&rec.out, "cuda_init on the rig", all_enotty);
    let trace = &rec.trace;

    // The machine facts: the emulated nodes, and only those (the rig's /dev is private).
    let run = &trace["runs"][0];
    let devices: Vec<&str> = run["gpu"]["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("no runs[0].gpu.devices: {run}"))
        .iter()
        .map(|d| d.as_str().expect("device path"))
        .collect();
    assert_eq!(devices, GPU_NODES, "runs[0].gpu.devices");
    assert!(run["totals"]["threads"].as_u64().is_some_and(|t| t >= 5), "main + 4 workers: {run}");

    // Every request, by name and device, and nothing else on the GPU nodes.
    let by_request = gpu_ioctls(trace);
    let known: BTreeSet<u64> = REQUESTS.iter().map(|r| r.0).collect();
    let seen: BTreeSet<u64> = by_request.keys().copied().collect();
    assert_eq!(seen, known, "requests on the emulated nodes");
    for &(request, name, path, family) in REQUESTS {
        for c in &by_request[&request] {
            let a = arg(c, Some(1)).unwrap();
            assert_eq!(a["name"], "request", "{c}");
            assert_eq!(a["decoded"], name, "request {request:#x} is not named by its device: {c}");
            assert_eq!(c["fd"]["kind"], "device", "{c}");
            assert_eq!(c["fd"]["path"], path, "{c}");
            assert_eq!(c["fd"]["dev"], "1:5", "the rig's nodes are /dev/zero: {c}");
            assert_eq!(c["fd"]["family"], family, "{c}");
            assert_eq!(c["results"]["ok"], 0, "{c}");
            assert_eq!(errors(c), BTreeMap::from([("ENOTTY".to_string(), count_of(c))]), "{c}");
            let detail = request == RM_CONTROL || request == RM_ALLOC_NVOS21 || request == RM_ALLOC_NVOS64;
            assert_eq!(c["args"].as_array().unwrap().len(), if detail { 2 } else { 1 }, "{c}");
        }
    }

    // RM control commands: the second argument, read from NVOS54.cmd (not a register: index null).
    let mut commands = BTreeSet::new();
    for c in &by_request[&RM_CONTROL] {
        let cmd = &c["args"][1];
        assert_eq!(cmd["name"], "cmd", "{c}");
        assert!(cmd["index"].is_null(), "cmd comes from memory, not a register: {c}");
        commands.insert((hex(&cmd["value"]), cmd["decoded"].as_str().expect("decoded").to_string()));
    }
    let want: BTreeSet<(u64, String)> = CONTROL_COMMANDS.iter().map(|(v, n)| (*v, n.to_string())).collect();
    assert_eq!(commands, want, "RM control commands");

    // RM alloc classes, for both struct forms: the second argument, read from NVOS21/64.hClass.
    let mut allocs = BTreeSet::new();
    for request in [RM_ALLOC_NVOS21, RM_ALLOC_NVOS64] {
        for c in &by_request[&request] {
            let class = &c["args"][1];
            assert_eq!(class["name"], "hClass", "{c}");
            assert!(class["index"].is_null(), "hClass comes from memory, not a register: {c}");
            allocs.insert((request, hex(&class["value"]), class["decoded"].as_str().expect("decoded").to_string()));
        }
    }
    let want: BTreeSet<(u64, u64, String)> = ALLOC_CLASSES.iter().map(|(r, v, n)| (*r, *v, n.to_string())).collect();
    assert_eq!(allocs, want, "RM alloc classes");

    // The sign-extended RM_CONTROL joined the plain call with the same command, keeping the register in `raw`.
    let tpc: Vec<&&Value> = by_request[&RM_CONTROL]
        .iter()
        .filter(|c| c["args"][1]["decoded"] == "NV2080_CTRL_CMD_GR_GET_TPC_MASK")
        .collect();
    assert_eq!(tpc.len(), 1, "the sign-extended call must land in the plain call's class: {tpc:?}");
    assert_eq!(count_of(tpc[0]), 2, "{}", tpc[0]);
    assert_eq!(tpc[0]["args"][0]["value"], "0xc020462a", "{}", tpc[0]);
    assert_eq!(tpc[0]["args"][0]["raw"], "0xffffffffc020462a", "{}", tpc[0]);
    for c in by_request[&RM_CONTROL].iter().filter(|c| c["args"][1]["decoded"] != "NV2080_CTRL_CMD_GR_GET_TPC_MASK") {
        assert!(c["args"][0].get("raw").is_none(), "only the sign-extended call has a raw register: {c}");
    }

    // The device mmaps: their own classes, with the protection and the device they map.
    let device_mmaps: Vec<&Value> =
        classes_named(trace, "mmap").into_iter().filter(|c| c["fd"]["kind"] == "device").collect();
    for (path, family, flags, flags_name) in [
        ("/dev/nvidiactl", "nvidia-frontend", 0x1, "MAP_SHARED"),
        ("/dev/nvidia0", "nvidia-frontend", 0x1, "MAP_SHARED"),
        ("/dev/nvidia-uvm", "nvidia-uvm", 0x11, "MAP_SHARED|MAP_FIXED"),
    ] {
        let found: Vec<&&Value> = device_mmaps.iter().filter(|c| c["fd"]["path"] == path).collect();
        assert_eq!(found.len(), 1, "one mmap class for {path}: {device_mmaps:?}");
        let c = found[0];
        assert_eq!(c["fd"]["family"], family, "{c}");
        let prot = arg(c, Some(2)).unwrap_or_else(|| panic!("mmap without prot: {c}"));
        assert_eq!((hex(&prot["value"]), prot["decoded"].as_str()), (0x3, Some("PROT_READ|PROT_WRITE")), "{c}");
        let f = arg(c, Some(3)).unwrap_or_else(|| panic!("mmap without flags: {c}"));
        assert_eq!((hex(&f["value"]), f["decoded"].as_str()), (flags, Some(flags_name)), "{c}");
    }
    // UVM reserves its range first with an anonymous PROT_NONE mapping (no fd).
    assert!(
        classes_named(trace, "mmap").iter().any(|c| c.get("fd").is_none()
            && hex(&arg(c, Some(2)).unwrap()["value"]) == 0
            && hex(&arg(c, Some(3)).unwrap()["value"]) & 0x20 != 0),
        "no anonymous PROT_NONE reservation in the trace"
    );
}

/// `--runtime none`: one MASKED_EQ rule per request seen, low 32 bits, except CARD_INFO's size bits.
#[test]
fn rig_profile_has_one_rule_per_request() {
    if !rig_or_skip("rig_profile_has_one_rule_per_request") {
        return;
    }
    let rec = record_on_rig(&fixture("cuda_init"));
    let profile = profile_of(&rec, "profile", &["--runtime", "none"]);
    assert_rules(&profile, &rec.trace, false);

    let rules = ioctl_rules(&profile);
    // Spelled out for the requests a reader will look for first.
    assert!(rules.contains(&(4294967295, RM_CONTROL)), "RM_CONTROL compares all 32 bits: {rules:x?}");
    assert!(rules.contains(&(4294967295, RM_ALLOC_NVOS21)) && rules.contains(&(4294967295, RM_ALLOC_NVOS64)));
    assert!(rules.contains(&(4294967295, 0x3000_0001)) && rules.contains(&(4294967295, 0x8008_4B01)));
    // CARD_INFO's size is 72 B times the caller's entry count: the rule must not depend on it.
    assert!(rules.contains(&(3221291007, CARD_INFO_32 & SIZE_MASK)), "CARD_INFO without its size bits: {rules:x?}");
    assert!(!rules.contains(&(MASK_32, CARD_INFO_32)), "CARD_INFO must not be compared with its size: {rules:x?}");
}

/// `--gpu-portable`: every NVIDIA frontend rule ignores the size bits (the two RM_ALLOC forms become one rule);
/// UVM, KFD and other devices keep exact rules.
#[test]
fn rig_gpu_portable_profile_ignores_frontend_sizes() {
    if !rig_or_skip("rig_gpu_portable_profile_ignores_frontend_sizes") {
        return;
    }
    let rec = record_on_rig(&fixture("cuda_init"));
    let profile = profile_of(&rec, "portable", &["--runtime", "none", "--gpu-portable"]);
    assert_rules(&profile, &rec.trace, true);

    let rules = ioctl_rules(&profile);
    assert!(rules.contains(&(SIZE_MASK, 0xC000_462B)), "one RM_ALLOC rule for both forms: {rules:x?}");
    assert!(!rules.contains(&(MASK_32, RM_ALLOC_NVOS21)) && !rules.contains(&(MASK_32, RM_ALLOC_NVOS64)));
    assert!(rules.contains(&(SIZE_MASK, RM_CONTROL & SIZE_MASK)), "{rules:x?}");
    assert!(rules.contains(&(MASK_32, 0x3000_0001)), "UVM is not a frontend device: {rules:x?}");
    assert!(rules.contains(&(MASK_32, 0x8008_4B01)), "KFD is not an NVIDIA device: {rules:x?}");
}

/// `trapline run` enforces a `--runtime none` profile directly (no container): every GPU call still reaches the
/// device; without the RM_CONTROL rule exactly the RM_CONTROL calls fail with EPERM, and `--audit` names them
/// (with their device) instead of denying them.
#[test]
fn rig_trapline_run_enforces_the_profile() {
    if !rig_or_skip("rig_trapline_run_enforces_the_profile") {
        return;
    }
    let program = fixture("cuda_init");
    let rec = record_on_rig(&program);
    let profile = profile_of(&rec, "direct", &["--runtime", "none"]);
    let run_under = |profile: &Value, name: &str, opts: &[&str]| {
        let path = rec.dir.join(format!("{name}.json"));
        fs::write(&path, serde_json::to_vec_pretty(profile).unwrap()).unwrap();
        run(Command::new(RIG)
            .arg(TRAPLINE)
            .arg("run")
            .args(opts)
            .arg("--profile")
            .arg(&path)
            .arg("--")
            .arg(&program)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()))
    };

    let out = run_under(&profile, "direct-run", &[]);
    check_fixture_output(&out, "trapline run under the profile", all_enotty);

    let crippled = without_rule(&profile, RM_CONTROL);
    let out = run_under(&crippled, "direct-crippled", &[]);
    check_fixture_output(&out, "trapline run without the RM_CONTROL rule", |request| {
        if request == RM_CONTROL { libc::EPERM } else { libc::ENOTTY }
    });

    let out = run_under(&crippled, "direct-audit", &["--audit"]);
    check_fixture_output(&out, "trapline run --audit without the RM_CONTROL rule", all_enotty);
    let report = out.stderr_str();
    let denied: Vec<&str> = report.lines().filter(|l| l.contains("ioctl")).collect();
    assert!(
        !denied.is_empty() && denied.iter().all(|l| l.contains("0xc020462a") && l.contains("/dev/nvidiactl")),
        "the audit should name only the RM_CONTROL calls on /dev/nvidiactl: {}",
        describe(&out)
    );
}

/// The static fixture recorded on the rig, its profile for runc, and a bundle that runs it with /dev/zero at
/// the GPU node paths.
struct InRunc {
    rec: Recorded,
    bundle: Bundle,
}

fn in_runc(runc: &Path) -> InRunc {
    let program: PathBuf = static_fixture("cuda_init");
    // A static binary makes the same syscalls on the host as in the container: record it on the rig.
    let rec = record_on_rig(&program);
    check_fixture_output(&rec.out, "static cuda_init on the rig", all_enotty);
    let mut bundle = Bundle::new(runc, &["/cuda_init"]);
    bundle.add_file(&program, "/cuda_init");
    for node in GPU_NODES {
        bundle.bind("/dev/zero", node);
    }
    InRunc { rec, bundle }
}

/// Under the generated runc profile every GPU call still reaches the device; without the RM_CONTROL rule,
/// exactly the RM_CONTROL calls (plain and sign-extended) fail with EPERM and the rest still get ENOTTY.
#[test]
fn runc_profile_admits_gpu_calls_and_a_dropped_request_fails_with_eperm() {
    let test = "runc_profile_admits_gpu_calls_and_a_dropped_request_fails_with_eperm";
    let Some(runc) = runc_or_skip(test) else {
        return;
    };
    if !rig_or_skip(test) {
        return;
    }
    let r = in_runc(&runc);
    let profile = profile_of(&r.rec, "runc", &["--runtime", "runc"]);
    assert_rules(&profile, &r.rec.trace, false);

    let plain = r.bundle.run(None);
    check_fixture_output(&plain, "unconfined container", all_enotty);

    let profiled = r.bundle.run(Some(&profile));
    check_fixture_output(&profiled, "container under the profile", all_enotty);
    assert_eq!(profiled.stdout_str(), plain.stdout_str(), "output under the profile differs");

    let crippled = without_rule(&profile, RM_CONTROL);
    let out = r.bundle.run(Some(&crippled));
    check_fixture_output(&out, "container without the RM_CONTROL rule", |request| {
        if request == RM_CONTROL { libc::EPERM } else { libc::ENOTTY }
    });
}

/// A `--gpu-portable` profile still admits every call in runc, and its single RM_ALLOC rule covers both
/// struct forms: dropping it denies NVOS21 and NVOS64 alike.
#[test]
fn runc_gpu_portable_profile_admits_gpu_calls() {
    let test = "runc_gpu_portable_profile_admits_gpu_calls";
    let Some(runc) = runc_or_skip(test) else {
        return;
    };
    if !rig_or_skip(test) {
        return;
    }
    let r = in_runc(&runc);
    let profile = profile_of(&r.rec, "runc-portable", &["--runtime", "runc", "--gpu-portable"]);
    assert_rules(&profile, &r.rec.trace, true);

    let profiled = r.bundle.run(Some(&profile));
    check_fixture_output(&profiled, "container under the portable profile", all_enotty);

    let crippled = without_rule(&profile, 0xC000_462B);
    let out = r.bundle.run(Some(&crippled));
    check_fixture_output(&out, "container without the portable RM_ALLOC rule", |request| {
        if request & SIZE_MASK == 0xC000_462B { libc::EPERM } else { libc::ENOTTY }
    });
}

/// A program that makes NVIDIA requests on fds it never opened, as real libcuda's first `NV_ESC_RM_CONTROL` is
/// (it fails with EBADF): one whose size matches the escape's struct, one whose size does not.
const UNOPENED_FD: &str = r#"
#include <stdint.h>
#include <sys/ioctl.h>
struct nvos54 { uint32_t hClient, hObject, cmd, flags; uint64_t params; uint32_t paramsSize, status; };
int main(void) {
    struct nvos54 p = { .cmd = 0x20800110 };
    ioctl(987, 0xC020462AUL, &p);
    ioctl(988, 0xC024462AUL, &p);
    return 0;
}
"#;

/// The device of an fd that is not open is inferred from the request when only NVIDIA's frontend defines it:
/// named, its RM control command read, marked inferred, masked by `--gpu-portable`; a lookalike request stays
/// unnamed and the profile says why.
#[test]
fn requests_on_unopened_fds_name_an_inferred_device() {
    let exe = program("nvidia_unopened_fd", UNOPENED_FD);
    let rec = record(&[exe.to_str().unwrap()]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    let ioctls: BTreeMap<u64, &Value> =
        classes_named(&rec.trace, "ioctl").into_iter().map(|c| (request_of(c), c)).collect();
    let control = ioctls[&RM_CONTROL];
    assert_eq!(control["fd"], serde_json::json!({"kind": "inferred", "family": "nvidia-frontend"}), "{control}");
    assert_eq!(control["args"][0]["decoded"], "NV_ESC_RM_CONTROL");
    assert_eq!(control["args"][1]["name"], "cmd");
    assert_eq!(control["args"][1]["decoded"], "NV2080_CTRL_CMD_GPU_GET_NAME_STRING");
    assert_eq!(errors(control).get("EBADF"), Some(&1), "{control}");
    let lookalike = ioctls[&0xC024_462A];
    assert_eq!(lookalike["fd"], serde_json::json!({"kind": "unknown"}), "{lookalike}");
    assert_eq!(lookalike["args"].as_array().unwrap().len(), 1, "no RM command on an unsettled device");

    let path = rec.dir.join("portable.json");
    let out = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(rec.dir.join("trace.json"))
        .args(["--runtime", "none", "--gpu-portable", "-o"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let profile: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let rules = ioctl_rules(&profile);
    assert!(rules.contains(&(0xC000_FFFF, 0xC000_462A)), "RM_CONTROL masked as on /dev/nvidiactl: {rules:?}");
    assert!(rules.contains(&(0xFFFF_FFFF, 0xC024_462A)), "the lookalike allowed exactly: {rules:?}");
    let stderr = out.stderr_str();
    assert!(
        stderr.lines().any(|l| l.contains("0xc024462a") && l.contains("unknown device") && l.contains("framebuffer")),
        "the lookalike is named in a warning: {stderr}"
    );
}
