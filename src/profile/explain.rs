//! The explain report: a Markdown companion to a profile that says, for every rule, why it is there.
//! It stays out of the profile JSON because containerd drops unknown keys.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::PathBuf;

use super::coverage::render::markdown;
use super::coverage::{DEFAULT_TARGET, coverage};
use super::generate::{Generated, Reason, Source, describe_condition};
use super::oci::Action;
use super::risk::{Risk, risk_of};
use crate::files::markdown::cell;
use crate::trace::model::{Class, FdDesc, Trace};

pub fn explain(traces: &[(PathBuf, Trace)], generated: &Generated) -> String {
    let mut out = String::new();
    let runs = Runs::of(traces);
    header(&mut out, traces, runs.total);
    defaults(&mut out, generated);
    rules(&mut out, generated, &runs);
    weakened(&mut out, generated);
    denied_when_recorded(&mut out, traces, generated);
    widened(&mut out, generated);
    ioctls_by_device(&mut out, generated);
    notes(&mut out, generated, &runs);
    coverage_section(&mut out, traces);
    out
}

/// How complete the runs behind the profile are: a rule missing because no run needed it reads here.
fn coverage_section(out: &mut String, traces: &[(PathBuf, Trace)]) {
    // Only a profile extended without new traces has none; duplicate runs were refused by generate already.
    if let Ok(report) = coverage(traces, DEFAULT_TARGET) {
        let _ = writeln!(out);
        out.push_str(&markdown(&report, 2));
    }
}

/// The title and the runs the profile was made from, so a reader knows what it is evidence of.
fn header(out: &mut String, traces: &[(PathBuf, Trace)], runs: u64) {
    let _ = writeln!(out, "# Seccomp profile, explained\n");
    let _ = writeln!(out, "Made by trapline {} from {runs} run(s):\n", env!("CARGO_PKG_VERSION"));
    for (path, trace) in traces {
        for run in &trace.runs {
            let command: Vec<String> = run.command.iter().map(|t| t.to_string()).collect();
            let _ = writeln!(
                out,
                "- `{}`: `{}` on {} (kernel {}{}), {}, exit status {}{}",
                path.display(),
                command.join(" "),
                run.arch,
                run.kernel,
                match run.gpu.as_ref().and_then(|g| g.nvidia_driver.as_deref()) {
                    Some(driver) => format!(", NVIDIA driver {driver}"),
                    None => String::new(),
                },
                run.started,
                run.exit.status,
                if run.complete { String::new() } else { " — **incomplete**".to_string() },
            );
        }
    }
}

/// What happens to everything not listed, and whether W^X holds.
fn defaults(out: &mut String, generated: &Generated) {
    let profile = &generated.profile;
    let default = match profile.default_action {
        Action::Errno => "every syscall not listed fails with EPERM".to_string(),
        Action::Log => "every syscall not listed is allowed and logged (audit profile)".to_string(),
        other => format!("every syscall not listed gets {}", serde_json::to_string(&other).unwrap_or_default()),
    };
    let _ = writeln!(out, "\nDefault: {default}. Architectures: {}.\n", profile.architectures.join(", "));
    if generated.wx_seen {
        let _ = writeln!(
            out,
            "W^X: a run asked for memory that is both writable and executable (a JIT), so mmap and mprotect \
             are allowed with any protection.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "W^X: no run asked for memory both writable and executable, so mmap, mprotect and pkey_mprotect \
             are allowed only with the protections seen.\n"
        );
    }
}

/// The table: one row per reason, saying when the rule applies and what backs it.
fn rules(out: &mut String, generated: &Generated, runs: &Runs) {
    let _ = writeln!(out, "## Rules\n");
    let _ = writeln!(out, "| syscall | allowed when | calls | runs | processes | seen on | by | called from |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|---|---|");
    for reason in &generated.reasons {
        let when = cell(&when(reason));
        match &reason.source {
            Source::Seen(seen) => {
                let calls: u64 = seen.iter().map(|(_, c)| c.count).sum();
                let in_runs = runs_seen(seen);
                let runs = runs.could_have_seen(seen);
                let processes = processes_seen(seen);
                let devices: BTreeSet<String> = seen.iter().filter_map(|(_, c)| device(c.fd.as_ref())).collect();
                let exes: BTreeSet<String> =
                    seen.iter().flat_map(|(_, c)| c.exes.iter().map(|e| e.to_string())).collect();
                let partial = if in_runs < runs { " ⚠" } else { "" };
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | {calls} | {} of {runs}{partial} | {processes} | {} | {} | {} |",
                    reason.name,
                    in_runs,
                    cell(&devices.into_iter().collect::<Vec<_>>().join(", ")),
                    cell(&exes.into_iter().collect::<Vec<_>>().join(", ")),
                    cell(&origins(seen)),
                );
            }
            Source::Runtime(runtime) => {
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | – | – | – | | {} itself, after loading the filter | |",
                    reason.name,
                    runtime.name()
                );
            }
            Source::RuntimeTiming(runtime) => {
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | – | – | – | | {} itself, depending on timing: recorded through it, but not in every run | |",
                    reason.name,
                    runtime.name()
                );
            }
            Source::Unobserved => {
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | – | – | – | | not observable by this recording (runc does not notify it) | |",
                    reason.name
                );
            }
            Source::FallsBack(seen) => {
                let calls: u64 = seen.iter().map(|(_, c)| c.count).sum();
                let instead = if reason.name == "clone3" {
                    "glibc falls back to clone, whose flags the filter checks"
                } else {
                    "the caller falls back to plain syscalls, which the filter sees"
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | {calls} | {} of {} | {} | | {instead} | {} |",
                    reason.name,
                    runs_seen(seen),
                    runs.could_have_seen(seen),
                    processes_seen(seen),
                    cell(&origins(seen)),
                );
            }
            Source::Kept(path) => {
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | – | – | – | | kept from `{}` | |",
                    reason.name,
                    cell(&path.display().to_string())
                );
            }
            Source::Widened { by, .. } => {
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | 0 | – | – | | **widened** by `{by}`: no run made it | |",
                    reason.name
                );
            }
            Source::Fallback => {
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | 0 | – | – | | not used: ENOSYS lets libc fall back | |",
                    reason.name
                );
            }
            Source::DeniedWhenRecorded(seen) => {
                let calls: u64 = seen.iter().map(|(_, c)| c.count).sum();
                let _ = writeln!(
                    out,
                    "| `{}` | {when} | {calls} | {} of {} | {} | | denied by the filter in force when recorded: the \
                     workload went on with this errno | {} |",
                    reason.name,
                    runs_seen(seen),
                    runs.could_have_seen(seen),
                    processes_seen(seen),
                    cell(&origins(seen)),
                );
            }
        }
    }
}

/// The "allowed when" cell: always, a denial's errno, or the conditions as a person reads them (with the
/// name the traces decoded the compared value to, when there is one).
fn when(reason: &Reason) -> String {
    if reason.condition.is_empty() {
        return match reason.action {
            Action::Errno => format!("denied with errno {}", reason.errno_ret.unwrap_or(1)),
            _ => "always".to_string(),
        };
    }
    let decoded = match &reason.source {
        Source::Seen(seen) => seen.iter().find_map(|(_, c)| {
            c.args
                .iter()
                .find(|a| a.index == reason.condition.first().map(|r| r.index as u8))
                .map(|a| a.decoded.as_str())
        }),
        _ => None,
    };
    reason.condition.iter().map(|r| describe_condition(&reason.name, r, decoded)).collect::<Vec<_>>().join(" and ")
}

/// Where the runtime list came from, a hint about rules seen in only some runs, and the generator's warnings.
fn notes(out: &mut String, generated: &Generated, runs: &Runs) {
    if let Some(runtime) = generated.reasons.iter().find_map(|r| match r.source {
        Source::Runtime(rt) => Some(rt),
        _ => None,
    }) {
        let _ = writeln!(out, "\nRuntime list: {}.", runtime.syscalls().source);
    }
    if generated.reasons.iter().any(|r| matches!(&r.source, Source::Seen(s) if runs_seen(s) < runs.could_have_seen(s)))
    {
        let _ = writeln!(
            out,
            "\n⚠ seen in only some runs: record more runs, or accept that a run may take paths the others did not."
        );
    }
    if !generated.warnings.is_empty() {
        let _ = writeln!(out, "\n## Warnings\n");
        for w in &generated.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
}

/// The rules no run backs, allowed because the user asked for them: each listed, never silently.
fn widened(out: &mut String, generated: &Generated) {
    let mut by_option: BTreeMap<&str, (&str, Vec<&str>)> = BTreeMap::new();
    for reason in &generated.reasons {
        if let Source::Widened { by, why } = &reason.source {
            by_option.entry(by).or_insert((why, Vec::new())).1.push(&reason.name);
        }
    }
    if by_option.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Widened deliberately\n");
    let _ = writeln!(
        out,
        "No run made these calls; they are allowed because the profile was made with the option named, a risk \
         accepted in review. The coverage section still counts them as not exercised.\n"
    );
    for (option, (why, names)) in by_option {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let _ = writeln!(out, "- `{option}`, for {why}: {}", names.join(", "));
    }
}

/// Where a rule's calls came from: the distinct call-site origins of its classes (a few, then a count).
fn origins(seen: &[(usize, &Class)]) -> String {
    const SHOWN: usize = 3;
    let all: BTreeSet<String> =
        seen.iter().filter_map(|(_, c)| c.site.as_ref()).map(|s| format!("`{}`", s.origin())).collect();
    let mut text = all.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > SHOWN {
        text.push_str(&format!(" and {} more", all.len() - SHOWN));
    }
    text
}

/// The allowed calls that weaken the container's isolation (`profile::risk`), for the reviewer to weigh: why
/// each matters, what Docker's default profile does with it, and which executable and call site needed it.
fn weakened(out: &mut String, generated: &Generated) {
    let risky: Vec<(&Reason, &Risk)> = generated
        .reasons
        .iter()
        .filter(|r| matches!(r.action, Action::Allow | Action::Log))
        .filter_map(|r| risk_of(&r.name).map(|risk| (r, risk)))
        .collect();
    if risky.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Calls that weaken isolation\n");
    let _ = writeln!(out, "| syscall | why it matters | Docker's default profile | needed by | called from |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (reason, risk) in risky {
        let (by, from) = match &reason.source {
            Source::Seen(seen) => {
                let exes: BTreeSet<String> =
                    seen.iter().flat_map(|(_, c)| c.exes.iter().map(|e| e.to_string())).collect();
                (exes.into_iter().collect::<Vec<_>>().join(", "), origins(seen))
            }
            Source::Runtime(rt) | Source::RuntimeTiming(rt) => (format!("{} itself", rt.name()), String::new()),
            _ => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            reason.name,
            cell(risk.why),
            cell(risk.docker),
            cell(&by),
            cell(&from)
        );
    }
}

/// The calls a filter in force denied in every run that made them: what the profile does with them, and who
/// asked. A reviewer checks here that nothing the workload needs was only failing quietly.
fn denied_when_recorded(out: &mut String, traces: &[(PathBuf, Trace)], generated: &Generated) {
    if generated.denied.is_empty() {
        return;
    }
    let now = if generated.denied_allowed {
        "They are **allowed** here (`--allow-denied`)."
    } else {
        "They stay denied here, with the answer the workload got (`--allow-denied` allows them)."
    };
    let _ = writeln!(out, "\n## Denied when recorded\n");
    let _ = writeln!(
        out,
        "A seccomp filter already in force denied every one of these calls, and the run went on. {now}\n"
    );
    let _ = writeln!(out, "| syscall | class | denied with | calls | by | called from | trace |");
    let _ = writeln!(out, "|---|---|---|---:|---|---|---|");
    for (i, class) in &generated.denied {
        let exes: Vec<String> = class.exes.iter().map(|e| e.to_string()).collect();
        let answers: Vec<&str> = class.denied.keys().map(String::as_str).collect();
        let args: Vec<String> = class
            .args
            .iter()
            .filter(|a| a.index.is_some())
            .map(|a| if a.decoded.is_empty() { format!("{}={:#x}", a.name, a.value.0) } else { a.decoded.clone() })
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | `{}` |",
            class.syscall,
            cell(&args.join(", ")),
            cell(&answers.join(", ")),
            class.count,
            cell(&exes.join(", ")),
            cell(&origins(&[(*i, class)])),
            cell(&traces[*i].0.display().to_string()),
        );
    }
}

/// The runs behind the report, and per trace those recorded in full. A run recorded with `--known` holds only
/// what its profile did not allow, so a rule missing from it is no sign that the run did not need it: such
/// runs count towards "N of M" only where they show the rule.
struct Runs {
    total: u64,
    full: Vec<u64>,
}

impl Runs {
    fn of(traces: &[(PathBuf, Trace)]) -> Runs {
        let full: Vec<u64> =
            traces.iter().map(|(_, t)| t.runs.iter().filter(|r| r.known.is_none()).count() as u64).collect();
        Runs { total: traces.iter().map(|(_, t)| t.runs.len() as u64).sum(), full }
    }

    /// How many runs could have shown a rule: every full run, and the `--known` runs that did show it (a
    /// merged trace keeps no per-run detail, so its full runs are taken to be the first that saw it).
    fn could_have_seen(&self, seen: &[(usize, &Class)]) -> u64 {
        let mut known_seen: BTreeMap<usize, u64> = BTreeMap::new();
        for (i, class) in seen {
            let extra = class.runs.saturating_sub(self.full[*i]);
            let most = known_seen.entry(*i).or_default();
            *most = (*most).max(extra);
        }
        self.full.iter().sum::<u64>() + known_seen.values().sum::<u64>()
    }
}

/// In how many runs a rule's classes were seen: per trace the most of any one class (a lower bound where
/// several classes back one rule), summed over traces.
fn runs_seen(seen: &[(usize, &Class)]) -> u64 {
    let mut per_trace: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, class) in seen {
        let most = per_trace.entry(*i).or_default();
        *most = (*most).max(class.runs);
    }
    per_trace.values().sum()
}

/// How many processes made the calls of a rule. One process makes calls of many classes (an ioctl on each of
/// its devices), so per trace it is the pids the classes list together, or more where a class counted more
/// than it lists; traces are different runs, so theirs add up.
fn processes_seen(seen: &[(usize, &Class)]) -> u64 {
    let mut per_trace: BTreeMap<usize, (BTreeSet<u32>, u64)> = BTreeMap::new();
    for (i, class) in seen {
        let (pids, most) = per_trace.entry(*i).or_default();
        pids.extend(&class.pids);
        *most = (*most).max(class.processes);
    }
    per_trace.values().map(|(pids, most)| (pids.len() as u64).max(*most)).sum()
}

/// ioctl requests grouped by the device they went to, with what seccomp cannot see: the RM control commands
/// and alloc classes behind NVIDIA's pointers.
fn ioctls_by_device(out: &mut String, generated: &Generated<'_>) {
    // device -> request name -> (calls, details seen)
    let mut devices: BTreeMap<String, BTreeMap<String, (u64, BTreeSet<String>)>> = BTreeMap::new();
    for reason in generated.reasons.iter().filter(|r| r.name == "ioctl") {
        let Source::Seen(seen) = &reason.source else { continue };
        for (_, class) in seen {
            let Some(device) = device(class.fd.as_ref()) else { continue };
            let Some(request) = class.args.iter().find(|a| a.index == Some(1)) else { continue };
            let entry = devices
                .entry(device)
                .or_default()
                .entry(format!("`{:#010x}` {}", request.value.0, request.decoded))
                .or_default();
            entry.0 += class.count;
            for detail in class.args.iter().filter(|a| a.index.is_none()) {
                entry.1.insert(format!("{} {}", detail.name, detail.decoded));
            }
        }
    }
    if devices.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## ioctl requests by device\n");
    let _ = writeln!(
        out,
        "seccomp compares only the request number: a request allowed for one device is allowed on every fd. \
         What a request carried behind its pointer is listed for review; it is not enforced.\n"
    );
    for (device, requests) in devices {
        let _ = writeln!(out, "- {device}");
        for (request, (calls, details)) in requests {
            let _ = writeln!(out, "  - {request}: {calls} call(s)");
            for detail in details {
                let _ = writeln!(out, "    - {detail}");
            }
        }
    }
}

fn device(fd: Option<&FdDesc>) -> Option<String> {
    match fd? {
        FdDesc::Device { path, .. } => Some(format!("`{path}`")),
        FdDesc::Anon { name } => Some(format!("anon_inode:{name}")),
        FdDesc::Socket => Some("socket".to_string()),
        FdDesc::Pipe => Some("pipe".to_string()),
        FdDesc::File => Some("file".to_string()),
        FdDesc::GpuLibrary { name } => Some(name.clone()),
        FdDesc::Inferred { family } => Some(format!("{} (device inferred from the request)", family.label())),
        _ => None,
    }
}
