//! `trapline check --format github`: findings as GitHub Actions workflow commands, which GitHub shows as
//! annotations on the pull request's files without code scanning (or Advanced Security), and a Markdown
//! summary for the job's page (`$GITHUB_STEP_SUMMARY`).
//!
//! Each finding is one `::error` (a violation) or `::warning` (undecided) line naming the profile file,
//! relative to the repository root as the runner checked it out, and the line that decided.

use super::check::{CheckReport, Finding};
use super::sarif::repository_path;
use crate::files::markdown::cell;

/// One workflow command per finding.
pub fn annotations(report: &CheckReport) -> String {
    let file = repository_path(&report.profile).1.to_string_lossy().into_owned();
    let mut out = String::new();
    for f in &report.findings {
        let command = if f.kind.is_violation() { "error" } else { "warning" };
        out.push_str(&format!(
            "::{command} file={},line={},title={}::{}\n",
            property(&file),
            f.line,
            property(&format!("trapline: {}", f.kind.id())),
            data(&format!("{} (trace {})", f.message(), f.trace.display()))
        ));
    }
    out
}

/// The job summary: the verdict, then a table of the findings.
pub fn step_summary(report: &CheckReport) -> String {
    let mut out = format!("### trapline check: `{}`\n\n", cell(&report.profile.display().to_string()));
    if report.findings.is_empty() {
        out.push_str("The profile allows every call of the runs checked.\n");
        return out;
    }
    out.push_str(&format!("**{}**\n\n", cell(&super::check::summary(report))));
    out.push_str("| | class | outcome | seen | trace |\n|---|---|---|---|---|\n");
    for Finding { kind, trace, class, outcome, provenance, .. } in &report.findings {
        let level = if kind.is_violation() { "❌" } else { "⚠️" };
        out.push_str(&format!(
            "| {level} | `{}` | {} | {} | `{}` |\n",
            cell(class),
            cell(outcome),
            cell(provenance),
            cell(&trace.display().to_string())
        ));
    }
    out
}

/// A workflow command's message: `%`, CR and LF are escaped, as the runner unescapes them.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: `:` and `,` end it, so they are escaped too.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_escape_what_would_end_them() {
        assert_eq!(data("50% a\nb"), "50%25 a%0Ab");
        assert_eq!(property("trapline: a,b"), "trapline%3A a%2Cb");
    }
}
