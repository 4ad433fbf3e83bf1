//! Building a trace's [`Run`] record: every way of recording fills the same facts about this machine and this
//! trapline, and sets only what it knows beyond them.

use std::time::{Duration, SystemTime};

use super::model::{Backend, Exit, Run, Totals};
use crate::decode::arch::Arch;
use crate::decode::table::Results;

impl Run {
    /// A run of this trapline on this machine, started at `started_at`, with nothing seen yet: the workload
    /// exited 0 after no time, completely recorded. Callers set the rest with struct update syntax and
    /// [`Run::ended`].
    pub fn new(id: String, backend: Backend, results: Results, started_at: SystemTime) -> Run {
        Run {
            id,
            trapline: env!("CARGO_PKG_VERSION").to_string(),
            backend,
            arch: Arch::native(),
            kernel: kernel_release(),
            command: Vec::new(),
            started: humantime::format_rfc3339_millis(started_at).to_string(),
            duration_secs: 0.0,
            exit: Exit { status: 0, signal: None },
            complete: true,
            incomplete: None,
            results,
            known: None,
            container: None,
            unobserved: Vec::new(),
            totals: Totals::default(),
            gpu: None,
            filters: None,
        }
    }

    /// How the workload ended, after how long, and why the recording may have missed calls (if it may have).
    pub fn ended(self, exit: Exit, duration: Duration, incomplete: Option<String>) -> Run {
        Run {
            exit,
            duration_secs: (duration.as_micros() as f64) / 1e6,
            complete: incomplete.is_none(),
            incomplete,
            ..self
        }
    }
}

/// 64 bits that tell this run from any other: the start time mixed with the kernel's randomness.
pub fn run_id(started_at: SystemTime) -> String {
    let mut random = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into the live array.
    unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    let nanos = started_at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("{:016x}", u64::from_ne_bytes(random) ^ nanos.rotate_left(32))
}

/// `uname -r`.
fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}
