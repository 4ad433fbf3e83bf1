//! Audit architectures and their syscall tables.
//!
//! A tracer on x86_64 also sees i386 callers (`int 0x80`) and x32 callers, so every lookup is keyed by the
//! audit architecture the kernel reports for the call, never by the architecture trapline was built for.
//! Syscall numbers and names come from the `syscalls` crate, generated from the kernel's own tables.

use serde::{Deserialize, Serialize};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// x32 calls arrive as AUDIT_ARCH_X86_64 with this bit set in the syscall number.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86_64,
    I386,
    X32,
    Aarch64,
    Arm,
}

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::X86_64, Arch::I386, Arch::X32, Arch::Aarch64, Arch::Arm];

    /// The architecture of one call, from the audit arch and the raw syscall number.
    pub fn of_call(audit_arch: u32, nr: u64) -> Option<Arch> {
        match audit_arch {
            AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => Some(Arch::X32),
            AUDIT_ARCH_X86_64 => Some(Arch::X86_64),
            AUDIT_ARCH_I386 => Some(Arch::I386),
            AUDIT_ARCH_AARCH64 => Some(Arch::Aarch64),
            AUDIT_ARCH_ARM => Some(Arch::Arm),
            _ => None,
        }
    }

    /// The audit architecture a filter compares `seccomp_data.arch` with (x32 shares x86_64's).
    pub fn audit(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => AUDIT_ARCH_X86_64,
            Arch::I386 => AUDIT_ARCH_I386,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
            Arch::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// The architecture trapline itself runs as.
    pub fn native() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else if cfg!(target_arch = "arm") {
            Arch::Arm
        } else if cfg!(target_arch = "x86") {
            Arch::I386
        } else {
            Arch::X86_64
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I386 => "i386",
            Arch::X32 => "x32",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The syscall number within this architecture's table (x32 numbers lose their marker bit).
    pub fn table_nr(self, nr: u64) -> u64 {
        match self {
            Arch::X32 => nr & !X32_SYSCALL_BIT,
            _ => nr,
        }
    }

    /// The kernel's name for syscall `nr` (already passed through [`Arch::table_nr`]).
    pub fn syscall_name(self, nr: u64) -> Option<&'static str> {
        let nr = usize::try_from(nr).ok()?;
        match self {
            Arch::X86_64 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
            // x32 shares the x86_64 numbering below 512; 512..=547 are x32-only compat entry points.
            Arch::X32 if nr < 512 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
            Arch::X32 => None,
            Arch::I386 => syscalls::x86::Sysno::new(nr).map(|s| s.name()),
            Arch::Aarch64 => syscalls::aarch64::Sysno::new(nr).map(|s| s.name()),
            Arch::Arm => syscalls::arm::Sysno::new(nr).map(|s| s.name()),
        }
    }

    /// The number of `name` on this architecture, if it exists there.
    pub fn syscall_nr(self, name: &str) -> Option<u64> {
        let nr = match self {
            Arch::X86_64 | Arch::X32 => name.parse::<syscalls::x86_64::Sysno>().ok()?.id(),
            Arch::I386 => name.parse::<syscalls::x86::Sysno>().ok()?.id(),
            Arch::Aarch64 => name.parse::<syscalls::aarch64::Sysno>().ok()?.id(),
            Arch::Arm => name.parse::<syscalls::arm::Sysno>().ok()?.id(),
        };
        let nr = u64::try_from(nr).ok()?;
        Some(if self == Arch::X32 { nr | X32_SYSCALL_BIT } else { nr })
    }

    /// One past the highest syscall number in this architecture's table.
    pub fn table_len(self) -> usize {
        match self {
            Arch::X86_64 | Arch::X32 => syscalls::x86_64::Sysno::table_size(),
            Arch::I386 => syscalls::x86::Sysno::table_size(),
            Arch::Aarch64 => syscalls::aarch64::Sysno::table_size(),
            Arch::Arm => syscalls::arm::Sysno::table_size(),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_callers_arch() {
        assert_eq!(Arch::X86_64.syscall_name(39), Some("getpid"));
        assert_eq!(Arch::I386.syscall_name(20), Some("getpid"));
        assert_eq!(Arch::Aarch64.syscall_name(172), Some("getpid"));
        assert_eq!(Arch::X86_64.syscall_name(462), Some("mseal"));
    }

    #[test]
    fn x32_calls_are_told_apart() {
        assert_eq!(Arch::of_call(AUDIT_ARCH_X86_64, 39), Some(Arch::X86_64));
        assert_eq!(Arch::of_call(AUDIT_ARCH_X86_64, 39 | X32_SYSCALL_BIT), Some(Arch::X32));
        assert_eq!(Arch::X32.table_nr(39 | X32_SYSCALL_BIT), 39);
        assert_eq!(Arch::of_call(0x1234, 0), None);
    }

    #[test]
    fn numbers_round_trip() {
        for arch in Arch::ALL {
            let nr = arch.syscall_nr("getpid").unwrap();
            assert_eq!(arch.syscall_name(arch.table_nr(nr)), Some("getpid"), "{arch}");
        }
    }
}
