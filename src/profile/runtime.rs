//! What a container runtime does in the container's init process after it loads the seccomp filter and
//! before it execs the workload: a profile must allow it too, or the container never starts.
//!
//! These lists are measurements and source readings, each with where it came from. `trapline record
//! --container` (which records the runtime itself) supersedes them when it is available.

/// A runtime whose post-filter syscalls trapline knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Runc,
    Crun,
}

pub struct RuntimeSyscalls {
    pub names: &'static [&'static str],
    /// Where the list came from, for the explain report.
    pub source: &'static str,
}

/// runc 1.1.5 (Debian 12, with the CVE-2024-21626 fix), measured with `strace -f runc run` from the
/// moment runc init loads the filter to the workload's execve, with noNewPrivileges true and false (the
/// union: whether the bundle sets it is not known when the profile is made). futex, sched_yield and
/// rt_sigreturn appear depending on Go runtime timing (preemption signals, parked threads).
const RUNC: RuntimeSyscalls = RuntimeSyscalls {
    names: &[
        "capget",
        "capset",
        "chdir",
        "close",
        "epoll_ctl",
        "execve",
        "faccessat2",
        "fcntl",
        "fstat",
        "fstatfs",
        "futex",
        "getcwd",
        "getdents64",
        "getpid",
        "getppid",
        "newfstatat",
        "openat",
        "prctl",
        "read",
        "rt_sigreturn",
        "sched_yield",
        "setgid",
        "setgroups",
        "setuid",
        "write",
    ],
    source: "runc 1.1.5, measured with strace from the filter load to the workload's execve \
             (noNewPrivileges true and false)",
};

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
        }
    }

    pub fn syscalls(self) -> &'static RuntimeSyscalls {
        match self {
            Runtime::Runc => &RUNC,
            Runtime::Crun => &CRUN,
        }
    }
}

/// Placeholder replaced below once crun's post-filter path is read from its source.
const CRUN: RuntimeSyscalls = RUNC;
