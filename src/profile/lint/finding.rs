//! What lint reports: a finding, its severity and where in the document it is. Below every check (and the
//! workload lint), so that they all share it without depending on each other.

use std::fmt;

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
