//! The command line: `args` says what it accepts, this module hands each command to the library function that
//! does the work, writes what comes back, and is the one place that maps outcomes and errors to exit codes.

mod args;
mod options;
mod pages;
mod runtime;
mod values;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

pub use args::Args;
use args::{
    AgentBackendArg, CheckArgs, Command, CoverageArgs, DecodeArgs, DecodeFormatArg, DecodeWhat, DiffArgs,
    DiffFormatArg, ImportArgs, ImportFormat, LintArgs, LintFormatArg, MergeArgs, ProfileArgs, RecordArgs, RunArgs,
};

use crate::decode::arch::Arch;
use crate::files::json::to_json;
use crate::files::output::Output;
use crate::profile::coverage::{self, coverage};
use crate::profile::deploy::{k8s_snippet, render};
use crate::profile::explain::explain;
use crate::profile::generate::{extend, recording_profile, widened};
use crate::profile::groups::Widening;
use crate::profile::lint;
use crate::profile::reachable;
use crate::profile::read::read_profile;
use crate::record::agent::{AgentPlan, run_agent};
use crate::record::ebpf::DEFAULT_MAX_CLASSES;
use crate::record::ebpf::node::{NodePlan, run_node_agent};
use crate::record::enforce::Enforcement;
use crate::record::{self, BackendKind, RecordError, RecordPlan, signals};
use crate::review::describe::{audit_report, denial_line, denials_summary};
use crate::review::load;
use crate::review::{self, ReviewPlan};
use crate::trace::merge::{self, merge};
use crate::trace::model::Exit;
use crate::trace::read::{read_each, read_traces};

/// What a successful command concluded.
pub enum Verdict {
    /// Nothing to report (exit 0).
    Clean,
    /// A check found something (exit 1).
    Findings,
    /// End as the workload ended: its exit status, or death by the signal that killed it.
    Workload(Exit),
}

/// Parses the command line, runs it, and maps its outcome to the process exit code: 0 clean, 1 findings, 2
/// usage or input error, or the workload's own status. `--help` and `--version` print as clap prints them;
/// a usage error is one `trapline:` line, like every other error.
pub fn main(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        // `trapline` or `trapline import` alone: the help is the answer, on stderr, as a usage error.
        Err(err) if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            return ExitCode::from(2);
        }
        Err(err) => {
            say(args::one_line(&err));
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(Verdict::Clean) => ExitCode::SUCCESS,
        Ok(Verdict::Findings) => ExitCode::from(1),
        Ok(Verdict::Workload(exit)) => {
            // A workload killed by a signal makes trapline die by it too, its trace already written.
            if let Some(signal) = exit.signal.as_ref().map(|_| exit.status - 128).filter(|s| (1..64).contains(s)) {
                let _ = std::io::stdout().flush();
                signals::die_like(signal);
            }
            ExitCode::from(exit.status.clamp(0, 255) as u8)
        }
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

/// One `trapline: ...` line on standard error: summaries and warnings, never the command's output.
fn say(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "trapline: {line}");
}

pub fn run(args: Args) -> anyhow::Result<Verdict> {
    anstream::ColorChoice::from(args.color).write_global();
    match args.command {
        Command::Record(args) => run_record(args),
        Command::Profile(args) => run_profile(args),
        Command::Lint(args) => run_lint(args),
        Command::Merge(args) => run_merge(args),
        Command::Coverage(args) => run_coverage(args),
        Command::Diff(args) => run_diff(args),
        Command::Check(args) => run_check(args),
        Command::Run(args) => run_run(args),
        Command::Agent(args) => {
            match (args.backend, args.socket) {
                (AgentBackendArg::Ebpf, _) => {
                    let plan = NodePlan {
                        out: args.out,
                        under: args.under,
                        max_classes: args.max_classes,
                        state_roots: args.state_root,
                        select: args.select,
                    };
                    let written = run_node_agent(&plan)?;
                    say(format_args!("agent stopped; {written} trace(s) written"));
                }
                (AgentBackendArg::Notify, _) if args.under.is_some() || !args.select.is_empty() => {
                    anyhow::bail!("--under and --select need --backend ebpf")
                }
                (AgentBackendArg::Notify, Some(socket)) => {
                    run_agent(&AgentPlan { socket, out: args.out, call_sites: !args.no_call_sites })?
                }
                (AgentBackendArg::Notify, None) => anyhow::bail!("--backend notify needs --socket PATH"),
            }
            Ok(Verdict::Clean)
        }
        Command::Completions { shell } => pages::completions(shell),
        Command::Man { dir } => pages::man_pages(&dir),
        Command::K8sSnippet(args) => {
            print!("{}", k8s_snippet(&args.name));
            Ok(Verdict::Clean)
        }
        Command::Import(args) => run_import(args),
        Command::Runtime(args) => runtime::run_runtime(args),
        Command::Decode(args) => run_decode(args),
    }
}

fn run_record(args: RecordArgs) -> anyhow::Result<Verdict> {
    let backend: BackendKind = args.backend.into();
    if backend != BackendKind::Ptrace && (args.known.is_some() || args.container) {
        anyhow::bail!("--known and --container need --backend ptrace");
    }
    if backend != BackendKind::Ebpf && (args.cgroup.is_some() || args.max_classes.is_some()) {
        anyhow::bail!("--cgroup and --max-classes need --backend ebpf");
    }
    if args.duration.is_some() && args.cgroup.is_none() {
        anyhow::bail!("--duration needs --cgroup PATH (a command runs until it ends)");
    }
    let known = match &args.known {
        Some(path) => Some((path.clone(), known_filter(path)?)),
        None => None,
    };
    let plan = RecordPlan {
        progress: args.progress(),
        backend,
        command: args.command,
        results: args.results.into(),
        record_argv: args.record_argv,
        known,
        container: args.container,
        call_sites: !args.no_call_sites,
        cgroup: args.cgroup.map(|path| (path, args.duration.map(std::time::Duration::from_secs))),
        max_classes: args.max_classes.unwrap_or(DEFAULT_MAX_CLASSES),
    };
    let output = Output::prepare(&args.output)?;
    let trace = record::record(&plan)?;
    let exit = trace.runs[0].exit.clone();
    let status = exit.status;
    output
        .commit(&to_json(&trace))
        .map_err(|e| anyhow::anyhow!("{e}; the workload exited with {status}, its trace is lost"))?;
    if !args.quiet {
        say(record::summary(&trace, &output.name()));
    }
    Ok(Verdict::Workload(exit))
}

/// The `--known` filter, after saying which of the profile's names libseccomp left out.
fn known_filter(profile: &std::path::Path) -> Result<Vec<libc::sock_filter>, RecordError> {
    let (filter, warning) = record::known_filter(profile)?;
    if let Some(warning) = warning {
        say(format_args!("warning: {warning}"));
    }
    Ok(filter)
}

fn run_profile(args: ProfileArgs) -> anyhow::Result<Verdict> {
    let format = args.format()?;
    let output = Output::prepare_or_stdout(args.output.as_deref())?;
    if let (true, Some(listener)) = (args.recording, args.listener.as_deref()) {
        output.commit(&render(&recording_profile(listener, Arch::native()), &format))?;
        say(format_args!("warning: {}", crate::profile::lint::LISTENER_DROPPED));
        return Ok(Verdict::Clean);
    }
    let explain_output = args.explain.as_deref().map(Output::prepare).transpose()?;
    // Profiles among the inputs are extended: the fix loop (`profile OLD.json NEW.known.json`). Each input is
    // parsed as a trace once; only one that is no trace is tried as a profile, else its trace error stands.
    let (mut bases, mut traces) = (Vec::new(), Vec::new());
    for read in read_each(&args.traces) {
        match read {
            Ok(trace) => traces.push(trace),
            Err(error) => match error.not_a_trace().filter(|p| load::is_profile(p)) {
                Some(path) => bases.push((path.to_path_buf(), read_profile(path)?)),
                None => return Err(error.into()),
            },
        }
    }
    let mut plan = args.plan();
    for name in &args.include_reachable {
        plan.widen.push(reachable_widening(&traces, name, args.cache.dir().as_deref())?);
    }
    let generated = extend(&bases, &traces, &plan)?;
    for warning in &generated.warnings {
        say(format_args!("warning: {warning}"));
    }
    for line in widened(&generated) {
        say(line);
    }
    output.commit(&render(&generated.profile, &format))?;
    if let Some(explain_output) = explain_output {
        explain_output.commit(explain(&traces, &generated).as_bytes())?;
    }
    // Freeing hundreds of megabytes of parsed traces one allocation at a time costs a noticeable part of the
    // run; the process is about to exit and the kernel reclaims it all at once.
    std::mem::forget(generated);
    std::mem::forget(traces);
    Ok(Verdict::Clean)
}

/// `--include-reachable NAME`: what that binary's code can reach, as calls to allow without evidence.
fn reachable_widening(
    traces: &[(std::path::PathBuf, crate::trace::model::Trace)],
    name: &str,
    cache: Option<&std::path::Path>,
) -> anyhow::Result<Widening> {
    let (path, build_id) = reachable::resolve(traces, name)?;
    let arch = traces.iter().find_map(|(_, t)| t.arch()).unwrap_or(Arch::native());
    let (_, names, _) = reachable::reachable_of(&path, build_id.as_deref(), arch, cache)?;
    Ok(Widening {
        by: format!("--include-reachable {name}"),
        why: format!("what {} can reach (static analysis of its code)", path.display()),
        names: names.into_iter().collect(),
    })
}

fn run_lint(args: LintArgs) -> anyhow::Result<Verdict> {
    let output = Output::prepare_or_stdout(args.report.output.as_deref())?;
    let bytes = lint::read(&args.profile)?;
    let findings = lint::lint_bytes(&args.profile, &bytes, args.runtime.runtime())?;
    let report = match args.format {
        LintFormatArg::Text => lint::text(&args.profile, &findings),
        LintFormatArg::Json => lint::json(&args.profile, &findings),
        LintFormatArg::Sarif => review::sarif::lint(&args.profile, &bytes, &findings),
    };
    write_report(&output, &report)?;
    Ok(if findings.is_empty() { Verdict::Clean } else { Verdict::Findings })
}

fn run_merge(args: MergeArgs) -> anyhow::Result<Verdict> {
    let output = Output::prepare_or_stdout(args.output.as_deref())?;
    let merged = merge(read_traces(&args.traces)?)?;
    output.commit(&to_json(&merged))?;
    say(merge::summary(&merged, &output.name()));
    Ok(Verdict::Clean)
}

fn run_coverage(args: CoverageArgs) -> anyhow::Result<Verdict> {
    let output = Output::prepare_or_stdout(args.report.output.as_deref())?;
    let traces = read_traces(&args.traces)?;
    let mut report = coverage(&traces, args.target)?;
    if args.reachable {
        report.reachability = Some(reachable::reachability(&traces, args.cache.dir().as_deref()));
    }
    let text = match args.format {
        DiffFormatArg::Text => coverage::render::text(&report),
        DiffFormatArg::Markdown => coverage::render::markdown(&report, 1),
        DiffFormatArg::Json => coverage::render::json(&report),
    };
    write_report(&output, &text)?;
    say(coverage::render::summary(&report));
    Ok(Verdict::Clean)
}

fn run_diff(args: DiffArgs) -> anyhow::Result<Verdict> {
    let output = Output::prepare_or_stdout(args.report.output.as_deref())?;
    let outcome = review::review(&ReviewPlan::Diff { a: args.a, b: args.b, format: args.format.into() })?;
    write_review(&output, &outcome)?;
    Ok(if args.exit_code && outcome.findings { Verdict::Findings } else { Verdict::Clean })
}

fn run_check(args: CheckArgs) -> anyhow::Result<Verdict> {
    let output = Output::prepare_or_stdout(args.report.output.as_deref())?;
    let plan = ReviewPlan::Check { profile: args.profile, traces: args.traces, format: args.format.into() };
    let outcome = review::review(&plan)?;
    write_review(&output, &outcome)?;
    Ok(if outcome.findings { Verdict::Findings } else { Verdict::Clean })
}

/// Writes a review's report and its summary line on standard error, and appends the job summary to the file
/// GitHub Actions names in `$GITHUB_STEP_SUMMARY` (outside Actions it is not set, and nothing is written).
fn write_review(output: &Output, outcome: &review::Outcome) -> anyhow::Result<()> {
    write_report(output, &outcome.report)?;
    if let (Some(summary), Some(path)) = (&outcome.step_summary, std::env::var_os("GITHUB_STEP_SUMMARY")) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot write the job summary to {}: {e}", path.display()))?;
        file.write_all(summary.as_bytes())?;
    }
    say(&outcome.summary);
    Ok(())
}

/// A report to its output. On standard output anstream keeps its colours for a terminal (or --color always)
/// and strips them elsewhere, and a reader that went away (`| head`) is no error; a file gets plain text.
fn write_report(output: &Output, report: &str) -> anyhow::Result<()> {
    if !output.is_stdout() {
        output.commit(anstream::adapter::strip_str(report).to_string().as_bytes())?;
        return Ok(());
    }
    match anstream::stdout().lock().write_all(report.as_bytes()) {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => Ok(other?),
    }
}

fn run_run(args: RunArgs) -> anyhow::Result<Verdict> {
    if !args.audit {
        let enforcement = Enforcement::prepare(&args.profile, &args.command, !args.quiet)?;
        if let Some(warning) = &enforcement.warning {
            say(format_args!("warning: {warning}"));
        }
        let enforced = enforcement.run(&mut |class| say(denial_line(class)))?;
        if let Some(why) = &enforced.unreported {
            say(format_args!("warning: {why}"));
        }
        if let Some(summary) = denials_summary(&args.profile, &enforced.denied) {
            say(summary);
        }
        // The denials said what went wrong; without them, the audit can.
        if let Some(hint) = Enforcement::hint(&args.profile, &enforced.exit).filter(|_| enforced.denied.is_empty()) {
            say(hint);
        }
        return Ok(Verdict::Workload(enforced.exit));
    }
    let output = args.output.as_deref().map(Output::prepare).transpose()?;
    let plan = RecordPlan::audit(args.command, args.profile.clone(), known_filter(&args.profile)?);
    let denied = record::record(&plan)?;
    if let Some(output) = &output {
        output.commit(&to_json(&denied))?;
    }
    say(audit_report(&args.profile, &denied));
    Ok(Verdict::Workload(denied.runs[0].exit.clone()))
}

fn run_import(args: ImportArgs) -> anyhow::Result<Verdict> {
    let ImportFormat::Strace(args) = args.format;
    let output = Output::prepare(&args.output)?;
    let imported = crate::import::strace::import(&args.log)?;
    if args.strict {
        imported.strict(&args.log)?;
    }
    output.commit(&to_json(&imported.trace))?;
    say(imported.summary(&args.log, &output.name()));
    Ok(Verdict::Clean)
}

fn run_decode(args: DecodeArgs) -> anyhow::Result<Verdict> {
    use crate::decode::gpu::DeviceFamily;
    use crate::decode::lookup;
    let as_u32 = |text: &str| -> anyhow::Result<u32> {
        let value = lookup::number(text)?;
        u32::try_from(value).map_err(|_| anyhow::anyhow!("{text}: more than 32 bits"))
    };
    let named: Vec<(String, Option<String>)> = match args.what {
        DecodeWhat::Ioctl { requests, device } => {
            let family = match device.as_deref() {
                None => None,
                Some(d) => Some(
                    DeviceFamily::from_path(d.as_bytes()).or_else(|| DeviceFamily::from_name(d)).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--device {d}: neither a GPU device path nor a family (nvidia-frontend, amd-kfd, ...)"
                        )
                    })?,
                ),
            };
            let mut named = Vec::new();
            for r in &requests {
                let request = as_u32(r)?;
                named.push((format!("{request:#x}"), lookup::ioctl_request(request, family)));
            }
            named
        }
        DecodeWhat::RmControl { commands } => commands
            .iter()
            .map(|c| Ok((format!("{:#x}", as_u32(c)?), lookup::rm_control(as_u32(c)?).map(String::from))))
            .collect::<anyhow::Result<_>>()?,
        DecodeWhat::RmClass { classes } => classes
            .iter()
            .map(|c| Ok((format!("{:#x}", as_u32(c)?), lookup::rm_class(as_u32(c)?).map(String::from))))
            .collect::<anyhow::Result<_>>()?,
        DecodeWhat::Syscall { syscalls, arch } => {
            let arch = match arch.as_deref() {
                None => Arch::native(),
                Some(a) => Arch::ALL
                    .into_iter()
                    .find(|x| x.name() == a)
                    .ok_or_else(|| anyhow::anyhow!("--arch {a}: not one of x86_64, i386, x32, aarch64, arm"))?,
            };
            syscalls.iter().map(|s| (s.clone(), lookup::syscall(s, arch))).collect()
        }
    };
    let mut out = String::new();
    if args.format == DecodeFormatArg::Json {
        let rows: Vec<serde_json::Value> =
            named.iter().map(|(value, name)| serde_json::json!({"value": value, "name": name})).collect();
        out = serde_json::to_string_pretty(&rows)? + "\n";
    } else {
        for (value, name) in &named {
            out += &format!("{value} {}\n", name.as_deref().unwrap_or("unknown"));
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(if named.iter().any(|(_, name)| name.is_none()) { Verdict::Findings } else { Verdict::Clean })
}
