//! Calls that weaken the isolation a container is meant to have, for review: why each matters, and what
//! Docker's default profile (moby/profiles `seccomp/default.json`) does with it, so a reviewer can weigh
//! "the workload needs it" against "the usual baseline refuses it". clone3 and io_uring, which a filter cannot
//! see through at all, are answered with ENOSYS by `generate` and reported by lint on their own.

/// One call and what allowing it gives a compromised workload (`why` reads after "it": "it loads ...").
pub struct Risk {
    pub names: &'static [&'static str],
    pub why: &'static str,
    /// What Docker's default profile does with it.
    pub docker: &'static str,
}

pub const RISKS: &[Risk] = &[
    Risk {
        names: &["ptrace"],
        why: "controls other processes of the container: their memory, registers and system calls",
        docker: "allowed on kernels 4.8 and later (where seccomp rechecks a call a tracer changed)",
    },
    Risk {
        names: &["process_vm_readv", "process_vm_writev"],
        why: "reads or writes another process's memory directly",
        docker: "allowed on kernels 4.8 and later",
    },
    Risk {
        names: &["bpf"],
        why: "loads programs into the kernel",
        docker: "allowed only with CAP_SYS_ADMIN or CAP_BPF",
    },
    Risk {
        names: &["userfaultfd"],
        why: "stalls the kernel's accesses to a process's memory, the race window many kernel exploits need",
        docker: "denied",
    },
    Risk {
        names: &["perf_event_open"],
        why: "opens the kernel's performance counters: a large kernel attack surface and side channels",
        docker: "allowed only with CAP_SYS_ADMIN or CAP_PERFMON",
    },
    Risk {
        names: &["keyctl", "add_key", "request_key"],
        why: "reaches the kernel keyrings, which are not namespaced: keys are shared with the host",
        docker: "denied",
    },
    Risk {
        names: &["unshare", "setns"],
        why: "enters new or other namespaces; with a user namespace, capabilities inside it and the kernel code they reach",
        docker: "allowed only with CAP_SYS_ADMIN",
    },
    Risk {
        names: &[
            "mount",
            "umount2",
            "pivot_root",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
        ],
        why: "changes what the container's file system shows",
        docker: "allowed only with CAP_SYS_ADMIN (pivot_root denied)",
    },
    Risk {
        names: &["open_by_handle_at"],
        why: "opens files by handle, past the mount namespace (the 'shocker' container escape)",
        docker: "allowed only with CAP_DAC_READ_SEARCH",
    },
    Risk { names: &["kexec_load", "kexec_file_load"], why: "replaces the running kernel", docker: "denied" },
    Risk {
        names: &["init_module", "finit_module", "delete_module"],
        why: "loads code into the kernel or unloads it",
        docker: "allowed only with CAP_SYS_MODULE",
    },
    Risk {
        names: &["iopl", "ioperm"],
        why: "gives direct access to hardware I/O ports",
        docker: "allowed only with CAP_SYS_RAWIO",
    },
];

/// personality's flag that turns address-space randomisation off for what the process execs next.
pub const ADDR_NO_RANDOMIZE: u64 = 0x0040000;

/// The risk of allowing `name`, if it is one.
pub fn risk_of(name: &str) -> Option<&'static Risk> {
    RISKS.iter().find(|r| r.names.contains(&name))
}
