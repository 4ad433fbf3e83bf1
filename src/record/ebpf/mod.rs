//! The eBPF backend: programs on the `raw_syscalls` tracepoints count the calls of the processes trapline
//! follows into per-class counters in the kernel (CO-RE, loaded with libbpf), so a call costs a few hundred
//! nanoseconds instead of a ptrace stop, and user space reads maps once the workload has ended.
//!
//! A class is formed as the ptrace backend forms it (the decoder rows say which argument registers, and the
//! kernel side describes the fd behind ioctl and mmap from the task's file table). What it cannot see: calls
//! a seccomp filter denied (the tracepoints come after seccomp), arguments of 32-bit calls, and what lies behind
//! pointers but clone3's flags (the NVIDIA RM command, for one).

mod maps;
mod skel;

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use libbpf_rs::RingBufferBuilder;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};

use super::launcher::{self, ChildFailure, Launch};
use super::{Backend, RecordError, RunEnd, procfs, signals};
use crate::decode::table::SyscallTables;
use crate::observe::exit_of;
use crate::trace::EventSink;
use crate::trace::model::{Exit, Filters, Text};
use skel::TraplineSkelBuilder;

/// Indexes of the kernel side's `lost` counters (interface.h).
const LOST: [&str; 4] = ["calls (the class map was full)", "results", "processes", "exec events"];

#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error("--backend ebpf needs a kernel with BTF (/sys/kernel/btf/vmlinux is missing); use --backend ptrace")]
    NoBtf,
    #[error(
        "--backend ebpf cannot {step} its programs ({error}); it needs root, or CAP_BPF with CAP_PERFMON; use \
         --backend ptrace"
    )]
    Load { step: &'static str, error: libbpf_rs::Error },
}

pub struct EbpfBackend {
    tables: Rc<SyscallTables>,
}

impl EbpfBackend {
    pub fn new(tables: Rc<SyscallTables>) -> EbpfBackend {
        EbpfBackend { tables }
    }
}

impl Backend for EbpfBackend {
    fn run(self, launch: &Launch, sink: &mut dyn EventSink) -> Result<RunEnd, RecordError> {
        if !Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err(EbpfError::NoBtf.into());
        }
        // libbpf's own messages would be lines besides trapline's one: what failed is in the error.
        libbpf_rs::set_print(None);
        let load = |step| move |error| RecordError::from(EbpfError::Load { step, error });
        let mut object = MaybeUninit::uninit();
        let open = TraplineSkelBuilder::default().open(&mut object).map_err(load("open"))?;
        let mut skel = open.load().map_err(load("load"))?;
        maps::fill_rows(&skel.maps.rows, &self.tables).map_err(RecordError::Wait)?;
        skel.attach().map_err(load("attach"))?;

        // The launcher loads no filter: the workload runs as it would without trapline.
        let child = launcher::spawn(launch, &[], false)?;
        maps::follow(&skel.maps.targets, child.pid as u32).map_err(RecordError::Wait)?;
        let path = std::fs::canonicalize(&launch.path).unwrap_or_else(|_| launch.path.clone());
        let first_exe = sink.intern_exe(Text::from_os(path.as_os_str()));
        let mut execs: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut ring = RingBufferBuilder::new();
        ring.add(&skel.maps.execs, |data: &[u8]| {
            if let Some((tgid, name)) = exec_event(data) {
                execs.push((tgid, name));
            }
            0
        })
        .map_err(load("read the exec events of"))?;
        let ring = ring.build().map_err(load("read the exec events of"))?;
        child.release()?;
        signals::forward_to(child.pid);
        let exit = wait(child.pid, || {
            let _ = ring.poll(Duration::from_millis(20));
            maps::following(&skel.maps.targets)
        });
        signals::stop();
        let _ = ring.consume();
        drop(ring);
        if let Some(failure) = child.failure() {
            return Err(match failure {
                ChildFailure::Exec(error) => RecordError::Exec { program: launch.program.clone(), error },
                ChildFailure::Filter(error) => RecordError::Filter(error),
            });
        }

        let exes: HashMap<u32, _> =
            execs.into_iter().map(|(tgid, name)| (tgid, sink.intern_exe(Text::from_bytes(name)))).collect();
        let loaded = maps::drain(&skel.maps.classes, &skel.maps.results, &self.tables, &exes, first_exe, sink);
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
        let filters =
            (inherited || loaded > 0).then_some(Filters { inherited, loaded, attributed: false, seen: false });
        Ok(RunEnd {
            exit,
            processes: 1 + maps::counter(&skel.maps.tasks, 0),
            threads: 1 + maps::counter(&skel.maps.tasks, 1),
            filters,
            lost: (!lost.is_empty()).then(|| format!("the kernel side lost {}", lost.join(", "))),
        })
    }
}

/// An `exec_event` (interface.h): the process, and the path of the file it exec'd as its components from the
/// last one up.
fn exec_event(data: &[u8]) -> Option<(u32, Vec<u8>)> {
    const NAME_LEN: usize = 64;
    let word = |at: usize| data.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_ne_bytes);
    let (tgid, depth) = (word(0)?, word(4)? as usize);
    let mut path = Vec::new();
    for component in data.get(8..)?.chunks_exact(NAME_LEN).take(depth).rev() {
        path.push(b'/');
        path.extend(component.iter().take_while(|b| **b != 0));
    }
    Some((tgid, path))
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
