//! GPU drivers: which driver an fd belongs to, and the names of its ioctl requests.
//!
//! The same request number means different things on different drivers, so requests are named per device
//! family, and the family comes from the fd (its path, or its major number when the path says nothing).
//! The tables are data, each row from the driver headers named in its module; `shared` facts for all of them
//! are in the project's GPU reference.

pub mod amd;
pub mod drm;
pub mod nvidia;
mod nvidia_rm;

use serde::{Deserialize, Serialize};

/// The driver behind a device fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceFamily {
    /// `/dev/nvidiactl` and `/dev/nvidiaN`: NVIDIA's frontend (`_IOWR('F', nr, size)` requests).
    NvidiaFrontend,
    /// `/dev/nvidia-uvm`: unified memory, bare command numbers.
    NvidiaUvm,
    /// `/dev/nvidia-uvm-tools`: profiling counters and events.
    NvidiaUvmTools,
    /// `/dev/nvidia-modeset`: display and Vulkan; CUDA does not use it.
    NvidiaModeset,
    /// `/dev/nvidia-caps/*`: capability files, opened but never ioctl'd.
    NvidiaCaps,
    /// `/dev/kfd`: AMD ROCm's compute driver ('K').
    AmdKfd,
    /// `/dev/dri/*` of a driver other than amdgpu, or of an unknown one: DRM core requests ('d').
    Drm,
    /// `/dev/dri/*` driven by amdgpu (ROCm's render nodes): DRM core and amdgpu's own requests.
    Amdgpu,
}

impl DeviceFamily {
    /// The family of a device from its path, if the path names one.
    pub fn from_path(path: &[u8]) -> Option<DeviceFamily> {
        let name = path.strip_prefix(b"/dev/")?;
        Some(match name {
            b"nvidiactl" => DeviceFamily::NvidiaFrontend,
            b"nvidia-uvm" => DeviceFamily::NvidiaUvm,
            b"nvidia-uvm-tools" => DeviceFamily::NvidiaUvmTools,
            b"nvidia-modeset" => DeviceFamily::NvidiaModeset,
            b"kfd" => DeviceFamily::AmdKfd,
            _ if name.starts_with(b"nvidia-caps/") => DeviceFamily::NvidiaCaps,
            _ if name.starts_with(b"dri/") => DeviceFamily::Drm,
            _ if name.strip_prefix(b"nvidia").is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit)) => {
                DeviceFamily::NvidiaFrontend
            }
            _ => return None,
        })
    }

    /// The family by its name in traces (`nvidia-frontend`, `amd-kfd`, ...).
    pub fn from_name(name: &str) -> Option<DeviceFamily> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }

    /// The family of a character device from its major number, for device nodes whose path says nothing
    /// (renamed, or inside a container's own /dev). `proc_devices` is the text of `/proc/devices`.
    pub fn from_major(major: u32, minor: u32, proc_devices: &str) -> Option<DeviceFamily> {
        // 195 is NVIDIA's registered major (Documentation/admin-guide/devices.txt); 226 is DRM's.
        match (major, minor) {
            (195, 254) => return Some(DeviceFamily::NvidiaModeset),
            (195, _) => return Some(DeviceFamily::NvidiaFrontend),
            (226, _) => return Some(DeviceFamily::Drm),
            _ => {}
        }
        // nvidia-uvm, nvidia-caps and kfd get dynamic majors: look them up by name.
        let char_devices = proc_devices.split("Block devices:").next().unwrap_or_default();
        let name = char_devices.lines().find_map(|line| {
            let (number, name) = line.trim().split_once(' ')?;
            (number.parse::<u32>().ok()? == major).then_some(name.trim())
        })?;
        match name {
            "nvidia-uvm" => Some(DeviceFamily::NvidiaUvm),
            "nvidia-caps" => Some(DeviceFamily::NvidiaCaps),
            "kfd" => Some(DeviceFamily::AmdKfd),
            "nvidia-frontend" | "nvidiactl" => Some(DeviceFamily::NvidiaFrontend),
            _ => None,
        }
    }

    /// A DRM device's family from the kernel driver bound to it (`/sys/dev/char/MAJOR:MINOR/device/driver` under
    /// `sys`): its driver-specific requests can be named only when that driver is known.
    pub fn of_drm_device(sys: &std::path::Path, major: u32, minor: u32) -> DeviceFamily {
        let driver = std::fs::read_link(sys.join(format!("dev/char/{major}:{minor}/device/driver")));
        match driver.ok().as_deref().and_then(std::path::Path::file_name) {
            Some(name) if name == "amdgpu" => DeviceFamily::Amdgpu,
            _ => DeviceFamily::Drm,
        }
    }

    /// The name of `request` on this driver, if the tables know it.
    pub fn request_name(self, request: u32) -> Option<String> {
        match self {
            DeviceFamily::NvidiaFrontend => nvidia::frontend_name(request),
            DeviceFamily::NvidiaUvm | DeviceFamily::NvidiaUvmTools => nvidia::uvm_name(request).map(str::to_string),
            DeviceFamily::NvidiaModeset => nvidia::modeset_name(request).map(str::to_string),
            DeviceFamily::AmdKfd => amd::kfd_name(request).map(str::to_string),
            DeviceFamily::Drm => drm::core_name(request).map(str::to_string),
            DeviceFamily::Amdgpu => drm::amdgpu_name(request).map(str::to_string),
            DeviceFamily::NvidiaCaps => None,
        }
    }

    /// The family as people name its devices.
    pub fn label(self) -> &'static str {
        match self {
            DeviceFamily::NvidiaFrontend => "NVIDIA frontend (/dev/nvidiactl, /dev/nvidiaN)",
            DeviceFamily::NvidiaUvm => "NVIDIA UVM (/dev/nvidia-uvm)",
            DeviceFamily::NvidiaUvmTools => "NVIDIA UVM tools (/dev/nvidia-uvm-tools)",
            DeviceFamily::NvidiaModeset => "NVIDIA modeset (/dev/nvidia-modeset)",
            DeviceFamily::NvidiaCaps => "NVIDIA capabilities (/dev/nvidia-caps/*)",
            DeviceFamily::AmdKfd => "AMD KFD (/dev/kfd)",
            DeviceFamily::Drm => "DRM (/dev/dri/*)",
            DeviceFamily::Amdgpu => "amdgpu DRM (/dev/dri/*)",
        }
    }

    pub fn is_nvidia(self) -> bool {
        matches!(
            self,
            DeviceFamily::NvidiaFrontend
                | DeviceFamily::NvidiaUvm
                | DeviceFamily::NvidiaUvmTools
                | DeviceFamily::NvidiaModeset
                | DeviceFamily::NvidiaCaps
        )
    }
}

/// What a request alone says about the driver it was meant for, when the fd's device is unknown (a log that
/// never shows the fd's open, an inherited fd, a call on a closed fd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inferred {
    /// Only this family defines the request: it is named and masked as on a known device.
    Family(DeviceFamily),
    /// The request looks like one of a GPU driver's but another driver defines it too; the reason says which.
    Ambiguous(&'static str),
    /// Nothing GPU-like about it.
    NotGpu,
}

impl DeviceFamily {
    /// The family a request on an fd of unknown device belongs to, when the request alone settles it: an NVIDIA
    /// frontend escape whose size matches its struct, a UVM command outside the range Linux's own bare
    /// numbers use, a KFD or DRM core request the tables name. Never a guess: anything else that looks like a
    /// GPU request is `Ambiguous`.
    pub fn infer(request: u32) -> Inferred {
        let ioc = crate::decode::ioctl::Ioc::split(request);
        match ioc.kind {
            nvidia::TYPE_F if nvidia::escape_size_matches(request) => Inferred::Family(DeviceFamily::NvidiaFrontend),
            nvidia::TYPE_F if nvidia::frontend_name(request).is_some() => Inferred::Ambiguous(
                "an 'F' request with an NVIDIA escape's number but not its struct size (framebuffer drivers use 'F' too)",
            ),
            b'K' if amd::kfd_name(request).is_some() => Inferred::Family(DeviceFamily::AmdKfd),
            b'd' if drm::core_name(request).is_some() => Inferred::Family(DeviceFamily::Drm),
            b'd' if ioc.size != 0 => {
                Inferred::Ambiguous("a DRM driver-specific request ('d', 0x40-0x9f): which driver cannot be told")
            }
            _ if nvidia::uvm_name(request).is_some() && nvidia::uvm_unambiguous(request) => {
                Inferred::Family(DeviceFamily::NvidiaUvm)
            }
            _ if nvidia::uvm_name(request).is_some() => {
                Inferred::Ambiguous("a bare number UVM uses, but so does Linux's fs.h (FIBMAP, FIGETBSZ: 0x00-0x1f)")
            }
            _ => Inferred::NotGpu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_come_from_paths() {
        assert_eq!(DeviceFamily::from_path(b"/dev/nvidiactl"), Some(DeviceFamily::NvidiaFrontend));
        assert_eq!(DeviceFamily::from_path(b"/dev/nvidia7"), Some(DeviceFamily::NvidiaFrontend));
        assert_eq!(DeviceFamily::from_path(b"/dev/nvidia-uvm"), Some(DeviceFamily::NvidiaUvm));
        assert_eq!(DeviceFamily::from_path(b"/dev/nvidia-caps/nvidia-cap1"), Some(DeviceFamily::NvidiaCaps));
        assert_eq!(DeviceFamily::from_path(b"/dev/dri/renderD128"), Some(DeviceFamily::Drm));
        assert_eq!(DeviceFamily::from_path(b"/dev/kfd"), Some(DeviceFamily::AmdKfd));
        assert_eq!(DeviceFamily::from_path(b"/dev/nvidia"), None);
        assert_eq!(DeviceFamily::from_path(b"/dev/zero"), None);
    }

    #[test]
    fn drm_devices_are_amdgpu_only_when_sysfs_says_so() {
        // sysfs's layout: /sys/dev/char/226:128 -> the DRM node's directory, whose `device` is the PCI device,
        // whose `driver` names the driver bound to it.
        use std::os::unix::fs::symlink;
        let sys = std::env::temp_dir().join(format!("trapline-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&sys);
        let pci = sys.join("devices/pci0000:00/0000:00:01.0");
        let node = pci.join("drm/renderD128");
        std::fs::create_dir_all(sys.join("dev/char")).unwrap();
        std::fs::create_dir_all(&node).unwrap();
        symlink("../..", node.join("device")).unwrap();
        symlink("../../../bus/pci/drivers/amdgpu", pci.join("driver")).unwrap();
        symlink(&node, sys.join("dev/char/226:128")).unwrap();
        assert_eq!(DeviceFamily::of_drm_device(&sys, 226, 128), DeviceFamily::Amdgpu);
        assert_eq!(DeviceFamily::of_drm_device(&sys, 226, 0), DeviceFamily::Drm, "no such device");
        std::fs::remove_file(pci.join("driver")).unwrap();
        symlink("../../../bus/pci/drivers/i915", pci.join("driver")).unwrap();
        assert_eq!(DeviceFamily::of_drm_device(&sys, 226, 128), DeviceFamily::Drm);
        std::fs::remove_dir_all(&sys).unwrap();
    }

    #[test]
    fn dynamic_majors_come_from_proc_devices() {
        let devices =
            "Character devices:\n  1 mem\n195 nvidia-frontend\n234 nvidia-uvm\n235 kfd\n\nBlock devices:\n234 blkext\n";
        assert_eq!(DeviceFamily::from_major(234, 0, devices), Some(DeviceFamily::NvidiaUvm));
        assert_eq!(DeviceFamily::from_major(235, 0, devices), Some(DeviceFamily::AmdKfd));
        assert_eq!(DeviceFamily::from_major(195, 255, devices), Some(DeviceFamily::NvidiaFrontend));
        assert_eq!(DeviceFamily::from_major(1, 5, devices), None);
    }

    #[test]
    fn unambiguous_requests_name_their_family() {
        let family = |r| DeviceFamily::infer(r);
        assert_eq!(family(0xC020_462A), Inferred::Family(DeviceFamily::NvidiaFrontend), "RM_CONTROL, 32 B");
        assert_eq!(family(0xC030_462B), Inferred::Family(DeviceFamily::NvidiaFrontend), "RM_ALLOC NVOS64");
        assert_eq!(family(0xC900_46C8), Inferred::Family(DeviceFamily::NvidiaFrontend), "CARD_INFO x32");
        assert_eq!(family(0x3000_0001), Inferred::Family(DeviceFamily::NvidiaUvm), "UVM_INITIALIZE");
        assert_eq!(family(0x0000_0025), Inferred::Family(DeviceFamily::NvidiaUvm));
        assert_eq!(family(0xC008_4B01), Inferred::Family(DeviceFamily::AmdKfd));
        assert_eq!(family(0xC010_6400), Inferred::Family(DeviceFamily::Drm), "DRM_IOCTL_VERSION");
    }

    #[test]
    fn lookalikes_stay_ambiguous_or_unnamed() {
        let ambiguous = |r| matches!(DeviceFamily::infer(r), Inferred::Ambiguous(_));
        assert!(ambiguous(0xC024_462A), "RM_CONTROL's number with a wrong size");
        assert!(ambiguous(0x0000_0001), "FIBMAP or UVM_RESERVE_VA");
        assert!(ambiguous(0xC020_6440), "a DRM driver's own request");
        assert_eq!(DeviceFamily::infer(0x4600), Inferred::NotGpu, "FBIOGET_VSCREENINFO");
        assert_eq!(DeviceFamily::infer(0x5401), Inferred::NotGpu, "TCGETS");
        assert_eq!(DeviceFamily::infer(0x4B31), Inferred::NotGpu, "KDGETLED, console 'K'");
    }
}
