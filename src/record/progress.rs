//! What a long recording says while it runs: a status line on a terminal, each new class with `-v`, and a
//! checkpoint of the trace so far, so a recorder killed by SIGKILL or the OOM killer still leaves what it saw.
//!
//! All of it runs in the aggregator's watcher, on the tracing thread, about once a second while calls flow. A
//! workload that makes no calls changes nothing worth saving, so nothing is written then either.

use std::cell::Cell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::files::json::to_json;
use crate::files::output::Output;
use crate::review::describe::class_line;
use crate::trace::aggregate::{Aggregator, Watcher};
use crate::trace::model::{Exit, Run, Totals};

/// What to say and save while recording.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// A status line on stderr, redrawn in place (only where stderr is a terminal).
    pub status_line: bool,
    /// One line per class, when it is first seen.
    pub verbose: bool,
    /// Write the trace so far to this file this often, marked incomplete until the recording ends.
    pub checkpoint: Option<(PathBuf, Duration)>,
}

/// The window "new classes" counts over: a run that has settled shows 0.
const NEW_WINDOW: Duration = Duration::from_secs(60);

/// Erases the status line, so what follows starts at column 0 of a clean line.
const CLEAR_LINE: &str = "\r\x1b[K";

impl Progress {
    pub fn is_quiet(&self) -> bool {
        !self.status_line && !self.verbose && self.checkpoint.is_none()
    }

    /// The watcher for a recording whose run record, but for how it ends, is `run`, and what to call once
    /// the recording is over.
    pub fn start(&self, run: Run, start: Instant) -> (Watcher, Finish) {
        let shown = Rc::new(Cell::new(0));
        let finish = Finish { progress: self.clone(), shown: Rc::clone(&shown) };
        let progress = self.clone();
        let mut saved = Instant::now();
        let mut warned = false;
        let watcher = Box::new(move |aggregator: &Aggregator| {
            if progress.verbose {
                progress.show_new_classes(aggregator, &shown);
            }
            if progress.status_line {
                let _ = write!(std::io::stderr(), "{CLEAR_LINE}{}", status(aggregator));
            }
            if let Some((path, every)) = &progress.checkpoint
                && saved.elapsed() >= *every
            {
                saved = Instant::now();
                let elapsed = start.elapsed();
                let reason = format!(
                    "checkpoint after {} s: the recording was still running (a recorder that was killed leaves this)",
                    elapsed.as_secs()
                );
                let totals = Totals { processes: aggregator.process_count() as u64, ..Totals::default() };
                let snapshot =
                    Run { totals, ..run.clone() }.ended(Exit { status: -1, signal: None }, elapsed, Some(reason));
                let written = Output::prepare(path).and_then(|o| o.commit(&to_json(&aggregator.snapshot(snapshot))));
                if let Err(e) = written
                    && !std::mem::replace(&mut warned, true)
                {
                    let _ = writeln!(std::io::stderr(), "trapline: warning: checkpoint: {e}");
                }
            }
        });
        (watcher, finish)
    }

    /// Prints the classes not shown yet, one line each.
    fn show_new_classes(&self, aggregator: &Aggregator, shown: &Cell<usize>) {
        let clear = if self.status_line { CLEAR_LINE } else { "" };
        let mut err = std::io::stderr().lock();
        for class in aggregator.classes_from(shown.get()) {
            let _ = writeln!(err, "{clear}trapline: new: {}", class_line(&class, None));
        }
        shown.set(aggregator.class_count());
    }
}

/// What is left to say once the recording is over.
pub struct Finish {
    progress: Progress,
    shown: Rc<Cell<usize>>,
}

impl Finish {
    /// The classes `-v` has not shown yet, and the status line cleared.
    pub fn finish(&self, aggregator: &Aggregator) {
        if self.progress.verbose {
            self.progress.show_new_classes(aggregator, &self.shown);
        }
        if self.progress.status_line {
            let _ = write!(std::io::stderr(), "{CLEAR_LINE}");
        }
    }
}

/// `trapline: 12345 calls, 80 classes, 3 processes; 2 new in the last minute`.
fn status(aggregator: &Aggregator) -> String {
    format!(
        "trapline: {} calls, {} classes, {} processes; {} new in the last minute",
        aggregator.syscalls(),
        aggregator.class_count(),
        aggregator.process_count(),
        aggregator.classes_new_within(NEW_WINDOW)
    )
}
