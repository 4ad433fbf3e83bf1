//! Calls that a seccomp filter already in force denied when they were recorded (a container's profile, a
//! filter the workload loaded itself). The workload ran without them, so a profile keeps them denied, with the
//! errno the workload went on with, unless the user asks to allow them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::decode::flags::errno_number;
use crate::decode::seccomp::errno_of_action;
use crate::trace::model::{Class, Trace};

/// Classes by syscall name, each with the index of its trace.
pub type ByName<'a> = BTreeMap<&'a str, Vec<(usize, &'a Class)>>;

/// Takes every class whose calls were all denied out of `by_name` (a syscall none of whose calls ran leaves
/// it), and returns them by name.
pub fn take_denied<'a>(by_name: &mut ByName<'a>) -> ByName<'a> {
    let mut denied = ByName::new();
    for (name, classes) in by_name.iter_mut() {
        let (gone, kept): (Vec<_>, Vec<_>) = classes.drain(..).partition(|(_, class)| class.wholly_denied());
        *classes = kept;
        if !gone.is_empty() {
            denied.insert(*name, gone);
        }
    }
    by_name.retain(|_, classes| !classes.is_empty());
    denied
}

/// The errno every denied call of `classes` got, where they all got the same one: what the workload went on
/// with (glibc falls back from clone3 on ENOSYS, and treats EPERM as fatal).
pub fn one_errno(classes: &[(usize, &Class)]) -> Option<u32> {
    let mut errnos = classes.iter().flat_map(|(_, class)| class.denied.keys()).map(|action| errno_of_action(action));
    let first = errnos.next()??;
    errnos.all(|e| e == Some(first)).then(|| errno_number(first)).flatten().map(|e| e as u32)
}

/// Every class of the traces every call of which was denied, each with the index of its trace.
pub fn wholly_denied(traces: &[(PathBuf, Trace)]) -> Vec<(usize, &Class)> {
    let all = traces.iter().enumerate().flat_map(|(i, (_, t))| t.classes.iter().map(move |c| (i, c)));
    all.filter(|(_, c)| c.wholly_denied()).collect()
}
