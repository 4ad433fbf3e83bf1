//! The ptrace backend where PTRACE_GET_SYSCALL_INFO is unknown (Linux before 5.3, such as RHEL 8's 4.18, and
//! gVisor): each call is then read from the registers. `TRAPLINE_PTRACE_REGISTERS=1` takes that path on any
//! kernel; the trace must be the one PTRACE_GET_SYSCALL_INFO gives, results and i386 calls included.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

use common::*;

/// (syscall, arch, argument values, fd, results) -> calls.
fn calls(trace: &Value) -> BTreeMap<(String, String, Vec<String>, String, String), u64> {
    let mut out = BTreeMap::new();
    for c in classes(trace) {
        let args = c["args"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap().to_string()).collect();
        let key = (
            c["syscall"].as_str().unwrap().to_string(),
            c["arch"].as_str().unwrap().to_string(),
            args,
            c["fd"].to_string(),
            c["results"].to_string(),
        );
        *out.entry(key).or_insert(0) += count_of(c);
    }
    out
}

/// Records `cmd` both ways with `opts`; the traces must agree on every class but those whose count depends on
/// timing.
fn same_either_way(opts: &[&str], cmd: &[&str], timing: &[&str]) {
    let info = record_with(opts, cmd);
    let dir = TempDir::new("registers");
    let out = run(record_command(&dir, opts, cmd).env("TRAPLINE_PTRACE_REGISTERS", "1"));
    let registers = read_trace(&dir.join("trace.json"), &out);
    assert_eq!(out.code(), info.code(), "{}", out.stderr_str());
    let (mut a, mut b) = (calls(&info.trace), calls(&registers));
    for map in [&mut a, &mut b] {
        map.retain(|(name, ..), _| !timing.contains(&name.as_str()));
    }
    assert_eq!(b, a, "registers (left) and PTRACE_GET_SYSCALL_INFO (right) disagree for {cmd:?} {opts:?}");
    assert_eq!(registers["runs"][0]["totals"]["processes"], info.trace["runs"][0]["totals"]["processes"]);
}

#[test]
fn forks_clone3_vfork_and_execs_with_every_result() {
    same_either_way(&["--results", "all"], &[fixture("forkexec").to_str().unwrap()], &[]);
}

#[test]
fn threads() {
    same_either_way(&[], &[fixture("threads64").to_str().unwrap()], &["futex"]);
}

#[test]
fn int80_from_64_bit_code_is_an_i386_call() {
    same_either_way(&["--results", "all"], &[fixture("int80").to_str().unwrap()], &[]);
    let dir = TempDir::new("registers-int80");
    let out =
        run(record_command(&dir, &[], &[fixture("int80").to_str().unwrap()]).env("TRAPLINE_PTRACE_REGISTERS", "1"));
    let trace = read_trace(&dir.join("trace.json"), &out);
    assert_eq!(classes_named_arch(&trace, "getppid", "i386").len(), 1, "getppid through int $0x80 is i386's");
}

#[test]
fn ioctl_requests_devices_and_results() {
    same_either_way(&[], &[fixture("ioctl_bit31").to_str().unwrap()], &[]);
    same_either_way(&[], &[fixture("fd_reuse").to_str().unwrap()], &[]);
}
