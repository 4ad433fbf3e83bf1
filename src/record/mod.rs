//! Recording: run a workload under a backend and aggregate every syscall it makes into a Trace.

pub mod agent;
pub mod container;
pub mod ebpf;
pub mod enforce;
pub mod gpu;
pub mod launcher;
pub mod memory;
pub mod notify;
pub mod procfs;
pub mod progress;
pub mod ptrace;
pub mod runtime;
pub mod signals;
pub mod symbolize;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use crate::decode::flags::signal_name;
use crate::decode::table::{Results, SyscallTables};
use crate::profile::compile::{CompileError, Mode, compile, unknown_names_warning};
use crate::profile::read::{ProfileReadError, read_profile};
use crate::trace::model::{self, Exit, Run, Text, Totals};
use crate::trace::run::run_id;
use crate::trace::{Aggregator, EventSink, Trace};
use launcher::Launch;

/// How syscalls are observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// ptrace with a SECCOMP_RET_TRACE filter: every call, with results.
    Ptrace,
    /// seccomp user notification: every call, without results, no ptrace needed.
    Notify,
    /// eBPF on the raw_syscalls tracepoints, aggregated in the kernel.
    Ebpf,
}

impl From<BackendKind> for model::Backend {
    fn from(kind: BackendKind) -> model::Backend {
        match kind {
            BackendKind::Ptrace => model::Backend::Ptrace,
            BackendKind::Notify => model::Backend::Notify,
            BackendKind::Ebpf => model::Backend::Ebpf,
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
    /// What to say and save while the workload runs.
    pub progress: progress::Progress,
    /// Record a running cgroup (its directory), for at most this long, instead of starting `command`.
    pub cgroup: Option<(PathBuf, Option<std::time::Duration>)>,
    /// The eBPF backend's room for distinct call classes in the kernel.
    pub max_classes: u32,
}

impl RecordPlan {
    /// `run --audit`: the command under ptrace, stopping only on the calls `profile` (compiled to `filter` by
    /// [`known_filter`]) does not allow.
    pub fn audit(command: Vec<OsString>, profile: PathBuf, filter: Vec<libc::sock_filter>) -> RecordPlan {
        RecordPlan {
            backend: BackendKind::Ptrace,
            command,
            results: Results::Auto,
            record_argv: false,
            known: Some((profile, filter)),
            container: false,
            call_sites: true,
            progress: progress::Progress::default(),
            cgroup: None,
            max_classes: ebpf::DEFAULT_MAX_CLASSES,
        }
    }
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
    Profile(#[from] ProfileReadError),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Container(#[from] container::ContainerError),
    #[error(transparent)]
    Agent(#[from] agent::AgentError),
    #[error(transparent)]
    Ebpf(#[from] ebpf::EbpfError),
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
    /// The seccomp filters other than trapline's that the run was recorded through, if any.
    pub filters: Option<model::Filters>,
    /// What the backend knows it missed (a full map in the kernel), if anything.
    pub lost: Option<String>,
}

/// A recording mechanism: starts the workload, reports every call into the sink, returns how it ended.
pub trait Backend {
    fn run(self, launch: &Launch, sink: &mut dyn EventSink) -> Result<RunEnd, RecordError>;
}

/// The filter for `--known PROFILE` and `run --audit`: calls the profile allows run untraced, every other call
/// stops in the tracer. Returns it with the warning for names libseccomp left out, if any.
pub fn known_filter(profile: &Path) -> Result<(Vec<libc::sock_filter>, Option<String>), RecordError> {
    let (filter, unknown) = compile(&read_profile(profile)?, Mode::TraceOutside)?;
    Ok((filter, unknown_names_warning(profile, &unknown)))
}

/// The line `trapline record` ends with: what was recorded, and where it went.
pub fn summary(trace: &Trace, output: &str) -> String {
    let run = &trace.runs[0]; // a recording holds exactly one run
    let t = run.totals;
    let denied = trace.classes.iter().filter(|c| !c.denied.is_empty()).count();
    let filters = match &run.filters {
        None => String::new(),
        Some(f) if !f.seen => {
            let which = if f.inherited { "trapline ran under" } else { "the workload loaded" };
            let backend = serde_json::to_value(run.backend).ok().and_then(|v| v.as_str().map(str::to_string));
            format!(
                "; {which} a seccomp filter, and the calls it denies never reach --backend {}: record with \
                 --backend ptrace to see them",
                backend.unwrap_or_default()
            )
        }
        Some(f) if !f.attributed => "; recorded through a seccomp filter trapline cannot read (it runs under one \
                                     itself): the calls it denied are in the trace with their errors, not marked"
            .to_string(),
        Some(_) => format!("; recorded through seccomp filters, which denied {denied} of the classes"),
    };
    format!(
        "recorded {} syscalls in {} classes from {} processes, {} threads{}{filters} -> {}",
        t.syscalls,
        t.classes,
        t.processes,
        t.threads,
        run.incomplete.as_ref().map(|r| format!(" (incomplete: {r})")).unwrap_or_default(),
        output
    )
}

/// Runs the plan's command under its backend and returns its Trace.
pub fn record(plan: &RecordPlan) -> Result<Trace, RecordError> {
    if let Some((cgroup, duration)) = &plan.cgroup {
        return record_cgroup(plan, cgroup, *duration);
    }
    let prepared = plan.container.then(|| container::prepare(&plan.command)).transpose()?;
    let launch = Launch::resolve(prepared.as_ref().map_or(&plan.command, |p| &p.command))?;
    // Seccomp notification answers before the call runs: it never sees results.
    let results = if plan.backend == BackendKind::Notify { Results::None } else { plan.results };
    let tables = Rc::new(SyscallTables::new(results));
    let started_at = SystemTime::now();
    let start = Instant::now();
    let command = if plan.record_argv { &plan.command[..] } else { &plan.command[..1] };
    let run = Run {
        command: command.iter().map(|a| Text::from_os(a)).collect(),
        known: plan.known.as_ref().map(|(path, _)| Text::from_os(path.as_os_str())),
        container: prepared.as_ref().map(|p| p.runtime.clone()),
        gpu: Some(gpu::machine_facts()),
        ..Run::new(run_id(started_at), plan.backend.into(), results, started_at)
    };
    let mut aggregator = Aggregator::new(Rc::clone(&tables), start);
    let (watcher, progress) = plan.progress.start(run.clone(), start);
    if !plan.progress.is_quiet() {
        aggregator.watch(watcher);
    }
    let end = match plan.backend {
        BackendKind::Notify => notify::NotifyBackend::new(tables, plan.call_sites).run(&launch, &mut aggregator)?,
        BackendKind::Ebpf => ebpf::EbpfBackend::new(tables, plan.max_classes).run(&launch, &mut aggregator)?,
        BackendKind::Ptrace => {
            let backend = match &plan.known {
                Some((_, filter)) => ptrace::PtraceBackend::with_filter(tables, filter.clone()),
                None => ptrace::PtraceBackend::new(tables),
            };
            let backend = if plan.container { backend.anchored_at_filter_load() } else { backend };
            let backend = match &prepared {
                Some(p) if p.permissive => backend.first_filter_is_permissive(),
                _ => backend,
            };
            let backend = if plan.call_sites { backend } else { backend.without_call_sites() };
            backend.run(&launch, &mut aggregator)?
        }
    };
    let duration = start.elapsed();
    progress.finish(&aggregator);

    let killed = end.exit.signal.clone();
    let incomplete = match (signals::interrupted_by(), killed) {
        (Some(signal), _) => Some(format!("trapline received {}", signal_name(signal))),
        (None, Some(signal)) => Some(format!("the workload was killed by {signal}")),
        (None, None) => end.lost,
    };
    let run = Run {
        totals: Totals { processes: end.processes, threads: end.threads, ..Totals::default() },
        filters: end.filters,
        ..run
    }
    .ended(end.exit, duration, incomplete);
    Ok(aggregator.finish(run))
}

/// Records a running cgroup with the eBPF backend: a trace of what its processes did while trapline watched,
/// marked incomplete since what they did before was not seen.
fn record_cgroup(
    plan: &RecordPlan,
    cgroup: &Path,
    duration: Option<std::time::Duration>,
) -> Result<Trace, RecordError> {
    let tables = Rc::new(SyscallTables::new(plan.results));
    let started_at = SystemTime::now();
    let start = Instant::now();
    let run = Run {
        command: vec![Text::from_os(cgroup.as_os_str())],
        gpu: Some(gpu::machine_facts()),
        ..Run::new(run_id(started_at), plan.backend.into(), plan.results, started_at)
    };
    let mut aggregator = Aggregator::new(Rc::clone(&tables), start);
    let end = ebpf::EbpfBackend::new(tables, plan.max_classes).record_cgroup(cgroup, duration, &mut aggregator)?;
    let incomplete = match signals::interrupted_by() {
        Some(signal) => format!("trapline received {}; a running cgroup was recorded from", signal_name(signal)),
        None => "a running cgroup was recorded from".to_string(),
    };
    let incomplete = Some(format!("{incomplete} the moment trapline attached, not from its start"));
    let run = Run {
        totals: Totals { processes: end.processes, threads: end.threads, ..Totals::default() },
        filters: end.filters,
        ..run
    }
    .ended(end.exit, start.elapsed(), end.lost.or(incomplete));
    Ok(aggregator.finish(run))
}
