//! From one syscall at entry to its call class. Shared by every way of seeing calls (ptrace, an imported
//! strace log): a backend supplies the fds and the caller's memory, this module decides what the class is.

use std::io;

use super::fdtable::Fd;
use crate::decode::arch::Arch;
use crate::decode::class_value;
use crate::decode::flags::MAP_ANONYMOUS;
use crate::decode::flags::{CLONE_VFORK, CLONE_VM};
use crate::decode::gpu::nvidia::{NV_ESC_RM_ALLOC, NV_ESC_RM_CONTROL, NVOS21_64_HCLASS_OFFSET, NVOS54_CMD_OFFSET};
use crate::decode::gpu::{DeviceFamily, Inferred};
use crate::decode::ioctl::Ioc;
use crate::decode::rows::{FdArg, SpawnFlags};
use crate::decode::table::{Entry, SyscallTables};
use crate::trace::EventSink;
use crate::trace::aggregate::{ClassKey, Detail, FdId};
use crate::trace::model::FdDesc;

/// One syscall as seen at entry.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub arch: Arch,
    /// The number in the arch's table.
    pub nr: u64,
    pub args: [u64; 6],
}

/// What classification needs from a backend: what an fd is, and words of the caller's memory. A source that
/// cannot read memory at all (an imported log) fails reads with ENOSYS: then what lives behind pointers is
/// left out of the class rather than marked unreadable.
pub trait CallSource {
    fn fd(&mut self, fd: i32, sink: &mut dyn EventSink) -> Fd;
    fn read_u32(&mut self, addr: u64) -> io::Result<u32>;
    fn read_u64(&mut self, addr: u64) -> io::Result<u64>;
}

pub struct Classified {
    pub key: ClassKey,
    /// The first argument's full register, when its high half differs from the class value.
    pub raw_high: Option<u64>,
    pub entry: Entry,
}

pub fn classify(
    tables: &SyscallTables,
    call: &Call,
    source: &mut dyn CallSource,
    sink: &mut dyn EventSink,
) -> Classified {
    let entry = tables.get(call.arch, call.nr);
    let mut key = ClassKey::plain(call.arch, call.nr);
    let mut raw_high = None;
    let Some(row) = entry.row else {
        return Classified { key, raw_high, entry };
    };
    let args = &call.args;
    for (i, spec) in row.args.iter().enumerate() {
        match spec.index {
            Some(index) => {
                let register = args[usize::from(index)];
                key.values[i] = class_value(spec.kind, register);
                if i == 0 && key.values[i] != register {
                    raw_high = Some(register);
                }
            }
            // clone3's flags: the first u64 of the struct its first argument points at.
            None => match source.read_u64(args[0]) {
                Ok(value) => key.values[i] = value,
                Err(e) => {
                    key.unreadable |= 1 << i;
                    key.values[i] = e.raw_os_error().unwrap_or(libc::EFAULT) as u64;
                }
            },
        }
    }
    let fd = match row.fd {
        Some(FdArg::Always(fd)) => Some(args[usize::from(fd)]),
        Some(FdArg::UnlessAnonymous { fd, flags }) => {
            (args[usize::from(flags)] & MAP_ANONYMOUS == 0).then(|| args[usize::from(fd)])
        }
        None => None,
    };
    if let Some(fd) = fd {
        let mut fd = source.fd(fd as i32, sink);
        if row.name == "ioctl" && (fd.unknown || fd.id == FdId::default()) {
            fd = inferred(key.values[0] as u32, sink).unwrap_or(fd);
        }
        key.fd = fd.id;
        if row.name == "ioctl" && fd.family == Some(DeviceFamily::NvidiaFrontend) {
            key.detail = nvidia_detail(key.values[0] as u32, args[2], source);
        }
    }
    Classified { key, raw_high, entry }
}

/// An ioctl on an fd of unknown device (never seen opened, or not open at all, as real libcuda's first
/// RM_CONTROL is): the device family its request alone settles, so it is named and masked like one on a known
/// device, marked as inferred.
fn inferred(request: u32, sink: &mut dyn EventSink) -> Option<Fd> {
    match DeviceFamily::infer(request) {
        Inferred::Family(family) => Some(Fd::intern(FdDesc::Inferred { family }, sink)),
        Inferred::Ambiguous(_) | Inferred::NotGpu => None,
    }
}

/// The clone flags a call that creates a task asks for: clone's argument, clone3's struct (when it could be
/// read: otherwise the call fails), or what fork and vfork imply.
pub fn spawn_flags(how: SpawnFlags, args: &[u64; 6], key: &ClassKey) -> u64 {
    match how {
        SpawnFlags::Arg0 => args[0],
        SpawnFlags::Clone3 if key.unreadable == 0 => key.values[0],
        SpawnFlags::Clone3 | SpawnFlags::Fork => libc::SIGCHLD as u64,
        SpawnFlags::Vfork => CLONE_VM | CLONE_VFORK | libc::SIGCHLD as u64,
    }
}

/// For NV_ESC_RM_CONTROL and NV_ESC_RM_ALLOC, what the call asks the resource manager for (the control
/// command, the class allocated): behind a pointer, so seccomp cannot enforce it, but reviewers need it.
fn nvidia_detail(request: u32, params: u64, source: &mut dyn CallSource) -> Option<Detail> {
    let offset = match Ioc::split(request).nr {
        NV_ESC_RM_CONTROL => NVOS54_CMD_OFFSET,
        NV_ESC_RM_ALLOC => NVOS21_64_HCLASS_OFFSET,
        _ => return None,
    };
    match source.read_u32(params.wrapping_add(offset)) {
        Ok(value) => Some(Detail::Value(value)),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => None,
        Err(e) => Some(Detail::Unreadable(e.raw_os_error().unwrap_or(libc::EFAULT))),
    }
}
