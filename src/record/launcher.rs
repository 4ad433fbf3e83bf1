//! Starting the workload: find the program as a shell would, fork, and let the child exec only once the
//! tracer is attached and the child has installed the recording filter.
//!
//! Everything the child needs (paths, argv, the BPF program) is built before `fork`: between fork and exec
//! the child only makes raw syscalls, because the parent may be multi-threaded and nothing that allocates or
//! takes a lock is safe there.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::RecordError;

/// A resolved command, ready for `execv`.
pub struct Launch {
    /// What the user typed as the program, for messages.
    pub program: OsString,
    /// The file to execute.
    pub path: PathBuf,
    path_c: CString,
    argv_c: Vec<CString>,
}

impl Launch {
    /// Resolves `argv[0]` the way a shell does: a name with a slash is used as is, anything else is looked up
    /// in `$PATH`. A missing program is exit 127 with the shell's wording; a non-executable one is 126.
    pub fn resolve(argv: &[OsString]) -> Result<Launch, RecordError> {
        let program = argv.first().cloned().ok_or(RecordError::NoCommand)?;
        let path = find_program(&program)?;
        let c = |s: &OsStr| CString::new(s.as_bytes()).map_err(|_| RecordError::NulInArgument);
        Ok(Launch {
            path_c: c(path.as_os_str())?,
            argv_c: argv.iter().map(|a| c(a)).collect::<Result<_, _>>()?,
            program,
            path,
        })
    }
}

fn find_program(program: &OsStr) -> Result<PathBuf, RecordError> {
    let not_found = || RecordError::CommandNotFound { program: program.to_os_string() };
    if program.as_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return match path.metadata() {
            Ok(m) if m.is_dir() => {
                Err(RecordError::NotExecutable { program: program.to_os_string(), reason: "Is a directory" })
            }
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                Err(RecordError::NotExecutable { program: program.to_os_string(), reason: "Permission denied" })
            }
            Ok(_) => Ok(path),
            Err(_) => Err(RecordError::NoSuchFile { program: program.to_os_string() }),
        };
    }
    if program.is_empty() {
        return Err(not_found());
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| if dir.as_os_str().is_empty() { Path::new(".").join(program) } else { dir.join(program) })
        .find(|candidate| candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .ok_or_else(not_found)
}

/// The recording filter: every syscall, from any architecture, stops in the tracer (SECCOMP_RET_TRACE),
/// once, at entry.
pub const TRACE_ALL: [libc::sock_filter; 1] =
    [libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: libc::SECCOMP_RET_TRACE }];

/// seccomp(2): return a user-notification listener fd for the filter.
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// The kernel's limit on one filter (BPF_MAXINSNS): checked here so a long profile gets a clear error rather
/// than EINVAL from seccomp(2) in the child.
const BPF_MAXINSNS: u16 = 4096;

/// A forked child that waits for [`Started::release`] before it installs the filter and execs.
pub struct Started {
    pub pid: libc::pid_t,
    go: OwnedFd,
    exec_error: OwnedFd,
}

/// Forks the workload's process. It blocks until released, so a tracer can attach first, then installs
/// `filter` (a ready BPF program; none when it is empty) and execs.
pub fn spawn(launch: &Launch, filter: &[libc::sock_filter], listener: bool) -> Result<Started, RecordError> {
    let len = u16::try_from(filter.len())
        .ok()
        .filter(|n| *n <= BPF_MAXINSNS)
        .ok_or(RecordError::FilterTooLong(filter.len()))?;
    let go = pipe()?;
    let exec_error = pipe()?;
    let mut argv: Vec<*const libc::c_char> = launch.argv_c.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let prog = libc::sock_fprog { len, filter: filter.as_ptr() as *mut _ };
    let flags = if listener { SECCOMP_FILTER_FLAG_NEW_LISTENER } else { 0 };

    // SAFETY: the child only calls async-signal-safe syscalls on memory prepared above, and leaves by exec or
    // _exit; the parent continues normally.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(RecordError::Spawn(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the child of fork; every pointer refers to memory built before the fork and still mapped.
        unsafe {
            libc::close(go.1.as_raw_fd());
            libc::close(exec_error.0.as_raw_fd());
            child(go.0.as_raw_fd(), exec_error.1.as_raw_fd(), &prog, flags, launch.path_c.as_ptr(), argv.as_ptr())
        }
    }
    let (go_read, go_write) = go;
    let (error_read, error_write) = exec_error;
    drop(go_read);
    drop(error_write);
    Ok(Started { pid, go: go_write, exec_error: error_read })
}

/// The child between fork and exec.
///
/// SAFETY (for callers): must run in a freshly forked child; the pointers must stay valid until exec.
unsafe fn child(
    go: libc::c_int,
    exec_error: libc::c_int,
    prog: &libc::sock_fprog,
    flags: libc::c_ulong,
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
) -> ! {
    // SAFETY: raw syscalls on fds and memory owned by this process; see the function's contract.
    unsafe {
        // Rust ignores SIGPIPE in its own process; the workload must get the default back, as from a shell.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut byte = 0u8;
        // Wait until the tracer has seized us: a RET_TRACE filter without a tracer fails every syscall.
        if libc::read(go, (&raw mut byte).cast(), 1) != 1 {
            libc::_exit(127);
        }
        let install = |p: &libc::sock_fprog| {
            libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, p as *const _)
        };
        // An empty program is no filter: the workload runs as it would without trapline (the eBPF backend).
        let mut installed = if prog.len == 0 { 0 } else { install(prog) };
        if installed < 0 {
            // Without CAP_SYS_ADMIN a filter needs no_new_privs, which also stops setuid programs from gaining
            // privileges: that is the price of tracing as an unprivileged user.
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            installed = install(prog);
            if installed < 0 {
                report_errno(exec_error, 1);
            }
        }
        if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
            // The supervisor takes its own copy of the listener (pidfd_getfd) before it answers this close, the
            // first notified call: only then does the child let go of it.
            libc::close(installed as libc::c_int);
        }
        libc::execv(path, argv);
        report_errno(exec_error, 0);
    }
}

/// Tells the parent which step failed (0: exec, 1: the filter) and with which errno, then exits like a shell
/// that could not run the program.
///
/// SAFETY (for callers): only in the forked child.
unsafe fn report_errno(fd: libc::c_int, step: u8) -> ! {
    // SAFETY: errno location and write/_exit are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let mut msg = [0u8; 5];
        msg[0] = step;
        msg[1..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(fd, msg.as_ptr().cast(), msg.len());
        libc::_exit(if errno == libc::ENOENT { 127 } else { 126 });
    }
}

/// Why the child never reached the workload, if it did not.
pub enum ChildFailure {
    Exec(std::io::Error),
    Filter(std::io::Error),
}

impl Started {
    /// Lets the child go on to install the filter and exec.
    pub fn release(&self) -> Result<(), RecordError> {
        // SAFETY: writing one byte from a live stack variable to a pipe we own.
        let n = unsafe { libc::write(self.go.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        if n == 1 { Ok(()) } else { Err(RecordError::Spawn(std::io::Error::last_os_error())) }
    }

    /// After the child has exited: whether it failed before running the workload. The pipe closes on a
    /// successful exec (O_CLOEXEC), so an empty read means the workload ran.
    pub fn failure(&self) -> Option<ChildFailure> {
        let mut msg = [0u8; 5];
        // SAFETY: reading into a live stack buffer of the given length.
        let n = unsafe { libc::read(self.exec_error.as_raw_fd(), msg.as_mut_ptr().cast(), msg.len()) };
        if n != 5 {
            return None;
        }
        let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]));
        Some(if msg[0] == 1 { ChildFailure::Filter(err) } else { ChildFailure::Exec(err) })
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), RecordError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(RecordError::Spawn(std::io::Error::last_os_error()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
