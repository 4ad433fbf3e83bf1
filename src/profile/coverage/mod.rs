//! How complete a set of recordings is: whether more runs would still add calls (`convergence`), and which
//! kinds of behaviour the runs exercised and which not (`behaviour`); `render` writes it for people and machines.

pub mod behaviour;
pub mod convergence;
pub mod render;

use std::path::PathBuf;

use behaviour::{Behaviours, behaviours};
use convergence::{Convergence, convergence};

use crate::profile::reachable::Reachability;
use crate::trace::merge::{MergeError, distinct_runs};
use crate::trace::model::Trace;

/// The estimate of the chance that the next run needs something new that the report calls small.
pub const DEFAULT_TARGET: f64 = 0.05;

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("no traces given; usage: trapline coverage TRACE...")]
    NoTraces,
    #[error(transparent)]
    Runs(#[from] MergeError),
}

#[derive(Clone, Debug)]
pub struct Coverage {
    pub convergence: Convergence,
    pub behaviours: Behaviours,
    /// What the inputs make uncertain: `--known` runs, merged runs, runs cut short.
    pub notes: Vec<String>,
    /// Reachable, never observed: present when asked for (it reads every binary the traces name).
    pub reachability: Option<Reachability>,
}

pub fn coverage(traces: &[(PathBuf, Trace)], target: f64) -> Result<Coverage, CoverageError> {
    if traces.is_empty() {
        return Err(CoverageError::NoTraces);
    }
    // A run given twice would pass for two runs that agree.
    distinct_runs(traces)?;
    let convergence = convergence(traces, target);
    let behaviours = behaviours(traces);
    let notes = notes(&convergence);
    Ok(Coverage { convergence, behaviours, notes, reachability: None })
}

fn notes(c: &Convergence) -> Vec<String> {
    let mut notes = Vec::new();
    for step in &c.runs {
        let trace = step.trace.display();
        if step.known {
            notes.push(format!(
                "{} ({trace}) was recorded with --known: it holds only what its profile did not allow, so it \
                 counts towards what was added but not towards the estimate, and a behaviour missing from it may \
                 have been exercised under the profile",
                step.label()
            ));
        }
        if step.first != step.last {
            notes.push(format!(
                "{} ({trace}) come merged: a merge keeps in how many runs each class was seen but not in which, \
                 so they are one step here",
                step.label()
            ));
        }
        if step.incomplete {
            notes.push(format!(
                "{} ({trace}) was cut short (interrupted or killed): what it added is a lower bound",
                step.label()
            ));
        }
    }
    if c.known_only > 0 {
        notes.push(format!(
            "{} class(es) only --known runs showed: the profile those runs used was missing them",
            c.known_only
        ));
    }
    notes
}
