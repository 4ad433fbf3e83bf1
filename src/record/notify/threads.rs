//! The threads and processes a supervisor has seen, told apart from later ones that reuse their ids.
//!
//! A notification names its thread by id only, and ids come round again once a thread is gone (pid_max is
//! often 32768). Each thread seen is therefore held by a pidfd (`PIDFD_THREAD`, Linux 6.9): a notification from
//! an id whose pidfd says the thread has exited comes from a new thread, and what was known of the old one is
//! dropped. This check is race-free: the notifying thread is alive while its notification is pending, so if
//! the thread held by the pidfd is alive too, they are the same thread. A periodic sweep of the same pidfds
//! drops the threads and processes that are gone, so a long-running agent does not grow with thread churn.
//!
//! Where thread pidfds are not available (older kernels, no fds left), ids are trusted as they are, nothing
//! is swept, and [`Threads::tracking`] is false: what depends on telling processes apart (the fd cache) is off.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::super::procfs::proc_tgid;
use crate::observe::fdtable::FdTable;
use crate::trace::aggregate::ExeId;

/// `PIDFD_THREAD` (= `O_EXCL`): a pidfd for one thread rather than a thread group.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// How often exited threads are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct Threads {
    threads: FxHashMap<i32, Thread>,
    processes: FxHashMap<i32, Process>,
    tracking: bool,
    /// Whether processes' fds are cached: only while the supervisor sees every call that can close an fd, and
    /// each process has a table of its own.
    cache_fds: bool,
    /// Distinct threads and processes seen: counted as they appear, so a reused id counts again.
    seen_threads: u64,
    seen_processes: u64,
    last_sweep: Instant,
}

struct Thread {
    tgid: i32,
    /// `None` when the thread could not be held (it was already gone): it is looked up again next time.
    pidfd: Option<OwnedFd>,
}

/// What is known of one process, for as long as it lives.
pub struct Process {
    /// Its executable, until it execs.
    pub exe: Option<ExeId>,
    /// Its fds, cached while the supervisor sees every call that can close one.
    pub fds: FdTable,
    threads: u32,
    /// The thread that asked to exec, until the exec is over: in between, other threads still run the old
    /// program, and nothing learnt from them may be kept for the new one.
    exec_by: Option<i32>,
    /// False for the threads /proc cannot show (outside the supervisor's pid namespace): nothing learnt of them
    /// is theirs alone, so nothing is kept.
    visible: bool,
}

impl Process {
    /// Whether what is learnt now may be kept: the process can be told apart, and no exec is under way.
    pub fn settled(&self) -> bool {
        self.visible && self.exec_by.is_none()
    }
}

impl Threads {
    /// `cache_fds`: the filter notifies every syscall, close and dup2 included.
    pub fn new(cache_fds: bool) -> Threads {
        let tracking = thread_pidfds_work();
        Threads {
            threads: FxHashMap::default(),
            processes: FxHashMap::default(),
            tracking,
            cache_fds: cache_fds && tracking,
            seen_threads: 0,
            seen_processes: 0,
            last_sweep: Instant::now(),
        }
    }

    /// The process of thread `tid`, which has a notification pending: remembered, or looked up (and the state
    /// of a former holder of the id dropped).
    pub fn process_of(&mut self, tid: i32) -> (i32, &mut Process) {
        if tid <= 0 {
            // A thread outside the supervisor's pid namespace is notified as pid 0: nothing tells such threads
            // apart, so they share one process entry, counted once.
            return (0, self.invisible());
        }
        let known = self.threads.get(&tid).and_then(|t| {
            let current = !self.tracking || t.pidfd.as_ref().is_some_and(|fd| !exited(fd));
            current.then_some(t.tgid)
        });
        let tgid = match known {
            Some(tgid) => tgid,
            None => self.register(tid),
        };
        let process = self.processes.get_mut(&tgid).expect("registered with its thread");
        if let Some(by) = process.exec_by {
            // The exec is over when its thread calls again, or, when it was not the leader, once it has taken
            // over the leader's id (its own id is then gone).
            let by_gone = || self.threads.get(&by).is_none_or(|t| t.pidfd.as_ref().is_none_or(exited));
            if tid == by || (tid == tgid && by_gone()) {
                process.exec_by = None;
                process.exe = None;
                process.fds.clear();
            }
        }
        (tgid, process)
    }

    /// Thread `tid` of process `tgid` asks to exec: the process's executable and fds are about to change.
    pub fn exec(&mut self, tgid: i32, tid: i32) {
        if let Some(process) = self.processes.get_mut(&tgid) {
            process.exec_by = Some(tid);
            process.exe = None;
            process.fds.clear();
        }
    }

    /// Processes that share one fd table were created (clone with CLONE_FILES but not CLONE_THREAD): a close
    /// in one would not be seen as a close in the other, so fds are looked up every time from now on.
    pub fn stop_caching_fds(&mut self) {
        self.cache_fds = false;
        for process in self.processes.values_mut() {
            process.fds = FdTable::new(false);
        }
    }

    /// Distinct (processes, threads) seen.
    pub fn counts(&self) -> (u64, u64) {
        (self.seen_processes, self.seen_threads)
    }

    /// Drops the threads that have exited, and the processes left with none, at most once a second.
    pub fn sweep(&mut self) {
        if !self.tracking || self.last_sweep.elapsed() < SWEEP_EVERY {
            return;
        }
        self.last_sweep = Instant::now();
        let mut gone: Vec<i32> = Vec::new();
        for chunk in self.threads.iter().collect::<Vec<_>>().chunks(1024) {
            let mut fds: Vec<libc::pollfd> = chunk
                .iter()
                .map(|(_, t)| libc::pollfd {
                    fd: t.pidfd.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: `fds` is a live array of `fds.len()` pollfds; a negative fd is ignored by poll.
            if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) } < 0 {
                return;
            }
            gone.extend(chunk.iter().zip(&fds).filter(|(_, p)| p.revents != 0).map(|((tid, _), _)| **tid));
        }
        for tid in gone {
            self.forget(tid);
        }
    }

    fn invisible(&mut self) -> &mut Process {
        self.processes.entry(0).or_insert_with(|| {
            self.seen_processes += 1;
            self.seen_threads += 1;
            Process { exe: None, fds: FdTable::new(false), threads: 1, exec_by: None, visible: false }
        })
    }

    fn register(&mut self, tid: i32) -> i32 {
        self.forget(tid);
        let tgid = proc_tgid(tid).unwrap_or(tid);
        let pidfd = if self.tracking { thread_pidfd(tid) } else { None };
        if self.tracking && pidfd.is_none() && std::io::Error::last_os_error().raw_os_error() == Some(libc::EMFILE) {
            // Out of fds: reused ids can no longer be told apart.
            self.tracking = false;
            self.stop_caching_fds();
        }
        // A thread group's leader seen anew may head a new process that reuses a former one's id: then every
        // thread of the former one is gone, and nothing of it is kept (its exited threads would otherwise be
        // counted off the new process when swept). A live thread of the group means it is the same process.
        if tid == tgid {
            let alive = self.threads.values().any(|t| t.tgid == tgid && t.pidfd.as_ref().is_some_and(|fd| !exited(fd)));
            if !alive {
                self.threads.retain(|_, t| t.tgid != tgid);
                self.processes.remove(&tgid);
            }
        }
        let cache_fds = self.cache_fds;
        let process = self.processes.entry(tgid).or_insert_with(|| {
            self.seen_processes += 1;
            Process { exe: None, fds: FdTable::new(cache_fds), threads: 0, exec_by: None, visible: true }
        });
        process.threads += 1;
        self.seen_threads += 1;
        self.threads.insert(tid, Thread { tgid, pidfd });
        tgid
    }

    fn forget(&mut self, tid: i32) {
        let Some(thread) = self.threads.remove(&tid) else { return };
        if let Some(process) = self.processes.get_mut(&thread.tgid) {
            process.threads = process.threads.saturating_sub(1);
            if process.threads == 0 {
                self.processes.remove(&thread.tgid);
            }
        }
    }
}

/// A pidfd for thread `tid`, or `None` (the error left in errno).
fn thread_pidfd(tid: i32) -> Option<OwnedFd> {
    // SAFETY: a plain syscall; the fd it returns is owned from here on.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    // SAFETY: `fd` is a new, open fd that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the kernel gives pidfds for single threads (asked of trapline's own thread).
fn thread_pidfds_work() -> bool {
    // SAFETY: gettid has no preconditions.
    thread_pidfd(unsafe { libc::gettid() }).is_some()
}

/// Whether the thread behind `pidfd` has exited (a pidfd polls readable then).
fn exited(pidfd: &OwnedFd) -> bool {
    let mut fd = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut fd, 1, 0) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_held_until_they_exit_then_swept_out() {
        let mut threads = Threads::new(true);
        if !threads.tracking {
            return; // a kernel before 6.9
        }
        let pid = std::process::id() as i32;
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        assert_eq!(threads.process_of(me).0, pid);
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            done_rx.recv().unwrap();
        });
        let tid = rx.recv().unwrap();
        assert_eq!(threads.process_of(tid).0, pid);
        assert_eq!(threads.process_of(tid).0, pid, "a live thread is known, not registered again");
        assert_eq!(threads.counts(), (1, 2));
        assert!(!exited(threads.threads[&tid].pidfd.as_ref().unwrap()));

        done_tx.send(()).unwrap();
        worker.join().unwrap();
        assert!(exits_soon(threads.threads[&tid].pidfd.as_ref().unwrap()), "an exited thread's pidfd is readable");
        threads.last_sweep -= SWEEP_EVERY;
        threads.sweep();
        assert!(!threads.threads.contains_key(&tid), "the exited worker is swept out");
        assert!(threads.threads.contains_key(&me) && threads.processes.contains_key(&pid), "the live thread is kept");
    }

    /// Whether the thread behind `pidfd` has exited, or does within 5 s. A join returns when the kernel clears
    /// the thread's tid (CLONE_CHILD_CLEARTID, early in its exit), a moment before its pidfd turns readable.
    fn exits_soon(pidfd: &OwnedFd) -> bool {
        let mut fd = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one live pollfd.
        unsafe { libc::poll(&mut fd, 1, 5000) == 1 }
    }

    /// A pidfd of a thread that has exited.
    fn exited_pidfd() -> OwnedFd {
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(thread_pidfd(unsafe { libc::gettid() }).unwrap()).unwrap();
        });
        let pidfd = rx.recv().unwrap();
        worker.join().unwrap();
        assert!(exits_soon(&pidfd));
        assert!(exited(&pidfd));
        pidfd
    }

    #[test]
    fn a_leader_id_reused_by_a_new_process_drops_every_thread_of_the_former_one() {
        let mut threads = Threads::new(true);
        if !threads.tracking {
            return; // a kernel before 6.9
        }
        // A former process with our pid as its id, and two threads, all gone: the leader and another.
        let pid = std::process::id() as i32;
        threads.threads.insert(pid, Thread { tgid: pid, pidfd: Some(exited_pidfd()) });
        threads.threads.insert(-7, Thread { tgid: pid, pidfd: Some(exited_pidfd()) });
        threads
            .processes
            .insert(pid, Process { exe: None, fds: FdTable::new(true), threads: 2, exec_by: None, visible: true });
        // Our process makes a call with that id: a new process, with nothing of the former one.
        assert_eq!(threads.process_of(pid).0, pid);
        assert!(!threads.threads.contains_key(&-7), "the former process's other thread is dropped");
        assert_eq!(threads.processes[&pid].threads, 1);
        threads.last_sweep -= SWEEP_EVERY;
        threads.sweep();
        assert_eq!(threads.process_of(pid).0, pid, "the new process is still known after a sweep");
    }

    #[test]
    fn threads_outside_our_pid_namespace_are_one_process_that_keeps_nothing() {
        let mut threads = Threads::new(true);
        for _ in 0..3 {
            let (tgid, process) = threads.process_of(0);
            assert_eq!(tgid, 0);
            assert!(!process.settled());
        }
        assert_eq!(threads.counts(), (1, 1));
    }
}
