//! The values options take (`--format`, `--backend`, `--runtime`, ...), and what each means to the library.

use clap::ValueEnum;

use crate::decode::table::Results;
use crate::profile::deploy;
use crate::profile::generate::{DefaultAction, IoctlMode};
use crate::profile::runtime::Runtime;
use crate::record::BackendKind;
use crate::review::{CheckFormat, DiffFormat};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for anstream::ColorChoice {
    fn from(arg: ColorArg) -> anstream::ColorChoice {
        match arg {
            ColorArg::Auto => anstream::ColorChoice::Auto,
            ColorArg::Always => anstream::ColorChoice::Always,
            ColorArg::Never => anstream::ColorChoice::Never,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DecodeFormatArg {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiffFormatArg {
    Text,
    Markdown,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CheckFormatArg {
    Text,
    Sarif,
    Json,
    /// GitHub Actions annotations on the profile's lines, and a job summary where $GITHUB_STEP_SUMMARY is set.
    Github,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LintFormatArg {
    Text,
    Json,
    /// SARIF 2.1.0 for code scanning, each finding on its line of the profile.
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SpoApiArg {
    V1beta1,
    V1,
}

impl From<SpoApiArg> for deploy::SpoApi {
    fn from(arg: SpoApiArg) -> deploy::SpoApi {
        match arg {
            SpoApiArg::V1beta1 => deploy::SpoApi::V1beta1,
            SpoApiArg::V1 => deploy::SpoApi::V1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileFormat {
    Oci,
    Spo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AgentBackendArg {
    Notify,
    Ebpf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DefaultActionArg {
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
pub enum IoctlArg {
    Exact,
    Type,
    Any,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RuntimeArg {
    Runc,
    Crun,
    /// The workload runs without a container runtime, or the traces already hold the runtime's calls.
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendArg {
    /// ptrace with a SECCOMP_RET_TRACE filter: sees every call, with results.
    Ptrace,
    /// seccomp user notification: sees every call, without results; needs no ptrace permission beyond
    /// pidfd_getfd on its own child.
    Notify,
    /// eBPF on the raw_syscalls tracepoints, counted in the kernel: near-native cost; needs root (or CAP_BPF
    /// and CAP_PERFMON) and a kernel with BTF. Not seen: calls a seccomp filter denies, 32-bit calls'
    /// arguments, the NVIDIA RM command behind an ioctl.
    Ebpf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ResultsArg {
    Auto,
    All,
}

impl From<DefaultActionArg> for DefaultAction {
    fn from(arg: DefaultActionArg) -> DefaultAction {
        match arg {
            DefaultActionArg::Errno => DefaultAction::Errno,
            DefaultActionArg::KillProcess => DefaultAction::KillProcess,
            DefaultActionArg::Log => DefaultAction::Log,
            DefaultActionArg::Trap => DefaultAction::Trap,
        }
    }
}

impl From<IoctlArg> for IoctlMode {
    fn from(arg: IoctlArg) -> IoctlMode {
        match arg {
            IoctlArg::Exact => IoctlMode::Exact,
            IoctlArg::Type => IoctlMode::Type,
            IoctlArg::Any => IoctlMode::Any,
        }
    }
}

impl RuntimeArg {
    pub fn runtime(self) -> Option<Runtime> {
        match self {
            RuntimeArg::Runc => Some(Runtime::Runc),
            RuntimeArg::Crun => Some(Runtime::Crun),
            RuntimeArg::None => None,
        }
    }
}

impl From<BackendArg> for BackendKind {
    fn from(arg: BackendArg) -> BackendKind {
        match arg {
            BackendArg::Ptrace => BackendKind::Ptrace,
            BackendArg::Notify => BackendKind::Notify,
            BackendArg::Ebpf => BackendKind::Ebpf,
        }
    }
}

impl From<ResultsArg> for Results {
    fn from(arg: ResultsArg) -> Results {
        match arg {
            ResultsArg::Auto => Results::Auto,
            ResultsArg::All => Results::All,
        }
    }
}

impl From<DiffFormatArg> for DiffFormat {
    fn from(arg: DiffFormatArg) -> DiffFormat {
        match arg {
            DiffFormatArg::Text => DiffFormat::Text,
            DiffFormatArg::Markdown => DiffFormat::Markdown,
            DiffFormatArg::Json => DiffFormat::Json,
        }
    }
}

impl From<CheckFormatArg> for CheckFormat {
    fn from(arg: CheckFormatArg) -> CheckFormat {
        match arg {
            CheckFormatArg::Text => CheckFormat::Text,
            CheckFormatArg::Sarif => CheckFormat::Sarif,
            CheckFormatArg::Json => CheckFormat::Json,
            CheckFormatArg::Github => CheckFormat::Github,
        }
    }
}
