//! `trapline record --container`: a busybox container recorded through real runc keeps exactly what runs
//! under the container's filter, and the profile made from it (with no runtime list) starts the container.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use common::container::{Bundle, describe, runc_or_skip, static_fixture};
use common::*;

const WORKLOAD: &str = "busybox mkdir -p /tmp/w && busybox echo written > /tmp/w/f && busybox cat /tmp/w/f && \
                        busybox ls /tmp/w && busybox nc -w 1 127.0.0.1 9 </dev/null 2>/dev/null; busybox echo done";

fn names(trace: &Value) -> BTreeSet<String> {
    trace["classes"].as_array().unwrap().iter().map(|c| c["syscall"].as_str().unwrap().to_string()).collect()
}

#[test]
fn container_recording_starts_at_the_filter_load_and_its_profile_starts_the_container() {
    let Some(runc) = runc_or_skip("container_recording") else { return };
    let bundle = Bundle::new(&runc, &["/bin/busybox", "sh", "-c", WORKLOAD]);
    bundle.add_file(Path::new("/bin/busybox"), "/bin/busybox");
    fs::create_dir_all(bundle.dir.join("rootfs/tmp")).unwrap();
    let config_path = bundle.dir.join("config.json");
    fs::write(&config_path, serde_json::to_vec_pretty(&bundle.config).unwrap()).unwrap();
    let config_before = fs::read(&config_path).unwrap();

    let dir = TempDir::new("container");
    let trace_path = dir.join("container.json");
    let recorded = bundle.record_container(&trace_path, &[]);
    assert_eq!(recorded.code(), 0, "{}", describe(&recorded));
    assert!(recorded.stdout_str().contains("written\n") && recorded.stdout_str().ends_with("done\n"));
    assert_eq!(fs::read(&config_path).unwrap(), config_before, "the user's bundle must not change");

    let trace = read_trace(&trace_path, &recorded);
    let seen = names(&trace);
    for needed in ["execve", "write", "socket", "getdents64", "wait4", "exit_group"] {
        assert!(seen.contains(needed), "{needed} missing from {seen:?}");
    }
    // The runtime's setup happens before the filter is loaded: none of it belongs in the trace.
    for setup in ["pivot_root", "mount", "unshare", "sethostname", "seccomp", "setns"] {
        assert!(!seen.contains(setup), "{setup} is runtime setup, recorded anyway: {seen:?}");
    }
    let exes: BTreeSet<&str> = trace["classes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["exes"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(exes.contains("/bin/busybox"), "{exes:?}");

    // Recorded through the runtime, the profile needs no runtime list to start the container.
    let profile_path = dir.join("profile.json");
    let made = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
        .args(["profile", "--runtime", "none", "-o"])
        .arg(&profile_path)
        .arg(&trace_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(made.code(), 0, "{}", describe(&made));
    let profile: Value = serde_json::from_slice(&fs::read(&profile_path).unwrap()).unwrap();
    let unconfined = bundle.run(None);
    let confined = bundle.run(Some(&profile));
    assert_eq!(confined.code(), 0, "{}", describe(&confined));
    assert_eq!(confined.stdout_str(), unconfined.stdout_str());
    assert!(!confined.stderr_str().contains("Operation not permitted"), "{}", describe(&confined));
}

#[test]
fn container_needs_a_runtime_command() {
    let dir = TempDir::new("container-usage");
    let out = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
        .args(["record", "--container", "-o"])
        .arg(dir.join("t.json"))
        .args(["--", "/bin/true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 2, "{}", describe(&out));
    let stderr = out.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("runc run -b BUNDLE ID"), "{stderr}");
    assert!(!dir.join("t.json").exists());
}

#[test]
fn a_missing_bundle_or_runtime_is_one_clear_line() {
    let dir = TempDir::new("container-bad");
    let broken = dir.join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("config.json"), "{\"ociVersion\": ").unwrap();
    let broken_config = format!("{}/config.json: EOF while parsing a value at line 1", broken.display());
    for (command, needle) in [
        (vec!["runc", "run", "-b", "/nonexistent/bundle", "x"], "/nonexistent/bundle/config.json"),
        (vec!["runc", "run", "-b", broken.to_str().unwrap(), "x"], broken_config.as_str()),
        (vec!["/nonexistent/crun", "run", "-b", "/tmp", "x"], "crun is not installed"),
    ] {
        let out = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
            .args(["record", "--container", "-o"])
            .arg(dir.join("t.json"))
            .arg("--")
            .args(&command)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        assert_eq!(out.code(), 2, "{command:?}: {}", describe(&out));
        let stderr = out.stderr_str();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!dir.join("t.json").exists());
        if needle.contains("config.json") {
            assert!(stderr.contains("`runc spec` writes one"), "no fix named: {stderr}");
        }
    }
}

/// A bundle that already has a filter: the container is recorded through it. The calls it denies are in the
/// trace, marked with the filter's answer, and a `--known` recording names them as what the profile lacks.
#[test]
fn a_container_is_recorded_through_its_bundles_own_filter() {
    let Some(runc) = runc_or_skip("container_through_filter") else { return };
    let mut bundle = Bundle::new(&runc, &["/bin/busybox", "sh", "-c", "busybox uname -s; busybox echo done"]);
    bundle.add_file(Path::new("/bin/busybox"), "/bin/busybox");
    let filter = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    bundle.config["linux"]["seccomp"] = filter.clone();
    fs::write(bundle.dir.join("config.json"), serde_json::to_vec_pretty(&bundle.config).unwrap()).unwrap();

    let dir = TempDir::new("container-filter");
    let record = |extra: &[&str], out: &str| bundle.record_container(&dir.join(out), extra);
    let recorded = record(&[], "trace.json");
    assert!(recorded.stdout_str().ends_with("done\n"), "{}", describe(&recorded));
    let trace = read_trace(&dir.join("trace.json"), &recorded);
    let uname = classes_named(&trace, "uname");
    assert_eq!(uname.len(), 1, "the call the bundle's filter denied is missing: {:?}", names(&trace));
    assert_eq!(uname[0]["denied"], serde_json::json!({"SCMP_ACT_ERRNO(EACCES)": count_of(uname[0])}));
    assert_eq!(uname[0]["results"]["errors"]["EACCES"], count_of(uname[0]));
    let filters = &trace["runs"][0]["filters"];
    assert_eq!((filters["loaded"].as_u64(), filters["attributed"].as_bool()), (Some(1), Some(true)), "{filters}");

    // With the bundle's filter as the known profile, the denied call is what the profile lacks.
    let known = dir.join("known.json");
    fs::write(&known, filter.to_string()).unwrap();
    let known_arg = known.to_str().unwrap();
    let recorded = record(&["--known", known_arg], "known-trace.json");
    let trace = read_trace(&dir.join("known-trace.json"), &recorded);
    assert_eq!(names(&trace), BTreeSet::from(["uname".to_string()]), "{}", describe(&recorded));
}

/// A bundle without a filter gets trapline's permissive one, which denies nothing the tracer must see, so the
/// container is not followed through it; a filter the workload stacks on top later still is: its denials are in
/// the trace, marked, as many as strace counts outside a container (`tests/filters.rs`).
#[test]
fn a_filter_the_workload_loads_under_the_permissive_one_is_still_followed() {
    let Some(runc) = runc_or_skip("container_own_filter") else { return };
    let mut bundle = Bundle::new(&runc, &["/own_filter", "install"]);
    bundle.add_file(&static_fixture("own_filter"), "/own_filter");
    // Its child execs /bin/true: busybox answers to that name.
    bundle.add_file(Path::new("/bin/busybox"), "/bin/true");
    bundle.config["process"]["noNewPrivileges"] = serde_json::json!(true);
    fs::write(bundle.dir.join("config.json"), serde_json::to_vec_pretty(&bundle.config).unwrap()).unwrap();

    let dir = TempDir::new("container-own-filter");
    let recorded = bundle.record_container(&dir.join("trace.json"), &[]);
    assert_eq!(recorded.code(), 0, "the workload saw other answers than its filter gives: {}", describe(&recorded));
    let trace = read_trace(&dir.join("trace.json"), &recorded);
    let filters = &trace["runs"][0]["filters"];
    assert_eq!(filters, &serde_json::json!({"inherited": false, "loaded": 2, "attributed": true, "seen": true}));
    let getppid = classes_named(&trace, "getppid");
    assert_eq!(getppid.len(), 1, "{:?}", names(&trace));
    assert_eq!(getppid[0]["denied"], serde_json::json!({"SCMP_ACT_ERRNO(EPERM)": 41}));
}

/// With `noNewPrivileges: true` runc loads the filter just before exec, after dropping privileges; without it
/// (Docker's default) it loads it first, and its `capset` and the rest run under the filter. A profile made
/// from the first kind of recording stops runc init where no_new_privs is off, so `profile` says so, and `lint`
/// names where it does start.
#[test]
fn a_recording_with_no_new_privileges_warns_where_engines_run_without_it() {
    let Some(runc) = runc_or_skip("no_new_privileges_warning") else { return };
    let exe = static_fixture("exitcode");
    let dir = TempDir::new("container-nnp");
    let (mut warnings, mut lint_fixes) = (Vec::new(), Vec::new());
    for no_new_privileges in [true, false] {
        let mut bundle = Bundle::new(&runc, &["/exitcode"]);
        bundle.add_file(&exe, "/exitcode");
        bundle.config["process"]["noNewPrivileges"] = json!(no_new_privileges);
        fs::write(bundle.dir.join("config.json"), serde_json::to_vec_pretty(&bundle.config).unwrap()).unwrap();
        let trace_path = dir.join(format!("nnp-{no_new_privileges}.json"));
        let recorded = bundle.record_container(&trace_path, &[]);
        assert_eq!(recorded.code(), 0, "{}", describe(&recorded));
        let trace = read_trace(&trace_path, &recorded);
        assert_eq!(names(&trace).contains("capset"), !no_new_privileges, "{:?}", names(&trace));
        let made = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
            .arg("profile")
            .arg(&trace_path)
            .args(["--runtime", "none", "-o"])
            .arg(dir.join(format!("profile-{no_new_privileges}.json")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        assert_eq!(made.code(), 0, "{}", made.stderr_str());
        warnings.push(made.stderr_str().contains("no_new_privs"));
        // lint, with runc as its default runtime, names how such a profile does start.
        let linted = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
            .arg("lint")
            .arg(dir.join(format!("profile-{no_new_privileges}.json")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        lint_fixes.push(linted.stdout_str().contains("--security-opt no-new-privileges"));
        if no_new_privileges {
            assert_eq!(linted.code(), 1, "{}{}", linted.stdout_str(), linted.stderr_str());
        }
    }
    assert_eq!(warnings, [true, false], "the warning only for the noNewPrivileges recording");
    assert_eq!(lint_fixes, [true, false], "lint's fix only for the noNewPrivileges recording");
}
