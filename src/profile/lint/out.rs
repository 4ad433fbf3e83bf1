//! Collecting lint's findings: each located under where the seccomp object sits in the document, and put in
//! profile order at the end.

use super::finding::{Finding, Severity};
use crate::profile::read::{Location, Segment};

/// Findings as they are made; locations get the prefix of where the seccomp object sits.
pub(super) struct Out {
    prefix: String,
    findings: Vec<Finding>,
}

impl Out {
    /// For the seccomp object at `base`: its findings are located as `linux.seccomp.syscalls[0]`,
    /// `items[1].spec.defaultAction`.
    pub(super) fn new(base: &Location) -> Self {
        Out { prefix: prefix(base), findings: Vec::new() }
    }

    fn push(&mut self, severity: Severity, location: &str, message: String) {
        self.findings.push(Finding { severity, location: format!("{}{location}", self.prefix), message });
    }

    pub(super) fn error(&mut self, location: &str, message: String) {
        self.push(Severity::Error, location, message);
    }

    pub(super) fn warning(&mut self, location: &str, message: String) {
        self.push(Severity::Warning, location, message);
    }

    /// In profile order (`syscalls[2]` before `syscalls[10]`), without repeats.
    pub(super) fn finish(mut self) -> Vec<Finding> {
        self.findings.sort_by_cached_key(|f| order_key(&f.location));
        self.findings.dedup();
        self.findings
    }
}

/// The location with every number zero-padded, so that string order is profile order.
fn order_key(location: &str) -> String {
    let mut key = String::new();
    let mut digits = String::new();
    for c in location.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            key.push_str(&format!("{digits:0>20}"));
            digits.clear();
        }
        key.push(c);
    }
    key
}

/// A document location as the start of a finding's location: `linux.seccomp.`, `items[0].spec.`, or nothing
/// for the top level.
fn prefix(base: &Location) -> String {
    let mut path = String::new();
    for segment in base.segments() {
        match segment {
            Segment::Key(key) => path = key_loc(&path, key),
            Segment::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    if !path.is_empty() {
        path.push('.');
    }
    path
}

/// `base.key`, or `base["key"]` when the key is not a plain word.
pub(super) fn key_loc(base: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", serde_json::to_string(key).unwrap_or_default()),
    }
}
