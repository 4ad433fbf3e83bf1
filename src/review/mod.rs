//! Review: what changed between two traces or profiles (`trapline diff`), and whether a profile allows
//! everything some runs did (`trapline check`), as text for people, Markdown for pull requests, JSON and
//! SARIF for machines.
//!
//! Both commands share one allow check ([`allow::verdict`]), which evaluates a call class the way the kernel
//! evaluates a libseccomp filter, so `diff PROFILE TRACE` and `check` never disagree.

pub mod allow;
pub mod check;
pub mod describe;
pub mod diff;
pub mod github;
pub mod load;
pub mod render;
pub mod sarif;

use std::path::PathBuf;

use crate::decode::arch::Arch;
use crate::profile::read::LocateError;
use crate::trace::read::ReadError;

/// How `trapline diff` writes its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    /// One line per change, `+`/`-` in front, styled with ANSI colours: the writer strips them where colour is
    /// not wanted (anstream: not a terminal, `NO_COLOR`, `--color never`).
    Text,
    /// Ready to paste as a pull-request comment.
    Markdown,
    /// The stable document described in [`render::json`].
    Json,
}

/// How `trapline check` writes its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    /// One line per finding.
    Text,
    /// SARIF 2.1.0, for code-scanning upload.
    Sarif,
    /// The stable document described in [`check::json`].
    Json,
    /// GitHub Actions workflow commands (annotations), and a summary for the job's page.
    Github,
}

/// What the command line asked the review module to do.
#[derive(Clone, Debug)]
pub enum ReviewPlan {
    /// Compare two inputs, each a trace or a profile.
    Diff { a: PathBuf, b: PathBuf, format: DiffFormat },
    /// Does `profile` allow every call the traces hold?
    Check { profile: PathBuf, traces: Vec<PathBuf>, format: CheckFormat },
}

/// What a review found: the report for standard output, a one-line summary for standard error, and whether
/// there was something to find (a difference, a violation).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub report: String,
    pub summary: String,
    pub findings: bool,
    /// Markdown for the CI job's summary page (`$GITHUB_STEP_SUMMARY`), for the GitHub format.
    pub step_summary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("cannot read {path}: {error}; pass the path of a trace (from `trapline record`) or a seccomp profile")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: {what}; expected a trace (from `trapline record`) or a seccomp profile in JSON")]
    Json { path: PathBuf, line: usize, column: usize, what: String },
    #[error(transparent)]
    Trace(#[from] ReadError),
    #[error("{path}:{line}:{column}: {what}; run `trapline lint {path}` to see what is wrong with this profile")]
    Profile { path: PathBuf, line: usize, column: usize, what: String },
    #[error(
        "{path}: {}; expected a trace (with \"schema\" and \"runs\"), a seccomp profile (with \"defaultAction\"), \
         a bundle config.json with linux.seccomp, a SeccompProfile object or a List of one",
        unreviewable(error)
    )]
    NotReviewable { path: PathBuf, error: LocateError },
    #[error(
        "{path} holds a List of {count} SeccompProfile objects, but diff and check compare one profile; put the \
         one you mean in a file of its own"
    )]
    SeveralProfiles { path: PathBuf, count: usize },
    #[error(
        "{path} is a trace, but --profile needs a seccomp profile; make one with `trapline profile {path} -o profile.json`"
    )]
    ExpectedProfile { path: PathBuf },
    #[error(
        "{path} is a seccomp profile, but check needs traces after it; record one with `trapline record -o run.json -- CMD`"
    )]
    ExpectedTrace { path: PathBuf },
    #[error(
        "{profile} covers {covered} but {trace} was recorded on {arch}; check against a profile made from traces \
         recorded on {arch}"
    )]
    ArchMismatch { profile: PathBuf, covered: String, trace: PathBuf, arch: Arch },
}

/// Why a file is neither kind: a file with no profile in it may well have been meant as a trace.
fn unreviewable(error: &LocateError) -> String {
    match error {
        LocateError::Nothing => "neither a trace nor a seccomp profile".to_string(),
        other => other.to_string(),
    }
}

/// Runs a review. The report is complete before anything is written, so a failing input never leaves half a
/// report behind.
pub fn review(plan: &ReviewPlan) -> Result<Outcome, ReviewError> {
    match plan {
        ReviewPlan::Diff { a, b, format } => {
            let a = load::load(a)?;
            let b = load::load(b)?;
            let report = diff::diff(&a, &b);
            Ok(Outcome {
                report: render::render(&report, *format),
                summary: render::summary(&report),
                findings: report.differs(),
                step_summary: None,
            })
        }
        ReviewPlan::Check { profile, traces, format } => {
            let profile = load::load_profile(profile)?;
            let traces: Vec<_> =
                traces.iter().map(|p| load::load_trace(p).map(|t| (p.clone(), t))).collect::<Result<_, _>>()?;
            let report = check::check(&profile, &traces)?;
            Ok(Outcome {
                report: match format {
                    CheckFormat::Text => check::text(&report),
                    CheckFormat::Sarif => sarif::sarif(&report),
                    CheckFormat::Json => check::json(&report),
                    CheckFormat::Github => github::annotations(&report),
                },
                summary: check::summary(&report),
                findings: report.violations() > 0,
                step_summary: (*format == CheckFormat::Github).then(|| github::step_summary(&report)),
            })
        }
    }
}
