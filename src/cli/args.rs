//! What the command line accepts: clap definitions (whose doc comments are `--help`), and their translation
//! into the library's plans and options. Nothing here does any work.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};

pub use super::values::*;

use crate::files::output::STDIO;
use crate::profile::deploy::{self, Format};
use crate::profile::generate::ProfilePlan;
use crate::record::ebpf::DEFAULT_MAX_CLASSES;
use crate::record::progress::Progress;

use super::options::{CacheArg, GroupArg, annotation_selector, probability};

/// Record what a workload asks of the Linux kernel and turn it into the smallest OCI seccomp profile that
/// still lets it run.
#[derive(Debug, Parser)]
#[command(name = "trapline", version, max_term_width = 100)]
pub struct Args {
    /// When to colour output: `auto` for a terminal (NO_COLOR turns it off, CLICOLOR_FORCE on), or always, or
    /// never.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Accepts a bare seccomp profile, a bundle's config.json, a Security Profiles Operator SeccompProfile or
    /// a Kubernetes List of them (each item linted), in JSON; given a Kubernetes workload (Pod, Deployment, Job, ...) in JSON, it reports containers that
    /// run privileged (seccomp is then ignored) or Unconfined. Exit 1 when there are findings, 2 when the file
    /// cannot be read.
    Lint(LintArgs),
    /// Merge traces of several runs into one, keeping per-run provenance: each class says in how many runs
    /// it was seen. Order does not matter: any grouping of the same runs gives the same bytes.
    Merge(MergeArgs),
    /// Say how complete a set of recordings is: what each run added, the chance the next run needs something
    /// new, and which kinds of behaviour (processes, threads, IPC, networking, signals, files, GPUs) no run
    /// exercised.
    ///
    /// Runs count in the order given. A merged trace is one step (a merge keeps in how many runs a class was
    /// seen, not in which); a trace recorded with --known holds only what its profile lacked and counts
    /// towards what was added, not towards the estimate.
    Coverage(CoverageArgs),
    /// Show what changed between two traces, two profiles, or a profile and a trace, with decoded names.
    ///
    /// Each input is a trace or a profile in any form `run` reads, told apart by content. With a
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
    /// Name the values a profile or a bug report holds: ioctl requests, NVIDIA RM control commands and
    /// allocation classes, syscalls.
    ///
    /// One line per value, `VALUE NAME`, or `VALUE unknown` for a value no table knows (exit status 1 then).
    /// NVIDIA names renumbered between driver branches say which branch means which.
    Decode(DecodeArgs),
    /// Print the pod spec snippet for a Localhost profile, and where the profile file must go on the nodes.
    K8sSnippet(SnippetArgs),
    /// Record containers as their runtime runs them: listen on a socket for the runtime-spec `listenerPath`,
    /// supervise each container's seccomp notifications, and write one Trace per container.
    ///
    /// Containers must use the recording profile (`trapline profile --recording --listener PATH`). The agent
    /// must run before they start and outlive them: if it dies, their notified syscalls fail with ENOSYS.
    Agent(AgentArgs),
    /// Stand in for runc: record each container it creates into DIR/ID.json; pass other commands to runc.
    ///
    /// As Docker's runtime (daemon.json `runtimes`, `runtimeArgs`) or containerd's runc: docs/containers.md.
    Runtime(super::runtime::RuntimeArgs),
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
pub struct ImportArgs {
    #[command(subcommand)]
    pub format: ImportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// Read the log of `strace -f -o LOG COMMAND`.
    ///
    /// Each line becomes a call of the Trace, classified as `trapline record` classifies it. Any strace
    /// rendering is read: with or without timestamps, `-y`/`-yy` (then ioctl and mmap calls name their
    /// device, as recorded traces do; without it fds are followed through the log's opens), `-X raw` or
    /// `-X verbose` (needed for ioctl requests that strace names but trapline does not). Lines not
    /// understood are counted on standard error, by reason, with the first of them (`--strict` makes any an
    /// error). Calls of 32-bit processes are i386 only where strace's
    /// mode-switch notes are in the log, which they are without `-o` (`strace -f COMMAND 2> LOG`).
    ///
    /// gVisor's `runsc --strace` log (`runsc.log.*.boot`) is read too, told apart by its lines: each call's
    /// exit line, with the fd paths gVisor prints, and with `--debug` the NVIDIA RM control command or class
    /// nvproxy logs for it. From strace 6.10 on, the struct an NVIDIA RM ioctl points at is dumped
    /// (`-s 64` keeps it whole), and its command or class is read from the dump.
    Strace(ImportStraceArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportStraceArgs {
    /// The strace log.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,

    /// Where to write the Trace (JSON). Checked before the log is read; written atomically at the end.
    #[arg(short, long, value_name = "FILE", default_value = "trace.json")]
    pub output: PathBuf,

    /// Fail (exit status 2, no Trace written) if any line of the log is not understood, naming the first.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    #[command(subcommand)]
    pub what: DecodeWhat,

    /// `text`: one `VALUE NAME` line per value; `json`: an array of `{"value", "name"}` (`name` null when
    /// unknown).
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub format: DecodeFormatArg,
}

#[derive(Debug, Subcommand)]
pub enum DecodeWhat {
    /// ioctl requests (`0xc020462a`, `3223340586`): on a device, or, without --device, those that mean the same
    /// on every fd and those whose driver the request alone settles.
    Ioctl {
        #[arg(value_name = "REQUEST", required = true)]
        requests: Vec<String>,
        /// The device the requests go to: its path (`/dev/nvidiactl`) or its family as traces name it
        /// (`nvidia-frontend`, `nvidia-uvm`, `amd-kfd`, `drm`, `amdgpu`, ...).
        #[arg(long, value_name = "PATH|FAMILY")]
        device: Option<String>,
    },
    /// NVIDIA RM control commands (`NVOS54.cmd`, as `0x20800110`).
    RmControl {
        #[arg(value_name = "CMD", required = true)]
        commands: Vec<String>,
    },
    /// NVIDIA RM allocation classes (`hClass`, as `0xc7c0`).
    RmClass {
        #[arg(value_name = "CLASS", required = true)]
        classes: Vec<String>,
    },
    /// Syscalls: a name gives its number, a number its name.
    Syscall {
        #[arg(value_name = "NAME|NR", required = true)]
        syscalls: Vec<String>,
        /// The architecture whose table to use: x86_64, i386, x32, aarch64, arm (default: this machine's).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The profile: a seccomp JSON object, a bundle's config.json, an SPO SeccompProfile, or a List of one.
    #[arg(long, value_name = "PROFILE")]
    pub profile: PathBuf,

    /// Report what the profile would deny instead of denying it.
    #[arg(long)]
    pub audit: bool,

    /// With --audit: also write the calls it would deny as a Trace.
    #[arg(short, long, value_name = "FILE", requires = "audit")]
    pub output: Option<PathBuf>,

    /// Do not name denied calls as they happen: the workload then runs untraced and the kernel alone enforces
    /// the profile. Needed for workloads that trace themselves (gdb, strace, `trapline record`), since a
    /// traced process cannot trace.
    #[arg(short, long, conflicts_with = "audit")]
    pub quiet: bool,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Where a review command writes its report.
#[derive(Debug, clap::Args)]
pub struct ReportOutput {
    /// Write the report to FILE instead of standard output: atomically, and only when the command could
    /// read its inputs (so a CI step never uploads an empty report).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub report: ReportOutput,

    /// The old side: a trace or a profile (plain, a bundle config.json, an SPO object, a List of one).
    #[arg(value_name = "A")]
    pub a: PathBuf,

    /// The new side: a trace or a profile (plain, a bundle config.json, an SPO object, a List of one).
    #[arg(value_name = "B")]
    pub b: PathBuf,

    /// How to write the report: text (coloured on a terminal), markdown (a pull-request comment), json.
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Text)]
    pub format: DiffFormatArg,

    /// Exit 1 when the inputs differ (something added or removed), as `git diff --exit-code` does.
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub report: ReportOutput,

    /// The seccomp profile to check against (plain, a bundle config.json, an SPO object, a List of one).
    #[arg(long, value_name = "PROFILE")]
    pub profile: PathBuf,

    /// How to write the findings: one line each, SARIF 2.1.0 for code-scanning upload, one JSON document, or
    /// GitHub Actions annotations (no code scanning needed).
    #[arg(long, value_enum, default_value_t = CheckFormatArg::Text)]
    pub format: CheckFormatArg,

    /// Traces of the runs to check (recordings or merges).
    #[arg(required = true, value_name = "TRACE")]
    pub traces: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub report: ReportOutput,

    /// Traces of the runs, in the order they were recorded (recordings, merges, --known recordings).
    #[arg(required = true, value_name = "TRACE")]
    pub traces: Vec<PathBuf>,

    /// How to write the report: text, markdown (a pull-request comment), json.
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Text)]
    pub format: DiffFormatArg,

    /// The chance that the next run needs something new that counts as small: the report says how many
    /// further runs would bring the estimate there.
    #[arg(long, value_name = "P", default_value_t = 0.05, value_parser = probability)]
    pub target: f64,

    /// Also read every executable and library the traces name (as found on this machine) and list the
    /// syscalls their code can reach that no run made: imported libc wrappers and `syscall` instructions with
    /// a constant number (x86_64).
    #[arg(long)]
    pub reachable: bool,

    #[command(flatten)]
    pub cache: CacheArg,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Traces to merge (recordings or earlier merges; each run may appear once).
    #[arg(required = true, value_name = "TRACE")]
    pub traces: Vec<PathBuf>,

    /// Where to write the merged trace; standard output when absent.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub report: ReportOutput,

    /// The profile to check.
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,

    /// How to write the findings: one line each, one JSON document for machines, or SARIF 2.1.0.
    #[arg(long, value_enum, default_value_t = LintFormatArg::Text)]
    pub format: LintFormatArg,

    /// The container runtime that will load the profile: what it calls after loading the filter must be
    /// allowed, or the container cannot start.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Runc)]
    pub runtime: RuntimeArg,
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// Traces written by `trapline record`; each counts as one run. A profile among them is extended: its
    /// entries are kept and what the traces add is allowed too (`profile OLD.json NEW.json`, NEW recorded
    /// with `record --known OLD.json`).
    #[arg(required_unless_present = "recording", value_name = "TRACE")]
    pub traces: Vec<PathBuf>,

    /// Instead of a profile from traces, the recording profile for `trapline agent`: everything allowed, and
    /// every syscall but `write` (which runc refuses to notify) sent to the agent listening at --listener.
    #[arg(long, requires = "listener", conflicts_with = "traces")]
    pub recording: bool,

    /// With --recording: the agent's socket (`trapline agent --socket PATH`), as the runtime sees the path.
    #[arg(long, value_name = "PATH")]
    pub listener: Option<String>,

    /// Where to write the profile; standard output when absent.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// What happens to a syscall the profile does not list.
    #[arg(long, value_enum, default_value_t = DefaultActionArg::Errno)]
    pub default_action: DefaultActionArg,

    /// How finely ioctl is filtered: per request code, per driver type byte, or not at all.
    #[arg(long, value_enum, default_value_t = IoctlArg::Exact)]
    pub ioctl: IoctlArg,

    /// Add what this container runtime does between loading the filter and exec'ing the workload.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Runc)]
    pub runtime: RuntimeArg,

    /// Accept traces recorded on different architectures (the profile lists all of them).
    #[arg(long)]
    pub allow_mixed_arch: bool,

    /// Ignore the size bits of every NVIDIA frontend ioctl request, so the profile survives driver updates
    /// that change a parameter struct's size. Commands whose size varies with the GPU count are always
    /// compared without size.
    #[arg(long)]
    pub gpu_portable: bool,

    /// Keep io_uring where the runs used it. By default it is denied with ENOSYS (libuv and liburing then use
    /// plain syscalls), because what a workload submits through a ring is never seen by seccomp.
    #[arg(long)]
    pub allow_io_uring: bool,

    /// Allow the calls that a seccomp filter in force denied when they were recorded (a container's profile,
    /// one the workload loaded itself). By default they stay denied, with the errno the workload got: it ran
    /// without them.
    #[arg(long)]
    pub allow_denied: bool,
    /// Allow a group of calls no run made, for an error or shutdown path healthy runs do not take: `signals`
    /// (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open, pidfd_send_signal, wait4, waitid:
    /// stopping and reaping workers after Ctrl-C or a timeout), `cleanup` (unlink, unlinkat, rmdir: removing
    /// temporary files). Each added rule is named on standard error and in the explain report as widened.
    #[arg(long, value_enum, value_name = "GROUP")]
    pub allow_group: Vec<GroupArg>,

    /// Allow what a library or executable the traces name can reach (its imported libc wrappers and constant
    /// `syscall` instructions, x86_64), beyond what the runs made: a path, or a file name such as
    /// `libgloo.so`. Each added rule is named on standard error and in the explain report as widened.
    #[arg(long, value_name = "LIB")]
    pub include_reachable: Vec<String>,

    #[command(flatten)]
    pub cache: CacheArg,

    /// Also write a Markdown report that says why each rule is there.
    #[arg(long, value_name = "FILE.md")]
    pub explain: Option<PathBuf>,

    /// `oci`: the runtime-spec seccomp JSON (Docker, runc, a kubelet Localhost profile). `spo`: a Security
    /// Profiles Operator SeccompProfile object in YAML, for `kubectl apply`.
    #[arg(long, value_enum, default_value_t = ProfileFormat::Oci)]
    pub format: ProfileFormat,

    /// With `--format spo`: the object's name (a DNS-1123 subdomain, e.g. `pytorch-train`).
    #[arg(long, required_if_eq("format", "spo"), value_parser = deploy::object_name)]
    pub name: Option<String>,

    /// With `--format spo`: the object's namespace.
    #[arg(long, requires = "name", value_parser = deploy::namespace)]
    pub namespace: Option<String>,

    /// With `--format spo`: the SeccompProfile API version. `v1beta1` is served by every operator release
    /// (and converted by those that store `v1`); `v1` is the storage version of newer releases, where a
    /// SeccompProfile is cluster-scoped and so takes no --namespace.
    #[arg(long, value_enum, default_value_t = SpoApiArg::V1beta1, requires = "name")]
    pub spo_api: SpoApiArg,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// `notify`: serve containers whose profile notifies their calls to --socket (the runtime's listenerPath).
    /// `ebpf`: record every cgroup created from now on (each container a runtime starts) in the kernel, with
    /// no runtime configuration; needs root (or CAP_BPF, CAP_PERFMON) and a kernel with BTF.
    #[arg(long, value_enum, default_value_t = AgentBackendArg::Notify)]
    pub backend: AgentBackendArg,

    /// With --backend notify: the unix socket to listen on (the profile's listenerPath).
    #[arg(long, value_name = "PATH", required_if_eq("backend", "notify"))]
    pub socket: Option<PathBuf>,

    /// With --backend ebpf: write traces only for cgroups below this cgroup v2 directory (e.g. the kubepods
    /// slice).
    #[arg(long, value_name = "DIR")]
    pub under: Option<PathBuf>,

    /// With --backend ebpf: only containers whose OCI annotations have KEY (equal to VALUE, where given) get a
    /// trace; repeat to require several. The annotations come from the bundle the runtime's state names:
    /// containerd's CRI always passes `io.kubernetes.cri.sandbox-namespace`, `-sandbox-name` and
    /// `-container-name`; a pod's own annotations only where the runtime passes them (containerd's
    /// `pod_annotations`, CRI-O's `allowed_annotations`).
    #[arg(long, value_name = "KEY[=VALUE]", value_parser = annotation_selector)]
    pub select: Vec<(String, Option<String>)>,

    /// With --backend ebpf: a runtime state directory (one subdirectory per container, as runc's `--root`) to
    /// find containers in, besides /run/runc, /run/crun, /run/docker/runtime-runc/* and /run/containerd/runc/*.
    #[arg(long, value_name = "DIR")]
    pub state_root: Vec<PathBuf>,

    /// With --backend ebpf: room in the kernel for this many distinct call classes across the containers
    /// recording at once (and as many results). What does not fit is counted, and the traces it belonged to
    /// are marked incomplete.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLASSES, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_classes: u32,

    /// The directory to write one Trace per container into (`ID.json`, or `POD-CONTAINER-ID.json` for
    /// Kubernetes pods).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Do not resolve call sites.
    #[arg(long)]
    pub no_call_sites: bool,
}

#[derive(Debug, clap::Args)]
pub struct SnippetArgs {
    /// The profile's name on the nodes: it is installed as /var/lib/kubelet/seccomp/profiles/NAME.json.
    #[arg(value_name = "NAME", value_parser = deploy::profile_file_name)]
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Where to write the Trace (JSON). Checked before the workload starts; written atomically at the end.
    #[arg(short, long, value_name = "FILE", default_value = "trace.json")]
    pub output: PathBuf,

    /// How syscalls are observed.
    #[arg(long, value_enum, default_value_t = BackendArg::Ptrace)]
    pub backend: BackendArg,

    /// Which syscall results (error counts) to collect: `auto` for fd-creating calls, ioctl and exec (one
    /// extra stop for those only), `all` for every call (two stops per syscall).
    #[arg(long, value_enum, default_value_t = ResultsArg::Auto)]
    pub results: ResultsArg,

    /// Keep the whole command line in the Trace. By default only argv[0] is kept: arguments can hold
    /// secrets, and traces are meant to be committed.
    #[arg(long)]
    pub record_argv: bool,

    /// Do not print the summary line on stderr, nor the status line a terminal gets while recording.
    #[arg(short, long)]
    pub quiet: bool,

    /// Print each new call class on stderr as it is first seen (about once a second).
    #[arg(short, long)]
    pub verbose: bool,

    /// While recording, write the trace so far to the output file every SECS seconds, marked incomplete, so a
    /// recorder killed by SIGKILL or the OOM killer still leaves what it saw. 0 turns it off; so does `-o -`.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub checkpoint: u64,

    /// Record only what this profile does not already allow: everything it allows runs untraced, at native
    /// speed, and the trace holds exactly what is new.
    #[arg(long, value_name = "PROFILE")]
    pub known: Option<PathBuf>,

    /// The command is a container runtime run (`runc run -b BUNDLE ID`, or crun's): record what the container
    /// does from the moment its init process loads its seccomp filter, the runtime's last steps included, and
    /// nothing of the runtime's setup before it. The profile needs no runtime list (`--runtime none`).
    #[arg(long)]
    pub container: bool,

    /// Do not resolve call sites (the library, function and caller of each class's first call).
    #[arg(long)]
    pub no_call_sites: bool,

    /// With --backend ebpf: record the processes of a running cgroup (a container's cgroup v2 directory, e.g.
    /// /sys/fs/cgroup/system.slice/docker-ID.scope) instead of starting a command, until it has no process
    /// left, --duration has passed, or trapline is interrupted. What they did before is not in the trace.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["command", "known", "container"])]
    pub cgroup: Option<PathBuf>,

    /// With --cgroup: stop recording after this many seconds.
    #[arg(long, value_name = "SECS", requires = "cgroup")]
    pub duration: Option<u64>,

    /// With --backend ebpf: room in the kernel for this many distinct call classes (and as many results;
    /// default 65536). A workload with more is recorded as far as they fit, and the trace is marked incomplete
    /// with how many calls were lost.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_classes: Option<u32>,

    /// The command to run, after `--`.
    #[arg(last = true, required_unless_present = "cgroup", value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

impl ProfileArgs {
    pub fn plan(&self) -> ProfilePlan {
        ProfilePlan {
            default_action: self.default_action.into(),
            ioctl: self.ioctl.into(),
            runtime: self.runtime.runtime(),
            allow_mixed_arch: self.allow_mixed_arch,
            gpu_portable: self.gpu_portable,
            allow_io_uring: self.allow_io_uring,
            allow_denied: self.allow_denied,
            widen: self.allow_group.iter().map(|g| g.group().widening()).collect(),
        }
    }

    /// The form to write; `--name` is required with `--format spo`, so an SPO object always has one.
    /// A namespace for a cluster-scoped `v1` object is refused: the API server would refuse it later.
    pub fn format(&self) -> anyhow::Result<Format> {
        if let (SpoApiArg::V1, Some(namespace)) = (self.spo_api, &self.namespace) {
            anyhow::bail!(
                "--namespace {namespace}: a v1 SeccompProfile is cluster-scoped and has no namespace; drop \
                 --namespace, or write --spo-api v1beta1 for an operator whose profiles are namespaced"
            );
        }
        Ok(self.format_unchecked())
    }

    fn format_unchecked(&self) -> Format {
        match (self.format, &self.name) {
            (ProfileFormat::Spo, Some(name)) => {
                Format::Spo { name: name.clone(), namespace: self.namespace.clone(), api: self.spo_api.into() }
            }
            _ => Format::Oci,
        }
    }
}

impl RecordArgs {
    /// What to say and save while recording: a status line only for a person at a terminal.
    pub fn progress(&self) -> Progress {
        let to_file = self.output != Path::new(STDIO);
        Progress {
            status_line: !self.quiet && std::io::stderr().is_terminal(),
            verbose: self.verbose,
            checkpoint: (to_file && self.checkpoint > 0)
                .then(|| (self.output.clone(), Duration::from_secs(self.checkpoint))),
        }
    }
}

/// A clap error as one line: the problem, its details and tips, and the usage, without the blank lines and
/// the "For more information" footer (`--help` is where a user looks anyway).
pub fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let (mut problem, mut tips, mut usage) = (Vec::new(), Vec::new(), None);
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(text) = line.strip_prefix("Usage: ") {
            usage = Some(text.to_string());
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(tip.to_string());
        } else if !line.starts_with("For more information") {
            problem.push(line.strip_prefix("error: ").unwrap_or(line).trim_end_matches(':').to_string());
        }
    }
    let mut text = problem.join(": ");
    for tip in tips {
        text.push_str("; ");
        text.push_str(&tip);
    }
    if let Some(usage) = usage {
        text.push_str(&format!(" (usage: {usage})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_read_as_one_line() {
        let err = Args::try_parse_from(["trapline", "record"]).unwrap_err();
        assert_eq!(
            one_line(&err),
            "the following required arguments were not provided: <COMMAND>... (usage: trapline record -- <COMMAND>...)"
        );
        let err = Args::try_parse_from(["trapline", "record", "--results", "bogus", "--", "true"]).unwrap_err();
        assert_eq!(one_line(&err), "invalid value 'bogus' for '--results <RESULTS>': [possible values: auto, all]");
        let err = Args::try_parse_from(["trapline", "record", "--no-call-site", "--", "true"]).unwrap_err();
        let line = one_line(&err);
        assert!(line.starts_with("unexpected argument '--no-call-site' found; a similar argument exists"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

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
