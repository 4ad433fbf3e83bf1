//! The libseccomp check: builds the filter for real, per architecture, with this machine's libseccomp (as runc
//! and crun would on a node), and turns what libseccomp refuses into a finding that says where and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::str::FromStr;
use std::sync::Once;

use libseccomp::error::{SeccompErrno, SeccompError};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall, ScmpVersion};
use nix::sys::memfd::{MFdFlags, memfd_create};

use super::model::{Arg, Entry, Profile};
use super::out::Out;
use super::vocabulary::{ARCHES, EPERM};

/// The largest errno libseccomp accepts for SCMP_ACT_ERRNO.
const MAX_ERRNO: u64 = 4094;
/// The kernel refuses longer classic BPF programs (BPF_MAXINSNS).
const BPF_MAXINSNS: u64 = 4096;
const BPF_INSN_BYTES: u64 = 8;

// Here rather than in `read`, so that reading the profile needs nothing of libseccomp.
impl Arg<'_> {
    /// A comparison libseccomp can take; `None` when a part is missing or malformed.
    fn compare(&self) -> Option<ScmpArgCompare> {
        let index = u32::try_from(self.index?).ok()?;
        let (value, value_two) = (self.value?, self.value_two?);
        let op = match self.op? {
            "SCMP_CMP_MASKED_EQ" => {
                return Some(ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), value_two));
            }
            other => ScmpCompareOp::from_str(other).ok()?,
        };
        Some(ScmpArgCompare::new(index, op, value))
    }
}

/// The libseccomp action a runtime builds from an action string and its errno, as runc does: the errno
/// (EPERM when absent) is cut to 16 bits.
fn scmp_action(name: &str, errno: Option<u64>) -> Option<ScmpAction> {
    let data = errno.unwrap_or(EPERM) & 0xffff;
    Some(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(data as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(data as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        _ => return None,
    })
}

/// libseccomp (inside runc and crun): builds the filter per architecture, as the runtime will, and reports
/// what libseccomp refuses, names it does not know for an architecture (runc skips those silently), and
/// filters longer than the kernel loads.
pub(super) fn check_libseccomp(p: &Profile, out: &mut Out) {
    let Some(default) = p.default_action.and_then(|a| scmp_action(a, p.default_errno)) else {
        return; // missing or unknown: reported already
    };
    assume_current_kernel_api();
    let version =
        ScmpVersion::current().map(|v| format!("libseccomp {v}")).unwrap_or_else(|_| "libseccomp".to_string());
    let arches = filter_arches(p);
    let mut compiled = Compiled::default();
    for (arch_label, arch) in &arches {
        let Some(mut ctx) = new_filter(p, default, &version, out) else {
            return; // the default action is refused: no filter can be built, on any architecture
        };
        if !set_arch(p, &mut ctx, arch_label, *arch, &version, out) {
            continue;
        }
        add_rules(p, &mut ctx, arch_label, *arch, &version, &mut compiled);
        check_length(&ctx, arch_label, &version, out);
    }
    compiled.report(p, arches.len(), &version, out);
}

/// The architectures runc builds a filter for: those listed that libseccomp and the runtime-spec both know,
/// each once (a repeat would build the same filter again), or the native one when none is listed.
fn filter_arches(p: &Profile) -> Vec<(String, ScmpArch)> {
    let native = ScmpArch::native();
    let mut arches: Vec<(String, ScmpArch)> = if p.architectures.is_empty() {
        vec![(arch_name(native), native)]
    } else {
        p.architectures
            .iter()
            .filter_map(|(_, name)| Some((name.to_string(), ScmpArch::from_str(name).ok()?)))
            .filter(|(name, _)| ARCHES.contains(&name.as_str()))
            .collect()
    };
    let mut seen = Vec::new();
    arches.retain(|(_, arch)| {
        !seen.contains(arch) && {
            seen.push(*arch);
            true
        }
    });
    arches
}

/// A filter with the profile's default action; `None` (reported) when libseccomp refuses that action.
fn new_filter(p: &Profile, default: ScmpAction, version: &str, out: &mut Out) -> Option<ScmpFilterContext> {
    match ScmpFilterContext::new(default) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            match errno_too_big(p.default_action, p.default_errno) {
                Some(errno) => out.error("defaultErrnoRet", format!("{version} {}", errno_range(errno))),
                None => out.error(
                    "defaultAction",
                    format!(
                        "{version} refuses this default action ({}): runc fails to start the \
                         container",
                        errno_text(&e)
                    ),
                ),
            }
            None
        }
    }
}

/// Makes `ctx` a filter for `arch` alone; `false` (reported) when this libseccomp cannot build one.
fn set_arch(
    p: &Profile,
    ctx: &mut ScmpFilterContext,
    arch_label: &str,
    arch: ScmpArch,
    version: &str,
    out: &mut Out,
) -> bool {
    if arch == ScmpArch::native() {
        return true;
    }
    let Err(e) = ctx.add_arch(arch).and_then(|c| c.remove_arch(ScmpArch::Native)) else {
        return true;
    };
    let i = p.architectures.iter().find(|(_, n)| *n == arch_label).map_or(0, |(i, _)| *i);
    out.error(
        &format!("architectures[{i}]"),
        format!(
            "{version} cannot build a filter for {arch_label} ({}): runc fails to start the container \
             where its libseccomp is as old; drop the architecture or upgrade libseccomp",
            errno_text(&e)
        ),
    );
    false
}

/// What compiling the rules found, gathered over every architecture so that each finding is made once.
#[derive(Default)]
struct Compiled<'a> {
    /// (location, what) -> the architectures it happened on, so a multi-arch profile gets one finding.
    refused: BTreeMap<(String, String), BTreeSet<&'a str>>,
    /// Names libseccomp knows on no architecture, by location.
    unknown: BTreeMap<String, &'a str>,
    /// (entry, name) -> the architectures it is not a syscall on; a set, since a name may be listed twice in
    /// one entry.
    not_on: BTreeMap<(&'a str, &'a str), BTreeSet<&'a str>>,
}

/// Adds every well-formed rule to `ctx`, as runc does, noting what libseccomp refuses or does not know.
fn add_rules<'a>(
    p: &'a Profile,
    ctx: &mut ScmpFilterContext,
    arch_label: &'a str,
    arch: ScmpArch,
    version: &str,
    compiled: &mut Compiled<'a>,
) {
    // runc turns on libseccomp's binary tree for longer rule sets; the length check must see the same.
    if p.entries.len() > 32 {
        let _ = ctx.set_ctl_optimize(2);
    }
    for e in &p.entries {
        let Some(action) = e.action.and_then(|a| scmp_action(a, e.errno_ret)) else {
            continue;
        };
        let conditions: Option<Vec<ScmpArgCompare>> = e.args.iter().map(Arg::compare).collect();
        let (Some(conditions), true) = (conditions, e.args_whole) else {
            continue; // malformed: reported already
        };
        for (k, name) in &e.names {
            // libseccomp takes rule numbers in the native arch's terms and translates them per filter arch.
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                compiled.unknown.insert(format!("{}.names[{k}]", e.loc), name);
                continue;
            };
            let on_arch = ScmpSyscall::from_name_by_arch_rewrite(name, arch).is_ok_and(|nr| nr.as_raw_syscall() >= 0);
            if !on_arch {
                compiled.not_on.entry((&e.loc, name)).or_default().insert(arch_label);
                continue;
            }
            if let Err(err) = ctx.add_rule_conditional(action, nr, &conditions) {
                let (loc, what) = refusal(e, *k, name, &err, version);
                compiled.refused.entry((loc, what)).or_default().insert(arch_label);
            }
        }
    }
}

/// The kernel refuses a classic BPF program longer than BPF_MAXINSNS: export the filter and measure it.
fn check_length(ctx: &ScmpFilterContext, arch_label: &str, version: &str, out: &mut Out) {
    match exported_len(ctx) {
        Ok(len) if len / BPF_INSN_BYTES > BPF_MAXINSNS => out.error(
            "syscalls",
            format!(
                "the filter for {arch_label} is {} BPF instructions; the kernel loads at most {BPF_MAXINSNS}, \
                 so runc fails with EINVAL: fewer conditions (`trapline profile --ioctl type`) make it shorter",
                len / BPF_INSN_BYTES
            ),
        ),
        Ok(_) => {}
        Err(e) => out.error(
            "syscalls",
            format!("{version} cannot export the filter for {arch_label} ({e}): runc fails to start the container"),
        ),
    }
}

impl Compiled<'_> {
    /// One finding per refusal and per unknown name, with every architecture it concerns.
    fn report(self, p: &Profile, arches: usize, version: &str, out: &mut Out) {
        for ((loc, what), arches) in self.refused {
            out.error(&loc, format!("{what} (compiling for {})", arches.into_iter().collect::<Vec<_>>().join(", ")));
        }
        let default_name = p.default_action.unwrap_or("the default action");
        for (loc, name) in self.unknown {
            out.warning(
                &loc,
                format!(
                    "{version} knows no syscall {name:?} on any architecture: runc skips the name silently, so the \
                     call gets {default_name}; check the spelling, or, for a syscall newer than libseccomp (457 and \
                     up for 2.5.4), upgrade libseccomp on the nodes"
                ),
            );
        }
        // A name missing on some of the listed architectures is normal in a profile written for several (x86_64's
        // newfstatat is fstatat64 on i386); one missing on all of them can never match anything.
        for ((entry, name), missing_on) in self.not_on {
            if missing_on.len() < arches {
                continue;
            }
            out.warning(
                &format!("{entry}.names"),
                format!(
                    "{name:?} is not a syscall on {}: libseccomp skips it silently, so that call gets \
                     {default_name}; use the architecture's own name",
                    missing_on.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

/// libseccomp asks the running kernel which actions it supports (its API level) and refuses the others.
/// lint judges the profile, not this machine: below the level of a current kernel (seccomp hidden, as in some
/// sandboxes, or a kernel before 5.7 or so) it assumes that level, for this whole process. It never loads a
/// filter, so nothing but lint's own verdicts depends on it.
fn assume_current_kernel_api() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if libseccomp::get_api() < 6 {
            let _ = libseccomp::set_api(6);
        }
    });
}

/// The runtime-spec name of a libseccomp architecture.
fn arch_name(arch: ScmpArch) -> String {
    ARCHES
        .iter()
        .find(|name| ScmpArch::from_str(name).ok() == Some(arch))
        .map_or_else(|| format!("{arch:?}"), |name| name.to_string())
}

/// `EINVAL: Invalid input to the libseccomp API`.
fn errno_text(e: &SeccompError) -> String {
    match e.errno() {
        Some(errno) => format!("{errno:?}: {e}"),
        None => e.to_string(),
    }
}

/// The 16 bits of an SCMP_ACT_ERRNO errno that libseccomp refuses (it takes 0 to 4094), if it does.
fn errno_too_big(action: Option<&str>, errno: Option<u64>) -> Option<u64> {
    let data = errno.unwrap_or(EPERM) & 0xffff;
    (action == Some("SCMP_ACT_ERRNO") && data > MAX_ERRNO).then_some(data)
}

fn errno_range(errno: u64) -> String {
    format!(
        "refuses errno {errno} (EINVAL): it takes 0 to {MAX_ERRNO} (runc cuts the value to 16 bits first), so \
         runc fails to start the container; use an errno from errno(3)"
    )
}

/// Where a refused rule is wrong and why, with the fix.
fn refusal(e: &Entry, name_at: usize, name: &str, err: &SeccompError, version: &str) -> (String, String) {
    let mut seen = [false; 6];
    let repeated = e.args.iter().filter_map(|a| a.index).find(|&i| {
        let slot = usize::try_from(i).ok().and_then(|i| seen.get_mut(i));
        slot.is_some_and(|s| std::mem::replace(s, true))
    });
    let out_of_range = e.args.iter().find(|a| a.index.is_some_and(|i| i > 5));
    let loc = |field: &str| format!("{}.{field}", e.loc);
    match err.errno() {
        Some(SeccompErrno::EACCES) => (
            loc("action"),
            format!(
                "the entry's action is the default action: {version} refuses such a rule (EACCES) and \
                 runc skips it silently; leave the entry out"
            ),
        ),
        Some(SeccompErrno::EINVAL) if errno_too_big(e.action, e.errno_ret).is_some() => {
            let errno = errno_too_big(e.action, e.errno_ret).unwrap_or_default();
            (loc("errnoRet"), format!("{version} {}", errno_range(errno)))
        }
        Some(SeccompErrno::EINVAL) if out_of_range.is_some() => {
            let arg = out_of_range.map_or(e.loc.as_str(), |a| a.loc.as_str());
            let index = out_of_range.and_then(|a| a.index).unwrap_or_default();
            (
                format!("{arg}.index"),
                format!(
                    "argument index {index} does not exist (syscalls have arguments 0 to 5): {version} \
                     (EINVAL) and runc refuse it; fix the index"
                ),
            )
        }
        Some(SeccompErrno::EINVAL) if repeated.is_some() => {
            let index = repeated.unwrap_or_default();
            (
                loc("args"),
                format!(
                    "args compare argument {index} more than once: {version} refuses it (EINVAL), and \
                     runc then adds each comparison as a rule of its own, so the AND becomes an OR and the \
                     entry allows more than it says; put each comparison of argument {index} in an entry \
                     of its own"
                ),
            )
        }
        Some(SeccompErrno::EEXIST) => (
            format!("{}.names[{name_at}]", e.loc),
            format!(
                "an earlier entry gives {name:?} another action under the same conditions: {version} \
                 refuses it (EEXIST) and runc fails to start the container; keep one of them"
            ),
        ),
        _ => (
            e.loc.clone(),
            format!("{version} refuses the rule for {name:?} ({}): runc fails to start the container", errno_text(err)),
        ),
    }
}

/// Why the filter could not be exported to be measured.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Memfd(nix::Error),
    #[error("{}", errno_text(.0))]
    Export(SeccompError),
    #[error(transparent)]
    Size(std::io::Error),
}

/// The size of the exported BPF program, in bytes.
fn exported_len(ctx: &ScmpFilterContext) -> Result<u64, ExportError> {
    let fd = memfd_create(c"trapline-lint", MFdFlags::MFD_CLOEXEC).map_err(ExportError::Memfd)?;
    ctx.export_bpf(&fd).map_err(ExportError::Export)?;
    let len = File::from(fd).metadata().map_err(ExportError::Size)?.len();
    Ok(len)
}

#[cfg(test)]
mod tests {
    use crate::profile::lint::Severity;
    use crate::profile::lint::tests::{assert_one, lint, with_entries};

    #[test]
    fn unknown_name_is_a_warning() {
        let f = lint(&with_entries(r#", {"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ALLOW"}"#));
        assert_one(&f, Severity::Warning, "syscalls[2].names[1]", "knows no syscall \"no_such_call\" on any");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn only_names_missing_on_every_arch_are_reported() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["newfstatat", "socket", "fstatat64", "arch_prctl", "pidfd_open"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                             {"names": ["fstatat64"], "action": "SCMP_ACT_LOG"}]}"#,
        );
        // newfstatat is x86_64's, fstatat64 i386's: fine in a profile for both.
        assert!(f.is_empty(), "{f:?}");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["newfstatat", "fstatat64", "pidfd_open"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].location, "syscalls[0].names");
        assert!(f[0].message.contains("\"fstatat64\" is not a syscall on SCMP_ARCH_X86_64"), "{}", f[0]);
        // A name listed twice is still missing on one architecture only.
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["fstatat64", "fstatat64", "pidfd_open"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn libseccomp_refusals_are_errors() {
        let f = lint(&with_entries(
            r#", {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                 {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}"#,
        ));
        assert_one(&f, Severity::Error, "syscalls[2].action", "EACCES");
        assert_one(&f, Severity::Error, "syscalls[3].args", "EINVAL");
        assert_one(&f, Severity::Error, "syscalls[5].names[0]", "EEXIST");
        assert_one(&f, Severity::Error, "syscalls[6].args[0].index", "index 6 does not exist");
        assert_eq!(f.len(), 4, "{f:?}");
    }

    #[test]
    fn errno_out_of_range_is_an_error() {
        let f = lint(&with_entries(r#", {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}"#));
        assert_one(&f, Severity::Error, "syscalls[2].errnoRet", "refuses errno 5000");
        assert_eq!(f.len(), 1, "{f:?}");
        let f = lint(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65574}"#);
        // runc cuts 65574 to 16 bits: 38, which libseccomp takes.
        assert_eq!(f, vec![]);
        let f = lint(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4294967295}"#);
        assert_one(&f, Severity::Error, "defaultErrnoRet", "refuses errno 65535");
        assert_one(&f, Severity::Error, "defaultAction", "clone3 is not listed");
        assert_eq!(f.len(), 2, "{f:?}");
    }
}
