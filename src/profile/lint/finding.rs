//! What lint reports: a finding, its severity and where in the document it is. Below every check (and the
//! workload lint), so that they all share it without depending on each other.

use std::fmt;
use std::path::Path;

use anstyle::AnsiColor;

use crate::files::json::to_json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A consumer refuses the profile, or the profile does something other than it says.
    Error,
    /// Works, but some consumer drops, skips or refuses part of it, or it protects less than it could.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, at a JSON path a person can find (`syscalls[3].args[0]`, `linux.seccomp.defaultAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub location: String,
    /// What breaks, in which consumer, and the fix.
    pub message: String,
}

/// `LOCATION: severity: message`; the CLI puts `PATH: ` in front.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)
    }
}

/// The report a person reads: `PATH: LOCATION: severity: message`, one finding a line, the severity coloured
/// (the writer strips colour where it is not wanted).
pub fn text(path: &Path, findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let style = match f.severity {
            Severity::Error => AnsiColor::Red.on_default().bold(),
            Severity::Warning => AnsiColor::Yellow.on_default(),
        };
        out.push_str(&format!("{}: {}: {style}{}{style:#}: {}\n", path.display(), f.location, f.severity, f.message));
    }
    out
}

/// The report for machines: `{"file", "errors", "warnings", "findings": [{"severity", "location", "message"}]}`.
pub fn json(path: &Path, findings: &[Finding]) -> String {
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let document = serde_json::json!({
        "file": path.display().to_string(),
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "findings": findings
            .iter()
            .map(|f| serde_json::json!({
                "severity": f.severity.to_string(),
                "location": f.location,
                "message": f.message,
            }))
            .collect::<Vec<_>>(),
    });
    String::from_utf8(to_json(&document)).unwrap_or_default()
}
