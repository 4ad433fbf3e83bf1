//! Looking values up by what they are, for people reading a profile or a bug report (`trapline decode`): an
//! ioctl request (on a device family, or on any fd), an NVIDIA RM control command or class, a syscall.

use super::arch::Arch;
use super::gpu::{DeviceFamily, Inferred, nvidia};
use super::ioctl;

/// A value read from the command line: a number (`0x` hex, or decimal) or a name.
#[derive(Debug, thiserror::Error)]
#[error("{text:?} is not a number (0x1f or 31)")]
pub struct NotANumber {
    pub text: String,
}

/// A number as people write it: `0x` hex or decimal, `_` between digits allowed.
pub fn number(text: &str) -> Result<u64, NotANumber> {
    // Digit separators, as Rust and the project's tables write them (`0x2080_0110`).
    let digits = text.replace('_', "");
    let parsed = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    };
    parsed.map_err(|_| NotANumber { text: text.to_string() })
}

/// The name of an ioctl request: on `family` when given; else a request that means the same on every fd, or
/// one whose family the request alone settles (then the family is said).
pub fn ioctl_request(request: u32, family: Option<DeviceFamily>) -> Option<String> {
    if let Some(family) = family {
        return family.request_name(request);
    }
    if let Some(name) = ioctl::generic_name(request) {
        return Some(name.to_string());
    }
    match DeviceFamily::infer(request) {
        Inferred::Family(family) => family.request_name(request).map(|name| format!("{name} (on {})", family.label())),
        Inferred::Ambiguous(_) | Inferred::NotGpu => None,
    }
}

/// The name of an NVIDIA RM control command (`NVOS54.cmd`).
pub fn rm_control(cmd: u32) -> Option<&'static str> {
    nvidia::known_control_name(cmd)
}

/// The name of an NVIDIA RM allocation class (`hClass`).
pub fn rm_class(class: u32) -> Option<&'static str> {
    nvidia::alloc_class_name(class)
}

/// A syscall both ways: a name gives its number, a number its name, in `arch`'s table.
pub fn syscall(text: &str, arch: Arch) -> Option<String> {
    match number(text) {
        Ok(nr) => arch.syscall_name(nr).map(str::to_string),
        Err(_) => arch.syscall_nr(text).map(|nr| nr.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_named_by_what_they_are() {
        assert_eq!(ioctl_request(0x5401, None).as_deref(), Some("TCGETS"));
        assert_eq!(
            ioctl_request(0xC020_462A, None).as_deref(),
            Some("NV_ESC_RM_CONTROL (on NVIDIA frontend (/dev/nvidiactl, /dev/nvidiaN))")
        );
        assert_eq!(ioctl_request(0x1, Some(DeviceFamily::NvidiaUvm)).as_deref(), Some("UVM_RESERVE_VA"));
        assert_eq!(ioctl_request(0x1, None), None, "FIBMAP or UVM_RESERVE_VA");
        assert_eq!(rm_control(0x2080_0110), Some("NV2080_CTRL_CMD_GPU_GET_NAME_STRING"));
        assert_eq!(rm_control(0x1234_5678), None);
        assert_eq!(syscall("openat", Arch::X86_64).as_deref(), Some("257"));
        assert_eq!(syscall("0x101", Arch::X86_64).as_deref(), Some("openat"));
        assert_eq!(syscall("56", Arch::Aarch64).as_deref(), Some("openat"));
        assert!(number("zz").is_err());
    }
}
