//! How classes and profile rules read in a review: decoded names first, the hex value beside them, and the
//! device an fd pointed at, so a reviewer sees `ioctl NV_ESC_RM_CONTROL (0xc020462a) on /dev/nvidiactl`.

use std::path::Path;

use crate::decode::arch::Arch;
use crate::decode::gpu::DeviceFamily;
use crate::decode::ioctl;
use crate::profile::generate::describe_condition;
use crate::profile::oci::{Action, ArgRule, Op, SyscallRule};
use crate::profile::runtime::Runtime;
use crate::trace::model::{Arg, Class, FdDesc, Trace};

/// The arguments of a class: `TCGETS (0x5401)` for an ioctl request (the syscall says what it is), `name
/// decoded (value)` for the rest, joined by `, `. Details seccomp cannot see (RM commands) come last.
pub fn class_args(class: &Class) -> String {
    let mut parts = Vec::new();
    let ordered =
        class.args.iter().filter(|a| a.index.is_some()).chain(class.args.iter().filter(|a| a.index.is_none()));
    for arg in ordered {
        let named = class.syscall == "ioctl" && arg.index == Some(1);
        parts.push(if named { value(arg) } else { format!("{} {}", arg.name, value(arg)) });
    }
    parts.join(", ")
}

fn value(arg: &Arg) -> String {
    match (&arg.unreadable, arg.decoded.as_str()) {
        (Some(errno), _) => format!("unreadable ({errno})"),
        (None, "") => format!("{:#x}", arg.value.0),
        (None, decoded) => format!("{decoded} ({:#x})", arg.value.0),
    }
}

/// What the class's fd pointed at, as `on ...` reads it.
pub fn device(fd: Option<&FdDesc>) -> Option<String> {
    Some(match fd? {
        FdDesc::Device { path, .. } => path.to_string(),
        FdDesc::GpuLibrary { name } => name.clone(),
        FdDesc::Anon { name } => format!("anon_inode:{name}"),
        FdDesc::Other { name } => name.clone(),
        FdDesc::File => "a file".to_string(),
        FdDesc::Dir => "a directory".to_string(),
        FdDesc::Socket => "a socket".to_string(),
        FdDesc::Pipe => "a pipe".to_string(),
        FdDesc::Unknown => "a closed fd".to_string(),
        FdDesc::Inferred { family } => format!("{} (device inferred)", family.label()),
    })
}

/// The syscall as a heading: its name, with the architecture when it is not the run's own.
pub fn syscall(name: &str, arch: Arch, native: Option<Arch>) -> String {
    if native.is_some_and(|n| n != arch) { format!("{name} ({arch})") } else { name.to_string() }
}

/// The whole class on one line: `ioctl TCGETS (0x5401) on /dev/null`.
pub fn class_line(class: &Class, native: Option<Arch>) -> String {
    let mut line = syscall(&class.syscall, class.arch, native);
    let args = class_args(class);
    if !args.is_empty() {
        line.push(' ');
        line.push_str(&args);
    }
    if let Some(device) = device(class.fd.as_ref()) {
        line.push_str(" on ");
        line.push_str(&device);
    }
    line
}

/// What `run --audit` reports: whether `profile` allowed every call, else each class it would deny, one line
/// each (`ioctl request=0xc020462a (NV_ESC_RM_CONTROL) on /dev/nvidiactl: 3 call(s) by /usr/bin/python3`).
pub fn audit_report(profile: &Path, denied: &Trace) -> String {
    if denied.classes.is_empty() {
        return format!("audit: {} allowed every call", profile.display());
    }
    let calls: u64 = denied.classes.iter().map(|c| c.count).sum();
    let mut report =
        format!("audit: {} would deny {calls} calls in {} classes:", profile.display(), denied.classes.len());
    for class in &denied.classes {
        report.push_str("\n  ");
        report.push_str(&audit_line(class));
    }
    report
}

/// One denied class with every argument's register value first, as the audited call passed it.
fn audit_line(class: &Class) -> String {
    let exes: Vec<String> = class.exes.iter().map(|e| e.to_string()).collect();
    format!("{}: {} call(s) by {}", call_text(class), class.count, exes.join(", "))
}

/// A call the profile denied while it was enforced, as `trapline run` reports it the moment it happens: the
/// call, the answer, the executable and where in it the call was made.
pub fn denial_line(class: &Class) -> String {
    let answers: Vec<&str> = class.denied.keys().map(String::as_str).collect();
    let exes: Vec<String> = class.exes.iter().map(|e| e.to_string()).collect();
    let mut line = format!("denied {}: {} in {}", call_text(class), answers.join(", "), exes.join(", "));
    if let Some(site) = &class.site {
        line.push_str(&format!(", at {}", site.at));
        if let Some(caller) = &site.caller {
            line.push_str(&format!(", called from {caller}"));
        }
    }
    line
}

/// The line a run under `profile` ends with when the profile denied calls: how many, of how many kinds.
pub fn denials_summary(profile: &Path, denied: &[Class]) -> Option<String> {
    let calls: u64 = denied.iter().map(|c| c.denied.values().sum::<u64>()).sum();
    (calls > 0).then(|| {
        format!(
            "{} denied {calls} call{} of {} kind{} (each named above)",
            profile.display(),
            plural(calls),
            denied.len(),
            plural(denied.len() as u64)
        )
    })
}

/// A class's syscall and arguments, each register value first (and the device behind the fd).
fn call_text(class: &Class) -> String {
    let mut line = class.syscall.clone();
    for arg in &class.args {
        line.push_str(&format!(" {}={:#x}", arg.name, arg.value.0));
        if !arg.decoded.is_empty() {
            line.push_str(&format!(" ({})", arg.decoded));
        }
    }
    if let Some(FdDesc::Device { path, .. }) = &class.fd {
        line.push_str(&format!(" on {path}"));
    }
    line
}

/// Where a class was seen: `3 calls in 1 of 1 runs by /usr/bin/python3`.
pub fn provenance(count: u64, runs: u64, of: u64, exes: &[String]) -> String {
    let mut text = format!("{count} call{} in {runs} of {of} runs", plural(count));
    if !exes.is_empty() {
        const SHOWN: usize = 3;
        text.push_str(" by ");
        text.push_str(&exes.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", "));
        if exes.len() > SHOWN {
            text.push_str(&format!(" and {} more", exes.len() - SHOWN));
        }
    }
    text
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The conditions of a profile entry: `request == 0x5401 (TCGETS)`, joined by ` and `.
pub fn conditions(name: &str, args: &[ArgRule]) -> String {
    args.iter().map(|rule| condition(name, rule)).collect::<Vec<_>>().join(" and ")
}

/// One condition. MASKED_EQ reads the way `trapline profile --explain` writes it; the other operators, which
/// trapline never writes but hand-made profiles use, as comparisons.
pub fn condition(name: &str, rule: &ArgRule) -> String {
    let sign = match rule.op {
        Op::MaskedEq => return describe_condition(name, rule, request_name(name, rule).as_deref()),
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    };
    format!("arg{} {sign} {:#x}", rule.index, rule.value)
}

/// A profile names no device, so an ioctl request is named by the GPU driver families whose requests are
/// `_IOC`-encoded with their own type byte (NVIDIA's 'F', KFD's 'K', DRM's 'd'), after the generic names.
fn request_name(name: &str, rule: &ArgRule) -> Option<String> {
    if name != "ioctl" || rule.index != 1 {
        return None;
    }
    let request = rule.value_two as u32;
    ioctl::generic_name(request)
        .map(str::to_string)
        .or_else(|| {
            [DeviceFamily::NvidiaFrontend, DeviceFamily::AmdKfd, DeviceFamily::Drm]
                .iter()
                .find_map(|family| family.request_name(request))
        })
        // A DRM driver's own request: its meaning depends on the driver, which a profile does not name.
        .or_else(|| DeviceFamily::Amdgpu.request_name(request).map(|name| format!("{name} if on amdgpu")))
}

/// A profile entry for one name on one line: `ioctl when request == 0x5401 (TCGETS)`, with the action when
/// it is not a plain allow.
pub fn rule_line(name: &str, rule: &SyscallRule) -> String {
    let mut line = name.to_string();
    if !rule.args.is_empty() {
        line.push_str(" when ");
        line.push_str(&conditions(name, &rule.args));
    }
    match rule.action {
        Action::Allow => {}
        Action::Log => line.push_str(" (allowed and logged)"),
        action => {
            let errno = (action == Action::Errno).then(|| rule.errno_ret.unwrap_or(super::allow::EPERM));
            line.push_str(": ");
            line.push_str(&super::allow::describe_action(action, errno));
        }
    }
    line
}

/// Which container runtime needs `name` after loading the filter, when one does: a profile keeps such
/// entries although no trace of the workload shows them.
pub fn runtime_need(name: &str) -> Option<&'static str> {
    [Runtime::Runc, Runtime::Crun].into_iter().find(|r| r.syscalls().names.contains(&name)).map(Runtime::name)
}

/// The NVIDIA driver versions of a trace's runs, sorted and distinct.
pub fn nvidia_drivers(trace: &Trace) -> Vec<String> {
    let mut drivers: Vec<String> =
        trace.runs.iter().filter_map(|r| r.gpu.as_ref().and_then(|g| g.nvidia_driver.clone())).collect();
    drivers.sort();
    drivers.dedup();
    drivers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_requests_get_driver_names() {
        let rule = ArgRule::masked_eq(1, 0xffff_ffff, 0xc020_462a);
        assert_eq!(condition("ioctl", &rule), "request == 0xc020462a (NV_ESC_RM_CONTROL)");
        assert_eq!(condition("ioctl", &ArgRule::masked_eq(1, 0xffff_ffff, 0x5401)), "request == 0x5401 (TCGETS)");
        let eq = ArgRule { index: 1, value: 0x5401, value_two: 0, op: Op::Eq };
        assert_eq!(condition("ioctl", &eq), "arg1 == 0x5401");
        let drm_core = ArgRule::masked_eq(1, 0xffff_ffff, 0xc040_6400);
        assert_eq!(condition("ioctl", &drm_core), "request == 0xc0406400 (DRM_IOCTL_VERSION)");
        // A DRM driver's own request means something else on each driver: the profile cannot say which.
        let drm_driver = ArgRule::masked_eq(1, 0xffff_ffff, 0x4020_6445);
        assert_eq!(condition("ioctl", &drm_driver), "request == 0x40206445 (DRM_IOCTL_AMDGPU_INFO if on amdgpu)");
    }
}
