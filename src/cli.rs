//! The command line: clap definitions, turned into plans for the library, and the one place that maps
//! outcomes and errors to exit codes.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::decode::table::Results;
use crate::profile::compile::{Mode, compile};
use crate::profile::explain::explain;
use crate::profile::generate::{DefaultAction, IoctlMode, ProfilePlan, generate};
use crate::profile::lint::lint_file;
use crate::profile::read::read_profile;
use crate::profile::runtime::Runtime;
use crate::record::enforce::run_enforced;
use crate::record::launcher::Launch;
use crate::record::{self, RecordError, RecordPlan};
use crate::trace::merge::merge;
use crate::trace::model::{Class, FdDesc};
use crate::trace::read::read_traces;
use crate::trace::write::{Output, to_json};

/// Record what a workload asks of the Linux kernel and turn it into the smallest OCI seccomp profile that
/// still lets it run.
#[derive(Debug, Parser)]
#[command(name = "trapline", version, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command and record every syscall it and its children make into a Trace.
    ///
    /// The workload's output, exit status and signals are passed through unchanged.
    Record(RecordArgs),
    /// Turn traces into a minimal OCI seccomp profile (the runtime-spec `linux.seccomp` object).
    ///
    /// The profile allows the union of what the traces did, plus what the container runtime needs after
    /// it loads the filter. Feed it to `docker run --security-opt seccomp=FILE`, a Kubernetes Localhost
    /// profile, or a bundle's `linux.seccomp`.
    Profile(ProfileArgs),
    /// Check a profile the way its consumers will read it: compile it with libseccomp for each of its
    /// architectures and report what breaks or surprises runc, containerd, Docker and Kubernetes.
    ///
    /// Accepts a bare seccomp profile, a bundle's config.json, or a Security Profiles Operator SeccompProfile
    /// in JSON. Exit 1 when there are findings, 2 when the file cannot be read as a profile.
    Lint(LintArgs),
    /// Merge traces of several runs into one, keeping per-run provenance: each class says in how many runs
    /// it was seen. Order does not matter: any grouping of the same runs gives the same bytes.
    Merge(MergeArgs),
    /// Run a command under a profile: enforcing it, or with --audit reporting what it would deny.
    ///
    /// The profile is compiled with libseccomp here and loaded in the workload's process right before it
    /// execs. With --audit only the calls the profile does not allow stop in trapline: they are reported and
    /// let through, so an audited run costs about what an unfiltered one does.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The profile: a seccomp JSON object, a bundle's config.json, or an SPO SeccompProfile.
    #[arg(long, value_name = "PROFILE")]
    profile: PathBuf,

    /// Report what the profile would deny instead of denying it.
    #[arg(long)]
    audit: bool,

    /// With --audit: also write the calls it would deny as a Trace.
    #[arg(short, long, value_name = "FILE", requires = "audit")]
    output: Option<PathBuf>,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// Traces to merge (recordings or earlier merges; each run may appear once).
    #[arg(required = true, value_name = "TRACE")]
    traces: Vec<PathBuf>,

    /// Where to write the merged trace; standard output when absent.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct LintArgs {
    /// The profile to check.
    #[arg(value_name = "PROFILE")]
    profile: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ProfileArgs {
    /// Traces written by `trapline record`; each counts as one run.
    #[arg(required = true, value_name = "TRACE")]
    traces: Vec<PathBuf>,

    /// Where to write the profile; standard output when absent.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// What happens to a syscall the profile does not list.
    #[arg(long, value_enum, default_value_t = DefaultActionArg::Errno)]
    default_action: DefaultActionArg,

    /// How finely ioctl is filtered: per request code, per driver type byte, or not at all.
    #[arg(long, value_enum, default_value_t = IoctlArg::Exact)]
    ioctl: IoctlArg,

    /// Add what this container runtime does between loading the filter and exec'ing the workload.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Runc)]
    runtime: RuntimeArg,

    /// Accept traces recorded on different architectures (the profile lists all of them).
    #[arg(long)]
    allow_mixed_arch: bool,

    /// Ignore the size bits of every NVIDIA frontend ioctl request, so the profile survives driver updates
    /// that change a parameter struct's size. Commands whose size varies with the GPU count are always
    /// compared without size.
    #[arg(long)]
    gpu_portable: bool,

    /// Also write a Markdown report that says why each rule is there.
    #[arg(long, value_name = "FILE.md")]
    explain: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DefaultActionArg {
    /// Fail with EPERM (SCMP_ACT_ERRNO).
    Errno,
    /// Kill the whole process (SCMP_ACT_KILL_PROCESS).
    KillProcess,
    /// Allow and log to the audit log (SCMP_ACT_LOG): an audit profile.
    Log,
    /// Send SIGSYS (SCMP_ACT_TRAP).
    Trap,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum IoctlArg {
    Exact,
    Type,
    Any,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RuntimeArg {
    Runc,
    Crun,
    /// The workload runs without a container runtime, or the traces already hold the runtime's calls.
    None,
}

#[derive(Debug, clap::Args)]
struct RecordArgs {
    /// Where to write the Trace (JSON). Checked before the workload starts; written atomically at the end.
    #[arg(short, long, value_name = "FILE", default_value = "trace.json")]
    output: PathBuf,

    /// How syscalls are observed.
    #[arg(long, value_enum, default_value_t = BackendArg::Ptrace)]
    backend: BackendArg,

    /// Which syscall results (error counts) to collect: `auto` for fd-creating calls, ioctl and exec (one
    /// extra stop for those only), `all` for every call (two stops per syscall).
    #[arg(long, value_enum, default_value_t = ResultsArg::Auto)]
    results: ResultsArg,

    /// Keep the whole command line in the Trace. By default only argv[0] is kept: arguments can hold
    /// secrets, and traces are meant to be committed.
    #[arg(long)]
    record_argv: bool,

    /// Do not print the summary line on stderr.
    #[arg(short, long)]
    quiet: bool,

    /// Record only what this profile does not already allow: everything it allows runs untraced, at native
    /// speed, and the trace holds exactly what is new.
    #[arg(long, value_name = "PROFILE")]
    known: Option<PathBuf>,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendArg {
    /// ptrace with a SECCOMP_RET_TRACE filter: sees every call, with results.
    Ptrace,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ResultsArg {
    Auto,
    All,
}

/// What a successful command concluded.
pub enum Verdict {
    /// Nothing to report (exit 0).
    Clean,
    /// A check found something (exit 1).
    Findings,
    /// Pass the workload's exit status through.
    Workload(i32),
}

/// Runs the command line and maps its outcome to the process exit code: 0 clean, 1 findings, 2 usage or
/// input error, or the workload's own status.
pub fn main(args: Args) -> ExitCode {
    match run(args) {
        Ok(Verdict::Clean) => ExitCode::SUCCESS,
        Ok(Verdict::Findings) => ExitCode::from(1),
        Ok(Verdict::Workload(status)) => ExitCode::from(status.clamp(0, 255) as u8),
        Err(err) => {
            let code = err.downcast_ref::<RecordError>().map(RecordError::exit_code).unwrap_or(2);
            let _ = writeln!(std::io::stderr(), "trapline: {err:#}");
            ExitCode::from(code)
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<Verdict> {
    match args.command {
        Command::Record(args) => run_record(args),
        Command::Profile(args) => run_profile(args),
        Command::Lint(args) => run_lint(args),
        Command::Merge(args) => run_merge(args),
        Command::Run(args) => run_run(args),
    }
}

fn run_merge(args: MergeArgs) -> anyhow::Result<Verdict> {
    let output = args.output.as_deref().map(Output::prepare).transpose()?;
    let merged = merge(read_traces(&args.traces)?)?;
    let json = to_json(&merged);
    match &output {
        Some(output) => output.commit(&json)?,
        None => std::io::stdout().write_all(&json)?,
    }
    let _ = writeln!(
        std::io::stderr(),
        "trapline: merged {} runs into {} classes{}",
        merged.runs.len(),
        merged.classes.len(),
        output.as_ref().map(|o| format!(" -> {}", o.path().display())).unwrap_or_default()
    );
    Ok(Verdict::Clean)
}

fn run_lint(args: LintArgs) -> anyhow::Result<Verdict> {
    let findings = lint_file(&args.profile)?;
    let mut stdout = std::io::stdout().lock();
    for finding in &findings {
        writeln!(stdout, "{}: {finding}", args.profile.display())?;
    }
    Ok(if findings.is_empty() { Verdict::Clean } else { Verdict::Findings })
}

fn run_profile(args: ProfileArgs) -> anyhow::Result<Verdict> {
    let plan = ProfilePlan {
        default_action: match args.default_action {
            DefaultActionArg::Errno => DefaultAction::Errno,
            DefaultActionArg::KillProcess => DefaultAction::KillProcess,
            DefaultActionArg::Log => DefaultAction::Log,
            DefaultActionArg::Trap => DefaultAction::Trap,
        },
        ioctl: match args.ioctl {
            IoctlArg::Exact => IoctlMode::Exact,
            IoctlArg::Type => IoctlMode::Type,
            IoctlArg::Any => IoctlMode::Any,
        },
        runtime: match args.runtime {
            RuntimeArg::Runc => Some(Runtime::Runc),
            RuntimeArg::Crun => Some(Runtime::Crun),
            RuntimeArg::None => None,
        },
        allow_mixed_arch: args.allow_mixed_arch,
        gpu_portable: args.gpu_portable,
    };
    let output = args.output.as_deref().map(Output::prepare).transpose()?;
    let explain_output = args.explain.as_deref().map(Output::prepare).transpose()?;
    let traces = read_traces(&args.traces)?;
    let generated = generate(&traces, &plan)?;
    for warning in &generated.warnings {
        let _ = writeln!(std::io::stderr(), "trapline: warning: {warning}");
    }
    let json = to_json(&generated.profile);
    match &output {
        Some(output) => output.commit(&json)?,
        None => std::io::stdout().write_all(&json)?,
    }
    if let Some(explain_output) = explain_output {
        explain_output.commit(explain(&traces, &generated).as_bytes())?;
    }
    // Freeing hundreds of megabytes of parsed traces one allocation at a time costs a noticeable part of the
    // run; the process is about to exit and the kernel reclaims it all at once.
    std::mem::forget(generated);
    std::mem::forget(traces);
    Ok(Verdict::Clean)
}

/// The filter that lets what `profile` allows run untraced and stops on everything else.
fn audit_filter(profile: &Path) -> anyhow::Result<Vec<libc::sock_filter>> {
    let (filter, unknown) = compile(&read_profile(profile)?, Mode::TraceOutside)?;
    warn_unknown(profile, &unknown);
    Ok(filter)
}

fn warn_unknown(profile: &Path, unknown: &[String]) {
    if !unknown.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "trapline: warning: {}: libseccomp knows no syscall {}; left out, as runc does",
            profile.display(),
            unknown.join(", ")
        );
    }
}

fn run_run(args: RunArgs) -> anyhow::Result<Verdict> {
    if !args.audit {
        let (filter, unknown) = compile(&read_profile(&args.profile)?, Mode::Enforce)?;
        warn_unknown(&args.profile, &unknown);
        let launch = Launch::resolve(&args.command)?;
        return Ok(Verdict::Workload(run_enforced(&launch, &filter)?.status));
    }
    let output = args.output.as_deref().map(Output::prepare).transpose()?;
    let plan = RecordPlan {
        command: args.command,
        results: Results::Auto,
        record_argv: false,
        known: Some((args.profile.clone(), audit_filter(&args.profile)?)),
    };
    let trace = record::record(&plan)?;
    if let Some(output) = &output {
        output.commit(&to_json(&trace))?;
    }
    let mut err = std::io::stderr().lock();
    let calls: u64 = trace.classes.iter().map(|c| c.count).sum();
    if trace.classes.is_empty() {
        let _ = writeln!(err, "trapline: audit: {} allowed every call", args.profile.display());
    } else {
        let _ = writeln!(
            err,
            "trapline: audit: {} would deny {calls} calls in {} classes:",
            args.profile.display(),
            trace.classes.len()
        );
        for class in &trace.classes {
            let _ = writeln!(err, "  {}", describe_class(class));
        }
    }
    Ok(Verdict::Workload(trace.runs[0].exit.status))
}

/// One line for a call class: `ioctl request=0xc020462a (NV_ESC_RM_CONTROL) on /dev/nvidiactl: 3 calls by
/// /usr/bin/python3`.
fn describe_class(class: &Class) -> String {
    let mut line = class.syscall.clone();
    for arg in &class.args {
        line.push_str(&format!(" {}={:#x}", arg.name, arg.value.0));
        if !arg.decoded.is_empty() {
            line.push_str(&format!(" ({})", arg.decoded));
        }
    }
    if let Some(FdDesc::Device { path, .. }) = &class.fd {
        line.push_str(&format!(" on {path}"));
    }
    let exes: Vec<String> = class.exes.iter().map(|e| e.to_string()).collect();
    format!("{line}: {} call(s) by {}", class.count, exes.join(", "))
}

fn run_record(args: RecordArgs) -> anyhow::Result<Verdict> {
    let BackendArg::Ptrace = args.backend;
    let plan = RecordPlan {
        command: args.command,
        results: match args.results {
            ResultsArg::Auto => Results::Auto,
            ResultsArg::All => Results::All,
        },
        record_argv: args.record_argv,
        known: args.known.map(|path| audit_filter(&path).map(|filter| (path, filter))).transpose()?,
    };
    let output = Output::prepare(&args.output)?;
    let trace = record::record(&plan)?;
    output.commit(&to_json(&trace))?;
    if !args.quiet {
        let run = &trace.runs[0]; // a recording holds exactly one run
        let t = run.totals;
        let _ = writeln!(
            std::io::stderr(),
            "trapline: recorded {} syscalls in {} classes from {} processes, {} threads{} -> {}",
            t.syscalls,
            t.classes,
            t.processes,
            t.threads,
            run.incomplete.as_ref().map(|r| format!(" (incomplete: {r})")).unwrap_or_default(),
            output.path().display()
        );
    }
    Ok(Verdict::Workload(trace.runs[0].exit.status))
}
