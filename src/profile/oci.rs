//! The runtime-spec `linux.seccomp` object: the deployable profile, and nothing but it.
//!
//! Field names and values follow `config-linux.md` and `schema/config-linux.json` of the OCI runtime-spec.
//! Docker-only keys (`archMap`, `includes`, `comment`, ...) are deliberately absent: containerd drops
//! them silently, so explanations live in a separate report.

use serde::{Deserialize, Serialize};

use crate::decode::arch::Arch;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Conditions, all of which must hold (AND). Several entries for one name are alternatives (OR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgRule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgRule {
    pub index: u32,
    /// For SCMP_CMP_MASKED_EQ this is the mask.
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: Op,
}

impl ArgRule {
    /// `(arg & mask) == value`: how every trapline condition is written, so that 32-bit arguments compare
    /// equal whatever the register's upper half holds.
    pub fn masked_eq(index: u8, mask: u64, value: u64) -> ArgRule {
        ArgRule { index: u32::from(index), value: mask, value_two: value, op: Op::MaskedEq }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "SCMP_ACT_KILL")]
    Kill,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "SCMP_CMP_NE")]
    Ne,
    #[serde(rename = "SCMP_CMP_LT")]
    Lt,
    #[serde(rename = "SCMP_CMP_LE")]
    Le,
    #[serde(rename = "SCMP_CMP_EQ")]
    Eq,
    #[serde(rename = "SCMP_CMP_GE")]
    Ge,
    #[serde(rename = "SCMP_CMP_GT")]
    Gt,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEq,
}

/// The `SCMP_ARCH_*` names a profile lists for a machine: its native arch and the compat arches its
/// kernel also accepts calls from.
pub fn architectures_for(native: Arch) -> Vec<String> {
    let names: &[&str] = match native {
        Arch::X86_64 | Arch::X32 | Arch::I386 => &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        Arch::Aarch64 | Arch::Arm => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// The audit arch behind an `SCMP_ARCH_*` name, for the ones trapline knows.
pub fn arch_of_scmp(name: &str) -> Option<Arch> {
    match name {
        "SCMP_ARCH_X86_64" => Some(Arch::X86_64),
        "SCMP_ARCH_X86" => Some(Arch::I386),
        "SCMP_ARCH_X32" => Some(Arch::X32),
        "SCMP_ARCH_AARCH64" => Some(Arch::Aarch64),
        "SCMP_ARCH_ARM" => Some(Arch::Arm),
        _ => None,
    }
}
