//! Passing termination signals sent to trapline on to the workload.
//!
//! A signal a process sent to trapline alone (kill, timeout(1), a supervisor) is forwarded to the workload's
//! first process, so stopping trapline stops the workload the way it would stop it untraced. A signal the
//! terminal sent (Ctrl-C) already reached the whole foreground process group, workload included: it is not
//! sent twice. The handler is async-signal-safe: two atomics and kill(2).

use std::sync::atomic::{AtomicI32, Ordering};

static TARGET: AtomicI32 = AtomicI32::new(0);
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [libc::c_int; 6] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if !matches!(signal, libc::SIGUSR1 | libc::SIGUSR2) {
        INTERRUPTED_BY.store(signal, Ordering::Relaxed);
    }
    let target = TARGET.load(Ordering::Relaxed);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let sent_by_a_process = unsafe { (*info).si_code } <= 0;
    if target > 0 && sent_by_a_process {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(target, signal) };
    }
}

/// From now on, forward termination signals to `pid`.
pub fn forward_to(pid: libc::pid_t) {
    TARGET.store(pid, Ordering::Relaxed);
    for signal in FORWARDED {
        // SAFETY: a zeroed sigaction with a valid handler; no SA_RESTART, so waitpid returns EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The termination signal trapline received during the run, if any.
pub fn interrupted_by() -> Option<i32> {
    match INTERRUPTED_BY.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}
