//! DRM core and amdgpu requests (magic 'd'), from libdrm 2.4.114's `drm.h` and `amdgpu_drm.h`. Named by nr:
//! the DRM core accepts any size field.
//!
//! Numbers from `DRM_COMMAND_BASE` (0x40) to `DRM_COMMAND_END` (0xa0) belong to the device's driver: the same nr
//! is a different request on amdgpu, i915 or nvidia-drm. They are named only when the device is known to be
//! amdgpu's; on any other DRM device only the core requests are named.

use crate::decode::ioctl::Ioc;

/// The driver's own request numbers (`DRM_COMMAND_BASE..DRM_COMMAND_END`).
const DRIVER_RANGE: std::ops::Range<u8> = 0x40..0xa0;

const DRM: &[(u8, &str)] = &[
    (0x00, "DRM_IOCTL_VERSION"),
    (0x01, "DRM_IOCTL_GET_UNIQUE"),
    (0x02, "DRM_IOCTL_GET_MAGIC"),
    (0x03, "DRM_IOCTL_IRQ_BUSID"),
    (0x05, "DRM_IOCTL_GET_CLIENT"),
    (0x06, "DRM_IOCTL_GET_STATS"),
    (0x07, "DRM_IOCTL_SET_VERSION"),
    (0x09, "DRM_IOCTL_GEM_CLOSE"),
    (0x0a, "DRM_IOCTL_GEM_FLINK"),
    (0x0b, "DRM_IOCTL_GEM_OPEN"),
    (0x0c, "DRM_IOCTL_GET_CAP"),
    (0x0d, "DRM_IOCTL_SET_CLIENT_CAP"),
    (0x11, "DRM_IOCTL_AUTH_MAGIC"),
    (0x1e, "DRM_IOCTL_SET_MASTER"),
    (0x1f, "DRM_IOCTL_DROP_MASTER"),
    (0x2d, "DRM_IOCTL_PRIME_HANDLE_TO_FD"),
    (0x2e, "DRM_IOCTL_PRIME_FD_TO_HANDLE"),
    (0x40, "DRM_IOCTL_AMDGPU_GEM_CREATE"),
    (0x41, "DRM_IOCTL_AMDGPU_GEM_MMAP"),
    (0x42, "DRM_IOCTL_AMDGPU_CTX"),
    (0x43, "DRM_IOCTL_AMDGPU_BO_LIST"),
    (0x44, "DRM_IOCTL_AMDGPU_CS"),
    (0x45, "DRM_IOCTL_AMDGPU_INFO"),
    (0x46, "DRM_IOCTL_AMDGPU_GEM_METADATA"),
    (0x47, "DRM_IOCTL_AMDGPU_GEM_WAIT_IDLE"),
    (0x48, "DRM_IOCTL_AMDGPU_GEM_VA"),
    (0x49, "DRM_IOCTL_AMDGPU_WAIT_CS"),
    (0x50, "DRM_IOCTL_AMDGPU_GEM_OP"),
    (0x51, "DRM_IOCTL_AMDGPU_GEM_USERPTR"),
    (0x52, "DRM_IOCTL_AMDGPU_WAIT_FENCES"),
    (0x53, "DRM_IOCTL_AMDGPU_VM"),
    (0x54, "DRM_IOCTL_AMDGPU_FENCE_TO_HANDLE"),
    (0x55, "DRM_IOCTL_AMDGPU_SCHED"),
    (0xa0, "DRM_IOCTL_MODE_GETRESOURCES"),
    (0xbf, "DRM_IOCTL_SYNCOBJ_CREATE"),
    (0xc0, "DRM_IOCTL_SYNCOBJ_DESTROY"),
    (0xc1, "DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD"),
    (0xc2, "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE"),
    (0xc3, "DRM_IOCTL_SYNCOBJ_WAIT"),
    (0xc4, "DRM_IOCTL_SYNCOBJ_RESET"),
    (0xc5, "DRM_IOCTL_SYNCOBJ_SIGNAL"),
    (0xca, "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT"),
    (0xcb, "DRM_IOCTL_SYNCOBJ_QUERY"),
    (0xcc, "DRM_IOCTL_SYNCOBJ_TRANSFER"),
    (0xcd, "DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL"),
];

/// The name of a DRM request on any DRM device: the core's requests only.
pub fn core_name(request: u32) -> Option<&'static str> {
    let ioc = Ioc::split(request);
    if ioc.kind != b'd' || DRIVER_RANGE.contains(&ioc.nr) {
        return None;
    }
    lookup(ioc.nr)
}

/// The name of a DRM request on a device driven by amdgpu: the core's requests and amdgpu's own.
pub fn amdgpu_name(request: u32) -> Option<&'static str> {
    let ioc = Ioc::split(request);
    if ioc.kind != b'd' {
        return None;
    }
    lookup(ioc.nr)
}

fn lookup(nr: u8) -> Option<&'static str> {
    DRM.iter().find(|(n, _)| *n == nr).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn drm_requests_are_named_by_nr_and_driver_requests_only_on_amdgpu() {
        assert_eq!(super::core_name(0xC040_6400), Some("DRM_IOCTL_VERSION"));
        assert_eq!(super::amdgpu_name(0xC040_6400), Some("DRM_IOCTL_VERSION"));
        assert_eq!(super::amdgpu_name(0x4020_6445), Some("DRM_IOCTL_AMDGPU_INFO"));
        // 0x45 on i915 or nvidia-drm is another request altogether.
        assert_eq!(super::core_name(0x4020_6445), None);
        assert_eq!(super::core_name(0xC010_64C0), Some("DRM_IOCTL_SYNCOBJ_DESTROY"));
        assert_eq!(super::core_name(0x5401), None);
    }
}
