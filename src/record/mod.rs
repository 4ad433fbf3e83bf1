//! Recording: run a workload under a backend and aggregate every syscall it makes into a Trace.

pub mod agent;
pub mod container;
pub mod enforce;
pub mod gpu;
pub mod launcher;
pub mod memory;
pub mod notify;
pub mod procfs;
pub mod ptrace;
pub mod signals;

use std::ffi::OsString;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use crate::decode::arch::Arch;
use crate::decode::flags::signal_name;
use crate::decode::table::{Results, SyscallTables};
use crate::trace::model::{Exit, Run, Text, Totals};
use crate::trace::{Aggregator, EventSink, Trace};
use launcher::Launch;

/// How syscalls are observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// ptrace with a SECCOMP_RET_TRACE filter: every call, with results.
    Ptrace,
    /// seccomp user notification: every call, without results, no ptrace needed.
    Notify,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ptrace => "ptrace",
            BackendKind::Notify => "notify",
        }
    }
}

/// What to record, validated.
#[derive(Clone)]
pub struct RecordPlan {
    pub backend: BackendKind,
    pub command: Vec<OsString>,
    pub results: Results,
    /// Keep the whole command line in the trace, not only argv[0].
    pub record_argv: bool,
    /// Record only what this profile does not allow: (its path, its compiled audit filter).
    pub known: Option<(PathBuf, Vec<libc::sock_filter>)>,
    /// The command is a container runtime (`runc run ...`): keep what the container does once its filter
    /// is loaded.
    pub container: bool,
    /// Resolve where each class was first called from.
    pub call_sites: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("no command given; usage: trapline record [OPTIONS] -- COMMAND [ARGS...]")]
    NoCommand,
    #[error("{}: command not found", program.to_string_lossy())]
    CommandNotFound { program: OsString },
    #[error("{}: No such file or directory", program.to_string_lossy())]
    NoSuchFile { program: OsString },
    #[error("{}: {reason}", program.to_string_lossy())]
    NotExecutable { program: OsString, reason: &'static str },
    #[error("the command line contains a NUL byte")]
    NulInArgument,
    #[error("cannot start the workload: {0}")]
    Spawn(std::io::Error),
    #[error(
        "cannot trace {}: ptrace is not permitted ({error}); allow it with --cap-add SYS_PTRACE (Docker) or \
         securityContext.capabilities.add: [SYS_PTRACE] (Kubernetes), an unconfined seccomp profile for the \
         recording run, and kernel.yama.ptrace_scope <= 1",
        program.to_string_lossy()
    )]
    PtraceDenied { program: OsString, error: std::io::Error },
    #[error(
        "cannot install the recording seccomp filter ({0}); run trapline where seccomp(2) is allowed \
         (an unconfined seccomp profile for the recording run)"
    )]
    Filter(std::io::Error),
    #[error("{}: {error}", program.to_string_lossy())]
    Exec { program: OsString, error: std::io::Error },
    #[error(
        "{}: the profile denies execve, which trapline's launcher needs to start the workload after loading \
         it; allow execve in the profile",
        program.to_string_lossy()
    )]
    ProfileDeniesExec { program: OsString },
    #[error(
        "the filter has {0} BPF instructions; the kernel loads at most 4096 (coarsen the profile, e.g. --ioctl type)"
    )]
    FilterTooLong(usize),
    #[error(transparent)]
    Container(#[from] container::ContainerError),
    #[error(transparent)]
    Agent(#[from] agent::AgentError),
    #[error("lost track of the workload: {0}")]
    Wait(std::io::Error),
}

impl RecordError {
    /// The exit status a shell would give for the same failure: 127 not found, 126 not executable, else 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            RecordError::CommandNotFound { .. } | RecordError::NoSuchFile { .. } => 127,
            RecordError::NotExecutable { .. } | RecordError::ProfileDeniesExec { .. } => 126,
            RecordError::Exec { error, .. } if error.raw_os_error() == Some(libc::ENOENT) => 127,
            RecordError::Exec { .. } => 126,
            _ => 2,
        }
    }
}

/// How the backend saw the run end.
pub struct RunEnd {
    pub exit: Exit,
    pub processes: u64,
    pub threads: u64,
}

/// A recording mechanism: starts the workload, reports every call into the sink, returns how it ended.
pub trait Backend {
    fn run(self, launch: &Launch, sink: &mut dyn EventSink) -> Result<RunEnd, RecordError>;
}

/// Runs the plan's command under the ptrace backend and returns its Trace.
pub fn record(plan: &RecordPlan) -> Result<Trace, RecordError> {
    let prepared = plan.container.then(|| container::prepare(&plan.command)).transpose()?;
    let launch = Launch::resolve(prepared.as_ref().map_or(&plan.command, |p| &p.command))?;
    // Seccomp notification answers before the call runs: it never sees results.
    let results = if plan.backend == BackendKind::Notify { Results::None } else { plan.results };
    let tables = Rc::new(SyscallTables::new(results));
    let started_at = SystemTime::now();
    let start = Instant::now();
    let mut aggregator = Aggregator::new(Rc::clone(&tables), start);
    let end = match plan.backend {
        BackendKind::Notify => notify::NotifyBackend::new(tables, plan.call_sites).run(&launch, &mut aggregator)?,
        BackendKind::Ptrace => {
            let backend = match &plan.known {
                Some((_, filter)) => ptrace::PtraceBackend::with_filter(tables, filter.clone()),
                None => ptrace::PtraceBackend::new(tables),
            };
            let backend = if plan.container { backend.anchored_at_filter_load() } else { backend };
            let backend = if plan.call_sites { backend } else { backend.without_call_sites() };
            backend.run(&launch, &mut aggregator)?
        }
    };
    let duration = start.elapsed();

    let killed = end.exit.signal.clone();
    let incomplete = match (signals::interrupted_by(), killed) {
        (Some(signal), _) => Some(format!("trapline received {}", signal_name(signal))),
        (None, Some(signal)) => Some(format!("the workload was killed by {signal}")),
        (None, None) => None,
    };
    let command = if plan.record_argv { &plan.command[..] } else { &plan.command[..1] };
    let run = Run {
        id: run_id(started_at),
        trapline: env!("CARGO_PKG_VERSION").to_string(),
        backend: plan.backend.name().to_string(),
        arch: Arch::native(),
        kernel: kernel_release(),
        command: command.iter().map(|a| Text::from_os(a)).collect(),
        started: humantime::format_rfc3339_millis(started_at).to_string(),
        duration_secs: (duration.as_micros() as f64) / 1e6,
        exit: end.exit,
        complete: incomplete.is_none(),
        incomplete,
        results,
        known: plan.known.as_ref().map(|(path, _)| Text::from_os(path.as_os_str())),
        container: prepared.as_ref().map(|p| p.runtime.clone()),
        unobserved: Vec::new(),
        totals: Totals { processes: end.processes, threads: end.threads, ..Totals::default() },
        gpu: Some(gpu::machine_facts()),
    };
    Ok(aggregator.finish(run))
}

/// 64 bits that tell this run from any other: the start time mixed with the kernel's randomness.
pub(crate) fn run_id(started_at: SystemTime) -> String {
    let mut random = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into the live array.
    unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    let nanos = started_at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("{:016x}", u64::from_ne_bytes(random) ^ nanos.rotate_left(32))
}

pub(crate) fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}
