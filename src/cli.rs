//! The command line: clap definitions, turned into plans for the library, and the one place that maps
//! outcomes and errors to exit codes.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::decode::arch::Arch;
use crate::decode::table::Results;
use crate::files::json::to_json;
use crate::files::output::Output;
use crate::profile::compile::{Mode, allows_unconditionally, compile};
use crate::profile::deploy::{k8s_snippet, spo_object, to_yaml};
use crate::profile::explain::explain;
use crate::profile::generate::recording_profile;
use crate::profile::generate::{DefaultAction, IoctlMode, ProfilePlan, generate};
use crate::profile::lint::lint_file;
use crate::profile::read::read_profile;
use crate::profile::runtime::Runtime;
use crate::record::agent::{AgentPlan, run_agent};
use crate::record::enforce::run_enforced;
use crate::record::launcher::Launch;
use crate::record::{self, BackendKind, RecordError, RecordPlan};
use crate::review::{self, CheckFormat, DiffFormat, ReviewPlan};
use crate::trace::merge::merge;
use crate::trace::model::{Class, FdDesc};
use crate::trace::read::read_traces;

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
    /// in JSON; given a Kubernetes workload (Pod, Deployment, Job, ...) in JSON, it reports containers that
    /// run privileged (seccomp is then ignored) or Unconfined. Exit 1 when there are findings, 2 when the file
    /// cannot be read.
    Lint(LintArgs),
    /// Merge traces of several runs into one, keeping per-run provenance: each class says in how many runs
    /// it was seen. Order does not matter: any grouping of the same runs gives the same bytes.
    Merge(MergeArgs),
    /// Show what changed between two traces, two profiles, or a profile and a trace, with decoded names.
    ///
    /// Each input is a trace or a seccomp profile (or a bundle config.json), told apart by content. With a
    /// profile first and a trace second, added is what the run did that the profile does not allow and
    /// removed is what the profile allows that the run never did.
    Diff(DiffArgs),
    /// Check that a seccomp profile allows everything the recorded runs did, as the kernel would decide.
    ///
    /// Exit 1 when some call would be denied (each is one line), 0 when the profile allows them all, 2 when
    /// an input cannot be read or the profile is for another architecture.
    Check(CheckArgs),
    /// Run a command under a profile: enforcing it, or with --audit reporting what it would deny.
    ///
    /// The profile is compiled with libseccomp here and loaded in the workload's process right before it
    /// execs. With --audit only the calls the profile does not allow stop in trapline: they are reported and
    /// let through, so an audited run costs about what an unfiltered one does.
    Run(RunArgs),
    /// Turn a syscall log written by another tool into a Trace, for machines where `trapline record`
    /// cannot run.
    Import(ImportArgs),
    /// Print the pod spec snippet for a Localhost profile, and where the profile file must go on the nodes.
    K8sSnippet(SnippetArgs),
    /// Record containers as their runtime runs them: listen on a socket for the runtime-spec `listenerPath`,
    /// supervise each container's seccomp notifications, and write one Trace per container.
    ///
    /// Containers must use the recording profile (`trapline profile --recording --listener PATH`). The agent
    /// must run before they start and outlive them: if it dies, their notified syscalls fail with ENOSYS.
    Agent(AgentArgs),
    /// Print a shell completion script (e.g. `trapline completions bash > /etc/bash_completion.d/trapline`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for trapline and each of its commands into a directory.
    Man {
        /// The directory to write trapline.1, trapline-record.1, ... into.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    #[command(subcommand)]
    format: ImportFormat,
}

#[derive(Debug, Subcommand)]
enum ImportFormat {
    /// Read the log of `strace -f -o LOG COMMAND`.
    ///
    /// Each line becomes a call of the Trace, classified as `trapline record` classifies it. Any strace
    /// rendering is read: with or without timestamps, `-y`/`-yy` (then ioctl and mmap calls name their
    /// device, as recorded traces do; without it fds are followed through the log's opens), `-X raw` or
    /// `-X verbose` (needed for ioctl requests that strace names but trapline does not). Lines not
    /// understood are counted on standard error. Calls of 32-bit processes are i386 only where strace's
    /// mode-switch notes are in the log, which they are without `-o` (`strace -f COMMAND 2> LOG`).
    Strace(ImportStraceArgs),
}

#[derive(Debug, clap::Args)]
struct ImportStraceArgs {
    /// The strace log.
    #[arg(value_name = "LOG")]
    log: PathBuf,

    /// Where to write the Trace (JSON). Checked before the log is read; written atomically at the end.
    #[arg(short, long, value_name = "FILE", default_value = "trace.json")]
    output: PathBuf,
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
struct DiffArgs {
    /// The old side: a trace, a profile or a bundle config.json.
    #[arg(value_name = "A")]
    a: PathBuf,

    /// The new side: a trace, a profile or a bundle config.json.
    #[arg(value_name = "B")]
    b: PathBuf,

    /// How to write the report: text (coloured on a terminal), markdown (a pull-request comment), json.
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Text)]
    format: DiffFormatArg,

    /// Exit 1 when the inputs differ (something added or removed), as `git diff --exit-code` does.
    #[arg(long)]
    exit_code: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DiffFormatArg {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The seccomp profile to check against (a profile or a bundle config.json).
    #[arg(long, value_name = "PROFILE")]
    profile: PathBuf,

    /// How to write the findings: one line each, or SARIF 2.1.0 for code-scanning upload.
    #[arg(long, value_enum, default_value_t = CheckFormatArg::Text)]
    format: CheckFormatArg,

    /// Traces of the runs to check (recordings or merges).
    #[arg(required = true, value_name = "TRACE")]
    traces: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CheckFormatArg {
    Text,
    Sarif,
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
    #[arg(required_unless_present = "recording", value_name = "TRACE")]
    traces: Vec<PathBuf>,

    /// Instead of a profile from traces, the recording profile for `trapline agent`: everything allowed, and
    /// every syscall but `write` (which runc refuses to notify) sent to the agent listening at --listener.
    #[arg(long, requires = "listener", conflicts_with = "traces")]
    recording: bool,

    /// With --recording: the agent's socket (`trapline agent --socket PATH`), as the runtime sees the path.
    #[arg(long, value_name = "PATH")]
    listener: Option<String>,

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

    /// `oci`: the runtime-spec seccomp JSON (Docker, runc, a kubelet Localhost profile). `spo`: a Security
    /// Profiles Operator SeccompProfile object in YAML, for `kubectl apply`.
    #[arg(long, value_enum, default_value_t = ProfileFormat::Oci)]
    format: ProfileFormat,

    /// With `--format spo`: the object's name (a DNS-1123 subdomain, e.g. `pytorch-train`).
    #[arg(long, required_if_eq("format", "spo"))]
    name: Option<String>,

    /// With `--format spo`: the object's namespace.
    #[arg(long, requires = "name")]
    namespace: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProfileFormat {
    Oci,
    Spo,
}

#[derive(Debug, clap::Args)]
struct AgentArgs {
    /// The unix socket to listen on (the profile's listenerPath).
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,

    /// The directory to write one Trace per container into (`ID.json`, or `POD-CONTAINER-ID.json` for
    /// Kubernetes pods).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Do not resolve call sites.
    #[arg(long)]
    no_call_sites: bool,
}

#[derive(Debug, clap::Args)]
struct SnippetArgs {
    /// The profile's name on the nodes: it is installed as /var/lib/kubelet/seccomp/profiles/NAME.json.
    #[arg(value_name = "NAME")]
    name: String,
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

    /// The command is a container runtime run (`runc run -b BUNDLE ID`, or crun's): record what the container
    /// does from the moment its init process loads its seccomp filter, the runtime's last steps included, and
    /// nothing of the runtime's setup before it. The profile needs no runtime list (`--runtime none`).
    #[arg(long)]
    container: bool,

    /// Do not resolve call sites (the library, function and caller of each class's first call).
    #[arg(long)]
    no_call_sites: bool,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendArg {
    /// ptrace with a SECCOMP_RET_TRACE filter: sees every call, with results.
    Ptrace,
    /// seccomp user notification: sees every call, without results; needs no ptrace permission beyond
    /// pidfd_getfd on its own child.
    Notify,
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
        // A reader that went away (`trapline profile ... | head`) is no error.
        Err(err) if err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(is_broken_pipe)) => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            let code = err.downcast_ref::<RecordError>().map(RecordError::exit_code).unwrap_or(2);
            let _ = writeln!(std::io::stderr(), "trapline: {err:#}");
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

pub fn run(args: Args) -> anyhow::Result<Verdict> {
    match args.command {
        Command::Record(args) => run_record(args),
        Command::Profile(args) => run_profile(args),
        Command::Lint(args) => run_lint(args),
        Command::Merge(args) => run_merge(args),
        Command::Diff(args) => run_diff(args),
        Command::Check(args) => run_check(args),
        Command::Run(args) => run_run(args),
        Command::Agent(args) => {
            run_agent(&AgentPlan { socket: args.socket, out: args.out, call_sites: !args.no_call_sites })?;
            Ok(Verdict::Clean)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Args::command(), "trapline", &mut std::io::stdout());
            Ok(Verdict::Clean)
        }
        Command::Man { dir } => write_man_pages(&dir),
        Command::K8sSnippet(args) => {
            print!("{}", k8s_snippet(&args.name));
            Ok(Verdict::Clean)
        }
        Command::Import(args) => run_import(args),
    }
}

fn run_diff(args: DiffArgs) -> anyhow::Result<Verdict> {
    use std::io::IsTerminal;
    let format = match args.format {
        // Colour only for a person at a terminal; NO_COLOR (no-color.org) turns it off there too.
        DiffFormatArg::Text => {
            DiffFormat::Text { color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
        }
        DiffFormatArg::Markdown => DiffFormat::Markdown,
        DiffFormatArg::Json => DiffFormat::Json,
    };
    let outcome = review::review(&ReviewPlan::Diff { a: args.a, b: args.b, format })?;
    print_review(&outcome)?;
    Ok(if args.exit_code && outcome.findings { Verdict::Findings } else { Verdict::Clean })
}

fn run_check(args: CheckArgs) -> anyhow::Result<Verdict> {
    let format = match args.format {
        CheckFormatArg::Text => CheckFormat::Text,
        CheckFormatArg::Sarif => CheckFormat::Sarif,
    };
    let outcome = review::review(&ReviewPlan::Check { profile: args.profile, traces: args.traces, format })?;
    print_review(&outcome)?;
    Ok(if outcome.findings { Verdict::Findings } else { Verdict::Clean })
}

/// Writes a review's report to standard output and its summary line to standard error. A reader that went
/// away (`| head`) is not an error.
fn print_review(outcome: &review::Outcome) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(outcome.report.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    let _ = writeln!(std::io::stderr(), "trapline: {}", outcome.summary);
    Ok(())
}

/// One page for trapline and one per command, from the same definitions as `--help`.
fn write_man_pages(dir: &Path) -> anyhow::Result<Verdict> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let command = Args::command();
    let mut pages = vec![("trapline".to_string(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("trapline-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page).render(&mut bytes)?;
        std::fs::write(&path, bytes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(Verdict::Clean)
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
    if let (true, Some(listener)) = (args.recording, args.listener.as_deref()) {
        let output = args.output.as_deref().map(Output::prepare).transpose()?;
        let json = to_json(&recording_profile(listener, Arch::native()));
        match &output {
            Some(output) => output.commit(&json)?,
            None => std::io::stdout().write_all(&json)?,
        }
        return Ok(Verdict::Clean);
    }
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
    let json = match (args.format, args.name.as_deref()) {
        (ProfileFormat::Spo, Some(name)) => {
            to_yaml(&spo_object(&generated.profile, name, args.namespace.as_deref())).into_bytes()
        }
        _ => to_json(&generated.profile),
    };
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
        let profile = read_profile(&args.profile)?;
        let launch = Launch::resolve(&args.command)?;
        // The launcher execs the workload after loading the filter: a profile that denies execve could only
        // kill or fail it there, with nothing to say why.
        if !allows_unconditionally(&profile, "execve") {
            return Err(RecordError::ProfileDeniesExec { program: launch.program.clone() }.into());
        }
        let (filter, unknown) = compile(&profile, Mode::Enforce)?;
        warn_unknown(&args.profile, &unknown);
        return Ok(Verdict::Workload(run_enforced(&launch, &filter)?.status));
    }
    let output = args.output.as_deref().map(Output::prepare).transpose()?;
    let plan = RecordPlan {
        command: args.command,
        results: Results::Auto,
        record_argv: false,
        backend: BackendKind::Ptrace,
        known: Some((args.profile.clone(), audit_filter(&args.profile)?)),
        container: false,
        call_sites: true,
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

fn run_import(args: ImportArgs) -> anyhow::Result<Verdict> {
    let ImportFormat::Strace(args) = args.format;
    let output = Output::prepare(&args.output)?;
    let imported = crate::import::strace::import(&args.log)?;
    output.commit(&to_json(&imported.trace))?;
    let log = args.log.display();
    let not_understood = match &imported.first_not_understood {
        Some((line, text)) => {
            let n = imported.not_understood;
            format!("; {n} line{} not understood (first at {log}:{line}: {text})", if n == 1 { "" } else { "s" })
        }
        None => String::new(),
    };
    let incomplete = imported.trace.runs[0].incomplete.as_ref(); // an import holds exactly one run
    let _ = writeln!(
        std::io::stderr(),
        "trapline: imported {} syscalls from {log}{not_understood}{} -> {}",
        imported.syscalls,
        incomplete.map(|r| format!(" (incomplete: {r})")).unwrap_or_default(),
        output.path().display()
    );
    Ok(Verdict::Clean)
}

fn run_record(args: RecordArgs) -> anyhow::Result<Verdict> {
    let backend = match args.backend {
        BackendArg::Ptrace => BackendKind::Ptrace,
        BackendArg::Notify => BackendKind::Notify,
    };
    if backend == BackendKind::Notify && (args.known.is_some() || args.container) {
        anyhow::bail!("--known and --container need --backend ptrace");
    }
    let plan = RecordPlan {
        backend,
        command: args.command,
        results: match args.results {
            ResultsArg::Auto => Results::Auto,
            ResultsArg::All => Results::All,
        },
        record_argv: args.record_argv,
        known: args.known.map(|path| audit_filter(&path).map(|filter| (path, filter))).transpose()?,
        container: args.container,
        call_sites: !args.no_call_sites,
    };
    let output = Output::prepare(&args.output)?;
    let trace = record::record(&plan)?;
    let status = trace.runs[0].exit.status;
    output
        .commit(&to_json(&trace))
        .map_err(|e| anyhow::anyhow!("{e}; the workload exited with {status}, its trace is lost"))?;
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

#[cfg(test)]
mod review_flag_tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Args::try_parse_from(std::iter::once("trapline").chain(args.iter().copied())).map(|a| a.command)
    }

    #[test]
    fn diff_takes_two_inputs_a_format_and_exit_code() {
        let Ok(Command::Diff(d)) = parse(&["diff", "--format", "markdown", "--exit-code", "a.json", "b.json"]) else {
            panic!("diff did not parse");
        };
        assert!(matches!(d.format, DiffFormatArg::Markdown) && d.exit_code);
        assert_eq!((d.a, d.b), (PathBuf::from("a.json"), PathBuf::from("b.json")));
        let Ok(Command::Diff(d)) = parse(&["diff", "a.json", "b.json"]) else { panic!("diff did not parse") };
        assert!(matches!(d.format, DiffFormatArg::Text) && !d.exit_code);
        assert!(parse(&["diff", "a.json"]).is_err());
        assert!(parse(&["diff", "--format", "html", "a.json", "b.json"]).is_err());
    }

    #[test]
    fn check_needs_a_profile_and_a_trace() {
        let Ok(Command::Check(c)) = parse(&["check", "--profile", "p.json", "--format", "sarif", "t1.json", "t2.json"])
        else {
            panic!("check did not parse");
        };
        assert!(matches!(c.format, CheckFormatArg::Sarif));
        assert_eq!(c.traces.len(), 2);
        assert!(parse(&["check", "t.json"]).is_err());
        assert!(parse(&["check", "--profile", "p.json"]).is_err());
    }
}
