//! `trapline check --format sarif`: SARIF 2.1.0 for code-scanning upload (GitHub's upload-sarif action).
//!
//! One run, `tool.driver.name` "trapline", one rule per finding kind, one result per finding (violations at
//! level `error`, undecided classes at `warning`). Every result points at the profile file, at the line that
//! decided (the entry, `defaultAction` or `architectures`), because that is the file a fix changes. Only
//! fields the 2.1.0 schema defines are written; `partialFingerprints` keeps a finding's identity across runs.
//!
//! Code scanning places a result by a URI relative to the repository root: the profile's path is written
//! relative to the nearest directory above it that holds `.git` (`%SRCROOT%`), wherever trapline ran from.
//! Rules carry `tags` and a `security-severity`, which GitHub shows as the alert's severity.

use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use super::check::{CheckReport, FindingKind};
use crate::files::position;
use crate::profile::lint::{self, Severity};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn sarif(report: &CheckReport) -> String {
    let artifact = Artifact::of(&report.profile);
    let rules: Vec<Value> = FindingKind::ALL
        .iter()
        .map(|kind| {
            rule(kind.id(), rule_name(*kind), kind.description(), level(*kind), help(*kind), security_severity(*kind))
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let rule_index = FindingKind::ALL.iter().position(|k| *k == f.kind).unwrap_or(0);
            json!({
                "ruleId": f.kind.id(),
                "ruleIndex": rule_index,
                "level": level(f.kind),
                "message": {"text": format!("{} (trace {})", f.message(), f.trace.display())},
                "locations": [artifact.location(Some(f.line))],
                "partialFingerprints": {"traplineClass/v1": f.fingerprint},
                "properties": {"trace": f.trace.display().to_string()},
            })
        })
        .collect();
    log(&artifact, rules, results)
}

/// `trapline lint --format sarif`: one result per finding, at the line its location points at in the
/// profile's JSON text (a YAML file's findings are placed on the file alone).
pub fn lint(path: &Path, text: &[u8], findings: &[lint::Finding]) -> String {
    let artifact = Artifact::of(path);
    let json_text = std::str::from_utf8(text).ok().filter(|t| t.trim_start().starts_with(['{', '[']));
    let kinds = [
        (
            Severity::Error,
            "lint-error",
            "ProfileRefused",
            "A consumer of the profile (libseccomp, runc, containerd,           Docker, the kernel) refuses it, or it does something other than it says.",
            "error",
            "7.0",
        ),
        (
            Severity::Warning,
            "lint-warning",
            "ProfileWeakened",
            "The profile works, but a consumer drops, skips or           refuses part of it, or it protects less than it could.",
            "warning",
            "4.0",
        ),
    ];
    let fix = "The message says which consumer and how to fix the profile; `trapline lint` repeats it locally.";
    let rules: Vec<Value> =
        kinds.iter().map(|(_, id, name, text, level, severity)| rule(id, name, text, level, fix, severity)).collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = kinds.iter().position(|k| k.0 == f.severity).unwrap_or(0);
            let line = json_text.map(|t| position::line_of(t, &position::steps(&f.location)));
            json!({
                "ruleId": kinds[index].1,
                "ruleIndex": index,
                "level": kinds[index].4,
                "message": {"text": format!("{}: {}", f.location, f.message)},
                "locations": [artifact.location(line)],
                "partialFingerprints": {"traplineLint/v1": format!("{}:{}", f.location, f.message)},
            })
        })
        .collect();
    log(&artifact, rules, results)
}

/// The profile file as code scanning places it.
struct Artifact {
    root: Option<PathBuf>,
    uri: String,
}

impl Artifact {
    fn of(path: &Path) -> Artifact {
        let (root, relative) = repository_path(path);
        Artifact { root, uri: uri(&relative.to_string_lossy()) }
    }

    fn location(&self, line: Option<usize>) -> Value {
        let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": self.uri, "uriBaseId": SRCROOT}}});
        if let Some(line) = line {
            location["physicalLocation"]["region"] = json!({"startLine": line});
        }
        location
    }
}

fn rule(id: &str, name: &str, description: &str, level: &str, help: &str, severity: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": level},
        "help": {"text": help},
        "properties": {"tags": ["security", "seccomp"], "security-severity": severity},
    })
}

/// The log: one run of trapline over the one artifact.
fn log(artifact: &Artifact, rules: Vec<Value>, results: Vec<Value>) -> String {
    let mut log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "trapline",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "artifacts": [{"location": {"uri": artifact.uri, "uriBaseId": SRCROOT}}],
            "results": results,
        }]
    });
    if let Some(root) = &artifact.root {
        log["runs"][0]["originalUriBaseIds"] = json!({SRCROOT: {"uri": directory_uri(root)}});
    }
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

/// The base the profile's URI is relative to: the repository root.
const SRCROOT: &str = "%SRCROOT%";

/// The repository root above `path` (the nearest directory holding `.git`, a directory or a worktree's
/// file) and `path` relative to it. Outside a repository: no root, and the path relative to the current
/// directory where it lies below it, else as given.
pub(super) fn repository_path(path: &Path) -> (Option<PathBuf>, PathBuf) {
    let absolute = std::path::absolute(path).map(|p| normalize(&p)).unwrap_or_else(|_| path.to_path_buf());
    let root = absolute.ancestors().skip(1).find(|dir| dir.join(".git").exists()).map(Path::to_path_buf);
    let base = root.clone().or_else(|| std::env::current_dir().ok());
    let relative = base.and_then(|base| absolute.strip_prefix(base).ok().map(Path::to_path_buf));
    (root, relative.unwrap_or_else(|| path.to_path_buf()))
}

/// `a/b/../c` as `a/c`, without touching the file system (the profile may be reached through a symlink).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A directory as a `file://` URI ending in `/`, as SARIF's `originalUriBaseIds` wants it.
fn directory_uri(dir: &Path) -> String {
    format!("file://{}/", uri(&dir.to_string_lossy()).trim_end_matches('/'))
}

/// How GitHub ranks the alert (0.0 to 10.0; 7.0 and up is "high"): a call the profile denies breaks the
/// workload in production, one it may deny depends on what the trace could not see.
fn security_severity(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::SyscallDenied | FindingKind::ArgumentsDenied | FindingKind::ArchitectureNotCovered => "7.0",
        FindingKind::Undecided => "4.0",
    }
}

fn level(kind: FindingKind) -> &'static str {
    if kind.is_violation() { "error" } else { "warning" }
}

fn rule_name(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::SyscallDenied => "SyscallDenied",
        FindingKind::ArgumentsDenied => "ArgumentsDenied",
        FindingKind::ArchitectureNotCovered => "ArchitectureNotCovered",
        FindingKind::Undecided => "Undecided",
    }
}

fn help(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Undecided => {
            "Record with a trapline that decodes these arguments, or drop the condition from the profile if it \
             is not needed."
        }
        _ => {
            "If the new behaviour is expected, record a healthy run and regenerate the profile with `trapline \
             profile`; review the change with `trapline diff`. Otherwise, find what in the workload changed."
        }
    }
}

/// A path as a URI reference: characters a URI cannot hold are percent-encoded, so
/// ordinary relative paths (`profiles/app.json`) stay as they are.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_as_given_unless_a_uri_cannot_hold_them() {
        assert_eq!(uri("profiles/app.json"), "profiles/app.json");
        assert_eq!(uri("/tmp/my profile.json"), "/tmp/my%20profile.json");
    }
}
