//! Finding a caller on x86_64: the unwind table (`.eh_frame_hdr`, `.eh_frame`) says which stack word holds the
//! return address, and a return address is believed only if it follows a call instruction.

use std::fs::File;
use std::io::IoSliceMut;

use gimli::{
    BaseAddresses, CfaRule, EhFrame, EhFrameHdr, LittleEndian, RegisterRule, UnwindContext, UnwindSection, X86_64,
};
use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

use super::elf::{ElfInfo, MAX_TABLE_BYTES, Reader};

/// A file's unwind table: `.eh_frame_hdr` (a sorted index of functions) and `.eh_frame` (each function's rules
/// for finding its caller's registers), as loaded in memory.
pub(super) struct Unwind {
    hdr: Vec<u8>,
    hdr_vaddr: u64,
    frame: Vec<u8>,
    frame_vaddr: u64,
}

impl Unwind {
    pub(super) fn read(file: &File, info: &ElfInfo) -> Option<Unwind> {
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
    pub(super) fn return_slot(&self, pc: u64, sp: u64, fp: u64) -> Option<u64> {
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

    pub(super) fn cost(&self) -> usize {
        std::mem::size_of::<Self>() + self.hdr.capacity() + self.frame.capacity()
    }
}

/// Whether the 7 bytes before a return address end with an x86 call instruction: `E8 rel32`, or `FF /2` (indirect
/// call through a register or memory) whose ModRM, SIB and displacement take 1, 2, 3, 5 or 6 bytes.
pub(super) fn follows_call(before: &[u8; 7]) -> bool {
    let direct = before[2] == 0xe8;
    let indirect = [2, 3, 4, 6, 7].iter().any(|&len| before[7 - len] == 0xff && (before[8 - len] >> 3) & 7 == 2);
    direct || indirect
}

/// The `N` bytes at `addr` in the memory of process `pid`; `None` unless all of them could be read.
pub(super) fn read_remote<const N: usize>(pid: i32, addr: u64) -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    let remote = [RemoteIoVec { base: usize::try_from(addr).ok()?, len: N }];
    let n = process_vm_readv(Pid::from_raw(pid), &mut [IoSliceMut::new(&mut buf)], &remote).ok()?;
    (n == N).then_some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_instructions_before_a_return_address() {
        assert!(follows_call(&[0, 0, 0xe8, 1, 2, 3, 4]), "call rel32");
        assert!(follows_call(&[0, 0, 0, 0, 0, 0xff, 0xd0]), "call *%rax");
        assert!(follows_call(&[0, 0xff, 0x15, 1, 2, 3, 4]), "call *x(%rip)");
        assert!(follows_call(&[0, 0, 0, 0xff, 0x54, 0x24, 8]), "call *8(%rsp)");
        assert!(!follows_call(&[0, 0, 0, 0, 0, 0xff, 0xe0]), "jmp *%rax is no call");
        assert!(!follows_call(&[0x90; 7]));
    }
}
