//! Syscalls the kernel runs again after a signal interrupted them, told apart from new calls. Used by the ptrace
//! backend, and by the strace import, whose logs show the restart as a second call (with no address: 0).
//!
//! A blocking call interrupted by a signal ends with -ERESTARTSYS, -ERESTARTNOINTR or -ERESTARTNOHAND, and the
//! kernel then either enters it again at the same instruction (no handler ran, or the handler has SA_RESTART)
//! or makes it fail with EINTR. A tracer sees that second entry as one more seccomp stop; counting it would count
//! a call the program made once twice (a tracer makes this common: under ptrace even ignored signals, SIGCHLD
//! included, interrupt a blocked call). So, per task:
//! - at the signal-delivery-stop, the registers show the interrupted call (its number, and the address after
//!   its instruction, which its next entry reports too);
//! - if the task's next entry is that call at that address, no handler ran and it is the restart;
//! - otherwise a handler is running: its `rt_sigreturn` restores the registers, and what it returns says what
//!   the kernel chose: the call's number (it will be entered again, next) or -EINTR (that is the call's result).

use crate::trace::aggregate::ClassId;

/// The -ERESTART* results after which the kernel may enter the call again: ERESTARTSYS, ERESTARTNOINTR and
/// ERESTARTNOHAND (ERESTART_RESTARTBLOCK continues in `restart_syscall`, a call of its own).
pub const RESTART_ERRNOS: std::ops::RangeInclusive<i32> = 512..=514;

/// Whether a kernel-internal code (512 to 517) is what the tracer saw: never a result the program sees.
pub fn internal_errno(errno: i32) -> bool {
    (512..=517).contains(&errno)
}

/// rt_sigreturn (and i386's sigreturn): a signal handler returning.
pub fn is_sigreturn(name: &str) -> bool {
    matches!(name, "rt_sigreturn" | "sigreturn")
}

/// The task whose interrupted call is `slot` enters call `nr` at `ip`: `Some(class)` when this is that call
/// entered again (not to be counted; its result, if wanted, goes to `class`), `None` for a new call.
pub fn entered(slot: &mut Option<Interrupted>, nr: u64, ip: u64, sigreturn: bool) -> Option<Option<ClassId>> {
    match slot.take()?.at_entry(nr, ip, sigreturn) {
        Entry::New(kept) => {
            *slot = kept;
            None
        }
        Entry::Restart(class) => Some(class),
    }
}

/// The handler's rt_sigreturn, awaited in `slot`, returned `rval`: the class whose call failed with EINTR, if it
/// did (the caller records that result); `slot` keeps the call if it is entered again next.
pub fn returned(slot: &mut Option<Interrupted>, rval: i64) -> Option<ClassId> {
    match slot.take()?.at_sigreturn_exit(rval) {
        Return::Restart(restored) => {
            *slot = Some(restored);
            None
        }
        Return::Eintr(class) => class,
        Return::Unknown => None,
    }
}

/// A syscall interrupted by a signal, with the class of its first entry when its result is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    nr: u64,
    ip: u64,
    class: Option<ClassId>,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Just interrupted: the next entry is the restart, unless a handler runs first.
    Next,
    /// A handler runs; the restart, if any, comes after its rt_sigreturn.
    InHandler,
    /// The handler's rt_sigreturn is running; its exit says what the kernel chose.
    Returning,
    /// rt_sigreturn restored the call's number: the next entry is the restart.
    Restored,
}

/// What a task's next syscall entry is, given the call a signal interrupted.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    /// A new call, to be counted; `Some` while the interrupted call may still be restarted later.
    New(Option<Interrupted>),
    /// The interrupted call entered again: not counted; its result (when wanted) goes to this class.
    Restart(Option<ClassId>),
}

/// What the handler's rt_sigreturn returned.
#[derive(Debug, PartialEq, Eq)]
enum Return {
    /// The call's number: it is entered again next.
    Restart(Interrupted),
    /// The interrupted call failed with EINTR: its result, for this class.
    Eintr(Option<ClassId>),
    /// Something else (a nested handler's frame, say): nothing is known any more.
    Unknown,
}

impl Interrupted {
    /// Call `nr`, whose instruction ends at `ip`, was interrupted; `class` is its first entry's, if its result
    /// is wanted.
    pub fn new(nr: u64, ip: u64, class: Option<ClassId>) -> Interrupted {
        Interrupted { nr, ip, class, state: State::Next }
    }

    pub fn class(&self) -> Option<ClassId> {
        self.class
    }

    /// The task enters call `nr` at `ip`; `sigreturn` when that call is rt_sigreturn (or i386's sigreturn).
    fn at_entry(mut self, nr: u64, ip: u64, sigreturn: bool) -> Entry {
        let same = nr == self.nr && ip == self.ip;
        match self.state {
            State::Next | State::Restored if same => return Entry::Restart(self.class),
            // Something else ran after the registers were restored: the kernel did not restart the call.
            State::Restored | State::Returning => return Entry::New(None),
            State::Next | State::InHandler if sigreturn => self.state = State::Returning,
            // Without a handler the restart would have come first: these are the handler's own calls.
            State::Next | State::InHandler => self.state = State::InHandler,
        }
        Entry::New(Some(self))
    }

    /// Whether the task must stop at the exit of the call it is in (the handler's rt_sigreturn).
    pub fn awaits_exit(&self) -> bool {
        self.state == State::Returning
    }

    /// rt_sigreturn returned `rval`: the register it restored.
    fn at_sigreturn_exit(mut self, rval: i64) -> Return {
        if rval >= 0 && rval as u64 == self.nr {
            self.state = State::Restored;
            Return::Restart(self)
        } else if rval == -i64::from(libc::EINTR) {
            Return::Eintr(self.class)
        } else {
            Return::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READV: u64 = 19;
    const IP: u64 = 0x7f00_0000_1234;

    fn class() -> Option<ClassId> {
        Some(ClassId::for_tests(7))
    }

    #[test]
    fn without_a_handler_the_next_entry_is_the_restart() {
        let i = Interrupted::new(READV, IP, class());
        assert_eq!(i.at_entry(READV, IP, false), Entry::Restart(class()));
    }

    #[test]
    fn a_handler_with_sa_restart_restores_the_call_then_it_is_entered_again() {
        let i = Interrupted::new(READV, IP, class());
        let Entry::New(Some(i)) = i.at_entry(39, 0x1000, false) else { panic!("the handler's own call") };
        let Entry::New(Some(i)) = i.at_entry(15, 0x2000, true) else { panic!("rt_sigreturn") };
        assert!(i.awaits_exit());
        let Return::Restart(i) = i.at_sigreturn_exit(READV as i64) else { panic!("restored") };
        assert_eq!(i.at_entry(READV, IP, false), Entry::Restart(class()));
    }

    #[test]
    fn a_handler_without_sa_restart_makes_the_call_fail_with_eintr() {
        let i = Interrupted::new(READV, IP, class());
        let Entry::New(Some(i)) = i.at_entry(15, 0x2000, true) else { panic!("rt_sigreturn") };
        assert_eq!(i.at_sigreturn_exit(-4), Return::Eintr(class()));
        // The program's own retry is then a new call (the caller keeps nothing after Eintr).
    }

    #[test]
    fn a_call_after_the_restore_that_is_not_the_restart_ends_it() {
        let i = Interrupted::new(READV, IP, class());
        let Entry::New(Some(i)) = i.at_entry(15, 0x2000, true) else { panic!("rt_sigreturn") };
        let Return::Restart(i) = i.at_sigreturn_exit(READV as i64) else { panic!("restored") };
        assert_eq!(i.at_entry(READV, IP + 8, false), Entry::New(None));
        assert_eq!(Interrupted::new(READV, IP, None).at_sigreturn_exit(0), Return::Unknown);
    }
}
