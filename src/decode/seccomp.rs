//! What a loaded seccomp filter does with one call: classic BPF run over `struct seccomp_data` as the kernel
//! runs it, the precedence between the answers of stacked filters, and the answers' names in the OCI format.
//!
//! A tracer that sees a call at syscall entry runs the task's filters here to learn whether the kernel is about
//! to deny it: a denied call never reaches SECCOMP_RET_TRACE, so this is how a denial is told from a failure.

use super::flags::errno_name;

/// The fields of `struct seccomp_data` a filter reads (linux/seccomp.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte `offset`, as a `BPF_LD|BPF_W|BPF_ABS` reads it (native byte order; on the
    /// little-endian machines trapline runs on, the low half of a 64-bit field comes first).
    fn word(&self, offset: u32) -> Option<u32> {
        let field = |value: u64, at: u32| if at == 0 { value as u32 } else { (value >> 32) as u32 };
        match offset {
            0 => Some(self.nr),
            4 => Some(self.arch),
            8 | 12 => Some(field(self.instruction_pointer, offset - 8)),
            16..=60 if offset.is_multiple_of(4) => {
                let i = (offset - 16) / 8;
                Some(field(self.args[i as usize], (offset - 16) % 8))
            }
            _ => None,
        }
    }
}

/// `sizeof(struct seccomp_data)`: what `BPF_LEN` loads.
const DATA_LEN: u32 = 64;
/// The scratch memory words classic BPF gives a program (BPF_MEMWORDS).
const MEMWORDS: usize = 16;

/// Runs `filter` on `data` and returns what it answers (`SECCOMP_RET_*` with its data). An instruction the
/// kernel would have refused at load time, or a jump out of the program, answers SECCOMP_RET_KILL_THREAD, as
/// the kernel does for a malformed program.
pub fn run(filter: &[libc::sock_filter], data: &SeccompData) -> u32 {
    const KILL: u32 = libc::SECCOMP_RET_KILL_THREAD;
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; MEMWORDS]);
    let mut pc = 0usize;
    while let Some(insn) = filter.get(pc) {
        pc += 1;
        let code = u32::from(insn.code);
        let k = insn.k;
        let src = if code & 0x08 == libc::BPF_X { x } else { k };
        match code & 0x07 {
            libc::BPF_LD | libc::BPF_LDX => {
                let class = code & 0x07;
                let value = match code & 0xe0 {
                    libc::BPF_ABS if class == libc::BPF_LD => data.word(k),
                    libc::BPF_LEN => Some(DATA_LEN),
                    libc::BPF_IMM => Some(k),
                    libc::BPF_MEM => mem.get(k as usize).copied(),
                    _ => None,
                };
                let Some(value) = value else { return KILL };
                if class == libc::BPF_LD { a = value } else { x = value }
            }
            libc::BPF_ST | libc::BPF_STX => {
                let value = if code & 0x07 == libc::BPF_ST { a } else { x };
                match mem.get_mut(k as usize) {
                    Some(word) => *word = value,
                    None => return KILL,
                }
            }
            libc::BPF_ALU => {
                a = match code & 0xf0 {
                    libc::BPF_ADD => a.wrapping_add(src),
                    libc::BPF_SUB => a.wrapping_sub(src),
                    libc::BPF_MUL => a.wrapping_mul(src),
                    libc::BPF_DIV => match a.checked_div(src) {
                        Some(q) => q,
                        None => return 0, // the kernel's interpreter returns 0 on division by zero
                    },
                    libc::BPF_MOD => match a.checked_rem(src) {
                        Some(r) => r,
                        None => return 0,
                    },
                    libc::BPF_OR => a | src,
                    libc::BPF_AND => a & src,
                    libc::BPF_XOR => a ^ src,
                    libc::BPF_LSH => a.checked_shl(src).unwrap_or(0),
                    libc::BPF_RSH => a.checked_shr(src).unwrap_or(0),
                    libc::BPF_NEG => a.wrapping_neg(),
                    _ => return KILL,
                }
            }
            libc::BPF_JMP => {
                let taken = match code & 0xf0 {
                    libc::BPF_JA => {
                        pc += k as usize;
                        continue;
                    }
                    libc::BPF_JEQ => a == src,
                    libc::BPF_JGT => a > src,
                    libc::BPF_JGE => a >= src,
                    libc::BPF_JSET => a & src != 0,
                    _ => return KILL,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            libc::BPF_RET => return if code & 0x18 == libc::BPF_A { a } else { k },
            libc::BPF_MISC => match code & 0xf8 {
                libc::BPF_TAX => x = a,
                libc::BPF_TXA => a = x,
                _ => return KILL,
            },
            _ => return KILL,
        }
    }
    KILL
}

/// What the kernel does with a call when several filters answered: the answer with the lowest action value,
/// read as a signed number, wins (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW).
pub fn strongest(answers: impl IntoIterator<Item = u32>) -> u32 {
    let action = |ret: u32| (ret & libc::SECCOMP_RET_ACTION_FULL) as i32;
    answers.into_iter().min_by_key(|ret| action(*ret)).unwrap_or(libc::SECCOMP_RET_ALLOW)
}

/// Whether the answer keeps the call from running: it kills, traps or fails it. (A user-notification answer
/// is its supervisor's to give, and a trace answer its tracer's.)
pub fn denies(ret: u32) -> bool {
    matches!(
        ret & libc::SECCOMP_RET_ACTION_FULL,
        libc::SECCOMP_RET_KILL_PROCESS
            | libc::SECCOMP_RET_KILL_THREAD
            | libc::SECCOMP_RET_TRAP
            | libc::SECCOMP_RET_ERRNO
    )
}

/// The answer as a profile would write it: `SCMP_ACT_ERRNO(EPERM)`, `SCMP_ACT_KILL_PROCESS`.
pub fn action_name(ret: u32) -> String {
    let data = ret & libc::SECCOMP_RET_DATA;
    match ret & libc::SECCOMP_RET_ACTION_FULL {
        libc::SECCOMP_RET_KILL_PROCESS => "SCMP_ACT_KILL_PROCESS".into(),
        libc::SECCOMP_RET_KILL_THREAD => "SCMP_ACT_KILL_THREAD".into(),
        libc::SECCOMP_RET_TRAP => "SCMP_ACT_TRAP".into(),
        libc::SECCOMP_RET_ERRNO => format!("SCMP_ACT_ERRNO({})", errno_name(data as i32)),
        libc::SECCOMP_RET_USER_NOTIF => "SCMP_ACT_NOTIFY".into(),
        libc::SECCOMP_RET_TRACE => "SCMP_ACT_TRACE".into(),
        libc::SECCOMP_RET_LOG => "SCMP_ACT_LOG".into(),
        libc::SECCOMP_RET_ALLOW => "SCMP_ACT_ALLOW".into(),
        other => format!("{other:#x}"),
    }
}

/// The errno of an `SCMP_ACT_ERRNO(NAME)` written by [`action_name`].
pub fn errno_of_action(name: &str) -> Option<&str> {
    name.strip_prefix("SCMP_ACT_ERRNO(")?.strip_suffix(')')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(code: u32, k: u32) -> libc::sock_filter {
        libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
    }

    fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter { code: code as u16, jt, jf, k }
    }

    fn call(nr: u32, arg0: u64) -> SeccompData {
        SeccompData { nr, arch: 0xc000_003e, instruction_pointer: 0x7f00_0000_1234, args: [arg0, 0, 0, 0, 0, 0] }
    }

    /// getppid (110) fails with EPERM; ioctl (16) with request 0x5401 is allowed, any other request fails
    /// with ENOTTY; everything else is allowed.
    fn filter() -> Vec<libc::sock_filter> {
        let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
        let ret = libc::BPF_RET | libc::BPF_K;
        vec![
            stmt(ld, 0),
            jump(jeq, 110, 0, 1),
            stmt(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
            jump(jeq, 16, 0, 3),
            stmt(ld, 16),
            jump(jeq, 0x5401, 1, 0),
            stmt(ret, libc::SECCOMP_RET_ERRNO | libc::ENOTTY as u32),
            stmt(ret, libc::SECCOMP_RET_ALLOW),
        ]
    }

    #[test]
    fn runs_a_filter_as_the_kernel_does() {
        let f = filter();
        assert_eq!(run(&f, &call(110, 0)), libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
        assert_eq!(run(&f, &call(16, 0x5401)), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(&f, &call(16, 0x5402)), libc::SECCOMP_RET_ERRNO | libc::ENOTTY as u32);
        assert_eq!(run(&f, &call(39, 0)), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn reads_both_halves_of_an_argument() {
        let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        let f = [stmt(ld, 20), stmt(libc::BPF_RET | libc::BPF_A, 0)];
        assert_eq!(run(&f, &call(0, 0xdead_beef_0000_0001)), 0xdead_beef);
    }

    #[test]
    fn a_malformed_program_kills() {
        let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        assert_eq!(run(&[stmt(ld, 2)], &call(0, 0)), libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(run(&[], &call(0, 0)), libc::SECCOMP_RET_KILL_THREAD);
    }

    #[test]
    fn the_strongest_answer_wins() {
        let errno = libc::SECCOMP_RET_ERRNO | 1;
        assert_eq!(strongest([libc::SECCOMP_RET_TRACE, errno, libc::SECCOMP_RET_ALLOW]), errno);
        assert_eq!(strongest([errno, libc::SECCOMP_RET_KILL_PROCESS]), libc::SECCOMP_RET_KILL_PROCESS);
        assert!(denies(errno) && !denies(libc::SECCOMP_RET_TRACE) && !denies(libc::SECCOMP_RET_USER_NOTIF));
        assert_eq!(action_name(errno), "SCMP_ACT_ERRNO(EPERM)");
        assert_eq!(errno_of_action("SCMP_ACT_ERRNO(ENOSYS)"), Some("ENOSYS"));
    }
}
