//! Convergence: whether more runs would still add call classes, from what each run added and how many classes
//! only one run saw (a Good-Turing estimate over runs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::trace::merge::{Identity, identity};
use crate::trace::model::{Class, Trace};

/// Classes seen once that the report names (the rest are counted).
const NAMED: usize = 10;

/// What the runs, taken in the order given, say about the next one.
#[derive(Clone, Debug, Serialize)]
pub struct Convergence {
    /// One entry per input: a recording is one run, a merged trace several that share one entry.
    pub runs: Vec<Step>,
    /// Runs in all inputs, `--known` ones included.
    pub total_runs: u64,
    /// Runs recorded in full (not with `--known`): the estimate counts only these.
    pub full_runs: u64,
    /// Distinct classes over all runs.
    pub classes: u64,
    /// Classes seen in exactly one full run.
    pub seen_once: u64,
    /// The first of them, as a reviewer reads them.
    pub seen_once_classes: Vec<String>,
    /// Classes that only `--known` runs showed: each one a call the profile they ran under was missing.
    pub known_only: u64,
    /// Good-Turing: seen-once classes per full run, at most 1; absent with fewer than two full runs.
    pub next_run_new: Option<f64>,
    /// The estimate the report calls small.
    pub target: f64,
    /// How many further runs that add nothing would bring the estimate to `target` or under.
    pub further_runs: Option<u64>,
    /// One plain sentence: what the later runs added, and how many classes were seen once.
    pub verdict: String,
}

/// One input in the order given.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Position of its first and last run among all runs, from 1.
    pub first: u64,
    pub last: u64,
    pub trace: PathBuf,
    pub run_ids: Vec<String>,
    /// Recorded with `--known`: it holds only what its profile did not allow.
    pub known: bool,
    /// Some run of it was cut short: what it holds is a lower bound.
    pub incomplete: bool,
    /// Classes the input holds.
    pub classes: u64,
    /// Classes none of the earlier inputs held.
    pub new_classes: u64,
}

impl Step {
    /// "run 3" or "runs 3-5".
    pub fn label(&self) -> String {
        if self.first == self.last {
            format!("run {}", self.first)
        } else {
            format!("runs {}-{}", self.first, self.last)
        }
    }
}

pub fn convergence(traces: &[(PathBuf, Trace)], target: f64) -> Convergence {
    // identity -> (full runs that saw it, a class to name it by)
    let mut seen: HashMap<Identity, (u64, &Class)> = HashMap::new();
    let mut runs = Vec::new();
    let mut position = 0;
    for (path, trace) in traces {
        runs.push(step(path, trace, position, &mut seen));
        position += trace.runs.len() as u64;
    }
    let full_runs: u64 = traces.iter().flat_map(|(_, t)| &t.runs).filter(|r| r.known.is_none()).count() as u64;
    let mut once: Vec<String> = seen.values().filter(|(n, _)| *n == 1).map(|(_, c)| describe(c)).collect();
    once.sort();
    let seen_once = once.len() as u64;
    once.truncate(NAMED);
    // One run sees every class once: that estimates nothing.
    let next_run_new = (full_runs > 1).then(|| (seen_once as f64 / full_runs as f64).min(1.0));
    let further_runs = next_run_new.map(|p| further(p, seen_once, full_runs, target));
    let known_only = seen.values().filter(|(n, _)| *n == 0).count() as u64;
    let verdict = verdict(&runs, seen_once, full_runs);
    Convergence {
        runs,
        total_runs: position,
        full_runs,
        classes: seen.len() as u64,
        seen_once,
        seen_once_classes: once,
        known_only,
        next_run_new,
        target,
        further_runs,
        verdict,
    }
}

/// Folds one input into `seen` and says what it added.
fn step<'a>(path: &Path, trace: &'a Trace, before: u64, seen: &mut HashMap<Identity, (u64, &'a Class)>) -> Step {
    let full = trace.runs.iter().filter(|r| r.known.is_none()).count() as u64;
    let mut new_classes = 0;
    for class in &trace.classes {
        // A merge of full and --known runs counts a class per run that showed it; the full runs among them are
        // at most all of its full runs.
        let full_seen = class.runs.min(full);
        let entry = seen.entry(identity(class)).or_insert_with(|| {
            new_classes += 1;
            (0, class)
        });
        entry.0 += full_seen;
    }
    Step {
        first: before + 1,
        last: before + trace.runs.len().max(1) as u64,
        trace: path.to_path_buf(),
        run_ids: trace.runs.iter().map(|r| r.id.clone()).collect(),
        known: !trace.runs.is_empty() && trace.runs.iter().all(|r| r.known.is_some()),
        incomplete: trace.runs.iter().any(|r| !r.complete),
        classes: trace.classes.len() as u64,
        new_classes,
    }
}

/// With `seen_once` classes in `full` runs, how many more runs adding nothing bring `seen_once / runs` to
/// `target` or under (those classes stay seen once while nothing new comes).
fn further(p: f64, seen_once: u64, full: u64, target: f64) -> u64 {
    if p <= target {
        return 0;
    }
    // 15 / 0.05 is 300.00000000000006 in floating point: a hair under keeps it 300.
    let needed = (seen_once as f64 / target - 1e-9).ceil() as u64;
    needed.saturating_sub(full)
}

/// A class as one short phrase: `socket(AF_INET, SOCK_STREAM)`, `ioctl(0x5401 TCGETS) on /dev/pts/*`.
pub fn describe(class: &Class) -> String {
    let args: Vec<&str> = class.args.iter().map(|a| a.decoded.as_str()).collect();
    let mut text =
        if args.is_empty() { class.syscall.clone() } else { format!("{}({})", class.syscall, args.join(", ")) };
    if let Some(crate::trace::model::FdDesc::Device { path, .. }) = &class.fd {
        text.push_str(&format!(" on {path}"));
    }
    text
}

/// "run 2 added 4 classes, runs 3 and 4 added nothing; 2 classes seen once".
fn verdict(runs: &[Step], seen_once: u64, full_runs: u64) -> String {
    if full_runs == 0 {
        return "no run was recorded in full (all with --known): they show what their profile lacked, not how \
                complete a recording is"
            .to_string();
    }
    let Some((first, later)) = runs.split_first() else { return String::new() };
    if later.is_empty() {
        let what = if first.first == first.last {
            "one run: every class was seen once, so nothing yet says what another run would add; record more runs"
                .to_string()
        } else {
            format!("{} (merged): {}", first.label(), seen_once_phrase(seen_once))
        };
        return what;
    }
    let nothing: Vec<&Step> = later.iter().filter(|s| s.new_classes == 0).collect();
    let added: Vec<&Step> = later.iter().filter(|s| s.new_classes > 0).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        const LISTED: usize = 4;
        let mut listed: Vec<String> =
            added.iter().take(LISTED).map(|s| format!("{} added {}", s.label(), classes(s.new_classes))).collect();
        if added.len() > LISTED {
            listed.push(format!(
                "{} more inputs added classes, the last {}",
                added.len() - LISTED,
                added[added.len() - 1].label()
            ));
        }
        parts.push(listed.join(", "));
    }
    if !nothing.is_empty() {
        parts.push(format!("{} added nothing", labels(&nothing)));
    }
    format!("{}; {}", parts.join(", "), seen_once_phrase(seen_once))
}

fn seen_once_phrase(seen_once: u64) -> String {
    match seen_once {
        0 => "no class seen in only one run".to_string(),
        1 => "1 class seen once".to_string(),
        n => format!("{n} classes seen once"),
    }
}

fn classes(n: u64) -> String {
    if n == 1 { "1 class".to_string() } else { format!("{n} classes") }
}

/// "run 2", "runs 2 and 3", "runs 2, 3 and 5-9": positions, ranges where they run on.
fn labels(steps: &[&Step]) -> String {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for s in steps {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == s.first => *end = s.last,
            _ => ranges.push((s.first, s.last)),
        }
    }
    let single = ranges.len() == 1 && ranges[0].0 == ranges[0].1;
    // Two positions read better as "2 and 3" than as a range.
    let mut items: Vec<String> = ranges
        .iter()
        .flat_map(|&(a, b)| match b - a {
            0 => vec![a.to_string()],
            1 => vec![a.to_string(), b.to_string()],
            _ => vec![format!("{a}-{b}")],
        })
        .collect();
    let text = match items.len() {
        1 => items.remove(0),
        _ => {
            let last = items.pop().unwrap_or_default();
            format!("{} and {last}", items.join(", "))
        }
    };
    if single { format!("run {text}") } else { format!("runs {text}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(first: u64, last: u64, new_classes: u64) -> Step {
        Step {
            first,
            last,
            trace: PathBuf::from("t.json"),
            run_ids: Vec::new(),
            known: false,
            incomplete: false,
            classes: 10,
            new_classes,
        }
    }

    #[test]
    fn labels_list_two_runs_and_range_longer_ones() {
        let steps = [step(2, 2, 0), step(3, 3, 0), step(5, 5, 0), step(6, 6, 0), step(7, 7, 0), step(9, 11, 0)];
        let refs: Vec<&Step> = steps.iter().collect();
        assert_eq!(labels(&refs[..1]), "run 2");
        assert_eq!(labels(&refs[..2]), "runs 2 and 3");
        assert_eq!(labels(&refs), "runs 2, 3, 5-7 and 9-11");
    }

    #[test]
    fn verdict_names_what_later_runs_added() {
        let runs = [step(1, 1, 10), step(2, 2, 3), step(3, 3, 0)];
        assert_eq!(verdict(&runs, 2, 3), "run 2 added 3 classes, run 3 added nothing; 2 classes seen once");
    }

    #[test]
    fn further_runs_are_those_that_bring_seen_once_per_run_to_the_target() {
        assert_eq!(further(1.0, 15, 2, 0.05), 298);
        assert_eq!(further(0.5, 1, 2, 0.5), 0);
        assert_eq!(further(2.0 / 3.0, 2, 3, 0.05), 37);
    }
}
