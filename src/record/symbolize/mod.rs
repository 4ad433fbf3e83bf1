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

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use gimli::{
    BaseAddresses, CfaRule, EhFrame, EhFrameHdr, LittleEndian, RegisterRule, UnwindContext, UnwindSection, X86_64,
};
use goblin::container::{Container, Ctx};
use goblin::elf::dynamic::{DT_SONAME, DT_STRSZ, DT_STRTAB, Dynamic};
use goblin::elf::header::EM_X86_64;
use goblin::elf::note::{NT_GNU_BUILD_ID, NoteDataIterator};
use goblin::elf::program_header::{PT_DYNAMIC, PT_GNU_EH_FRAME, PT_LOAD, PT_NOTE, ProgramHeader};
use goblin::elf::section_header::{SHT_DYNSYM, SHT_NOTE, SHT_SYMTAB, SectionHeader};
use goblin::elf::sym::{STB_GLOBAL, STB_WEAK, STT_FUNC, Sym, Symtab};
use goblin::elf::{Elf, header};
use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

use crate::trace::model::{CallSite, Location, Text};

/// At most this many parsed files are cached.
pub const MAX_CACHED_FILES: usize = 256;
/// The cache holds at most about this many bytes of symbol tables (a single larger file is still kept, alone).
pub const MAX_CACHED_BYTES: usize = 256 << 20;
/// No single table (symbols, strings, notes) read from a file may be larger than this: a malformed header must not
/// make us allocate gigabytes.
const MAX_TABLE_BYTES: u64 = 512 << 20;
/// Longest soname read.
const MAX_SONAME_BYTES: u64 = 4096;

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
            let file = self.open(pid, map, key)?;
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
            let file = self.open(pid, map, key)?;
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

    fn open(&self, pid: i32, map: &Mapping, key: FileKey) -> Option<File> {
        if self.use_map_files
            && let Ok(file) = File::open(format!("/proc/{pid}/map_files/{:x}-{:x}", map.start, map.end))
        {
            return Some(file);
        }
        let path = map.path.strip_suffix(b" (deleted)").unwrap_or(&map.path);
        let relative = path.strip_prefix(b"/")?;
        let file = File::open(Path::new(&format!("/proc/{pid}/root")).join(OsStr::from_bytes(relative))).ok()?;
        let meta = file.metadata().ok()?;
        (meta.dev() == key.dev && meta.ino() == key.inode).then_some(file)
    }
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

/// Whether the 7 bytes before a return address end with an x86 call instruction: `E8 rel32`, or `FF /2` (indirect
/// call through a register or memory) whose ModRM, SIB and displacement take 1, 2, 3, 5 or 6 bytes.
fn follows_call(before: &[u8; 7]) -> bool {
    let direct = before[2] == 0xe8;
    let indirect = [2, 3, 4, 6, 7].iter().any(|&len| before[7 - len] == 0xff && (before[8 - len] >> 3) & 7 == 2);
    direct || indirect
}

fn read_remote<const N: usize>(pid: i32, addr: u64) -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    let remote = [RemoteIoVec { base: usize::try_from(addr).ok()?, len: N }];
    let n = process_vm_readv(Pid::from_raw(pid), &mut [IoSliceMut::new(&mut buf)], &remote).ok()?;
    (n == N).then_some(buf)
}

/// The same file wherever and however often it is mapped: `st_dev` (as `makedev(major, minor)`) and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    dev: u64,
    inode: u64,
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

/// One line of `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mapping {
    start: u64,
    end: u64,
    exec: bool,
    offset: u64,
    dev: u64,
    inode: u64,
    /// As the kernel prints it; empty for an anonymous mapping.
    path: Vec<u8>,
}

impl Mapping {
    /// The key of the mapped file, or `None` for anonymous memory and pseudo-paths such as `[vdso]`.
    fn file_key(&self) -> Option<FileKey> {
        (self.path.first() == Some(&b'/')).then_some(FileKey { dev: self.dev, inode: self.inode })
    }
}

fn read_maps(pid: i32) -> Option<Vec<Mapping>> {
    let text = std::fs::read(format!("/proc/{pid}/maps")).ok()?;
    Some(text.split(|&b| b == b'\n').filter_map(parse_maps_line).collect())
}

fn find_mapping(maps: &[Mapping], addr: u64) -> Option<&Mapping> {
    maps.iter().find(|m| m.start <= addr && addr < m.end)
}

/// Parses `START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]` (see proc(5)); the path runs to the end of the line and
/// may hold spaces.
fn parse_maps_line(line: &[u8]) -> Option<Mapping> {
    fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let start = rest.iter().position(|&b| b != b' ')?;
        let len = rest[start..].iter().position(|&b| b == b' ').unwrap_or(rest.len() - start);
        let field = &rest[start..start + len];
        *rest = &rest[start + len..];
        Some(field)
    }
    fn hex_field(bytes: &[u8]) -> Option<u64> {
        u64::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok()
    }
    let mut rest = line;
    let range = field(&mut rest)?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let perms = field(&mut rest)?;
    let offset = hex_field(field(&mut rest)?)?;
    let dev = field(&mut rest)?;
    let colon = dev.iter().position(|&b| b == b':')?;
    let (major, minor) = (hex_field(&dev[..colon])?, hex_field(&dev[colon + 1..])?);
    let inode = std::str::from_utf8(field(&mut rest)?).ok()?.parse().ok()?;
    let path = rest.iter().position(|&b| b != b' ').map_or(&[][..], |p| &rest[p..]);
    Some(Mapping {
        start: hex_field(&range[..dash])?,
        end: hex_field(&range[dash + 1..])?,
        exec: perms.get(2) == Some(&b'x'),
        offset,
        dev: nix::sys::stat::makedev(major, minor),
        inode,
        path: path.to_vec(),
    })
}

/// What is kept of one ELF file.
#[derive(Debug, Default)]
struct ElfInfo {
    soname: Option<String>,
    build_id: Option<String>,
    /// `PT_LOAD` segments: file offset, file size, virtual address.
    loads: Vec<(u64, u64, u64)>,
    symbols: Symbols,
    /// A 64-bit x86_64 file, the only kind whose unwind table is read (its register numbers are x86_64's).
    x86_64: bool,
    /// `PT_GNU_EH_FRAME`, the `.eh_frame_hdr` section: file offset, size, virtual address.
    eh_frame_hdr: Option<(u64, u64, u64)>,
    /// Sections that are loaded: virtual address and size, to find where `.eh_frame` ends.
    sections: Vec<(u64, u64)>,
}

impl ElfInfo {
    /// Reads the parts of an ELF file that name addresses; `None` when it is not ELF or its headers are broken.
    fn read(file: &File) -> Option<ElfInfo> {
        let reader = Reader { file, len: file.metadata().ok()?.len() };
        let head = reader.read(0, reader.len.min(goblin::elf64::header::SIZEOF_EHDR as u64))?;
        let header = Elf::parse_header(&head).ok()?;
        let container = header.container().ok()?;
        let ctx = Ctx::new(container, header.endianness().ok()?);

        let phnum = usize::from(header.e_phnum);
        let phdrs = reader.read(header.e_phoff, (phnum * ProgramHeader::size(ctx)) as u64)?;
        let phdrs = ProgramHeader::parse(&phdrs, 0, phnum, ctx).ok()?;
        let loads: Vec<(u64, u64, u64)> =
            phdrs.iter().filter(|p| p.p_type == PT_LOAD).map(|p| (p.p_offset, p.p_filesz, p.p_vaddr)).collect();
        let mut info = ElfInfo {
            loads,
            x86_64: container == Container::Big && header.e_machine == EM_X86_64,
            eh_frame_hdr: phdrs
                .iter()
                .find(|p| p.p_type == PT_GNU_EH_FRAME)
                .map(|p| (p.p_offset, p.p_filesz, p.p_vaddr)),
            ..ElfInfo::default()
        };

        info.build_id = phdrs
            .iter()
            .filter(|p| p.p_type == PT_NOTE)
            .find_map(|p| reader.build_id(p.p_offset, p.p_filesz, p.p_align, ctx));
        info.soname = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC).and_then(|p| info.soname(&reader, p, ctx));

        let sections = reader.section_headers(&header, ctx).unwrap_or_default();
        info.sections = sections.iter().filter(|s| s.is_alloc()).map(|s| (s.sh_addr, s.sh_size)).collect();
        if info.build_id.is_none() {
            info.build_id = sections
                .iter()
                .filter(|s| s.sh_type == SHT_NOTE)
                .find_map(|s| reader.build_id(s.sh_offset, s.sh_size, s.sh_addralign, ctx));
        }
        info.symbols = [SHT_SYMTAB, SHT_DYNSYM]
            .iter()
            .filter_map(|&kind| {
                let table = sections.iter().find(|s| s.sh_type == kind)?;
                let strings = sections.get(table.sh_link as usize)?;
                reader.functions(table, strings, ctx)
            })
            .find(|symbols| !symbols.syms.is_empty())
            .unwrap_or_default();
        Some(info)
    }

    /// The virtual address of a file offset, through the `PT_LOAD` segment holding it.
    fn vaddr(&self, file_offset: u64) -> Option<u64> {
        self.loads.iter().find_map(|&(offset, size, vaddr)| {
            let into = file_offset.checked_sub(offset).filter(|&into| into < size)?;
            vaddr.checked_add(into)
        })
    }

    /// The file offset of a virtual address (the inverse of [`ElfInfo::vaddr`]).
    fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.loads.iter().find_map(|&(offset, size, start)| {
            let into = vaddr.checked_sub(start).filter(|&into| into < size)?;
            offset.checked_add(into)
        })
    }

    /// `DT_SONAME`, read from `.dynstr` as the dynamic section locates it.
    fn soname(&self, reader: &Reader, dynamic: &ProgramHeader, ctx: Ctx) -> Option<String> {
        let bytes = reader.read(dynamic.p_offset, dynamic.p_filesz)?;
        // `Dynamic::parse` finds the table through the first PT_DYNAMIC header: one pointing at our buffer.
        let mut here = ProgramHeader::new();
        here.p_type = PT_DYNAMIC;
        here.p_filesz = bytes.len() as u64;
        let dyns = Dynamic::parse(&bytes, &[here], ctx).ok()??.dyns;
        let tag = |t| dyns.iter().find(|d| d.d_tag == t).map(|d| d.d_val);
        let (name, strtab, strsz) = (tag(DT_SONAME)?, tag(DT_STRTAB)?, tag(DT_STRSZ)?);
        let len = strsz.checked_sub(name)?.min(MAX_SONAME_BYTES);
        let bytes = reader.read(self.file_offset(strtab)?.checked_add(name)?, len)?;
        let end = bytes.iter().position(|&b| b == 0)?;
        String::from_utf8(bytes[..end].to_vec()).ok()
    }
}

/// Bounded reads of parts of a file.
struct Reader<'a> {
    file: &'a File,
    len: u64,
}

impl Reader<'_> {
    /// `len` bytes at `offset`, if they are all in the file and within [`MAX_TABLE_BYTES`].
    fn read(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        if len > MAX_TABLE_BYTES || offset.checked_add(len)? > self.len {
            return None;
        }
        let mut buf = vec![0; usize::try_from(len).ok()?];
        self.file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    }

    fn section_headers(&self, header: &header::Header, ctx: Ctx) -> Option<Vec<SectionHeader>> {
        if header.e_shoff == 0 {
            return None;
        }
        let size = SectionHeader::size(ctx) as u64;
        // More than SHN_LORESERVE sections: e_shnum is 0 and the count is the first header's sh_size.
        let count = match header.e_shnum {
            0 => SectionHeader::parse_from(&self.read(header.e_shoff, size)?, 0, 1, ctx).ok()?.first()?.sh_size,
            n => u64::from(n),
        };
        let bytes = self.read(header.e_shoff, count.checked_mul(size)?)?;
        SectionHeader::parse_from(&bytes, 0, usize::try_from(count).ok()?, ctx).ok()
    }

    /// The GNU build-id in the notes at `offset`, lowercase hex.
    fn build_id(&self, offset: u64, size: u64, align: u64, ctx: Ctx) -> Option<String> {
        let bytes = self.read(offset, size)?;
        // Notes are padded to 4 bytes, or 8 in an 8-aligned segment; goblin would divide by a zero alignment.
        let align = if align == 8 { 8 } else { 4 };
        let mut notes = NoteDataIterator { data: &bytes, size: bytes.len(), offset: 0, ctx: (align, ctx) };
        let note = notes.find_map(|n| n.ok().filter(|n| n.n_type == NT_GNU_BUILD_ID && n.name == "GNU"))?;
        Some(note.desc.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The defined function symbols of a symbol table section.
    fn functions(&self, table: &SectionHeader, strings: &SectionHeader, ctx: Ctx) -> Option<Symbols> {
        let count = usize::try_from(table.sh_size).ok()? / Sym::size(ctx.container);
        let syms = self.read(table.sh_offset, (count * Sym::size(ctx.container)) as u64)?;
        let syms = Symtab::parse(&syms, 0, count, ctx).ok()?;
        let names = self.read(strings.sh_offset, strings.sh_size)?;
        Some(Symbols::build(syms.iter().filter_map(|sym| {
            if sym.st_type() != STT_FUNC || sym.st_shndx == 0 || sym.st_value == 0 {
                return None;
            }
            let name = names.get(sym.st_name..)?;
            let name = std::str::from_utf8(&name[..name.iter().position(|&b| b == 0)?]).ok()?;
            (!name.is_empty()).then_some(Candidate {
                start: sym.st_value,
                size: sym.st_size,
                bind: sym.st_bind(),
                name,
            })
        })))
    }
}

/// A function symbol as read, before choosing one name per address.
struct Candidate<'a> {
    start: u64,
    size: u64,
    bind: u8,
    name: &'a str,
}

impl Candidate<'_> {
    /// Sorts the name reviewers know first among aliases of one address (`ioctl` before `__ioctl` before
    /// `__GI___ioctl`): a symbol with a size, fewer leading underscores, global or weak over local, shorter.
    fn rank(&self) -> (bool, usize, u8, usize, &str) {
        let underscores = self.name.bytes().take_while(|&b| b == b'_').count();
        let bind = match self.bind {
            STB_GLOBAL | STB_WEAK => 0,
            _ => 1,
        };
        (self.size == 0, underscores, bind, self.name.len(), self.name)
    }
}

/// Function symbols sorted by start address, one per address, names in one string.
#[derive(Debug, Default)]
struct Symbols {
    syms: Vec<FuncSym>,
    names: String,
}

#[derive(Debug)]
struct FuncSym {
    start: u64,
    /// 0 when the symbol does not say.
    size: u64,
    name: u32,
    name_len: u32,
}

impl Symbols {
    fn build<'a>(candidates: impl Iterator<Item = Candidate<'a>>) -> Symbols {
        let mut candidates: Vec<Candidate> = candidates.collect();
        candidates.sort_unstable_by(|a, b| a.start.cmp(&b.start).then_with(|| a.rank().cmp(&b.rank())));
        candidates.dedup_by_key(|c| c.start);
        let mut symbols = Symbols::default();
        symbols.syms.reserve_exact(candidates.len());
        for c in candidates {
            let (Ok(name), Ok(name_len)) = (u32::try_from(symbols.names.len()), u32::try_from(c.name.len())) else {
                break;
            };
            symbols.names.push_str(c.name);
            symbols.syms.push(FuncSym { start: c.start, size: c.size, name, name_len });
        }
        symbols
    }

    /// The function holding `addr - 1` and its start. `addr` is a return address or the address after a syscall
    /// instruction, which may be one past the function's last byte. A function whose size is known must contain the
    /// address: past its end lies code with no symbol (a static function of a stripped library), which is better
    /// left unnamed than named after its exported neighbour.
    fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let key = addr.checked_sub(1)?;
        let sym = &self.syms[self.syms.partition_point(|s| s.start <= key).checked_sub(1)?];
        if sym.size != 0 && key - sym.start >= sym.size {
            return None;
        }
        let name = self.names.get(sym.name as usize..sym.name as usize + sym.name_len as usize)?;
        Some((name, sym.start))
    }
}

impl ElfInfo {
    /// Bytes this entry keeps, for the cache bound.
    fn cost(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.symbols.syms.capacity() * std::mem::size_of::<FuncSym>()
            + self.symbols.names.capacity()
            + self.loads.capacity() * std::mem::size_of::<(u64, u64, u64)>()
            + self.sections.capacity() * std::mem::size_of::<(u64, u64)>()
    }
}

/// A file's unwind table: `.eh_frame_hdr` (a sorted index of functions) and `.eh_frame` (each function's rules
/// for finding its caller's registers), as loaded in memory.
struct Unwind {
    hdr: Vec<u8>,
    hdr_vaddr: u64,
    frame: Vec<u8>,
    frame_vaddr: u64,
}

impl Unwind {
    fn read(file: &File, info: &ElfInfo) -> Option<Unwind> {
        if !info.x86_64 {
            return None;
        }
        let reader = Reader { file, len: file.metadata().ok()?.len() };
        let (offset, size, hdr_vaddr) = info.eh_frame_hdr?;
        let hdr = reader.read(offset, size)?;
        let bases = BaseAddresses::default().set_eh_frame_hdr(hdr_vaddr);
        let frame_vaddr = EhFrameHdr::new(&hdr, LittleEndian).parse(&bases, 8).ok()?.eh_frame_ptr().direct().ok()?;
        let frame_offset = info.file_offset(frame_vaddr)?;
        // The section's size; without section headers, the rest of its segment (the table ends in a terminator).
        let len = match info.sections.iter().find(|&&(addr, _)| addr == frame_vaddr) {
            Some(&(_, size)) => size,
            None => info.loads.iter().find_map(|&(offset, size, _)| {
                frame_offset.checked_sub(offset).and_then(|into| size.checked_sub(into))
            })?,
        };
        let frame = reader.read(frame_offset, len.min(MAX_TABLE_BYTES))?;
        Some(Unwind { hdr, hdr_vaddr, frame, frame_vaddr })
    }

    /// The stack address of the return address of the function holding `pc`, given the stack and frame pointers;
    /// `None` when the table has no entry for `pc` or its rule needs more than those two registers.
    fn return_slot(&self, pc: u64, sp: u64, fp: u64) -> Option<u64> {
        let bases = BaseAddresses::default().set_eh_frame_hdr(self.hdr_vaddr).set_eh_frame(self.frame_vaddr);
        let hdr = EhFrameHdr::new(&self.hdr, LittleEndian).parse(&bases, 8).ok()?;
        let mut frame = EhFrame::new(&self.frame, LittleEndian);
        frame.set_address_size(8);
        let mut ctx = UnwindContext::new();
        let row = hdr.table()?.unwind_info_for_address(&frame, &bases, &mut ctx, pc, EhFrame::cie_from_offset).ok()?;
        let cfa = match *row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RSP => {
                sp.checked_add_signed(offset)?
            }
            CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RBP => {
                fp.checked_add_signed(offset)?
            }
            _ => return None,
        };
        match row.register(X86_64::RA) {
            Some(RegisterRule::Offset(offset)) => cfa.checked_add_signed(offset),
            _ => None,
        }
    }

    fn cost(&self) -> usize {
        std::mem::size_of::<Self>() + self.hdr.capacity() + self.frame.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let line = b"7f3c1a200000-7f3c1a228000 r-xp 00028000 fd:01 1835028                    /usr/lib/libc.so.6";
        assert_eq!(
            parse_maps_line(line),
            Some(Mapping {
                start: 0x7f3c1a200000,
                end: 0x7f3c1a228000,
                exec: true,
                offset: 0x28000,
                dev: nix::sys::stat::makedev(0xfd, 1),
                inode: 1835028,
                path: b"/usr/lib/libc.so.6".to_vec(),
            })
        );
        let spaced = parse_maps_line(b"1000-2000 r-xp 00000000 08:02 7   /opt/my lib/x.so (deleted)").unwrap();
        assert_eq!(spaced.path, b"/opt/my lib/x.so (deleted)");
        let odd = parse_maps_line(b"1000-2000 r-xp 00000000 08:02 7 /tmp/\xff.so").unwrap();
        assert_eq!(Text::from_bytes(odd.path), Text::Bytes { bytes: b"/tmp/\xff.so".to_vec() });
        let anon = parse_maps_line(b"1000-2000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(anon.path.is_empty() && !anon.exec && anon.file_key().is_none());
        let vdso = parse_maps_line(b"7ffd1000-7ffd3000 r-xp 00000000 00:00 0                  [vdso]").unwrap();
        assert_eq!((vdso.path.as_slice(), vdso.file_key()), (&b"[vdso]"[..], None));
        assert_eq!(parse_maps_line(b""), None);
        assert_eq!(parse_maps_line(b"garbage"), None);
        assert_eq!(parse_maps_line(b"1000-zz r-xp 0 0:0 0"), None);
    }

    fn symbols(list: &[(u64, u64, u8, &str)]) -> Symbols {
        Symbols::build(list.iter().map(|&(start, size, bind, name)| Candidate { start, size, bind, name }))
    }

    #[test]
    fn lookup_takes_the_enclosing_function_and_the_known_name() {
        const LOCAL: u8 = 0;
        let s = symbols(&[
            (0x2000, 0x10, LOCAL, "__GI___ioctl"),
            (0x2000, 0x10, STB_GLOBAL, "__ioctl"),
            (0x2000, 0x10, STB_WEAK, "ioctl"),
            (0x1000, 0x100, STB_GLOBAL, "first"),
            (0x3000, 0, STB_GLOBAL, "unsized"),
        ]);
        assert_eq!(s.lookup(0x1000), None, "before the first symbol");
        assert_eq!(s.lookup(0x1001), Some(("first", 0x1000)));
        assert_eq!(s.lookup(0x1100), Some(("first", 0x1000)), "one past the end: the syscall was the last insn");
        assert_eq!(s.lookup(0x1101), None, "past a sized function: an unnamed one");
        assert_eq!(s.lookup(0x200b), Some(("ioctl", 0x2000)));
        assert_eq!(s.lookup(0x9000), Some(("unsized", 0x3000)));
        assert_eq!(symbols(&[]).lookup(0x1000), None);
        assert_eq!(s.lookup(0), None);
    }

    #[test]
    fn file_offsets_map_through_load_segments() {
        let info = ElfInfo { loads: vec![(0, 0x1000, 0), (0x1000, 0x500, 0x401000)], ..ElfInfo::default() };
        assert_eq!(info.vaddr(0x10), Some(0x10));
        assert_eq!(info.vaddr(0x1010), Some(0x401010));
        assert_eq!(info.vaddr(0x1500), None);
        assert_eq!(info.file_offset(0x401010), Some(0x1010));
    }

    #[test]
    fn call_instructions_before_a_return_address() {
        assert!(follows_call(&[0, 0, 0xe8, 1, 2, 3, 4]), "call rel32");
        assert!(follows_call(&[0, 0, 0, 0, 0, 0xff, 0xd0]), "call *%rax");
        assert!(follows_call(&[0, 0xff, 0x15, 1, 2, 3, 4]), "call *x(%rip)");
        assert!(follows_call(&[0, 0, 0, 0xff, 0x54, 0x24, 8]), "call *8(%rsp)");
        assert!(!follows_call(&[0, 0, 0, 0, 0, 0xff, 0xe0]), "jmp *%rax is no call");
        assert!(!follows_call(&[0x90; 7]));
    }

    #[test]
    fn malformed_files_give_nothing_and_do_not_panic() {
        let dir = std::env::temp_dir().join(format!("trapline-symbolize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let own = std::fs::read("/proc/self/exe").unwrap();
        let mut cases: Vec<Vec<u8>> = vec![vec![], b"\x7fELF".to_vec(), vec![0xff; 4096], own[..64].to_vec()];
        // The real header with its tables pointed far away or made huge.
        for (at, value) in [(0x20, u64::MAX), (0x28, u64::MAX), (0x28, 1 << 40)] {
            let mut bad = own[..4096.min(own.len())].to_vec();
            bad[at..at + 8].copy_from_slice(&value.to_le_bytes());
            cases.push(bad);
        }
        let mut counts = own[..4096.min(own.len())].to_vec();
        counts[0x38..0x3a].copy_from_slice(&u16::MAX.to_le_bytes());
        counts[0x3c..0x3e].copy_from_slice(&0u16.to_le_bytes());
        cases.push(counts);
        for (i, bytes) in cases.iter().enumerate() {
            let path = dir.join(format!("case{i}"));
            std::fs::write(&path, bytes).unwrap();
            let info = ElfInfo::read(&File::open(&path).unwrap()).unwrap_or_default();
            // The build-id note sits in the first page, so the truncated copies may keep it; no symbol table does.
            assert!(info.symbols.syms.is_empty(), "case {i}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
