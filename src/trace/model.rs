//! The Trace: what one or more runs of a workload asked of the kernel, aggregated per call class.
//!
//! This is the on-disk format (`docs/trace-format.md` is its user-facing description). `schema` is bumped on
//! any change a reader of the previous version would misread; readers refuse a newer schema rather than guess.
//! A Trace never holds environment values, file contents or I/O buffers, and argv only when asked for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::arch::Arch;
use crate::decode::gpu::DeviceFamily;
use crate::decode::ioctl::Ioc;
use crate::decode::table::Results;

pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub schema: u32,
    /// The runs this trace holds: one for a recording, several for a merge of recordings.
    pub runs: Vec<Run>,
    pub classes: Vec<Class>,
}

impl Trace {
    /// The native architecture of the runs (all runs of one trace share it, merge makes sure).
    pub fn arch(&self) -> Option<Arch> {
        self.runs.first().map(|r| r.arch)
    }
}

/// Facts about the run as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// A unique id, so a merge can tell a run it already holds from a new one.
    pub id: String,
    /// The trapline version that recorded it.
    pub trapline: String,
    pub backend: Backend,
    /// The architecture of the machine (the native audit arch); calls may come from its compat arches too.
    pub arch: Arch,
    /// `uname -r` of the recording machine.
    pub kernel: String,
    /// argv[0] only, unless recorded with `--record-argv`.
    pub command: Vec<Text>,
    /// RFC 3339, UTC.
    pub started: String,
    pub duration_secs: f64,
    pub exit: Exit,
    /// False when the recording may have missed calls: trapline was interrupted or the workload was killed.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    pub results: Results,
    /// Recorded with `--known PROFILE`: calls that profile allows were not recorded, only what is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<Text>,
    /// Recorded with `--container`: the runtime (`runc`, `crun`) the container ran under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Syscalls this recording could not see, which a profile must allow anyway (an agent recording cannot
    /// see `write`: runc refuses to notify it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unobserved: Vec<String>,
    pub totals: Totals,
    /// GPU facts of the recording machine; absent where it has no GPU driver and the workload used none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuFacts>,
    /// Seccomp filters other than trapline's that were in force: the workload's calls were recorded through
    /// them. Absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

/// The seccomp filters a run was recorded through.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// trapline itself ran under a filter (a container's, or another trapline's), which the workload inherited.
    pub inherited: bool,
    /// How many filters the workload loaded itself (a container runtime loads the container's).
    pub loaded: u64,
    /// Whether the calls those filters denied are marked in their classes' `denied`. False where trapline could
    /// not read the filters (it ran under one itself, or without CAP_SYS_ADMIN): the calls are still recorded,
    /// with the errors they got.
    pub attributed: bool,
    /// Whether the calls those filters denied are in the trace at all: the notify backend never sees them.
    pub seen: bool,
}

/// How a run's calls were observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// `trapline record`: ptrace, with results.
    #[serde(rename = "ptrace")]
    Ptrace,
    /// `trapline record --backend notify`: seccomp user notification, no results.
    #[serde(rename = "notify")]
    Notify,
    /// `trapline record --backend ebpf`: the raw_syscalls tracepoints, counted in the kernel.
    #[serde(rename = "ebpf")]
    Ebpf,
    /// `trapline agent`: seccomp user notification through a container runtime's `listenerPath`.
    #[serde(rename = "notify-agent")]
    NotifyAgent,
    /// `trapline import strace`: a log written by strace.
    #[serde(rename = "strace-import")]
    StraceImport,
}

/// What GPU software a run met: profiles are tied to the driver branch, so traces say which one it was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuFacts {
    /// The NVIDIA kernel driver version (`/proc/driver/nvidia/version`, `/sys/module/nvidia/version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvidia_driver: Option<String>,
    /// GPU device nodes present on the machine (`/dev/nvidia*`, `/dev/kfd`, `/dev/dri/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// GPU driver libraries the workload mapped (`libcuda.so.550.54.15`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
}

/// How the workload ended, as a shell reports it: `status` is the exit code, or 128+N for death by signal N.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    pub status: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub syscalls: u64,
    pub classes: u64,
    pub processes: u64,
    pub threads: u64,
}

/// One call class: a syscall on one architecture with the argument values a seccomp rule can test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Class {
    pub syscall: String,
    pub arch: Arch,
    pub nr: u64,
    pub args: Vec<Arg>,
    /// What the fd argument pointed at (ioctl, file mmap): for review, seccomp cannot test it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<FdDesc>,
    pub count: u64,
    /// In how many of the trace's runs the class was seen ("seen in 3 of 5 runs").
    pub runs: u64,
    /// Present when the tracer saw results for this class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Outcomes>,
    /// How many distinct processes made the call.
    pub processes: u64,
    /// The first few process ids (thread-group ids) that made it, ascending.
    pub pids: Vec<u32>,
    /// The executables that made it, sorted.
    pub exes: Vec<Text>,
    /// Where the first call of the class was made: the library and function of the syscall instruction, and
    /// the caller one frame up (an ioctl through libc's wrapper shows the library that called the wrapper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<CallSite>,
    pub first_seen_secs: f64,
    /// Calls of the class that a seccomp filter already in force denied, by its answer as a profile writes it
    /// (`SCMP_ACT_ERRNO(EPERM)`): they never ran, and the workload went on without them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub denied: BTreeMap<String, u64>,
}

impl Class {
    /// Whether every call of the class was denied by a filter in force when it was recorded.
    pub fn wholly_denied(&self) -> bool {
        !self.denied.is_empty() && self.denied.values().sum::<u64>() >= self.count
    }
}

/// Where a syscall was made: the instruction after the syscall, and the caller one frame up when it could be found.
///
/// # Format
///
/// [`Location`] and [`CallSite`] serialize for the Trace JSON as:
/// ```json
/// {"at": {"library": "/usr/lib/x86_64-linux-gnu/libc.so.6", "soname": "libc.so.6",
///         "build_id": "4f2c…", "symbol": "ioctl", "offset": "0xb"},
///  "caller": {"library": "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "soname": "libcuda.so.1",
///             "offset": "0x2a31c7"}}
/// ```
/// `library` is the path as `/proc/PID/maps` shows it, in [`Text`]'s bytes form when it is not UTF-8; it may end in
/// ` (deleted)`. Mappings without a file are named by the kernel's pseudo-path (`[vdso]`, `[vsyscall]`,
/// `[anon:NAME]`), or `[anon]` when they have none (JIT code); those never have a symbol. `offset` is hex: from the
/// symbol's start when there is a symbol, else the ELF virtual address in the file, else (file not readable as
/// ELF) the file offset, and for mappings without a file the offset from the mapping's start.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CallSite {
    pub at: Location,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub caller: Option<Location>,
}

impl CallSite {
    /// Where the call came from, for one line of a report: the caller when it is in another library than the
    /// syscall instruction (an ioctl through libc's wrapper, called by libcuda), else the instruction itself.
    pub fn origin(&self) -> &Location {
        match &self.caller {
            Some(caller) if caller.library != self.at.library => caller,
            _ => &self.at,
        }
    }
}

/// A resolved code address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The mapped file's path as `/proc/PID/maps` shows it, or the mapping's pseudo-path (`[vdso]`, `[anon]`).
    pub library: Text,
    /// The file's `DT_SONAME`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub soname: Option<String>,
    /// The file's GNU build-id (`NT_GNU_BUILD_ID` note), lowercase hex as `readelf -n` prints it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub build_id: Option<String>,
    /// The function containing the address: the nearest function symbol at or before it, from `.symtab` if the
    /// file has one, else `.dynsym`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub symbol: Option<String>,
    /// Hex offset from the symbol's start; without a symbol, see the format of [`CallSite`].
    pub offset: String,
}

impl std::fmt::Display for Location {
    /// `libc.so.6 ioctl+0x3b`: the soname (or file name) and the function, else the offset.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.library.to_string();
        let name = self.soname.clone().unwrap_or_else(|| path.rsplit('/').next().unwrap_or(&path).to_string());
        match &self.symbol {
            Some(symbol) => write!(f, "{name} {symbol}+{}", self.offset),
            None => write!(f, "{name}+{}", self.offset),
        }
    }
}

/// One decoded argument of a class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arg {
    /// The syscall argument index a seccomp rule compares; absent when the value was read from memory.
    #[serde(default)]
    pub index: Option<u8>,
    pub name: String,
    /// The value as seccomp compares it (the low 32 bits for C `int` arguments).
    pub value: Hex,
    /// The full 64-bit register when it differs from `value` (sign extension, junk in the high half).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Hex>,
    pub decoded: String,
    /// ioctl requests: the generic `_IOC` split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ioc: Option<Ioc>,
    /// Set when the value could not be read from the caller's memory (the errno name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A u64 written as a `0x` hex string, the way request codes and flag words are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hex(pub u64);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let digits = text
            .strip_prefix("0x")
            .ok_or_else(|| serde::de::Error::custom(format!("expected a 0x hex string, found {text:?}")))?;
        u64::from_str_radix(digits, 16)
            .map(Hex)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a 64-bit hex number")))
    }
}

/// Results seen for a class: successes and failures by errno name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub ok: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
}

/// What an fd referred to when the call was made.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FdDesc {
    /// A character or block device, by path (`/dev/pts/N` folded to `/dev/pts/*`) and `major:minor`, with
    /// the GPU driver family it belongs to when it is one.
    Device {
        path: Text,
        dev: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        family: Option<DeviceFamily>,
    },
    /// A GPU driver's user-space library (`libcuda.so.550.54.15`), named because which driver a workload
    /// loaded is part of what its profile is tied to.
    #[serde(rename = "gpu-library")]
    GpuLibrary {
        name: String,
    },
    File,
    Dir,
    Socket,
    Pipe,
    /// An anonymous inode, such as `[eventfd]` or `[io_uring]`.
    Anon {
        name: String,
    },
    Other {
        name: String,
    },
    /// The fd was not open (the call failed with EBADF) or vanished before it could be looked at.
    Unknown,
    /// An fd of unknown device whose ioctl request only one GPU driver family defines: the device was inferred
    /// from the request, not seen (schema 1 traces from before this variant simply lack it).
    Inferred {
        family: DeviceFamily,
    },
}

impl FdDesc {
    /// The GPU driver family of a device fd.
    pub fn family(&self) -> Option<DeviceFamily> {
        match self {
            FdDesc::Device { family, .. } => *family,
            FdDesc::Inferred { family } => Some(*family),
            _ => None,
        }
    }
}

/// Text from the kernel that is usually, but not always, UTF-8 (paths): a plain string, or `{"bytes": [...]}`
/// when it is not valid UTF-8, so nothing is lost to a lossy conversion.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Utf8(String),
    Bytes { bytes: Vec<u8> },
}

impl Text {
    pub fn from_bytes(bytes: Vec<u8>) -> Text {
        match String::from_utf8(bytes) {
            Ok(s) => Text::Utf8(s),
            Err(e) => Text::Bytes { bytes: e.into_bytes() },
        }
    }

    pub fn from_os(s: &std::ffi::OsStr) -> Text {
        use std::os::unix::ffi::OsStrExt;
        Text::from_bytes(s.as_bytes().to_vec())
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Text::Utf8(s) => f.write_str(s),
            Text::Bytes { bytes } => write!(f, "{}", bytes.escape_ascii()),
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::Utf8(s.to_string())
    }
}
