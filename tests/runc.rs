//! End to end with a real container runtime: record a busybox workload on the host, turn the trace into a
//! profile for runc, and run the same workload in a runc container under that profile.
//!
//! These tests need root and runc (`/usr/sbin/runc`, or `runc` on `$PATH`) plus a static busybox
//! (`/bin/busybox`). Without them they print why and pass, unless `TRAPLINE_REQUIRE_RUNC=1` is set, which
//! turns a missing prerequisite into a failure (for CI machines that are meant to have them).
//!
//! runc is only ever run by one test at a time, in this process and across processes (nextest runs each
//! test in a process of its own): every runc call holds an exclusive lock on a file in the target tmp dir.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use trapline::profile::generate::FALLBACK_ENOSYS;
use trapline::profile::runtime::Runtime;

use common::container::{Bundle, describe, runc_or_skip};
use common::*;

const BUSYBOX: &str = "/bin/busybox";

/// The workload: each step a separate `busybox APPLET` (the same static binary on the host and in the
/// container) that prints its status, so a step denied by seccomp shows in the output. The files live
/// under a directory in /tmp (a path that exists on the host and in the container) of its own for every
/// script, so that tests recording at the same time do not remove each other's files.
fn workload_script() -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = format!("/tmp/trapline-runc-wl-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    format!(
        r#"busybox mkdir -p {dir}; echo "mkdir=$?"
busybox echo "hello from trapline" > {dir}/file.txt; echo "write=$?"
busybox cat {dir}/file.txt; echo "read=$?"
busybox ls {dir}; echo "ls=$?"
busybox nc -w 1 127.0.0.1 9 </dev/null 2>&1; echo "nc=$?"
busybox stty -F /dev/null 2>&1; echo "stty=$?"
busybox uname -s; echo "uname=$?"
busybox rm -r {dir}; echo "rm=$?"
"#
    )
}

/// The workload recorded on the host and its profile for runc.
struct Profiled {
    dir: TempDir,
    /// The trace, parsed.
    trace: Value,
    /// `trapline profile --runtime runc` of that trace, parsed.
    profile: Value,
}

fn record_and_profile(script: &str) -> Profiled {
    let dir = TempDir::new("runc-rec");
    let script_path = dir.join("workload.sh");
    fs::write(&script_path, script).unwrap();
    let trace_path = dir.join("wl.json");
    let rec = run(Command::new(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(&trace_path)
        .args(["--", "busybox", "sh"])
        .arg(&script_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(
        rec.code(),
        0,
        "recording the workload on the host failed:\nstdout:\n{}\nstderr:\n{}",
        rec.stdout_str(),
        rec.stderr_str()
    );
    let trace = read_trace(&trace_path, &rec);
    check_trace(&trace);

    let profile_path = dir.join("profile.json");
    let prof = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(&trace_path)
        .args(["--runtime", "runc", "-o"])
        .arg(&profile_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(prof.code(), 0, "trapline profile: {}", prof.stderr_str());
    let profile: Value = serde_json::from_slice(&fs::read(&profile_path).unwrap())
        .unwrap_or_else(|e| panic!("profile is not JSON: {e}"));
    Profiled { dir, trace, profile }
}

/// An OCI bundle (see `common::container`) whose rootfs holds /bin/busybox, /tmp and the workload script.
fn busybox_bundle(runc: &Path, script: &str) -> Bundle {
    let bundle = Bundle::new(runc, &["/bin/busybox", "sh", "/workload.sh"]);
    bundle.add_file(Path::new(BUSYBOX), "/bin/busybox");
    fs::create_dir_all(bundle.dir.join("rootfs/tmp")).unwrap();
    fs::write(bundle.dir.join("rootfs/workload.sh"), script).unwrap();
    bundle
}

/// The profile with `name` taken out of every ALLOW entry (entries left without names are dropped).
fn without(profile: &Value, name: &str) -> Value {
    let mut p = profile.clone();
    let entries = p["syscalls"].as_array_mut().expect("profile.syscalls");
    for e in entries.iter_mut() {
        if e["action"] == "SCMP_ACT_ALLOW" {
            let names = e["names"].as_array_mut().expect("entry.names");
            names.retain(|n| n != name);
        }
    }
    entries.retain(|e| e["names"].as_array().is_some_and(|n| !n.is_empty()));
    p
}

fn names_of(entry: &Value) -> BTreeSet<String> {
    entry["names"]
        .as_array()
        .unwrap_or_else(|| panic!("entry without names: {entry}"))
        .iter()
        .map(|n| n.as_str().expect("name").to_string())
        .collect()
}

/// (a) The workload prints the same under the generated profile as unconfined.
#[test]
fn profiled_container_prints_the_same_as_unconfined() {
    let Some(runc) = runc_or_skip("profiled_container_prints_the_same_as_unconfined") else {
        return;
    };
    let script = workload_script();
    let p = record_and_profile(&script);
    let bundle = busybox_bundle(&runc, &script);

    let plain = bundle.run(None);
    assert_eq!(plain.code(), 0, "unconfined container: {}", describe(&plain));
    for step in ["mkdir=0", "write=0", "read=0", "ls=0", "uname=0", "rm=0"] {
        assert!(
            plain.stdout_str().lines().any(|l| l == step),
            "unconfined container: no {step:?}: {}",
            describe(&plain)
        );
    }
    assert!(plain.stdout_str().contains("hello from trapline\n"));

    let profiled = bundle.run(Some(&p.profile));
    assert_eq!(
        profiled.stdout_str(),
        plain.stdout_str(),
        "output under the profile differs; profiled: {}\nprofile: {}",
        describe(&profiled),
        p.dir.join("profile.json").display()
    );
    assert_eq!(profiled.status.code(), plain.status.code(), "{}", describe(&profiled));
    assert!(!profiled.stdout_str().contains("Operation not permitted"), "{}", describe(&profiled));
}

/// (b) Without `socket` the container still starts and runs the script, but `nc` fails with EPERM.
#[test]
fn dropping_a_needed_syscall_fails_that_step_with_eperm() {
    let Some(runc) = runc_or_skip("dropping_a_needed_syscall_fails_that_step_with_eperm") else {
        return;
    };
    let script = workload_script();
    let p = record_and_profile(&script);
    assert!(
        p.profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "SCMP_ACT_ALLOW" && names_of(e).contains("socket")),
        "the profile does not allow socket at all: {}",
        p.profile
    );
    let crippled = without(&p.profile, "socket");
    let bundle = busybox_bundle(&runc, &script);

    let plain = bundle.run(None);
    assert_eq!(plain.code(), 0, "unconfined container: {}", describe(&plain));
    let nc_line = |out: &Finished| {
        out.stdout_str()
            .lines()
            .take_while(|l| !l.starts_with("nc="))
            .skip_while(|l| !l.starts_with("ls="))
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!nc_line(&plain).contains("Operation not permitted"), "{}", describe(&plain));

    let out = bundle.run(Some(&crippled));
    let stdout = out.stdout_str();
    // The container started and ran the script up to and past the denied step.
    for step in ["mkdir=0", "write=0", "read=0", "ls=0", "uname=0", "rm=0"] {
        assert!(
            stdout.lines().any(|l| l == step),
            "without socket the rest of the workload should still run; no {step:?}: {}",
            describe(&out)
        );
    }
    assert!(
        nc_line(&out).contains("Operation not permitted"),
        "nc should fail with EPERM without socket: {}",
        describe(&out)
    );
    assert!(stdout.lines().any(|l| l == "nc=1"), "nc should exit 1: {}", describe(&out));
}

/// (c) The profile allows exactly the names in the trace plus runc's own, and denies nothing but the unused
/// ENOSYS-fallback names, with errno 38.
#[test]
fn profile_allows_exactly_trace_and_runtime_names() {
    // Needs busybox but neither runc nor root: it only reads the profile.
    if !Path::new(BUSYBOX).is_file() {
        eprintln!("profile_allows_exactly_trace_and_runtime_names: skipped: no {BUSYBOX}");
        return;
    }
    let p = record_and_profile(&workload_script());

    let traced: BTreeSet<String> = classes(&p.trace)
        .iter()
        .map(|c| c["syscall"].as_str().expect("syscall").to_string())
        // Numbers without a name in trapline's tables are left out of profiles (with a warning).
        .filter(|n| !n.starts_with("syscall_"))
        .collect();
    let runtime: BTreeSet<String> = Runtime::Runc.syscalls().names.iter().map(|s| s.to_string()).collect();
    assert!(runtime.contains("execve") && runtime.contains("getdents64"), "{runtime:?}");
    let expected: BTreeSet<String> = traced.union(&runtime).cloned().collect();

    let entries = p.profile["syscalls"].as_array().expect("profile.syscalls");
    let mut allowed = BTreeSet::new();
    let mut errno_entries = Vec::new();
    for e in entries {
        match e["action"].as_str() {
            Some("SCMP_ACT_ALLOW") => allowed.extend(names_of(e)),
            Some("SCMP_ACT_ERRNO") => errno_entries.push(e),
            other => panic!("unexpected action {other:?} in entry {e}"),
        }
    }
    assert_eq!(
        allowed,
        expected,
        "allowed minus expected: {:?}; expected minus allowed: {:?}",
        allowed.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&allowed).collect::<Vec<_>>()
    );

    let fallback: BTreeSet<String> =
        FALLBACK_ENOSYS.iter().map(|s| s.to_string()).filter(|n| !expected.contains(n)).collect();
    assert!(!fallback.is_empty(), "busybox does not use clone3 or openat2");
    assert_eq!(errno_entries.len(), 1, "one ERRNO entry expected: {errno_entries:?}");
    let e = errno_entries[0];
    assert_eq!(e["errnoRet"], 38, "ENOSYS fallback entry: {e}");
    assert!(e.get("args").is_none(), "ENOSYS fallback entry: {e}");
    assert_eq!(names_of(e), fallback, "ENOSYS fallback names");
    assert_eq!(p.profile["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(p.profile.get("defaultErrnoRet").is_none());
}
