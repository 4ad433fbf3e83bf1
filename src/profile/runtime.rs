//! What a container runtime does in the container's init process after it loads the seccomp filter and
//! before it execs the workload: a profile must allow it too, or the container never starts.
//!
//! These lists are measurements and source readings, each with where it came from. `trapline record
//! --container` (which records the runtime itself) supersedes them when it is available.

/// A runtime whose post-filter syscalls trapline knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runtime {
    Runc,
    Crun,
}

pub struct RuntimeSyscalls {
    pub names: &'static [&'static str],
    /// The calls among them that the runtime makes only sometimes, depending on timing (a Go runtime's
    /// scheduler): a recording through the runtime may miss them, so profiles of such recordings add them.
    pub timing: &'static [&'static str],
    /// The calls among them the runtime still makes after the filter when the bundle sets noNewPrivileges
    /// (the filter then goes on just before exec); the rest come only without it, when the filter goes on
    /// before privileges are dropped. `None` where not measured.
    pub with_no_new_privs: Option<&'static [&'static str]>,
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
    timing: &["futex", "nanosleep", "rt_sigreturn", "sched_yield"],
    // `record --container` of a static program that only returns, through runc 1.1.5 with noNewPrivileges
    // true (the same in three runs), and the timing calls above.
    with_no_new_privs: Some(&[
        "close",
        "epoll_ctl",
        "execve",
        "fstatfs",
        "futex",
        "getdents64",
        "getpid",
        "openat",
        "rt_sigreturn",
        "sched_yield",
        "write",
    ]),
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

    pub fn from_name(name: &str) -> Option<Runtime> {
        match name {
            "runc" => Some(Runtime::Runc),
            "crun" => Some(Runtime::Crun),
            _ => None,
        }
    }

    pub fn syscalls(self) -> &'static RuntimeSyscalls {
        match self {
            Runtime::Runc => &RUNC,
            Runtime::Crun => &CRUN,
        }
    }
}

/// crun, read from its source (containers/crun `src/libcrun/container.c` container_init and
/// apply_security_settings, `linux.c` set_required_caps, `utils.c` mark_or_close_fds_ge_than; the order is
/// the same from 1.8.1 to 1.29) and mapped to x86_64 glibc 2.36 syscalls. With noNewPrivileges false crun loads
/// the filter before dropping privileges (prctl, setresgid, setresuid, capset, signal reset, a sync write);
/// with it true, just before close_range and execv. brk and munmap cover allocator work after the load.
const CRUN: RuntimeSyscalls = RuntimeSyscalls {
    names: &[
        "brk",
        "capset",
        "close",
        "close_range",
        "execve",
        "munmap",
        "prctl",
        "rt_sigaction",
        "rt_sigprocmask",
        "setresgid",
        "setresuid",
        "write",
    ],
    timing: &[],
    with_no_new_privs: None,
    source: "crun 1.8.1 to 1.29, read from its source (container_init, set_required_caps, \
             mark_or_close_fds_ge_than), union of noNewPrivileges true and false",
};
