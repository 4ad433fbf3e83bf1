//! `trapline import strace`: an `strace -f` log, or gVisor's `runsc --strace` log (told apart by their first
//! call line; see [`gvisor`]), to a Trace.
//!
//! Each call line goes through the same classification as a live recording ([`classify`]), with a
//! [`CallSource`] that answers from the log: an fd is what its `-y` decoration says or, without `-y`, what the
//! opens, dups and closes seen so far in its process made it; memory cannot be read at all. strace already
//! printed what it read from memory, so clone3's flags come from the text; NVIDIA RM parameters are not in the
//! log and are left out, as for any source that cannot read memory.
//!
//! Lines are read one at a time, so logs of any size fit. A line that is not understood is counted, never
//! dropped silently; a call line among them, or a log that stops before its first process exited, makes the
//! Trace incomplete.
//!
//! What a log does not say: which calls were i386, unless the log is strace's stderr (strace writes its
//! `[ Process PID=N runs in 32 bit mode. ]` notes there, not to `-o`'s file); the full 64-bit register behind
//! a 32-bit argument (no `raw` field); the resolved executable (the path given to execve is kept); inherited
//! fds without `-y` (unknown); the numbers of dynamically numbered devices without `-yy`; the kernel release;
//! when each class was first seen (`first_seen_secs` is the time of import).
//!
//! [`classify`]: crate::observe::classify::classify
//! [`CallSource`]: crate::observe::classify::CallSource

mod call;
mod clock;
mod effects;
mod fds;
mod gvisor;
mod importer;
mod ioctl_names;
mod line;
mod read;
mod run_id;
mod tasks;
mod value;

use std::fs::File;
use std::path::Path;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use super::{ImportError, Imported};
use crate::decode::arch::Arch;
use crate::decode::table::{Results, SyscallTables};
use crate::trace::Aggregator;
use crate::trace::model::{Backend, Run, Totals};
use gvisor::Gvisor;
use importer::Importer;
use line::LineError;
use read::{Format, detect_format, read_lines, unprefixed_pid};
use run_id::Fnv1a;
use value::ValueError;

/// Why a line, or a call left unfinished, was not understood, by the step that failed. Its text is the reason the
/// import reports for the first such line.
#[derive(Debug, thiserror::Error)]
enum NotUnderstood {
    #[error("{0}")]
    Line(LineError),
    #[error("{name} resumed without its beginning")]
    ResumedAlone { name: String },
    #[error("no syscall {name} in {arch}")]
    UnknownSyscall { name: String, arch: Arch },
    /// The call's result (`= ...`).
    #[error(transparent)]
    Result(ValueError),
    /// An argument the call's class is made of.
    #[error(transparent)]
    Argument(ValueError),
    #[error("a call of a task that is gone")]
    TaskGone,
    #[error("the struct strace dumped ends before the NVIDIA RM command or class (raise strace's -s)")]
    CutDump,
    /// A call line of the other format (gVisor's in a strace log, or strace's in a gVisor log).
    #[error("{0}")]
    OtherFormat(&'static str),
}

impl NotUnderstood {
    /// The kind of reason, for the import's count of skipped lines by reason.
    fn kind(&self) -> &'static str {
        match self {
            NotUnderstood::Line(_) => "not a line strace writes",
            NotUnderstood::ResumedAlone { .. } => "resumed without its beginning",
            NotUnderstood::UnknownSyscall { .. } => "unknown syscall",
            NotUnderstood::Result(e) | NotUnderstood::Argument(e) => match e {
                ValueError::Missing(_) => "argument missing",
                ValueError::UnknownName(_) => "unknown name",
                ValueError::Malformed(_) => "value not readable",
            },
            NotUnderstood::TaskGone => "call of a task that is gone",
            NotUnderstood::OtherFormat(_) => "a line of another log format",
            NotUnderstood::CutDump => "struct dump cut short (RM command left out)",
        }
    }
}

/// Reads the strace log at `path` into a Trace.
pub fn import(path: &Path) -> Result<Imported, ImportError> {
    let read_error = |error| ImportError::Read { path: path.to_path_buf(), error };
    let file = File::open(path).map_err(read_error)?;
    let started = file
        .metadata()
        .and_then(|m| m.modified())
        .map(|t| humantime::format_rfc3339_millis(t).to_string())
        .unwrap_or_default();
    let format = detect_format(path).map_err(read_error)?;
    let unprefixed = match format {
        Format::Strace => unprefixed_pid(path).map_err(read_error)?.unwrap_or(0),
        Format::Gvisor => 0,
    };
    let tables = Rc::new(SyscallTables::new(Results::All));
    let mut aggregator = Aggregator::new(Rc::clone(&tables), Instant::now());
    let mut importer = Importer::new(&tables, &mut aggregator, unprefixed);
    let mut gvisor = Gvisor::default();
    let mut id = Fnv1a::default();
    let lines = read_lines(file, |number, text| {
        id.write(text.as_bytes());
        match format {
            Format::Strace if gvisor::is_call_line(text) => {
                importer.other_format(number, text, "a gVisor line in a strace log")
            }
            Format::Strace => importer.line(number, text),
            Format::Gvisor => match gvisor.line(number, text) {
                gvisor::Line::Calls(calls) => {
                    for call in calls {
                        importer.line_with_word(number, &call.text, call.word);
                    }
                }
                gvisor::Line::Other => {}
                gvisor::Line::NotGvisor if line::looks_like_call(text) => {
                    importer.other_format(number, text, "a strace line in a gVisor log")
                }
                // Output of the sandbox's own that reached the log, or a message's continuation lines.
                gvisor::Line::NotGvisor => {}
            },
        }
    })
    .map_err(read_error)?;
    for (number, call) in gvisor.finish() {
        importer.line_with_word(number, &call.text, call.word);
    }
    let end = importer.finish();
    if end.syscalls == 0 {
        return Err(ImportError::NoSyscalls { path: path.to_path_buf(), lines });
    }
    let run = Run {
        // The log does not say which kernel ran it, nor when (the file's mtime is the closest).
        kernel: String::new(),
        started,
        command: end.command.into_iter().collect(),
        totals: Totals { processes: end.processes, threads: end.threads, ..Totals::default() },
        ..Run::new(format!("{:016x}", id.0), Backend::StraceImport, Results::All, SystemTime::UNIX_EPOCH)
    }
    .ended(end.exit, end.duration, end.incomplete);
    Ok(Imported {
        trace: aggregator.finish(run),
        syscalls: end.syscalls,
        not_understood: end.not_understood,
        first_not_understood: end.first_not_understood,
        reasons: end.reasons.into_iter().collect(),
    })
}
