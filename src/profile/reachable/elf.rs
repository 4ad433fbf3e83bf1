//! What one x86_64 ELF file's code can ask of the kernel, found statically: the functions it imports through its
//! dynamic symbol table (libc's syscall wrappers, called through the PLT), and `syscall` instructions whose
//! number was loaded as a constant just before them (decoded with iced-x86).

use std::collections::BTreeSet;
use std::path::Path;

use goblin::elf::Elf;
use goblin::elf::header::EM_X86_64;
use goblin::elf::note::NT_GNU_BUILD_ID;
use goblin::elf::section_header::SHF_EXECINSTR;
use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register};

use super::ReachError;

/// What the file holds, before imports are turned into syscalls.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Undefined function symbols of `.dynsym`: what the file calls in other libraries.
    pub imports: BTreeSet<String>,
    /// Syscall numbers of `syscall` instructions with a constant number.
    pub numbers: BTreeSet<u64>,
    /// `syscall` instructions whose number is computed (a generic `syscall()` function, a dispatcher).
    pub unresolved: u64,
}

/// An x86_64 ELF file read into memory, its build id found; its code is decoded only when [`Loaded::scan`] is
/// called, so a cached build id costs the read alone.
pub struct Loaded {
    bytes: Vec<u8>,
    pub build_id: Option<String>,
}

/// Reads `path`. Only x86_64 code is decoded; other files are refused with a reason.
pub fn load(path: &Path) -> Result<Loaded, ReachError> {
    let io = |error| ReachError::Read { path: path.to_path_buf(), error };
    let bytes = std::fs::read(path).map_err(io)?;
    let elf = parse(path, &bytes)?;
    let build_id = build_id(&elf, &bytes);
    Ok(Loaded { build_id, bytes })
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<Elf<'a>, ReachError> {
    let not_elf = |why: String| ReachError::NotElf { path: path.to_path_buf(), why };
    let elf = Elf::parse(bytes).map_err(|e| not_elf(e.to_string()))?;
    if elf.header.e_machine != EM_X86_64 || !elf.is_64 {
        return Err(not_elf("not x86_64 code; only x86_64 is decoded".to_string()));
    }
    Ok(elf)
}

impl Loaded {
    /// Its imports and the numbers of its `syscall` instructions.
    pub fn scan(&self, path: &Path) -> Result<Scanned, ReachError> {
        let elf = parse(path, &self.bytes)?;
        let mut scanned = Scanned::default();
        for sym in elf.dynsyms.iter().filter(|s| s.is_import() && s.is_function()) {
            if let Some(name) = elf.dynstrtab.get_at(sym.st_name) {
                // `read@GLIBC_2.2.5` is read: versions live in another table, but some linkers leave them here.
                scanned.imports.insert(name.split('@').next().unwrap_or(name).to_string());
            }
        }
        for section in elf.section_headers.iter().filter(|s| s.sh_flags & u64::from(SHF_EXECINSTR) != 0) {
            let Some(range) = section.file_range() else { continue };
            let Some(code) = self.bytes.get(range) else { continue };
            syscalls_in(code, section.sh_addr, &mut scanned);
        }
        Ok(scanned)
    }
}

fn build_id(elf: &Elf, bytes: &[u8]) -> Option<String> {
    let notes = elf.iter_note_sections(bytes, None).or_else(|| elf.iter_note_headers(bytes))?;
    notes
        .flatten()
        .find(|n| n.n_type == NT_GNU_BUILD_ID && n.name == "GNU")
        .map(|n| n.desc.iter().map(|b| format!("{b:02x}")).collect())
}

/// A linear sweep of `code`: the value last loaded into eax is followed until something else may change it (a
/// write to rax, a branch or call, a branch target we cannot see), and read at each `syscall`.
fn syscalls_in(code: &[u8], address: u64, scanned: &mut Scanned) {
    let mut decoder = Decoder::with_ip(64, code, address, DecoderOptions::NONE);
    let mut instr = Instruction::default();
    let mut eax: Option<u64> = None;
    while decoder.can_decode() {
        decoder.decode_out(&mut instr);
        match instr.mnemonic() {
            Mnemonic::Syscall => {
                match eax {
                    Some(nr) => {
                        scanned.numbers.insert(nr);
                    }
                    None => scanned.unresolved += 1,
                }
                eax = None;
            }
            Mnemonic::Mov if writes_rax(&instr) && is_immediate(instr.op1_kind()) => eax = Some(instr.immediate(1)),
            Mnemonic::Xor if writes_rax(&instr) && instr.op1_kind() == OpKind::Register => {
                eax = (instr.op1_register().full_register() == Register::RAX).then_some(0);
            }
            _ if writes_rax(&instr) || instr.flow_control() != FlowControl::Next => eax = None,
            _ => {}
        }
    }
}

fn writes_rax(instr: &Instruction) -> bool {
    instr.op_count() > 0
        && instr.op0_kind() == OpKind::Register
        && instr.op0_register().full_register() == Register::RAX
}

fn is_immediate(kind: OpKind) -> bool {
    matches!(kind, OpKind::Immediate32 | OpKind::Immediate32to64 | OpKind::Immediate64 | OpKind::Immediate8to32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(code: &[u8]) -> (BTreeSet<u64>, u64) {
        let mut scanned = Scanned::default();
        syscalls_in(code, 0x1000, &mut scanned);
        (scanned.numbers, scanned.unresolved)
    }

    #[test]
    fn a_constant_loaded_before_syscall_is_its_number() {
        // mov eax, 0x29 (socket); syscall
        assert_eq!(numbers(&[0xb8, 0x29, 0, 0, 0, 0x0f, 0x05]), ([0x29].into(), 0));
        // xor eax, eax (read); mov edi, 3; syscall
        assert_eq!(numbers(&[0x31, 0xc0, 0xbf, 3, 0, 0, 0, 0x0f, 0x05]), ([0].into(), 0));
    }

    #[test]
    fn a_number_changed_or_crossed_by_a_branch_is_unresolved() {
        // mov eax, 0x29; mov eax, edi; syscall
        assert_eq!(numbers(&[0xb8, 0x29, 0, 0, 0, 0x89, 0xf8, 0x0f, 0x05]), (BTreeSet::new(), 1));
        // mov eax, 0x29; jne +0; syscall
        assert_eq!(numbers(&[0xb8, 0x29, 0, 0, 0, 0x75, 0x00, 0x0f, 0x05]), (BTreeSet::new(), 1));
    }
}
