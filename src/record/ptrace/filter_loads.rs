//! Where a container's filter is loaded: recognising the load among a task's calls, and making trapline's own
//! filter stop at it even where a `--known` profile would let it run untraced.

use crate::decode::arch::Arch;

/// seccomp(SECCOMP_SET_MODE_FILTER, ..) or prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ..): where a container's
/// init process loads its filter. `Some(true)` when the load applies to every thread of the process
/// (SECCOMP_FILTER_FLAG_TSYNC).
pub fn loads_filter(name: Option<&str>, args: &[u64; 6]) -> Option<bool> {
    const SECCOMP_SET_MODE_FILTER: u64 = 1;
    const SECCOMP_FILTER_FLAG_TSYNC: u64 = 1;
    const PR_SET_SECCOMP: u64 = 22;
    const SECCOMP_MODE_FILTER: u64 = 2;
    match name {
        Some("seccomp") if args[0] == SECCOMP_SET_MODE_FILTER => Some(args[1] & SECCOMP_FILTER_FLAG_TSYNC != 0),
        Some("prctl") if args[0] & 0xffff_ffff == PR_SET_SECCOMP && args[1] == SECCOMP_MODE_FILTER => Some(false),
        _ => None,
    }
}

/// `filter` with a prefix that traps the native seccomp and prctl calls whatever the rest says.
pub fn trapping_filter_loads(filter: &[libc::sock_filter]) -> Vec<libc::sock_filter> {
    let arch = Arch::native();
    let nr = |name| arch.syscall_nr(name).map_or(u32::MAX, |nr| nr as u32);
    let insn = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter { code: code as u16, jt, jf, k };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let equals = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let mut prefixed = vec![
        insn(load, 4, 0, 0),               // seccomp_data.arch
        insn(equals, arch.audit(), 0, 4),  // another architecture: on to the filter
        insn(load, 0, 0, 0),               // seccomp_data.nr
        insn(equals, nr("seccomp"), 1, 0), // seccomp: trace
        insn(equals, nr("prctl"), 0, 1),   // prctl: trace; anything else: on to the filter
        insn(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_TRACE, 0, 0),
    ];
    prefixed.extend_from_slice(filter);
    prefixed
}
