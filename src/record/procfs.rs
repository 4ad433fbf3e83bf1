//! What /proc says about a traced task: its thread group, parent and executable.

use crate::trace::model::Text;

/// The executable of a task. One that cannot be named from here (a runtime's sealed memfd copy of itself,
/// a file outside our mount namespace shows as "/") is named by its command name instead: `[runc:[2:INIT]]`.
pub fn proc_exe(pid: i32) -> Text {
    match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(path) if path != std::path::Path::new("/") && !path.starts_with("/memfd:") => {
            Text::from_os(path.as_os_str())
        }
        _ => {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            Text::Utf8(format!("[{}]", comm.trim_end()))
        }
    }
}

/// Whether trapline itself runs under a seccomp filter (`Seccomp: 2` in /proc/self/status), which every
/// workload it starts inherits.
pub fn under_seccomp_filter() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| status.lines().any(|line| line.split_whitespace().eq(["Seccomp:", "2"])))
}

pub fn proc_tgid(pid: i32) -> Option<i32> {
    status_field(pid, "Tgid:")
}

pub fn proc_ppid(pid: i32) -> Option<i32> {
    status_field(pid, "PPid:")
}

fn status_field(pid: i32, field: &str) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().parse().ok())
}
