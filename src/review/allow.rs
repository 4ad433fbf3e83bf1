//! The allow check: what the kernel does with one call class under a profile, as libseccomp builds it.
//!
//! - The class's architecture must be in the profile's `architectures`; otherwise the filter's bad-arch
//!   action applies (libseccomp's default, which runc and crun keep, kills the caller).
//! - Entries naming the syscall are alternatives (OR); the conditions of one entry must all hold (AND).
//! - Conditions compare the 64-bit register: a class keeps the low 32 bits of an `int` argument in `value`
//!   and the full register in `raw` when they differ (a sign-extended ioctl request), so `raw` is what the
//!   kernel sees. On 32-bit architectures only the low words take part, as in libseccomp's 32-bit rules.
//! - Where several entries match with different actions, libseccomp promises no order, so the most
//!   restrictive action wins (the kernel's own precedence between filters): a check that says "allowed" must
//!   hold whatever order the rules end up in.
//! - An argument the profile compares but the class does not hold (not decoded, read from memory, or
//!   unreadable) makes the verdict [`Verdict::Undecided`] when its value would change the outcome.

use crate::decode::arch::Arch;
use crate::decode::flags::errno_name;
use crate::profile::oci::{Action, ArgRule, Op, Seccomp, SyscallRule, arch_of_scmp};
use crate::trace::model::{Arg, Class};

/// errno that runc and crun return for `SCMP_ACT_ERRNO` without `errnoRet`.
pub const EPERM: u32 = 1;

/// What the kernel does with a call class under a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let through (`SCMP_ACT_ALLOW`, or `SCMP_ACT_LOG`, which also logs).
    Allowed(Decision),
    /// Stopped: failed with an errno, or the caller trapped or killed.
    Denied(Decision),
    /// The class's architecture is not in the profile: the bad-arch action kills the caller.
    BadArch(Arch),
    /// It depends on what the trace could not see.
    Undecided(Undecided),
}

/// The action that decided, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// For `SCMP_ACT_ERRNO`: the errno returned (EPERM when the profile names none).
    pub errno: Option<u32>,
    pub by: By,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// `defaultAction`: no entry matched.
    Default,
    /// `syscalls[i]`.
    Entry(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undecided {
    /// Argument indexes the profile compares and the class holds no value for.
    Unseen(Vec<u32>),
    /// `SCMP_ACT_NOTIFY`: a user-space listener answers, not the profile.
    Notify,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        matches!(self, Verdict::Allowed(_))
    }
}

/// errno of "no such call", which callers answer by falling back to another way.
const ENOSYS: u32 = 38;

/// The kernel's verdict on `class` under `profile`, or on what the caller does instead where the profile
/// answers ENOSYS to a call with a known fallback: glibc makes a clone3 call again as clone with the same flags,
/// and io_uring's users (libuv, liburing) go on with plain syscalls. Such a profile denies the workload
/// nothing, as long as clone is allowed those flags.
pub fn verdict(profile: &Seccomp, class: &Class) -> Verdict {
    let direct = kernel_verdict(profile, class);
    let Verdict::Denied(decision) = &direct else { return direct };
    // Denied when recorded, with the same answer: the workload ran without it and gets what it got then.
    if class.wholly_denied() && class.denied.keys().all(|answer| *answer == answer_name(decision)) {
        return Verdict::Allowed(*decision);
    }
    if decision.action != Action::Errno || decision.errno != Some(ENOSYS) {
        return direct;
    }
    match class.syscall.as_str() {
        "io_uring_setup" => Verdict::Allowed(*decision),
        _ => match fallback(class) {
            Some(instead) => kernel_verdict(profile, &instead),
            None => direct,
        },
    }
}

/// A decision as a trace's `denied` names the answer: `SCMP_ACT_ERRNO(EPERM)`, `SCMP_ACT_KILL_PROCESS`.
fn answer_name(decision: &Decision) -> String {
    match decision.action {
        Action::Errno => format!("SCMP_ACT_ERRNO({})", errno_name(decision.errno.unwrap_or(EPERM) as i32)),
        Action::Kill | Action::KillThread => "SCMP_ACT_KILL_THREAD".to_string(),
        other => serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
    }
}

/// The call that takes `class`'s place when it fails with ENOSYS, where a filter can judge it: clone for
/// clone3, with clone3's flags as its first argument.
pub fn fallback(class: &Class) -> Option<Class> {
    if class.syscall != "clone3" {
        return None;
    }
    let args = class.args.iter().filter(|a| a.name == "flags").map(|a| Arg { index: Some(0), ..a.clone() }).collect();
    Some(Class { syscall: "clone".to_string(), nr: class.arch.syscall_nr("clone")?, args, ..class.clone() })
}

/// What the filter itself decides for `class`.
fn kernel_verdict(profile: &Seccomp, class: &Class) -> Verdict {
    if !covers(profile, class.arch) {
        return Verdict::BadArch(class.arch);
    }
    let narrow = matches!(class.arch, Arch::I386 | Arch::Arm);
    let mut definite: Vec<Decision> = Vec::new();
    let mut possible: Vec<Decision> = Vec::new();
    let mut unseen: Vec<u32> = Vec::new();
    for (i, entry) in profile.syscalls.iter().enumerate() {
        if !entry.names.contains(&class.syscall) {
            continue;
        }
        let decision =
            Decision { action: entry.action, errno: errno_of(entry.action, entry.errno_ret), by: By::Entry(i) };
        match matches(entry, class, narrow) {
            Some(true) => definite.push(decision),
            Some(false) => {}
            None => {
                possible.push(decision);
                unseen.extend(entry.args.iter().filter(|a| value_of(class, a.index).is_none()).map(|a| a.index));
            }
        }
    }
    let default = Decision {
        action: profile.default_action,
        errno: errno_of(profile.default_action, profile.default_errno_ret),
        by: By::Default,
    };
    // The outcome is the most restrictive matching action; the entries that may match add at most one each
    // to what surely matches, so these are all the outcomes there can be.
    let base = strictest(&definite).unwrap_or(default);
    let outcomes: Vec<Decision> = std::iter::once(base)
        .chain(possible.iter().map(|p| strictest(&[base, *p]).filter(|_| !definite.is_empty()).unwrap_or(*p)))
        .collect();
    if outcomes.iter().any(|d| d.action == Action::Notify) {
        return Verdict::Undecided(Undecided::Notify);
    }
    let allowed = outcomes.iter().filter(|d| lets_through(d.action)).count();
    if allowed != 0 && allowed != outcomes.len() {
        unseen.sort_unstable();
        unseen.dedup();
        return Verdict::Undecided(Undecided::Unseen(unseen));
    }
    if allowed != 0 { Verdict::Allowed(base) } else { Verdict::Denied(base) }
}

/// Whether the entry's conditions hold for the class: `None` when some condition compares an argument the
/// class does not hold and the others do not already rule the entry out.
pub fn matches(entry: &SyscallRule, class: &Class, narrow: bool) -> Option<bool> {
    let mut unknown = false;
    for rule in &entry.args {
        match value_of(class, rule.index) {
            Some(value) if !holds(rule, value, narrow) => return Some(false),
            Some(_) => {}
            None => unknown = true,
        }
    }
    if unknown { None } else { Some(true) }
}

/// The register value of argument `index` as the kernel sees it, when the class holds it.
pub fn value_of(class: &Class, index: u32) -> Option<u64> {
    let arg = class.args.iter().find(|a| a.index.map(u32::from) == Some(index) && a.unreadable.is_none())?;
    Some(arg.raw.unwrap_or(arg.value).0)
}

/// One comparison, on 64 bits (or the low 32 on a 32-bit architecture).
pub fn holds(rule: &ArgRule, value: u64, narrow: bool) -> bool {
    let cut = |v: u64| if narrow { v & 0xffff_ffff } else { v };
    let (arg, datum) = (cut(value), cut(rule.value));
    match rule.op {
        Op::Eq => arg == datum,
        Op::Ne => arg != datum,
        Op::Lt => arg < datum,
        Op::Le => arg <= datum,
        Op::Gt => arg > datum,
        Op::Ge => arg >= datum,
        // For MASKED_EQ `value` is the mask and `valueTwo` the value.
        Op::MaskedEq => arg & datum == cut(rule.value_two),
    }
}

/// Whether the profile's filter handles calls of `arch`. With no `architectures` libseccomp builds a filter
/// for the native architecture only; trapline records on 64-bit machines, so that is x86_64 or aarch64.
pub fn covers(profile: &Seccomp, arch: Arch) -> bool {
    if profile.architectures.is_empty() {
        return matches!(arch, Arch::X86_64 | Arch::Aarch64);
    }
    profile.architectures.iter().any(|name| arch_of_scmp(name) == Some(arch))
}

/// The `SCMP_ARCH_*` name of an audit arch.
pub fn scmp_name(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "SCMP_ARCH_X86_64",
        Arch::I386 => "SCMP_ARCH_X86",
        Arch::X32 => "SCMP_ARCH_X32",
        Arch::Aarch64 => "SCMP_ARCH_AARCH64",
        Arch::Arm => "SCMP_ARCH_ARM",
    }
}

/// Whether the call goes through: LOG allows and logs.
pub fn lets_through(action: Action) -> bool {
    matches!(action, Action::Allow | Action::Log)
}

fn errno_of(action: Action, errno_ret: Option<u32>) -> Option<u32> {
    (action == Action::Errno).then(|| errno_ret.unwrap_or(EPERM))
}

/// The kernel's precedence of filter return values (`seccomp_run_filters`), strictest first.
fn rank(action: Action) -> u8 {
    match action {
        Action::KillProcess => 0,
        Action::Kill | Action::KillThread => 1,
        Action::Trap => 2,
        Action::Errno => 3,
        Action::Notify => 4,
        Action::Trace => 5,
        Action::Log => 6,
        Action::Allow => 7,
    }
}

fn strictest(decisions: &[Decision]) -> Option<Decision> {
    decisions.iter().min_by_key(|d| rank(d.action)).copied()
}

/// How the decision reads for a person: `SCMP_ACT_ERRNO (EPERM)`.
pub fn describe_action(action: Action, errno: Option<u32>) -> String {
    let name = serde_json::to_value(action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    match errno {
        Some(errno) => {
            format!("{name} ({})", crate::decode::flags::errno_name(i32::try_from(errno).unwrap_or(i32::MAX)))
        }
        None => name,
    }
}

impl Decision {
    pub fn describe(&self) -> String {
        describe_action(self.action, self.errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::model::{Arg, Hex};

    fn class(syscall: &str, arch: Arch, args: &[(Option<u8>, u64, Option<u64>)]) -> Class {
        Class {
            syscall: syscall.to_string(),
            arch,
            nr: 0,
            args: args
                .iter()
                .map(|&(index, value, raw)| Arg {
                    index,
                    name: "request".to_string(),
                    value: Hex(value),
                    raw: raw.map(Hex),
                    decoded: String::new(),
                    ioc: None,
                    unreadable: None,
                })
                .collect(),
            fd: None,
            count: 1,
            runs: 1,
            results: None,
            processes: 1,
            pids: vec![1],
            exes: Vec::new(),
            site: None,
            first_seen_secs: 0.0,
            denied: Default::default(),
        }
    }

    fn profile(json: &str) -> Seccomp {
        serde_json::from_str(json).unwrap()
    }

    const IOCTL_MASKED: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 1, "value": 4294967295, "valueTwo": 3223340586, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#;

    #[test]
    fn masked_rules_allow_sign_extended_requests() {
        let p = profile(IOCTL_MASKED);
        let plain = class("ioctl", Arch::X86_64, &[(Some(1), 0xc020462a, None)]);
        let signext = class("ioctl", Arch::X86_64, &[(Some(1), 0xc020462a, Some(0xffff_ffff_c020_462a))]);
        let other = class("ioctl", Arch::X86_64, &[(Some(1), 0x5401, None)]);
        assert!(verdict(&p, &plain).allowed());
        assert!(verdict(&p, &signext).allowed());
        assert_eq!(
            verdict(&p, &other),
            Verdict::Denied(Decision { action: Action::Errno, errno: Some(EPERM), by: By::Default })
        );
    }

    #[test]
    fn equality_compares_all_64_bits() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 1, "value": 3223340586, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(verdict(&p, &class("ioctl", Arch::X86_64, &[(Some(1), 0xc020462a, None)])).allowed());
        let signext = class("ioctl", Arch::X86_64, &[(Some(1), 0xc020462a, Some(0xffff_ffff_c020_462a))]);
        assert!(!verdict(&p, &signext).allowed());
    }

    #[test]
    fn ops_compare_unsigned() {
        let rule = |op, value| ArgRule { index: 0, value, value_two: 0, op };
        assert!(holds(&rule(Op::Lt, 10), 9, false) && !holds(&rule(Op::Lt, 10), 10, false));
        assert!(holds(&rule(Op::Le, 10), 10, false) && holds(&rule(Op::Ge, 10), 10, false));
        assert!(holds(&rule(Op::Gt, 10), u64::MAX, false) && holds(&rule(Op::Ne, 1), 2, false));
        // On a 32-bit architecture only the low words are compared.
        assert!(holds(&rule(Op::Eq, 5), 0x1_0000_0005, true) && !holds(&rule(Op::Eq, 5), 0x1_0000_0005, false));
    }

    #[test]
    fn entries_or_and_conditions_and() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let socket = |d, t| class("socket", Arch::X86_64, &[(Some(0), d, None), (Some(1), t, None)]);
        assert!(verdict(&p, &socket(1, 1)).allowed());
        assert!(verdict(&p, &socket(2, 2)).allowed());
        assert!(matches!(verdict(&p, &socket(2, 1)), Verdict::Denied(d) if d.action == Action::KillProcess));
    }

    #[test]
    fn the_strictest_matching_action_wins() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["openat2"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
        );
        let v = verdict(&p, &class("openat2", Arch::X86_64, &[]));
        assert_eq!(v, Verdict::Denied(Decision { action: Action::Errno, errno: Some(38), by: By::Entry(1) }));
        assert_eq!(describe_action(Action::Errno, Some(38)), "SCMP_ACT_ERRNO (ENOSYS)");
    }

    #[test]
    fn clone3_answered_with_enosys_is_judged_as_the_clone_it_becomes() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        );
        let clone3 = |flags| {
            let mut c = class("clone3", Arch::X86_64, &[]);
            c.args.push(Arg {
                index: None,
                name: "flags".into(),
                value: crate::trace::model::Hex(flags),
                raw: None,
                decoded: String::new(),
                ioc: None,
                unreadable: None,
            });
            c
        };
        // A thread (CLONE_VM|CLONE_THREAD|...): clone allows it, so clone3's ENOSYS denies nothing.
        assert!(verdict(&p, &clone3(0x3d0f00)).allowed());
        // CLONE_NEWUSER|CLONE_NEWNET: the clone it becomes is denied, as clone3 itself would not be checked.
        assert!(
            matches!(verdict(&p, &clone3(0x5000_0000)), Verdict::Denied(d) if d.by == By::Entry(1) || d.by == By::Default)
        );
    }

    #[test]
    fn unseen_arguments_leave_it_open_only_when_they_matter() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        assert_eq!(verdict(&p, &class("openat", Arch::X86_64, &[])), Verdict::Undecided(Undecided::Unseen(vec![2])));
        // Both possible outcomes deny: decided.
        let deny = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["openat"], "action": "SCMP_ACT_KILL", "args": [{"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(matches!(verdict(&deny, &class("openat", Arch::X86_64, &[])), Verdict::Denied(_)));
    }

    #[test]
    fn other_architectures_meet_the_bad_arch_action() {
        let p = profile(IOCTL_MASKED);
        assert_eq!(verdict(&p, &class("getpid", Arch::I386, &[])), Verdict::BadArch(Arch::I386));
        let no_list = profile(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#);
        assert!(verdict(&no_list, &class("getpid", Arch::X86_64, &[])).allowed());
        assert_eq!(verdict(&no_list, &class("getpid", Arch::I386, &[])), Verdict::BadArch(Arch::I386));
    }
}
