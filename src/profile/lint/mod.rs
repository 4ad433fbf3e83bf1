//! `trapline lint`: what each consumer of a seccomp profile (libseccomp, runc, containerd, Docker, glibc, the
//! Kubernetes KEP-6061 validation) will do with it, found before a node does.
//!
//! Input is any form [`crate::profile::read`] finds a profile in: a runtime-spec `linux.seccomp` object, a
//! bundle `config.json` holding one, a Security Profiles Operator `SeccompProfile` object (its `spec`), or a
//! List of those (each item linted at its own location). The profile is read as plain JSON, not as the typed
//! [`super::oci::Seccomp`]: unknown keys, wrong types and unknown strings become findings with a location,
//! and no input makes lint panic.
//!
//! Each check is one function whose comment names the consumer it protects. The libseccomp check builds the
//! filter for real, per architecture, with this machine's libseccomp (as runc and crun would on a node).
//!
//! The work is split by job: `model` reads the located object leniently into a small model, reporting wrong
//! types once; `libseccomp` compiles that model as runc and crun would and explains what libseccomp refuses;
//! `checks` holds the other consumers' rules, over the strings of `vocabulary`; `podspec` lints a workload's
//! pod spec instead. All of them report a `finding` into `out`, which locates it in the document.
//! [`lint_bytes`] runs them in a fixed order; the findings are sorted into profile order at the end.

mod checks;
mod engines;
mod finding;
mod libseccomp;
mod model;
mod out;
mod podspec;
mod vocabulary;

pub use engines::LISTENER_DROPPED;
pub use finding::{Finding, Severity, json, text};

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::profile::runtime::Runtime;

use crate::profile::read::{Document, Found, LocateError, ParseError, list_item};

use checks::{
    check_clone3, check_default_allow, check_entries_per_syscall, check_errno_without_errno_action,
    check_filter_bypasses, check_foreign_keys, check_ioctl_request_width, check_kill_thread, check_mask_zero,
    check_notify, check_risky, check_runtime_needs, check_strings,
};
use libseccomp::check_libseccomp;
use model::read_profile;
use out::Out;

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: {what}; is this a seccomp profile or a Kubernetes manifest, in JSON or YAML?")]
    Json { path: PathBuf, line: usize, column: usize, what: String },
    #[error(
        "{path}: {error}; expected an OCI seccomp profile (with defaultAction), a runtime config.json with \
         linux.seccomp, a SeccompProfile object or a List of them"
    )]
    NotSeccomp { path: PathBuf, error: LocateError },
}

/// Lints one file for a container started by `runtime` (`None`: no runtime acts after the filter is
/// loaded). `Ok` with no findings means clean.
pub fn lint_file(path: &Path, runtime: Option<Runtime>) -> Result<Vec<Finding>, LintError> {
    lint_bytes(path, &read(path)?, runtime)
}

/// The file's bytes (`-`: standard input), for [`lint_bytes`] and reports that place findings on its lines.
pub fn read(path: &Path) -> Result<Vec<u8>, LintError> {
    crate::files::read(path).map_err(|error| LintError::Io { path: path.to_path_buf(), error })
}

/// Lints a profile held in memory; `path` only names it in errors. A List is linted item by item, each at
/// its own location.
pub fn lint_bytes(path: &Path, bytes: &[u8], runtime: Option<Runtime>) -> Result<Vec<Finding>, LintError> {
    let document = Document::parse(bytes).map_err(|ParseError { line, column, what }| LintError::Json {
        path: path.to_path_buf(),
        line,
        column,
        what,
    })?;
    if let Some(findings) = podspec::lint_workload(document.value()) {
        return Ok(findings);
    }
    let not_seccomp = |error| LintError::NotSeccomp { path: path.to_path_buf(), error };
    if let Some(items) = manifest(document.value()) {
        let mut findings = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(workload) = podspec::lint_workload(item) {
                findings.extend(
                    workload.into_iter().map(|f| Finding { location: format!("items[{index}].{}", f.location), ..f }),
                );
            } else if let Some(profile) = list_item(index, item) {
                findings.extend(lint_object(&profile.map_err(not_seccomp)?, runtime));
            }
        }
        return Ok(findings);
    }
    let found = document.profiles().map_err(not_seccomp)?;
    Ok(found.iter().flat_map(|found| lint_object(found, runtime)).collect())
}

/// The items of a manifest that mixes kinds (a List, or a YAML stream, as `kubectl apply -f` takes it) and
/// holds a workload: each item is linted as what it is, and kinds with nothing to lint are passed over.
fn manifest(value: &Value) -> Option<&[Value]> {
    let items = value.get("items").filter(|_| value.get("kind").and_then(Value::as_str) == Some("List"))?.as_array()?;
    items.iter().any(|item| podspec::lint_workload(item).is_some()).then_some(items.as_slice())
}

/// The findings for one seccomp object, in profile order.
fn lint_object(found: &Found<'_>, runtime: Option<Runtime>) -> Vec<Finding> {
    let mut out = Out::new(&found.location);
    let profile = read_profile(found.object, found.form, &mut out);
    check_strings(&profile, &mut out);
    check_libseccomp(&profile, &mut out);
    check_mask_zero(&profile, &mut out);
    check_notify(&profile, &mut out);
    check_foreign_keys(&profile, &mut out);
    check_entries_per_syscall(&profile, &mut out);
    check_default_allow(&profile, &mut out);
    check_errno_without_errno_action(&profile, &mut out);
    check_kill_thread(&profile, &mut out);
    check_clone3(&profile, &mut out);
    check_filter_bypasses(&profile, &mut out);
    check_risky(&profile, &mut out);
    check_ioctl_request_width(&profile, &mut out);
    check_runtime_needs(&profile, runtime, &mut out);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn lint(json: &str) -> Vec<Finding> {
        lint_bytes(Path::new("p.json"), json.as_bytes(), None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The findings at `location` with `severity`, as text for assertion messages.
    fn at(findings: &[Finding], severity: Severity, location: &str) -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.severity == severity && f.location == location)
            .map(|f| f.message.clone())
            .collect()
    }

    pub(super) fn assert_one(findings: &[Finding], severity: Severity, location: &str, needle: &str) {
        let found = at(findings, severity, location);
        assert!(
            found.len() == 1 && found[0].contains(needle),
            "want one {severity} at {location} containing {needle:?}; all findings:\n{}",
            findings.iter().map(|f| format!("{f}\n")).collect::<String>()
        );
    }

    /// A clean profile with `extra` spliced into its syscalls.
    pub(super) fn with_entries(extra: &str) -> String {
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
                {{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}},
                {{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}}{extra}]}}"#
        )
    }

    #[test]
    fn clean_profile_has_no_findings() {
        assert_eq!(lint(&with_entries("")), vec![]);
    }

    #[test]
    fn huge_numbers_and_strange_names_do_not_panic() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4294967295, "syscalls": [
                {"names": ["", "nul\u0000byte", "clone3"], "action": "SCMP_ACT_TRACE", "errnoRet": 4294967295,
                 "args": [{"index": 4294967295, "value": 18446744073709551615, "valueTwo": 18446744073709551615, "op": "SCMP_CMP_GT"}]}]}"#,
        );
        assert!(!f.is_empty());
        assert!(f.iter().all(|f| !f.message.is_empty() && !f.location.is_empty()), "{f:?}");
    }

    #[test]
    fn each_list_item_is_linted_at_its_location() {
        let item = |spec: &str| {
            format!(
                r#"{{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
                    "metadata": {{"name": "p"}}, "spec": {spec}}}"#
            )
        };
        let list = format!(
            r#"{{"apiVersion": "v1", "kind": "List", "items": [{}, {}]}}"#,
            item(&with_entries("")),
            item(r#"{"defaultAction": "SCMP_ACT_ALLOW", "baseProfileName": "runc-v1.1.5"}"#)
        );
        let f = lint(&list);
        assert_one(&f, Severity::Warning, "items[1].spec.defaultAction", "denies only what it lists");
        assert_eq!(f.len(), 1, "{f:?}");

        let list = format!(r#"{{"kind": "List", "items": [{}, {{"kind": "ConfigMap"}}]}}"#, item(&with_entries("")));
        let err = lint_bytes(Path::new("p.json"), list.as_bytes(), None).unwrap_err().to_string();
        assert!(err.starts_with("p.json: items[1] is a ConfigMap, not a SeccompProfile"), "{err}");
    }

    #[test]
    fn input_errors_name_the_file_and_place() {
        let err = lint_bytes(Path::new("p.json"), b"{\n  \"defaultAction\": ", None).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("p.json:2:"), "{text}");
        assert!(!text.contains('\n'), "{text}");

        for (json, needle) in [
            ("[]", "top level is not a JSON object"),
            (r#"{"foo": 1}"#, "no defaultAction or syscalls"),
            (r#"{"ociVersion": "1.1.0", "linux": {}}"#, "without a linux.seccomp"),
            (
                r#"{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile"}"#,
                "without a spec",
            ),
        ] {
            let err = lint_bytes(Path::new("p.json"), json.as_bytes(), None).unwrap_err();
            assert!(matches!(err, LintError::NotSeccomp { .. }), "{json}: {err}");
            assert!(err.to_string().starts_with("p.json: ") && err.to_string().contains(needle), "{err}");
        }

        let err = lint_file(Path::new("/nonexistent/p.json"), None).unwrap_err();
        assert!(matches!(err, LintError::Io { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot read /nonexistent/p.json: "), "{err}");
    }
}
