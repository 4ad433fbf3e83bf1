//! Reading the parts of an ELF file that name addresses: `PT_LOAD` segments (file offset to virtual address), the
//! function symbols of `.symtab` or `.dynsym`, the soname and the GNU build-id, with every read bounded.

use std::fs::File;
use std::os::unix::fs::FileExt;

use goblin::container::{Container, Ctx};
use goblin::elf::dynamic::{DT_SONAME, DT_STRSZ, DT_STRTAB, Dynamic};
use goblin::elf::header::EM_X86_64;
use goblin::elf::note::{NT_GNU_BUILD_ID, NoteDataIterator};
use goblin::elf::program_header::{PT_DYNAMIC, PT_GNU_EH_FRAME, PT_LOAD, PT_NOTE, ProgramHeader};
use goblin::elf::section_header::{SHT_DYNSYM, SHT_NOTE, SHT_SYMTAB, SectionHeader};
use goblin::elf::sym::{STT_FUNC, Sym, Symtab};
use goblin::elf::{Elf, header};

use super::symbols::{Candidate, Symbols};

/// No single table (symbols, strings, notes) read from a file may be larger than this: a malformed header must not
/// make us allocate gigabytes.
pub(super) const MAX_TABLE_BYTES: u64 = 512 << 20;
/// Longest soname read.
const MAX_SONAME_BYTES: u64 = 4096;

/// What is kept of one ELF file.
#[derive(Debug, Default)]
pub(super) struct ElfInfo {
    pub(super) soname: Option<String>,
    pub(super) build_id: Option<String>,
    /// `PT_LOAD` segments: file offset, file size, virtual address.
    pub(super) loads: Vec<(u64, u64, u64)>,
    pub(super) symbols: Symbols,
    /// A 64-bit x86_64 file, the only kind whose unwind table is read (its register numbers are x86_64's).
    pub(super) x86_64: bool,
    /// `PT_GNU_EH_FRAME`, the `.eh_frame_hdr` section: file offset, size, virtual address.
    pub(super) eh_frame_hdr: Option<(u64, u64, u64)>,
    /// Sections that are loaded: virtual address and size, to find where `.eh_frame` ends.
    pub(super) sections: Vec<(u64, u64)>,
}

impl ElfInfo {
    /// Reads the parts of an ELF file that name addresses; `None` when it is not ELF or its headers are broken.
    pub(super) fn read(file: &File) -> Option<ElfInfo> {
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
            .find(|symbols| !symbols.is_empty())
            .unwrap_or_default();
        Some(info)
    }

    /// The virtual address of a file offset, through the `PT_LOAD` segment holding it.
    pub(super) fn vaddr(&self, file_offset: u64) -> Option<u64> {
        self.loads.iter().find_map(|&(offset, size, vaddr)| {
            let into = file_offset.checked_sub(offset).filter(|&into| into < size)?;
            vaddr.checked_add(into)
        })
    }

    /// The file offset of a virtual address (the inverse of [`ElfInfo::vaddr`]).
    pub(super) fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.loads.iter().find_map(|&(offset, size, start)| {
            let into = vaddr.checked_sub(start).filter(|&into| into < size)?;
            offset.checked_add(into)
        })
    }

    /// Bytes this entry keeps, for the cache bound.
    pub(super) fn cost(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.symbols.cost()
            + self.loads.capacity() * std::mem::size_of::<(u64, u64, u64)>()
            + self.sections.capacity() * std::mem::size_of::<(u64, u64)>()
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
pub(super) struct Reader<'a> {
    pub(super) file: &'a File,
    pub(super) len: u64,
}

impl Reader<'_> {
    /// `len` bytes at `offset`, if they are all in the file and within [`MAX_TABLE_BYTES`].
    pub(super) fn read(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_offsets_map_through_load_segments() {
        let info = ElfInfo { loads: vec![(0, 0x1000, 0), (0x1000, 0x500, 0x401000)], ..ElfInfo::default() };
        assert_eq!(info.vaddr(0x10), Some(0x10));
        assert_eq!(info.vaddr(0x1010), Some(0x401010));
        assert_eq!(info.vaddr(0x1500), None);
        assert_eq!(info.file_offset(0x401010), Some(0x1010));
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
            assert!(info.symbols.is_empty(), "case {i}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
