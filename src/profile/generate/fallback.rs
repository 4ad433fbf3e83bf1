//! The calls a profile answers with an errno although the runs made them: ENOSYS where the caller falls back to
//! a call the filter can judge (clone3 to clone) or see at all (io_uring to plain syscalls), and the errno a
//! filter in force gave a call every time it was recorded.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// The calls the runs made that are denied with ENOSYS all the same, taken out of `by_name`, with a reason
/// each. clone3's flags sit behind a pointer where seccomp cannot look, so allowing it would let a workload
/// create the namespaces the clone rule refuses: glibc answers ENOSYS by calling clone, so clone3's calls move
/// to clone, whose rule then admits their flags. Only a run that used what clone cannot express keeps clone3.
/// Operations submitted through io_uring never pass the filter: libuv and liburing fall back to plain
/// syscalls on ENOSYS, unless the plan keeps io_uring.
pub(super) fn falls_back<'a>(
    by_name: &mut BTreeMap<&'a str, Seen<'a>>,
    plan: &ProfilePlan,
    warnings: &mut Vec<String>,
) -> Vec<Reason<'a>> {
    let mut reasons = Vec::new();
    let denied = |name: &str, seen| Reason {
        action: Action::Errno,
        errno_ret: Some(ENOSYS),
        ..allow(name, Source::FallsBack(seen))
    };
    if let Some(clone3) = by_name.get("clone3") {
        let exes = |seen: &Seen<'_>| -> String {
            let exes: BTreeSet<String> = seen.iter().flat_map(|(_, c)| c.exes.iter().map(|e| e.to_string())).collect();
            exes.into_iter().collect::<Vec<_>>().join(", ")
        };
        if clone3.iter().any(|(_, c)| arg_value(c, "flags").is_some_and(|f| f & CLONE3_ONLY_FLAGS != 0)) {
            warnings.push(format!(
                "clone3 is allowed: {} used flags that clone cannot express (CLONE_CLEAR_SIGHAND, CLONE_INTO_CGROUP); \
                 seccomp cannot see clone3's flags, so this profile does not stop the workload from creating \
                 namespaces",
                exes(clone3)
            ));
        } else if let Some(clone3) = by_name.remove("clone3") {
            by_name.entry("clone").or_default().extend(clone3.iter().copied());
            reasons.push(denied("clone3", clone3));
        }
    }
    for name in IO_URING {
        let Some(seen) = by_name.get(name) else { continue };
        if plan.allow_io_uring {
            if *name == "io_uring_setup" {
                warnings.push(
                    "io_uring is allowed (--allow-io-uring): what a workload submits through a ring is never seen \
                     by seccomp, so this profile does not limit it"
                        .to_string(),
                );
            }
            continue;
        }
        let seen = seen.clone();
        by_name.remove(name);
        if *name == "io_uring_setup" {
            warnings.push(
                "io_uring_setup is denied with ENOSYS although the runs used it: what is submitted through a ring \
                 bypasses seccomp; libuv and liburing fall back to plain syscalls, which this recording may not \
                 hold (record again with `--known` on this profile), or keep io_uring with --allow-io-uring"
                    .to_string(),
            );
            reasons.push(denied(name, seen));
        }
    }
    reasons
}

/// Syscalls none of whose calls ran, because a filter in force denied them all with one errno: the profile
/// answers them with that errno where its default would answer otherwise.
pub(super) fn denied_reasons<'a>(denied: &ByName<'a>, plan: &ProfilePlan) -> Vec<Reason<'a>> {
    let default_errno = (plan.default_action == DefaultAction::Errno).then_some(libc::EPERM as u32);
    denied
        .iter()
        .filter_map(|(name, seen)| {
            let errno = one_errno(seen).filter(|e| Some(*e) != default_errno)?;
            Some(Reason {
                action: Action::Errno,
                errno_ret: Some(errno),
                ..allow(name, Source::DeniedWhenRecorded(seen.clone()))
            })
        })
        .collect()
}
