//! The ptrace backend: the workload runs under a seccomp filter that returns SECCOMP_RET_TRACE for every
//! syscall, so each call costs one stop (entry), plus a second (exit) only for calls whose result is wanted.
//!
//! Tasks are seized with PTRACE_SEIZE and followed through fork, vfork, clone, clone3 and exec with the
//! PTRACE_O_TRACE* options; PTRACE_O_EXITKILL makes the workload die with trapline rather than run on
//! untraced. Group-stops are kept with PTRACE_LISTEN so job control behaves as without a tracer.

mod filter_loads;
mod stop;
mod sys;

use std::rc::Rc;

use rustc_hash::FxHashMap;

use super::launcher::{self, ChildFailure, Launch};
use super::memory;
use super::procfs::{self, proc_exe, proc_ppid, proc_tgid};
use super::symbolize::Symbolizer;
use super::{Backend, RecordError, RunEnd, signals};
use crate::decode::arch::Arch;
use crate::decode::flags::{CLONE_FILES, CLONE_THREAD};
use crate::decode::rows::Role;
use crate::decode::seccomp::{self, SeccompData};
use crate::decode::table::SyscallTables;
use crate::observe::classify::{Call, CallSource, Classified, classify, spawn_flags};
use crate::observe::exit_of;
use crate::observe::fdtable::{Fd, FdTable, SharedFdTable};
use crate::observe::restart::{self, Interrupted, internal_errno, is_sigreturn};
use crate::profile::compile::reported_errno;
use crate::trace::EventSink;
use crate::trace::aggregate::{ClassId, ExeId};
use crate::trace::model::{CallSite, Filters, Text};
use filter_loads::{loads_filter, trapping_filter_loads};
use stop::Stop;

pub struct PtraceBackend {
    tables: Rc<SyscallTables>,
    /// The filter the workload runs under; `None` traps every syscall.
    filter: Option<Vec<libc::sock_filter>>,
    /// What `filter` traps before a container's filter is loaded too (see `anchored_at_filter_load`): the
    /// filter that says which calls are the recording's.
    judge: Option<Vec<libc::sock_filter>>,
    /// See [`PtraceBackend::anchored_at_filter_load`].
    anchored: bool,
    /// See [`PtraceBackend::first_filter_is_permissive`].
    permissive_first: bool,
    /// Resolve each class's call site (library, function, caller).
    call_sites: bool,
    /// See [`PtraceBackend::enforcing`].
    enforcing: bool,
}

impl PtraceBackend {
    /// Traps and records every syscall.
    pub fn new(tables: Rc<SyscallTables>) -> PtraceBackend {
        PtraceBackend {
            tables,
            filter: None,
            judge: None,
            anchored: false,
            permissive_first: false,
            call_sites: true,
            enforcing: false,
        }
    }

    /// Skips call-site attribution (a little faster on workloads with very many distinct calls).
    pub fn without_call_sites(mut self) -> PtraceBackend {
        self.call_sites = false;
        self
    }

    /// Keeps only what each process does from the moment it, or an ancestor, loaded a seccomp filter: what
    /// a container does under the filter its runtime loads, and nothing of the runtime's setup.
    pub fn anchored_at_filter_load(mut self) -> PtraceBackend {
        self.anchored = true;
        // The load is where the recording starts: it must stop here even where a `--known` profile allows it.
        if let Some(filter) = self.filter.take() {
            self.filter = Some(trapping_filter_loads(&filter));
            self.judge = Some(filter);
        }
        self
    }

    /// With [`PtraceBackend::anchored_at_filter_load`]: the first filter the workload loads is the permissive one
    /// trapline gave a bundle without a seccomp section. It allows every call but `reboot`, so trapline's own
    /// filter, whose SECCOMP_RET_TRACE outranks its ALLOW, still stops at every call after it: the tasks need not
    /// be followed through it at their entry stops, nor the filter read back (which needs CAP_SYS_ADMIN, so a
    /// rootless recording could not attribute its denials). The one cost: a `reboot` fails with EPERM unseen,
    /// as it does in any container without CAP_SYS_BOOT.
    pub fn first_filter_is_permissive(mut self) -> PtraceBackend {
        self.permissive_first = true;
        self
    }

    /// Enforces a profile compiled with [`Mode::Report`](crate::profile::compile::Mode::Report): each call
    /// that reaches the tracer is a denial, recorded (and marked denied) and then failed with the profile's
    /// errno. Allowed calls never stop.
    pub fn enforcing(mut self) -> PtraceBackend {
        self.enforcing = true;
        self
    }

    /// Records only what `filter` traps (SECCOMP_RET_TRACE); everything else runs untraced, at native speed.
    pub fn with_filter(tables: Rc<SyscallTables>, filter: Vec<libc::sock_filter>) -> PtraceBackend {
        PtraceBackend { filter: Some(filter), ..PtraceBackend::new(tables) }
    }
}

impl Backend for PtraceBackend {
    fn run(self, launch: &Launch, sink: &mut dyn EventSink) -> Result<RunEnd, RecordError> {
        let traps_all = self.filter.is_none();
        let loaded = self.filter.as_deref().unwrap_or(&launcher::TRACE_ALL);
        let own_filter = self.judge.as_deref().unwrap_or(loaded);
        let inherited = procfs::under_seccomp_filter();
        let child = launcher::spawn(launch, loaded, false)?;
        if let Err(error) = sys::seize(child.pid) {
            // SAFETY: killing and reaping our own child, which is blocked waiting to be released.
            unsafe {
                libc::kill(child.pid, libc::SIGKILL);
                libc::waitpid(child.pid, std::ptr::null_mut(), 0);
            }
            return Err(RecordError::PtraceDenied { program: launch.program.clone(), error });
        }
        // Until it execs, the child is the launcher; its first call (execve) is charged to what it becomes.
        let path = std::fs::canonicalize(&launch.path).unwrap_or_else(|_| launch.path.clone());
        let exe = sink.intern_exe(Text::from_os(path.as_os_str()));
        let mut tracer = Tracer {
            tables: &self.tables,
            sink,
            tasks: FxHashMap::default(),
            root: child.pid,
            root_exit: None,
            processes: 1,
            threads: 1,
            traps_all,
            anchored: self.anchored,
            permissive_first: self.permissive_first,
            symbolizer: self.call_sites.then(Symbolizer::new),
            launching: true,
            gone_early: Default::default(),
            own_filter,
            enforcing: self.enforcing,
            filters: Filters { inherited, loaded: 0, attributed: true, seen: true },
        };
        let mut first = Task::new(child.pid, FdTable::shared(traps_all), exe, !self.anchored);
        // Under a filter of trapline's own, the workload is from its first call.
        first.through = inherited;
        tracer.tasks.insert(child.pid, first);
        child.release()?;
        signals::forward_to(child.pid);
        let traced = tracer.trace_until_all_gone();
        signals::stop();
        traced?;

        match child.failure() {
            Some(ChildFailure::Exec(error)) => Err(RecordError::Exec { program: launch.program.clone(), error }),
            Some(ChildFailure::Filter(error)) => Err(RecordError::Filter(error)),
            None => Ok(RunEnd {
                exit: tracer.root_exit.unwrap_or_else(|| exit_of(None, None)),
                processes: tracer.processes,
                threads: tracer.threads,
                filters: (tracer.filters.inherited || tracer.filters.loaded > 0).then_some(tracer.filters),
                lost: None,
            }),
        }
    }
}

struct Task {
    tgid: i32,
    /// Followed through a seccomp filter other than trapline's, which may deny calls before trapline's own
    /// filter could report them: the task stops at every syscall entry and exit (PTRACE_SYSCALL), and its calls
    /// are recorded at entry, with what its filters answer.
    through: bool,
    /// Between the entry stop of a call and its exit stop (followed through a filter).
    in_call: bool,
    /// The task's filters, read once after each load (shared with the tasks that inherited them).
    filters: Option<Rc<Vec<Vec<libc::sock_filter>>>>,
    fds: SharedFdTable,
    exe: ExeId,
    /// The class of the syscall in progress whose result we wait for.
    pending: Option<ClassId>,
    /// Flags of the fork/clone in progress, to set up the child when its event arrives.
    spawn_flags: Option<u64>,
    /// Whether this task's calls go into the trace (with `--container`, only after it loaded a filter).
    recording: bool,
    /// The seccomp filter load in progress (and whether it syncs every thread of the process): its success
    /// starts a container's recording, and from then on the task is followed through the filter.
    loading_filter: Option<bool>,
    /// Whether its parent's fork or clone event has been handled (or it has no traced parent).
    announced: bool,
    /// The call a signal interrupted, whose entry again is no new call (see `restart`).
    interrupted: Option<Interrupted>,
}

impl Task {
    fn new(tgid: i32, fds: SharedFdTable, exe: ExeId, recording: bool) -> Task {
        Task {
            tgid,
            through: false,
            in_call: false,
            filters: None,
            fds,
            exe,
            pending: None,
            spawn_flags: None,
            recording,
            loading_filter: None,
            announced: true,
            interrupted: None,
        }
    }

    /// Whether the task must stop again at the exit of the syscall in progress.
    fn awaits_exit(&self) -> bool {
        self.pending.is_some() || self.loading_filter.is_some() || self.interrupted.is_some_and(|i| i.awaits_exit())
    }
}

/// A stopped task as a source of fds and memory for classification.
struct TaskSource<'t> {
    pid: i32,
    fds: &'t SharedFdTable,
}

impl CallSource for TaskSource<'_> {
    fn fd(&mut self, fd: i32, sink: &mut dyn EventSink) -> Fd {
        self.fds.borrow_mut().lookup(self.pid, fd, sink)
    }

    fn read_u32(&mut self, addr: u64) -> std::io::Result<u32> {
        memory::read_u32(self.pid, addr)
    }

    fn read_u64(&mut self, addr: u64) -> std::io::Result<u64> {
        memory::read_u64(self.pid, addr)
    }
}

struct Tracer<'a> {
    tables: &'a SyscallTables,
    sink: &'a mut dyn EventSink,
    tasks: FxHashMap<i32, Task>,
    root: i32,
    root_exit: Option<crate::trace::model::Exit>,
    processes: u64,
    threads: u64,
    /// Whether every syscall stops here; if not, fd tables cannot be cached and clone flags are not seen.
    traps_all: bool,
    /// Record a task only once it (or its ancestor) has loaded a seccomp filter: a container under its runtime.
    anchored: bool,
    /// The next filter load is trapline's permissive filter (see [`PtraceBackend::first_filter_is_permissive`]).
    permissive_first: bool,
    /// Resolves where each class was first called from; `None` when call sites are not wanted.
    symbolizer: Option<Symbolizer>,
    /// The first task is still trapline's launcher (until its exec): its calls have no call site of the
    /// workload's, only trapline's own.
    launching: bool,
    /// Tasks that ended before their parent's fork or clone event was handled.
    gone_early: rustc_hash::FxHashSet<i32>,
    /// The filter trapline loaded into the workload, run again at the entry stops of tasks followed through
    /// another filter.
    own_filter: &'a [libc::sock_filter],
    /// The filters other than trapline's that the run was followed through.
    filters: Filters,
    /// Each call trapline's own filter traps is a denial to fail (see [`PtraceBackend::enforcing`]).
    enforcing: bool,
}

impl Tracer<'_> {
    /// Handles stops until no traced task is left (waitpid says ECHILD), like `strace -f`.
    fn trace_until_all_gone(&mut self) -> Result<(), RecordError> {
        loop {
            self.forward_pending();
            let (pid, status) = match sys::wait_any() {
                Ok(Some(stopped)) => stopped,
                Ok(None) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(RecordError::Wait(e)),
            };
            self.handle(pid, Stop::decode(status)).map_err(RecordError::Wait)?;
        }
    }

    fn handle(&mut self, pid: i32, stop: Stop) -> std::io::Result<()> {
        match stop {
            Stop::Exited { code } => self.gone(pid, exit_of(Some(code), None)),
            Stop::Killed { signal } => self.gone(pid, exit_of(None, Some(signal))),
            Stop::Seccomp => return self.on_seccomp(pid),
            Stop::Syscall => return self.on_syscall_stop(pid),
            Stop::Spawned => return self.on_spawn(pid),
            Stop::Exec => return self.on_exec(pid),
            Stop::Group { .. } => {
                // The threads of a stopping group that did not take the signal leave their blocked calls too.
                self.note_interrupted(pid, None);
                return sys::listen(pid);
            }
            Stop::Event => return self.on_event_stop(pid),
            Stop::Signal { signal } => {
                self.note_interrupted(pid, None);
                return self.resume(pid, signal);
            }
        }
        Ok(())
    }

    fn gone(&mut self, pid: i32, exit: crate::trace::model::Exit) {
        // A child can run its whole life before its parent's fork event is handled: remember it is gone.
        if self.tasks.remove(&pid).is_some_and(|task| !task.announced) {
            self.gone_early.insert(pid);
        }
        if pid == self.root {
            signals::forget_target();
            self.root_exit = Some(exit);
        }
    }

    /// A termination signal for the workload that arrived after its first process was gone: it goes to every
    /// process still traced (their pids cannot have been reused: none is reaped yet).
    fn forward_pending(&self) {
        if let Some(signal) = signals::take_pending() {
            let mut tgids: Vec<i32> = self.tasks.values().map(|t| t.tgid).collect();
            tgids.sort_unstable();
            tgids.dedup();
            for tgid in tgids {
                // SAFETY: signalling a traced, unreaped process.
                unsafe { libc::kill(tgid, signal) };
            }
        }
    }

    /// Resumes a task; it stops again at syscall exit only when a result is awaited.
    fn resume(&mut self, pid: i32, signal: i32) -> std::io::Result<()> {
        match self.tasks.get(&pid) {
            Some(task) if task.through || task.awaits_exit() => sys::syscall(pid, signal),
            _ => sys::cont(pid, signal),
        }
    }

    /// The task, described from /proc if this is the first we hear of it (a new task whose first stop came
    /// before its parent's event).
    fn adopt(&mut self, pid: i32) -> &mut Task {
        if !self.tasks.contains_key(&pid) {
            let tgid = proc_tgid(pid).unwrap_or(pid);
            let exe = self.sink.intern_exe(proc_exe(pid));
            self.threads += 1;
            self.processes += u64::from(tgid == pid);
            // A thread records as its process does, a new process as its parent (fixed up by the parent's event).
            let related = if tgid == pid { proc_ppid(pid) } else { Some(tgid) };
            let related = related.and_then(|r| self.tasks.get(&r));
            let recording = !self.anchored || related.is_some_and(|t| t.recording);
            let through = self.filters.inherited || related.is_some_and(|t| t.through);
            let mut task = Task::new(tgid, FdTable::shared(self.traps_all), exe, recording);
            task.through = through;
            // Its parent's event may still come; until then it is adopted, not announced.
            task.announced = false;
            self.tasks.insert(pid, task);
        }
        self.tasks.get_mut(&pid).expect("inserted above")
    }

    fn on_seccomp(&mut self, pid: i32) -> std::io::Result<()> {
        let info = match sys::syscall_info(pid, sys::OP_SECCOMP) {
            Ok(info) if info.op == sys::OP_SECCOMP => info,
            Ok(_) => return self.resume(pid, 0),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
            Err(e) => return Err(e),
        };
        // Enforcing, every stop here is a denial of the profile's: the call fails with its errno.
        let fail_with = self.enforcing.then(|| reported_errno(info.ret_data()));
        // A task followed through a filter was recorded at its entry stop; its seccomp stop stands in for an
        // entry stop only when it had none (the first call after it came to be followed).
        let through = match self.tasks.get_mut(&pid) {
            Some(task) if task.through && task.in_call => None,
            Some(task) if task.through => {
                task.in_call = true;
                Some(true)
            }
            _ => Some(false),
        };
        if let Some(through) = through {
            let verdict = fail_with.map(|errno| libc::SECCOMP_RET_ERRNO | errno);
            self.on_call(pid, &info, through, verdict)?;
        }
        if let Some(errno) = fail_with {
            sys::fail_syscall(pid, errno)?;
        }
        self.resume(pid, 0)
    }

    /// A syscall stop: the entry of a call of a task followed through a filter, or the exit of a call.
    fn on_syscall_stop(&mut self, pid: i32) -> std::io::Result<()> {
        if self.tasks.get(&pid).is_some_and(|t| t.through && !t.in_call) {
            let info = match sys::syscall_info(pid, sys::OP_ENTRY) {
                Ok(info) => info,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
                Err(e) => return Err(e),
            };
            if info.op == sys::OP_ENTRY {
                self.tasks.get_mut(&pid).expect("looked up above").in_call = true;
                self.on_call(pid, &info, true, None)?;
                return self.resume(pid, 0);
            }
        }
        if let Some(task) = self.tasks.get_mut(&pid) {
            task.in_call = false;
        }
        self.on_syscall_exit(pid)
    }

    /// What the task's filters answer for the call; `None` where they cannot be read.
    fn verdict(&mut self, pid: i32, data: &SeccompData) -> Option<u32> {
        let task = self.tasks.get_mut(&pid)?;
        if task.filters.is_none() {
            match sys::seccomp_filters(pid) {
                Ok(filters) => task.filters = Some(Rc::new(filters)),
                Err(_) => {
                    self.filters.attributed = false;
                    return None;
                }
            }
        }
        let filters = task.filters.as_ref()?;
        let enforcing = self.enforcing;
        let enforced = |answer: u32| match answer & libc::SECCOMP_RET_ACTION_FULL {
            // trapline's own filter, enforcing: the tracer fails the call.
            libc::SECCOMP_RET_TRACE if enforcing => libc::SECCOMP_RET_ERRNO | reported_errno(answer & 0xffff),
            _ => answer,
        };
        Some(seccomp::strongest(filters.iter().map(|filter| enforced(seccomp::run(filter, data)))))
    }

    /// One call, at its seccomp stop or (`through`) its entry stop; `verdict` is a denial already known. The
    /// caller resumes the task.
    fn on_call(
        &mut self,
        pid: i32,
        info: &sys::SyscallInfo,
        through: bool,
        verdict: Option<u32>,
    ) -> std::io::Result<()> {
        let Some(arch) = Arch::of_call(info.arch, info.nr()) else {
            return Ok(());
        };
        let call = Call { arch, nr: arch.table_nr(info.nr()), args: info.args() };
        self.adopt(pid);
        // At an entry stop, trapline's own filter has not run yet: what it would answer says whether the call
        // is one to record (with --known, the calls the profile allows are not), and the task's filters say
        // whether the kernel will deny it.
        let (traced, verdict) = match verdict {
            Some(known) => (true, Some(known)),
            None if through => {
                let data = SeccompData {
                    nr: info.nr() as u32,
                    arch: info.arch,
                    instruction_pointer: info.instruction_pointer,
                    args: info.args(),
                };
                let traced =
                    seccomp::run(self.own_filter, &data) & libc::SECCOMP_RET_ACTION_FULL == libc::SECCOMP_RET_TRACE;
                (traced, if traced { self.verdict(pid, &data).filter(|v| seccomp::denies(*v)) } else { None })
            }
            None => (true, None),
        };
        let task = self.tasks.get_mut(&pid).expect("adopted");
        if !traced {
            let name = self.tables.get(call.arch, call.nr).name;
            task.loading_filter = loads_filter(name, &call.args);
            return Ok(());
        }
        let Classified { key, raw_high, entry } =
            classify(self.tables, &call, &mut TaskSource { pid, fds: &task.fds }, self.sink);
        let args = call.args;

        if let Some(row) = entry.row {
            const CLOSE_RANGE_UNSHARE: u64 = 2;
            match row.role {
                // The task gets a table of its own (a copy) before anything in it is closed.
                Role::CloseRange if args[2] & CLOSE_RANGE_UNSHARE != 0 => task.fds = FdTable::copy(&task.fds),
                Role::Unshare if args[0] & CLONE_FILES != 0 => task.fds = FdTable::copy(&task.fds),
                Role::Spawn(how) => task.spawn_flags = Some(spawn_flags(how, &args, &key)),
                _ => {}
            }
            task.fds.borrow_mut().forget_closed_by(row.role, &args);
        }

        let sigreturn = entry.name.is_some_and(is_sigreturn);
        let restart = restart::entered(&mut task.interrupted, info.nr(), info.instruction_pointer, sigreturn);

        if let Some(class) = restart {
            // The kernel entering an interrupted call again: counted once already; its result is still wanted.
            task.pending = class;
        } else if task.recording {
            let class = self.sink.call(key, task.tgid as u32, task.exe, raw_high);
            // Followed through a filter, the task stops at every exit anyway: every result is free, and a
            // denied call's error is what the workload went on with.
            if entry.wants_result || through {
                task.pending = Some(class);
            }
            if let Some(symbolizer) = &mut self.symbolizer
                && !(self.launching && pid == self.root)
                && self.sink.wants_site(class)
            {
                // Once per class, while the thread is stopped: its registers and stack are as the call left them.
                let (ip, sp) = (info.instruction_pointer, info.stack_pointer);
                let site = if call.arch == Arch::native() {
                    symbolizer.call_site(pid, ip, sp, sys::frame_pointer(pid))
                } else {
                    symbolizer.locate(pid, ip).map(|at| CallSite { at, caller: None })
                };
                self.sink.set_site(class, site);
            }
            // After the call site: a sink reporting denials as they happen names where the call came from.
            if let Some(answer) = verdict {
                self.sink.denied(class, answer);
            }
        }
        let task = self.tasks.get_mut(&pid).expect("adopted");
        task.loading_filter = loads_filter(entry.name, &args);
        Ok(())
    }

    /// A signal is about to be delivered, or the task stops with its group: note the call this interrupted, if
    /// the kernel may enter it again.
    fn note_interrupted(&mut self, pid: i32, class: Option<ClassId>) {
        // Only when every call stops here: otherwise the restart, or the handler's rt_sigreturn, may run unseen.
        if self.traps_all
            && let Some(task) = self.tasks.get_mut(&pid)
            && let Some((nr, ip)) = sys::interrupted_call(pid)
        {
            // One interrupted call can stop at its exit and then for several signals: the first knew its class.
            let class = class.or_else(|| task.interrupted.and_then(|i| i.class()));
            task.interrupted = Some(Interrupted::new(nr, ip, class));
        }
    }

    fn on_syscall_exit(&mut self, pid: i32) -> std::io::Result<()> {
        if let Some(task) = self.tasks.get_mut(&pid)
            && task.interrupted.is_some_and(|i| i.awaits_exit())
        {
            // A handler's rt_sigreturn: what it restored says whether the interrupted call runs again.
            match sys::syscall_info(pid, sys::OP_EXIT) {
                Ok(info) => {
                    if let Some(class) = restart::returned(&mut task.interrupted, info.rval()) {
                        self.sink.result(class, -i64::from(libc::EINTR), true);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if let Some(task) = self.tasks.get_mut(&pid)
            && let Some(synced) = task.loading_filter.take()
            && sys::syscall_info(pid, sys::OP_EXIT).is_ok_and(|info| info.op == sys::OP_EXIT && !info.is_error())
        {
            self.filter_loaded(pid, synced);
        }
        let pending = self.tasks.get_mut(&pid).and_then(|t| t.pending.take());
        if let Some(class) = pending {
            match sys::syscall_info(pid, sys::OP_EXIT) {
                // -ERESTART* (512 to 517) is the kernel's own: no result the program ever saw.
                Ok(info) if info.op == sys::OP_EXIT && !(info.is_error() && internal_errno(-info.rval() as i32)) => {
                    self.sink.result(class, info.rval(), info.is_error())
                }
                // The kernel will enter it again (or fail it with EINTR, if a handler without SA_RESTART runs):
                // the signal may well go to another thread, so this thread's exit is where it is seen.
                Ok(info) if info.op == sys::OP_EXIT => self.note_interrupted(pid, Some(class)),
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.resume(pid, 0)
    }

    /// The task's seccomp filter load succeeded: from here on, with `--container`, the task is the container,
    /// and it is followed through the filter (with SECCOMP_FILTER_FLAG_TSYNC, every thread of its process is).
    fn filter_loaded(&mut self, pid: i32, synced: bool) {
        self.filters.loaded += 1;
        let Some(task) = self.tasks.get_mut(&pid) else { return };
        task.recording = true;
        if std::mem::take(&mut self.permissive_first) {
            return;
        }
        let tgid = task.tgid;
        for (&tid, task) in self.tasks.iter_mut() {
            if tid == pid || (synced && task.tgid == tgid) {
                task.through = true;
                task.filters = None;
            }
            // The other threads run on (or block) without stopping at entries: a call the new filter denies
            // would pass unseen until their next stop. Interrupt them, so that they are resumed to stop there.
            if tid != pid && synced && task.tgid == tgid {
                let _ = sys::interrupt(tid);
            }
        }
    }

    fn on_spawn(&mut self, parent: i32) -> std::io::Result<()> {
        let child = match sys::event_msg(parent) {
            Ok(msg) => msg as i32,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
            Err(e) => return Err(e),
        };
        let parent_task = self.adopt(parent);
        let (tgid, shares_fds) = match parent_task.spawn_flags.take() {
            Some(flags) => (if flags & CLONE_THREAD != 0 { parent_task.tgid } else { child }, flags & CLONE_FILES != 0),
            // The call ran without a stop (a --known profile allows it): /proc says whether the child is a
            // thread, and threads (pthread_create) share the fd table.
            None => {
                let tgid = proc_tgid(child).unwrap_or(child);
                (tgid, tgid != child)
            }
        };
        let fds = if shares_fds { Rc::clone(&parent_task.fds) } else { FdTable::copy(&parent_task.fds) };
        let exe = parent_task.exe;
        let recording = parent_task.recording;
        // A child runs under its parent's filters.
        let (through, filters) = (parent_task.through, parent_task.filters.clone());

        match self.tasks.get_mut(&child) {
            // The child's first stop came first and it was adopted from /proc; only fd-table sharing could
            // not be known then.
            Some(task) => {
                task.fds = fds;
                task.recording = recording;
                task.through = through;
                task.filters = filters;
                task.announced = true;
            }
            // Already gone (and counted when it was adopted): nothing to set up.
            None if self.gone_early.remove(&child) => {}
            None => {
                self.threads += 1;
                self.processes += u64::from(tgid == child);
                let mut task = Task::new(tgid, fds, exe, recording);
                task.through = through;
                task.filters = filters;
                self.tasks.insert(child, task);
            }
        }
        self.resume(parent, 0)
    }

    fn on_exec(&mut self, pid: i32) -> std::io::Result<()> {
        self.launching &= pid != self.root;
        // A non-leader thread that execs takes over the leader's pid; its old tid is in the event message.
        if let Ok(former) = sys::event_msg(pid).map(|m| m as i32)
            && former != pid
            && let Some(task) = self.tasks.remove(&former)
        {
            self.tasks.insert(pid, task);
        }
        let exe = self.sink.intern_exe(proc_exe(pid));
        let fds = FdTable::shared(self.traps_all);
        let task = self.adopt(pid);
        task.tgid = pid;
        task.exe = exe;
        // The exec closed every CLOEXEC fd and left the process a table of its own.
        task.fds = fds;
        self.resume(pid, 0)
    }

    fn on_event_stop(&mut self, pid: i32) -> std::io::Result<()> {
        // A new task's first stop may come before its parent's event: /proc tells who it is, and the
        // parent's event fixes up fd-table sharing when it arrives.
        self.adopt(pid);
        // An interrupted task (see `filter_loaded`) enters the call it was blocked in again.
        self.note_interrupted(pid, None);
        self.resume(pid, 0)
    }
}
