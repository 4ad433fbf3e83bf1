//! The kernel side's maps as trapline reads and writes them: the per-syscall rows it fills before the
//! workload starts, and the class counters it folds into the Trace afterwards.

use std::collections::HashMap;
use std::io;

use libbpf_rs::{MapCore, MapFlags};

use super::skel::types::{class_key, result_key, row};
use crate::decode::arch::Arch;
use crate::decode::rows::FdArg;
use crate::decode::table::SyscallTables;
use crate::observe::classify::{Call, CallSource, classify};
use crate::observe::fdtable::{self, Fd};
use crate::trace::EventSink;
use crate::trace::aggregate::{ClassId, ExeId};
use crate::trace::model::{FdDesc, Text};

/// `NO_ARG` in interface.h.
const NO_ARG: u8 = 0xff;
/// `MAX_NR` in interface.h.
pub const MAX_NR: u32 = 512;
/// `DETAIL_VALUE` and `DETAIL_UNREADABLE` in interface.h.
const DETAIL_VALUE: u8 = 1;
const DETAIL_UNREADABLE: u8 = 2;
const S_IFMT: u16 = 0o170000;

/// Marker for the kernel's plain C structs, which are read from and written to map bytes as they are.
trait Plain: Copy + Default {
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != size_of::<Self>() {
            return None;
        }
        // SAFETY: Self is a #[repr(C)] struct of integers and integer arrays: every bit pattern is a value, and
        // the length was checked. read_unaligned needs no alignment of the map's buffer.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<Self>()) })
    }

    fn as_bytes(&self) -> &[u8] {
        // SAFETY: a #[repr(C)] plain struct viewed as its own bytes, for as long as it is borrowed.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), size_of::<Self>()) }
    }
}

impl Plain for row {}
impl Plain for class_key {}
impl Plain for result_key {}

/// Writes what the kernel side must capture for each syscall, native ones then 32-bit ones: the argument
/// registers its row names, the fd to describe, and whether to keep the result.
pub fn fill_rows(map: &dyn MapCore, tables: &SyscallTables) -> io::Result<()> {
    for (base, arch) in [(0, Arch::native()), (MAX_NR, Arch::I386)] {
        for nr in 0..MAX_NR {
            let row = kernel_row(tables, arch, nr);
            map.update(&(base + nr).to_ne_bytes(), row.as_bytes(), MapFlags::ANY).map_err(io::Error::other)?;
        }
    }
    Ok(())
}

fn kernel_row(tables: &SyscallTables, arch: Arch, nr: u32) -> row {
    let entry = tables.get(arch, u64::from(nr));
    let mut kernel_row = row {
        arg: [NO_ARG; 2],
        fd: NO_ARG,
        anon_flags: NO_ARG,
        result: u8::from(entry.wants_result),
        exec: u8::from(matches!(entry.name, Some("execve" | "execveat"))),
        rm_detail: u8::from(entry.name == Some("ioctl")),
        ..row::default()
    };
    if let Some(spec) = entry.row {
        for (i, arg) in spec.args.iter().take(2).enumerate() {
            match arg.index {
                Some(index) => kernel_row.arg[i] = index,
                None => kernel_row.clone3 = 1,
            }
        }
        match spec.fd {
            Some(FdArg::Always(fd)) => kernel_row.fd = fd,
            Some(FdArg::UnlessAnonymous { fd, flags }) => (kernel_row.fd, kernel_row.anon_flags) = (fd, flags),
            None => {}
        }
    }
    kernel_row
}

/// Puts trapline's launcher among the processes the kernel side follows: its calls count from its exec on.
pub fn follow(map: &dyn MapCore, tgid: u32) -> io::Result<()> {
    const LAUNCHING: u8 = 0;
    map.update(&tgid.to_ne_bytes(), &[LAUNCHING], MapFlags::ANY).map_err(io::Error::other)
}

/// Makes the kernel side follow a cgroup (its v2 id) instead of the targets; 0 keeps the targets.
pub fn set_cgroup(map: &dyn MapCore, id: u64) -> io::Result<()> {
    map.update(&0u32.to_ne_bytes(), &id.to_ne_bytes(), MapFlags::ANY).map_err(io::Error::other)
}

/// What folding the counters found out besides the classes.
pub struct Drained {
    /// Calls that may have loaded a seccomp filter (`seccomp`, or `prctl(PR_SET_SECCOMP)`): what such a filter
    /// denied never reached the tracepoints.
    pub filter_loads: u64,
    /// Distinct processes seen calling.
    pub processes: u64,
}

/// The kernel side follows every cgroup created from now on (the node agent).
pub const NEW_CGROUPS: u64 = u64::MAX;

/// The node agent is done with a cgroup.
pub fn forget_cgroup(map: &dyn MapCore, id: u64) {
    let _ = map.delete(&id.to_ne_bytes());
}

/// Whether the kernel side still follows a process.
pub fn following(map: &dyn MapCore) -> bool {
    map.keys().next().is_some()
}

/// The command name the kernel side kept for a process.
pub fn comm(map: &dyn MapCore, tgid: u32) -> Option<Vec<u8>> {
    let bytes = map.lookup(&tgid.to_ne_bytes(), MapFlags::ANY).ok().flatten()?;
    Some(bytes.into_iter().take_while(|b| *b != 0).collect())
}

/// A `u64` counter of an array map.
pub fn counter(map: &dyn MapCore, index: u32) -> u64 {
    map.lookup(&index.to_ne_bytes(), MapFlags::ANY)
        .ok()
        .flatten()
        .and_then(|v| v.try_into().ok().map(u64::from_ne_bytes))
        .unwrap_or(0)
}

/// Folds the kernel's counters into the sink, class by class, as the ptrace backend would have pushed them
/// call by call. `exes` names each process by what it last exec'd; `exe_of` names the others.
/// With `only`, just the classes of that cgroup, which are then removed from the maps (the node agent).
pub fn drain(
    classes: &dyn MapCore,
    results: &dyn MapCore,
    tables: &SyscallTables,
    exes: &mut HashMap<u32, ExeId>,
    exe_of: &dyn Fn(u32) -> Text,
    only: Option<u64>,
    sink: &mut dyn EventSink,
) -> Drained {
    const PR_SET_SECCOMP: u64 = 22;
    let mut filter_loads = 0;
    let mut ids: HashMap<Vec<u8>, ClassId> = HashMap::new();
    for key_bytes in classes.keys() {
        let (Some(key), Some(count)) = (class_key::from_bytes(&key_bytes), lookup_u64(classes, &key_bytes)) else {
            continue;
        };
        if only.is_some_and(|cgroup| cgroup != key.cgroup) {
            continue;
        }
        let arch = if key.compat == 1 { Arch::I386 } else { Arch::native() };
        let mut args = [0u64; 6];
        if let Some(spec) = tables.get(arch, u64::from(key.nr)).row {
            for (i, arg) in spec.args.iter().take(2).enumerate() {
                if let Some(index) = arg.index {
                    args[usize::from(index)] = key.value[i];
                }
            }
        }
        let call = Call { arch, nr: arch.table_nr(u64::from(key.nr)), args };
        let name = arch.syscall_name(call.nr);
        if name == Some("seccomp") || (name == Some("prctl") && args[0] & 0xffff_ffff == PR_SET_SECCOMP) {
            filter_loads += count;
        }
        let mut source = Captured { key: &key };
        let classified = classify(tables, &call, &mut source, sink);
        let exe = match exes.get(&key.tgid) {
            Some(exe) => *exe,
            None => *exes.entry(key.tgid).or_insert_with(|| sink.intern_exe(exe_of(key.tgid))),
        };
        if count > 0 {
            ids.insert(key_bytes, sink.calls(classified.key, key.tgid, exe, classified.raw_high, count));
        }
    }
    // Deleted once read, after the walk: deleting while a map's keys are walked may make the walk skip some.
    let mut done = Vec::new();
    for key_bytes in results.keys() {
        let (Some(key), Some(count)) = (result_key::from_bytes(&key_bytes), lookup_u64(results, &key_bytes)) else {
            continue;
        };
        let Some(&class) = ids.get(key.class.as_bytes()) else { continue };
        sink.results(class, -key.errno, key.errno != 0, count);
        done.push(key_bytes);
    }
    if only.is_some() {
        for key_bytes in &done {
            let _ = results.delete(key_bytes);
        }
        for key_bytes in ids.keys() {
            let _ = classes.delete(key_bytes);
        }
    }
    Drained { filter_loads, processes: exes.len() as u64 }
}

fn lookup_u64(map: &dyn MapCore, key: &[u8]) -> Option<u64> {
    map.lookup(key, MapFlags::ANY).ok().flatten().and_then(|v| v.try_into().ok().map(u64::from_ne_bytes))
}

/// A call as the kernel side captured it: its fd already described, clone3's flags already read.
struct Captured<'k> {
    key: &'k class_key,
}

impl CallSource for Captured<'_> {
    fn fd(&mut self, _fd: i32, sink: &mut dyn EventSink) -> Fd {
        Fd::intern(describe(self.key), sink)
    }

    fn read_u32(&mut self, _addr: u64) -> io::Result<u32> {
        // The one word classification reads: the NVIDIA RM command or class, read in the kernel.
        match self.key.detail_state {
            DETAIL_VALUE => Ok(self.key.detail),
            DETAIL_UNREADABLE => Err(io::Error::from_raw_os_error(libc::EFAULT)),
            _ => Err(io::Error::from_raw_os_error(libc::ENOSYS)),
        }
    }

    fn read_u64(&mut self, _addr: u64) -> io::Result<u64> {
        Ok(self.key.value[0])
    }
}

/// A `name_t`'s bytes up to its NUL.
pub fn text(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).take_while(|b| *b != 0).collect()
}

/// What the fd referred to, from the inode's type, device number and the last two components of its name.
fn describe(key: &class_key) -> FdDesc {
    let (name, parent) = (text(&key.name.word), text(&key.parent.word));
    match key.mode & S_IFMT {
        0o020000 | 0o060000 => {
            let mut path = b"/dev/".to_vec();
            if !parent.is_empty() && parent != b"dev" && parent != b"/" {
                path.extend_from_slice(&parent);
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            // dev_t as the kernel holds it: 12 bits of major above 20 bits of minor.
            let (major, minor) = (key.rdev >> 20, key.rdev & 0xf_ffff);
            fdtable::device(&path, major, minor, key.mode & S_IFMT == 0o020000)
        }
        0o100000 => fdtable::regular_file(&name),
        0o040000 => FdDesc::Dir,
        0o010000 => FdDesc::Pipe,
        0o140000 => FdDesc::Socket,
        0 if name.starts_with(b"[") => FdDesc::Anon { name: Text::from_bytes(name).to_string() },
        _ => FdDesc::Unknown,
    }
}
