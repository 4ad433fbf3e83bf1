//! Importing syscall logs written by other tools into Traces, for machines where `trapline record` cannot
//! run (no ptrace, a GPU host one cannot install on) and for published logs of real workloads.

pub mod strace;

use std::io;
use std::path::{Path, PathBuf};

use crate::trace::Trace;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error(
        "{}: no syscalls found in {lines} lines; expected the log of `strace -f -o LOG COMMAND` or of gVisor's \
         `runsc --strace`",
        path.display()
    )]
    NoSyscalls { path: PathBuf, lines: usize },
    #[error(
        "{}:{line}: {text} ({count} line{} not understood; --strict refuses any: fix the log or drop --strict)",
        path.display(),
        if *count == 1 { "" } else { "s" }
    )]
    Strict { path: PathBuf, line: usize, text: String, count: u64 },
}

/// A Trace built from a log, and what of the log could not be used.
pub struct Imported {
    pub trace: Trace,
    pub syscalls: u64,
    /// Lines that are neither a call, an exit, a signal nor a note of the logging tool.
    pub not_understood: u64,
    /// The first of them: its line number and text.
    pub first_not_understood: Option<(usize, String)>,
    /// How many of them there were, by kind of reason, sorted by kind.
    pub reasons: Vec<(&'static str, u64)>,
}

impl Imported {
    /// Under `--strict`, the first line not understood as an error: where it is and why.
    pub fn strict(&self, log: &Path) -> Result<(), ImportError> {
        match &self.first_not_understood {
            Some((line, text)) => Err(ImportError::Strict {
                path: log.to_path_buf(),
                line: *line,
                text: text.clone(),
                count: self.not_understood,
            }),
            None => Ok(()),
        }
    }

    /// The line `trapline import` ends with: what was read from `log`, what was not understood, and where the
    /// trace went.
    pub fn summary(&self, log: &Path, output: &str) -> String {
        let log = log.display();
        let not_understood = match &self.first_not_understood {
            Some((line, text)) => {
                let n = self.not_understood;
                let reasons: Vec<String> = self.reasons.iter().map(|(why, n)| format!("{n} {why}")).collect();
                format!(
                    "; {n} line{} not understood ({}; first at {log}:{line}: {text})",
                    if n == 1 { "" } else { "s" },
                    reasons.join(", ")
                )
            }
            None => String::new(),
        };
        let incomplete = self.trace.runs[0].incomplete.as_ref(); // an import holds exactly one run
        format!(
            "imported {} syscalls from {log}{not_understood}{} -> {}",
            self.syscalls,
            incomplete.map(|r| format!(" (incomplete: {r})")).unwrap_or_default(),
            output
        )
    }
}
