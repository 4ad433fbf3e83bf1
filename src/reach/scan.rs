//! Reading one x86_64 ELF file for the syscalls its own code can make: the C library functions it imports (from
//! the dynamic symbol table), `syscall` instructions with a constant number, and calls to libc's `syscall()`
//! with a constant first argument (through the PLT or the GOT).

use std::collections::{BTreeMap, BTreeSet};

use goblin::elf::Elf;
use goblin::elf::header::EM_X86_64;
use goblin::elf::sym::{STT_FUNC, STT_NOTYPE};
use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register};

use super::wrappers::syscalls_of;
use crate::decode::arch::Arch;

/// How a binary reaches a syscall: the imported functions that make it, and its own `syscall` instructions.
pub type Ways = BTreeMap<String, BTreeSet<String>>;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("not an ELF file trapline can read: {0}")]
    NotElf(goblin::error::Error),
    #[error("an ELF file for another machine than x86_64 (e_machine {0})")]
    OtherMachine(u16),
}

/// What `bytes` (a whole ELF file) can reach, syscall by syscall, with how.
pub fn scan(bytes: &[u8]) -> Result<Ways, ScanError> {
    let elf = Elf::parse(bytes).map_err(ScanError::NotElf)?;
    if elf.header.e_machine != EM_X86_64 {
        return Err(ScanError::OtherMachine(elf.header.e_machine));
    }
    let arch = Arch::X86_64;
    let mut ways = Ways::new();
    let mut add = |syscall: &str, how: String| {
        ways.entry(syscall.to_string()).or_default().insert(how);
    };
    for sym in elf.dynsyms.iter().filter(|s| s.is_import() && matches!(s.st_type(), STT_FUNC | STT_NOTYPE)) {
        let Some(name) = elf.dynstrtab.get_at(sym.st_name) else { continue };
        for syscall in syscalls_of(name, arch) {
            add(syscall, format!("{name}()"));
        }
    }
    let imports = imports_by_address(&elf, bytes);
    for section in &elf.section_headers {
        let executable = section.is_executable() && section.sh_type == goblin::elf::section_header::SHT_PROGBITS;
        let name = elf.shdr_strtab.get_at(section.sh_name).unwrap_or("");
        if !executable || name.starts_with(".plt") {
            continue;
        }
        let Some(code) = bytes.get(section.sh_offset as usize..(section.sh_offset + section.sh_size) as usize) else {
            continue;
        };
        for (nr, how) in constant_syscalls(code, section.sh_addr, &imports) {
            if let Some(syscall) = arch.syscall_name(nr) {
                add(syscall, how.to_string());
            }
        }
    }
    Ok(ways)
}

/// Where a call lands for each imported function: its PLT stub and its GOT slot (`call [rip+slot]`).
fn imports_by_address(elf: &Elf, bytes: &[u8]) -> BTreeMap<u64, String> {
    let mut by_slot = BTreeMap::new();
    for reloc in elf.pltrelocs.iter().chain(elf.dynrelas.iter()) {
        if let Some(name) = elf.dynsyms.get(reloc.r_sym).and_then(|s| elf.dynstrtab.get_at(s.st_name)) {
            by_slot.insert(reloc.r_offset, name.to_string());
        }
    }
    let mut by_address = by_slot.clone();
    for section in &elf.section_headers {
        let name = elf.shdr_strtab.get_at(section.sh_name).unwrap_or("");
        if !name.starts_with(".plt") {
            continue;
        }
        let Some(code) = bytes.get(section.sh_offset as usize..(section.sh_offset + section.sh_size) as usize) else {
            continue;
        };
        let mut decoder = Decoder::with_ip(64, code, section.sh_addr, DecoderOptions::NONE);
        let mut insn = Instruction::default();
        while decoder.can_decode() {
            decoder.decode_out(&mut insn);
            // A stub is `[endbr64;] [bnd] jmp [rip+slot]`, at the start of its 16-byte entry.
            if insn.flow_control() == FlowControl::IndirectBranch
                && insn.is_ip_rel_memory_operand()
                && let Some(name) = by_slot.get(&insn.ip_rel_memory_address())
            {
                by_address.insert(insn.ip() & !0xf, name.clone());
            }
        }
    }
    by_address
}

/// The constant syscall numbers of `code`: `syscall` after `mov eax, N` (or `xor eax, eax`), and calls to
/// `syscall()` after `mov edi, N`, within a straight run of instructions.
fn constant_syscalls(code: &[u8], address: u64, imports: &BTreeMap<u64, String>) -> Vec<(u64, &'static str)> {
    let mut found = Vec::new();
    let mut decoder = Decoder::with_ip(64, code, address, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let (mut eax, mut edi): (Option<u64>, Option<u64>) = (None, None);
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.mnemonic() == Mnemonic::Syscall {
            if let Some(nr) = eax {
                found.push((nr, "syscall instruction"));
            }
            eax = None;
            continue;
        }
        if matches!(insn.flow_control(), FlowControl::Call | FlowControl::IndirectCall) {
            let target = match insn.op0_kind() {
                OpKind::NearBranch64 => Some(insn.near_branch_target()),
                OpKind::Memory if insn.is_ip_rel_memory_operand() => Some(insn.ip_rel_memory_address()),
                _ => None,
            };
            if let (Some("syscall"), Some(nr)) = (target.and_then(|t| imports.get(&t)).map(String::as_str), edi) {
                found.push((nr, "syscall()"));
            }
            (eax, edi) = (None, None);
            continue;
        }
        if insn.flow_control() != FlowControl::Next {
            (eax, edi) = (None, None);
            continue;
        }
        eax = track(&insn, Register::EAX, eax);
        edi = track(&insn, Register::EDI, edi);
    }
    found
}

/// What a register holds after `insn`, as far as a constant goes: set by `mov reg, imm` or `xor reg, reg`,
/// forgotten by anything else that writes it.
fn track(insn: &Instruction, register: Register, before: Option<u64>) -> Option<u64> {
    let full = register.full_register();
    let writes =
        insn.op_count() > 0 && insn.op0_kind() == OpKind::Register && insn.op0_register().full_register() == full;
    if !writes {
        return before;
    }
    match insn.code() {
        Code::Mov_r32_imm32 | Code::Mov_rm32_imm32 | Code::Mov_r64_imm64 | Code::Mov_rm64_imm32 => {
            Some(insn.immediate(1))
        }
        Code::Xor_r32_rm32 | Code::Xor_rm32_r32 | Code::Xor_r64_rm64 | Code::Xor_rm64_r64
            if insn.op1_kind() == OpKind::Register && insn.op1_register().full_register() == full =>
        {
            Some(0)
        }
        _ => None,
    }
}
