//! Traces to profile: the union of what the runs did, as the smallest set of seccomp rules that allows it.
//!
//! Output is a pure function of the set of classes seen: traces in any order give byte-identical profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod fallback;

use super::denied::{ByName, one_errno, take_denied, wholly_denied};
use super::groups::Widening;
use super::oci::{Action, ArgRule, Seccomp, SyscallRule, architectures_for};
use super::runtime::Runtime;
use crate::decode::arch::Arch;
use crate::decode::flags::CLONE_NAMESPACES;
use crate::decode::gpu::{DeviceFamily, nvidia};
use crate::decode::ioctl::Ioc;
use crate::decode::{self, rows::ArgKind};
use crate::trace::merge::{MergeError, distinct_runs};
use crate::trace::model::{Class, FdDesc, Trace};
use fallback::{denied_reasons, falls_back};

/// libseccomp and the proposed Kubernetes profile validation both cap one syscall at this many entries.
pub const MAX_ENTRIES_PER_SYSCALL: usize = 128;
const PROT_WRITE: u64 = 0x2;
const PROT_EXEC: u64 = 0x4;
const ENOSYS: u32 = 38;
const LOW_32_BITS: u64 = 0xffff_ffff;

/// Syscalls that libc (or a language runtime) tries first and falls back from when the kernel answers
/// ENOSYS. Denying them with EPERM would break that fallback (glibc treats EPERM from clone3 as fatal).
pub const FALLBACK_ENOSYS: &[&str] =
    &["clone3", "close_range", "faccessat2", "fchmodat2", "io_uring_setup", "openat2", "statx"];

/// clone3's flags that clone cannot express (CLONE_CLEAR_SIGHAND, CLONE_INTO_CGROUP and whatever comes after
/// them): a run that used them needs clone3 itself.
const CLONE3_ONLY_FLAGS: u64 = !0xffff_ffff;

/// The io_uring calls: operations submitted through a ring are never seen by seccomp.
const IO_URING: &[&str] = &["io_uring_setup", "io_uring_enter", "io_uring_register"];

/// The syscalls whose prot argument W^X restricts.
const PROT_SYSCALLS: &[&str] = &["mmap", "mmap2", "mprotect", "pkey_mprotect"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Fail with EPERM.
    Errno,
    KillProcess,
    /// Allow and log: an audit profile.
    Log,
    Trap,
}

impl DefaultAction {
    fn action(self) -> Action {
        match self {
            DefaultAction::Errno => Action::Errno,
            DefaultAction::KillProcess => Action::KillProcess,
            DefaultAction::Log => Action::Log,
            DefaultAction::Trap => Action::Trap,
        }
    }
}

/// How finely ioctl is filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IoctlMode {
    /// One entry per request code seen.
    Exact,
    /// One entry per `_IOC` type byte seen (any request of that driver family).
    Type,
    /// ioctl allowed with any request.
    Any,
}

#[derive(Clone, Debug)]
pub struct ProfilePlan {
    pub default_action: DefaultAction,
    pub ioctl: IoctlMode,
    pub runtime: Option<Runtime>,
    pub allow_mixed_arch: bool,
    /// Ignore the size bits of every NVIDIA frontend request, so the profile survives driver updates that
    /// change a parameter struct's size (at the price of allowing any size for those commands).
    pub gpu_portable: bool,
    /// Keep io_uring where the runs used it, although what is submitted through a ring bypasses seccomp.
    pub allow_io_uring: bool,
    /// Allow the calls that a filter in force denied when they were recorded, instead of keeping them denied.
    pub allow_denied: bool,
    /// Calls allowed although no run made them (error and shutdown paths, what a library can reach), each
    /// rule reported as widened.
    pub widen: Vec<Widening>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no traces given; usage: trapline profile TRACE... [-o FILE]")]
    NoTraces,
    #[error(
        "{first} was recorded on {first_arch} but {other} on {other_arch}; make one profile per architecture, \
         or pass --allow-mixed-arch for one profile that lists both"
    )]
    MixedArch { first: PathBuf, first_arch: Arch, other: PathBuf, other_arch: Arch },
    #[error(transparent)]
    Runs(#[from] MergeError),
    #[error(
        "{path}: {syscall} is no {arch} syscall, so no profile can allow it; a recorded trace holds only calls the \
         kernel was asked for, so this one was edited by hand or comes from elsewhere: correct or remove that class"
    )]
    UnknownSyscall { path: PathBuf, syscall: String, arch: Arch },
}

/// Why one entry of the profile exists, for the explain report.
#[derive(Clone, Debug)]
pub struct Reason<'a> {
    pub name: String,
    /// The entry's conditions, empty for an unconditional entry.
    pub condition: Vec<ArgRule>,
    pub action: Action,
    pub errno_ret: Option<u32>,
    pub source: Source<'a>,
}

#[derive(Clone, Debug)]
pub enum Source<'a> {
    /// Seen in the traces: (trace index, class).
    Seen(Vec<(usize, &'a Class)>),
    /// The container runtime needs it after loading the filter.
    Runtime(Runtime),
    /// The runtime makes it depending on timing; the traces were recorded through that runtime.
    RuntimeTiming(Runtime),
    /// The recording could not see it (an agent recording cannot see `write`).
    Unobserved,
    /// Not used; denied with ENOSYS so libc falls back.
    Fallback,
    /// Used, but denied with ENOSYS all the same, so that the caller falls back to a call the filter can judge
    /// (clone3 to clone) or that it can see at all (io_uring to plain syscalls).
    FallsBack(Vec<(usize, &'a Class)>),
    /// An entry of a profile being extended (`trapline profile OLD.json NEW.json`), kept as it was.
    Kept(&'a Path),
    /// Every call was denied by a filter in force when it was recorded, with this errno: the workload went on
    /// with that answer, so it gets it again.
    DeniedWhenRecorded(Vec<(usize, &'a Class)>),
    /// No run made it: allowed because the user asked for it (`by`: `--allow-group signals`), a risk accepted
    /// in review; `why` reads after "for".
    Widened { by: String, why: String },
}

pub struct Generated<'a> {
    pub profile: Seccomp,
    pub reasons: Vec<Reason<'a>>,
    pub warnings: Vec<String>,
    /// Whether some run asked for memory both writable and executable (then mmap/mprotect stay open).
    pub wx_seen: bool,
    /// Classes every call of which a filter in force denied when they were recorded, and whether the plan
    /// allowed them all the same.
    pub denied: Vec<(usize, &'a Class)>,
    pub denied_allowed: bool,
}

/// Builds the profile for a set of traces (the paths only name them in messages).
pub fn generate<'a>(traces: &'a [(PathBuf, Trace)], plan: &ProfilePlan) -> Result<Generated<'a>, ProfileError> {
    extend(&[], traces, plan)
}

/// Extends existing profiles with what the traces did that they do not allow: the fix loop, where a trace
/// recorded with `--known OLD.json` holds only what is new. Every entry of the old profiles is kept as it
/// was; their architectures join the traces'.
pub fn extend<'a>(
    bases: &'a [(PathBuf, Seccomp)],
    traces: &'a [(PathBuf, Trace)],
    plan: &ProfilePlan,
) -> Result<Generated<'a>, ProfileError> {
    let mut generated = from_traces(traces, plan)?;
    if bases.is_empty() {
        return Ok(generated);
    }
    for (path, base) in bases {
        for entry in &base.syscalls {
            for name in &entry.names {
                let kept = Reason {
                    name: name.clone(),
                    condition: entry.args.clone(),
                    action: entry.action,
                    errno_ret: entry.errno_ret,
                    source: Source::Kept(path),
                };
                let same = |r: &Reason| (&r.name, &r.condition, r.action) == (&kept.name, &kept.condition, kept.action);
                if !generated.reasons.iter().any(same) {
                    generated.reasons.push(kept);
                }
            }
        }
        let mut architectures: BTreeSet<String> = generated.profile.architectures.iter().cloned().collect();
        architectures.extend(base.architectures.iter().cloned());
        generated.profile.architectures = architectures.into_iter().collect();
    }
    generated.reasons.sort_by(|a, b| (&a.name, &a.condition).cmp(&(&b.name, &b.condition)));
    generated.profile.syscalls = entries(&generated.reasons);
    Ok(generated)
}

fn from_traces<'a>(traces: &'a [(PathBuf, Trace)], plan: &ProfilePlan) -> Result<Generated<'a>, ProfileError> {
    let architectures = architectures(traces, plan)?;
    check_inputs(traces)?;
    let mut warnings = run_warnings(traces);
    let mut by_name = by_name(traces, &mut warnings);
    let denied = if plan.allow_denied { ByName::new() } else { take_denied(&mut by_name) };
    // An audit profile (default SCMP_ACT_LOG) denies nothing, not even what falls back.
    let falls_back = match plan.default_action {
        DefaultAction::Log => Vec::new(),
        _ => falls_back(&mut by_name, plan, &mut warnings),
    };
    let wx_seen = wx_seen(&by_name);
    let known = Known { by_name: &by_name, runtime: plan.runtime.map(|r| r.syscalls().names).unwrap_or(&[]) };

    warnings.extend(late_filter_warning(traces, &known));
    let mut reasons = seen_reasons(&known, plan, wx_seen, &mut warnings);
    reasons.extend(falls_back);
    reasons.extend(runtime_timing_reasons(traces, &known));
    reasons.extend(unobserved_reasons(traces, &known));
    reasons.extend(widened_reasons(traces, plan, &known));
    if let Some(runtime) = plan.runtime {
        reasons.extend(runtime_reasons(runtime, &by_name));
    }
    if plan.default_action != DefaultAction::Log {
        let given: BTreeSet<String> = reasons.iter().map(|r| r.name.clone()).collect();
        reasons.extend(denied_reasons(&denied, plan).into_iter().filter(|r| !given.contains(&r.name)));
        let given: BTreeSet<String> = reasons.iter().map(|r| r.name.clone()).collect();
        reasons.extend(fallback_reasons(&known).into_iter().filter(|r| !given.contains(&r.name)));
    }
    reasons.sort_by(|a, b| (&a.name, &a.condition).cmp(&(&b.name, &b.condition)));

    let profile = Seccomp {
        default_action: plan.default_action.action(),
        default_errno_ret: None,
        architectures: architectures.into_iter().collect(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls: entries(&reasons),
    };
    warnings.sort();
    warnings.dedup();
    let (denied, denied_allowed) = (wholly_denied(traces), plan.allow_denied);
    Ok(Generated { profile, reasons, warnings, wx_seen, denied, denied_allowed })
}

/// What a profile cannot be made from: a run given twice, or a syscall name its architecture does not have
/// (a `syscall_N` class, a number without a name, is left out later with a warning).
fn check_inputs(traces: &[(PathBuf, Trace)]) -> Result<(), ProfileError> {
    distinct_runs(traces)?;
    for (path, trace) in traces {
        let unknown = trace
            .classes
            .iter()
            .find(|c| !c.syscall.starts_with("syscall_") && c.arch.syscall_nr(&c.syscall).is_none());
        if let Some(class) = unknown {
            return Err(ProfileError::UnknownSyscall {
                path: path.clone(),
                syscall: class.syscall.clone(),
                arch: class.arch,
            });
        }
    }
    Ok(())
}

/// The `SCMP_ARCH_*` names for the traces' architectures; traces of different ones only with
/// `allow_mixed_arch`, since one profile then admits calls of an architecture the workload never used.
fn architectures(traces: &[(PathBuf, Trace)], plan: &ProfilePlan) -> Result<BTreeSet<String>, ProfileError> {
    let mut architectures = BTreeSet::new();
    let Some((first_path, first)) = traces.first() else { return Err(ProfileError::NoTraces) };
    for (path, trace) in traces {
        let Some(arch) = trace.arch() else { continue };
        let first_arch = first.arch().unwrap_or(arch);
        if arch != first_arch && !plan.allow_mixed_arch {
            return Err(ProfileError::MixedArch {
                first: first_path.clone(),
                first_arch,
                other: path.clone(),
                other_arch: arch,
            });
        }
        architectures.extend(architectures_for(arch));
    }
    Ok(architectures)
}

/// Warnings about the runs themselves: incomplete ones, and NVIDIA drivers that differ between them. A trace
/// without an architecture holds no runs worth a word.
fn run_warnings(traces: &[(PathBuf, Trace)]) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut drivers: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, trace) in traces.iter().filter(|(_, trace)| trace.arch().is_some()) {
        for run in &trace.runs {
            if let Some(driver) = run.gpu.as_ref().and_then(|g| g.nvidia_driver.as_ref()) {
                drivers.entry(driver.clone()).or_insert_with(|| path.clone());
            }
            if let Some(filters) = run.filters.as_ref().filter(|f| !f.seen || !f.attributed) {
                let what = if filters.seen {
                    "are in it as failed calls, not marked as denied, so the profile allows them"
                } else {
                    "are not in it"
                };
                warnings.push(format!(
                    "{} was recorded under a seccomp filter trapline could not read: the calls that filter denied \
                     {what}",
                    path.display()
                ));
            }
            if let Some(why) = &run.incomplete {
                warnings
                    .push(format!("{} holds an incomplete run ({why}): the profile may miss calls", path.display()));
            }
        }
    }
    if drivers.len() > 1 {
        let list: Vec<String> = drivers.iter().map(|(d, p)| format!("{d} ({})", p.display())).collect();
        warnings.push(format!(
            "the traces come from different NVIDIA drivers: {}; request values differ between driver branches, \
             so the profile allows the requests of each (record on the branch you deploy, or use --gpu-portable)",
            list.join(", ")
        ));
    }
    warnings
}

/// Every class, grouped by syscall name; BTreeMap keeps the output order independent of input order. Classes
/// of syscalls without a name cannot be written into a profile: they are left out, with a warning.
fn by_name<'a>(traces: &'a [(PathBuf, Trace)], warnings: &mut Vec<String>) -> BTreeMap<&'a str, Seen<'a>> {
    let mut by_name: BTreeMap<&str, Seen<'a>> = BTreeMap::new();
    for (i, (path, trace)) in traces.iter().enumerate() {
        for class in &trace.classes {
            if class.syscall.starts_with("syscall_") {
                warnings.push(format!(
                    "{}: syscall number {} on {} has no name in trapline's tables; it is left out",
                    path.display(),
                    class.nr,
                    class.arch
                ));
                continue;
            }
            by_name.entry(&class.syscall).or_default().push((i, class));
        }
    }
    by_name
}

/// Whether some run asked for memory both writable and executable: then W^X cannot be kept.
fn wx_seen(by_name: &BTreeMap<&str, Seen<'_>>) -> bool {
    by_name
        .iter()
        .filter(|(name, _)| PROT_SYSCALLS.contains(name))
        .flat_map(|(_, classes)| classes)
        .filter_map(|(_, class)| arg_value(class, "prot"))
        .any(|prot| prot & (PROT_WRITE | PROT_EXEC) == PROT_WRITE | PROT_EXEC)
}

/// What the profile allows already before the additions: the names seen, and the runtime's list.
struct Known<'k, 'a> {
    by_name: &'k BTreeMap<&'a str, Seen<'a>>,
    runtime: &'static [&'static str],
}

impl Known<'_, '_> {
    /// Whether `name` needs no reason of its own from the additions.
    fn covers(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.runtime.contains(&name)
    }
}

/// An unconditional allow of `name`.
fn allow<'a>(name: &str, source: Source<'a>) -> Reason<'a> {
    Reason { name: name.to_string(), condition: Vec::new(), action: Action::Allow, errno_ret: None, source }
}

/// The allows for what the traces saw, with conditions where trapline narrows a syscall by its arguments.
fn seen_reasons<'a>(
    known: &Known<'_, 'a>,
    plan: &ProfilePlan,
    wx_seen: bool,
    warnings: &mut Vec<String>,
) -> Vec<Reason<'a>> {
    let mut reasons = Vec::new();
    for (name, classes) in known.by_name {
        if known.runtime.contains(name) {
            continue; // allowed unconditionally below; a condition would only narrow what the runtime needs
        }
        let mut alternatives = conditions(name, classes, plan, wx_seen, warnings);
        if alternatives.len() > MAX_ENTRIES_PER_SYSCALL {
            // Past this, libseccomp's filter grows long and KEP-6061 validation refuses the profile.
            warnings.push(format!(
                "{name}: {} distinct argument values exceed {MAX_ENTRIES_PER_SYSCALL} entries; {name} is allowed \
                 with any arguments",
                alternatives.len()
            ));
            alternatives = vec![(Vec::new(), classes.to_vec())];
        }
        for (condition, seen) in alternatives {
            reasons.push(Reason {
                name: name.to_string(),
                condition,
                action: Action::Allow,
                errno_ret: None,
                source: Source::Seen(seen),
            });
        }
    }
    reasons
}

/// Runs recorded through a runtime (`record --container`) hold its calls already, except those it makes
/// only depending on timing.
fn runtime_timing_reasons<'a>(traces: &[(PathBuf, Trace)], known: &Known<'_, '_>) -> Vec<Reason<'a>> {
    let recorded_through: BTreeSet<Runtime> = traces
        .iter()
        .flat_map(|(_, t)| &t.runs)
        .filter_map(|r| r.container.as_deref())
        .filter_map(Runtime::from_name)
        .collect();
    let mut reasons = Vec::new();
    for runtime in recorded_through {
        for name in runtime.syscalls().timing {
            if !known.covers(name) {
                reasons.push(allow(name, Source::RuntimeTiming(runtime)));
            }
        }
    }
    reasons
}

/// A container recorded through its runtime with `noNewPrivileges: true`: runc loaded the filter just before
/// exec, after dropping privileges. Without no_new_privs (Docker's default) runc loads it first and drops
/// privileges under it, `capset` first, so a profile that lacks them stops `runc init` there.
fn late_filter_warning(traces: &[(PathBuf, Trace)], known: &Known<'_, '_>) -> Option<String> {
    let through_runtime = traces.iter().flat_map(|(_, t)| &t.runs).any(|r| r.container.is_some());
    (through_runtime && !known.covers("capset")).then(|| {
        "the container was recorded with noNewPrivileges: true (no capset in the traces): under an engine that runs \
         containers without no_new_privs, Docker by default, runc loads the filter before dropping privileges and \
         this profile stops it with \"operation not permitted\"; run those containers with --security-opt \
         no-new-privileges, record with noNewPrivileges: false, or add --runtime runc"
            .to_string()
    })
}

/// What the recording could not see (an agent recording cannot see `write`) is allowed without evidence.
fn unobserved_reasons<'a>(traces: &[(PathBuf, Trace)], known: &Known<'_, '_>) -> Vec<Reason<'a>> {
    let unobserved: BTreeSet<&str> =
        traces.iter().flat_map(|(_, t)| &t.runs).flat_map(|r| &r.unobserved).map(String::as_str).collect();
    unobserved.into_iter().filter(|name| !known.covers(name)).map(|name| allow(name, Source::Unobserved)).collect()
}

/// What the widenings add: their calls no run made and the runtime does not need, on the runs' architectures.
fn widened_reasons<'a>(traces: &[(PathBuf, Trace)], plan: &ProfilePlan, known: &Known<'_, '_>) -> Vec<Reason<'a>> {
    let arches: BTreeSet<Arch> = traces.iter().flat_map(|(_, t)| &t.runs).map(|r| r.arch).collect();
    let mut reasons: Vec<Reason<'a>> = Vec::new();
    for widening in &plan.widen {
        for name in &widening.names {
            let exists = arches.iter().any(|a| a.syscall_nr(name).is_some());
            if exists && !known.covers(name) && !reasons.iter().any(|r| r.name == *name) {
                let source = Source::Widened { by: widening.by.clone(), why: widening.why.clone() };
                reasons.push(allow(name, source));
            }
        }
    }
    reasons
}

/// One line per option that widened the profile, naming the calls it added ("widened by --allow-group signals:
/// kill, tgkill (no run made them)"), so that no rule without evidence goes by unsaid.
pub fn widened(generated: &Generated<'_>) -> Vec<String> {
    let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for reason in &generated.reasons {
        if let Source::Widened { by: option, .. } = &reason.source {
            by.entry(option).or_default().push(&reason.name);
        }
    }
    by.into_iter()
        .map(|(option, names)| format!("widened by {option}: {} (no run made them)", names.join(", ")))
        .collect()
}

/// The runtime's own calls after it loads the filter, unconditionally (with the traces' classes where seen).
fn runtime_reasons<'a>(runtime: Runtime, by_name: &BTreeMap<&str, Seen<'a>>) -> Vec<Reason<'a>> {
    let source = |name: &str| match by_name.get(name) {
        Some(seen) => Source::Seen(seen.clone()),
        None => Source::Runtime(runtime),
    };
    runtime.syscalls().names.iter().map(|name| allow(name, source(name))).collect()
}

/// Syscalls libc probes and falls back from, denied with ENOSYS rather than the default action's EPERM.
fn fallback_reasons<'a>(known: &Known<'_, '_>) -> Vec<Reason<'a>> {
    FALLBACK_ENOSYS
        .iter()
        .filter(|name| !known.covers(name))
        .map(|name| Reason { action: Action::Errno, errno_ret: Some(ENOSYS), ..allow(name, Source::Fallback) })
        .collect()
}

/// The value of a class's argument `name`, when it was readable.
fn arg_value(class: &Class, name: &str) -> Option<u64> {
    class.args.iter().find(|a| a.name == name && a.unreadable.is_none()).map(|a| a.value.0)
}

type Seen<'a> = Vec<(usize, &'a Class)>;

/// The alternatives under which `name` is allowed, each with the classes it covers. One alternative with
/// no condition means "allowed with any arguments".
fn conditions<'a>(
    name: &str,
    classes: &[(usize, &'a Class)],
    plan: &ProfilePlan,
    wx_seen: bool,
    warnings: &mut Vec<String>,
) -> Vec<(Vec<ArgRule>, Seen<'a>)> {
    let any = || vec![(Vec::new(), classes.to_vec())];
    // Group the classes by the condition that admits them; a class without a usable value admits all.
    let by = |rule: &dyn Fn(&Class) -> Option<ArgRule>| -> Option<BTreeMap<ArgRule, Seen<'a>>> {
        let mut groups: BTreeMap<ArgRule, Seen<'a>> = BTreeMap::new();
        for (i, class) in classes {
            groups.entry(rule(class)?).or_default().push((*i, class));
        }
        Some(groups)
    };
    let finish = |groups: Option<BTreeMap<ArgRule, Seen<'a>>>| match groups {
        Some(groups) => groups.into_iter().map(|(rule, seen)| (vec![rule], seen)).collect(),
        None => any(),
    };
    match name {
        "ioctl" => {
            let gpu_portable = plan.gpu_portable;
            let request = |c: &Class| arg_value(c, "request");
            let exact = |c: &Class| {
                let r = request(c)?;
                // NVIDIA commands whose struct is an array sized by GPU or entry count, or every frontend
                // command under --gpu-portable: compare everything but the size bits.
                let nvidia = c.fd.as_ref().and_then(FdDesc::family) == Some(DeviceFamily::NvidiaFrontend);
                Some(if nvidia && (gpu_portable || nvidia::size_varies(r as u32)) {
                    ArgRule::masked_eq(1, u64::from(nvidia::SIZE_MASK), r & u64::from(nvidia::SIZE_MASK))
                } else {
                    ArgRule::masked_eq(1, LOW_32_BITS, r)
                })
            };
            let by_type = |c: &Class| request(c).map(|r| ArgRule::masked_eq(1, 0xff00, r & 0xff00));
            super::ambiguous::warn(classes.iter().map(|(_, c)| *c), warnings);
            let mut mode = plan.ioctl;
            loop {
                let groups = match mode {
                    IoctlMode::Exact => by(&exact),
                    IoctlMode::Type => by(&by_type),
                    IoctlMode::Any => return any(),
                };
                match groups {
                    Some(g) if g.len() > MAX_ENTRIES_PER_SYSCALL => {
                        let coarser = if mode == IoctlMode::Exact { IoctlMode::Type } else { IoctlMode::Any };
                        warnings.push(format!(
                            "ioctl: {} distinct {} exceed {MAX_ENTRIES_PER_SYSCALL} entries; coarsened to --ioctl {}",
                            g.len(),
                            if mode == IoctlMode::Exact { "requests" } else { "types" },
                            if coarser == IoctlMode::Type { "type" } else { "any" },
                        ));
                        mode = coarser;
                    }
                    other => return finish(other),
                }
            }
        }
        "socket" => finish(by(&|c| arg_value(c, "domain").map(|d| ArgRule::masked_eq(0, LOW_32_BITS, d)))),
        "personality" => finish(by(&|c| arg_value(c, "persona").map(|p| ArgRule::masked_eq(0, LOW_32_BITS, p)))),
        "clone" => {
            let flags: Option<Vec<u64>> = classes.iter().map(|(_, c)| arg_value(c, "flags")).collect();
            match flags {
                // No namespace was ever created: refuse clone with any namespace flag (as moby's default does).
                Some(flags) if flags.iter().all(|f| f & CLONE_NAMESPACES == 0) => {
                    vec![(vec![ArgRule::masked_eq(0, CLONE_NAMESPACES, 0)], classes.to_vec())]
                }
                _ => any(),
            }
        }
        _ if PROT_SYSCALLS.contains(&name) && !wx_seen => {
            finish(by(&|c| arg_value(c, "prot").map(|p| ArgRule::masked_eq(2, LOW_32_BITS, p))))
        }
        _ => any(),
    }
}

/// Reasons to profile entries: unconditional allows share one entry (names sorted), each condition gets its
/// own entry (one comparison per argument index per entry, as libseccomp requires), ENOSYS denials one.
fn entries(reasons: &[Reason<'_>]) -> Vec<SyscallRule> {
    let mut unconditional: BTreeMap<(Action, Option<u32>), BTreeSet<&str>> = BTreeMap::new();
    let mut conditional = BTreeSet::new();
    for r in reasons {
        if r.condition.is_empty() {
            unconditional.entry((r.action, r.errno_ret)).or_default().insert(&r.name);
        } else {
            conditional.insert(SyscallRule {
                names: vec![r.name.clone()],
                action: r.action,
                errno_ret: r.errno_ret,
                args: r.condition.clone(),
            });
        }
    }
    // A name allowed unconditionally needs no conditional entries.
    let open: BTreeSet<&str> = unconditional.get(&(Action::Allow, None)).cloned().unwrap_or_default();
    let mut out: Vec<SyscallRule> = unconditional
        .into_iter()
        .map(|((action, errno_ret), names)| SyscallRule {
            names: names.into_iter().map(str::to_string).collect(),
            action,
            errno_ret,
            args: Vec::new(),
        })
        .collect();
    out.extend(conditional.into_iter().filter(|r| !open.contains(r.names[0].as_str())));
    out
}

/// How a condition reads for a person: `request == 0x5401 (TCGETS)`. `decoded` is the name the traces gave
/// the value (it knows the device a request went to), used in preference to a generic decoding.
pub fn describe_condition(name: &str, rule: &ArgRule, decoded: Option<&str>) -> String {
    let (arg, kind) = match (name, rule.index) {
        ("ioctl", 1) => ("request", Some(ArgKind::Ioctl)),
        ("socket", 0) => ("domain", Some(ArgKind::SocketDomain)),
        ("personality", 0) => ("persona", Some(ArgKind::Personality)),
        ("clone", 0) => ("flags", None),
        (_, 2) => ("prot", Some(ArgKind::Prot)),
        _ => ("arg", None),
    };
    match (name, rule.value) {
        ("clone", mask) if mask == CLONE_NAMESPACES => "no namespace flags".to_string(),
        ("ioctl", 0xff00) => format!("request type '{}'", char::from((rule.value_two >> 8) as u8).escape_default()),
        ("ioctl", mask) if mask == u64::from(nvidia::SIZE_MASK) => format!(
            "request {:#x} with any size ({})",
            rule.value_two,
            decoded.map(str::to_string).unwrap_or_else(|| Ioc::split(rule.value_two as u32).render())
        ),
        (_, LOW_32_BITS) if decoded.is_some() => {
            format!("{arg} == {:#x} ({})", rule.value_two, decoded.unwrap_or_default())
        }
        (_, LOW_32_BITS) => match kind {
            Some(kind) => format!("{arg} == {:#x} ({})", rule.value_two, decode::describe(kind, rule.value_two)),
            None => format!("{arg} == {:#x}", rule.value_two),
        },
        _ => format!("{arg}[{}] & {:#x} == {:#x}", rule.index, rule.value, rule.value_two),
    }
}

/// runc refuses to notify `write` (it needs it to report errors once the filter is loaded): the recording
/// profile leaves it out, so no agent trace can see it. Profiles made from agent traces add it back.
pub const UNOBSERVED: &[&str] = &["write"];

/// The recording profile for `trapline agent`: allow everything, and notify the listener at `listener` of every
/// syscall libseccomp knows, except `write` (runc refuses to notify it; agent traces say it was unobserved).
pub fn recording_profile(listener: &str, native: Arch) -> Seccomp {
    let mut names: Vec<String> = (0..native.table_len() as u64)
        .filter_map(|nr| native.syscall_name(nr))
        .filter(|name| !UNOBSERVED.contains(name))
        .filter(|name| libseccomp::ScmpSyscall::from_name(name).is_ok())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    Seccomp {
        default_action: Action::Allow,
        default_errno_ret: None,
        architectures: architectures_for(native),
        flags: Vec::new(),
        listener_path: Some(listener.to_string()),
        listener_metadata: None,
        syscalls: vec![SyscallRule { names, action: Action::Notify, errno_ret: None, args: Vec::new() }],
    }
}
