//! The coverage report as text (a terminal), Markdown (the explain report, a pull-request comment) and JSON.

use std::fmt::Write;

use serde::Serialize;

use super::Coverage;
use super::behaviour::{Behaviour, Status};
use super::convergence::{Convergence, Step};
use crate::files::markdown::cell;
use crate::profile::reachable::{Binary, Reachability};

pub fn text(c: &Coverage) -> String {
    let mut out = String::new();
    let conv = &c.convergence;
    let _ = writeln!(out, "Convergence over {}, {} classes:", runs_phrase(conv), conv.classes);
    for step in &conv.runs {
        let _ = writeln!(out, "  {} ({}): {}", step.label(), step.trace.display(), added(step));
    }
    let _ = writeln!(out, "{}", conv.verdict);
    if let Some(line) = estimate(conv) {
        let _ = writeln!(out, "{line}");
    }
    if !conv.seen_once_classes.is_empty() {
        let _ = writeln!(out, "Seen in only one run: {}", seen_once(conv));
    }
    let b = &c.behaviours;
    let _ = writeln!(out, "\nBehaviour:");
    for item in &b.items {
        let _ = writeln!(out, "  {} {}{}", mark(item.status), item.summary, in_runs(item, b.total_runs));
        if !item.evidence.is_empty() {
            let _ = writeln!(out, "      {}{}", item.evidence.join(", "), by(item));
        }
    }
    if let Some(reach) = &c.reachability {
        let _ = writeln!(out, "\nReachable, never observed (the binaries as found on this machine):");
        for b in &reach.binaries {
            let _ = writeln!(out, "  {}: {}", b.binary, gaps(b));
        }
        for s in &reach.skipped {
            let _ = writeln!(out, "  {}: skipped: {}", s.binary, s.why);
        }
    }
    if !c.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for note in &c.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

/// The report in Markdown; `level` is the heading level of its title (2 inside the explain report).
pub fn markdown(c: &Coverage, level: usize) -> String {
    let mut out = String::new();
    let h = "#".repeat(level);
    let conv = &c.convergence;
    let _ = writeln!(out, "{h} Coverage\n");
    let _ = writeln!(out, "{h}# Convergence\n");
    let _ = writeln!(out, "{}, {} classes.\n", runs_phrase(conv), conv.classes);
    let _ = writeln!(out, "| runs | trace | classes | new classes |");
    let _ = writeln!(out, "|---|---|---:|---:|");
    for step in &conv.runs {
        let known = if step.known { " (--known)" } else { "" };
        let _ = writeln!(
            out,
            "| {}{known} | `{}` | {} | {} |",
            step.label(),
            cell(&step.trace.display().to_string()),
            step.classes,
            step.new_classes
        );
    }
    let _ = writeln!(out, "\n**{}**\n", conv.verdict);
    if let Some(line) = estimate(conv) {
        let _ = writeln!(out, "{line}\n");
    }
    if !conv.seen_once_classes.is_empty() {
        let _ = writeln!(out, "Seen in only one run: {}\n", seen_once(conv));
    }
    let b = &c.behaviours;
    let _ = writeln!(out, "{h}# Behaviour\n");
    let _ = writeln!(out, "| | behaviour | runs | evidence |");
    let _ = writeln!(out, "|---|---|---:|---|");
    for item in &b.items {
        let runs = if item.status == Status::NotExercised {
            "–".to_string()
        } else {
            format!("{} of {}", item.runs, b.total_runs)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {runs} | {} |",
            mark(item.status),
            cell(&item.summary),
            cell(&format!("{}{}", item.evidence.join(", "), by(item)))
        );
    }
    if let Some(reach) = &c.reachability {
        let _ = writeln!(out, "\n{h}# Reachable, never observed\n");
        let _ = writeln!(out, "| binary | reachable | never observed |");
        let _ = writeln!(out, "|---|---:|---|");
        for b in &reach.binaries {
            let _ = writeln!(out, "| `{}` | {} | {} |", cell(&b.binary), b.reachable, cell(&gaps(b)));
        }
        for s in &reach.skipped {
            let _ = writeln!(out, "| `{}` | – | skipped: {} |", cell(&s.binary), cell(&s.why));
        }
    }
    if !c.notes.is_empty() {
        let _ = writeln!(out);
        for note in &c.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

pub fn json(c: &Coverage) -> String {
    #[derive(Serialize)]
    struct Gap<'a> {
        binary: &'a str,
        syscall: &'a str,
    }
    #[derive(Serialize)]
    struct Report<'a> {
        #[serde(flatten)]
        convergence: &'a Convergence,
        behaviours: &'a [Behaviour],
        executables: &'a [String],
        known_runs: u64,
        notes: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        reachable_unobserved: Option<Vec<Gap<'a>>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reachable: Option<&'a Reachability>,
    }
    let gaps = c.reachability.as_ref().map(|r| {
        r.binaries.iter().flat_map(|b| b.unobserved.iter().map(|s| Gap { binary: &b.binary, syscall: s })).collect()
    });
    let report = Report {
        convergence: &c.convergence,
        behaviours: &c.behaviours.items,
        executables: &c.behaviours.executables,
        known_runs: c.behaviours.known_runs,
        notes: &c.notes,
        reachable_unobserved: gaps,
        reachable: c.reachability.as_ref(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// The one line `trapline coverage` ends with on standard error.
pub fn summary(c: &Coverage) -> String {
    let conv = &c.convergence;
    let missing = c.behaviours.items.iter().filter(|b| b.status == Status::NotExercised).count();
    let estimate = match conv.next_run_new {
        Some(p) => format!("next run needs something new: about {}", percent(p)),
        None => "no estimate (fewer than two full runs)".to_string(),
    };
    format!(
        "{}, {} classes, {estimate}; {missing} kind(s) of behaviour not exercised",
        plural(conv.total_runs, "run"),
        conv.classes
    )
}

fn runs_phrase(conv: &Convergence) -> String {
    let runs = plural(conv.total_runs, "run");
    if conv.full_runs == conv.total_runs {
        runs
    } else {
        format!("{runs} ({} recorded in full, {} with --known)", conv.full_runs, conv.total_runs - conv.full_runs)
    }
}

fn plural(n: u64, word: &str) -> String {
    let plural = if word.ends_with('s') { "es" } else { "s" };
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}{plural}") }
}

fn added(step: &Step) -> String {
    let known = if step.known { ", recorded with --known" } else { "" };
    if step.first == 1 {
        return format!("{} classes{known}", step.classes);
    }
    match step.new_classes {
        0 => format!("added nothing ({} classes){known}", step.classes),
        n => format!("added {n} of its {} classes{known}", step.classes),
    }
}

/// The Good-Turing line, and how many runs would make it small.
fn estimate(conv: &Convergence) -> Option<String> {
    let Some(p) = conv.next_run_new else {
        return (conv.full_runs == 1).then(|| {
            "Chance the next run needs something new: no estimate from one run; record a second.".to_string()
        });
    };
    let mut line = format!(
        "Chance the next run needs something new: about {} (Good-Turing: {} seen in only one of {} full runs).",
        percent(p),
        plural(conv.seen_once, "class"),
        conv.full_runs
    );
    match conv.further_runs {
        Some(0) => {
            let _ = write!(line, " That is at or under the target of {}.", percent(conv.target));
        }
        Some(n) => {
            let _ = write!(
                line,
                " About {} that add nothing would bring it to {} or under.",
                plural(n, "more run"),
                percent(conv.target)
            );
        }
        None => {}
    }
    Some(line)
}

fn seen_once(conv: &Convergence) -> String {
    let mut text = conv.seen_once_classes.join(", ");
    let more = conv.seen_once - conv.seen_once_classes.len() as u64;
    if more > 0 {
        let _ = write!(text, " and {more} more");
    }
    text
}

fn percent(p: f64) -> String {
    format!("{:.0}%", p * 100.0)
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Exercised => "✓",
        Status::NotExercised => "✗",
        Status::CannotTell => "?",
    }
}

/// ", in 1 of 2 runs" where not every run showed an exercised behaviour.
fn in_runs(item: &Behaviour, total: u64) -> String {
    if item.status != Status::NotExercised && item.runs < total {
        format!(", in {} of {total} runs", item.runs)
    } else {
        String::new()
    }
}

fn by(item: &Behaviour) -> String {
    if item.by.is_empty() { String::new() } else { format!(" by {}", item.by.join(", ")) }
}

/// One binary's gaps: listed for a specific one, counted for a broad one.
fn gaps(b: &Binary) -> String {
    let unresolved = match b.unresolved {
        0 => String::new(),
        n => format!(" ({n} syscall instruction(s) with a computed number not counted)"),
    };
    if b.broad {
        return format!(
            "reaches {} syscalls, {} never observed: broad (an interpreter, C library or runtime reaches almost \
             everything), so not listed{unresolved}",
            b.reachable,
            b.unobserved.len()
        );
    }
    if b.unobserved.is_empty() {
        return format!("nothing: all {} reachable syscalls were observed{unresolved}", b.reachable);
    }
    format!("{}{unresolved}", b.unobserved.join(", "))
}
