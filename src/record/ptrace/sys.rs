//! Raw ptrace requests. Every request is made from the tracing thread; ESRCH (the tracee died under us, e.g.
//! SIGKILL from elsewhere) is not an error here: waitpid reports the death next.

use std::io;

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
    _ret_data: u32,
    _pad2: u32,
}

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
}

const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
const PTRACE_LISTEN: libc::c_uint = 0x4208;

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

/// Leaves a tracee in group-stop while letting the tracer see its next event (SIGCONT).
pub fn listen(pid: libc::pid_t) -> io::Result<()> {
    tolerate_gone(request(PTRACE_LISTEN, pid, 0, 0))
}

pub fn event_msg(pid: libc::pid_t) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    request(libc::PTRACE_GETEVENTMSG, pid, 0, &raw mut msg as usize)?;
    Ok(msg as u64)
}

pub fn syscall_info(pid: libc::pid_t) -> io::Result<SyscallInfo> {
    let mut info = std::mem::MaybeUninit::<SyscallInfo>::zeroed();
    request(PTRACE_GET_SYSCALL_INFO, pid, size_of::<SyscallInfo>(), info.as_mut_ptr() as usize)?;
    // SAFETY: zero-initialised plain-old-data; the kernel filled at most size_of bytes.
    Ok(unsafe { info.assume_init() })
}

/// The frame pointer (rbp) of a stopped tracee, which the call-site unwinder needs for code built with frame
/// pointers; 0 where it is not available.
pub fn frame_pointer(pid: libc::pid_t) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::zeroed();
        if request(libc::PTRACE_GETREGS, pid, 0, regs.as_mut_ptr() as usize).is_ok() {
            // SAFETY: zero-initialised plain-old-data, filled by the kernel on success.
            return unsafe { regs.assume_init() }.rbp;
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
