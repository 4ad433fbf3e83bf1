//! `trapline record` on the C fixtures of tests/fixtures: what the trace must contain, and that the workload's exit
//! status and output pass through.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn fixture_str(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

/// Records the fixture `name` with `args` and checks the trace invariants.
fn record_fixture(name: &str, args: &[&str]) -> Recorded {
    let exe = fixture_str(name);
    let mut cmd = vec![exe.as_str()];
    cmd.extend_from_slice(args);
    let r = record(&cmd);
    check_trace(&r.trace);
    r
}

#[test]
fn threads64_every_thread_syscall_recorded_once() {
    let r = record_fixture("threads64", &[]);
    assert_eq!(r.code(), 0, "stderr:\n{}", r.out.stderr_str());
    // The fixture prints the syscalls its 64 threads made, one per line.
    let stdout = r.out.stdout_str();
    let names: Vec<&str> = stdout.lines().collect();
    assert_eq!(names.len(), 64, "fixture output:\n{stdout}");
    let counts = syscall_counts(&r.trace);
    let wrong: Vec<String> =
        names.iter().filter(|n| counts.get(**n) != Some(&1)).map(|n| format!("{n}: {:?}", counts.get(*n))).collect();
    assert!(wrong.is_empty(), "each thread's syscall must be recorded exactly once; wrong counts: {wrong:?}");
    // Each of those calls came from the same single process.
    for n in &names {
        for c in classes_named(&r.trace, n) {
            assert_eq!(c["processes"], 1, "{c}");
        }
    }
    let totals = &r.trace["runs"][0]["totals"];
    assert_eq!(totals["processes"], 1, "{totals}");
    assert!(totals["threads"].as_u64().unwrap() >= 65, "{totals}");
    assert!(count(&r.trace, "clone3") >= 64, "clone3: {}", count(&r.trace, "clone3"));
    assert_eq!(r.trace["runs"][0]["exit"], json!({"status": 0}));
}

#[test]
fn fork_vfork_clone3_and_exec_chain() {
    let r = record_fixture("forkexec", &[]);
    assert_eq!(r.code(), 0, "stderr:\n{}", r.out.stderr_str());
    let stdout = r.out.stdout_str();
    let clone3_child: u64 = stdout
        .trim()
        .strip_prefix("clone3 child pid ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected fixture output: {stdout:?}"));
    let t = &r.trace;
    // execve: the command itself, 3 in the fork chain, 1 after vfork.
    assert_eq!(count(t, "execve"), 5, "execve");
    assert_eq!(count(t, "clone"), 3, "clone (fork)");
    assert_eq!(count(t, "vfork"), 1, "vfork");
    assert_eq!(count(t, "clone3"), 1, "clone3");
    assert_eq!(count(t, "wait4"), 5, "wait4");
    // The clone3 child's one getppid call is recorded and attributed to it.
    let getppid = classes_named(t, "getppid");
    assert_eq!(getppid.len(), 1, "{getppid:?}");
    assert_eq!(count_of(getppid[0]), 1);
    assert_eq!(getppid[0]["pids"], json!([clone3_child]), "{}", getppid[0]);
    // clone3 flags come from its struct: index null; the fixture passes flags 0.
    let c3 = classes_named(t, "clone3");
    let flags = arg(c3[0], None).unwrap_or_else(|| panic!("clone3 without an index-null arg: {}", c3[0]));
    assert_eq!(flags["value"], "0x0", "{}", c3[0]);
    // fork() is clone(CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD) on x86_64.
    let clones = classes_named(t, "clone");
    assert_eq!(clones.len(), 1, "{clones:?}");
    let flags = arg(clones[0], Some(0)).unwrap_or_else(|| panic!("clone without arg 0: {}", clones[0]));
    assert_eq!(flags["value"], "0x1200011", "{}", clones[0]);
    // Top process, 3 chain children, the vfork child and the clone3 child.
    let totals = &t["runs"][0]["totals"];
    assert!(totals["processes"].as_u64().unwrap() >= 6, "{totals}");
    let execve = classes_named(t, "execve");
    assert!(execve.iter().all(|c| c["processes"].as_u64().unwrap() >= 5), "execve from 5 processes: {execve:?}");
}

#[test]
fn exec_from_non_main_thread_passes_exit_status() {
    let r = record_fixture("exec_from_thread", &[]);
    assert_eq!(r.code(), 7, "stderr:\n{}", r.out.stderr_str());
    let t = &r.trace;
    assert_eq!(t["runs"][0]["exit"], json!({"status": 7}));
    assert_eq!(count(t, "execve"), 2, "execve: the command and /bin/sh");
    // The busy threads' getppid loop was seen, and so was the shell that replaced the process.
    assert!(count(t, "getppid") >= 1);
    let sh = fs::canonicalize("/bin/sh").unwrap();
    let sh = sh.to_str().unwrap();
    assert!(classes(t).iter().any(|c| c["exes"].as_array().unwrap().iter().any(|e| e == sh)), "no class made by {sh}");
    assert_eq!(t["runs"][0]["totals"]["processes"], 1);
    assert!(t["runs"][0]["totals"]["threads"].as_u64().unwrap() >= 6);
}

#[test]
fn killed_by_signal_dies_by_the_same_signal() {
    use std::os::unix::process::ExitStatusExt;
    for (sig, n) in [("SEGV", 11), ("KILL", 9), ("TERM", 15), ("ABRT", 6)] {
        let exe = fixture_str("killself");
        let r = record(&[&exe, sig]);
        // As the workload died: a shell shows the same message, a supervisor sees the same signal.
        assert_eq!(r.out.status.signal(), Some(n), "SIG{sig}; stderr:\n{}", r.out.stderr_str());
        assert!(!r.out.status.core_dumped(), "SIG{sig}: trapline writes no core of its own");
        assert_eq!(r.trace["runs"][0]["exit"], json!({"status": 128 + n, "signal": format!("SIG{sig}")}), "SIG{sig}");
        assert_eq!(r.out.stdout_str(), format!("killself {sig}\n"));
        // A run that died from a signal is no healthy run to profile from: the trace says so.
        assert_eq!(r.trace["runs"][0]["complete"], false, "SIG{sig}");
        assert_eq!(r.trace["runs"][0]["incomplete"], format!("the workload was killed by SIG{sig}"));
        let mut as_if_complete = r.trace.clone();
        as_if_complete["runs"][0]["complete"] = json!(true);
        as_if_complete["runs"][0].as_object_mut().unwrap().remove("incomplete");
        check_trace(&as_if_complete);
    }
}

#[test]
fn exit_codes_pass_through() {
    for code in [0, 3, 42, 255] {
        let r = record_fixture("exitcode", &[&code.to_string()]);
        assert_eq!(r.code(), code);
        assert_eq!(r.trace["runs"][0]["exit"], json!({"status": code}));
        assert!(count(&r.trace, "exit_group") >= 1);
    }
}

/// The ioctl class with `request` value `req` on /dev/null.
fn dev_null_ioctl<'a>(trace: &'a Value, req: &str) -> &'a Value {
    let found: Vec<&Value> = classes_named(trace, "ioctl")
        .into_iter()
        .filter(|c| arg(c, Some(1)).is_some_and(|a| a["value"] == req))
        .collect();
    assert_eq!(found.len(), 1, "ioctl classes with request {req}: {found:?}");
    let c = found[0];
    assert_eq!(c["fd"]["kind"], "device", "{c}");
    assert_eq!(c["fd"]["path"], "/dev/null", "{c}");
    assert_eq!(c["fd"]["dev"], "1:3", "{c}");
    c
}

#[test]
fn ioctl_request_with_bit31_is_recorded_unsigned() {
    let r = record_fixture("ioctl_bit31", &[]);
    assert_eq!(r.code(), 0, "{}{}", r.out.stdout_str(), r.out.stderr_str());
    let c = dev_null_ioctl(&r.trace, "0xc0104629");
    assert_eq!(count_of(c), 1, "{c}");
    let req = arg(c, Some(1)).unwrap();
    assert_eq!(req["name"], "request", "{c}");
    assert!(req.get("raw").is_none(), "zero-extended request has no raw: {c}");
    assert_eq!(req["decoded"], "_IOWR('F', 0x29, 16)", "{c}");
    assert_eq!(req["ioc"], json!({"dir": "read|write", "type": 0x46, "nr": 0x29, "size": 16}), "{c}");
    assert_eq!(c["results"]["errors"], json!({"ENOTTY": 1}), "{c}");
    assert!(c["results"].get("ok").is_none_or(|ok| ok == 0), "{c}");

    let tcgets = dev_null_ioctl(&r.trace, "0x5401");
    assert_eq!(count_of(tcgets), 1, "{tcgets}");
    assert_eq!(tcgets["results"]["errors"], json!({"ENOTTY": 1}), "{tcgets}");
}

#[test]
fn ioctl_request_sign_extended_keeps_raw_register() {
    let r = record_fixture("ioctl_bit31", &["signext"]);
    assert_eq!(r.code(), 0, "{}{}", r.out.stdout_str(), r.out.stderr_str());
    let c = dev_null_ioctl(&r.trace, "0xc0104629");
    let req = arg(c, Some(1)).unwrap();
    assert_eq!(req["raw"], "0xffffffffc0104629", "{c}");
    assert_eq!(c["results"]["errors"], json!({"ENOTTY": 1}), "{c}");
}

#[test]
fn int80_from_64bit_process_is_an_i386_class() {
    let r = record_fixture("int80", &[]);
    assert_eq!(r.code(), 0, "{}{}", r.out.stdout_str(), r.out.stderr_str());
    let t = &r.trace;
    let i386 = syscall_counts_arch(t, "i386");
    assert_eq!(
        i386.into_iter().collect::<Vec<_>>(),
        vec![("getpid".to_string(), 1), ("getppid".to_string(), 1)],
        "i386 calls"
    );
    assert_eq!(classes_named_arch(t, "getpid", "i386")[0]["nr"], 20);
    assert_eq!(classes_named_arch(t, "getppid", "i386")[0]["nr"], 64);
    // ... and the 64-bit calls are still x86_64 classes.
    assert_eq!(classes_named_arch(t, "getpid", "x86_64")[0]["nr"], 39);
    assert_eq!(t["runs"][0]["arch"], "x86_64");
}

#[test]
fn workload_stdout_and_stderr_pass_through_unchanged() {
    let script = "printf 'bin\\000ary\\r\\n\\377'; seq 1 200000; printf 'to stderr\\n' >&2";
    let native = run(Command::new("/bin/sh").args(["-c", script]).stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert!(native.status.success());
    let r = record(&["/bin/sh", "-c", script]);
    check_trace(&r.trace);
    assert_eq!(r.code(), 0);
    assert!(r.out.stdout == native.stdout, "stdout differs from a native run");
    assert_eq!(r.out.stderr_str(), "to stderr\n", "with -q only the workload writes to stderr");
}

#[test]
fn summary_line_without_quiet() {
    let dir = TempDir::new("summary");
    let out_path = dir.join("t.json");
    let exe = fixture("exitcode");
    let out = run(Command::new(TRAPLINE)
        .arg("record")
        .arg("-o")
        .arg(&out_path)
        .arg("--")
        .arg(&exe)
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let trace = read_trace(&out_path, &out);
    check_trace(&trace);
    let totals = &trace["runs"][0]["totals"];
    let expected = format!(
        "trapline: recorded {} syscalls in {} classes from {} processes, {} threads -> {}\n",
        totals["syscalls"],
        totals["classes"],
        totals["processes"],
        totals["threads"],
        out_path.display()
    );
    assert_eq!(out.stderr_str(), expected);
    assert!(out.stdout.is_empty());
}

#[test]
fn default_output_is_trace_json_in_current_directory() {
    let dir = TempDir::new("default-out");
    let exe = fixture("exitcode");
    let out = run(Command::new(TRAPLINE)
        .current_dir(dir.path())
        .args(["record", "-q", "--"])
        .arg(&exe)
        .arg("3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 3, "{}", out.stderr_str());
    let trace = read_trace(&dir.join("trace.json"), &out);
    check_trace(&trace);
    // argv[0] only, as given on the command line.
    assert_eq!(trace["runs"][0]["command"], json!([exe.to_str().unwrap()]));
    let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("trace.json")], "no temporary files left");
}

#[test]
fn record_argv_keeps_the_whole_command_line() {
    let exe = fixture_str("exitcode");
    let r = record_with(&["--record-argv"], &[&exe, "3"]);
    check_trace(&r.trace);
    assert_eq!(r.code(), 3);
    assert_eq!(r.trace["runs"][0]["command"], json!([exe, "3"]));
}

#[test]
fn results_auto_versus_all() {
    let exe = fixture_str("ioctl_bit31");
    let auto = record(&[&exe]);
    let all = record_with(&["--results", "all"], &[&exe]);
    for r in [&auto, &all] {
        check_trace(&r.trace);
        assert_eq!(r.code(), 0);
    }
    assert_eq!(auto.trace["runs"][0]["results"], "auto");
    assert_eq!(all.trace["runs"][0]["results"], "all");
    // fd-creating calls have results either way: opening /dev/null succeeded.
    for r in [&auto, &all] {
        let openat = classes_named(&r.trace, "openat");
        assert!(openat.iter().any(|c| c["results"]["ok"].as_u64().unwrap_or(0) >= 1), "openat results: {openat:?}");
        let execve = classes_named(&r.trace, "execve");
        assert_eq!(execve[0]["results"]["ok"], 1, "execve results: {execve:?}");
    }
    // brk is neither fd-creating, ioctl nor exec: results only with --results all.
    let brk_auto = classes_named(&auto.trace, "brk");
    assert!(!brk_auto.is_empty());
    assert!(brk_auto.iter().all(|c| c.get("results").is_none()), "{brk_auto:?}");
    let brk_all = classes_named(&all.trace, "brk");
    assert!(brk_all.iter().all(|c| c["results"]["ok"].as_u64() == Some(count_of(c))), "{brk_all:?}");
    // With --results all, every class of calls that return has results.
    for c in classes(&all.trace) {
        if c["syscall"] != "exit_group" && c["syscall"] != "exit" {
            assert!(c.get("results").is_some(), "no results with --results all: {c}");
        }
    }
    // Same calls either way.
    assert_eq!(syscall_counts(&auto.trace), syscall_counts(&all.trace));
}

#[test]
fn trace_keys_are_documented_and_in_documented_order() {
    // Runs whose traces use the optional parts: decoded args with raw and fd, results, a signal exit.
    let runs = [("ioctl_bit31", vec!["signext"]), ("forkexec", vec![]), ("killself", vec!["TERM"])];
    for (name, args) in runs {
        let exe = fixture_str(name);
        let mut cmd = vec![exe.as_str()];
        cmd.extend(args);
        let r = record(&cmd);
        let text = fs::read_to_string(r.dir.join("trace.json")).unwrap();
        check_trace_key_order(&text);
    }
}

#[test]
fn same_behaviour_gives_the_same_classes_in_the_same_order() {
    // What may differ between two runs is data (pids, times, durations); the classes and their order may not.
    let exe = fixture_str("forkexec");
    let shape = |t: &Value| -> Vec<Value> {
        classes(t)
            .iter()
            .map(|c| {
                json!([
                    c["syscall"],
                    c["arch"],
                    c["nr"],
                    c["args"],
                    c["fd"],
                    c["count"],
                    c["results"],
                    c["processes"],
                    c["exes"]
                ])
            })
            .collect()
    };
    let a = record(&[&exe]);
    let b = record(&[&exe]);
    assert_eq!(a.code(), 0);
    assert_eq!(b.code(), 0);
    assert_eq!(shape(&a.trace), shape(&b.trace));
}

#[test]
fn fixture_sources_have_a_purpose_comment() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "c") {
            let text = fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("/* ") && text.lines().next().unwrap().ends_with("*/"),
                "{} must start with a one-line comment saying what it is for",
                path.display()
            );
        }
    }
}

/// trapline's launcher makes the workload's first execve: that call has no call site of the workload's, and no
/// trace names trapline's own binary (its path on the recording machine would be noise in a committed trace).
#[test]
fn the_launchers_exec_has_no_call_site() {
    let trapline = fs::canonicalize(TRAPLINE).unwrap();
    let trapline = trapline.to_str().unwrap();
    for backend in ["ptrace", "notify"] {
        let alone = record_with(&["--backend", backend], &["/bin/true"]);
        let execve = classes_named(&alone.trace, "execve");
        assert_eq!(execve.len(), 1, "{backend}");
        assert!(execve[0].get("site").is_none(), "{backend}: {}", execve[0]);
        let again = record_with(&["--backend", backend], &["/bin/sh", "-c", "exec /bin/true"]);
        let execve = classes_named(&again.trace, "execve");
        let library = execve[0]["site"]["at"]["library"].as_str().unwrap_or_default();
        assert!(library.contains("libc.so"), "{backend}: the shell's exec, made in libc: {}", execve[0]);
        for r in [&alone, &again] {
            assert!(!r.trace.to_string().contains(trapline), "{backend}: the trace names {trapline}");
        }
    }
}
