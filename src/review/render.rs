//! Writing a [`DiffReport`]: text for a terminal, Markdown for a pull-request comment, JSON for machines.
//!
//! The JSON document is the report itself (`format` is its version): top-level `format`, `a` and `b` (`path`,
//! `kind`, `runs`), `differs`, `summary` (`added`, `removed`, `changed`, `undecided`), `notes`, and the four
//! lists of changes. Each change has `kind` (`default-action`, `architecture`, `flag`, `syscall`, `ioctl`,
//! `socket`, `clone`, `prot`, `arguments`, `provenance`), `subject`, `what` and `text`; trace classes add
//! `syscall`, `arch`, `args` (as in the trace), `device` and `seen`; profile entries add `syscall`,
//! `condition` (OCI args), `action` and `errnoRet`; `detail` says what else matters.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::files::markdown::cell;

use super::DiffFormat;
use super::diff::{Change, DiffReport};

pub fn render(report: &DiffReport, format: DiffFormat) -> String {
    match format {
        DiffFormat::Text => text(report),
        DiffFormat::Markdown => markdown(report),
        DiffFormat::Json => json(report),
    }
}

/// The one line for standard error.
pub fn summary(report: &DiffReport) -> String {
    let s = report.summary;
    let mut line = format!(
        "{} → {}: {} added, {} removed, {} changed",
        report.a.path, report.b.path, s.added, s.removed, s.changed
    );
    if s.undecided > 0 {
        line.push_str(&format!(", {} undecided", s.undecided));
    }
    line
}

pub fn json(report: &DiffReport) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(report).unwrap_or_default();
    out.push('\n');
    out
}

/// What added and removed mean for this pair of inputs.
fn legend(report: &DiffReport) -> String {
    match (report.a.kind, report.b.kind) {
        ("profile", "trace") => {
            "Added: what the trace did that the profile does not allow; removed: what the profile allows that the \
             trace never did"
        }
        ("trace", "profile") => {
            "Added: what the profile allows that the trace never did; removed: what the trace did that the profile \
             does not allow"
        }
        ("trace", _) => "Added: call classes only in the second trace; removed: call classes only in the first",
        _ => "Added: rules only in the second profile; removed: rules only in the first",
    }
    .to_string()
}

fn side(report: &DiffReport, b: bool) -> String {
    let s = if b { &report.b } else { &report.a };
    match s.runs {
        Some(n) => format!("{} ({}, {n} run{})", s.path, s.kind, if n == 1 { "" } else { "s" }),
        None => format!("{} ({})", s.path, s.kind),
    }
}

/// Everything after the `+`/`-` on a line: the change, what the profile does or why, and where it was seen.
fn line_of(change: &Change) -> String {
    let mut line = change.text.clone();
    let mut extra: Vec<String> = change.detail.iter().cloned().collect();
    if let Some(seen) = &change.seen {
        extra.push(super::describe::provenance(seen.count, seen.runs, seen.of_runs, &seen.exes));
    }
    if !extra.is_empty() {
        line.push_str(" — ");
        line.push_str(&extra.join("; "));
    }
    line
}

fn text(report: &DiffReport) -> String {
    let paint = |style: Style, s: &str| format!("{style}{s}{style:#}");
    let (bold, yellow) = (Style::new().bold(), AnsiColor::Yellow.on_default());
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint(bold, &format!("--- {}", side(report, false))));
    let _ = writeln!(out, "{}", paint(bold, &format!("+++ {}", side(report, true))));
    for note in &report.notes {
        let _ = writeln!(out, "{}", paint(yellow, &format!("note: {note}")));
    }
    for (sign, color, list) in [
        ("-", AnsiColor::Red, &report.removed),
        ("+", AnsiColor::Green, &report.added),
        ("~", AnsiColor::Yellow, &report.changed),
        ("?", AnsiColor::Cyan, &report.undecided),
    ] {
        for change in list {
            let _ = writeln!(out, "{}", paint(color.on_default(), &format!("{sign} {}", line_of(change))));
        }
    }
    if let Some(line) = runtime_line(report) {
        let _ = writeln!(out, "{}", paint(AnsiColor::BrightBlack.on_default(), &format!("= {line}")));
    }
    let s = report.summary;
    let _ = writeln!(out, "{} added, {} removed, {} changed, {} undecided", s.added, s.removed, s.changed, s.undecided);
    out
}

/// The profile's rules for the container runtime that the trace does not show, in one line: expected, so
/// listed by name and not counted.
fn runtime_line(report: &DiffReport) -> Option<String> {
    let first = report.runtime.first()?;
    let mut names: Vec<&str> = report.runtime.iter().map(|c| c.subject.as_str()).collect();
    names.dedup();
    let who = first.detail.as_deref().and_then(|d| d.split(' ').next()).unwrap_or("the runtime");
    Some(format!(
        "{} rule{} {who} needs after loading the filter, not in the trace (not counted): {}",
        report.runtime.len(),
        if report.runtime.len() == 1 { "" } else { "s" },
        names.join(", ")
    ))
}

fn markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### trapline diff: `{}` → `{}`\n", cell(&side(report, false)), cell(&side(report, true)));
    let s = report.summary;
    if report.differs || s.changed > 0 || s.undecided > 0 {
        let _ = writeln!(
            out,
            "**{} added, {} removed**, {} changed, {} undecided. {}.\n",
            s.added,
            s.removed,
            s.changed,
            s.undecided,
            legend(report)
        );
    } else {
        let _ = writeln!(out, "**No differences.**\n");
    }
    for note in &report.notes {
        let _ = writeln!(out, "> **Note:** {note}\n");
    }
    if let Some(line) = runtime_line(report) {
        let _ = writeln!(out, "{}\n", cell(&line));
    }
    for (title, sign, list) in [
        ("Added", "+", &report.added),
        ("Removed", "-", &report.removed),
        ("Changed", "~", &report.changed),
        ("Undecided", "?", &report.undecided),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "#### {title} ({})\n", list.len());
        let _ = writeln!(out, "| | syscall | arguments | on | detail |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for change in list {
            let what = if change.what.is_empty() { String::new() } else { format!("`{}`", cell(&change.what)) };
            let mut detail: Vec<String> = change.detail.iter().map(|d| cell(d)).collect();
            if let Some(seen) = &change.seen {
                detail.push(cell(&super::describe::provenance(seen.count, seen.runs, seen.of_runs, &seen.exes)));
            }
            let _ = writeln!(
                out,
                "| {sign} | `{}` | {what} | {} | {} |",
                cell(&change.subject),
                change.device.as_deref().map(|d| format!("`{}`", cell(d))).unwrap_or_default(),
                detail.join("; "),
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "<sub>trapline {}</sub>", env!("CARGO_PKG_VERSION"));
    out
}
