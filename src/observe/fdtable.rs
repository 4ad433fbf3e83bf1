//! Per-process fd tables: what each fd number refers to, so an ioctl or mmap can be tied to its device.
//!
//! The table is a cache in front of `/proc/TID/fd/N`: an fd is described on first use (readlink and stat of
//! the magic link, while the call that uses it is stopped, so the fd is still open) and forgotten by every
//! syscall that can close or replace an fd (close, close_range, dup2, dup3, exec). Fds that appear by other
//! means (SCM_RIGHTS, pidfd_getfd, io_uring) need no tracking: a number not in the cache is simply looked up.
//! Threads created with CLONE_FILES share one table; fork copies it; exec and unshare(CLONE_FILES) give the
//! process a table of its own.

use std::cell::RefCell;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::decode::gpu::DeviceFamily;
use crate::decode::rows::Role;
use crate::trace::EventSink;
use crate::trace::aggregate::FdId;
use crate::trace::model::{FdDesc, Text};

#[derive(Clone, Default)]
pub struct FdTable {
    known: FxHashMap<i32, Fd>,
    /// Off when the filter lets close and dup2 run untraced: then nothing could invalidate the cache, and every
    /// lookup goes to /proc (such runs trap few calls).
    caching: bool,
}

/// A described fd: its interned description, and its GPU driver family when it is a GPU device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fd {
    pub id: FdId,
    pub family: Option<DeviceFamily>,
    /// The fd was not open, or nothing is known of it (an imported log that never shows its open).
    pub unknown: bool,
}

impl Fd {
    /// Interns a description in the sink, keeping its family at hand for classification.
    pub fn intern(desc: FdDesc, sink: &mut dyn EventSink) -> Fd {
        Fd { family: desc.family(), unknown: desc == FdDesc::Unknown, id: sink.intern_fd(desc) }
    }
}

pub type SharedFdTable = Rc<RefCell<FdTable>>;

impl FdTable {
    /// An empty table; `caching` only when the tracer sees every call that can close an fd.
    pub fn new(caching: bool) -> FdTable {
        FdTable { known: FxHashMap::default(), caching }
    }

    /// An empty table that threads sharing their fds share.
    pub fn shared(caching: bool) -> SharedFdTable {
        Rc::new(RefCell::new(FdTable::new(caching)))
    }

    /// A private copy, for fork and unshare.
    pub fn copy(table: &SharedFdTable) -> SharedFdTable {
        Rc::new(RefCell::new(table.borrow().clone()))
    }

    /// What `fd` of thread `tid` refers to, described once and then cached.
    pub fn lookup(&mut self, tid: i32, fd: i32, sink: &mut dyn EventSink) -> Fd {
        if let Some(known) = self.known.get(&fd) {
            return *known;
        }
        let desc = describe(tid, fd);
        let unknown = desc == FdDesc::Unknown;
        let known = Fd::intern(desc, sink);
        // An fd that is not open now may be opened later: do not cache its absence.
        if self.caching && !unknown {
            self.known.insert(fd, known);
        }
        known
    }

    /// Forgets every fd: the process execs (closing its CLOEXEC fds).
    pub fn clear(&mut self) {
        self.known.clear();
    }

    /// Forgets what a call of this role closes or replaces: close's fd, close_range's range, dup2's and dup3's
    /// target.
    pub fn forget_closed_by(&mut self, role: Role, args: &[u64; 6]) {
        match role {
            Role::Close => self.forget(args[0] as i32),
            Role::CloseRange => self.forget_range(args[0] as u32, args[1] as u32),
            Role::Replace => self.forget(args[1] as i32),
            Role::Plain | Role::Spawn(_) | Role::Unshare => {}
        }
    }

    fn forget(&mut self, fd: i32) {
        self.known.remove(&fd);
    }

    /// close_range: drops every cached fd in `first..=last` (walks the cache, not the range, which may be
    /// `0..=u32::MAX`).
    fn forget_range(&mut self, first: u32, last: u32) {
        self.known.retain(|fd, _| !(first..=last).contains(&(*fd as u32)));
    }
}

/// Describes an open fd from `/proc`. Device paths are kept (they say which driver a call reached); other
/// files are described only by kind, so traces carry no user file names.
pub fn describe(tid: i32, fd: i32) -> FdDesc {
    let link = format!("/proc/{tid}/fd/{fd}");
    let Ok(target) = std::fs::read_link(&link) else {
        return FdDesc::Unknown;
    };
    let target = target.as_os_str().as_bytes();
    for (prefix, desc) in [(&b"socket:"[..], FdDesc::Socket), (b"pipe:", FdDesc::Pipe)] {
        if target.starts_with(prefix) {
            return desc;
        }
    }
    if let Some(name) = target.strip_prefix(b"anon_inode:") {
        return FdDesc::Anon { name: String::from_utf8_lossy(name).into_owned() };
    }
    let Ok(meta) = std::fs::metadata(&link) else {
        return FdDesc::Unknown;
    };
    let kind = meta.file_type();
    if kind.is_char_device() || kind.is_block_device() {
        device(target, libc::major(meta.rdev()), libc::minor(meta.rdev()), kind.is_char_device())
    } else if kind.is_file() {
        regular_file(target)
    } else if kind.is_dir() {
        FdDesc::Dir
    } else if kind.is_fifo() {
        FdDesc::Pipe
    } else if kind.is_socket() {
        FdDesc::Socket
    } else {
        let name = target.split(|b| *b == b':').next().unwrap_or_default();
        FdDesc::Other { name: String::from_utf8_lossy(name).into_owned() }
    }
}

/// A device node at `path`, with the GPU driver family it belongs to (by path, else by its major number).
pub fn device(path: &[u8], major: u32, minor: u32, char_device: bool) -> FdDesc {
    let family = DeviceFamily::from_path(path)
        .or_else(|| char_device.then(|| DeviceFamily::from_major(major, minor, proc_devices())).flatten())
        .map(|family| match family {
            DeviceFamily::Drm => DeviceFamily::of_drm_device(std::path::Path::new("/sys"), major, minor),
            family => family,
        });
    FdDesc::Device { path: device_path(path), dev: format!("{major}:{minor}"), family }
}

/// A regular file: named only when it is a GPU driver library, never otherwise (traces carry no user files).
pub fn regular_file(path: &[u8]) -> FdDesc {
    match gpu_library(path) {
        Some(name) => FdDesc::GpuLibrary { name },
        None => FdDesc::File,
    }
}

/// User-space GPU driver libraries, whose versions must match the kernel driver's.
const GPU_LIBRARIES: &[&[u8]] =
    &[b"libcuda.so", b"libnvidia-ml.so", b"libnvidia-ptxjitcompiler.so", b"libamdhip64.so", b"libhsa-runtime64.so"];

/// The file name of a mapped GPU driver library, if `path` is one.
pub(crate) fn gpu_library(path: &[u8]) -> Option<String> {
    let name = path.rsplit(|b| *b == b'/').next()?;
    GPU_LIBRARIES.iter().any(|lib| name.starts_with(lib)).then(|| String::from_utf8_lossy(name).into_owned())
}

/// `/proc/devices`, read once: dynamic majors (nvidia-uvm, kfd) are fixed while the machine is up.
fn proc_devices() -> &'static str {
    static DEVICES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DEVICES.get_or_init(|| std::fs::read_to_string("/proc/devices").unwrap_or_default())
}

/// Pseudo-terminal numbers differ from run to run; fold them so runs merge into one class.
pub(crate) fn device_path(target: &[u8]) -> Text {
    if let Some(rest) = target.strip_prefix(b"/dev/pts/")
        && rest.iter().all(u8::is_ascii_digit)
    {
        return Text::from("/dev/pts/*");
    }
    Text::from_bytes(target.to_vec())
}
