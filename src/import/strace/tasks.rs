//! The tasks of a log: each one's thread group, arch, fd table, executable and unfinished call, set up from
//! the clone or fork that made it (whose line may come after the child's first), and changed by exec.

use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::call::struct_flags;
use super::fds::{self, Fds};
use super::value;
use crate::decode::arch::Arch;
use crate::decode::flags::{CLONE_FILES, CLONE_THREAD, CLONE_VFORK, CLONE_VM};
use crate::observe::restart::Interrupted;
use crate::trace::aggregate::ExeId;

/// Calls that create a task; their result is its id.
pub const SPAWNS: &[&str] = &["clone", "clone3", "fork", "vfork"];

pub struct Task {
    pub tgid: u32,
    pub arch: Arch,
    pub fds: Fds,
    pub exe: ExeId,
    /// The call whose `<unfinished ...>` line came, awaiting its `<... resumed>` line.
    pub pending: Option<Pending>,
    /// First seen without knowing its parent: its fd table started empty.
    orphan: bool,
    /// The call a signal interrupted (`= ? ERESTARTSYS`), whose next line may be the kernel entering it again.
    pub interrupted: Option<Interrupted>,
}

pub struct Pending {
    pub name: String,
    pub args: String,
    pub line: usize,
    /// For a spawn: the task first seen while it was unfinished, taken to be its child.
    pub child: Option<u32>,
}

/// The live tasks, and every task the log named.
pub struct Tasks {
    live: FxHashMap<u32, Task>,
    /// Thread id to thread group id, for every task seen.
    seen: FxHashMap<u32, u32>,
    /// The first task seen: its exit is the run's.
    first: Option<u32>,
    /// The executable of a task first seen without its parent.
    unknown_exe: ExeId,
}

impl Tasks {
    pub fn new(unknown_exe: ExeId) -> Tasks {
        Tasks { live: FxHashMap::default(), seen: FxHashMap::default(), first: None, unknown_exe }
    }

    /// The task `pid`, set up on first sight: as the child of an unfinished spawn when there is one (a new
    /// task's first line can come before its parent's spawn returns), else on its own.
    pub fn task(&mut self, pid: u32) -> &mut Task {
        if !self.live.contains_key(&pid) {
            let task = self.new_task(pid);
            self.seen.insert(pid, task.tgid);
            self.first.get_or_insert(pid);
            self.live.insert(pid, task);
        }
        self.live.entry(pid).or_insert_with(|| unreachable_task(pid))
    }

    /// The task `pid` if it is live; unlike [`Tasks::task`], never sets one up.
    pub fn find(&self, pid: u32) -> Option<&Task> {
        self.live.get(&pid)
    }

    pub fn find_mut(&mut self, pid: u32) -> Option<&mut Task> {
        self.live.get_mut(&pid)
    }

    pub fn remove(&mut self, pid: u32) -> Option<Task> {
        self.live.remove(&pid)
    }

    pub fn first(&self) -> Option<u32> {
        self.first
    }

    /// The tasks with an unfinished call, in pid order.
    pub fn unfinished(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.live.iter().filter(|(_, t)| t.pending.is_some()).map(|(pid, _)| *pid).collect();
        pids.sort_unstable();
        pids
    }

    /// How many processes and threads the log named.
    pub fn counts(&self) -> (u64, u64) {
        let processes = self.seen.values().collect::<FxHashSet<_>>().len() as u64;
        (processes, self.seen.len() as u64)
    }

    fn new_task(&mut self, pid: u32) -> Task {
        let parent = self
            .live
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
        let Some(p) = self.live.get(&parent) else {
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

    pub fn spawned(&mut self, parent: u32, pid: u32, flags: u64) {
        // A log that says a process spawned itself is damaged; there is nothing to set up.
        if pid == parent {
            return;
        }
        let child = self.child(parent, pid, flags);
        match self.live.get_mut(&pid) {
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
                self.live.insert(pid, child);
            }
        }
        if let Some(task) = self.live.get(&pid) {
            self.seen.insert(pid, task.tgid);
        }
    }

    /// `pid` exec'd: it leads its thread group now, and runs `exe` when the log named it.
    pub fn exec(&mut self, pid: u32, exe: Option<ExeId>) {
        let task = self.task(pid);
        task.tgid = pid;
        if let Some(exe) = exe {
            task.exe = exe;
        }
        self.seen.insert(pid, pid);
    }
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

/// The clone flags of a spawn call, as the child is set up from them.
pub fn spawn_flags(name: &str, items: &[&str]) -> u64 {
    let sigchld = libc::SIGCHLD as u64;
    match name {
        "clone" => value::named(items, "flags").and_then(|f| value::word(f).ok()).unwrap_or(sigchld),
        "clone3" => struct_flags(items).ok().and_then(Result::ok).unwrap_or(0),
        "vfork" => CLONE_VM | CLONE_VFORK | sigchld,
        _ => sigchld,
    }
}
