//! Decoding: syscall numbers to names per architecture, and argument words to the values and names that
//! form a call class.

pub mod arch;
pub mod flags;
pub mod gpu;
pub mod ioctl;
pub mod lookup;
pub mod rows;
pub mod seccomp;
pub mod table;

use rows::ArgKind;

/// The value a class keeps for an argument: `int` arguments lose the upper half of the register, as the
/// kernel ignores it (and sign extension or junk there must not split one class in two).
pub fn class_value(kind: ArgKind, register: u64) -> u64 {
    if kind.is_32bit() { register & 0xffff_ffff } else { register }
}

/// How an argument value reads for a person.
pub fn describe(kind: ArgKind, value: u64) -> String {
    match kind {
        ArgKind::Ioctl => ioctl::describe(value as u32),
        ArgKind::Prot => flags::flag_names(value, flags::PROT, "PROT_NONE"),
        ArgKind::MmapFlags => flags::mmap_flags(value),
        ArgKind::SocketDomain => flags::enum_name(value, flags::AF),
        ArgKind::SocketType => flags::socket_type(value),
        ArgKind::CloneFlags => flags::clone_flags(value),
        ArgKind::Clone3Flags => flags::clone3_flags(value),
        ArgKind::PrctlOption => flags::enum_name(value, flags::PRCTL),
        ArgKind::Personality => flags::personality(value),
        ArgKind::SocketCall => flags::enum_name(value, flags::SOCKETCALL),
    }
}
