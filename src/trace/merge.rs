//! Merging traces: the union of their runs and classes, keeping provenance (each class counts the runs it
//! was seen in). Associative and commutative: runs are sorted, classes keyed by identity and combined with
//! sums, unions and minimums, so traces from many pods reduce in any order to the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::aggregate::class_order;
use super::model::{Arg, Class, FdDesc, Outcomes, Trace};

/// Pids listed per class after a merge, as in a recording.
const PIDS_LISTED: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no traces to merge; usage: trapline merge TRACE... -o TRACE")]
    NoTraces,
    #[error(
        "run {id} is in both {first} and {second}: it was merged already; merge each run once \
         (leave out one of the two files)"
    )]
    DuplicateRun { id: String, first: PathBuf, second: PathBuf },
    #[error("{first} holds runs on {first_arch} but {other} on {other_arch}; merge traces of one architecture")]
    MixedArch { first: PathBuf, first_arch: String, other: PathBuf, other_arch: String },
}

/// What makes two classes the same class in different traces: everything but the tallies.
pub type Identity = (String, String, u64, Vec<(Option<u8>, String, u64, Option<String>)>, Option<FdDesc>);

pub fn identity(c: &Class) -> Identity {
    (
        c.syscall.clone(),
        c.arch.name().to_string(),
        c.nr,
        // An unreadable value (0 with the errno) is not the value 0.
        c.args.iter().map(|a| (a.index, a.name.clone(), a.value.0, a.unreadable.clone())).collect(),
        c.fd.clone(),
    )
}

/// Refuses a run that two of the traces hold: counted twice, it would pass for two runs ("seen in 2 of 2").
pub fn distinct_runs(traces: &[(PathBuf, Trace)]) -> Result<(), MergeError> {
    let mut run_source: BTreeMap<&str, &PathBuf> = BTreeMap::new();
    for (path, trace) in traces {
        for run in &trace.runs {
            if let Some(first) = run_source.insert(&run.id, path) {
                return Err(MergeError::DuplicateRun {
                    id: run.id.clone(),
                    first: first.clone(),
                    second: path.clone(),
                });
            }
        }
    }
    Ok(())
}

pub fn merge(traces: Vec<(PathBuf, Trace)>) -> Result<Trace, MergeError> {
    let schema = traces.iter().map(|(_, t)| t.schema).max().ok_or(MergeError::NoTraces)?;
    distinct_runs(&traces)?;
    let mut runs = Vec::new();
    let mut arch_source: Option<(String, PathBuf)> = None;
    let mut classes: BTreeMap<Identity, Class> = BTreeMap::new();
    for (path, trace) in traces {
        for run in &trace.runs {
            match &arch_source {
                Some((arch, first)) if *arch != run.arch.name() => {
                    return Err(MergeError::MixedArch {
                        first: first.clone(),
                        first_arch: arch.clone(),
                        other: path,
                        other_arch: run.arch.name().to_string(),
                    });
                }
                Some(_) => {}
                None => arch_source = Some((run.arch.name().to_string(), path.clone())),
            }
        }
        runs.extend(trace.runs);
        for class in trace.classes {
            match classes.entry(identity(&class)) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(class);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => combine(e.get_mut(), class),
            }
        }
    }
    runs.sort_by(|a, b| (&a.started, &a.id).cmp(&(&b.started, &b.id)));
    // BTreeMap order is identity order, which is the recording order (name, arch, values, fd) but for `nr`
    // coming before the values: sort as a recording does.
    let mut classes: Vec<Class> = classes.into_values().collect();
    classes.sort_by_cached_key(class_order);
    Ok(Trace { schema, runs, classes })
}

/// Folds `other` into `into`. Every step is commutative and associative; where two traces disagree on a
/// description (a newer trapline decodes a name the older did not), the smaller text wins, so the result does
/// not depend on order.
fn combine(into: &mut Class, other: Class) {
    into.count += other.count;
    into.runs += other.runs;
    into.processes += other.processes;
    into.results = match (into.results.take(), other.results) {
        (Some(a), Some(b)) => Some(add_outcomes(a, b)),
        (a, b) => a.or(b),
    };
    for (action, n) in other.denied {
        *into.denied.entry(action).or_insert(0) += n;
    }
    let pids: BTreeSet<u32> = into.pids.iter().chain(&other.pids).copied().collect();
    into.pids = pids.into_iter().take(PIDS_LISTED).collect();
    let exes: BTreeSet<_> = into.exes.drain(..).chain(other.exes).collect();
    into.exes = exes.into_iter().collect();
    into.first_seen_secs = into.first_seen_secs.min(other.first_seen_secs);
    into.site = match (into.site.take(), other.site) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for (mine, theirs) in into.args.iter_mut().zip(other.args) {
        combine_arg(mine, theirs);
    }
}

fn combine_arg(into: &mut Arg, other: Arg) {
    into.raw = match (into.raw, other.raw) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if other.decoded < into.decoded {
        into.decoded = other.decoded;
    }
}

fn add_outcomes(mut a: Outcomes, b: Outcomes) -> Outcomes {
    a.ok += b.ok;
    for (errno, n) in b.errors {
        *a.errors.entry(errno).or_insert(0) += n;
    }
    a
}

/// The line `trapline merge` ends with; `output` names where the merge went.
pub fn summary(merged: &Trace, output: &str) -> String {
    format!("merged {} runs into {} classes -> {output}", merged.runs.len(), merged.classes.len())
}
