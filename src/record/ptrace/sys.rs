//! Raw ptrace requests. Every request is made from the tracing thread; ESRCH (the tracee died under us, e.g.
//! SIGKILL from elsewhere) is not an error here: waitpid reports the death next.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// PTRACE_GET_SYSCALL_INFO's result (linux/ptrace.h, `struct ptrace_syscall_info`). Declared here rather than
/// taken from libc because not every libc target has it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SyscallInfo {
    pub op: u8,
    _pad: [u8; 3],
    pub arch: u32,
    pub instruction_pointer: u64,
    pub stack_pointer: u64,
    /// entry/seccomp: nr, args[6], (seccomp: ret_data); exit: rval (i64), is_error (u8).
    data: [u64; 7],
    ret_data: u32,
    _pad2: u32,
}

pub const OP_ENTRY: u8 = 1;
pub const OP_EXIT: u8 = 2;
pub const OP_SECCOMP: u8 = 3;

impl SyscallInfo {
    pub fn nr(&self) -> u64 {
        self.data[0]
    }
    pub fn args(&self) -> [u64; 6] {
        [self.data[1], self.data[2], self.data[3], self.data[4], self.data[5], self.data[6]]
    }
    pub fn rval(&self) -> i64 {
        self.data[0] as i64
    }
    pub fn is_error(&self) -> bool {
        self.data[1] as u8 != 0
    }
    /// At a seccomp stop: the data of the filter's SECCOMP_RET_TRACE.
    pub fn ret_data(&self) -> u32 {
        self.ret_data
    }
}

const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
const PTRACE_INTERRUPT: libc::c_uint = 0x4207;
const PTRACE_LISTEN: libc::c_uint = 0x4208;
const PTRACE_SECCOMP_GET_FILTER: libc::c_uint = 0x420c;

pub const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_EXITKILL;

fn request(req: libc::c_uint, pid: libc::pid_t, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: callers pass either 0 or a pointer to a live, correctly sized buffer as `data`, per request.
    let r = unsafe { libc::ptrace(req, pid, addr, data) };
    if r == -1 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

/// Swallows ESRCH: the tracee is gone and waitpid will say so.
fn tolerate_gone(r: io::Result<libc::c_long>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// How many times [`wait_any`] polls before it sleeps.
const POLLS_BEFORE_SLEEP: usize = 200;

/// The next stop or exit of any tracee, or `None` when no tracee is left (ECHILD).
///
/// Polls briefly before blocking: a tracee usually stops again within microseconds, and a tracer that went
/// to sleep needs a cross-CPU wake-up for every stop, which on virtual machines costs more than the stop
/// itself (measured: a 200k-syscall loop took 9.0 s sleeping, 3.4 s polling first).
pub fn wait_any() -> io::Result<Option<(libc::pid_t, i32)>> {
    let mut status = 0;
    for _ in 0..POLLS_BEFORE_SLEEP {
        // SAFETY: waitpid writes the status into a live local.
        match unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG) } {
            0 => std::hint::spin_loop(),
            pid => return wait_result(pid, status),
        }
    }
    // SAFETY: as above.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
    wait_result(pid, status)
}

fn wait_result(pid: libc::pid_t, status: i32) -> io::Result<Option<(libc::pid_t, i32)>> {
    if pid > 0 {
        return Ok(Some((pid, status)));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ECHILD) { Ok(None) } else { Err(err) }
}

pub fn seize(pid: libc::pid_t) -> io::Result<()> {
    request(libc::PTRACE_SEIZE, pid, 0, OPTIONS as usize).map(drop)
}

/// Resumes, delivering `signal` (0 for none), and stops again only at the next seccomp or event stop.
pub fn cont(pid: libc::pid_t, signal: i32) -> io::Result<()> {
    tolerate_gone(request(libc::PTRACE_CONT, pid, 0, signal as usize))
}

/// Resumes and stops at the exit of the syscall in progress too.
pub fn syscall(pid: libc::pid_t, signal: i32) -> io::Result<()> {
    tolerate_gone(request(libc::PTRACE_SYSCALL, pid, 0, signal as usize))
}

/// Makes the syscall a tracee is stopped in (at its seccomp or entry stop) fail with `errno` without running
/// it: the number -1 tells the kernel to skip it, and the result register holds the error.
#[cfg(target_arch = "x86_64")]
pub fn fail_syscall(pid: libc::pid_t, errno: u32) -> io::Result<()> {
    let mut regs = match registers(pid) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
        other => other?,
    };
    regs.orig_rax = u64::MAX;
    regs.rax = (-i64::from(errno)) as u64;
    tolerate_gone(request(libc::PTRACE_SETREGS, pid, 0, &raw const regs as usize))
}

#[cfg(not(target_arch = "x86_64"))]
pub fn fail_syscall(_pid: libc::pid_t, _errno: u32) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "failing a call from the tracer is implemented for x86_64 only"))
}

/// Stops a running tracee (PTRACE_EVENT_STOP), so that it can be resumed in another way; a call it was
/// blocked in is restarted.
pub fn interrupt(pid: libc::pid_t) -> io::Result<()> {
    tolerate_gone(request(PTRACE_INTERRUPT, pid, 0, 0))
}

/// Leaves a tracee in group-stop while letting the tracer see its next event (SIGCONT).
pub fn listen(pid: libc::pid_t) -> io::Result<()> {
    tolerate_gone(request(PTRACE_LISTEN, pid, 0, 0))
}

/// The classic BPF programs of every seccomp filter the tracee runs under, the most recently loaded first.
/// Needs CAP_SYS_ADMIN and a tracer that runs under no filter itself (EACCES otherwise), and a kernel built
/// with CONFIG_CHECKPOINT_RESTORE (EINVAL otherwise).
pub fn seccomp_filters(pid: libc::pid_t) -> io::Result<Vec<Vec<libc::sock_filter>>> {
    let mut filters = Vec::new();
    for index in 0.. {
        let len = match request(PTRACE_SECCOMP_GET_FILTER, pid, index, 0) {
            Ok(len) => len as usize,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
            Err(e) => return Err(e),
        };
        let mut program = vec![libc::sock_filter { code: 0, jt: 0, jf: 0, k: 0 }; len];
        let got = request(PTRACE_SECCOMP_GET_FILTER, pid, index, program.as_mut_ptr() as usize)? as usize;
        program.truncate(got);
        filters.push(program);
    }
    Ok(filters)
}

pub fn event_msg(pid: libc::pid_t) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    request(libc::PTRACE_GETEVENTMSG, pid, 0, &raw mut msg as usize)?;
    Ok(msg as u64)
}

/// The syscall a tracee is stopped in: at a seccomp stop (`at` = [`OP_SECCOMP`]) or a syscall-exit stop
/// ([`OP_EXIT`]). PTRACE_GET_SYSCALL_INFO (Linux 5.3) answers directly; where the request is unknown (older
/// kernels such as RHEL 8's 4.18, gVisor) the same facts are read from the registers, and `at` says which stop
/// it is.
pub fn syscall_info(pid: libc::pid_t, at: u8) -> io::Result<SyscallInfo> {
    if !registers_only() {
        let mut info = std::mem::MaybeUninit::<SyscallInfo>::zeroed();
        match request(PTRACE_GET_SYSCALL_INFO, pid, size_of::<SyscallInfo>(), info.as_mut_ptr() as usize) {
            // SAFETY: zero-initialised plain-old-data; the kernel filled at most size_of bytes.
            Ok(_) => return Ok(unsafe { info.assume_init() }),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => REGISTERS_ONLY.store(true, Ordering::Relaxed),
            Err(e) => return Err(e),
        }
    }
    let mut info = from_registers(pid, at)?;
    if at == OP_SECCOMP {
        info.ret_data = event_msg(pid)? as u32;
    }
    Ok(info)
}

/// Set once PTRACE_GET_SYSCALL_INFO turned out to be unknown here, or by `TRAPLINE_PTRACE_REGISTERS=1` (which
/// lets the tests run the register path on any kernel).
static REGISTERS_ONLY: AtomicBool = AtomicBool::new(false);

fn registers_only() -> bool {
    static FORCED: std::sync::Once = std::sync::Once::new();
    FORCED.call_once(|| {
        if std::env::var_os("TRAPLINE_PTRACE_REGISTERS").is_some_and(|v| v == "1") {
            REGISTERS_ONLY.store(true, Ordering::Relaxed);
        }
    });
    REGISTERS_ONLY.load(Ordering::Relaxed)
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// The code segment selector of 32-bit user code on x86_64 Linux (`__USER32_CS`).
const USER32_CS: u64 = 0x23;

/// PTRACE_GET_SYSCALL_INFO's answer, rebuilt from the registers (x86_64: `orig_rax` holds the number, the
/// arguments are in the syscall ABI's registers, `rax` the result at exit). The ABI is the one the call used:
/// 32-bit code (`cs`), or `int $0x80` from 64-bit code (the two bytes before `rip`), is i386's.
/// A stopped tracee's general registers.
#[cfg(target_arch = "x86_64")]
fn registers(pid: libc::pid_t) -> io::Result<libc::user_regs_struct> {
    let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::zeroed();
    request(libc::PTRACE_GETREGS, pid, 0, regs.as_mut_ptr() as usize)?;
    // SAFETY: zero-initialised plain-old-data, filled by the kernel on success.
    Ok(unsafe { regs.assume_init() })
}

#[cfg(target_arch = "x86_64")]
fn from_registers(pid: libc::pid_t, at: u8) -> io::Result<SyscallInfo> {
    let r = registers(pid)?;
    let i386 = r.cs == USER32_CS || (at == OP_SECCOMP && int80_before(pid, r.rip));
    let mut data = [0u64; 7];
    if at == OP_EXIT {
        let rval = if i386 { r.rax as u32 as i32 as i64 } else { r.rax as i64 };
        data[0] = rval as u64;
        data[1] = u64::from((-4095..0).contains(&rval));
    } else if i386 {
        let low = |v: u64| v & 0xffff_ffff;
        data = [low(r.orig_rax), low(r.rbx), low(r.rcx), low(r.rdx), low(r.rsi), low(r.rdi), low(r.rbp)];
    } else {
        data = [r.orig_rax, r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9];
    }
    Ok(SyscallInfo {
        op: at,
        _pad: [0; 3],
        arch: if i386 { AUDIT_ARCH_I386 } else { AUDIT_ARCH_X86_64 },
        instruction_pointer: r.rip,
        stack_pointer: r.rsp,
        data,
        // Only a seccomp stop has it; `syscall_info` reads it from the event message there.
        ret_data: 0,
        _pad2: 0,
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn from_registers(_pid: libc::pid_t, _at: u8) -> io::Result<SyscallInfo> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "PTRACE_GET_SYSCALL_INFO (Linux 5.3) is needed on this architecture",
    ))
}

/// At a signal-delivery-stop: the syscall the signal interrupted, if the kernel may enter it again (its result
/// so far is -ERESTARTSYS, -ERESTARTNOINTR or -ERESTARTNOHAND): its number, and the address after its
/// instruction, as its next seccomp stop will report them. Read from the registers (x86_64 only: elsewhere
/// `None`, and restarted calls count as calls).
pub fn interrupted_call(pid: libc::pid_t) -> Option<(u64, u64)> {
    #[cfg(target_arch = "x86_64")]
    {
        let r = registers(pid).ok()?;
        let in_syscall = r.orig_rax as i64 >= 0;
        let errno = (r.rax as i64).checked_neg().and_then(|e| i32::try_from(e).ok());
        let restartable = errno.is_some_and(|e| crate::observe::restart::RESTART_ERRNOS.contains(&e));
        (in_syscall && restartable).then_some((r.orig_rax, r.rip))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = pid;
        None
    }
}

/// Whether the instruction that entered the kernel, ending at `rip`, is `int $0x80` (CD 80).
#[cfg(target_arch = "x86_64")]
fn int80_before(pid: libc::pid_t, rip: u64) -> bool {
    // PTRACE_PEEKTEXT returns the word; -1 is also a valid word, so errno tells failure apart.
    // SAFETY: errno is thread-local; the request passes no memory.
    unsafe { *libc::__errno_location() = 0 };
    let word = unsafe { libc::ptrace(libc::PTRACE_PEEKTEXT, pid, rip.wrapping_sub(2) as usize, 0) };
    // SAFETY: as above.
    let failed = word == -1 && unsafe { *libc::__errno_location() } != 0;
    !failed && (word as u64).to_le_bytes()[..2] == [0xcd, 0x80]
}

/// The frame pointer (rbp) of a stopped tracee, which the call-site unwinder needs for code built with frame
/// pointers; 0 where it is not available.
pub fn frame_pointer(pid: libc::pid_t) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if let Ok(r) = registers(pid) {
            return r.rbp;
        }
    }
    let _ = pid;
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn syscall_info_has_the_kernel_size() {
        // 24 bytes of header, then the largest union member (seccomp: nr, args[6], ret_data, padded).
        assert_eq!(size_of::<super::SyscallInfo>(), 88);
    }
}
