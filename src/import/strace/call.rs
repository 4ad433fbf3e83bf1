//! A call line's text as the call a live recording would have seen: its number, the registers its class is
//! made of, and a [`CallSource`] that answers classification from the log, as no memory can be read.

use std::io;

use super::NotUnderstood;
use super::fds::{self, Fds};
use super::value::{self, Outcome, ValueError};
use crate::decode::arch::Arch;
use crate::decode::gpu::DeviceFamily;
use crate::decode::rows::FdArg;
use crate::decode::table::SyscallTables;
use crate::observe::classify::{Call, CallSource};
use crate::observe::fdtable::Fd;
use crate::trace::EventSink;
use crate::trace::model::FdDesc;

/// A call line read as registers, with what the log says beyond them.
pub struct Decoded<'a> {
    pub call: Call,
    /// `None` for a call the log ends inside.
    pub outcome: Option<Outcome<'a>>,
    /// The fd argument with its `-y` decoration, as what that names.
    decorated: Vec<(i32, FdDesc)>,
    /// clone3's flags, or the errno reading them fails with.
    clone3_flags: Result<u64, i32>,
    /// The word behind the NVIDIA RM ioctl's pointer (its control command or class), where the log gave it.
    pub rm_word: Option<u32>,
    /// An ioctl strace named as amdgpu's own (`DRM_IOCTL_AMDGPU_*`): its DRM device is amdgpu's, which a path
    /// alone (`/dev/dri/renderD128`) does not say.
    pub amdgpu: bool,
    /// The bytes an ioctl's argument pointed at, where strace dumped them (6.10 on, for requests it has no
    /// decoder for: `"\x01\x00…" => "\x…"`, what the caller passed first).
    dump: Option<Vec<u8>>,
}

impl<'a> Decoded<'a> {
    /// The call `name` of an `arch` task with arguments `items` and, unless the log ends inside it, `result`.
    pub fn new(
        tables: &SyscallTables,
        arch: Arch,
        name: &str,
        items: &[&str],
        result: Option<&'a str>,
    ) -> Result<Decoded<'a>, NotUnderstood> {
        let unknown = || NotUnderstood::UnknownSyscall { name: name.to_string(), arch };
        let nr = syscall_nr(arch, name).ok_or_else(unknown)?;
        let outcome = result.map(value::outcome).transpose().map_err(NotUnderstood::Result)?;
        let entry = tables.get(arch, nr);
        let mut call = Call { arch, nr, args: [0; 6] };
        let mut decorated = Vec::new();
        let mut clone3_flags = Err(libc::EFAULT);
        let argument = NotUnderstood::Argument;
        if let Some(row) = entry.row {
            for spec in row.args {
                match spec.index {
                    Some(index) => call.args[usize::from(index)] = register(name, items, index).map_err(argument)?,
                    None => clone3_flags = struct_flags(items).map_err(argument)?,
                }
            }
            if let Some(FdArg::Always(index) | FdArg::UnlessAnonymous { fd: index, .. }) = row.fd {
                let index = usize::from(index);
                let item = items.get(index).ok_or(ValueError::Missing(index)).map_err(argument)?;
                let (fd, decoration) = value::fd(item).map_err(argument)?;
                // As in a register: a negative int is sign-extended.
                call.args[index] = i64::from(fd) as u64;
                decorated.extend(decoration.map(|d| (fd, fds::from_decoration(d))));
            }
        }
        let dump = if name == "ioctl" { items.get(2).and_then(|arg| value::string(arg)) } else { None };
        let amdgpu = name == "ioctl" && items.get(1).is_some_and(|r| r.trim().starts_with("DRM_IOCTL_AMDGPU_"));
        Ok(Decoded { call, outcome, decorated, clone3_flags, rm_word: None, amdgpu, dump })
    }

    /// What classification asks, answered for a task whose fd table is `fds`.
    pub fn source<'s>(&'s self, fds: &'s Fds) -> LineSource<'s> {
        LineSource {
            fds,
            decorated: &self.decorated,
            clone3_flags: self.clone3_flags,
            rm_word: self.rm_word,
            amdgpu: self.amdgpu,
            dump: self.dump.as_deref(),
            pointer: self.call.args[2],
            cut_short: false,
        }
    }
}

/// The number of `name` in `arch`'s table; strace names syscalls it does not know `syscall_0x1c6`.
fn syscall_nr(arch: Arch, name: &str) -> Option<u64> {
    if let Some(number) = name.strip_prefix("syscall_") {
        return value::number(number).map(|nr| arch.table_nr(nr));
    }
    arch.syscall_nr(name).map(|nr| arch.table_nr(nr))
}

/// The register value of argument `index` of a row. clone's flags are printed by name (`flags=`) wherever the
/// architecture puts them in the register order.
fn register(name: &str, items: &[&str], index: u8) -> Result<u64, ValueError> {
    let text = if name == "clone" { value::named(items, "flags") } else { items.get(usize::from(index)).copied() };
    value::word(text.ok_or(ValueError::Missing(usize::from(index)))?)
}

/// clone3's flags, from the `struct clone_args` strace printed; EFAULT (as the ptrace backend would see) when
/// strace could not read it and printed its address.
pub fn struct_flags(items: &[&str]) -> Result<Result<u64, i32>, ValueError> {
    let Some(args) = items.first().filter(|t| t.starts_with('{')) else {
        return Ok(Err(libc::EFAULT));
    };
    let flags = value::field(args, "flags").ok_or(ValueError::Missing(0))?;
    Ok(Ok(value::word(flags)?))
}

/// Answers classification from the log: fds from this line's decorations or the process's table; of memory,
/// only what the log printed.
pub struct LineSource<'a> {
    fds: &'a Fds,
    decorated: &'a [(i32, FdDesc)],
    clone3_flags: Result<u64, i32>,
    rm_word: Option<u32>,
    amdgpu: bool,
    dump: Option<&'a [u8]>,
    /// The dumped argument's address, as the registers hold it (0: strace printed the bytes instead).
    pointer: u64,
    /// A word was asked for beyond the end of the dump (strace cuts strings at `-s`, 32 bytes by default).
    pub cut_short: bool,
}

impl CallSource for LineSource<'_> {
    fn fd(&mut self, fd: i32, sink: &mut dyn EventSink) -> Fd {
        let known = self.fds.borrow().get(&fd).cloned();
        let desc = match (self.decorated.iter().find(|(n, _)| *n == fd), known) {
            // A decoration is only a path; the table knows it was opened as a directory.
            (Some((_, FdDesc::File)), Some(FdDesc::Dir)) => FdDesc::Dir,
            (Some((_, decorated)), _) => decorated.clone(),
            (None, Some(known)) => known,
            (None, None) => FdDesc::Unknown,
        };
        let desc = match desc {
            FdDesc::Device { path, dev, family: Some(DeviceFamily::Drm) } if self.amdgpu => {
                FdDesc::Device { path, dev, family: Some(DeviceFamily::Amdgpu) }
            }
            other => other,
        };
        Fd::intern(desc, sink)
    }

    fn read_u32(&mut self, addr: u64) -> io::Result<u32> {
        let not_in_log = || io::Error::from_raw_os_error(libc::ENOSYS);
        if let Some(word) = self.rm_word {
            return Ok(word);
        }
        let dump = self.dump.ok_or_else(not_in_log)?;
        let at = usize::try_from(addr.wrapping_sub(self.pointer)).map_err(|_| not_in_log())?;
        match dump.get(at..at.saturating_add(4)).and_then(|b| b.try_into().ok()) {
            // The struct as the caller's (little-endian) memory held it.
            Some(bytes) => Ok(u32::from_le_bytes(bytes)),
            None => {
                self.cut_short = true;
                Err(not_in_log())
            }
        }
    }

    fn read_u64(&mut self, _addr: u64) -> io::Result<u64> {
        self.clone3_flags.map_err(io::Error::from_raw_os_error)
    }
}
