//! The checks that need no compiler: the runtime-spec vocabulary runc and crun accept, the keys containerd
//! and Docker drop or refuse, KEP-6061 validation, glibc's clone3 fallback, and conditions or defaults that
//! protect less than they seem to. Each check's comment names the consumer it protects.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::engines::LISTENER_DROPPED;
use super::model::{Entry, Profile, field};
use super::out::{Out, key_loc};
use super::vocabulary::{ACTIONS, ARCHES, EPERM, FLAGS, OPS};
use crate::profile::generate::MAX_ENTRIES_PER_SYSCALL;
use crate::profile::risk::{ADDR_NO_RANDOMIZE, risk_of};
use crate::profile::runtime::Runtime;

const ENOSYS: u64 = 38;
const LOW_32_BITS: u64 = 0xffff_ffff;
/// ioctl's request argument.
const IOCTL_REQUEST: u64 = 1;

/// runc and crun refuse unknown action, operator, architecture and flag strings; KEP-6061 validation
/// refuses unknown architectures, flags and operators.
pub(super) fn check_strings(p: &Profile, out: &mut Out) {
    let mut unknown = |loc: &str, what: &str, value: &str, known: &[&str]| {
        if !known.contains(&value) {
            out.error(
                loc,
                format!(
                    "unknown {what} {value:?}: runc and crun refuse the profile (KEP-6061 validation too); \
                     use one of {}",
                    known.join(", ")
                ),
            );
        }
    };
    if let Some(action) = p.default_action {
        unknown("defaultAction", "action", action, ACTIONS);
    }
    for (i, arch) in &p.architectures {
        unknown(&format!("architectures[{i}]"), "architecture", arch, ARCHES);
    }
    for (i, flag) in &p.flags {
        unknown(&format!("flags[{i}]"), "flag", flag, FLAGS);
    }
    for e in &p.entries {
        if let Some(action) = e.action {
            unknown(&format!("{}.action", e.loc), "action", action, ACTIONS);
        }
        for a in &e.args {
            if let Some(op) = a.op {
                unknown(&format!("{}.op", a.loc), "operator", op, OPS);
            }
        }
    }
}

/// Every consumer: MASKED_EQ is `(arg & value) == valueTwo`, so a mask (`value`) of 0 makes the condition
/// always true (or, with a non-zero `valueTwo`, never true). Usually `value` and `valueTwo` were swapped.
pub(super) fn check_mask_zero(p: &Profile, out: &mut Out) {
    for a in p.entries.iter().flat_map(|e| &e.args) {
        if a.op != Some("SCMP_CMP_MASKED_EQ") || a.value != Some(0) {
            continue;
        }
        let effect = match a.value_two {
            Some(0) => "(arg & 0) == 0 holds for every value: the condition allows any value",
            _ => "(arg & 0) never equals a non-zero valueTwo: the entry never matches",
        };
        out.error(
            &format!("{}.value", a.loc),
            format!(
                "SCMP_CMP_MASKED_EQ with mask 0: {effect}; `value` is the mask and `valueTwo` the expected \
                 value (for a 32-bit argument: value 4294967295, valueTwo the value)"
            ),
        );
    }
}

/// runc refuses SCMP_ACT_NOTIFY as the default action and on `write`; every NOTIFY needs a listener, and
/// KEP-6061 OCI-artifact profiles refuse NOTIFY and listenerPath.
pub(super) fn check_notify(p: &Profile, out: &mut Out) {
    const NOTIFY: &str = "SCMP_ACT_NOTIFY";
    const KEP: &str = "KEP-6061 OCI-artifact profiles refuse it";
    if p.default_action == Some(NOTIFY) {
        out.error(
            "defaultAction",
            format!(
                "SCMP_ACT_NOTIFY as the default action: runc refuses it (it must write the notify fd to its \
                 parent), and {KEP}; use SCMP_ACT_ERRNO or SCMP_ACT_LOG"
            ),
        );
    }
    for e in &p.entries {
        if e.action != Some(NOTIFY) {
            continue;
        }
        let loc = format!("{}.action", e.loc);
        if e.names.iter().any(|(_, n)| *n == "write") {
            out.error(
                &loc,
                format!(
                    "SCMP_ACT_NOTIFY on write: runc refuses it (it writes the notify fd to its parent after loading \
                     the filter), and {KEP}; allow write or log it with SCMP_ACT_LOG"
                ),
            );
        } else {
            out.warning(
                &loc,
                format!(
                    "SCMP_ACT_NOTIFY needs a seccomp agent on listenerPath: without one the container hangs in \
                     \"created\", and if it dies the notified calls fail with ENOSYS; {KEP}; for a deployable \
                     profile use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO or SCMP_ACT_LOG"
                ),
            );
        }
    }
    let notifies = p.entries.iter().any(|e| e.action == Some(NOTIFY));
    for key in ["listenerPath", "listenerMetadata"] {
        if field(p.object, key).is_some() {
            // Where the engine drops the listener, the NOTIFY rules alone hang the container.
            let engines = match (key, notifies) {
                ("listenerPath", true) => format!("; {LISTENER_DROPPED}"),
                _ => String::new(),
            };
            out.warning(
                key,
                format!(
                    "{key} hands the notify fd to a seccomp agent that must be listening before the container \
                     starts; {KEP}, and Kubernetes has no way to run the agent; drop it from a deployable \
                     profile{engines}"
                ),
            );
        }
    }
}

/// containerd unmarshals plainly into the OCI struct and drops every other key without a word; Docker
/// (moby) refuses `architectures` together with `archMap`.
pub(super) fn check_foreign_keys(p: &Profile, out: &mut Out) {
    const TOP: &[&str] =
        &["defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls"];
    // The Security Profiles Operator's own spec fields.
    const SPO: &[&str] = &["baseProfileName", "disabled"];
    const ENTRY: &[&str] = &["names", "action", "errnoRet", "args"];
    const ARG: &[&str] = &["index", "value", "valueTwo", "op"];
    let spo: &[&str] = if p.form.is_operator_spec() { SPO } else { &[] };
    foreign_keys(p.object, "", &[TOP, spo].concat(), out);
    for e in &p.entries {
        foreign_keys(e.object, &e.loc, ENTRY, out);
        for a in &e.args {
            foreign_keys(a.object, &a.loc, ARG, out);
        }
    }
    if field(p.object, "archMap").is_some() && field(p.object, "architectures").is_some() {
        out.error(
            "archMap",
            "architectures and archMap together: Docker refuses the profile (\"use either 'architectures' or \
             'archMap'\"); keep architectures"
                .to_string(),
        );
    }
}

fn foreign_keys(object: &Map<String, Value>, base: &str, known: &[&str], out: &mut Out) {
    const DROPPED: &str = "containerd drops it silently (plain unmarshal into the OCI struct)";
    for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
        let what = match key.as_str() {
            "archMap" => format!(
                "archMap is Docker's: {DROPPED} and runc never sees it; list the architectures in `architectures`"
            ),
            "includes" | "excludes" => format!(
                "{key} is Docker's (conditions on capabilities, arches, kernel): {DROPPED}, so the entry applies \
                 everywhere; resolve it for your target and remove the key"
            ),
            "comment" => format!(
                "comment is Docker's: {DROPPED}; keep explanations in a separate report (`trapline profile \
                 --explain FILE`)"
            ),
            "minKernel" => {
                format!("minKernel is Docker's: {DROPPED}, so the entry applies on every kernel; remove the key")
            }
            "name" => format!(
                "name is the old single-name form: {DROPPED}, so the entry matches nothing; write it as \
                 `names: [..]`"
            ),
            _ => format!(
                "{key:?} is not a runtime-spec key: {DROPPED}, so it has no effect; remove it or fix its spelling"
            ),
        };
        out.warning(&key_loc(base, key), what);
    }
}

/// KEP-6061 validation refuses more than 128 entries naming one syscall.
pub(super) fn check_entries_per_syscall(p: &Profile, out: &mut Out) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &p.entries {
        let mut names: Vec<&str> = e.names.iter().map(|(_, n)| *n).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let count = counts.entry(name).or_default();
            *count += 1;
            if *count == MAX_ENTRIES_PER_SYSCALL + 1 {
                let total = p.entries.iter().filter(|e| e.names.iter().any(|(_, n)| *n == name)).count();
                let fix = if name == "ioctl" {
                    "coarsen with `trapline profile --ioctl type`"
                } else {
                    "merge conditions or allow the call unconditionally"
                };
                out.error(
                    &e.loc,
                    format!(
                        "{name:?} is named by {total} entries (this is number {}): KEP-6061 OCI-artifact profiles \
                         refuse more than {MAX_ENTRIES_PER_SYSCALL}; {fix}",
                        MAX_ENTRIES_PER_SYSCALL + 1
                    ),
                );
            }
        }
    }
}

/// The workload: a profile that allows by default protects against nothing it does not list.
pub(super) fn check_default_allow(p: &Profile, out: &mut Out) {
    if p.default_action == Some("SCMP_ACT_ALLOW") {
        out.warning(
            "defaultAction",
            "SCMP_ACT_ALLOW by default: the profile denies only what it lists, and every syscall added to the \
             kernel later is allowed; make an allow-list from traces with `trapline profile`"
                .to_string(),
        );
    }
}

/// The reader: runc and crun use an errno only with SCMP_ACT_ERRNO (the call's error) and SCMP_ACT_TRACE (the
/// tracer's data); with any other action they drop it without a word, so a profile that says `errnoRet: 1` on a
/// kill rule reads as if the call failed with EPERM.
pub(super) fn check_errno_without_errno_action(p: &Profile, out: &mut Out) {
    let ignored = |action: Option<&str>| action.is_some_and(|a| a != "SCMP_ACT_ERRNO" && a != "SCMP_ACT_TRACE");
    let message = |action: &str| {
        format!(
            "has no effect with {action}: runc and crun use it only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE; remove it"
        )
    };
    if p.default_errno.is_some() && ignored(p.default_action) {
        out.warning("defaultErrnoRet", message(p.default_action.unwrap_or_default()));
    }
    for e in &p.entries {
        if e.errno_ret.is_some() && ignored(e.action) {
            out.warning(&format!("{}.errnoRet", e.loc), message(e.action.unwrap_or_default()));
        }
    }
}

/// The workload: SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD (runc and crun map it so): the calling thread dies and
/// the rest of the process runs on without it. In a multi-threaded program (every ML framework: data loaders,
/// NCCL, CUDA's own threads) that is a hang or a corrupt state, not a failure anyone sees.
pub(super) fn check_kill_thread(p: &Profile, out: &mut Out) {
    let kills_a_thread = |action: Option<&str>| matches!(action, Some("SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD"));
    let message = |action: &str| {
        format!(
            "{action} kills only the calling thread: the rest of a multi-threaded process runs on without it and \
             may hang; use SCMP_ACT_KILL_PROCESS, or SCMP_ACT_ERRNO to let the program see the refusal"
        )
    };
    if kills_a_thread(p.default_action) {
        out.warning("defaultAction", message(p.default_action.unwrap_or_default()));
    }
    for e in p.entries.iter().filter(|e| kills_a_thread(e.action)) {
        out.warning(&format!("{}.action", e.loc), message(e.action.unwrap_or_default()));
    }
}

/// glibc (2.34 and later) calls clone3 first and falls back to clone only on ENOSYS: any other denial
/// breaks pthread_create and posix_spawn.
pub(super) fn check_clone3(p: &Profile, out: &mut Out) {
    // What a denial does, or None when the call goes through (or gets ENOSYS).
    let denial = |action: &str, errno: Option<u64>| -> Option<String> {
        match action {
            "SCMP_ACT_ERRNO" if errno.unwrap_or(EPERM) & 0xffff != ENOSYS => {
                Some(format!("errno {}, not ENOSYS (38)", errno.unwrap_or(EPERM) & 0xffff))
            }
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_TRAP" => {
                Some(action.to_string())
            }
            _ => None,
        }
    };
    let fix = "glibc fails pthread_create and posix_spawn instead of falling back to clone; deny clone3 with \
               SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS), or allow it";
    let entries: Vec<&Entry> = p.entries.iter().filter(|e| e.names.iter().any(|(_, n)| *n == "clone3")).collect();
    if entries.is_empty() {
        let Some(action) = p.default_action else {
            return;
        };
        if let Some(what) = denial(action, p.default_errno) {
            out.error("defaultAction", format!("clone3 is not listed, so it gets the default action ({what}): {fix}"));
        }
        return;
    }
    for e in entries {
        let Some(action) = e.action else { continue };
        if let Some(what) = denial(action, e.errno_ret) {
            let field = if action == "SCMP_ACT_ERRNO" { "errnoRet" } else { "action" };
            out.error(&format!("{}.{field}", e.loc), format!("clone3 is denied ({what}): {fix}"));
        }
    }
}

/// The kernel and glibc: ioctl's request is 32 bits in C, and callers may hand it over sign-extended (bit 31
/// set) or with junk in the upper half; a 64-bit comparison then misses it and the call is denied.
pub(super) fn check_ioctl_request_width(p: &Profile, out: &mut Out) {
    const FIX: &str = "compare with SCMP_CMP_MASKED_EQ, value (the mask) 4294967295, valueTwo the request";
    for e in &p.entries {
        if !e.names.iter().any(|(_, n)| *n == "ioctl") {
            continue;
        }
        for a in e.args.iter().filter(|a| a.index == Some(IOCTL_REQUEST)) {
            match (a.op, a.value) {
                (Some("SCMP_CMP_EQ"), _) => out.warning(
                    &format!("{}.op", a.loc),
                    format!(
                        "ioctl's request compared with SCMP_CMP_EQ: all 64 bits must match, so sign-extended \
                         request codes (bit 31 set) do not; {FIX}"
                    ),
                ),
                (Some("SCMP_CMP_MASKED_EQ"), Some(mask)) if mask & !LOW_32_BITS != 0 => out.warning(
                    &format!("{}.value", a.loc),
                    format!(
                        "ioctl's request masked with {mask:#x}, wider than 32 bits: sign-extended request codes \
                         (bit 31 set) do not match; {FIX}"
                    ),
                ),
                _ => {}
            }
        }
    }
}

/// The runtime: runc and crun load the filter in the container's init process and then make calls of their
/// own before they exec the workload (`profile::runtime` lists them). A profile that denies one of them keeps
/// the container from starting, or (for calls the runtime makes only sometimes) from starting every time.
pub(super) fn check_runtime_needs(p: &Profile, runtime: Option<Runtime>, out: &mut Out) {
    let Some(runtime) = runtime else { return };
    let allowed = |name: &&str| {
        let mut entries = p.entries.iter().filter(|e| e.names.iter().any(|(_, n)| n == name)).peekable();
        match entries.peek() {
            None => lets_through(p.default_action),
            Some(_) => entries.any(|e| e.args.is_empty() && lets_through(e.action)),
        }
    };
    let needs = runtime.syscalls();
    let (sometimes, always): (Vec<&str>, Vec<&str>) =
        needs.names.iter().filter(|name| !allowed(name)).partition(|name| needs.timing.contains(name));
    let rt = runtime.name();
    let fix =
        format!("allow them, or make the profile with `trapline profile --runtime {rt}`, which adds what {rt} needs");
    if !always.is_empty() {
        out.error(
            "syscalls",
            format!(
                "{rt} calls {} after loading the filter, before it execs the workload, and the profile denies them: \
                 the container cannot start{}; {fix}",
                always.join(", "),
                only_without_no_new_privs(needs.with_no_new_privs, &always)
            ),
        );
    }
    if !sometimes.is_empty() {
        out.warning(
            "syscalls",
            format!(
                "{rt} calls {} after loading the filter on some runs (Go runtime timing), and the profile denies \
                 them: the container fails to start now and then; {fix}",
                sometimes.join(", ")
            ),
        );
    }
}

/// Where every denied call is one the runtime makes only without no_new_privs, the profile was most likely
/// recorded through the runtime with `noNewPrivileges: true`: it does start where no_new_privs is set.
fn only_without_no_new_privs(with_no_new_privs: Option<&[&str]>, denied: &[&str]) -> &'static str {
    match with_no_new_privs {
        Some(kept) if denied.iter().all(|name| !kept.contains(name)) => {
            " without no_new_privs (Docker's default), since it then loads the filter before dropping privileges; \
             these are all such calls, as in a recording made with noNewPrivileges: true, so it does start with \
             `docker run --security-opt no-new-privileges` or Kubernetes' `allowPrivilegeEscalation: false`"
        }
        _ => "",
    }
}

/// Calls a filter cannot see through: clone3's flags sit behind a pointer (so an allowed clone3 creates the
/// namespaces a clone rule refuses), and what is submitted through io_uring never passes the filter at all.
/// Docker's default profile answers clone3 with ENOSYS (glibc falls back to clone) and denies io_uring.
pub(super) fn check_filter_bypasses(p: &Profile, out: &mut Out) {
    let bypasses = [
        (
            "clone3",
            "seccomp cannot see clone3's flags, so the workload can create namespaces (CLONE_NEWUSER, CLONE_NEWNET) \
             the profile refuses to clone; deny clone3 with SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS): glibc then \
             calls clone, whose flags the filter checks",
        ),
        (
            "io_uring_setup",
            "what a workload submits through io_uring (opens, reads, connects) never passes the seccomp filter; \
             deny io_uring_setup with SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS): libuv and liburing fall back to \
             plain syscalls (trapline profile --allow-io-uring keeps it on purpose)",
        ),
    ];
    for (name, why) in bypasses {
        // A default that allows is reported already (it lets through everything not listed).
        let allowed = p.entries.iter().filter(|e| e.names.iter().any(|(_, n)| *n == name) && lets_through(e.action));
        for e in allowed {
            out.warning(&e.loc, format!("{name} is allowed: {why}"));
        }
    }
}

/// Calls that weaken isolation (`profile::risk`), each where an entry allows it, for the reviewer to weigh:
/// why it matters and what Docker's default profile does with it. personality counts only where it may turn
/// address-space randomisation off.
pub(super) fn check_risky(p: &Profile, out: &mut Out) {
    for e in p.entries.iter().filter(|e| lets_through(e.action)) {
        for (i, name) in &e.names {
            if let Some(risk) = risk_of(name) {
                out.warning(
                    &format!("{}.names[{i}]", e.loc),
                    format!(
                        "{name} is allowed, and it {}; Docker's default profile: {}. Keep it only if the workload \
                         needs it (the explain report names the executable and call site that did)",
                        risk.why, risk.docker
                    ),
                );
            }
            if *name == "personality" && may_disable_aslr(e) {
                out.warning(
                    &format!("{}.names[{i}]", e.loc),
                    "personality is allowed with ADDR_NO_RANDOMIZE: it turns address-space randomisation off for \
                     what the process execs next; Docker's default profile allows only the personas 0x0, 0x8, \
                     0x20000, 0x20008 and the query 0xffffffff"
                        .to_string(),
                );
            }
        }
    }
}

/// Whether an entry's conditions let a persona with ADDR_NO_RANDOMIZE through (no condition on arg 0 does).
fn may_disable_aslr(e: &Entry) -> bool {
    let on_persona: Vec<_> = e.args.iter().filter(|a| a.index == Some(0)).collect();
    on_persona.is_empty()
        || on_persona.iter().all(|a| match (a.op, a.value, a.value_two) {
            (Some("SCMP_CMP_EQ"), Some(value), _) => value & ADDR_NO_RANDOMIZE != 0 && value != 0xffff_ffff,
            // Mask 0 matches every value, which check_mask_zero reports already.
            (Some("SCMP_CMP_MASKED_EQ"), Some(mask), two) if mask != 0 => {
                mask & ADDR_NO_RANDOMIZE == 0 || two.unwrap_or(0) & ADDR_NO_RANDOMIZE != 0
            }
            _ => false,
        })
}

/// Whether an action lets the call through (SCMP_ACT_LOG allows and logs).
fn lets_through(action: Option<&str>) -> bool {
    matches!(action, Some("SCMP_ACT_ALLOW" | "SCMP_ACT_LOG"))
}

#[cfg(test)]
mod tests {
    use crate::profile::lint::Severity;
    use crate::profile::lint::tests::{assert_one, lint, with_entries};

    #[test]
    fn killing_a_thread_only_is_reported() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["ptrace"], "action": "SCMP_ACT_KILL_THREAD"},
                {"names": ["kexec_load"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
        );
        assert_one(&f, Severity::Warning, "syscalls[1].action", "SCMP_ACT_KILL_THREAD kills only the calling thread");
        assert_eq!(f.len(), 1, "{f:?}");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_KILL", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_one(&f, Severity::Warning, "defaultAction", "SCMP_ACT_KILL kills only the calling thread");
    }

    #[test]
    fn an_errno_with_another_action_is_reported() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "defaultErrnoRet": 1, "syscalls": [
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["ptrace"], "action": "SCMP_ACT_TRAP", "errnoRet": 1},
                {"names": ["getpid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]}"#,
        );
        assert_one(&f, Severity::Warning, "defaultErrnoRet", "has no effect with SCMP_ACT_KILL_PROCESS");
        assert_one(&f, Severity::Warning, "syscalls[1].errnoRet", "has no effect with SCMP_ACT_TRAP");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn unknown_strings_are_errors() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_DENY", "architectures": ["SCMP_ARCH_VAX"], "flags": ["SECCOMP_FILTER_FLAG_FAST"],
                "syscalls": [{"names": ["read"], "action": "ALLOW", "args": [{"index": 0, "value": 1, "op": "=="}]}]}"#,
        );
        assert_one(&f, Severity::Error, "defaultAction", "unknown action \"SCMP_ACT_DENY\"");
        assert_one(&f, Severity::Error, "architectures[0]", "unknown architecture");
        assert_one(&f, Severity::Error, "flags[0]", "unknown flag");
        assert_one(&f, Severity::Error, "syscalls[0].action", "unknown action \"ALLOW\"");
        assert_one(&f, Severity::Error, "syscalls[0].args[0].op", "unknown operator");
        assert_eq!(f.len(), 5, "{f:?}");
    }

    #[test]
    fn masked_eq_with_mask_zero_is_an_error() {
        let f = lint(&with_entries(
            r#", {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}"#,
        ));
        assert_one(&f, Severity::Error, "syscalls[2].args[0].value", "allows any value");
        assert_one(&f, Severity::Error, "syscalls[3].args[0].value", "never matches");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn notify_needs_a_listener_and_runc_refuses_some() {
        let f = lint(r#"{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"}"#);
        assert_one(&f, Severity::Error, "defaultAction", "runc refuses it");
        assert_one(&f, Severity::Warning, "listenerPath", "KEP-6061");
        assert_eq!(f.len(), 2, "{f:?}");
        let f = lint(&with_entries(
            r#", {"names": ["write"], "action": "SCMP_ACT_NOTIFY"}, {"names": ["openat"], "action": "SCMP_ACT_NOTIFY"}"#,
        ));
        assert_one(&f, Severity::Error, "syscalls[2].action", "runc refuses it");
        assert_one(&f, Severity::Warning, "syscalls[3].action", "KEP-6061");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn notify_with_a_listener_names_the_engines_that_drop_it() {
        let f = lint(&with_entries(r#", {"names": ["openat"], "action": "SCMP_ACT_NOTIFY"}"#).replacen(
            "{",
            r#"{"listenerPath": "/run/agent.sock", "#,
            1,
        ));
        for needle in ["Docker before 23.0", "containerd before 1.6", "CRI-O before 1.25", "record --container"] {
            assert_one(&f, Severity::Warning, "listenerPath", needle);
        }
        // A listener without NOTIFY rules is never used: dropping it harms nothing.
        let f = lint(&with_entries("").replacen("{", r#"{"listenerPath": "/run/agent.sock", "#, 1));
        assert_one(&f, Severity::Warning, "listenerPath", "KEP-6061");
        assert!(!f[0].message.contains("Docker"), "{f:?}");
    }

    #[test]
    fn docker_keys_are_warnings_and_arch_map_with_architectures_an_error() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
                "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "stdin", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [], "excludes": {}},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ", "note": "AF_UNIX"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "odd key": 1}]}"#,
        );
        assert_one(&f, Severity::Warning, "archMap", "containerd drops it");
        assert_one(&f, Severity::Error, "archMap", "Docker refuses");
        assert_one(&f, Severity::Warning, "syscalls[0].comment", "--explain");
        assert_one(&f, Severity::Warning, "syscalls[0].includes", "applies everywhere");
        assert_one(&f, Severity::Warning, "syscalls[1].excludes", "containerd drops it");
        assert_one(&f, Severity::Warning, "syscalls[2].args[0].note", "not a runtime-spec key");
        assert_one(&f, Severity::Warning, "syscalls[3][\"odd key\"]", "not a runtime-spec key");
        assert_eq!(f.len(), 7, "{f:?}");
    }

    #[test]
    fn more_than_128_entries_for_one_syscall_is_an_error() {
        let entries = |n: u64| -> String {
            (0..n)
                .map(|v| {
                    format!(
                        r#", {{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{{"index": 1, "value": 4294967295, "valueTwo": {v}, "op": "SCMP_CMP_MASKED_EQ"}}]}}"#
                    )
                })
                .collect()
        };
        assert_eq!(lint(&with_entries(&entries(128))), vec![]);
        let f = lint(&with_entries(&entries(129)));
        assert_one(&f, Severity::Error, "syscalls[130]", "--ioctl type");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn default_allow_is_a_warning() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        assert_one(&f, Severity::Warning, "defaultAction", "trapline profile");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn clone3_denied_without_enosys_is_an_error() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_one(&f, Severity::Error, "defaultAction", "clone3 is not listed");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
        );
        assert_one(&f, Severity::Error, "syscalls[0].errnoRet", "errno 1, not ENOSYS");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_eq!(f, vec![]);
    }

    #[test]
    fn ioctl_request_compared_on_64_bits_is_a_warning() {
        let f = lint(&with_entries(
            r#", {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 3221775648, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 18446744073709551615, "valueTwo": 21505, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967295, "valueTwo": 21506, "op": "SCMP_CMP_MASKED_EQ"}]}"#,
        ));
        assert_one(&f, Severity::Warning, "syscalls[2].args[0].op", "sign-extended");
        assert_one(&f, Severity::Warning, "syscalls[3].args[0].value", "wider than 32 bits");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    /// A profile recorded through runc with noNewPrivileges: true holds only what runc does after a late filter
    /// load: Docker without `--security-opt no-new-privileges` refuses it, and the error says how it starts.
    #[test]
    fn runc_calls_made_only_without_no_new_privs_name_the_fix() {
        use crate::profile::runtime::Runtime;
        let lint_runc = |names: &[&str]| {
            let names = names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
            let json = format!(
                r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": [{names}], "action": "SCMP_ACT_ALLOW"}},
                    {{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}}]}}"#
            );
            super::super::lint_bytes(std::path::Path::new("p.json"), json.as_bytes(), Some(Runtime::Runc)).unwrap()
        };
        let late = Runtime::Runc.syscalls().with_no_new_privs.unwrap();
        let f = lint_runc(late);
        assert_one(&f, Severity::Error, "syscalls", "--security-opt no-new-privileges");
        assert_one(&f, Severity::Error, "syscalls", "capset");
        let without_execve: Vec<&str> = late.iter().copied().filter(|n| *n != "execve").collect();
        let f = lint_runc(&without_execve);
        assert_one(&f, Severity::Error, "syscalls", "the container cannot start;");
    }
}
