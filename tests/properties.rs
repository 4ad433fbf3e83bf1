//! Properties of trapline's pure parts over generated inputs (proptest, with a fixed seed so every run checks the
//! same cases; `TRAPLINE_PROPTEST_SEED=N` and `TRAPLINE_PROPTEST_CASES=N` explore others):
//!
//! - a generated profile is never looser than the traces: every allowed syscall and argument condition is backed by
//!   a class of the traces, the container runtime's list or an explicit coarsening (`--ioctl type|any`,
//!   `--gpu-portable`, the size-varying NVIDIA requests, the more-than-128-entries warning), and it still allows
//!   every class it was made from;
//! - merge is order-independent and associative, to the byte, and a profile of a merge is the profile of its parts;
//! - the Trace parser, the profile linter and reader and the strace importer survive arbitrary bytes and broken
//!   versions of real inputs (the in-tree part of the fuzzing described in docs/reliability.md), and a trace that
//!   parses writes back to the same trace.
//!
//! Traces are built as JSON following docs/trace-format.md, not with trapline's own types, so the format's reading
//! is checked too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};
use trapline::decode::flags::CLONE_NAMESPACES;
use trapline::decode::gpu::nvidia;
use trapline::files::json::to_json;
use trapline::profile::generate::{
    DefaultAction, FALLBACK_ENOSYS, IoctlMode, MAX_ENTRIES_PER_SYSCALL, ProfilePlan, generate,
};
use trapline::profile::runtime::Runtime;
use trapline::trace::merge::merge;
use trapline::trace::model::Trace;
use trapline::trace::read::parse_trace;

// ---------------------------------------------------------------------------------------------------------------
// Configuration

fn seed() -> u64 {
    std::env::var("TRAPLINE_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7472_6170_6c69_6e65)
}

/// `cases` cases (or `TRAPLINE_PROPTEST_CASES`) from the fixed seed; failures are not saved to files (each finding
/// becomes a named test instead).
fn config(cases: u32) -> Config {
    let cases = std::env::var("TRAPLINE_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(cases);
    Config { cases, rng_seed: RngSeed::Fixed(seed()), failure_persistence: None, ..Config::default() }
}

// ---------------------------------------------------------------------------------------------------------------
// Generating traces, as docs/trace-format.md describes them

/// Syscalls whose arguments make classes (docs/trace-format.md, "Call classes").
const DECODED: &[&str] =
    &["ioctl", "mmap", "mprotect", "pkey_mprotect", "socket", "socketpair", "clone", "clone3", "prctl", "personality"];
const PROT_SYSCALLS: &[&str] = &["mmap", "mmap2", "mprotect", "pkey_mprotect"];
const LOW_32_BITS: u64 = 0xffff_ffff;

fn nr(name: &str) -> u64 {
    name.parse::<syscalls::x86_64::Sysno>().map_or(999, |s| s.id() as u64)
}

/// Every x86_64 syscall without decoded arguments, with its number.
fn plain_syscalls() -> Vec<(String, u64)> {
    syscalls::x86_64::Sysno::iter()
        .filter(|s| !DECODED.contains(&s.name()))
        .map(|s| (s.name().to_string(), s.id() as u64))
        .collect()
}

/// (path, dev, family) of the devices ioctl and mmap classes point at.
const DEVICES: &[(&str, &str, Option<&str>)] = &[
    ("/dev/null", "1:3", None),
    ("/dev/nvidiactl", "195:255", Some("nvidia-frontend")),
    ("/dev/nvidia0", "195:0", Some("nvidia-frontend")),
    ("/dev/nvidia1", "195:1", Some("nvidia-frontend")),
    ("/dev/nvidia-uvm", "511:0", Some("nvidia-uvm")),
    ("/dev/nvidia-modeset", "195:254", Some("nvidia-modeset")),
    ("/dev/kfd", "235:0", Some("amd-kfd")),
    ("/dev/dri/card0", "226:0", Some("drm")),
    ("/dev/dri/renderD128", "226:128", Some("drm")),
    ("/dev/dri/renderD129", "226:129", Some("amdgpu")),
    ("/dev/pts/*", "136:0", None),
];

fn device_fd() -> impl Strategy<Value = Value> {
    prop::sample::select(DEVICES).prop_map(|(path, dev, family)| {
        let mut fd = json!({"kind": "device", "path": path, "dev": dev});
        if let Some(family) = family {
            fd["family"] = json!(family);
        }
        fd
    })
}

fn any_fd() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => device_fd(),
        1 => prop::sample::select(vec!["pipe", "socket", "file", "dir", "unknown"]).prop_map(|k| json!({"kind": k})),
        1 => prop::sample::select(vec!["[eventfd]", "[io_uring]"]).prop_map(|n| json!({"kind": "anon", "name": n})),
        1 => Just(json!({"kind": "gpu-library", "name": "libcuda.so.550.54.15"})),
    ]
}

/// An argument of a class; `decoded` is whatever the recorder called the value (it varies between versions).
fn arg(index: Option<u8>, name: &str, value: u64) -> Value {
    json!({"index": index, "name": name, "value": format!("{value:#x}"), "decoded": ""})
}

/// `_IOWR('F', nr, size)`: an NVIDIA frontend request.
fn nv_request(nr: u8, size: u64) -> u64 {
    0xc000_0000 | ((size & 0x3fff) << 16) | (u64::from(b'F') << 8) | u64::from(nr)
}

fn ioctl_request() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => prop::sample::select(vec![0x5401u64, 0x5413, 0x541b, 0x5421, 0x5451, 0x4b33, 0x3000_0001, 0xc0104629]),
        // NVIDIA frontend escapes, the size-varying ones among them, at sizes that differ by GPU count.
        4 => (prop::sample::select(vec![0x2au8, 0x2b, 0x27, 0x4e, 0xc8, 0xd4, 0xd9, 0x57, 0x58, 0xd6, 0xd7]), 1u64..0x400)
            .prop_map(|(nr, size)| nv_request(nr, size)),
        2 => any::<u32>().prop_map(u64::from),
    ]
}

/// The part of a class that makes it that class: (syscall, nr, args, fd).
type Core = (String, u64, Vec<Value>, Option<Value>);

fn ioctl_core() -> impl Strategy<Value = Core> {
    (ioctl_request(), any::<bool>(), any_fd(), prop::option::weighted(0.2, 0u64..0x3000)).prop_map(
        |(request, sign_extended, fd, rm_cmd)| {
            let mut request_arg = arg(Some(1), "request", request);
            if sign_extended && request & 0x8000_0000 != 0 {
                request_arg["raw"] = json!(format!("{:#x}", request | 0xffff_ffff_0000_0000));
            }
            let mut args = vec![request_arg];
            if let Some(cmd) = rm_cmd {
                args.push(arg(None, "cmd", 0x2080_0000 | cmd));
            }
            ("ioctl".to_string(), nr("ioctl"), args, Some(fd))
        },
    )
}

fn prot() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0u64..8, 1 => Just(0x0100_0003u64), 1 => any::<u32>().prop_map(u64::from)]
}

fn special_core() -> impl Strategy<Value = Core> {
    let flags = prop::sample::select(vec![0x22u64, 0x02, 0x01, 0x812, 0x4022, 0x100022]);
    prop_oneof![
        (prot(), flags, any_fd()).prop_map(|(prot, flags, fd)| {
            let fd = (flags & 0x20 == 0).then_some(fd);
            ("mmap".to_string(), nr("mmap"), vec![arg(Some(2), "prot", prot), arg(Some(3), "flags", flags)], fd)
        }),
        (prop::sample::select(vec!["mprotect", "pkey_mprotect"]), prot()).prop_map(|(name, prot)| (
            name.to_string(),
            nr(name),
            vec![arg(Some(2), "prot", prot)],
            None
        )),
        (
            prop::sample::select(vec!["socket", "socketpair"]),
            prop_oneof![prop::sample::select(vec![1u64, 2, 10, 16, 17, 38, 40, 44]), 0u64..64],
            prop::sample::select(vec![1u64, 2, 3, 0x80801, 0x80002])
        )
            .prop_map(|(name, domain, ty)| {
                (name.to_string(), nr(name), vec![arg(Some(0), "domain", domain), arg(Some(1), "type", ty)], None)
            }),
        prop::sample::select(vec![
            0x0120_0011u64,
            0x003d_0f00,
            0x0000_4111,
            0x0002_0011,
            0x1000_0011,
            0x4000_0011,
            0x2000_0011,
            0x7e02_0011
        ])
        .prop_map(|flags| ("clone".to_string(), nr("clone"), vec![arg(Some(0), "flags", flags)], None)),
        prop_oneof![Just(None), prop::sample::select(vec![0u64, 0x0020_0000, 0x2000_0000, 0x0010_0000]).prop_map(Some)]
            .prop_map(|flags| {
                let mut a = arg(None, "flags", flags.unwrap_or(0));
                if flags.is_none() {
                    a["unreadable"] = json!("EFAULT");
                }
                ("clone3".to_string(), nr("clone3"), vec![a], None)
            }),
        prop_oneof![
            prop::sample::select(vec![0u64, 8, 0xffff_ffff, 0x40_0000, 0x2_0000, 0x20_0008]),
            any::<u32>().prop_map(u64::from)
        ]
        .prop_map(|p| ("personality".to_string(), nr("personality"), vec![arg(Some(0), "persona", p)], None)),
        prop::sample::select(vec![15u64, 16, 22, 38, 0x5356_4d41, 1, 4]).prop_map(|o| (
            "prctl".to_string(),
            nr("prctl"),
            vec![arg(Some(0), "option", o)],
            None
        )),
    ]
}

fn core() -> impl Strategy<Value = Core> {
    prop_oneof![
        10 => prop::sample::select(plain_syscalls()).prop_map(|(name, nr)| (name, nr, vec![], None)),
        6 => ioctl_core(),
        6 => special_core(),
        // A decoded syscall whose arguments a source could not give (an import without them).
        1 => prop::sample::select(DECODED.to_vec()).prop_map(|name| (name.to_string(), nr(name), vec![], None)),
        // A number trapline has no name for.
        1 => (500u64..520).prop_map(|n| (format!("syscall_{n}"), n, vec![], None)),
    ]
}

/// What a class says besides its identity: counts, results, pids, executables, when it was first seen, and what
/// a recorder may describe differently (decoded names, the raw register, unreadable values of 0).
#[derive(Clone, Debug)]
struct Tally {
    count: u64,
    ok: Option<u64>,
    errors: Vec<(String, u64)>,
    pids: BTreeSet<u32>,
    extra_processes: u64,
    exes: BTreeSet<String>,
    first_seen: f64,
    decoded: String,
    drop_raw: bool,
    unreadable_zero: bool,
    /// How many calls a filter in force denied: 0 none, 1 every one, 2 half of them.
    denied: u8,
}

fn tally() -> impl Strategy<Value = Tally> {
    (
        1u64..5000,
        prop::option::of(0u64..100),
        prop::collection::vec((prop::sample::select(vec!["EINVAL", "ENOTTY", "EPERM", "E513"]), 1u64..9), 0..2),
        prop::collection::btree_set(1u32..100_000, 1..20),
        0u64..3,
        prop::collection::btree_set(prop::sample::select(vec!["/usr/bin/python3.11", "/bin/sh", "/opt/w/a.out"]), 1..3),
        0u32..100_000,
        prop::sample::select(vec!["", "NAME_A", "NAME_B", "_IOWR('F', 0x2a, 32)"]),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::sample::select(vec![0u8, 0, 0, 0, 1, 2]),
    )
        .prop_map(
            |(count, ok, errors, pids, extra_processes, exes, first_ms, decoded, drop_raw, unreadable_zero, denied)| {
                Tally {
                    count,
                    ok,
                    errors: errors.into_iter().map(|(e, n)| (e.to_string(), n)).collect(),
                    pids,
                    extra_processes,
                    exes: exes.into_iter().map(str::to_string).collect(),
                    first_seen: f64::from(first_ms) / 1000.0,
                    decoded: decoded.to_string(),
                    drop_raw,
                    unreadable_zero,
                    denied,
                }
            },
        )
}

/// A class object: its identity `core` dressed with `t`.
fn class_json(core: &Core, t: &Tally) -> Value {
    let (syscall, nr, args, fd) = core;
    let args: Vec<Value> = args
        .iter()
        .map(|a| {
            let mut a = a.clone();
            if a.get("unreadable").is_none() {
                a["decoded"] = json!(t.decoded);
            }
            if t.drop_raw {
                a.as_object_mut().unwrap().remove("raw");
            }
            // A value of 0 read from memory in one run and unreadable in another (same identity: index, name, 0).
            if t.unreadable_zero && a["index"].is_null() && a["value"] == "0x0" {
                a["unreadable"] = json!("EFAULT");
                a["decoded"] = json!("");
            }
            a
        })
        .collect();
    let pids: Vec<u32> = t.pids.iter().take(16).copied().collect();
    let mut c = json!({
        "syscall": syscall,
        "arch": "x86_64",
        "nr": nr,
        "args": args,
        "count": t.count,
        "runs": 1,
        "processes": t.pids.len() as u64 + t.extra_processes,
        "pids": pids,
        "exes": t.exes,
        "first_seen_secs": t.first_seen,
    });
    if let Some(fd) = fd {
        c["fd"] = fd.clone();
    }
    match t.denied {
        1 => c["denied"] = json!({"SCMP_ACT_ERRNO(EPERM)": t.count}),
        2 if t.count > 1 => c["denied"] = json!({"SCMP_ACT_ERRNO(EPERM)": t.count / 2}),
        _ => {}
    }
    if t.ok.is_some() || !t.errors.is_empty() {
        let errors: BTreeMap<&str, u64> = t.errors.iter().map(|(e, n)| (e.as_str(), (*n).min(t.count))).collect();
        c["results"] = json!({"ok": t.ok.unwrap_or(0).min(t.count), "errors": errors});
    }
    c
}

/// What identifies a class in a trace (docs/trace-format.md: syscall, arch, argument values, fd).
fn identity(c: &Value) -> String {
    let args: Vec<(Value, Value, Value)> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["index"].clone(), a["name"].clone(), a["value"].clone()))
        .collect();
    json!([c["syscall"], c["arch"], c["nr"], args, c.get("fd")]).to_string()
}

#[derive(Clone, Debug)]
struct RunMeta {
    id: u64,
    started_ms: u32,
    status: i32,
    incomplete: bool,
    driver: Option<&'static str>,
}

fn run_meta() -> impl Strategy<Value = RunMeta> {
    (
        any::<u64>(),
        0u32..3_600_000,
        prop::sample::select(vec![0, 0, 1, 137]),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.3, prop::sample::select(vec!["550.54.15", "535.104.05"])),
    )
        .prop_map(|(id, started_ms, status, incomplete, driver)| RunMeta {
            id,
            started_ms,
            status,
            incomplete,
            driver,
        })
}

/// A trace with one run holding `classes` (duplicate identities dropped, as a recorder never writes them).
fn trace_json(meta: &RunMeta, n: usize, classes: Vec<Value>) -> Value {
    let mut seen = BTreeSet::new();
    let classes: Vec<Value> = classes.into_iter().filter(|c| seen.insert(identity(c))).collect();
    let syscalls: u64 = classes.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    let mut run = json!({
        // Unique per trace of a test case: the low bits are the trace's position.
        "id": format!("{:016x}", (meta.id & !0xff) | n as u64),
        "trapline": "0.1.0",
        "backend": "ptrace",
        "arch": "x86_64",
        "kernel": "6.1.0-28-amd64",
        "command": ["python3"],
        "started": format!("2026-11-28T{:02}:{:02}:{:02}.{:03}Z", 3 + meta.started_ms / 3_600_000, meta.started_ms / 60_000 % 60, meta.started_ms / 1000 % 60, meta.started_ms % 1000),
        "duration_secs": 1.5,
        "exit": {"status": meta.status},
        "complete": !meta.incomplete,
        "results": "auto",
        "totals": {"syscalls": syscalls, "classes": classes.len(), "processes": 3, "threads": 5},
    });
    if meta.incomplete {
        run["incomplete"] = json!("trapline received SIGTERM");
    }
    if let Some(driver) = meta.driver {
        run["gpu"] = json!({"nvidia_driver": driver, "devices": ["/dev/nvidia0", "/dev/nvidiactl"]});
    }
    json!({"schema": 1, "runs": [run], "classes": classes})
}

/// Many distinct ioctl requests on one device: past 128 of them the profile coarsens.
fn many_ioctls() -> impl Strategy<Value = Vec<Core>> {
    prop_oneof![
        // Many requests of a few types: coarsened to --ioctl type.
        (
            prop::collection::btree_set(
                (prop::sample::select(vec![b'T', b'F', b'd']), any::<u8>(), 0u64..64),
                129..200
            ),
            device_fd()
        )
            .prop_map(|(requests, fd)| requests
                .into_iter()
                .map(|(ty, nr, size)| {
                    let request = 0xc000_0000 | (size << 16) | (u64::from(ty) << 8) | u64::from(nr);
                    ("ioctl".to_string(), 16, vec![arg(Some(1), "request", request)], Some(fd.clone()))
                })
                .collect()),
        // Many types: coarsened further, to --ioctl any.
        (prop::collection::btree_set(any::<u8>(), 130..220), device_fd()).prop_map(|types| {
            let (types, fd) = types;
            types
                .into_iter()
                .map(|ty| {
                    ("ioctl".to_string(), 16, vec![arg(Some(1), "request", u64::from(ty) << 8 | 1)], Some(fd.clone()))
                })
                .collect()
        }),
    ]
}

/// 1 to 4 traces of up to 24 classes each, one of them sometimes with more than 128 ioctl requests.
fn traces() -> impl Strategy<Value = Vec<Value>> {
    let one = (
        run_meta(),
        prop::collection::vec((core(), tally()), 0..24),
        prop::option::weighted(0.15, (many_ioctls(), tally())),
    );
    prop::collection::vec(one, 1..5).prop_map(|traces| {
        traces
            .into_iter()
            .enumerate()
            .map(|(n, (meta, classes, many))| {
                let mut classes: Vec<Value> = classes.iter().map(|(c, t)| class_json(c, t)).collect();
                if let Some((cores, t)) = many {
                    classes.extend(cores.iter().map(|c| class_json(c, &t)));
                }
                classes.sort_by_key(|c| c["syscall"].as_str().unwrap().to_string());
                trace_json(&meta, n, classes)
            })
            .collect()
    })
}

fn plan() -> impl Strategy<Value = ProfilePlan> {
    (
        prop::sample::select(vec![
            DefaultAction::Errno,
            DefaultAction::KillProcess,
            DefaultAction::Log,
            DefaultAction::Trap,
        ]),
        prop::sample::select(vec![IoctlMode::Exact, IoctlMode::Exact, IoctlMode::Type, IoctlMode::Any]),
        prop::sample::select(vec![Some(Runtime::Runc), Some(Runtime::Crun), None]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(default_action, ioctl, runtime, gpu_portable, allow_io_uring, allow_denied)| ProfilePlan {
            default_action,
            ioctl,
            runtime,
            allow_mixed_arch: false,
            gpu_portable,
            allow_io_uring,
            allow_denied,
            widen: Vec::new(),
        })
}

/// Parses generated JSON with trapline's reader; a failure means the generator and the format disagree.
fn parse(n: usize, trace: &Value) -> (PathBuf, Trace) {
    let path = PathBuf::from(format!("t{n}.json"));
    let bytes = serde_json::to_vec_pretty(trace).unwrap();
    let parsed = parse_trace(&path, &bytes)
        .unwrap_or_else(|e| panic!("a trace per docs/trace-format.md does not parse: {e}\n{trace:#}"));
    (path, parsed)
}

// ---------------------------------------------------------------------------------------------------------------
// A profile is never looser than the traces

/// A readable argument value of a class (the register as seccomp sees it: `raw` when present).
fn readable(c: &Value, name: &str) -> Option<u64> {
    let a = c["args"].as_array()?.iter().find(|a| a["name"] == name && a.get("unreadable").is_none())?;
    hex(&a["value"])
}

fn hex(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

fn is_nvidia_frontend(c: &Value) -> bool {
    c["fd"]["family"] == "nvidia-frontend"
}

/// Whether a filter in force denied every call of the class when it was recorded.
fn wholly_denied(c: &Value) -> bool {
    let denied: u64 =
        c.get("denied").and_then(Value::as_object).map_or(0, |d| d.values().filter_map(Value::as_u64).sum());
    denied > 0 && denied >= c["count"].as_u64().unwrap()
}

/// What the traces did, for judging a profile.
struct Observed<'a> {
    by_name: BTreeMap<&'a str, Vec<&'a Value>>,
    wx: bool,
}

/// Whether a profile made with `plan` answers what the classes did with ENOSYS so the caller falls back: clone3
/// (unless a run used flags only clone3 has) and io_uring (unless the plan keeps it); never in an audit profile.
fn falls_back(plan: &ProfilePlan, name: &str, classes: &[&Value]) -> bool {
    plan.default_action != DefaultAction::Log
        && match name {
            "clone3" => !classes.iter().any(|c| readable(c, "flags").is_some_and(|f| f >> 32 != 0)),
            "io_uring_setup" | "io_uring_enter" | "io_uring_register" => !plan.allow_io_uring,
            _ => false,
        }
}

impl<'a> Observed<'a> {
    /// What the traces did, as the profile should see it: clone3 calls that fall back count as clone's,
    /// io_uring calls that are denied with ENOSYS are gone.
    fn new(traces: &'a [Value], plan: &ProfilePlan) -> Observed<'a> {
        let mut by_name: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for c in traces.iter().flat_map(|t| t["classes"].as_array().unwrap()) {
            // A class every call of which a filter in force denied stays denied, unless the plan allows it.
            if wholly_denied(c) && !plan.allow_denied {
                continue;
            }
            by_name.entry(c["syscall"].as_str().unwrap()).or_default().push(c);
        }
        for name in ["clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"] {
            if by_name.get(name).is_some_and(|classes| falls_back(plan, name, classes)) {
                let classes = by_name.remove(name).unwrap_or_default();
                if name == "clone3" {
                    by_name.entry("clone").or_default().extend(classes);
                }
            }
        }
        let wx = PROT_SYSCALLS
            .iter()
            .flat_map(|n| by_name.get(n).into_iter().flatten())
            .filter_map(|c| readable(c, "prot"))
            .any(|p| p & 6 == 6);
        Observed { by_name, wx }
    }

    fn classes(&self, name: &str) -> &[&'a Value] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    fn some_lack(&self, name: &str, arg: &str) -> bool {
        self.classes(name).iter().any(|c| readable(c, arg).is_none())
    }

    /// The masked rule an exact ioctl class needs: (mask, value).
    fn exact_key(&self, c: &Value, gpu_portable: bool) -> Option<(u64, u64)> {
        let r = readable(c, "request")?;
        let mask = u64::from(nvidia::SIZE_MASK);
        Some(if is_nvidia_frontend(c) && (gpu_portable || nvidia::size_varies(r as u32)) {
            (mask, r & mask)
        } else {
            (LOW_32_BITS, r & LOW_32_BITS)
        })
    }
}

/// Checks `profile` (JSON) against the traces it was made from; panics naming the rule that is not backed.
fn check_not_looser(traces: &[Value], plan: &ProfilePlan, profile: &Value, warnings: &[String]) {
    let seen = Observed::new(traces, plan);
    let runtime: &[&str] = plan.runtime.map_or(&[], |r| r.syscalls().names);
    let coarsened_to = |mode: &str| {
        warnings.iter().any(|w| w.starts_with("ioctl: ") && w.ends_with(&format!("coarsened to --ioctl {mode}")))
    };
    let exact_keys: BTreeSet<(u64, u64)> =
        seen.classes("ioctl").iter().filter_map(|c| seen.exact_key(c, plan.gpu_portable)).collect();
    let types: BTreeSet<u64> =
        seen.classes("ioctl").iter().filter_map(|c| readable(c, "request")).map(|r| r & 0xff00).collect();
    // A coarsening happens only past the limit, and says so (a class without a request allows any already).
    let all_readable = !seen.some_lack("ioctl", "request");
    assert_eq!(
        coarsened_to("type"),
        all_readable && plan.ioctl == IoctlMode::Exact && exact_keys.len() > MAX_ENTRIES_PER_SYSCALL,
        "--ioctl type coarsening: {} exact keys; warnings {warnings:?}",
        exact_keys.len()
    );
    let by_type = plan.ioctl == IoctlMode::Type || coarsened_to("type");
    assert_eq!(
        coarsened_to("any"),
        all_readable && by_type && types.len() > MAX_ENTRIES_PER_SYSCALL,
        "--ioctl any coarsening: {} types; warnings {warnings:?}",
        types.len()
    );
    let exact = plan.ioctl == IoctlMode::Exact && !coarsened_to("type");
    // Past 128 alternatives any conditioned syscall is allowed with any arguments, and the warning says how many.
    let opened = |name: &str| {
        warnings.iter().any(|w| {
            w.strip_prefix(&format!("{name}: "))
                .and_then(|rest| rest.split_once(" distinct argument values exceed"))
                .is_some_and(|(n, rest)| {
                    rest.ends_with(&format!("{name} is allowed with any arguments"))
                        && n.parse::<usize>().is_ok_and(|n| n > MAX_ENTRIES_PER_SYSCALL)
                })
        })
    };
    let any_ioctl = plan.ioctl == IoctlMode::Any || coarsened_to("any") || seen.some_lack("ioctl", "request");

    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        let names: Vec<&str> = rule["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        let conditions = rule.get("args").and_then(Value::as_array).cloned().unwrap_or_default();
        // A syscall that ran only denied by a filter in force gets the errno it got then.
        let only_denied = |n: &&str| {
            seen.classes(n).is_empty()
                && traces
                    .iter()
                    .flat_map(|t| t["classes"].as_array().unwrap())
                    .any(|c| c["syscall"] == *n && wholly_denied(c))
        };
        match rule["action"].as_str().unwrap() {
            "SCMP_ACT_ERRNO" if conditions.is_empty() && names.iter().all(only_denied) => {}
            "SCMP_ACT_ERRNO" if rule["errnoRet"] == 38 && conditions.is_empty() => {
                for n in &names {
                    assert!(
                        FALLBACK_ENOSYS.contains(n) && seen.classes(n).is_empty(),
                        "{n} denied with ENOSYS: {rule}"
                    );
                }
            }
            "SCMP_ACT_ALLOW" if conditions.is_empty() => {
                for n in names {
                    assert!(!n.starts_with("syscall_"), "a syscall without a name is allowed: {rule}");
                    if runtime.contains(&n) {
                        continue;
                    }
                    assert!(!seen.classes(n).is_empty(), "{n} allowed but never seen, and not the runtime's: {rule}");
                    let why = match n {
                        "ioctl" => any_ioctl,
                        "socket" => seen.some_lack(n, "domain"),
                        "personality" => seen.some_lack(n, "persona"),
                        "clone" => {
                            seen.some_lack(n, "flags")
                                || seen
                                    .classes(n)
                                    .iter()
                                    .any(|c| readable(c, "flags").is_some_and(|f| f & CLONE_NAMESPACES != 0))
                        }
                        _ if PROT_SYSCALLS.contains(&n) => seen.wx || seen.some_lack(n, "prot"),
                        _ => true,
                    };
                    assert!(
                        why || opened(n),
                        "{n} is allowed with any arguments, but the traces did not ask for that: {rule}"
                    );
                }
            }
            "SCMP_ACT_ALLOW" => {
                assert_eq!((names.len(), conditions.len()), (1, 1), "one name and one condition per entry: {rule}");
                let (n, c) = (names[0], &conditions[0]);
                assert_eq!(c["op"], "SCMP_CMP_MASKED_EQ", "{rule}");
                let (index, mask, value) =
                    (c["index"].as_u64().unwrap(), c["value"].as_u64().unwrap(), c["valueTwo"].as_u64().unwrap_or(0));
                let with = |arg: &str, i: u64| {
                    index == i && seen.classes(n).iter().any(|cl| readable(cl, arg).is_some_and(|v| v & mask == value))
                };
                let backed = match n {
                    "ioctl" if index == 1 && mask == 0xff00 => by_type && !any_ioctl && with("request", 1),
                    "ioctl" if index == 1 => {
                        exact
                            && !any_ioctl
                            && seen
                                .classes(n)
                                .iter()
                                .any(|cl| seen.exact_key(cl, plan.gpu_portable) == Some((mask, value)))
                    }
                    "socket" => mask == LOW_32_BITS && with("domain", 0),
                    "personality" => mask == LOW_32_BITS && with("persona", 0),
                    "clone" => {
                        (index, mask, value) == (0, CLONE_NAMESPACES, 0)
                            && seen
                                .classes(n)
                                .iter()
                                .all(|cl| readable(cl, "flags").is_some_and(|f| f & CLONE_NAMESPACES == 0))
                    }
                    _ if PROT_SYSCALLS.contains(&n) => !seen.wx && mask == LOW_32_BITS && with("prot", 2),
                    _ => false,
                };
                assert!(backed, "{n}: the condition {c} is not backed by the traces (plan {plan:?}): {rule}");
            }
            other => panic!("unexpected action {other}: {rule}"),
        }
    }
}

/// Whether an allow rule of `profile` admits class `c` as the kernel would compare it.
fn allowed(profile: &Value, c: &Value) -> bool {
    let name = &c["syscall"];
    profile["syscalls"].as_array().into_iter().flatten().filter(|r| r["action"] == "SCMP_ACT_ALLOW").any(|r| {
        r["names"].as_array().unwrap().contains(name)
            && r.get("args").and_then(Value::as_array).into_iter().flatten().all(|cond| {
                let (mask, value) = (cond["value"].as_u64().unwrap(), cond["valueTwo"].as_u64().unwrap_or(0));
                c["args"].as_array().unwrap().iter().any(|a| {
                    a["index"] == cond["index"]
                        && a.get("unreadable").is_none()
                        && hex(a.get("raw").unwrap_or(&a["value"])).is_some_and(|v| v & mask == value)
                })
            })
    })
}

fn profile_json(traces: &[(PathBuf, Trace)], plan: &ProfilePlan) -> (Value, Vec<String>, Vec<u8>) {
    let generated = generate(traces, plan).unwrap_or_else(|e| panic!("generate failed: {e}"));
    let bytes = to_json(&generated.profile);
    (serde_json::from_slice(&bytes).unwrap(), generated.warnings.clone(), bytes)
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn profiles_are_never_looser_than_the_traces_and_allow_all_of_them(traces in traces(), plan in plan()) {
        let parsed: Vec<(PathBuf, Trace)> = traces.iter().enumerate().map(|(n, t)| parse(n, t)).collect();
        let (profile, warnings, _) = profile_json(&parsed, &plan);
        check_not_looser(&traces, &plan, &profile, &warnings);
        let default = match plan.default_action {
            DefaultAction::Errno => "SCMP_ACT_ERRNO",
            DefaultAction::KillProcess => "SCMP_ACT_KILL_PROCESS",
            DefaultAction::Log => "SCMP_ACT_LOG",
            DefaultAction::Trap => "SCMP_ACT_TRAP",
        };
        prop_assert_eq!(&profile["defaultAction"], default);
        let all: Vec<&Value> = traces.iter().flat_map(|t| t["classes"].as_array().unwrap()).collect();
        for c in &all {
            let name = c["syscall"].as_str().unwrap();
            let same: Vec<&Value> = all.iter().copied().filter(|o| o["syscall"] == name).collect();
            if name.starts_with("syscall_") || (name.starts_with("io_uring") && falls_back(&plan, name, &same)) {
                continue;
            }
            // Denied in every call when recorded: the workload ran without it, and it stays denied.
            if wholly_denied(c) && !plan.allow_denied {
                continue;
            }
            // A clone3 call that falls back is made again as clone, with the same flags.
            let as_made = if name == "clone3" && falls_back(&plan, name, &same) {
                let mut clone = (*c).clone();
                clone["syscall"] = json!("clone");
                for arg in clone["args"].as_array_mut().unwrap() {
                    arg["index"] = json!(0);
                }
                clone
            } else {
                (*c).clone()
            };
            prop_assert!(allowed(&profile, &as_made), "the profile denies a class it was made from: {}", c);
        }
    }

    #[test]
    fn profile_output_does_not_depend_on_trace_order(traces in traces().prop_shuffle(), plan in plan()) {
        let parsed: Vec<(PathBuf, Trace)> = traces.iter().enumerate().map(|(n, t)| parse(n, t)).collect();
        let mut sorted = parsed.clone();
        sorted.sort_by_key(|(_, t)| t.runs[0].id.clone());
        prop_assert_eq!(profile_json(&parsed, &plan).2, profile_json(&sorted, &plan).2);
    }
}

/// Error findings of `trapline lint` on a profile made for `runtime`.
fn lint_errors(profile: &[u8], runtime: Option<Runtime>) -> Vec<String> {
    let findings = trapline::profile::lint::lint_bytes(Path::new("generated.json"), profile, runtime)
        .unwrap_or_else(|e| panic!("lint cannot read a generated profile: {e}"));
    findings.iter().filter(|f| f.severity == trapline::profile::lint::Severity::Error).map(|f| f.to_string()).collect()
}

proptest! {
    #![proptest_config(config(48))]

    /// What `trapline profile` writes, `trapline lint` finds no error in: every consumer can load it.
    #[test]
    fn generated_profiles_lint_clean(traces in traces(), plan in plan()) {
        let parsed: Vec<(PathBuf, Trace)> = traces.iter().enumerate().map(|(n, t)| parse(n, t)).collect();
        let (_, _, bytes) = profile_json(&parsed, &plan);
        let errors = lint_errors(&bytes, plan.runtime);
        prop_assert!(errors.is_empty(), "lint errors in a generated profile: {:?}", errors);
    }
}

/// One class per value of a 32-bit argument: `n` classes of `syscall` differing only in argument `name`.
fn one_class_per_value(syscall: &str, index: u8, name: &str, values: impl Iterator<Item = u64>) -> Vec<Value> {
    let t = Tally {
        count: 1,
        ok: None,
        errors: vec![],
        pids: BTreeSet::from([100]),
        extra_processes: 0,
        exes: BTreeSet::from(["/opt/w/a.out".to_string()]),
        first_seen: 0.5,
        decoded: String::new(),
        drop_raw: false,
        unreadable_zero: false,
        denied: 0,
    };
    values.map(|v| class_json(&(syscall.to_string(), nr(syscall), vec![arg(Some(index), name, v)], None), &t)).collect()
}

fn meta(id: u64) -> RunMeta {
    RunMeta { id: id << 8, started_ms: 1000, status: 0, incomplete: false, driver: None }
}

/// Found while checking generated profiles with lint (`generated_profiles_lint_clean`): more than 128 distinct values of a conditioned argument other than
/// ioctl's request (here personality and mprotect; socket too) give one entry each, which KEP-6061 validation
/// refuses and `trapline lint` reports as an error; only ioctl is coarsened past 128.
#[test]
fn regression_more_than_128_values_of_one_argument_still_make_a_loadable_profile() {
    let plan = ProfilePlan {
        default_action: DefaultAction::Errno,
        ioctl: IoctlMode::Exact,
        runtime: None,
        allow_mixed_arch: false,
        gpu_portable: false,
        allow_io_uring: false,
        allow_denied: false,
        widen: Vec::new(),
    };
    for (syscall, index, name, values) in [
        ("personality", 0u8, "persona", (0..200u64).map(|v| v * 8).collect::<Vec<_>>()),
        ("mprotect", 2, "prot", (0..200u64).map(|v| (v << 8) | 1).collect()),
    ] {
        let trace = trace_json(&meta(1), 0, one_class_per_value(syscall, index, name, values.into_iter()));
        let (profile, warnings, bytes) = profile_json(&[parse(0, &trace)], &plan);
        check_not_looser(std::slice::from_ref(&trace), &plan, &profile, &warnings);
        let entries = profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == syscall))
            .count();
        let errors = lint_errors(&bytes, plan.runtime);
        assert!(
            entries <= MAX_ENTRIES_PER_SYSCALL && errors.is_empty(),
            "{syscall}: {entries} entries for 200 distinct {name} values; lint errors: {errors:?}"
        );
    }
}

/// Found by `merge_does_not_depend_on_order`: two runs saw clone3 with flags 0, one reading them (0) and one
/// unable to (EFAULT, value 0): the same class, and the merge keeps whichever `unreadable` came first.
#[test]
fn regression_merge_of_a_readable_and_an_unreadable_value_does_not_depend_on_order() {
    let clone3 = |unreadable: bool| {
        let mut a = arg(None, "flags", 0);
        if unreadable {
            a["unreadable"] = json!("EFAULT");
        }
        let mut c = one_class_per_value("clone3", 0, "flags", std::iter::once(0)).remove(0);
        c["args"] = json!([a]);
        c
    };
    let a = parse(0, &trace_json(&meta(1), 0, vec![clone3(false)]));
    let b = parse(1, &trace_json(&meta(2), 1, vec![clone3(true)]));
    let ab = to_json(&merged(vec![a.clone(), b.clone()]).1);
    let ba = to_json(&merged(vec![b, a]).1);
    assert!(ab == ba, "merge(a, b) != merge(b, a):\n{}", first_difference(&ab, &ba));
}

// ---------------------------------------------------------------------------------------------------------------
// Merge: order-independent, associative, and what a profile sees of it

/// 3 to 5 traces drawing their classes from one pool, so that most classes meet classes of the same identity.
fn overlapping_traces() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(core(), 4..30).prop_flat_map(|pool| {
        let n = pool.len();
        let one = (run_meta(), prop::collection::vec(prop::option::weighted(0.6, tally()), n));
        prop::collection::vec(one, 3..6).prop_map(move |traces| {
            traces
                .into_iter()
                .enumerate()
                .map(|(i, (meta, picks))| {
                    let mut classes: Vec<Value> = pool
                        .iter()
                        .zip(&picks)
                        .filter_map(|(core, t)| t.as_ref().map(|t| class_json(core, t)))
                        .collect();
                    classes.sort_by_key(|c| c["syscall"].as_str().unwrap().to_string());
                    trace_json(&meta, i, classes)
                })
                .collect()
        })
    })
}

fn merged(parts: Vec<(PathBuf, Trace)>) -> (PathBuf, Trace) {
    (PathBuf::from("merged.json"), merge(parts).unwrap_or_else(|e| panic!("merge failed: {e}")))
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn merge_does_not_depend_on_order(
        (traces, order) in overlapping_traces().prop_flat_map(|t| {
            let n = t.len();
            (Just(t), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        })
    ) {
        let parsed: Vec<(PathBuf, Trace)> = traces.iter().enumerate().map(|(n, t)| parse(n, t)).collect();
        let shuffled: Vec<(PathBuf, Trace)> = order.iter().map(|i| parsed[*i].clone()).collect();
        let a = to_json(&merged(parsed).1);
        let b = to_json(&merged(shuffled).1);
        prop_assert!(a == b, "merge in order {:?} differs:\n{}", order, first_difference(&a, &b));
    }

    #[test]
    fn merge_is_associative(traces in overlapping_traces()) {
        let parsed: Vec<(PathBuf, Trace)> = traces.iter().enumerate().map(|(n, t)| parse(n, t)).collect();
        let (a, b, c) = (parsed[0].clone(), parsed[1].clone(), parsed[2].clone());
        let left = merged(vec![merged(vec![a.clone(), b.clone()]), c.clone()]);
        let right = merged(vec![a, merged(vec![b, c])]);
        let (l, r) = (to_json(&left.1), to_json(&right.1));
        prop_assert!(l == r, "merge(merge(a,b),c) != merge(a,merge(b,c)):\n{}", first_difference(&l, &r));
        // Any split of all the traces reduces to the merge of all of them.
        let all = to_json(&merged(parsed.clone()).1);
        let split = parsed.len() / 2;
        let halves = to_json(&merged(vec![merged(parsed[..split].to_vec()), merged(parsed[split..].to_vec())]).1);
        prop_assert!(all == halves, "merge of halves differs:\n{}", first_difference(&all, &halves));
    }

    #[test]
    fn a_profile_of_a_merge_is_the_profile_of_its_parts(traces in overlapping_traces(), plan in plan()) {
        let parsed: Vec<(PathBuf, Trace)> = traces.iter().enumerate().map(|(n, t)| parse(n, t)).collect();
        let whole = vec![merged(parsed.clone())];
        prop_assert_eq!(String::from_utf8(profile_json(&parsed, &plan).2).unwrap(), String::from_utf8(profile_json(&whole, &plan).2).unwrap());
    }

    #[test]
    fn traces_read_back_as_written(traces in traces()) {
        for (n, t) in traces.iter().enumerate() {
            let (path, parsed) = parse(n, t);
            let written = to_json(&parsed);
            let again = parse_trace(&path, &written).unwrap_or_else(|e| panic!("a written trace does not parse: {e}"));
            prop_assert!(again == parsed, "a trace changed on its way through to_json and parse_trace");
            prop_assert_eq!(&to_json(&again), &written);
        }
    }
}

/// The first line where two JSON documents differ, with a little context.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = la.iter().zip(&lb).position(|(x, y)| x != y).unwrap_or(la.len().min(lb.len()));
    let from = i.saturating_sub(6);
    format!(
        "line {}:\n--- one\n{}\n--- other\n{}",
        i + 1,
        la[from..(i + 3).min(la.len())].join("\n"),
        lb[from..(i + 3).min(lb.len())].join("\n")
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Bad inputs: arbitrary bytes and broken real inputs never make trapline panic

/// Ways to break a valid document: truncate, flip, delete or duplicate a span, or splice in JSON tokens.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, &'static str),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                "null",
                "-1",
                "1e999",
                "18446744073709551616",
                "\"\"",
                "\"0x\"",
                "\"0xffffffffffffffffff\"",
                "[]",
                "{}",
                "\"\\ud800\"",
                ",",
                "\"SCMP_ACT_ALLOW\"",
                "\"names\":[\"ioctl\"]",
                "{\"bytes\":[255,0]}",
                "0x10",
                "\"index\":7",
                "\"valueTwo\":-1",
                "(",
                ")",
                "{",
                "}",
                "\"",
                "\\",
                "\n",
                "= ?",
                " <unfinished ...>",
                " resumed>",
                "--- SIGCHLD {si_signo=SIGCHLD} ---",
                "+++ exited with 0 +++",
                "ioctl(3</dev/nvidiactl<char 195:255>>, ",
            ])
        )
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
    ];
    prop::collection::vec(one, 1..6)
}

fn mutate(input: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = input.to_vec();
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *m {
            Mutation::Truncate(i) => b.truncate(at(i, b.len())),
            Mutation::Flip(i, bits) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= bits;
            }
            Mutation::Flip(..) => {}
            Mutation::Delete(i, n) => {
                let i = at(i, b.len());
                b.drain(i..(i + n).min(b.len()));
            }
            Mutation::Duplicate(i, n) => {
                let i = at(i, b.len());
                let span = b[i..(i + n).min(b.len())].to_vec();
                b.splice(i..i, span);
            }
            Mutation::Insert(i, s) => {
                let i = at(i, b.len());
                b.splice(i..i, s.bytes());
            }
        }
    }
    b
}

/// Real inputs to mutate: profiles and traces from the repository, and generated traces.
fn seeds(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.len() < 200_000)
        .collect();
    found.sort();
    found
}

fn profile_seeds() -> Vec<Vec<u8>> {
    let mut all = seeds("profiles", "json");
    all.extend(seeds("fuzz/seeds/profile", "json"));
    all.push(br#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":4294967295,"valueTwo":21505,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#.to_vec());
    all.push(br#"{"ociVersion":"1.0.2","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}}}"#.to_vec());
    all.push(br#"{"apiVersion":"security-profiles-operator.x-k8s.io/v1beta1","kind":"SeccompProfile","spec":{"defaultAction":"SCMP_ACT_LOG"}}"#.to_vec());
    all
}

fn strace_seeds() -> Vec<Vec<u8>> {
    let mut all = seeds("tests/fixtures/strace", "log");
    all.extend(seeds("fuzz/seeds/strace", "log"));
    all.push(
        b"1234  execve(\"/bin/true\", [\"true\"], 0x7ffd /* 20 vars */) = 0\n\
          1234  openat(AT_FDCWD, \"/dev/null\", O_RDWR) = 3</dev/null<char 1:3>>\n\
          1234  ioctl(3</dev/null<char 1:3>>, TCGETS, 0x7ffd) = -1 ENOTTY (Inappropriate ioctl for device)\n\
          1234  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>\n\
          1235  getppid( <unfinished ...>\n\
          1234  <... clone resumed>, child_tidptr=0x7f) = 1235\n\
          1235  <... getppid resumed>) = 1234\n\
          1235  +++ exited with 0 +++\n\
          1234  --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=1235} ---\n\
          1234  exit_group(0) = ?\n\
          1234  +++ exited with 0 +++\n"
            .to_vec(),
    );
    all
}

/// Arbitrary bytes, or a real input broken by a few mutations.
fn bad_input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        4 => (prop::sample::select(seeds), mutations()).prop_map(|(seed, m)| mutate(&seed, &m)),
    ]
}

/// A scratch file per test thread for the path-only readers.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("properties-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn trace_seeds() -> Vec<Vec<u8>> {
    let mut all = seeds("fuzz/seeds/trace", "json");
    let mut runner = proptest::test_runner::TestRunner::new(config(1));
    for _ in 0..8 {
        let traces = traces().new_tree(&mut runner).unwrap().current();
        all.push(serde_json::to_vec_pretty(&traces[0]).unwrap());
    }
    all
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_trace_parser_survives_bad_input(bytes in bad_input(trace_seeds())) {
        if let Ok(trace) = parse_trace(Path::new("bad.json"), &bytes) {
            // What parses is a trace: it writes back to itself, and profile and merge take it.
            let written = to_json(&trace);
            prop_assert!(parse_trace(Path::new("again.json"), &written).is_ok_and(|t| t == trace));
            let plan = ProfilePlan { default_action: DefaultAction::Errno, ioctl: IoctlMode::Exact, runtime: Some(Runtime::Runc), allow_mixed_arch: true, gpu_portable: false, allow_io_uring: false, allow_denied: false, widen: Vec::new() };
            let _ = generate(&[(PathBuf::from("bad.json"), trace.clone())], &plan);
            let _ = merge(vec![(PathBuf::from("bad.json"), trace)]);
        }
    }

    #[test]
    fn the_profile_linter_and_reader_survive_bad_input(bytes in bad_input(profile_seeds())) {
        let _ = trapline::profile::lint::lint_bytes(Path::new("bad.json"), &bytes, Some(Runtime::Runc));
        let path = scratch("profile", &bytes);
        let _ = trapline::profile::read::read_profile(&path);
    }

    #[test]
    fn the_strace_importer_survives_bad_input(bytes in bad_input(strace_seeds())) {
        let path = scratch("strace", &bytes);
        if let Ok(imported) = trapline::import::strace::import(&path) {
            let written = to_json(&imported.trace);
            prop_assert!(parse_trace(Path::new("imported.json"), &written).is_ok(), "an imported trace does not read back");
        }
    }
}

/// Every minimised fuzz finding in `fuzz/regressions/KIND/` (see its README), fed to the code that once failed on it;
/// none may panic, and what they make must read back.
#[test]
fn fuzz_regressions_do_not_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut panics = Vec::new();
    let mut tried = 0;
    for kind in ["trace", "profile", "strace"] {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(root.join(kind)).into_iter().flatten().flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            tried += 1;
            let outcome = std::panic::catch_unwind(|| match kind {
                "trace" => {
                    if let Ok(trace) = parse_trace(&file, &bytes) {
                        assert!(parse_trace(&file, &to_json(&trace)).is_ok_and(|t| t == trace), "does not read back");
                    }
                }
                "profile" => {
                    let _ = trapline::profile::lint::lint_bytes(&file, &bytes, Some(Runtime::Runc));
                    if let Ok(profile) = trapline::profile::read::read_profile(&file) {
                        let _ =
                            trapline::profile::compile::compile(&profile, trapline::profile::compile::Mode::Enforce);
                    }
                }
                _ => {
                    if let Ok(imported) = trapline::import::strace::import(&file) {
                        assert!(parse_trace(&file, &to_json(&imported.trace)).is_ok(), "does not read back");
                    }
                }
            });
            if let Err(panic) = outcome {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panics.push(format!("{}: {what}", file.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(tried > 0, "no regression inputs under {}", root.display());
    assert!(panics.is_empty(), "fuzz findings panic again:\n{}", panics.join("\n"));
}
