//! GPU facts about the recording machine, kept in the Trace because a profile's ioctl rules are tied to
//! the driver branch they were recorded on.

use crate::trace::model::GpuFacts;

/// The NVIDIA driver version and the GPU device nodes present; libraries are added from what the workload
/// mapped.
pub fn machine_facts() -> GpuFacts {
    GpuFacts { nvidia_driver: nvidia_driver_version(), devices: device_nodes(), libraries: Vec::new() }
}

/// From `/proc/driver/nvidia/version` ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  ...") or,
/// where /proc/driver is not mounted (some containers), `/sys/module/nvidia/version`.
fn nvidia_driver_version() -> Option<String> {
    if let Ok(text) = std::fs::read_to_string("/proc/driver/nvidia/version")
        && let Some(version) = parse_proc_version(&text)
    {
        return Some(version);
    }
    let text = std::fs::read_to_string("/sys/module/nvidia/version").ok()?;
    Some(text.trim().to_string()).filter(|v| !v.is_empty())
}

fn parse_proc_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version:"))?;
    // The proprietary module says "Kernel Module  550.54.15", the open one "Open Kernel Module for x86_64
    // 570.86.15": take the first word that looks like a version.
    line.split_whitespace()
        .find(|w| w.contains('.') && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_string)
}

fn device_nodes() -> Vec<String> {
    let mut nodes = Vec::new();
    let list = |dir: &str, keep: &dyn Fn(&str) -> bool, nodes: &mut Vec<String>| {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep(&name) {
                    nodes.push(format!("{dir}/{name}"));
                }
            }
        }
    };
    list("/dev", &|n| n.starts_with("nvidia") || n == "kfd", &mut nodes);
    list("/dev/dri", &|n| n.starts_with("renderD") || n.starts_with("card"), &mut nodes);
    nodes.sort();
    nodes
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_version_out_of_the_nvrm_line() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n\
                    GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(super::parse_proc_version(text).as_deref(), Some("550.54.15"));
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build\n";
        assert_eq!(super::parse_proc_version(open).as_deref(), Some("570.86.15"));
    }
}
