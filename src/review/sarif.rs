//! `trapline check --format sarif`: SARIF 2.1.0 for code-scanning upload (GitHub's upload-sarif action).
//!
//! One run, `tool.driver.name` "trapline", one rule per finding kind, one result per finding (violations at
//! level `error`, undecided classes at `warning`). Every result points at the profile file, at the line that
//! decided (the entry, `defaultAction` or `architectures`), because that is the file a fix changes. Only
//! fields the 2.1.0 schema defines are written; `partialFingerprints` keeps a finding's identity across runs.

use serde_json::{Value, json};

use super::check::{CheckReport, FindingKind};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn sarif(report: &CheckReport) -> String {
    let uri = uri(&report.profile.display().to_string());
    let rules: Vec<Value> = FindingKind::ALL
        .iter()
        .map(|kind| {
            json!({
                "id": kind.id(),
                "name": rule_name(*kind),
                "shortDescription": {"text": kind.description()},
                "fullDescription": {"text": kind.description()},
                "defaultConfiguration": {"level": level(*kind)},
                "help": {"text": help(*kind)},
            })
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
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": f.line},
                    }
                }],
                "partialFingerprints": {"traplineClass/v1": f.fingerprint},
                "properties": {"trace": f.trace.display().to_string()},
            })
        })
        .collect();
    let log = json!({
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
            "artifacts": [{"location": {"uri": uri}}],
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
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

/// The profile path as given, as a URI reference: characters a URI cannot hold are percent-encoded, so
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
