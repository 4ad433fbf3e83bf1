//! The seccomp user-notification backend: no ptrace at all. The launcher installs a filter that notifies every
//! syscall and trapline, as supervisor, answers each notification with "continue".
//!
//! It sees the same calls as the ptrace backend, but not their results (the answer is given before the call
//! runs), and no registers beyond the instruction pointer. Useful where ptrace is not allowed but seccomp is,
//! and the base of recording containers through a runtime's `listenerPath`.

pub(crate) mod sys;
mod threads;

use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::launcher::{self, ChildFailure, Launch};
use super::procfs::proc_exe;
use super::symbolize::Symbolizer;
use super::{Backend, RecordError, RunEnd, memory, signals};
use crate::decode::arch::Arch;
use crate::decode::flags::{CLONE_FILES, CLONE_THREAD};
use crate::decode::rows::Role;
use crate::decode::table::SyscallTables;
use crate::observe::classify::{Call, CallSource, Classified, classify, spawn_flags};
use crate::observe::exit_of;
use crate::observe::fdtable::{Fd, FdTable, describe};
use crate::trace::EventSink;
use crate::trace::aggregate::ExeId;
use crate::trace::model::{CallSite, Exit, Filters, Text};
use threads::Threads;

/// How long the supervisor waits for the workload's process to install its filter.
const LISTENER_TIMEOUT: Duration = Duration::from_secs(10);

pub struct NotifyBackend {
    tables: Rc<SyscallTables>,
    call_sites: bool,
}

impl NotifyBackend {
    pub fn new(tables: Rc<SyscallTables>, call_sites: bool) -> NotifyBackend {
        NotifyBackend { tables, call_sites }
    }
}

impl Backend for NotifyBackend {
    fn run(self, launch: &Launch, sink: &mut dyn EventSink) -> Result<RunEnd, RecordError> {
        // A filter trapline runs under answers before the notifying one: the calls it denies never reach here.
        let inherited = super::procfs::under_seccomp_filter();
        let child = launcher::spawn(launch, &sys::NOTIFY_ALL, true)?;
        child.release()?;
        signals::forward_to(child.pid);
        let mut root_exit = None;
        let listener = take_listener(child.pid, &mut root_exit)?;
        let Some(listener) = listener else {
            return Err(match child.failure() {
                Some(ChildFailure::Exec(error)) => RecordError::Exec { program: launch.program.clone(), error },
                Some(ChildFailure::Filter(error)) => RecordError::Filter(error),
                None => RecordError::Wait(std::io::Error::other("the workload ended before it could be supervised")),
            });
        };
        let path = std::fs::canonicalize(&launch.path).unwrap_or_else(|_| launch.path.clone());
        let launcher = Launcher { pid: child.pid, exe: sink.intern_exe(Text::from_os(path.as_os_str())) };
        let mut supervisor = Supervisor::new(&self.tables, sink, &listener, Some(launcher), self.call_sites, true);
        let served = supervisor.serve(|| {
            if root_exit.is_none() {
                root_exit = reap(child.pid, libc::WNOHANG);
                if root_exit.is_some() {
                    signals::forget_target();
                }
            }
        });
        signals::stop();
        served.map_err(RecordError::Wait)?;
        let exit = root_exit.or_else(|| reap(child.pid, 0)).unwrap_or_else(|| exit_of(None, None));
        if let Some(ChildFailure::Exec(error)) = child.failure() {
            return Err(RecordError::Exec { program: launch.program.clone(), error });
        }
        let (processes, threads) = supervisor.counts();
        let filters = inherited.then_some(Filters { inherited, loaded: 0, attributed: false, seen: false });
        Ok(RunEnd { exit, processes, threads, filters, lost: None })
    }
}

/// Takes the listener fd from the workload's process once it has installed its filter: it shows in
/// /proc/PID/fd as `anon_inode:seccomp notify`. `None` when the process ended first (the launcher failed).
fn take_listener(pid: libc::pid_t, root_exit: &mut Option<Exit>) -> Result<Option<OwnedFd>, RecordError> {
    let deadline = Instant::now() + LISTENER_TIMEOUT;
    loop {
        if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            for entry in entries.flatten() {
                let is_listener = std::fs::read_link(entry.path())
                    .is_ok_and(|target| target.as_os_str() == "anon_inode:seccomp notify");
                let fd = entry.file_name().to_str().and_then(|n| n.parse().ok());
                if let (true, Some(fd)) = (is_listener, fd) {
                    return sys::take_fd(pid, fd).map(Some).map_err(|error| RecordError::PtraceDenied {
                        program: std::ffi::OsString::from(format!("process {pid}")),
                        error,
                    });
                }
            }
        }
        if let Some(exit) = reap(pid, libc::WNOHANG) {
            *root_exit = Some(exit);
            return Ok(None);
        }
        if Instant::now() > deadline {
            return Err(RecordError::Wait(std::io::Error::other("the workload never installed its filter")));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The workload's first process, if it has ended (`options` WNOHANG) or once it does (0).
fn reap(pid: libc::pid_t, options: libc::c_int) -> Option<Exit> {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a live local.
    if unsafe { libc::waitpid(pid, &mut status, options) } != pid {
        return None;
    }
    Some(if libc::WIFSIGNALED(status) {
        exit_of(None, Some(libc::WTERMSIG(status)))
    } else {
        exit_of(Some(libc::WEXITSTATUS(status)), None)
    })
}

/// Answers the notifications of one listener and records each call, until no task holds the filter.
pub struct Supervisor<'a> {
    tables: &'a SyscallTables,
    sink: &'a mut dyn EventSink,
    listener: &'a OwnedFd,
    /// trapline's own launcher, whose calls before the workload's execve (closing its copy of the listener)
    /// are not the workload's; `None` for a listener handed over by a container runtime.
    launcher: Option<Launcher>,
    launched: bool,
    threads: Threads,
    symbolizer: Option<Symbolizer>,
}

/// trapline's launcher: the process that execs the workload.
#[derive(Clone, Copy)]
pub struct Launcher {
    pub pid: libc::pid_t,
    /// The program it execs, to which its exec is charged (as the ptrace backend charges it).
    pub exe: ExeId,
}

impl<'a> Supervisor<'a> {
    /// `notifies_all`: the filter notifies every syscall (trapline's own launcher), so fds can be cached; a
    /// runtime's profile may let close run unseen.
    pub fn new(
        tables: &'a SyscallTables,
        sink: &'a mut dyn EventSink,
        listener: &'a OwnedFd,
        launcher: Option<Launcher>,
        call_sites: bool,
        notifies_all: bool,
    ) -> Supervisor<'a> {
        sys::sync_wake_up(listener);
        Supervisor {
            tables,
            sink,
            listener,
            launcher,
            launched: launcher.is_none(),
            threads: Threads::new(notifies_all),
            symbolizer: call_sites.then(Symbolizer::new),
        }
    }

    /// Serves notifications until the listener hangs up (every task that held the filter is gone), calling
    /// `between` after each wake-up (at least every 100 ms).
    pub fn serve(&mut self, mut between: impl FnMut()) -> std::io::Result<()> {
        loop {
            let (readable, hung_up) = match sys::wait(self.listener, 100) {
                Ok(state) => state,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
            };
            if readable {
                match sys::recv(self.listener) {
                    Ok(notif) => self.handle(&notif)?,
                    // The thread died between the wake-up and the read, or a signal interrupted us.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINTR)) => {}
                    Err(e) => return Err(e),
                }
            }
            between();
            self.threads.sweep();
            if hung_up && !readable {
                return Ok(());
            }
        }
    }

    /// Distinct processes and threads that made recorded calls.
    pub fn counts(&self) -> (u64, u64) {
        self.threads.counts()
    }

    fn handle(&mut self, notif: &sys::Notif) -> std::io::Result<()> {
        let tid = notif.pid as i32;
        let raw_nr = notif.data.nr as u32 as u64;
        if let Some(arch) = Arch::of_call(notif.data.arch, raw_nr) {
            let call = Call { arch, nr: arch.table_nr(raw_nr), args: notif.data.args };
            let execve = matches!(self.tables.get(arch, call.nr).name, Some("execve" | "execveat"));
            let from_launcher = self.launcher.filter(|l| l.pid == tid);
            if from_launcher.is_none() || self.launched || execve {
                // The launcher's own exec is charged to the program it starts; trapline made the call, so it has
                // no call site of the workload's.
                let launcher_exec = from_launcher.filter(|_| !self.launched).map(|l| l.exe);
                self.launched |= from_launcher.is_some();
                self.record(notif, tid, &call, execve, launcher_exec);
            }
        }
        sys::continue_call(self.listener, notif.id)
    }

    /// Classifies and records one call, unless the thread vanished before what was read could be trusted.
    fn record(&mut self, notif: &sys::Notif, tid: i32, call: &Call, execve: bool, launcher_exec: Option<ExeId>) {
        let (tgid, process) = self.threads.process_of(tid);
        let settled = process.settled();
        let mut source = ThreadSource { tid, fds: settled.then_some(&mut process.fds) };
        let Classified { key, raw_high, entry } = classify(self.tables, call, &mut source, self.sink);
        let args = &call.args;
        let mut shares_fds = false;
        if let Some(row) = entry.row {
            process.fds.forget_closed_by(row.role, args);
            if let Role::Spawn(how) = row.role {
                let flags = spawn_flags(how, args, &key);
                shares_fds = flags & CLONE_FILES != 0 && flags & CLONE_THREAD == 0;
            }
        }
        // What was read from /proc and the thread's memory belongs to this call only if the notification is
        // still pending: otherwise the thread died and its pid may be someone else's now.
        let valid = sys::id_valid(self.listener, notif.id);
        let exe = match process.exe.or(launcher_exec) {
            Some(exe) => exe,
            None if !valid => return,
            None => {
                let exe = self.sink.intern_exe(proc_exe(tid));
                if settled {
                    process.exe = Some(exe);
                }
                exe
            }
        };
        if shares_fds {
            self.threads.stop_caching_fds();
        }
        if execve {
            // The process is about to become another program (every thread of it): name it again after.
            self.threads.exec(tgid, tid);
        }
        if !valid {
            return;
        }
        let class = self.sink.call(key, tgid as u32, exe, raw_high);
        if let Some(symbolizer) = &mut self.symbolizer
            && launcher_exec.is_none()
            && self.sink.wants_site(class)
        {
            // A notification carries no stack pointer: the instruction is named, its caller is not.
            let site = symbolizer.locate(tid, notif.data.instruction_pointer).map(|at| CallSite { at, caller: None });
            self.sink.set_site(class, site);
        }
    }
}

/// A thread held in its notification, as a source of fds and memory for classification. fds come from its
/// process's table while one can be trusted (every close seen, no exec under way), else from /proc.
struct ThreadSource<'t> {
    tid: i32,
    fds: Option<&'t mut FdTable>,
}

impl CallSource for ThreadSource<'_> {
    fn fd(&mut self, fd: i32, sink: &mut dyn EventSink) -> Fd {
        match &mut self.fds {
            Some(table) => table.lookup(self.tid, fd, sink),
            None => Fd::intern(describe(self.tid, fd), sink),
        }
    }

    fn read_u32(&mut self, addr: u64) -> std::io::Result<u32> {
        memory::read_u32(self.tid, addr)
    }

    fn read_u64(&mut self, addr: u64) -> std::io::Result<u64> {
        memory::read_u64(self.tid, addr)
    }
}
