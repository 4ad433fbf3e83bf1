//! Passing termination signals sent to trapline on to the workload.
//!
//! A signal a process sent to trapline alone (kill, timeout(1), a supervisor) is forwarded to the workload's
//! first process, so stopping trapline stops the workload the way it would stop it untraced. A signal the
//! terminal sent (Ctrl-C) already reached the whole foreground process group, workload included: it is not
//! sent twice.
//!
//! The handler is async-signal-safe: atomics and kill(2). It signals the first process directly while that
//! process is known to be alive (its pid cannot be reused before trapline reaps it, and trapline forgets it as
//! soon as it does); once it is gone, the handler only leaves the signal pending, and the backend passes it on
//! to the workload processes it still holds. A 100 ms interval timer interrupts the backend's blocking wait, so
//! a pending signal never waits for the workload's next event.

use std::sync::atomic::{AtomicI32, Ordering};

static TARGET: AtomicI32 = AtomicI32::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [libc::c_int; 6] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if !matches!(signal, libc::SIGUSR1 | libc::SIGUSR2) {
        INTERRUPTED_BY.store(signal, Ordering::Relaxed);
    }
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let sent_by_a_process = unsafe { (*info).si_code } <= 0;
    if !sent_by_a_process {
        return;
    }
    match TARGET.load(Ordering::Relaxed) {
        // SAFETY: kill is async-signal-safe.
        target if target > 0 => unsafe {
            libc::kill(target, signal);
        },
        _ => PENDING.store(signal, Ordering::Relaxed),
    }
}

/// Interrupts blocking waits; the interruption is the point.
extern "C" fn on_tick(_: libc::c_int) {}

/// From now on, forward termination signals to `pid` (0: only leave them pending, for [`take_pending`]).
pub fn forward_to(pid: libc::pid_t) {
    TARGET.store(pid, Ordering::Relaxed);
    for signal in FORWARDED {
        install(signal, on_signal as *const () as usize, libc::SA_SIGINFO);
    }
    // Only a backend that waits on a workload needs waking (the agent polls with a timeout of its own).
    if pid > 0 {
        install(libc::SIGALRM, on_tick as *const () as usize, 0);
        set_ticks(100_000);
    }
}

/// The first process is gone (reaped): signals now wait for [`take_pending`].
pub fn forget_target() {
    TARGET.store(0, Ordering::Relaxed);
}

/// Stops the interval timer once nothing waits on the workload any more.
pub fn stop() {
    set_ticks(0);
}

/// A termination signal that could not be sent at once, for the backend to pass on.
pub fn take_pending() -> Option<i32> {
    match PENDING.swap(0, Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// The termination signal trapline received during the run, if any.
pub fn interrupted_by() -> Option<i32> {
    match INTERRUPTED_BY.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

fn install(signal: libc::c_int, handler: usize, flags: libc::c_int) {
    // SAFETY: a zeroed sigaction with a valid handler; no SA_RESTART, so blocking waits return EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// A SIGALRM every `micros` microseconds (0 stops it). Interval timers are not inherited by children.
fn set_ticks(micros: i64) {
    let interval = libc::timeval { tv_sec: 0, tv_usec: micros };
    let timer = libc::itimerval { it_interval: interval, it_value: interval };
    // SAFETY: a valid itimerval; the old value is not wanted.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}

/// Ends trapline by `signal`, as the workload ended, so that a shell, a supervisor or a container engine sees
/// what it would have seen without trapline (`Interrupt`, not status 130). The default action is restored and
/// the signal unblocked first, and no core file of trapline's own is written (the workload's was, if any).
/// Returns only where the signal does not end a process.
pub fn die_like(signal: i32) {
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain calls on this process with live, initialised arguments; nothing runs after the signal
    // but its default action.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
}
