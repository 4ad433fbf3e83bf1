//! `trapline diff A B`: what B has that A has not (added) and what A has that B has not (removed).
//!
//! - Two traces compare by call class identity: syscall, arch, argument indexes and values (RM commands
//!   included) and what the fd pointed at (kind and path, not the device number, which differs between
//!   machines). Classes in both whose "seen in k of n runs" moved are listed as changed, which does not make
//!   the inputs differ: that is data about the runs, not behaviour.
//! - Two profiles compare structurally: per syscall name, the set of (action, errno, sorted conditions), plus
//!   the default action, the architectures and the flags. Entries merged or split differently compare equal.
//! - A profile and a trace go through [`super::allow::verdict`], as `check` does: the trace's classes the
//!   profile does not allow, and the profile's allowing entries no class of the trace uses. With the profile
//!   first (the usual `diff profiles/app.json run.json`), added is what the run needs and the profile lacks.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::allow::{self, Verdict, covers, lets_through, matches, scmp_name};
use super::describe::{self, nvidia_drivers};
use super::load::{Input, Loaded};
use crate::decode::arch::Arch;
use crate::profile::oci::{Action, ArgRule, Seccomp, SyscallRule};
use crate::trace::model::{Arg, Class, Trace};

/// Version of the JSON report; bumped when a field changes meaning (2: a profile's rules for the container
/// runtime moved from `removed` to `runtime`).
pub const FORMAT: u32 = 2;

/// The report: serialized as is by `--format json`.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub format: u32,
    pub a: Side,
    pub b: Side,
    /// Whether anything was added or removed (what `--exit-code` reports).
    pub differs: bool,
    pub summary: Counts,
    /// Facts about the inputs a reviewer should know (driver or architecture changes).
    pub notes: Vec<String>,
    pub added: Vec<Change>,
    pub removed: Vec<Change>,
    /// Classes in both traces whose share of runs changed.
    pub changed: Vec<Change>,
    /// Classes the profile may or may not allow, depending on arguments the trace does not hold.
    pub undecided: Vec<Change>,
    /// A profile's rules the trace does not use that the container runtime needs after loading the filter
    /// (`profile --runtime`): expected, so not counted as removed or added.
    pub runtime: Vec<Change>,
}

impl DiffReport {
    pub fn differs(&self) -> bool {
        self.differs
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub path: String,
    /// `trace` or `profile`.
    pub kind: &'static str,
    /// Traces only: how many runs the trace holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Counts {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub undecided: usize,
    pub runtime: usize,
}

/// One thing added, removed or changed.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    /// Trace classes: the class's arguments as the trace holds them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
    /// Trace classes: what the fd pointed at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Profile entries: the conditions, as in the profile.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub condition: Vec<ArgRule>,
    /// Profile entries: the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(rename = "errnoRet", skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// The subject of the line: the syscall (with its arch when it is not the run's), or what changed.
    pub subject: String,
    /// The arguments or conditions, decoded, with hex values.
    pub what: String,
    /// The whole line, without the `+`/`-` in front.
    pub text: String,
    /// What else a reviewer needs: what the profile does instead, why an entry exists, how it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Trace classes: where they were seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<Seen>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    DefaultAction,
    Architecture,
    Flag,
    /// A syscall as a whole (a class without arguments, or a syscall none of whose classes is in the other).
    Syscall,
    Ioctl,
    Socket,
    Clone,
    Prot,
    /// Other argument rules (prctl option, personality, mmap flags, hand-written conditions).
    Arguments,
    /// A class's share of runs.
    Provenance,
}

#[derive(Clone, Debug, Serialize)]
pub struct Seen {
    pub count: u64,
    pub runs: u64,
    pub of_runs: u64,
    pub exes: Vec<String>,
}

/// Compares two inputs.
pub fn diff(a: &Loaded, b: &Loaded) -> DiffReport {
    let side = |l: &Loaded| Side {
        path: l.path.display().to_string(),
        kind: l.input.kind(),
        runs: match &l.input {
            Input::Trace(t) => Some(t.runs.len() as u64),
            Input::Profile(_) => None,
        },
    };
    let mut report = DiffReport {
        format: FORMAT,
        a: side(a),
        b: side(b),
        differs: false,
        summary: Counts::default(),
        notes: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        undecided: Vec::new(),
        runtime: Vec::new(),
    };
    match (&a.input, &b.input) {
        (Input::Trace(a), Input::Trace(b)) => traces(a, b, &mut report),
        (Input::Profile(a), Input::Profile(b)) => profiles(a, b, &mut report),
        (Input::Profile(p), Input::Trace(t)) => {
            let (denied, unused) = profile_trace(p, t, &mut report);
            report.added = denied;
            report.removed = unused;
        }
        (Input::Trace(t), Input::Profile(p)) => {
            let (denied, unused) = profile_trace(p, t, &mut report);
            report.added = unused;
            report.removed = denied;
        }
    }
    let lists =
        [&mut report.added, &mut report.removed, &mut report.changed, &mut report.undecided, &mut report.runtime];
    for list in lists {
        list.sort_by(|x, y| (&x.syscall, x.arch, x.kind, &x.text).cmp(&(&y.syscall, y.arch, y.kind, &y.text)));
    }
    report.summary = Counts {
        added: report.added.len(),
        removed: report.removed.len(),
        changed: report.changed.len(),
        undecided: report.undecided.len(),
        runtime: report.runtime.len(),
    };
    report.differs = !report.added.is_empty() || !report.removed.is_empty();
    report
}

/// What makes two classes the same class across traces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    syscall: String,
    arch: Arch,
    args: Vec<(Option<u8>, String, u64, bool)>,
    fd: Option<String>,
}

fn key(class: &Class) -> Key {
    Key {
        syscall: class.syscall.clone(),
        arch: class.arch,
        args: class.args.iter().map(|a| (a.index, a.name.clone(), a.value.0, a.unreadable.is_some())).collect(),
        fd: describe::device(class.fd.as_ref()),
    }
}

fn keyed(trace: &Trace) -> BTreeMap<Key, Vec<&Class>> {
    let mut map: BTreeMap<Key, Vec<&Class>> = BTreeMap::new();
    for class in &trace.classes {
        map.entry(key(class)).or_default().push(class);
    }
    map
}

fn traces(a: &Trace, b: &Trace, report: &mut DiffReport) {
    let (ka, kb) = (keyed(a), keyed(b));
    let native = b.arch().or(a.arch());
    if let (Some(x), Some(y)) = (a.arch(), b.arch())
        && x != y
    {
        report.notes.push(format!("architecture changed: {x} → {y}"));
    }
    let (da, db) = (nvidia_drivers(a), nvidia_drivers(b));
    if !da.is_empty() && !db.is_empty() && da != db {
        report.notes.push(format!(
            "NVIDIA driver changed: {} → {}; request values differ between branches",
            da.join(", "),
            db.join(", ")
        ));
    }
    report.removed = one_side(&ka, &kb, a, native, "no longer made");
    report.added = one_side(&kb, &ka, b, native, "new syscall");
    let (na, nb) = (a.runs.len() as u64, b.runs.len() as u64);
    if na > 1 || nb > 1 {
        for (key, ca) in &ka {
            let Some(cb) = kb.get(key) else { continue };
            let (ra, rb) = (runs_of(ca), runs_of(cb));
            // Same share of runs (3 of 3 → 5 of 5) says nothing new; a partial share on either side does.
            if ra * nb != rb * na && (ra < na || rb < nb) {
                let mut change = class_change(cb, b, native, None);
                change.kind = ChangeKind::Provenance;
                change.detail = Some(format!("seen in {ra} of {na} runs → {rb} of {nb} runs"));
                report.changed.push(change);
            }
        }
    }
}

/// The classes of `from` that `other` lacks, and a syscall line for each syscall `other` never made at all
/// (the headline a reviewer wants; its classes follow it).
fn one_side(
    from: &BTreeMap<Key, Vec<&Class>>,
    other: &BTreeMap<Key, Vec<&Class>>,
    trace: &Trace,
    native: Option<Arch>,
    headline: &str,
) -> Vec<Change> {
    let made: BTreeSet<(&str, Arch)> = other.keys().map(|k| (k.syscall.as_str(), k.arch)).collect();
    let mut out = Vec::new();
    let mut whole: BTreeSet<(&str, Arch)> = BTreeSet::new();
    for (key, classes) in from.iter().filter(|(k, _)| !other.contains_key(*k)) {
        out.push(class_change(classes, trace, native, None));
        let detailed = !key.args.is_empty() || key.fd.is_some();
        if detailed && !made.contains(&(key.syscall.as_str(), key.arch)) {
            whole.insert((key.syscall.as_str(), key.arch));
        }
    }
    // A class without arguments already reads as the syscall itself.
    whole.retain(|(name, arch)| {
        !from.keys().any(|k| k.syscall == *name && k.arch == *arch && k.args.is_empty() && k.fd.is_none())
    });
    for (name, arch) in whole {
        let subject = describe::syscall(name, arch, native);
        out.push(Change {
            kind: ChangeKind::Syscall,
            syscall: Some(name.to_string()),
            arch: Some(arch),
            text: subject.clone(),
            subject,
            detail: Some(headline.to_string()),
            ..empty()
        });
    }
    out
}

fn runs_of(classes: &[&Class]) -> u64 {
    classes.iter().map(|c| c.runs).max().unwrap_or(0)
}

/// A change for a class (or the classes of one key, summed), with where it was seen.
fn class_change(classes: &[&Class], trace: &Trace, native: Option<Arch>, detail: Option<String>) -> Change {
    let class = classes[0];
    let exes: BTreeSet<String> = classes.iter().flat_map(|c| c.exes.iter().map(|e| e.to_string())).collect();
    let seen = Seen {
        count: classes.iter().map(|c| c.count).sum(),
        runs: runs_of(classes),
        of_runs: trace.runs.len() as u64,
        exes: exes.into_iter().collect(),
    };
    let subject = describe::syscall(&class.syscall, class.arch, native);
    let what = describe::class_args(class);
    let device = describe::device(class.fd.as_ref());
    Change {
        kind: class_kind(class),
        syscall: Some(class.syscall.clone()),
        arch: Some(class.arch),
        args: class.args.clone(),
        text: describe::class_line(class, native),
        subject,
        what,
        device,
        detail,
        seen: Some(seen),
        ..empty()
    }
}

fn class_kind(class: &Class) -> ChangeKind {
    if class.args.is_empty() && class.fd.is_none() {
        return ChangeKind::Syscall;
    }
    syscall_kind(&class.syscall)
}

fn syscall_kind(name: &str) -> ChangeKind {
    match name {
        "ioctl" => ChangeKind::Ioctl,
        "socket" | "socketpair" | "socketcall" => ChangeKind::Socket,
        "clone" | "clone3" => ChangeKind::Clone,
        "mmap" | "mmap2" | "mprotect" | "pkey_mprotect" => ChangeKind::Prot,
        _ => ChangeKind::Arguments,
    }
}

fn empty() -> Change {
    Change {
        kind: ChangeKind::Syscall,
        syscall: None,
        arch: None,
        args: Vec::new(),
        device: None,
        condition: Vec::new(),
        action: None,
        errno_ret: None,
        subject: String::new(),
        what: String::new(),
        text: String::new(),
        detail: None,
        seen: None,
    }
}

/// A profile entry for one name, normalized: ERRNO's errno made explicit (runc's EPERM when absent) and
/// dropped for other actions, which ignore it; conditions sorted.
type Entry = (String, Action, Option<u32>, Vec<ArgRule>);

fn normalize(profile: &Seccomp) -> BTreeSet<Entry> {
    let mut out = BTreeSet::new();
    for rule in &profile.syscalls {
        let errno = (rule.action == Action::Errno).then(|| rule.errno_ret.unwrap_or(allow::EPERM));
        let mut args = rule.args.clone();
        args.sort();
        for name in &rule.names {
            out.insert((name.clone(), rule.action, errno, args.clone()));
        }
    }
    out
}

fn entry_change((name, action, errno, args): &Entry, detail: Option<String>) -> Change {
    let rule = SyscallRule { names: vec![name.clone()], action: *action, errno_ret: *errno, args: args.clone() };
    let line = describe::rule_line(name, &rule);
    Change {
        kind: if args.is_empty() { ChangeKind::Syscall } else { syscall_kind(name) },
        syscall: Some(name.clone()),
        subject: name.clone(),
        what: line.strip_prefix(name.as_str()).unwrap_or_default().trim_start().to_string(),
        text: line,
        condition: args.clone(),
        action: Some(*action),
        errno_ret: *errno,
        detail,
        ..empty()
    }
}

fn top_change(kind: ChangeKind, subject: &str, what: String) -> Change {
    Change { kind, subject: subject.to_string(), text: format!("{subject} {what}"), what, ..empty() }
}

fn profiles(a: &Seccomp, b: &Seccomp, report: &mut DiffReport) {
    let default = |p: &Seccomp| {
        let errno = (p.default_action == Action::Errno).then(|| p.default_errno_ret.unwrap_or(allow::EPERM));
        allow::describe_action(p.default_action, errno)
    };
    if default(a) != default(b) {
        report.removed.push(top_change(ChangeKind::DefaultAction, "default action", default(a)));
        report.added.push(top_change(ChangeKind::DefaultAction, "default action", default(b)));
    }
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    for (kind, subject, xa, xb) in [
        (ChangeKind::Architecture, "architecture", set(&a.architectures), set(&b.architectures)),
        (ChangeKind::Flag, "flag", set(&a.flags), set(&b.flags)),
    ] {
        report.removed.extend(xa.difference(&xb).map(|x| top_change(kind, subject, x.clone())));
        report.added.extend(xb.difference(&xa).map(|x| top_change(kind, subject, x.clone())));
    }
    let (ea, eb) = (normalize(a), normalize(b));
    report.removed.extend(ea.difference(&eb).map(|e| entry_change(e, None)));
    report.added.extend(eb.difference(&ea).map(|e| entry_change(e, None)));
}

/// The trace's classes the profile does not allow, and the profile's allowing entries the trace never uses.
fn profile_trace(profile: &Seccomp, trace: &Trace, report: &mut DiffReport) -> (Vec<Change>, Vec<Change>) {
    let native = trace.arch();
    if let Some(arch) = native
        && !covers(profile, arch)
    {
        report.notes.push(format!(
            "the profile does not cover {} ({}), the architecture the trace was recorded on",
            arch,
            scmp_name(arch)
        ));
    }
    let mut denied = Vec::new();
    for class in &trace.classes {
        let detail = match allow::verdict(profile, class) {
            Verdict::Allowed(_) => continue,
            Verdict::Denied(decision) => format!("denied: {}", decision.describe()),
            Verdict::BadArch(arch) => format!("denied: {} is not in the profile's architectures", scmp_name(arch)),
            Verdict::Undecided(why) => {
                report.undecided.push(class_change(&[class], trace, native, Some(undecided_text(&why))));
                continue;
            }
        };
        denied.push(class_change(&[class], trace, native, Some(detail)));
    }
    // A trace recorded with `--known` holds only what its profile did not allow: every other call ran
    // untraced, so a rule it does not show is no evidence of a rule the run did not need.
    if !trace.runs.is_empty() && trace.runs.iter().all(|r| r.known.is_some()) {
        report.notes.push(
            "the trace was recorded with --known: it holds only calls its profile did not allow, so no rule \
             counts as removed"
                .to_string(),
        );
        return (denied, Vec::new());
    }
    // A clone3 call the profile answers with ENOSYS is made again as clone: it uses the clone rule.
    let fallbacks: Vec<Class> = trace.classes.iter().filter_map(allow::fallback).collect();
    let unused = normalize(profile)
        .iter()
        .filter(|(_, action, _, _)| lets_through(*action))
        .filter(|(name, action, errno, args)| {
            let rule =
                SyscallRule { names: vec![name.clone()], action: *action, errno_ret: *errno, args: args.clone() };
            !trace.classes.iter().chain(&fallbacks).any(|c| {
                c.syscall == *name
                    && covers(profile, c.arch)
                    && matches(&rule, c, matches!(c.arch, Arch::I386 | Arch::Arm)) != Some(false)
            })
        })
        .filter_map(|e| match describe::runtime_need(&e.0) {
            // The runtime's own calls after loading the filter are no part of the workload's trace.
            Some(runtime) => {
                report.runtime.push(entry_change(e, Some(format!("{runtime} needs it after loading the filter"))));
                None
            }
            None => Some(entry_change(e, None)),
        })
        .collect();
    (denied, unused)
}

/// Why a class could not be decided, for a person.
pub fn undecided_text(why: &allow::Undecided) -> String {
    match why {
        allow::Undecided::Unseen(indexes) => {
            let list: Vec<String> = indexes.iter().map(|i| format!("arg{i}")).collect();
            format!(
                "the profile compares {}, which the trace does not hold: allowed or denied depending on its value",
                list.join(", ")
            )
        }
        allow::Undecided::Notify => "the profile hands it to a seccomp listener (SCMP_ACT_NOTIFY)".to_string(),
    }
}
