//! `trapline check --profile P TRACE...`: does the profile allow everything these runs did?
//!
//! Every class of every trace goes through [`super::allow::verdict`]. A class the kernel would stop is a
//! violation; one whose fate depends on arguments the trace does not hold is a warning, because a check that
//! guesses would either fail good builds or pass bad ones.

use std::path::PathBuf;

use anstyle::{AnsiColor, Style};

use super::ReviewError;
use super::allow::{self, By, Verdict, covers, lets_through};
use super::describe;
use super::diff::undecided_text;
use super::load::ProfileFile;
use crate::decode::gpu::{DeviceFamily, nvidia};
use crate::decode::ioctl::Ioc;
use crate::files::json::to_json;
use crate::profile::oci::{Action, Seccomp};
use crate::trace::model::{Class, FdDesc, Trace};

/// The kinds of finding, each a SARIF rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// The profile does not allow the syscall with any arguments.
    SyscallDenied,
    /// The profile allows the syscall, but not with these arguments (an ioctl request, a socket family).
    ArgumentsDenied,
    /// The call's architecture is not in the profile's list.
    ArchitectureNotCovered,
    /// The profile compares arguments the trace could not see.
    Undecided,
}

impl FindingKind {
    pub const ALL: [FindingKind; 4] = [
        FindingKind::SyscallDenied,
        FindingKind::ArgumentsDenied,
        FindingKind::ArchitectureNotCovered,
        FindingKind::Undecided,
    ];

    /// Stable id, used as the SARIF rule id.
    pub fn id(self) -> &'static str {
        match self {
            FindingKind::SyscallDenied => "syscall-denied",
            FindingKind::ArgumentsDenied => "arguments-denied",
            FindingKind::ArchitectureNotCovered => "architecture-not-covered",
            FindingKind::Undecided => "undecided",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            FindingKind::SyscallDenied => "The workload made a syscall the seccomp profile does not allow.",
            FindingKind::ArgumentsDenied => {
                "The workload made a syscall the seccomp profile allows only with other arguments (an ioctl \
                 request, a socket family, clone flags, a memory protection)."
            }
            FindingKind::ArchitectureNotCovered => {
                "The workload made a call in an architecture the seccomp profile does not list; the kernel \
                 kills the caller."
            }
            FindingKind::Undecided => {
                "The seccomp profile compares arguments the trace could not see; whether the call is allowed \
                 depends on their values."
            }
        }
    }

    pub fn is_violation(self) -> bool {
        self != FindingKind::Undecided
    }
}

/// One class the profile does not (or may not) allow.
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: FindingKind,
    pub trace: PathBuf,
    /// The class: `ioctl TIOCGWINSZ (0x5413) on /dev/null`.
    pub class: String,
    /// What the profile does instead: `denied: SCMP_ACT_ERRNO (EPERM)`.
    pub outcome: String,
    /// `3 calls in 1 of 1 runs by /usr/bin/python3`.
    pub provenance: String,
    /// The line of the profile that decided (1-based): the entry, the default action or the architectures.
    pub line: usize,
    /// Stable identity of the class, so code scanning can follow a finding across runs.
    pub fingerprint: String,
}

impl Finding {
    pub fn message(&self) -> String {
        format!("{}: {}; {}", self.class, self.outcome, self.provenance)
    }
}

pub struct CheckReport {
    pub profile: PathBuf,
    pub traces: Vec<PathBuf>,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn violations(&self) -> usize {
        self.findings.iter().filter(|f| f.kind.is_violation()).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.len() - self.violations()
    }
}

/// Checks each trace against the profile. A trace recorded on an architecture the profile does not list at
/// all is refused: every call would be a violation, and the fix is another profile, not another trace.
pub fn check(profile: &ProfileFile, traces: &[(PathBuf, Trace)]) -> Result<CheckReport, ReviewError> {
    let p = &profile.profile;
    let mut findings = Vec::new();
    for (path, trace) in traces {
        if let Some(arch) = trace.arch()
            && !p.architectures.is_empty()
            && !covers(p, arch)
        {
            return Err(ReviewError::ArchMismatch {
                profile: profile.path.clone(),
                covered: p.architectures.join(", "),
                trace: path.clone(),
                arch,
            });
        }
        let native = trace.arch();
        for class in &trace.classes {
            let verdict = allow::verdict(p, class);
            let (kind, outcome, line) = match &verdict {
                Verdict::Allowed(_) => continue,
                Verdict::Denied(decision) => {
                    let named = names_allowed(p, &class.syscall);
                    let kind = if named { FindingKind::ArgumentsDenied } else { FindingKind::SyscallDenied };
                    let line = match decision.by {
                        By::Entry(i) => nth_line(&profile.text, "\"names\"", i),
                        By::Default if named => nth_line(&profile.text, &format!("\"{}\"", class.syscall), 0),
                        By::Default => None,
                    }
                    .or_else(|| nth_line(&profile.text, "\"defaultAction\"", 0));
                    let mut outcome = format!("denied: {}", decision.describe());
                    if let Some(why) = driver_branch_mismatch(p, class, trace) {
                        outcome.push_str("; ");
                        outcome.push_str(&why);
                    }
                    (kind, outcome, line)
                }
                Verdict::BadArch(arch) => (
                    FindingKind::ArchitectureNotCovered,
                    format!(
                        "denied: {} is not in the profile's architectures, the kernel kills the caller",
                        allow::scmp_name(*arch)
                    ),
                    nth_line(&profile.text, "\"architectures\"", 0),
                ),
                Verdict::Undecided(why) => (
                    FindingKind::Undecided,
                    undecided_text(why),
                    nth_line(&profile.text, &format!("\"{}\"", class.syscall), 0),
                ),
            };
            let exes: Vec<String> = class.exes.iter().map(|e| e.to_string()).collect();
            findings.push(Finding {
                kind,
                trace: path.clone(),
                class: class_with_registers(class, native),
                outcome,
                provenance: match &class.site {
                    Some(site) => format!(
                        "{}, first from {}",
                        describe::provenance(class.count, class.runs, trace.runs.len() as u64, &exes),
                        site.origin()
                    ),
                    None => describe::provenance(class.count, class.runs, trace.runs.len() as u64, &exes),
                },
                line: line.unwrap_or(1),
                fingerprint: fingerprint(class),
            });
        }
    }
    Ok(CheckReport { profile: profile.path.clone(), traces: traces.iter().map(|(p, _)| p.clone()).collect(), findings })
}

/// Whether some entry lets `name` through with some arguments.
fn names_allowed(profile: &Seccomp, name: &str) -> bool {
    profile.syscalls.iter().any(|e| lets_through(e.action) && e.names.iter().any(|n| n == name))
}

/// The class line, plus the full register where it differs from the value: a rule that compares all 64 bits
/// (SCMP_CMP_EQ) denies a sign-extended request whose low half it names, and the reader needs to see why.
fn class_with_registers(class: &Class, native: Option<crate::decode::arch::Arch>) -> String {
    let mut line = describe::class_line(class, native);
    for arg in class.args.iter().filter(|a| a.raw.is_some()) {
        if let (Some(index), Some(raw)) = (arg.index, arg.raw) {
            line.push_str(&format!(" [arg{index} register {:#x}]", raw.0));
        }
    }
    line
}

fn fingerprint(class: &Class) -> String {
    let mut parts = vec![class.syscall.clone(), class.arch.to_string()];
    for arg in &class.args {
        let index = arg.index.map(|i| i.to_string()).unwrap_or_else(|| "-".to_string());
        parts.push(format!("{index}:{}={:#x}", arg.name, arg.value.0));
    }
    if let Some(device) = describe::device(class.fd.as_ref()) {
        parts.push(device);
    }
    parts.join("|")
}

/// The 1-based line of the `n`th occurrence of `needle`.
fn nth_line(text: &str, needle: &str, n: usize) -> Option<usize> {
    let (at, _) = text.match_indices(needle).nth(n)?;
    Some(text[..at].bytes().filter(|&b| b == b'\n').count() + 1)
}

/// `text` in `style`; the writer strips the style where colour is not wanted.
fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// One line per finding: `TRACE: violation: CLASS: OUTCOME; PROVENANCE`.
pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let level = if f.kind.is_violation() {
            paint(AnsiColor::Red.on_default().bold(), "violation")
        } else {
            paint(AnsiColor::Yellow.on_default(), "warning")
        };
        out.push_str(&format!("{}: {level}: {}\n", f.trace.display(), f.message()));
    }
    out
}

/// The findings as one JSON document for machines: `{"profile", "traces", "violations", "warnings",
/// "findings": [{"kind", "level", "trace", "class", "outcome", "provenance", "line", "fingerprint"}]}`, where
/// `kind` is a [`FindingKind::id`] and `level` is `violation` or `warning`.
pub fn json(report: &CheckReport) -> String {
    let findings: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "kind": f.kind.id(),
                "level": if f.kind.is_violation() { "violation" } else { "warning" },
                "trace": f.trace.display().to_string(),
                "class": f.class,
                "outcome": f.outcome,
                "provenance": f.provenance,
                "line": f.line,
                "fingerprint": f.fingerprint,
            })
        })
        .collect();
    let document = serde_json::json!({
        "profile": report.profile.display().to_string(),
        "traces": report.traces.iter().map(|t| t.display().to_string()).collect::<Vec<_>>(),
        "violations": report.violations(),
        "warnings": report.warnings(),
        "findings": findings,
    });
    String::from_utf8(to_json(&document)).unwrap_or_default()
}

/// The line for standard error.
pub fn summary(report: &CheckReport) -> String {
    let (v, w) = (report.violations(), report.warnings());
    format!(
        "{v} violation{}, {w} warning{} in {} trace{} checked against {}",
        if v == 1 { "" } else { "s" },
        if w == 1 { "" } else { "s" },
        report.traces.len(),
        if report.traces.len() == 1 { "" } else { "s" },
        report.profile.display()
    )
}

/// An NVIDIA frontend request denied while the profile allows the same escape with another struct size: the
/// profile was made on another driver branch (request values change between branches).
fn driver_branch_mismatch(profile: &Seccomp, class: &Class, trace: &Trace) -> Option<String> {
    let nvidia = class.fd.as_ref().and_then(FdDesc::family) == Some(DeviceFamily::NvidiaFrontend);
    if class.syscall != "ioctl" || !nvidia {
        return None;
    }
    let request = class.args.iter().find(|a| a.index == Some(1))?;
    let sent = Ioc::split(request.value.0 as u32);
    let allowed = profile
        .syscalls
        .iter()
        .filter(|e| e.names.iter().any(|n| n == "ioctl") && matches!(e.action, Action::Allow | Action::Log))
        .flat_map(|e| &e.args)
        .filter(|a| a.index == 1)
        .map(|a| Ioc::split(a.value_two as u32))
        .find(|ioc| ioc.kind == sent.kind && ioc.nr == sent.nr && ioc.size != sent.size)?;
    let driver = trace.runs.iter().find_map(|r| r.gpu.as_ref()?.nvidia_driver.clone());
    Some(format!(
        "the profile allows {} with a {}-byte struct and this run sent {} bytes: the profile was made on another \
         NVIDIA driver branch{}{}; record on this branch, or make the profile with --gpu-portable",
        request.decoded,
        allowed.size,
        sent.size,
        nvidia::branch_change(sent.nr).map(|note| format!(" ({note})")).unwrap_or_default(),
        driver.map(|d| format!(", this run's driver is {d}")).unwrap_or_default(),
    ))
}
