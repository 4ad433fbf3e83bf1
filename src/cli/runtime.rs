//! `trapline runtime`: a stand-in for runc. A container that `create` or `run` starts is recorded, by tracing
//! runc from the call (as `record --container` does) in a process that outlives the `create` call and writes
//! the container's trace when it ends; every other runc command is runc itself, by exec, untouched.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use std::ffi::OsString;
use std::path::PathBuf;

use super::Verdict;
use crate::files::json::to_json;
use crate::files::output::Output;
use crate::record::runtime::{Creation, creation, trace_file, writable};
use crate::record::{self, BackendKind, RecordPlan};

#[derive(Debug, clap::Args)]
pub struct RuntimeArgs {
    /// The directory to write one Trace per container into (`ID.json`, or `POD-CONTAINER-ID.json` for
    /// Kubernetes pods).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// The runc to run.
    #[arg(long, value_name = "PATH", default_value = "runc")]
    pub runc: PathBuf,

    /// Do not resolve call sites.
    #[arg(long)]
    pub no_call_sites: bool,

    /// runc's command line, as the engine gives it (`--root DIR create --bundle DIR ID`, `start ID`, ...).
    #[arg(value_name = "RUNC_ARGS", allow_hyphen_values = true, num_args = 1.., required = true)]
    pub args: Vec<OsString>,
}

/// How long `create` may take before the engine is told it failed, rather than waiting for ever.
const CREATE_LIMIT: Duration = Duration::from_secs(120);

pub fn run_runtime(args: RuntimeArgs) -> anyhow::Result<Verdict> {
    let Some(created) = creation(&args.args) else {
        let err = std::process::Command::new(&args.runc).args(&args.args).exec();
        anyhow::bail!("cannot run {}: {err}; give runc's path with --runc", args.runc.display());
    };
    if let Err(e) = writable(&args.out) {
        let reason = format!(
            "trapline runtime: cannot write container traces into {}: {e}; make it writable or change --out",
            args.out.display()
        );
        log_error(&created, &reason);
        anyhow::bail!("{}", reason.trim_start_matches("trapline "));
    }
    let output = args.out.join(trace_file(&created));
    let mut command = vec![args.runc.clone().into_os_string()];
    command.extend(args.args.iter().cloned());
    let plan = RecordPlan {
        backend: BackendKind::Ptrace,
        command,
        results: crate::decode::table::Results::Auto,
        record_argv: false,
        known: None,
        container: true,
        call_sites: !args.no_call_sites,
        progress: record::progress::Progress::default(),
        cgroup: None,
        max_classes: record::ebpf::DEFAULT_MAX_CLASSES,
    };
    if created.verb == "run" {
        let trace = record::record(&plan)?;
        Output::prepare(&output)?.commit(&to_json(&trace))?;
        return Ok(Verdict::Workload(trace.runs[0].exit.clone()));
    }
    // SAFETY: nothing else runs in this process yet: no thread holds a lock the child could need.
    match unsafe { libc::fork() } {
        -1 => anyhow::bail!("runtime: cannot fork the recorder: {}", std::io::Error::last_os_error()),
        0 => recorder(&plan, &output, &created),
        child => created_or_failed(child, &created, &args.runc),
    }
}

/// Puts `reason` where the engine looks for why its runtime failed: runc's `--log` file, as runc writes it
/// with `--log-format json` (the engine shows its last error), and standard error.
fn log_error(created: &Creation, reason: &str) {
    let value = |flag: &str| {
        let at = created.globals.iter().position(|a| a == flag)?;
        created.globals.get(at + 1).cloned()
    };
    let Some(log) = value("--log") else { return };
    let line = if value("--log-format").is_some_and(|f| f == "json") {
        let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        format!("{}\n", serde_json::json!({"level": "error", "msg": reason, "time": time.to_string()}))
    } else {
        format!("{reason}\n")
    };
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log);
    let _ = file.and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
}

/// The recording process: it traces `runc create`, then the container, and writes the trace when the container
/// ends. It lets go of the engine's stdio as soon as runc has it, so the engine never waits on the recorder.
fn recorder(plan: &RecordPlan, output: &Path, created: &Creation) -> ! {
    // SAFETY: setsid only detaches this process from the engine's session.
    unsafe { libc::setsid() };
    std::thread::spawn(|| {
        let start = Instant::now();
        while !has_child() && start.elapsed() < CREATE_LIMIT {
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
            use std::os::fd::AsRawFd;
            for fd in 0..3 {
                // SAFETY: replaces a standard descriptor with /dev/null; nothing here reads or writes them.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
        }
    });
    let code = match record::record(plan) {
        Ok(trace) if trace.runs[0].exit.status == 0 => {
            let written = Output::prepare(output).and_then(|out| out.commit(&to_json(&trace)));
            i32::from(written.is_err())
        }
        Ok(trace) => trace.runs[0].exit.status,
        Err(e) => {
            log_error(created, &format!("trapline runtime: cannot record {}: {e}", created.id));
            2
        }
    };
    // SAFETY: ends this process without running the parent's exit handlers a second time.
    unsafe { libc::_exit(code) }
}

/// Whether this process has started a child yet (then the child holds its own copy of the stdio).
fn has_child() -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return true };
    tasks
        .flatten()
        .any(|task| std::fs::read_to_string(task.path().join("children")).is_ok_and(|c| !c.trim().is_empty()))
}

/// Waits until the container is created (its pid file written, or runc says so) and then answers the engine
/// as runc would; if the recorder ends first, runc's create failed, with its status.
fn created_or_failed(recorder: libc::pid_t, created: &Creation, runc: &Path) -> anyhow::Result<Verdict> {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waits only for our own child, without blocking.
        if unsafe { libc::waitpid(recorder, &mut status, libc::WNOHANG) } == recorder {
            let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 1 };
            return Ok(Verdict::Workload(crate::trace::model::Exit { status: code.max(1), signal: None }));
        }
        if is_created(created, runc) {
            return Ok(Verdict::Clean);
        }
        if start.elapsed() > CREATE_LIMIT {
            anyhow::bail!("runtime: runc create of {} took over {}s", created.id, CREATE_LIMIT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn is_created(created: &Creation, runc: &Path) -> bool {
    match &created.pid_file {
        Some(path) => std::fs::read_to_string(path).is_ok_and(|pid| !pid.trim().is_empty()),
        None => std::process::Command::new(runc)
            .args(&created.globals)
            .args(["state", &created.id])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("\"created\"")),
    }
}
