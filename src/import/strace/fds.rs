//! What an fd refers to, from what strace printed: the `-y`/`-yy` decoration of the fd (`3</dev/nvidiactl>`,
//! `3</dev/nvidiactl<char 195:255>>`, `3<socket:[1234]>`, `3<TCP:[...]>`, `3<anon_inode:[eventfd]>`), or,
//! without `-y`, the call that created it (`openat(AT_FDCWD, "/dev/nvidia0", O_RDWR) = 3`).
//!
//! The log comes from another machine, so nothing here looks at the local filesystem: a path is a device when
//! strace said so (`<char M:m>`) or when it lies under /dev. Regular-file paths are dropped as the ptrace
//! backend drops them (only GPU driver libraries are named).

use std::cell::RefCell;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use super::value;
use crate::decode::gpu::DeviceFamily;
use crate::observe::fdtable::{device_path, gpu_library};
use crate::trace::model::FdDesc;

/// One fd table: threads made with CLONE_FILES share it, fork copies it.
pub type Fds = Rc<RefCell<FxHashMap<i32, FdDesc>>>;

pub fn new_table() -> Fds {
    Rc::new(RefCell::new(FxHashMap::default()))
}

pub fn copy(fds: &Fds) -> Fds {
    Rc::new(RefCell::new(fds.borrow().clone()))
}

/// Places under /dev that hold files, not device nodes.
const NOT_DEVICES: &[&[u8]] = &[b"/dev/shm/", b"/dev/mqueue/", b"/dev/hugepages/"];

/// Device numbers registered in the kernel's Documentation/admin-guide/devices.txt (NVIDIA's 195 among them),
/// for logs without `-yy`: the same on every Linux machine. Dynamic majors (nvidia-uvm, kfd) cannot be known.
const REGISTERED: &[(&[u8], &str)] = &[
    (b"/dev/null", "1:3"),
    (b"/dev/zero", "1:5"),
    (b"/dev/full", "1:7"),
    (b"/dev/random", "1:8"),
    (b"/dev/urandom", "1:9"),
    (b"/dev/tty", "5:0"),
    (b"/dev/console", "5:1"),
    (b"/dev/ptmx", "5:2"),
    (b"/dev/nvidia-modeset", "195:254"),
    (b"/dev/nvidiactl", "195:255"),
];

/// The description of a decoration (the text between its outer angle brackets).
pub fn from_decoration(decoration: &str) -> FdDesc {
    // `-yy` appends the device type and number to device paths: `/dev/null<char 1:3>`.
    let (target, dev) = match decoration.strip_suffix('>').and_then(|d| d.rsplit_once('<')) {
        Some((path, kind)) if kind.starts_with("char ") || kind.starts_with("block ") => {
            (path, kind.split_once(' ').map(|(_, numbers)| numbers))
        }
        _ => (decoration, None),
    };
    if target.starts_with('/') {
        return from_path(&value::unescape(target), dev, false);
    }
    let (prefix, rest) = target.split_once(':').unwrap_or((target, ""));
    match prefix {
        "socket" => FdDesc::Socket,
        "pipe" => FdDesc::Pipe,
        "anon_inode" => FdDesc::Anon { name: String::from_utf8_lossy(&value::unescape(rest)).into_owned() },
        // `-yy` names a socket by its protocol: TCP, UDPv6, UNIX-STREAM, NETLINK, ...
        _ if rest.starts_with('[')
            && prefix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'v') =>
        {
            FdDesc::Socket
        }
        _ => FdDesc::Other { name: String::from_utf8_lossy(&value::unescape(prefix)).into_owned() },
    }
}

/// A path opened by name. `dev` is `major:minor` when the log gave it; `directory` when it was opened with
/// O_DIRECTORY.
pub fn from_path(path: &[u8], dev: Option<&str>, directory: bool) -> FdDesc {
    let under_dev = path.starts_with(b"/dev/") && !NOT_DEVICES.iter().any(|p| path.starts_with(p));
    if dev.is_some() || (under_dev && !directory) {
        let dev = dev.map(str::to_string).or_else(|| registered(path)).unwrap_or_default();
        let family = DeviceFamily::from_path(path).or_else(|| {
            // Only the statically registered majors can be told without the machine's /proc/devices.
            let (major, minor) = dev.split_once(':')?;
            DeviceFamily::from_major(major.parse().ok()?, minor.parse().ok()?, "")
        });
        return FdDesc::Device { path: device_path(path), dev, family };
    }
    if directory {
        return FdDesc::Dir;
    }
    match gpu_library(path) {
        Some(name) => FdDesc::GpuLibrary { name },
        None => FdDesc::File,
    }
}

fn registered(path: &[u8]) -> Option<String> {
    if let Some((_, dev)) = REGISTERED.iter().find(|(p, _)| *p == path) {
        return Some(dev.to_string());
    }
    let number = |prefix: &[u8]| {
        let digits = path.strip_prefix(prefix)?;
        std::str::from_utf8(digits).ok()?.parse::<u32>().ok().filter(|_| digits.iter().all(u8::is_ascii_digit))
    };
    if let Some(n) = number(b"/dev/nvidia") {
        return Some(format!("195:{n}"));
    }
    // Unix98 pty slaves: majors 136-143, 256 minors each.
    number(b"/dev/pts/").filter(|n| *n < 2048).map(|n| format!("{}:{}", 136 + n / 256, n % 256))
}

/// The fd a call creates when the log has no decoration for it: anonymous inodes are named as the kernel names
/// them (`anon_inode:[eventfd]`), so both backends describe them alike. `None` when the call says nothing
/// (then the fd stays unknown).
pub fn created_by(syscall: &str) -> Option<FdDesc> {
    let anon = |name: &str| Some(FdDesc::Anon { name: name.to_string() });
    match syscall {
        "socket" | "accept" | "accept4" => Some(FdDesc::Socket),
        "eventfd" | "eventfd2" => anon("[eventfd]"),
        "epoll_create" | "epoll_create1" => anon("[eventpoll]"),
        "signalfd" | "signalfd4" => anon("[signalfd]"),
        "timerfd_create" => anon("[timerfd]"),
        "inotify_init" | "inotify_init1" => anon("inotify"),
        "fanotify_init" => anon("[fanotify]"),
        "userfaultfd" => anon("[userfaultfd]"),
        "perf_event_open" => anon("[perf_event]"),
        "pidfd_open" => anon("[pidfd]"),
        "io_uring_setup" => anon("[io_uring]"),
        "memfd_create" => Some(FdDesc::File),
        _ => None,
    }
}

/// The DRM device behind `fd` is amdgpu's (strace named a request on it as amdgpu's own): later calls on it name
/// amdgpu's requests too.
pub fn mark_amdgpu(fds: &Fds, fd: i32) {
    if let Some(FdDesc::Device { family: family @ Some(DeviceFamily::Drm), .. }) = fds.borrow_mut().get_mut(&fd) {
        *family = Some(DeviceFamily::Amdgpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::model::Text;

    fn device(path: &str, dev: &str, family: Option<DeviceFamily>) -> FdDesc {
        FdDesc::Device { path: Text::from(path), dev: dev.to_string(), family }
    }

    #[test]
    fn decorations() {
        let frontend = Some(DeviceFamily::NvidiaFrontend);
        assert_eq!(from_decoration("/dev/nvidiactl"), device("/dev/nvidiactl", "195:255", frontend));
        assert_eq!(from_decoration("/dev/nvidiactl<char 195:255>"), device("/dev/nvidiactl", "195:255", frontend));
        assert_eq!(from_decoration("/dev/nvidia3"), device("/dev/nvidia3", "195:3", frontend));
        // A renamed node still tells its driver by its registered major.
        assert_eq!(from_decoration("/dev/gpu0<char 195:0>"), device("/dev/gpu0", "195:0", frontend));
        let uvm = Some(DeviceFamily::NvidiaUvm);
        assert_eq!(from_decoration("/dev/nvidia-uvm"), device("/dev/nvidia-uvm", "", uvm));
        assert_eq!(from_decoration("/dev/pts/3"), device("/dev/pts/*", "136:3", None));
        assert_eq!(from_decoration("/dev/shm/x"), FdDesc::File);
        assert_eq!(from_decoration("/usr/lib/x86_64-linux-gnu/libc.so.6"), FdDesc::File);
        assert_eq!(
            from_decoration("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"),
            FdDesc::GpuLibrary { name: "libcuda.so.550.54.15".into() }
        );
        assert_eq!(from_decoration("socket:[1234]"), FdDesc::Socket);
        assert_eq!(from_decoration("TCP:[1.2.3.4:5->6.7.8.9:10]"), FdDesc::Socket);
        assert_eq!(from_decoration("UNIX-STREAM:[115857]"), FdDesc::Socket);
        assert_eq!(from_decoration("UDPv6:[115863]"), FdDesc::Socket);
        assert_eq!(from_decoration("pipe:[55]"), FdDesc::Pipe);
        assert_eq!(from_decoration("anon_inode:[eventfd]"), FdDesc::Anon { name: "[eventfd]".into() });
        assert_eq!(from_decoration("net:[4026531840]"), FdDesc::Other { name: "net".into() });
        assert_eq!(from_decoration(r"/tmp/x\377y"), FdDesc::File);
        assert_eq!(
            from_decoration(r"/dev/od\377d"),
            FdDesc::Device { path: Text::from_bytes(b"/dev/od\xffd".to_vec()), dev: String::new(), family: None }
        );
    }

    #[test]
    fn paths_opened_by_name() {
        assert_eq!(from_path(b"/dev/null", None, false), device("/dev/null", "1:3", None));
        assert_eq!(from_path(b"/dev/dri", None, true), FdDesc::Dir);
        assert_eq!(from_path(b"/etc/passwd", None, false), FdDesc::File);
        assert_eq!(created_by("eventfd2"), Some(FdDesc::Anon { name: "[eventfd]".into() }));
        assert_eq!(created_by("read"), None);
    }
}
