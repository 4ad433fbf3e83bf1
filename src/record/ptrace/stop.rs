//! A waitpid status, decoded once into what it means for a seized tracee.

/// What one `waitpid(-1, __WALL)` reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The task exited with this code.
    Exited { code: i32 },
    /// The task was killed by a signal.
    Killed { signal: i32 },
    /// Syscall entry, reported by the recording filter's SECCOMP_RET_TRACE.
    Seccomp,
    /// A syscall stop: the exit of a call whose seccomp stop the tracer resumed with PTRACE_SYSCALL, or, for a
    /// task followed through a filter of its own, the entry or exit of any call.
    Syscall,
    /// fork, vfork or clone created a task; its id is in the event message.
    Spawned,
    /// execve succeeded; the event message holds the tid that called it.
    Exec,
    /// A group-stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) under PTRACE_SEIZE.
    Group { signal: i32 },
    /// PTRACE_EVENT_STOP without a stop signal: a new task's first stop, or the wake-up after a group-stop.
    Event,
    /// A signal is about to be delivered; the tracer passes it on.
    Signal { signal: i32 },
}

const SYSCALL_TRAP: i32 = libc::SIGTRAP | 0x80;

impl Stop {
    pub fn decode(status: i32) -> Stop {
        if libc::WIFEXITED(status) {
            return Stop::Exited { code: libc::WEXITSTATUS(status) };
        }
        if libc::WIFSIGNALED(status) {
            return Stop::Killed { signal: libc::WTERMSIG(status) };
        }
        let signal = libc::WSTOPSIG(status);
        match status >> 16 {
            0 if signal == SYSCALL_TRAP => Stop::Syscall,
            0 => Stop::Signal { signal },
            libc::PTRACE_EVENT_SECCOMP => Stop::Seccomp,
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => Stop::Spawned,
            libc::PTRACE_EVENT_EXEC => Stop::Exec,
            libc::PTRACE_EVENT_STOP if is_stop_signal(signal) => Stop::Group { signal },
            _ => Stop::Event,
        }
    }
}

fn is_stop_signal(signal: i32) -> bool {
    matches!(signal, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(signal: i32, event: i32) -> i32 {
        (event << 16) | (signal << 8) | 0x7f
    }

    #[test]
    fn decodes_each_kind_of_stop() {
        assert_eq!(Stop::decode(3 << 8), Stop::Exited { code: 3 });
        assert_eq!(Stop::decode(libc::SIGKILL), Stop::Killed { signal: libc::SIGKILL });
        assert_eq!(Stop::decode(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP)), Stop::Seccomp);
        assert_eq!(Stop::decode(stopped(SYSCALL_TRAP, 0)), Stop::Syscall);
        assert_eq!(Stop::decode(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_CLONE)), Stop::Spawned);
        assert_eq!(Stop::decode(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_EXEC)), Stop::Exec);
        assert_eq!(
            Stop::decode(stopped(libc::SIGTSTP, libc::PTRACE_EVENT_STOP)),
            Stop::Group { signal: libc::SIGTSTP }
        );
        assert_eq!(Stop::decode(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_STOP)), Stop::Event);
        assert_eq!(Stop::decode(stopped(libc::SIGUSR1, 0)), Stop::Signal { signal: libc::SIGUSR1 });
    }
}
