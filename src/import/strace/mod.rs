//! `trapline import strace`: an `strace -f` log to a Trace.
//!
//! Each call line goes through the same classification as a live recording ([`classify`]), with a
//! [`CallSource`] that answers from the log: an fd is what its `-y` decoration says or, without `-y`, what the
//! opens, dups and closes seen so far in its process made it; memory cannot be read at all. strace already
//! printed what it read from memory, so clone3's flags come from the text; NVIDIA RM parameters are not in the
//! log and are left out, as for any source that cannot read memory.
//!
//! Lines are read one at a time, so logs of any size fit. A line that is not understood is counted, never
//! dropped silently; a call line among them, or a log that stops before its first process exited, makes the
//! Trace incomplete.
//!
//! What a log does not say: which calls were i386, unless the log is strace's stderr (strace writes its
//! `[ Process PID=N runs in 32 bit mode. ]` notes there, not to `-o`'s file); the full 64-bit register behind
//! a 32-bit argument (no `raw` field); the resolved executable (the path given to execve is kept); inherited
//! fds without `-y` (unknown); the numbers of dynamically numbered devices without `-yy`; the kernel release;
//! when each class was first seen (`first_seen_secs` is the time of import).

mod clock;
mod fds;
mod line;
mod read;
mod run_id;
mod value;

use std::fs::File;
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use rustc_hash::{FxHashMap, FxHashSet};

use super::{ImportError, Imported};
use crate::decode::arch::Arch;
use crate::decode::flags::{self, CLONE_FILES, CLONE_THREAD, CLONE_VFORK, CLONE_VM};
use crate::decode::rows::FdArg;
use crate::decode::table::{Results, SyscallTables};
use crate::observe::classify::{Call, CallSource, Classified, classify};
use crate::observe::exit_of;
use crate::observe::fdtable::Fd;
use crate::observe::restart::{self, Interrupted, RESTART_ERRNOS, internal_errno, is_sigreturn};
use crate::trace::aggregate::ExeId;
use crate::trace::model::{Backend, Exit, FdDesc, Run, Text, Totals};
use crate::trace::{Aggregator, EventSink};
use clock::Clock;
use fds::Fds;
use line::{Event, Line};
use read::{read_lines, unprefixed_pid};
use run_id::Fnv1a;
use value::{Outcome, ValueError};

/// Calls that create a task; their result is its id.
const SPAWNS: &[&str] = &["clone", "clone3", "fork", "vfork"];

/// Calls whose result is a new fd.
const FD_CREATORS: &[&str] = crate::decode::rows::RETURNS_FD;

/// Reads the strace log at `path` into a Trace.
pub fn import(path: &Path) -> Result<Imported, ImportError> {
    let read_error = |error| ImportError::Read { path: path.to_path_buf(), error };
    let file = File::open(path).map_err(read_error)?;
    let started = file
        .metadata()
        .and_then(|m| m.modified())
        .map(|t| humantime::format_rfc3339_millis(t).to_string())
        .unwrap_or_default();
    let unprefixed = unprefixed_pid(path).map_err(read_error)?.unwrap_or(0);
    let tables = Rc::new(SyscallTables::new(Results::All));
    let mut aggregator = Aggregator::new(Rc::clone(&tables), Instant::now());
    let mut importer = Importer::new(&tables, &mut aggregator, unprefixed);
    let mut id = Fnv1a::default();
    let lines = read_lines(file, |number, text| {
        id.write(text.as_bytes());
        importer.line(number, text);
    })
    .map_err(read_error)?;
    let end = importer.finish();
    if end.syscalls == 0 {
        return Err(ImportError::NoSyscalls { path: path.to_path_buf(), lines });
    }
    let run = Run {
        // The log does not say which kernel ran it, nor when (the file's mtime is the closest).
        kernel: String::new(),
        started,
        command: end.command.into_iter().collect(),
        totals: Totals { processes: end.processes, threads: end.threads, ..Totals::default() },
        ..Run::new(format!("{:016x}", id.0), Backend::StraceImport, Results::All, SystemTime::UNIX_EPOCH)
    }
    .ended(end.exit, end.duration, end.incomplete);
    Ok(Imported {
        trace: aggregator.finish(run),
        syscalls: end.syscalls,
        not_understood: end.not_understood,
        first_not_understood: end.first_not_understood,
    })
}

struct Task {
    tgid: u32,
    arch: Arch,
    fds: Fds,
    exe: ExeId,
    /// The call whose `<unfinished ...>` line came, awaiting its `<... resumed>` line.
    pending: Option<Pending>,
    /// First seen without knowing its parent: its fd table started empty.
    orphan: bool,
    /// The call a signal interrupted (`= ? ERESTARTSYS`), whose next line may be the kernel entering it again.
    interrupted: Option<Interrupted>,
}

struct Pending {
    name: String,
    args: String,
    line: usize,
    /// For a spawn: the task first seen while it was unfinished, taken to be its child.
    child: Option<u32>,
}

/// What the log said about the run as a whole.
struct End {
    syscalls: u64,
    not_understood: u64,
    first_not_understood: Option<(usize, String)>,
    command: Option<Text>,
    exit: Exit,
    incomplete: Option<String>,
    duration: Duration,
    processes: u64,
    threads: u64,
}

struct Importer<'a> {
    tables: &'a SyscallTables,
    sink: &'a mut Aggregator,
    tasks: FxHashMap<u32, Task>,
    /// Thread id to thread group id, for every task seen.
    seen: FxHashMap<u32, u32>,
    unprefixed: u32,
    first: Option<u32>,
    exit: Option<Exit>,
    command: Option<Text>,
    unknown_exe: ExeId,
    syscalls: u64,
    not_understood: u64,
    first_not_understood: Option<(usize, String)>,
    /// Call lines that could not be read, and calls the log ends inside.
    cut: u64,
    clock: Clock,
}

impl<'a> Importer<'a> {
    fn new(tables: &'a SyscallTables, sink: &'a mut Aggregator, unprefixed: u32) -> Importer<'a> {
        let unknown_exe = sink.intern_exe(Text::from("?"));
        Importer {
            tables,
            sink,
            tasks: FxHashMap::default(),
            seen: FxHashMap::default(),
            unprefixed,
            first: None,
            exit: None,
            command: None,
            unknown_exe,
            syscalls: 0,
            not_understood: 0,
            first_not_understood: None,
            cut: 0,
            clock: Clock::default(),
        }
    }

    fn line(&mut self, number: usize, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let result = match line::parse(text) {
            Ok(parsed) => {
                self.clock.tick(parsed.stamp);
                self.event(number, parsed)
            }
            Err(reason) => Err(reason.to_string()),
        };
        if let Err(reason) = result {
            self.not_understood(number, text, &reason, line::looks_like_call(text));
        }
    }

    fn not_understood(&mut self, number: usize, text: &str, reason: &str, call: bool) {
        self.not_understood += 1;
        self.cut += u64::from(call);
        if self.first_not_understood.is_none() {
            let text: String = text.trim().chars().take(120).collect();
            let text = if text.is_empty() { String::new() } else { format!(": {text}") };
            self.first_not_understood = Some((number, format!("{reason}{text}")));
        }
    }

    fn event(&mut self, number: usize, line: Line) -> Result<(), String> {
        let pid = line.pid.unwrap_or(self.unprefixed);
        match line.event {
            Event::Note | Event::Signal => {}
            Event::Mode { pid, arch } => self.task(pid).arch = arch,
            Event::Call { name, args, result } => {
                self.flush(pid);
                return self.call(pid, name, args, Some(result));
            }
            Event::Unfinished { name, args } => {
                self.flush(pid);
                let pending = Pending { name: name.to_string(), args: args.to_string(), line: number, child: None };
                self.task(pid).pending = Some(pending);
            }
            Event::Resumed { name, args, result } => match self.task(pid).pending.take() {
                Some(pending) if pending.name == name => {
                    let joined = format!("{} {args}", pending.args);
                    return self.call(pid, name, &joined, Some(result));
                }
                other => {
                    self.task(pid).pending = other;
                    return Err(format!("{name} resumed without its beginning"));
                }
            },
            Event::Exited(code) => self.gone(pid, exit_of(Some(code), None)),
            Event::Killed(signal) => self.gone(pid, exit_of(None, flags::signal_number(signal))),
            Event::Superseded(former) => {
                // The exec'ing thread takes over the leader's pid; its unfinished execve resumes there.
                self.flush(pid);
                if let Some(thread) = self.tasks.remove(&former) {
                    self.task(pid).pending = thread.pending;
                }
            }
        }
        Ok(())
    }

    /// The task `pid`, set up on first sight: as the child of an unfinished spawn when there is one (a new
    /// task's first line can come before its parent's spawn returns), else on its own.
    fn task(&mut self, pid: u32) -> &mut Task {
        if !self.tasks.contains_key(&pid) {
            let task = self.new_task(pid);
            self.seen.insert(pid, task.tgid);
            self.first.get_or_insert(pid);
            self.tasks.insert(pid, task);
        }
        self.tasks.entry(pid).or_insert_with(|| unreachable_task(pid))
    }

    fn new_task(&mut self, pid: u32) -> Task {
        let parent = self
            .tasks
            .iter_mut()
            .filter_map(|(ppid, t)| {
                let pending = t.pending.as_mut()?;
                (SPAWNS.contains(&pending.name.as_str()) && pending.child.is_none()).then_some((*ppid, pending))
            })
            .max_by_key(|(_, pending)| pending.line)
            .map(|(ppid, pending)| {
                pending.child = Some(pid);
                (ppid, spawn_flags(&pending.name, &value::split_args(&pending.args)))
            });
        match parent {
            Some((ppid, flags)) => self.child(ppid, pid, flags),
            None => Task {
                tgid: pid,
                arch: Arch::native(),
                fds: fds::new_table(),
                exe: self.unknown_exe,
                pending: None,
                orphan: true,
                interrupted: None,
            },
        }
    }

    /// A new task of `parent`'s: a thread with CLONE_THREAD, sharing its fds with CLONE_FILES.
    fn child(&self, parent: u32, pid: u32, flags: u64) -> Task {
        let Some(p) = self.tasks.get(&parent) else {
            return unreachable_task(pid);
        };
        Task {
            tgid: if flags & CLONE_THREAD != 0 { p.tgid } else { pid },
            arch: p.arch,
            fds: if flags & CLONE_FILES != 0 { Rc::clone(&p.fds) } else { fds::copy(&p.fds) },
            exe: p.exe,
            pending: None,
            orphan: false,
            interrupted: None,
        }
    }

    fn spawned(&mut self, parent: u32, pid: u32, flags: u64) {
        // A log that says a process spawned itself is damaged; there is nothing to set up.
        if pid == parent {
            return;
        }
        let child = self.child(parent, pid, flags);
        match self.tasks.get_mut(&pid) {
            // Its lines came first. Set up as an orphan, it keeps the fds it opened on top of its parent's.
            Some(task) => {
                task.tgid = child.tgid;
                if task.orphan && !Rc::ptr_eq(&task.fds, &child.fds) {
                    child.fds.borrow_mut().extend(task.fds.borrow().iter().map(|(fd, d)| (*fd, d.clone())));
                    task.fds = child.fds;
                    task.orphan = false;
                }
            }
            None => {
                self.tasks.insert(pid, child);
            }
        }
        if let Some(task) = self.tasks.get(&pid) {
            self.seen.insert(pid, task.tgid);
        }
    }

    /// The call `pid` left unfinished still happened: it is counted without a result.
    fn flush(&mut self, pid: u32) {
        let Some(pending) = self.tasks.get_mut(&pid).and_then(|t| t.pending.take()) else {
            return;
        };
        if let Err(reason) = self.call(pid, &pending.name, &pending.args, None) {
            let text = format!("{}({} <unfinished ...>", pending.name, pending.args);
            self.not_understood(pending.line, &text, &reason, true);
        }
    }

    fn gone(&mut self, pid: u32, exit: Exit) {
        self.flush(pid);
        if self.first == Some(pid) {
            self.exit = Some(exit);
        }
        self.tasks.remove(&pid);
    }

    fn call(&mut self, pid: u32, name: &str, args: &str, result: Option<&str>) -> Result<(), String> {
        let arch = self.task(pid).arch;
        let nr = syscall_nr(arch, name).ok_or_else(|| format!("no syscall {name} in {arch}"))?;
        let items = value::split_args(args);
        let outcome = result.map(value::outcome).transpose().map_err(text)?;
        let entry = self.tables.get(arch, nr);
        let mut call = Call { arch, nr, args: [0; 6] };
        let mut decorated = Vec::new();
        let mut clone3_flags = Err(libc::EFAULT);
        if let Some(row) = entry.row {
            for spec in row.args {
                match spec.index {
                    Some(index) => call.args[usize::from(index)] = register(name, &items, index).map_err(text)?,
                    None => clone3_flags = struct_flags(&items).map_err(text)?,
                }
            }
            if let Some(FdArg::Always(index) | FdArg::UnlessAnonymous { fd: index, .. }) = row.fd {
                let index = usize::from(index);
                let item = items.get(index).ok_or(ValueError::Missing(index)).map_err(text)?;
                let (fd, decoration) = value::fd(item).map_err(text)?;
                // As in a register: a negative int is sign-extended.
                call.args[index] = i64::from(fd) as u64;
                decorated.extend(decoration.map(|d| (fd, fds::from_decoration(d))));
            }
        }
        if matches!(outcome, Some(Outcome::Value { .. })) && (name == "execve" || name == "execveat") {
            // An exec is charged to what it becomes, as the ptrace backend charges it.
            self.exec(pid, name, &items);
        }
        let Some(task) = self.tasks.get_mut(&pid) else {
            return Err("a call of a task that is gone".to_string());
        };
        // strace shows the kernel entering an interrupted call again as one more call: it is counted once, as
        // the ptrace backend counts it (the restart's result is the call's).
        let restarted = restart::entered(&mut task.interrupted, nr, 0, is_sigreturn(name)).flatten();
        let mut source = LineSource { fds: &task.fds, decorated: &decorated, clone3_flags };
        let Classified { key, raw_high, .. } = classify(self.tables, &call, &mut source, self.sink);
        let class = match restarted {
            Some(class) => class,
            None => {
                self.syscalls += 1;
                self.sink.call(key, task.tgid, task.exe, raw_high)
            }
        };
        let rval = match outcome {
            Some(Outcome::Value { value, .. }) => Some(value),
            Some(Outcome::Error(errno)) => Some(-i64::from(errno)),
            Some(Outcome::Unknown) | None => None,
        };
        let errno = rval.filter(|r| *r < 0).and_then(|r| r.checked_neg()).and_then(|e| i32::try_from(e).ok());
        match (rval, errno) {
            (Some(_), Some(errno)) if RESTART_ERRNOS.contains(&errno) => {
                task.interrupted = Some(Interrupted::new(nr, 0, Some(class)));
            }
            (Some(_), Some(errno)) if internal_errno(errno) => {}
            (Some(rval), _) => self.sink.result(class, rval, rval < 0),
            (None, _) => {}
        }
        // A handler's rt_sigreturn: what it restored says whether the interrupted call runs again or failed.
        if let Some(rval) = rval
            && task.interrupted.is_some_and(|i| i.awaits_exit())
            && let Some(class) = restart::returned(&mut task.interrupted, rval)
        {
            self.sink.result(class, -i64::from(libc::EINTR), true);
        }
        self.effects(pid, name, &items, outcome);
        Ok(())
    }

    fn exec(&mut self, pid: u32, name: &str, items: &[&str]) {
        let path_at = usize::from(name == "execveat");
        let exe = items.get(path_at).and_then(|t| value::string(t)).map(|p| self.sink.intern_exe(Text::from_bytes(p)));
        if self.command.is_none() {
            self.command = items
                .get(path_at + 1)
                .and_then(|argv| value::first_element(argv))
                .and_then(value::string)
                .map(Text::from_bytes);
        }
        let task = self.task(pid);
        task.tgid = pid;
        if let Some(exe) = exe {
            task.exe = exe;
        }
        self.seen.insert(pid, pid);
    }

    /// What a call did to fd tables and tasks, now that its result is known.
    fn effects(&mut self, pid: u32, name: &str, items: &[&str], outcome: Option<Outcome>) {
        let returned = match outcome {
            Some(Outcome::Value { value, fd }) => Some((value, fd)),
            _ => None,
        };
        let word = |i: usize| items.get(i).and_then(|t| value::word(t).ok());
        let fd_at = |i: usize| items.get(i).and_then(|t| value::fd(t).ok()).map(|(fd, _)| fd);
        let Some(table) = self.tasks.get(&pid).map(|t| Rc::clone(&t.fds)) else {
            return;
        };
        match name {
            "close" => {
                if let Some(fd) = fd_at(0) {
                    table.borrow_mut().remove(&fd);
                }
            }
            "close_range" => {
                const CLOSE_RANGE_UNSHARE: u64 = 2;
                let (Some(first), Some(last)) = (word(0), word(1)) else {
                    return;
                };
                let table = match self.tasks.get_mut(&pid) {
                    Some(task) if word(2).unwrap_or(0) & CLOSE_RANGE_UNSHARE != 0 => {
                        task.fds = fds::copy(&task.fds);
                        Rc::clone(&task.fds)
                    }
                    _ => Rc::clone(&table),
                };
                table.borrow_mut().retain(|fd, _| !(first..=last).contains(&u64::from(*fd as u32)));
            }
            "unshare" if word(0).unwrap_or(0) & CLONE_FILES != 0 && returned.is_some() => {
                if let Some(task) = self.tasks.get_mut(&pid) {
                    task.fds = fds::copy(&task.fds);
                }
            }
            _ if SPAWNS.contains(&name) => {
                if let Some((child, _)) = returned
                    && let Ok(child) = u32::try_from(child)
                    && child > 0
                {
                    self.spawned(pid, child, spawn_flags(name, items));
                }
            }
            "pipe" | "pipe2" | "socketpair" if returned.is_some() => {
                let (at, kind) = if name == "socketpair" { (3, FdDesc::Socket) } else { (0, FdDesc::Pipe) };
                for element in items.get(at).and_then(|t| value::elements(t)).unwrap_or_default() {
                    if let Ok((fd, decoration)) = value::fd(element) {
                        let desc = decoration.map_or_else(|| kind.clone(), fds::from_decoration);
                        table.borrow_mut().insert(fd, desc);
                    }
                }
            }
            _ => {}
        }
        let dup_command = || items.get(1).is_some_and(|c| ["F_DUPFD", "F_DUPFD_CLOEXEC", "0", "1030"].contains(c));
        let creates_fd = FD_CREATORS.contains(&name) || (name.starts_with("fcntl") && dup_command());
        if let Some((fd, decoration)) = returned
            && creates_fd
            && let Ok(fd) = i32::try_from(fd)
        {
            let desc = match decoration {
                Some(decoration) => Some(fds::from_decoration(decoration)),
                None => created(name, items, &table),
            };
            match desc {
                Some(desc) => table.borrow_mut().insert(fd, desc),
                // The number now means something the log does not say.
                None => table.borrow_mut().remove(&fd),
            };
        }
    }

    fn finish(mut self) -> End {
        let mut pids: Vec<u32> = self.tasks.iter().filter(|(_, t)| t.pending.is_some()).map(|(pid, _)| *pid).collect();
        pids.sort_unstable();
        let inside = pids.len() as u64;
        for pid in pids {
            self.flush(pid);
        }
        self.cut += inside;
        let incomplete = if self.exit.is_none() {
            Some("the log ends before the first process exited".to_string())
        } else if self.cut > 0 {
            Some(format!("{} calls in the log were cut off or could not be read", self.cut))
        } else {
            None
        };
        let processes = self.seen.values().collect::<FxHashSet<_>>().len() as u64;
        End {
            syscalls: self.syscalls,
            not_understood: self.not_understood,
            first_not_understood: self.first_not_understood,
            command: self.command,
            exit: self.exit.unwrap_or_else(|| exit_of(None, None)),
            incomplete,
            duration: self.clock.duration(),
            processes,
            threads: self.seen.len() as u64,
        }
    }
}

fn text(error: ValueError) -> String {
    error.to_string()
}

/// Never built in practice (callers check first); keeps lookups panic-free.
fn unreachable_task(pid: u32) -> Task {
    Task {
        tgid: pid,
        arch: Arch::native(),
        fds: fds::new_table(),
        exe: ExeId::default(),
        pending: None,
        orphan: true,
        interrupted: None,
    }
}

/// The number of `name` in `arch`'s table; strace names syscalls it does not know `syscall_0x1c6`.
fn syscall_nr(arch: Arch, name: &str) -> Option<u64> {
    if let Some(number) = name.strip_prefix("syscall_") {
        return value::number(number).map(|nr| arch.table_nr(nr));
    }
    arch.syscall_nr(name).map(|nr| arch.table_nr(nr))
}

/// The register value of argument `index` of a row. clone's flags are printed by name (`flags=`) wherever the
/// architecture puts them in the register order.
fn register(name: &str, items: &[&str], index: u8) -> Result<u64, ValueError> {
    let text = if name == "clone" { value::named(items, "flags") } else { items.get(usize::from(index)).copied() };
    value::word(text.ok_or(ValueError::Missing(usize::from(index)))?)
}

/// clone3's flags, from the `struct clone_args` strace printed; EFAULT (as the ptrace backend would see) when
/// strace could not read it and printed its address.
fn struct_flags(items: &[&str]) -> Result<Result<u64, i32>, ValueError> {
    let Some(args) = items.first().filter(|t| t.starts_with('{')) else {
        return Ok(Err(libc::EFAULT));
    };
    let flags = value::field(args, "flags").ok_or(ValueError::Missing(0))?;
    Ok(Ok(value::word(flags)?))
}

/// The clone flags of a spawn call, as the child is set up from them.
fn spawn_flags(name: &str, items: &[&str]) -> u64 {
    let sigchld = libc::SIGCHLD as u64;
    match name {
        "clone" => value::named(items, "flags").and_then(|f| value::word(f).ok()).unwrap_or(sigchld),
        "clone3" => struct_flags(items).ok().and_then(Result::ok).unwrap_or(0),
        "vfork" => CLONE_VM | CLONE_VFORK | sigchld,
        _ => sigchld,
    }
}

/// The fd a call returned, when strace did not decorate it.
fn created(name: &str, items: &[&str], table: &Fds) -> Option<FdDesc> {
    let opened = |path_at: usize| {
        let path = value::string(items.get(path_at)?)?;
        let directory = items.get(path_at + 1).is_some_and(|flags| flags.contains("O_DIRECTORY"));
        Some(fds::from_path(&path, None, directory))
    };
    match name {
        "open" | "creat" => opened(0),
        "openat" | "openat2" => opened(1),
        _ if name.starts_with("dup") || name.starts_with("fcntl") => {
            let (source, _) = value::fd(items.first()?).ok()?;
            table.borrow().get(&source).cloned()
        }
        _ => fds::created_by(name),
    }
}

/// Answers classification from the log: fds from this line's decorations or the process's table, no memory.
struct LineSource<'a> {
    fds: &'a Fds,
    decorated: &'a [(i32, FdDesc)],
    clone3_flags: Result<u64, i32>,
}

impl CallSource for LineSource<'_> {
    fn fd(&mut self, fd: i32, sink: &mut dyn EventSink) -> Fd {
        let known = self.fds.borrow().get(&fd).cloned();
        let desc = match (self.decorated.iter().find(|(n, _)| *n == fd), known) {
            // A decoration is only a path; the table knows it was opened as a directory.
            (Some((_, FdDesc::File)), Some(FdDesc::Dir)) => FdDesc::Dir,
            (Some((_, decorated)), _) => decorated.clone(),
            (None, Some(known)) => known,
            (None, None) => FdDesc::Unknown,
        };
        Fd::intern(desc, sink)
    }

    fn read_u32(&mut self, _addr: u64) -> io::Result<u32> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }

    fn read_u64(&mut self, _addr: u64) -> io::Result<u64> {
        self.clone3_flags.map_err(io::Error::from_raw_os_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import_lines(lines: &[&str]) -> (u64, u64) {
        let tables = SyscallTables::new(Results::All);
        let mut aggregator = Aggregator::new(Rc::new(SyscallTables::new(Results::All)), Instant::now());
        let mut importer = Importer::new(&tables, &mut aggregator, 0);
        for (i, line) in lines.iter().enumerate() {
            importer.line(i + 1, line);
        }
        let end = importer.finish();
        (end.syscalls, end.not_understood)
    }

    const SAMPLE: &[&str] = &[
        "100 execve(\"/usr/bin/sh\", [\"sh\", \"-c\", \"x\"], 0x7ffc /* 35 vars */) = 0",
        "100 openat(AT_FDCWD</work>, \"/dev/nvidiactl\", O_RDWR|O_CLOEXEC) = 3</dev/nvidiactl<char 195:255>>",
        "100 ioctl(3</dev/nvidiactl<char 195:255>>, _IOC(_IOC_READ|_IOC_WRITE, 0x46, 0x2a, 0x20), 0x7ffd) = 0",
        "100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, exit_signal=0}, 88 <unfinished ...>",
        "101 mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00",
        "100 <... clone3 resumed> => {parent_tid=[101]}, 88) = 101",
        "101 ioctl(3, 0x30000001, 0x7ffd) = -1 ENOTTY (Inappropriate ioctl for device)",
        "100 --- SIGCHLD {si_signo=SIGCHLD} ---",
        "101 +++ exited with 0 +++",
        "[ Process PID=100 runs in 32 bit mode. ]",
        "100 getpid() = 100",
        "100 +++ exited with 0 +++",
    ];

    #[test]
    fn a_small_log() {
        assert_eq!(import_lines(SAMPLE), (7, 0));
    }

    /// A tiny xorshift generator: the garbage must be reproducible, and the crate has no rand dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics() {
        const ALPHABET: &[u8] = b" ()[]{}<>\"\\,=|:;.-+0123456789xabcdefEROLNUSTIP_?/*...+++---\n\t\xc3\xa9";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut lines = Vec::new();
        for _ in 0..20_000 {
            let line = if rng.below(2) == 0 {
                // A real line, cut and spliced at random byte offsets (on char boundaries).
                let base = SAMPLE[rng.below(SAMPLE.len())];
                let other = SAMPLE[rng.below(SAMPLE.len())];
                let cut = (0..=base.len()).filter(|i| base.is_char_boundary(*i)).nth(rng.below(base.len() + 1));
                let splice = (0..=other.len()).filter(|i| other.is_char_boundary(*i)).nth(rng.below(other.len() + 1));
                format!("{}{}", &base[..cut.unwrap_or(0)], &other[splice.unwrap_or(0)..])
            } else {
                let len = rng.below(80);
                let bytes: Vec<u8> = (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            lines.push(line);
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (_, not_understood) = import_lines(&refs);
        assert!(not_understood > 0);
        for line in &refs {
            let _ = line::parse(line);
            for item in value::split_args(line) {
                let _ = value::word(item);
                let _ = value::fd(item);
                let _ = value::outcome(item);
                let _ = value::string(item);
                let _ = fds::from_decoration(item);
            }
        }
    }
}
