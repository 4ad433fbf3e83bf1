//! The command line: clap definitions, turned into plans for the library, and the one place that maps
//! outcomes and errors to exit codes.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::decode::table::Results;
use crate::record::{self, RecordError, RecordPlan};
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
            let code = err
                .downcast_ref::<RecordError>()
                .map(RecordError::exit_code)
                .unwrap_or(2);
            let _ = writeln!(std::io::stderr(), "trapline: {err:#}");
            ExitCode::from(code)
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<Verdict> {
    match args.command {
        Command::Record(args) => run_record(args),
    }
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
    };
    let output = Output::prepare(&args.output)?;
    let trace = record::record(&plan)?;
    output.commit(&to_json(&trace))?;
    if !args.quiet {
        let t = trace.run.totals;
        let _ = writeln!(
            std::io::stderr(),
            "trapline: recorded {} syscalls in {} classes from {} processes, {} threads{} -> {}",
            t.syscalls,
            t.classes,
            t.processes,
            t.threads,
            trace
                .run
                .incomplete
                .as_ref()
                .map(|r| format!(" (incomplete: {r})"))
                .unwrap_or_default(),
            output.path().display()
        );
    }
    Ok(Verdict::Workload(trace.run.exit.status))
}
