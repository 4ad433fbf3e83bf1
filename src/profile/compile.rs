//! A profile compiled to the BPF program the kernel runs, with libseccomp, in trapline's own process: the
//! workload's launcher then only has to load the ready program between fork and exec.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::str::FromStr;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};

use super::oci::{Action, Op, Seccomp};

/// What the compiled filter does with a call the profile does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// What the profile says: deny, kill, trap.
    Enforce,
    /// Stop in the tracer (SECCOMP_RET_TRACE), which reports the call and lets it run: calls the profile
    /// allows never leave the kernel, so an audited run costs about what an unfiltered one does.
    TraceOutside,
    /// Deny what the profile denies with an errno through the tracer: SECCOMP_RET_TRACE with the errno and
    /// [`REPORTED`] in the data, so the tracer can say which call was denied before it fails it. Kill and
    /// trap actions stay the kernel's, and so does ENOSYS, which callers answer by falling back.
    Report,
}

/// Marks a [`Mode::Report`] denial in SECCOMP_RET_TRACE's data; the errno is in the low 12 bits.
pub const REPORTED: u32 = 0x8000;

/// The errno a tracer fails a call with at a SECCOMP_RET_TRACE stop of a [`Mode::Report`] filter: the
/// profile's, or ENOSYS for a profile's own SCMP_ACT_TRACE, as the kernel answers it when no tracer is attached.
pub fn reported_errno(data: u32) -> u32 {
    if data & REPORTED != 0 { data & 0xfff } else { libc::ENOSYS as u32 }
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("libseccomp cannot {what}: {error}; `trapline lint` on the profile says more")]
    Libseccomp { what: String, error: libseccomp::error::SeccompError },
    #[error("cannot hold the compiled filter in memory: {0}")]
    Export(std::io::Error),
    #[error("the compiled filter is not a whole number of BPF instructions ({0} bytes)")]
    Malformed(usize),
}

/// Compiles `profile`, as runc would load it (unknown names skipped, entries equal to the default skipped).
/// Returns the BPF program and the names libseccomp did not know.
pub fn compile(profile: &Seccomp, mode: Mode) -> Result<(Vec<libc::sock_filter>, Vec<String>), CompileError> {
    let fail = |what: String| move |error| CompileError::Libseccomp { what, error };
    let default = action(profile.default_action, profile.default_errno_ret, mode);
    let mut ctx = ScmpFilterContext::new(default).map_err(fail("create a filter".into()))?;
    // A binary tree over syscall numbers instead of a linear scan: fewer instructions per call for long
    // profiles (runc does the same). Older libseccomp without it still builds a correct, linear filter.
    let _ = ctx.set_ctl_optimize(2);
    for name in &profile.architectures {
        let arch = ScmpArch::from_str(name).map_err(fail(format!("use architecture {name}")))?;
        if !ctx.is_arch_present(arch).unwrap_or(false) {
            ctx.add_arch(arch).map_err(fail(format!("add architecture {name}")))?;
        }
    }
    let mut unknown = Vec::new();
    for entry in &profile.syscalls {
        let action = action(entry.action, entry.errno_ret, mode);
        if action == default {
            continue; // libseccomp refuses it (EACCES) and runc skips it: the default already applies
        }
        let conditions: Vec<ScmpArgCompare> =
            entry.args.iter().map(|a| compare(a.index, a.op, a.value, a.value_two)).collect();
        for name in &entry.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                unknown.push(name.clone());
                continue;
            };
            ctx.add_rule_conditional(action, syscall, &conditions).map_err(fail(format!("add the rule for {name}")))?;
        }
    }
    // export_bpf_mem needs libseccomp 2.6; an in-memory file works with every version.
    let memfd = nix::sys::memfd::memfd_create(c"trapline-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| CompileError::Export(e.into()))?;
    ctx.export_bpf(&memfd).map_err(fail("export the filter".into()))?;
    let mut file = std::fs::File::from(memfd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_end(&mut bytes)).map_err(CompileError::Export)?;
    Ok((to_program(&bytes)?, unknown))
}

/// The warning for names libseccomp does not know: runc leaves them out of the filter, and so does trapline.
pub fn unknown_names_warning(profile: &Path, unknown: &[String]) -> Option<String> {
    (!unknown.is_empty()).then(|| {
        format!("{}: libseccomp knows no syscall {}; left out, as runc does", profile.display(), unknown.join(", "))
    })
}

/// Whether `profile` lets `name` through whatever its arguments: an unconditional allowing entry for it, or no
/// entry at all and an allowing default.
pub fn allows_unconditionally(profile: &Seccomp, name: &str) -> bool {
    let allowing = |action: Action| matches!(action, Action::Allow | Action::Log);
    let mut entries = profile.syscalls.iter().filter(|e| e.names.iter().any(|n| n == name)).peekable();
    if entries.peek().is_none() {
        return allowing(profile.default_action);
    }
    entries.any(|e| e.args.is_empty() && allowing(e.action))
}

fn action(action: Action, errno: Option<u32>, mode: Mode) -> ScmpAction {
    let allows = matches!(action, Action::Allow | Action::Log);
    if mode == Mode::TraceOutside && !allows {
        return ScmpAction::Trace(0);
    }
    let errno = errno.unwrap_or(libc::EPERM as u32) as i32;
    // ENOSYS is the profile's "no such call" (clone3, io_uring): callers fall back, nothing to report.
    if mode == Mode::Report && action == Action::Errno && errno != libc::ENOSYS {
        return ScmpAction::Trace((REPORTED | errno as u32 & 0xfff) as u16);
    }
    match action {
        Action::Kill | Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Errno => ScmpAction::Errno(errno),
        Action::Trace => ScmpAction::Trace(errno as u16),
        Action::Allow => ScmpAction::Allow,
        Action::Log => ScmpAction::Log,
        Action::Notify => ScmpAction::Notify,
    }
}

fn compare(index: u32, op: Op, value: u64, value_two: u64) -> ScmpArgCompare {
    let op_value = match op {
        Op::Ne => (ScmpCompareOp::NotEqual, value),
        Op::Lt => (ScmpCompareOp::Less, value),
        Op::Le => (ScmpCompareOp::LessOrEqual, value),
        Op::Eq => (ScmpCompareOp::Equal, value),
        Op::Ge => (ScmpCompareOp::GreaterEqual, value),
        Op::Gt => (ScmpCompareOp::Greater, value),
        // In the OCI format `value` is the mask and `valueTwo` the value.
        Op::MaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two),
    };
    ScmpArgCompare::new(index, op_value.0, op_value.1)
}

/// libseccomp's export is the kernel's `struct sock_filter` array in native byte order.
fn to_program(bytes: &[u8]) -> Result<Vec<libc::sock_filter>, CompileError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
        return Err(CompileError::Malformed(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|b| libc::sock_filter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::oci::{ArgRule, SyscallRule};

    fn profile() -> Seccomp {
        Seccomp {
            default_action: Action::Errno,
            default_errno_ret: None,
            architectures: vec!["SCMP_ARCH_X86_64".into()],
            flags: vec![],
            listener_path: None,
            listener_metadata: None,
            syscalls: vec![
                SyscallRule {
                    names: vec!["read".into(), "nosuchcall".into()],
                    action: Action::Allow,
                    errno_ret: None,
                    args: vec![],
                },
                SyscallRule {
                    names: vec!["ioctl".into()],
                    action: Action::Allow,
                    errno_ret: None,
                    args: vec![ArgRule::masked_eq(1, 0xffff_ffff, 0x5401)],
                },
            ],
        }
    }

    #[test]
    fn compiles_to_bpf_and_names_what_it_skipped() {
        let (program, unknown) = compile(&profile(), Mode::Enforce).unwrap();
        assert!(program.len() > 5, "{}", program.len());
        assert_eq!(unknown, vec!["nosuchcall".to_string()]);
        // The last instruction of a libseccomp filter is a return.
        assert_eq!(program.last().unwrap().code, (libc::BPF_RET | libc::BPF_K) as u16);
    }

    #[test]
    fn audit_mode_traces_instead_of_denying() {
        let (program, _) = compile(&profile(), Mode::TraceOutside).unwrap();
        let returns: Vec<u32> =
            program.iter().filter(|i| i.code == (libc::BPF_RET | libc::BPF_K) as u16).map(|i| i.k).collect();
        assert!(returns.contains(&libc::SECCOMP_RET_TRACE));
        assert!(!returns.iter().any(|k| k & libc::SECCOMP_RET_ACTION_FULL == libc::SECCOMP_RET_ERRNO));
    }

    /// The interpreter a tracer uses to learn what a task's filters answer, run on libseccomp's own output:
    /// both agree on every mode, argument comparisons of 64-bit registers included.
    #[test]
    fn libseccomp_programs_answer_in_the_interpreter_as_the_profile_says() {
        use crate::decode::seccomp::{SeccompData, run};
        let call = |nr: i64, request: u64| SeccompData {
            nr: nr as u32,
            arch: 0xc000_003e,
            instruction_pointer: 0,
            args: [3, request, 0, 0, 0, 0],
        };
        let (read, ioctl, getppid) = (libc::SYS_read, libc::SYS_ioctl, libc::SYS_getppid);
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        let (enforce, _) = compile(&profile(), Mode::Enforce).unwrap();
        assert_eq!(run(&enforce, &call(read, 0)), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(&enforce, &call(ioctl, 0x5401)), libc::SECCOMP_RET_ALLOW);
        // The high half of the register is outside the 0xffffffff mask: still TCGETS.
        assert_eq!(run(&enforce, &call(ioctl, 0xdead_0000_5401)), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(&enforce, &call(ioctl, 0x5402)), eperm);
        assert_eq!(run(&enforce, &call(getppid, 0)), eperm);
        let (report, _) = compile(&profile(), Mode::Report).unwrap();
        assert_eq!(run(&report, &call(getppid, 0)), libc::SECCOMP_RET_TRACE | REPORTED | libc::EPERM as u32);
        assert_eq!(reported_errno(run(&report, &call(getppid, 0)) & 0xffff), libc::EPERM as u32);
        assert_eq!(run(&report, &call(read, 0)), libc::SECCOMP_RET_ALLOW);
    }
}
