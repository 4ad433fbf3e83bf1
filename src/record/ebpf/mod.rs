//! The eBPF backend: programs on the `raw_syscalls` tracepoints count the calls of the processes trapline
//! follows into per-class counters in the kernel (CO-RE, loaded with libbpf), so a call costs a few hundred
//! nanoseconds instead of a ptrace stop, and user space reads maps once the workload has ended.
//!
//! A class is formed as the ptrace backend forms it (the decoder rows say which argument registers, and the
//! kernel side describes the fd behind ioctl and mmap from the task's file table). What it cannot see: calls
//! a seccomp filter denied (the tracepoints come after seccomp). Behind pointers it reads what the ptrace backend
//! reads: clone3's flags and the NVIDIA RM command or class.

mod containers;
mod maps;
pub mod node;
mod skel;

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use libbpf_rs::RingBufferBuilder;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};

use super::launcher::{self, ChildFailure, Launch};
use super::{Backend, RecordError, RunEnd, procfs, signals};
use crate::decode::gpu::nvidia::{
    NV_ESC_RM_ALLOC, NV_ESC_RM_CONTROL, NVOS21_64_HCLASS_OFFSET, NVOS54_CMD_OFFSET, TYPE_F,
};
use crate::decode::table::SyscallTables;
use crate::observe::exit_of;
use crate::trace::EventSink;
use crate::trace::model::{Exit, Filters, Text};

use skel::TraplineSkelBuilder;

/// Indexes of the kernel side's `lost` counters (interface.h).
const LOST: [&str; 4] = ["calls (the class map was full: raise --max-classes)", "results", "processes", "exec events"];

/// Room for distinct call classes in the kernel, unless --max-classes says otherwise.
pub const DEFAULT_MAX_CLASSES: u32 = 65536;

#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error("--backend ebpf needs a kernel with BTF (/sys/kernel/btf/vmlinux is missing); use --backend ptrace")]
    NoBtf,
    #[error(
        "--backend ebpf cannot {step} its programs ({error}); it needs root, or CAP_BPF with CAP_PERFMON; use \
         --backend ptrace"
    )]
    Load { step: &'static str, error: libbpf_rs::Error },
    #[error("--cgroup {path}: {why}")]
    NotCgroup { path: std::path::PathBuf, why: String },
    #[error("cannot write traces into {path}: {error}; choose another --out")]
    Out { path: std::path::PathBuf, error: std::io::Error },
}

pub struct EbpfBackend {
    tables: Rc<SyscallTables>,
    max_classes: u32,
}

impl EbpfBackend {
    pub fn new(tables: Rc<SyscallTables>, max_classes: u32) -> EbpfBackend {
        EbpfBackend { tables, max_classes }
    }

    /// Records the processes of a running cgroup (a container, by its cgroup v2 directory) until it has no
    /// process left, `duration` has passed, or trapline is interrupted. What they did before is not seen.
    pub fn record_cgroup(
        self,
        path: &Path,
        duration: Option<Duration>,
        sink: &mut dyn EventSink,
    ) -> Result<RunEnd, RecordError> {
        let id = cgroup_id(path)?;
        let procs = path.join("cgroup.procs");
        let occupied = || std::fs::read(&procs).is_ok_and(|pids| pids.iter().any(u8::is_ascii_digit));
        let session = Session { tables: &self.tables, cgroup: id, max_classes: self.max_classes };
        session.run(sink, &|tgid, comm| alive_exe(tgid, comm), |_, poll| {
            signals::forward_to(0);
            let start = Instant::now();
            let mut seen_someone = false;
            loop {
                poll();
                let now_occupied = occupied();
                seen_someone |= now_occupied;
                let ended = seen_someone && !now_occupied;
                if ended || signals::interrupted_by().is_some() || duration.is_some_and(|d| start.elapsed() >= d) {
                    return Ok(exit_of(Some(0), None));
                }
            }
        })
    }
}

impl Backend for EbpfBackend {
    fn run(self, launch: &Launch, sink: &mut dyn EventSink) -> Result<RunEnd, RecordError> {
        let path = std::fs::canonicalize(&launch.path).unwrap_or_else(|_| launch.path.clone());
        let first = Text::from_os(path.as_os_str());
        let session = Session { tables: &self.tables, cgroup: 0, max_classes: self.max_classes };
        session.run(sink, &|_, _| first.clone(), |skel, poll| {
            // The launcher loads no filter: the workload runs as it would without trapline.
            let child = launcher::spawn(launch, &[], false)?;
            maps::follow(&skel.maps.targets, child.pid as u32).map_err(RecordError::Wait)?;
            child.release()?;
            signals::forward_to(child.pid);
            let exit = wait(child.pid, || {
                poll();
                maps::following(&skel.maps.targets)
            });
            signals::stop();
            match child.failure() {
                Some(ChildFailure::Exec(error)) => Err(RecordError::Exec { program: launch.program.clone(), error }),
                Some(ChildFailure::Filter(error)) => Err(RecordError::Filter(error)),
                None => Ok(exit),
            }
        })
    }
}

/// The programs loaded and attached for one recording, following a cgroup (its id) or, with 0, the processes
/// the driver puts among the targets.
struct Session<'t> {
    tables: &'t SyscallTables,
    cgroup: u64,
    max_classes: u32,
}

impl Session<'_> {
    /// Loads and attaches the programs, lets `drive` run the recording (polling the exec events through the
    /// function it is given), and folds what the kernel side counted into the sink. `exe_of` names a process
    /// no exec event named.
    fn run(
        &self,
        sink: &mut dyn EventSink,
        exe_of: &dyn Fn(u32, Option<Vec<u8>>) -> Text,
        drive: impl FnOnce(&skel::TraplineSkel<'_>, &dyn Fn()) -> Result<crate::trace::model::Exit, RecordError>,
    ) -> Result<RunEnd, RecordError> {
        let mut object = MaybeUninit::uninit();
        let skel = load(&mut object, self.tables, self.cgroup, self.max_classes)?;

        let failed = |step| move |error| RecordError::from(EbpfError::Load { step, error });
        let execs: std::cell::RefCell<Vec<(u32, Vec<u8>)>> = Default::default();
        let mut ring = RingBufferBuilder::new();
        ring.add(&skel.maps.execs, |data: &[u8]| {
            if let Some(event) = exec_event(data) {
                execs.borrow_mut().push(event);
            }
            0
        })
        .map_err(failed("read the exec events of"))?;
        let ring = ring.build().map_err(failed("read the exec events of"))?;
        let exit = drive(&skel, &|| {
            let _ = ring.poll(Duration::from_millis(20));
        })?;
        let _ = ring.consume();
        drop(ring);

        let mut exes: HashMap<u32, _> = HashMap::new();
        for (tgid, name) in execs.into_inner() {
            exes.insert(tgid, sink.intern_exe(Text::from_bytes(name)));
        }
        let exe_of = |tgid| exe_of(tgid, maps::comm(&skel.maps.comms, tgid));
        let drained = maps::drain(&skel.maps.classes, &skel.maps.results, self.tables, &mut exes, &exe_of, None, sink);
        let lost: Vec<String> = LOST
            .iter()
            .enumerate()
            .filter_map(|(i, what)| match maps::counter(&skel.maps.lost, i as u32) {
                0 => None,
                n => Some(format!("{n} {what}")),
            })
            .collect();
        // The tracepoints come after seccomp: what a filter trapline runs under, or one the workload loaded,
        // denies never reaches them.
        let inherited = procfs::under_seccomp_filter();
        let loaded = drained.filter_loads;
        let filters =
            (inherited || loaded > 0).then_some(Filters { inherited, loaded, attributed: false, seen: false });
        // Following a running cgroup, its processes are those seen calling; a launched workload's are counted
        // from its first process on.
        let (processes, threads) = match self.cgroup {
            0 => (1 + maps::counter(&skel.maps.tasks, 0), 1 + maps::counter(&skel.maps.tasks, 1)),
            _ => (drained.processes, drained.processes + maps::counter(&skel.maps.tasks, 1)),
        };
        Ok(RunEnd {
            exit,
            processes,
            threads,
            filters,
            lost: (!lost.is_empty()).then(|| format!("the kernel side lost {}", lost.join(", "))),
        })
    }
}

/// Loads the programs and attaches them, following the cgroup `cgroup` (its v2 id, or [`maps::NEW_CGROUPS`]),
/// or with 0 the processes put among the targets, with room for `max_classes` classes.
fn load<'o>(
    object: &'o mut MaybeUninit<libbpf_rs::OpenObject>,
    tables: &SyscallTables,
    cgroup: u64,
    max_classes: u32,
) -> Result<skel::TraplineSkel<'o>, RecordError> {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(EbpfError::NoBtf.into());
    }
    // libbpf's own messages would be lines besides trapline's one: what failed is in the error.
    libbpf_rs::set_print(None);
    let failed = |step| move |error| RecordError::from(EbpfError::Load { step, error });
    let mut open = TraplineSkelBuilder::default().open(object).map_err(failed("open"))?;
    if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
        rodata.rm_type = u32::from(TYPE_F);
        rodata.rm_control_nr = u32::from(NV_ESC_RM_CONTROL);
        rodata.rm_control_offset = NVOS54_CMD_OFFSET as u32;
        rodata.rm_alloc_nr = u32::from(NV_ESC_RM_ALLOC);
        rodata.rm_alloc_offset = NVOS21_64_HCLASS_OFFSET as u32;
    }
    for map in [&mut open.maps.classes, &mut open.maps.results] {
        map.set_max_entries(max_classes).map_err(failed("size the maps of"))?;
    }
    let mut skel = open.load().map_err(failed("load"))?;
    maps::fill_rows(&skel.maps.rows, tables).map_err(RecordError::Wait)?;
    maps::set_cgroup(&skel.maps.cgroup, cgroup).map_err(RecordError::Wait)?;
    skel.attach().map_err(failed("attach"))?;
    Ok(skel)
}

/// What a process of a followed cgroup runs: its executable while it lives, else its command name in brackets
/// (`[sleep]`), as the ptrace backend names a process it cannot resolve.
pub(super) fn alive_exe(tgid: u32, comm: Option<Vec<u8>>) -> Text {
    match std::fs::read_link(format!("/proc/{tgid}/exe")) {
        Ok(path) => Text::from_os(path.as_os_str()),
        Err(_) => Text::Utf8(format!("[{}]", String::from_utf8_lossy(&comm.unwrap_or_default()))),
    }
}

/// The cgroup v2 id of a cgroup directory: its inode number, on a cgroup2 file system.
pub(super) fn cgroup_id(path: &Path) -> Result<u64, RecordError> {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let not = |why: String| RecordError::from(EbpfError::NotCgroup { path: path.to_path_buf(), why });
    let meta = std::fs::metadata(path).map_err(|e| not(e.to_string()))?;
    let statfs = nix::sys::statfs::statfs(path).map_err(|e| not(e.to_string()))?;
    if !meta.is_dir() || statfs.filesystem_type().0 as i64 != CGROUP2_SUPER_MAGIC {
        return Err(not("not a cgroup v2 directory (look under the cgroup2 mount, e.g. /sys/fs/cgroup)".into()));
    }
    Ok(std::os::unix::fs::MetadataExt::ino(&meta))
}

/// An `exec_event` (interface.h): the process, and the path of the file it exec'd as its components from the
/// last one up.
fn exec_event(data: &[u8]) -> Option<(u32, Vec<u8>)> {
    exec_event_in(data).map(|(tgid, _, path)| (tgid, path))
}

/// An `exec_event`, with the cgroup of the process.
pub(super) fn exec_event_in(data: &[u8]) -> Option<(u32, u64, Vec<u8>)> {
    const NAME_LEN: usize = 64;
    let word = |at: usize| data.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_ne_bytes);
    let (tgid, depth) = (word(0)?, word(4)? as usize);
    let cgroup = u64::from_ne_bytes(data.get(8..16)?.try_into().ok()?);
    let mut path = Vec::new();
    for component in data.get(16..)?.chunks_exact(NAME_LEN).take(depth).rev() {
        path.push(b'/');
        path.extend(component.iter().take_while(|b| **b != 0));
    }
    Some((tgid, cgroup, path))
}

/// Waits for the workload's first process, then for every process the kernel side still follows (as
/// `strace -f` does), calling `poll` meanwhile; returns how the first process ended.
fn wait(pid: libc::pid_t, mut poll: impl FnMut() -> bool) -> Exit {
    let mut root = None;
    loop {
        let following = poll();
        if root.is_none() {
            let mut status = 0;
            // SAFETY: waitpid writes the status into a live local.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                signals::forget_target();
                root = Some(if libc::WIFSIGNALED(status) {
                    exit_of(None, Some(libc::WTERMSIG(status)))
                } else {
                    exit_of(Some(libc::WEXITSTATUS(status)), None)
                });
            }
        }
        if let Some(exit) = &root
            && !following
        {
            return exit.clone();
        }
    }
}
