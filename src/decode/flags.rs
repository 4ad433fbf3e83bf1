//! Names for the flag words and enumerations that seccomp rules compare.
//!
//! Values are from the kernel's uapi headers (`asm-generic/mman-common.h`, `linux/sched.h`,
//! `linux/socket.h`, `linux/net.h`, `linux/prctl.h`, `linux/personality.h`); the header is named on each table.

/// A flag word rendered as `A|B|0x40` (leftover bits in hex), or `none` when zero.
pub fn flag_names(value: u64, table: &[(u64, &str)], zero: &str) -> String {
    if value == 0 {
        return zero.to_string();
    }
    let mut parts = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if bit != 0 && value & bit == bit && rest & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

/// An enumerated value rendered by name, or as a number when unknown.
pub fn enum_name(value: u64, table: &[(u64, &str)]) -> String {
    table.iter().find(|(v, _)| *v == value).map(|(_, n)| n.to_string()).unwrap_or_else(|| format!("{value:#x}"))
}

/// asm-generic/mman-common.h (PROT_BTI and PROT_MTE are arm64's).
pub const PROT: &[(u64, &str)] = &[
    (0x1, "PROT_READ"),
    (0x2, "PROT_WRITE"),
    (0x4, "PROT_EXEC"),
    (0x8, "PROT_SEM"),
    (0x10, "PROT_BTI"),
    (0x20, "PROT_MTE"),
    (0x0100_0000, "PROT_GROWSDOWN"),
    (0x0200_0000, "PROT_GROWSUP"),
];

/// The mapping type occupies the low nibble of mmap's flags; the rest are single bits.
pub const MAP_TYPE: &[(u64, &str)] = &[(0x1, "MAP_SHARED"), (0x2, "MAP_PRIVATE"), (0x3, "MAP_SHARED_VALIDATE")];

/// asm-generic/mman-common.h and x86's MAP_32BIT.
pub const MAP_FLAGS: &[(u64, &str)] = &[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x0010_0000, "MAP_FIXED_NOREPLACE"),
    (0x0400_0000, "MAP_UNINITIALIZED"),
];

pub const MAP_ANONYMOUS: u64 = 0x20;

pub fn mmap_flags(value: u64) -> String {
    let kind = enum_name(value & 0xf, MAP_TYPE);
    let rest = value & !0xf;
    if rest == 0 { kind } else { format!("{kind}|{}", flag_names(rest, MAP_FLAGS, "")) }
}

/// linux/socket.h address families.
pub const AF: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (21, "AF_RDS"),
    (24, "AF_PPPOX"),
    (26, "AF_LLC"),
    (27, "AF_IB"),
    (28, "AF_MPLS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
    (45, "AF_MCTP"),
];

/// linux/net.h socket types; SOCK_NONBLOCK and SOCK_CLOEXEC ride in the same word.
pub const SOCK_TYPE: &[(u64, &str)] = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];
pub const SOCK_FLAGS: &[(u64, &str)] = &[(0x800, "SOCK_NONBLOCK"), (0x80000, "SOCK_CLOEXEC")];

pub fn socket_type(value: u64) -> String {
    let kind = enum_name(value & 0xf, SOCK_TYPE);
    let rest = value & !0xf;
    if rest == 0 { kind } else { format!("{kind}|{}", flag_names(rest, SOCK_FLAGS, "")) }
}

/// linux/sched.h clone flags; the low byte of clone(2)'s word is the exit signal.
pub const CLONE: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
    // clone3 only: these share bits with clone(2)'s exit-signal byte or lie above 32 bits.
    (0x80, "CLONE_NEWTIME"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_VM: u64 = 0x100;
pub const CLONE_VFORK: u64 = 0x4000;
/// Every namespace flag: a profile can refuse these when the workload never asked for one.
pub const CLONE_NAMESPACES: u64 =
    0x2000_0000 | 0x4000_0000 | 0x1000_0000 | 0x0800_0000 | 0x0400_0000 | 0x0200_0000 | 0x20000;

/// clone(2): the flags, then the exit signal carried in the low byte.
pub fn clone_flags(value: u64) -> String {
    let flags = value & !0xff;
    let signal = value & 0xff;
    let mut text = flag_names(flags, &CLONE[..CLONE.len() - 3], "0");
    if signal != 0 {
        text.push('|');
        text.push_str(&signal_name(signal as i32));
    }
    text
}

/// clone3's flags word: no exit signal in it, and bits above 31 are valid.
pub fn clone3_flags(value: u64) -> String {
    flag_names(value, CLONE, "0")
}

/// linux/prctl.h options.
pub const PRCTL: &[(u64, &str)] = &[
    (1, "PR_SET_PDEATHSIG"),
    (2, "PR_GET_PDEATHSIG"),
    (3, "PR_GET_DUMPABLE"),
    (4, "PR_SET_DUMPABLE"),
    (5, "PR_GET_UNALIGN"),
    (6, "PR_SET_UNALIGN"),
    (7, "PR_GET_KEEPCAPS"),
    (8, "PR_SET_KEEPCAPS"),
    (9, "PR_GET_FPEMU"),
    (10, "PR_SET_FPEMU"),
    (11, "PR_GET_FPEXC"),
    (12, "PR_SET_FPEXC"),
    (13, "PR_GET_TIMING"),
    (14, "PR_SET_TIMING"),
    (15, "PR_SET_NAME"),
    (16, "PR_GET_NAME"),
    (19, "PR_GET_ENDIAN"),
    (20, "PR_SET_ENDIAN"),
    (21, "PR_GET_SECCOMP"),
    (22, "PR_SET_SECCOMP"),
    (23, "PR_CAPBSET_READ"),
    (24, "PR_CAPBSET_DROP"),
    (25, "PR_GET_TSC"),
    (26, "PR_SET_TSC"),
    (27, "PR_GET_SECUREBITS"),
    (28, "PR_SET_SECUREBITS"),
    (29, "PR_SET_TIMERSLACK"),
    (30, "PR_GET_TIMERSLACK"),
    (31, "PR_TASK_PERF_EVENTS_DISABLE"),
    (32, "PR_TASK_PERF_EVENTS_ENABLE"),
    (33, "PR_MCE_KILL"),
    (34, "PR_MCE_KILL_GET"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (37, "PR_GET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (39, "PR_GET_NO_NEW_PRIVS"),
    (40, "PR_GET_TID_ADDRESS"),
    (41, "PR_SET_THP_DISABLE"),
    (42, "PR_GET_THP_DISABLE"),
    (45, "PR_SET_FP_MODE"),
    (46, "PR_GET_FP_MODE"),
    (47, "PR_CAP_AMBIENT"),
    (50, "PR_SVE_SET_VL"),
    (51, "PR_SVE_GET_VL"),
    (52, "PR_GET_SPECULATION_CTRL"),
    (53, "PR_SET_SPECULATION_CTRL"),
    (54, "PR_PAC_RESET_KEYS"),
    (55, "PR_SET_TAGGED_ADDR_CTRL"),
    (56, "PR_GET_TAGGED_ADDR_CTRL"),
    (57, "PR_SET_IO_FLUSHER"),
    (58, "PR_GET_IO_FLUSHER"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (60, "PR_PAC_SET_ENABLED_KEYS"),
    (61, "PR_PAC_GET_ENABLED_KEYS"),
    (62, "PR_SCHED_CORE"),
    (63, "PR_SME_SET_VL"),
    (64, "PR_SME_GET_VL"),
    (65, "PR_SET_MDWE"),
    (66, "PR_GET_MDWE"),
    (67, "PR_SET_MEMORY_MERGE"),
    (68, "PR_GET_MEMORY_MERGE"),
    (0x5356_4d41, "PR_SET_VMA"),
    (0x5961_6d61, "PR_SET_PTRACER"),
];

/// linux/personality.h: the persona in the low byte, modifier flags above it.
pub const PERSONALITY_FLAGS: &[(u64, &str)] = &[
    (0x0020000, "UNAME26"),
    (0x0040000, "ADDR_NO_RANDOMIZE"),
    (0x0080000, "FDPIC_FUNCPTRS"),
    (0x0100000, "MMAP_PAGE_ZERO"),
    (0x0200000, "ADDR_COMPAT_LAYOUT"),
    (0x0400000, "READ_IMPLIES_EXEC"),
    (0x0800000, "ADDR_LIMIT_32BIT"),
    (0x1000000, "SHORT_INODE"),
    (0x2000000, "WHOLE_SECONDS"),
    (0x4000000, "STICKY_TIMEOUTS"),
    (0x8000000, "ADDR_LIMIT_3GB"),
];

pub fn personality(value: u64) -> String {
    if value == 0xffff_ffff {
        return "query".to_string();
    }
    let persona = match value & 0xff {
        0 => "PER_LINUX".to_string(),
        8 => "PER_LINUX32".to_string(),
        other => format!("{other:#x}"),
    };
    let rest = value & !0xff;
    if rest == 0 { persona } else { format!("{persona}|{}", flag_names(rest, PERSONALITY_FLAGS, "")) }
}

/// linux/net.h: the calls multiplexed through i386's socketcall(2).
pub const SOCKETCALL: &[(u64, &str)] = &[
    (1, "SYS_SOCKET"),
    (2, "SYS_BIND"),
    (3, "SYS_CONNECT"),
    (4, "SYS_LISTEN"),
    (5, "SYS_ACCEPT"),
    (6, "SYS_GETSOCKNAME"),
    (7, "SYS_GETPEERNAME"),
    (8, "SYS_SOCKETPAIR"),
    (9, "SYS_SEND"),
    (10, "SYS_RECV"),
    (11, "SYS_SENDTO"),
    (12, "SYS_RECVFROM"),
    (13, "SYS_SHUTDOWN"),
    (14, "SYS_SETSOCKOPT"),
    (15, "SYS_GETSOCKOPT"),
    (16, "SYS_SENDMSG"),
    (17, "SYS_RECVMSG"),
    (18, "SYS_ACCEPT4"),
    (19, "SYS_RECVMMSG"),
    (20, "SYS_SENDMMSG"),
];

/// linux/personality.h personas by their names (the persona byte with the flags the name implies); only read
/// back from other tools' logs, as [`personality`] renders the parts.
const PERSONAS: &[(u64, &str)] = &[
    (0, "PER_LINUX"),
    (0x0800000, "PER_LINUX_32BIT"),
    (0x0080000, "PER_LINUX_FDPIC"),
    (8, "PER_LINUX32"),
    (0x8000008, "PER_LINUX32_3GB"),
];

/// The value of a name from the tables above (`PROT_EXEC`, `MAP_SHARED`, `AF_INET`, `SOCK_CLOEXEC`,
/// `CLONE_VM`, `PR_SET_NAME`, `ADDR_NO_RANDOMIZE`, `PER_LINUX32`, `SYS_SOCKET`): the reverse of the renderers,
/// for reading logs of tools that print names. Each table's names carry their own prefix, so one lookup
/// serves them all.
pub fn value_of(name: &str) -> Option<u64> {
    const TABLES: &[&[(u64, &str)]] =
        &[PROT, MAP_TYPE, MAP_FLAGS, AF, SOCK_TYPE, SOCK_FLAGS, CLONE, PRCTL, PERSONALITY_FLAGS, PERSONAS, SOCKETCALL];
    if name == "PROT_NONE" {
        return Some(0);
    }
    TABLES.iter().flat_map(|table| table.iter()).find(|(_, n)| *n == name).map(|(value, _)| *value)
}

/// A signal's number from its name (`SIGCHLD`; `SIGRTMIN`, `SIGRT_N` as strace writes real-time signals).
pub fn signal_number(name: &str) -> Option<i32> {
    // The kernel's SIGRTMIN is 32; glibc reserves two above it, but strace counts from the kernel's.
    const SIGRTMIN: i32 = 32;
    if name == "SIGRTMIN" {
        return Some(SIGRTMIN);
    }
    if let Some(n) = name.strip_prefix("SIGRT_") {
        return n.parse::<i32>().ok().filter(|n| (0..=32).contains(n)).map(|n| SIGRTMIN + n);
    }
    name.parse::<nix::sys::signal::Signal>().ok().map(|s| s as i32)
}

/// Kernel-internal errnos (include/linux/errno.h) that strace prints for interrupted calls and that libc does
/// not name.
const KERNEL_ERRNOS: &[(i32, &str)] = &[
    (512, "ERESTARTSYS"),
    (513, "ERESTARTNOINTR"),
    (514, "ERESTARTNOHAND"),
    (515, "ENOIOCTLCMD"),
    (516, "ERESTART_RESTARTBLOCK"),
    (517, "EPROBE_DEFER"),
    (518, "EOPENSTALE"),
    (524, "ENOTSUPP"),
];

/// An errno's number from its name (`ENOENT`, `ERESTARTSYS`): the reverse of [`errno_name`].
pub fn errno_number(name: &str) -> Option<i32> {
    static BY_NAME: std::sync::OnceLock<std::collections::HashMap<String, i32>> = std::sync::OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| {
        // errno_name falls back to `E<number>` for numbers without a name; those are not names.
        (1..4096).map(|n| (errno_name(n), n)).filter(|(name, n)| *name != format!("E{n}")).collect()
    });
    by_name.get(name).copied().or_else(|| KERNEL_ERRNOS.iter().find(|(_, n)| *n == name).map(|(number, _)| *number))
}

/// A signal's name (`SIGCHLD`), or its number when it has none.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{signal}"))
}

/// An errno's name (`ENOENT`), or its number when it has none.
pub fn errno_name(errno: i32) -> String {
    let e = nix::errno::Errno::from_raw(errno);
    if e == nix::errno::Errno::UnknownErrno { format!("E{errno}") } else { format!("{e:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_words_read_as_in_the_headers() {
        assert_eq!(flag_names(3, PROT, "PROT_NONE"), "PROT_READ|PROT_WRITE");
        assert_eq!(flag_names(0, PROT, "PROT_NONE"), "PROT_NONE");
        assert_eq!(mmap_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(socket_type(0x80801), "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC");
        assert_eq!(clone_flags(0x1200011), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");
        assert_eq!(clone3_flags(0x1_0000_0080), "CLONE_NEWTIME|CLONE_CLEAR_SIGHAND");
        assert_eq!(enum_name(38, PRCTL), "PR_SET_NO_NEW_PRIVS");
        assert_eq!(personality(0x0040000), "PER_LINUX|ADDR_NO_RANDOMIZE");
        assert_eq!(errno_name(2), "ENOENT");
        assert_eq!(signal_name(17), "SIGCHLD");
    }

    #[test]
    fn names_read_back_to_their_values() {
        assert_eq!(value_of("PROT_EXEC"), Some(4));
        assert_eq!(value_of("PROT_NONE"), Some(0));
        assert_eq!(value_of("MAP_SHARED"), Some(1));
        assert_eq!(value_of("MAP_FIXED"), Some(0x10));
        assert_eq!(value_of("AF_INET"), Some(2));
        assert_eq!(value_of("SOCK_CLOEXEC"), Some(0x80000));
        assert_eq!(value_of("CLONE_THREAD"), Some(0x10000));
        assert_eq!(value_of("PR_SET_NAME"), Some(15));
        assert_eq!(value_of("PER_LINUX32"), Some(8));
        assert_eq!(value_of("O_RDONLY"), None);
        assert_eq!(signal_number("SIGCHLD"), Some(17));
        assert_eq!(signal_number("SIGRT_1"), Some(33));
        assert_eq!(signal_number("SIGNOPE"), None);
        assert_eq!(errno_number("ENOENT"), Some(2));
        assert_eq!(errno_number("ERESTARTSYS"), Some(512));
        assert_eq!(errno_number("E4000"), None);
        for (value, name) in PROT.iter().chain(CLONE).chain(AF).chain(PRCTL) {
            assert_eq!(value_of(name), Some(*value), "{name}");
        }
    }
}
