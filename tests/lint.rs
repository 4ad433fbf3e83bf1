//! `trapline lint PROFILE` from the command line: exit 0 when clean, 1 with one line per finding
//! (`PATH: LOCATION: severity: message`, the same findings the library returns), 2 with one line on stderr when
//! the input cannot be read or is not a seccomp profile.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use trapline::profile::lint::{Severity, lint_file};
use trapline::profile::runtime::Runtime;

use common::*;

/// `trapline lint --runtime none PATH`: the profiles here are about the other checks, not a runtime's needs.
fn trapline_lint(path: &Path) -> Finished {
    run(Command::new(TRAPLINE)
        .args(["lint", "--runtime", "none"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()))
}

const CLEAN: &str = r#"{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["exit_group", "read", "write"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 1, "value": 4294967295, "valueTwo": 21505, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
  ]
}"#;

/// One error (mask 0), two warnings (a Docker comment, ioctl compared on 64 bits) and an error for clone3.
const DIRTY: &str = r#"{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "stdin"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_EQ"}]}
  ]
}"#;

/// The lines `trapline lint` must print for `path`: the library's findings, in its order.
fn expected_lines(path: &Path) -> Vec<String> {
    lint_file(path, None).unwrap_or_else(|e| panic!("{e}")).iter().map(|f| format!("{}: {f}", path.display())).collect()
}

#[test]
fn clean_profile_exits_0() {
    let dir = TempDir::new("lint-clean");
    let path = dir.join("clean.json");
    fs::write(&path, CLEAN).unwrap();
    assert_eq!(expected_lines(&path), Vec::<String>::new());
    let out = trapline_lint(&path);
    assert_eq!(out.code(), 0, "{}{}", out.stdout_str(), out.stderr_str());
    assert!(out.stderr.is_empty(), "{}", out.stderr_str());
    assert!(
        !out.stdout_str().contains(": error: ") && !out.stdout_str().contains(": warning: "),
        "{}",
        out.stdout_str()
    );
}

#[test]
fn findings_exit_1_with_one_line_each() {
    let dir = TempDir::new("lint-dirty");
    let path = dir.join("dirty.json");
    fs::write(&path, DIRTY).unwrap();
    let want = expected_lines(&path);
    let p = path.display();
    for (location, severity) in [
        ("defaultAction", "error"),
        ("syscalls[0].comment", "warning"),
        ("syscalls[1].args[0].value", "error"),
        ("syscalls[2].args[0].op", "warning"),
    ] {
        let prefix = format!("{p}: {location}: {severity}: ");
        assert!(want.iter().any(|l| l.starts_with(&prefix)), "no {prefix:?} in {want:#?}");
    }
    assert_eq!(want.len(), 4, "{want:#?}");

    let out = trapline_lint(&path);
    assert_eq!(out.code(), 1, "{}{}", out.stdout_str(), out.stderr_str());
    let got: Vec<String> = out.stdout_str().lines().map(str::to_string).collect();
    assert_eq!(got, want);
}

#[test]
fn bundle_config_findings_are_located_under_linux_seccomp() {
    let dir = TempDir::new("lint-bundle");
    let path = dir.join("config.json");
    let config =
        format!(r#"{{"ociVersion": "1.1.0", "process": {{"args": ["sh"]}}, "linux": {{"seccomp": {DIRTY}}}}}"#);
    fs::write(&path, config).unwrap();
    let out = trapline_lint(&path);
    assert_eq!(out.code(), 1, "{}{}", out.stdout_str(), out.stderr_str());
    let stdout = out.stdout_str();
    let prefix = format!("{}: linux.seccomp.", path.display());
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with(&prefix)), "{stdout}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = TempDir::new("lint-bad");
    let truncated = dir.join("truncated.json");
    fs::write(&truncated, "{\n  \"defaultAction\": ").unwrap();
    let not_profile = dir.join("not-profile.json");
    fs::write(&not_profile, r#"{"hello": "world"}"#).unwrap();
    let missing = dir.join("missing.json");
    for (path, needle) in [
        (&truncated, format!("{}:2:", truncated.display())),
        (&not_profile, format!("{}: ", not_profile.display())),
        (&missing, format!("{}", missing.display())),
    ] {
        let out = trapline_lint(path);
        let stderr = out.stderr_str();
        assert_eq!(out.code(), 2, "{}: {stderr}", path.display());
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
        assert!(stderr.contains(&needle), "want {needle:?} in {stderr:?}");
        assert!(out.stdout.is_empty(), "{}", out.stdout_str());
    }
}

#[test]
fn profile_made_by_trapline_has_no_errors() {
    let rec = record(&["/bin/ls", "/"]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    let profile = rec.dir.join("profile.json");
    let out = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(rec.dir.join("trace.json"))
        .arg("-o")
        .arg(&profile)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());

    let findings = lint_file(&profile, Some(Runtime::Runc)).unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<String> =
        findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let out = trapline_lint(&profile);
    let want = if findings.is_empty() { 0 } else { 1 };
    assert_eq!(out.code(), want, "{}{}", out.stdout_str(), out.stderr_str());
    assert!(!out.stdout_str().contains(": error: "), "{}", out.stdout_str());
}

/// `lint --format json`: the same findings as the text, as one document a machine can read.
#[test]
fn lint_writes_json_for_machines() {
    let dir = TempDir::new("lint-json");
    let path = dir.join("p.json");
    fs::write(
        &path,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["bogus_call"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let text = trapline_lint(&path);
    let out = run(Command::new(TRAPLINE)
        .args(["lint", "--format", "json"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["file"].as_str(), path.to_str());
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), text.stdout_str().lines().count(), "{report:#}");
    assert_eq!(report["warnings"].as_u64(), Some(findings.len() as u64));
    assert!(findings.iter().any(|f| f["location"] == "syscalls[0].names[0]" && f["severity"] == "warning"));
}

/// A profile runc cannot start a container under is an error: runc execs the workload (and makes calls of its
/// own) after it loads the filter. `--runtime none` is for profiles no runtime loads.
#[test]
fn a_profile_that_denies_what_the_runtime_needs_fails() {
    let dir = TempDir::new("lint-runtime");
    let path = dir.join("noexec.json");
    fs::write(&path, CLEAN).unwrap();
    let out = run(Command::new(TRAPLINE).arg("lint").arg(&path).stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let report = out.stdout_str();
    let error = format!("{}: syscalls: error: runc calls ", path.display());
    let line = report.lines().find(|l| l.starts_with(&error)).unwrap_or_else(|| panic!("{report}"));
    assert!(line.contains("execve") && line.contains("the container cannot start"), "{line}");
    assert!(report.contains("trapline profile --runtime runc"), "{report}");
    let crun = run(Command::new(TRAPLINE)
        .args(["lint", "--runtime", "crun"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert!(
        crun.stdout_str().contains("error: crun calls ") && crun.stdout_str().contains("execve"),
        "{}",
        crun.stdout_str()
    );
    assert_eq!(trapline_lint(&path).code(), 0, "--runtime none: nothing acts after the filter");
}

/// `lint --format sarif`: each finding on the line of the profile its location names, valid against the OASIS
/// SARIF 2.1.0 schema, and relative to the repository root.
#[test]
fn lint_writes_sarif_on_the_lines_of_the_profile() {
    let dir = TempDir::new("lint-sarif");
    run(Command::new("git").args(["init", "-q"]).arg(dir.path()));
    let path = dir.join("dirty.json");
    fs::write(&path, DIRTY).unwrap();
    let out = run(Command::new(TRAPLINE)
        .args(["lint", "--runtime", "none", "--format", "sarif", "-o"])
        .arg(dir.join("lint.sarif"))
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 1, "{}", out.stderr_str());
    let log: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("lint.sarif")).unwrap()).unwrap();
    let lines: Vec<(String, u64)> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let location = &r["locations"][0]["physicalLocation"];
            assert_eq!(location["artifactLocation"]["uri"], "dirty.json");
            (r["message"]["text"].as_str().unwrap().to_string(), location["region"]["startLine"].as_u64().unwrap())
        })
        .collect();
    // The line each location is on in DIRTY.
    let line_of = |needle: &str| DIRTY.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
    for (prefix, line) in [
        ("syscalls[0].comment: ", line_of("\"comment\"")),
        ("syscalls[1].args[0].value: ", line_of("\"valueTwo\": 0")),
        ("syscalls[2].args[0].op: ", line_of("\"op\": \"SCMP_CMP_EQ\"")),
    ] {
        assert!(lines.iter().any(|(m, l)| m.starts_with(prefix) && *l == line), "{prefix} on line {line}: {lines:#?}");
    }
    assert_valid_sarif(&dir.join("lint.sarif"));
}

/// The recording profile notifies an agent through listenerPath: `profile --recording` and `lint` both say
/// which engines drop it (and hang the container), on one warning line each.
#[test]
fn the_recording_profile_names_the_engines_that_drop_its_listener() {
    let dir = TempDir::new("lint-listener");
    let path = dir.join("recording.json");
    let made = run(Command::new(TRAPLINE)
        .args(["profile", "--recording", "--listener", "/run/trapline/agent.sock", "-o"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(made.code(), 0, "{}", made.stderr_str());
    let stderr = made.stderr_str();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("drop listenerPath")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].starts_with("trapline: warning: Docker before 23.0"), "{stderr}");
    assert!(warnings[0].contains("CRI-O before 1.25") && warnings[0].contains("record --container"), "{stderr}");
    assert!(warnings[0].contains("trapline runtime"), "{stderr}");

    let out = trapline_lint(&path);
    let stdout = out.stdout_str();
    let at_listener: Vec<&str> = stdout.lines().filter(|l| l.contains(": listenerPath: warning: ")).collect();
    assert_eq!(at_listener.len(), 1, "{stdout}");
    assert!(at_listener[0].contains("containerd before 1.6") && at_listener[0].contains("Created"), "{stdout}");
}
