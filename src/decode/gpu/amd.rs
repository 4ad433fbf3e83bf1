//! AMD ROCm KFD (`/dev/kfd`, magic 'K'), from Linux `include/uapi/linux/kfd_ioctl.h` (and ROCm's own kernel
//! driver for the requests from 0x80). KFD accepts any size field, so requests are named by nr and the size is
//! whatever the user-space header said.

use crate::decode::ioctl::Ioc;

const KFD: &[(u8, &str)] = &[
    (0x01, "AMDKFD_IOC_GET_VERSION"),
    (0x02, "AMDKFD_IOC_CREATE_QUEUE"),
    (0x03, "AMDKFD_IOC_DESTROY_QUEUE"),
    (0x04, "AMDKFD_IOC_SET_MEMORY_POLICY"),
    (0x05, "AMDKFD_IOC_GET_CLOCK_COUNTERS"),
    (0x06, "AMDKFD_IOC_GET_PROCESS_APERTURES"),
    (0x07, "AMDKFD_IOC_UPDATE_QUEUE"),
    (0x08, "AMDKFD_IOC_CREATE_EVENT"),
    (0x09, "AMDKFD_IOC_DESTROY_EVENT"),
    (0x0a, "AMDKFD_IOC_SET_EVENT"),
    (0x0b, "AMDKFD_IOC_RESET_EVENT"),
    (0x0c, "AMDKFD_IOC_WAIT_EVENTS"),
    (0x0d, "AMDKFD_IOC_DBG_REGISTER_DEPRECATED"),
    (0x0e, "AMDKFD_IOC_DBG_UNREGISTER_DEPRECATED"),
    (0x0f, "AMDKFD_IOC_DBG_ADDRESS_WATCH_DEPRECATED"),
    (0x10, "AMDKFD_IOC_DBG_WAVE_CONTROL_DEPRECATED"),
    (0x11, "AMDKFD_IOC_SET_SCRATCH_BACKING_VA"),
    (0x12, "AMDKFD_IOC_GET_TILE_CONFIG"),
    (0x13, "AMDKFD_IOC_SET_TRAP_HANDLER"),
    (0x14, "AMDKFD_IOC_GET_PROCESS_APERTURES_NEW"),
    (0x15, "AMDKFD_IOC_ACQUIRE_VM"),
    (0x16, "AMDKFD_IOC_ALLOC_MEMORY_OF_GPU"),
    (0x17, "AMDKFD_IOC_FREE_MEMORY_OF_GPU"),
    (0x18, "AMDKFD_IOC_MAP_MEMORY_TO_GPU"),
    (0x19, "AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU"),
    (0x1a, "AMDKFD_IOC_SET_CU_MASK"),
    (0x1b, "AMDKFD_IOC_GET_QUEUE_WAVE_STATE"),
    (0x1c, "AMDKFD_IOC_GET_DMABUF_INFO"),
    (0x1d, "AMDKFD_IOC_IMPORT_DMABUF"),
    (0x1e, "AMDKFD_IOC_ALLOC_QUEUE_GWS"),
    (0x1f, "AMDKFD_IOC_SMI_EVENTS"),
    (0x20, "AMDKFD_IOC_SVM"),
    (0x21, "AMDKFD_IOC_SET_XNACK_MODE"),
    (0x22, "AMDKFD_IOC_CRIU_OP"),
    (0x23, "AMDKFD_IOC_AVAILABLE_MEMORY"),
    (0x24, "AMDKFD_IOC_EXPORT_DMABUF"),
    (0x25, "AMDKFD_IOC_RUNTIME_ENABLE"),
    (0x26, "AMDKFD_IOC_DBG_TRAP"),
    (0x27, "AMDKFD_IOC_CREATE_PROCESS"),
    // Not upstream: ROCm's own kernel driver (amdgpu-dkms, ROCm/ROCK-Kernel-Driver), which ROCm installs bring,
    // numbers its extra requests from 0x80 (AMDKFD_COMMAND_START_2).
    (0x80, "AMDKFD_IOC_IPC_IMPORT_HANDLE (ROCm DKMS)"),
    (0x81, "AMDKFD_IOC_IPC_EXPORT_HANDLE (ROCm DKMS)"),
    (0x82, "AMDKFD_IOC_DBG_TRAP (ROCm DKMS, before it was 0x26 upstream)"),
    (0x83, "AMDKFD_IOC_CROSS_MEMORY_COPY (ROCm DKMS)"),
    (0x84, "AMDKFD_IOC_RLC_SPM (ROCm DKMS)"),
];

pub fn kfd_name(request: u32) -> Option<&'static str> {
    let ioc = Ioc::split(request);
    if ioc.kind != b'K' {
        return None;
    }
    KFD.iter().find(|(nr, _)| *nr == ioc.nr).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn kfd_requests_are_named_by_nr_whatever_the_size() {
        assert_eq!(super::kfd_name(0x8008_4B01), Some("AMDKFD_IOC_GET_VERSION"));
        assert_eq!(super::kfd_name(0xC028_4B16), Some("AMDKFD_IOC_ALLOC_MEMORY_OF_GPU"));
        assert_eq!(super::kfd_name(0xC030_4B16), Some("AMDKFD_IOC_ALLOC_MEMORY_OF_GPU"));
        assert_eq!(super::kfd_name(0xC020_462A), None);
        assert_eq!(super::kfd_name(0xC018_4B80), Some("AMDKFD_IOC_IPC_IMPORT_HANDLE (ROCm DKMS)"));
    }
}
