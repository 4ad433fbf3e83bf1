//! Names the code that made a syscall: the mapped file (library) an address lies in, that file's soname and
//! GNU build-id, and the nearest function symbol, for the instruction pointer at a syscall stop and for the caller
//! one frame up. Reviewers read "ioctl from `libcuda.so.1`" where the kernel only says "ioctl".
//!
//! How an address is resolved:
//! 1. `/proc/PID/maps` gives the mapping holding it (range, permissions, file offset, device, inode, path). The
//!    file offset of the address is `addr - start + offset`.
//! 2. The ELF file's `PT_LOAD` segments turn that file offset into the link-time virtual address symbols use
//!    (`vaddr = file_off - p_offset + p_vaddr`), which is also what `addr2line -e LIBRARY` takes.
//! 3. The nearest function symbol at or before the address names it: from `.symtab` when the file has one, else
//!    from `.dynsym` (stripped libraries keep their exported functions there).
//!
//! Files are read through `/proc/PID/map_files/START-END`, which reaches the very inode that is mapped even in
//! another mount namespace (a container) or after the file was replaced on disk. Opening those links needs
//! `CAP_SYS_ADMIN` (or `CAP_CHECKPOINT_RESTORE`); without it the file is opened as `/proc/PID/root/PATH` and used only
//! if its device and inode still match the mapping, so a library upgraded mid-run is never symbolized with the new
//! file's symbols. Only the ELF headers, the notes, the dynamic section and the symbol tables are read, never the
//! code, so a 1 GiB `libtorch_cuda.so` costs its tables, not its size. What is kept per file is a sorted vector of
//! function starts plus their names, and for files that hold a syscall instruction their unwind table
//! (`.eh_frame_hdr` and `.eh_frame`, which find the caller: see [`Symbolizer::call_site`]), cached by device and
//! inode within [`MAX_CACHED_FILES`] files and [`MAX_CACHED_BYTES`] bytes, least recently used first out.
//!
//! Each call reads `/proc/PID/maps` afresh (a mapping may have been replaced since the last call), which for a
//! process with 8,000 mappings costs about 4 ms (40 µs with 40): symbolize once per new rule or call site, not
//! once per syscall.
//!
//! Nothing here fails loudly: a process that is gone, a mapping that cannot be opened, a file that is not ELF or is
//! malformed all give fewer fields (no symbol, no build-id), never an error or a panic.
//!
//! [`CallSite`] and [`Location`] belong to the trace model, which documents their JSON form.

mod elf;
mod maps;
mod symbols;
mod unwind;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::trace::model::{CallSite, Location, Text};
use elf::ElfInfo;
use maps::{FileKey, Mapping, find_mapping, read_maps};
use unwind::{Unwind, follows_call, read_remote};

/// At most this many parsed files are cached.
pub const MAX_CACHED_FILES: usize = 256;
/// The cache holds at most about this many bytes of symbol tables (a single larger file is still kept, alone).
pub const MAX_CACHED_BYTES: usize = 256 << 20;

/// Resolves addresses in traced processes, caching what it parsed of each mapped file.
pub struct Symbolizer {
    files: HashMap<FileKey, Cached>,
    cached_bytes: usize,
    clock: u64,
    /// Off only in tests, to exercise the `/proc/PID/root` path that unprivileged tracers take.
    use_map_files: bool,
}

impl Default for Symbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Symbolizer {
    pub fn new() -> Self {
        Symbolizer { files: HashMap::new(), cached_bytes: 0, clock: 0, use_map_files: true }
    }

    /// Resolves `ip`, the instruction pointer at a syscall stop of thread or process `pid` (the address after the
    /// syscall instruction), and its caller, from the stack pointer `sp` and frame pointer `fp` (`rsp` and `rbp`)
    /// of the same stop. Call it while the thread is stopped: the stack is read, and must not move meanwhile.
    ///
    /// The caller is found on x86_64 only, as the return address of the function holding `ip`:
    /// 1. The file's unwind table (`.eh_frame`, through `.eh_frame_hdr`) says where that function's frame starts
    ///    (`rsp + N`, or `rbp + 16` in code built with frame pointers) and so which stack word holds the return
    ///    address. This finds it in wrappers with frames too, such as glibc's `ioctl`, `openat` and the
    ///    multi-threaded paths of `read` and `write`.
    /// 2. Without unwind information for `ip` (hand-written assembly, a file without `.eh_frame_hdr`, `[vdso]`), the
    ///    word at `sp`, which is the return address in a leaf function that keeps no frame (glibc's `syscall()`, a
    ///    raw `syscall` in a small function).
    ///
    /// The word is read with `process_vm_readv` and accepted only if it points into an executable mapping right
    /// after a call instruction (`call rel32` or `call r/m`); anything else (data, a saved register) gives no
    /// caller.
    ///
    /// Pass x86_64 stops only: for an i386 stop (a 32-bit tracee, or `int 0x80`), use [`Symbolizer::locate`] on
    /// `ip`, as the stack holds 4-byte words there.
    ///
    /// `None` when the process is gone or `ip` is in no mapping.
    pub fn call_site(&mut self, pid: i32, ip: u64, sp: u64, fp: u64) -> Option<CallSite> {
        let maps = read_maps(pid)?;
        let at = self.locate_in(pid, &maps, ip)?;
        let caller = if cfg!(target_arch = "x86_64") {
            self.return_address(pid, &maps, ip, sp, fp).and_then(|ret| self.locate_in(pid, &maps, ret))
        } else {
            None
        };
        Some(CallSite { at, caller })
    }

    /// Resolves one code address in `pid` (a return address found some other way, such as the link register on
    /// arm64). Like a return address, `addr` is looked up as `addr - 1`, so an address just past a function's last
    /// instruction still names that function.
    pub fn locate(&mut self, pid: i32, addr: u64) -> Option<Location> {
        let maps = read_maps(pid)?;
        self.locate_in(pid, &maps, addr)
    }

    fn locate_in(&mut self, pid: i32, maps: &[Mapping], addr: u64) -> Option<Location> {
        let map = find_mapping(maps, addr)?;
        let in_map = addr - map.start;
        let Some(key) = map.file_key() else {
            let library = if map.path.is_empty() { Text::from("[anon]") } else { Text::from_bytes(map.path.clone()) };
            return Some(Location { library, soname: None, build_id: None, symbol: None, offset: hex(in_map) });
        };
        let file_offset = map.offset.wrapping_add(in_map);
        let library = Text::from_bytes(map.path.clone());
        let Some(elf) = self.elf(pid, map, key) else {
            return Some(Location { library, soname: None, build_id: None, symbol: None, offset: hex(file_offset) });
        };
        let (symbol, offset) = match elf.vaddr(file_offset) {
            None => (None, file_offset),
            Some(vaddr) => match elf.symbols.lookup(vaddr) {
                Some((name, start)) => (Some(name.to_string()), vaddr - start),
                None => (None, vaddr),
            },
        };
        Some(Location {
            library,
            soname: elf.soname.clone(),
            build_id: elf.build_id.clone(),
            symbol,
            offset: hex(offset),
        })
    }

    /// The return address of the function holding `ip`, if it looks like one: see [`Symbolizer::call_site`].
    fn return_address(&mut self, pid: i32, maps: &[Mapping], ip: u64, sp: u64, fp: u64) -> Option<u64> {
        let slot = self.return_slot(pid, maps, ip, sp, fp).unwrap_or(sp);
        let ret = u64::from_ne_bytes(read_remote::<8>(pid, slot)?);
        if !find_mapping(maps, ret)?.exec {
            return None;
        }
        let before = read_remote::<7>(pid, ret.checked_sub(7)?)?;
        follows_call(&before).then_some(ret)
    }

    /// Where the unwind table of the file holding `ip` says the return address is.
    fn return_slot(&mut self, pid: i32, maps: &[Mapping], ip: u64, sp: u64, fp: u64) -> Option<u64> {
        let map = find_mapping(maps, ip)?;
        let key = map.file_key()?;
        self.elf(pid, map, key)?;
        if self.files.get(&key)?.unwind.is_none() {
            // Read on first need only: most files are only ever callers, and their tables would be dead weight.
            let file = map.open(pid, self.use_map_files)?;
            let cached = self.files.get_mut(&key)?;
            let unwind = catch_unwind(AssertUnwindSafe(|| Unwind::read(&file, &cached.info))).ok().flatten();
            self.cached_bytes += unwind.as_ref().map_or(0, Unwind::cost);
            cached.unwind = Some(unwind);
            self.evict(key);
        }
        let cached = self.files.get(&key)?;
        let unwind = cached.unwind.as_ref()?.as_ref()?;
        // As for symbols, `ip - 1`: still in the function when the syscall is its last instruction.
        let pc = cached.info.vaddr(map.offset.wrapping_add(ip - map.start))?.checked_sub(1)?;
        catch_unwind(AssertUnwindSafe(|| unwind.return_slot(pc, sp, fp))).ok().flatten()
    }

    /// The parsed file behind `map`, from the cache or read now. `None` when it cannot be opened (not cached, so a
    /// later call may succeed); a file that opens but does not parse is cached as an empty [`ElfInfo`].
    fn elf(&mut self, pid: i32, map: &Mapping, key: FileKey) -> Option<&ElfInfo> {
        self.clock += 1;
        if !self.files.contains_key(&key) {
            let file = map.open(pid, self.use_map_files)?;
            // goblin is fuzzed, but a panic on a strange file in some library must not end a trace.
            let info = catch_unwind(AssertUnwindSafe(|| ElfInfo::read(&file))).ok().flatten().unwrap_or_default();
            self.cached_bytes += info.cost();
            self.files.insert(key, Cached { info, unwind: None, last_used: self.clock });
            self.evict(key);
        }
        let cached = self.files.get_mut(&key)?;
        cached.last_used = self.clock;
        Some(&cached.info)
    }

    /// Drops least recently used files, other than `keep`, until the cache is within its bounds.
    fn evict(&mut self, keep: FileKey) {
        while self.files.len() > MAX_CACHED_FILES || self.cached_bytes > MAX_CACHED_BYTES {
            let oldest =
                self.files.iter().filter(|(k, _)| **k != keep).min_by_key(|(_, c)| c.last_used).map(|(k, _)| *k);
            let Some(gone) = oldest.and_then(|k| self.files.remove(&k)) else { break };
            self.cached_bytes -= gone.cost();
        }
    }
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

struct Cached {
    info: ElfInfo,
    /// `None` until first needed; then `Some(None)` when the file has no usable unwind table.
    unwind: Option<Option<Unwind>>,
    last_used: u64,
}

impl Cached {
    fn cost(&self) -> usize {
        self.info.cost() + self.unwind.as_ref().and_then(Option::as_ref).map_or(0, Unwind::cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn marker_function_for_symbolize_tests() -> u64 {
        std::hint::black_box(marker_function_for_symbolize_tests as *const () as u64)
    }

    fn own_location(use_map_files: bool) -> Location {
        let mut symbolizer = Symbolizer { use_map_files, ..Symbolizer::new() };
        let addr = marker_function_for_symbolize_tests() + 4;
        symbolizer.locate(std::process::id() as i32, addr).unwrap()
    }

    #[test]
    fn own_process_through_map_files_and_through_root() {
        for use_map_files in [true, false] {
            let loc = own_location(use_map_files);
            let exe = std::fs::read_link("/proc/self/exe").unwrap();
            assert_eq!(loc.library, Text::from_os(exe.as_os_str()));
            let symbol = loc.symbol.unwrap_or_default();
            assert!(symbol.contains("marker_function_for_symbolize_tests"), "{symbol}");
            assert_eq!(loc.offset, "0x4");
        }
    }

    #[test]
    fn pseudo_and_anonymous_mappings_have_no_symbol() {
        let maps = read_maps(std::process::id() as i32).unwrap();
        let mut symbolizer = Symbolizer::new();
        let pid = std::process::id() as i32;
        if let Some(vdso) = maps.iter().find(|m| m.path == b"[vdso]") {
            let loc = symbolizer.locate_in(pid, &maps, vdso.start + 0x10).unwrap();
            assert_eq!((loc.library, loc.symbol, loc.offset), (Text::from("[vdso]"), None, "0x10".to_string()));
        }
        let anon = maps.iter().find(|m| m.path.is_empty()).unwrap();
        let loc = symbolizer.locate_in(pid, &maps, anon.start + 1).unwrap();
        assert_eq!((loc.library, loc.symbol), (Text::from("[anon]"), None));
        assert_eq!(symbolizer.locate_in(pid, &maps, 0), None, "in no mapping");
    }

    #[test]
    fn cache_stays_bounded() {
        let mut symbolizer = Symbolizer::new();
        let pid = std::process::id() as i32;
        let maps = read_maps(pid).unwrap();
        let files: Vec<&Mapping> = maps.iter().filter(|m| m.file_key().is_some()).collect();
        for map in &files {
            symbolizer.locate_in(pid, &maps, map.start + 1);
        }
        assert!(symbolizer.files.len() <= MAX_CACHED_FILES);
        assert_eq!(symbolizer.cached_bytes, symbolizer.files.values().map(|c| c.info.cost()).sum::<usize>());
    }
}
