//! NVIDIA request tables, from open-gpu-kernel-modules (`nv-ioctl-numbers.h`, `nv-ioctl.h`, `nvos.h`,
//! `uvm_ioctl.h`, `uvm_linux_ioctl.h`) at release tags 515.43.04 to 595.45.04, x86_64 struct sizes.
//!
//! Frontend requests are `_IOWR('F', nr, sizeof(params))` and the driver dispatches on nr and size, so a
//! request is named by its nr; the size tells the two RM_ALLOC forms apart and, for some commands, changed
//! between driver branches (a profile is therefore tied to a branch; see `VARIES_BY_BRANCH`).
//!
//! RM alloc classes and control commands are named from `nvidia_rm.rs`, generated from the SDK headers by
//! `scripts/nvidia-tables.py`.

use super::nvidia_rm::{ALLOC_CLASSES, CONTROL_COMMANDS};
use crate::decode::ioctl::Ioc;

/// The frontend's magic byte.
pub const TYPE_F: u8 = b'F';

/// (nr, name) of every frontend escape the tables know.
const FRONTEND: &[(u8, &str)] = &[
    (0x27, "NV_ESC_RM_ALLOC_MEMORY"),
    (0x28, "NV_ESC_RM_ALLOC_OBJECT"),
    (0x29, "NV_ESC_RM_FREE"),
    (0x2a, "NV_ESC_RM_CONTROL"),
    (0x2b, "NV_ESC_RM_ALLOC"),
    (0x34, "NV_ESC_RM_DUP_OBJECT"),
    (0x35, "NV_ESC_RM_SHARE"),
    (0x39, "NV_ESC_RM_I2C_ACCESS"),
    (0x41, "NV_ESC_RM_IDLE_CHANNELS"),
    (0x4a, "NV_ESC_RM_VID_HEAP_CONTROL"),
    (0x4d, "NV_ESC_RM_ACCESS_REGISTRY"),
    (0x4e, "NV_ESC_RM_MAP_MEMORY"),
    (0x4f, "NV_ESC_RM_UNMAP_MEMORY"),
    (0x52, "NV_ESC_RM_GET_EVENT_DATA"),
    (0x54, "NV_ESC_RM_ALLOC_CONTEXT_DMA2"),
    (0x57, "NV_ESC_RM_MAP_MEMORY_DMA"),
    (0x58, "NV_ESC_RM_UNMAP_MEMORY_DMA"),
    (0x59, "NV_ESC_RM_BIND_CONTEXT_DMA"),
    (0x5e, "NV_ESC_RM_UPDATE_DEVICE_MAPPING_INFO"),
    (0x5f, "NV_ESC_RM_LOCKLESS_DIAGNOSTIC"),
    (0xc8, "NV_ESC_CARD_INFO"),
    (0xc9, "NV_ESC_REGISTER_FD"),
    (0xca, "NV_ESC_ENV_INFO"),
    (0xce, "NV_ESC_ALLOC_OS_EVENT"),
    (0xcf, "NV_ESC_FREE_OS_EVENT"),
    (0xd1, "NV_ESC_STATUS_CODE"),
    (0xd2, "NV_ESC_CHECK_VERSION_STR"),
    (0xd3, "NV_ESC_IOCTL_XFER_CMD"),
    (0xd4, "NV_ESC_ATTACH_GPUS_TO_FD"),
    (0xd5, "NV_ESC_QUERY_DEVICE_INTR"),
    (0xd6, "NV_ESC_SYS_PARAMS"),
    (0xd7, "NV_ESC_NUMA_INFO"),
    (0xd8, "NV_ESC_SET_NUMA_STATUS"),
    (0xd9, "NV_ESC_EXPORT_TO_DMABUF_FD"),
    (0xda, "NV_ESC_WAIT_OPEN_COMPLETE"),
];

pub const NV_ESC_RM_CONTROL: u8 = 0x2a;
pub const NV_ESC_RM_ALLOC: u8 = 0x2b;
/// sizeof(NVOS21_PARAMETERS): the short RM_ALLOC form.
pub const NVOS21_SIZE: u16 = 32;

/// Escapes whose argument is an array sized by the caller (GPU count, entry count): their request's size bits
/// differ between machines, so rules mask them (`0xC000FFFF`, as gVisor's nvproxy does).
pub const SIZE_VARIES: &[u8] = &[0xc8, 0xd4, 0xd9, 0x57, 0x58];

/// Escapes whose struct size changed between driver branches, with the branch where it changed.
pub const VARIES_BY_BRANCH: &[(u8, &str)] = &[
    (0x2b, "NVOS64 grew from 40 to 48 bytes in 535"),
    (0xd7, "NUMA_INFO grew from 552 to 560 bytes in 535"),
    (0xd9, "EXPORT_TO_DMABUF_FD grew from 2600 to 2608 bytes in 570"),
    (0x57, "RM_MAP_MEMORY_DMA grew from 56 to 64 bytes in 580"),
    (0x58, "RM_UNMAP_MEMORY_DMA grew from 40 to 48 bytes in 550"),
    (0xda, "WAIT_OPEN_COMPLETE appeared in 550"),
];

/// How a frontend escape's struct changed between branches, when the tables know.
pub fn branch_change(nr: u8) -> Option<&'static str> {
    VARIES_BY_BRANCH.iter().find(|(n, _)| *n == nr).map(|(_, note)| *note)
}

/// The size bits of a request: cleared by `--gpu-portable` and for `SIZE_VARIES` escapes.
pub const SIZE_MASK: u32 = 0xC000_FFFF;

/// The name of a frontend request, with the RM_ALLOC form when the size tells it.
pub fn frontend_name(request: u32) -> Option<String> {
    let ioc = Ioc::split(request);
    if ioc.kind != TYPE_F {
        return None;
    }
    let name = FRONTEND.iter().find(|(nr, _)| *nr == ioc.nr)?.1;
    Some(match ioc.nr {
        NV_ESC_RM_ALLOC if ioc.size == NVOS21_SIZE => format!("{name} (NVOS21)"),
        NV_ESC_RM_ALLOC => format!("{name} (NVOS64)"),
        _ => name.to_string(),
    })
}

/// Whether a frontend request's size bits vary with the caller (GPU or entry count).
pub fn size_varies(request: u32) -> bool {
    let ioc = Ioc::split(request);
    ioc.kind == TYPE_F && SIZE_VARIES.contains(&ioc.nr)
}

/// UVM requests are bare command numbers, not `_IOC` encoded.
const UVM: &[(u32, &str)] = &[
    (0x3000_0001, "UVM_INITIALIZE"),
    (0x3000_0002, "UVM_DEINITIALIZE"),
    (23, "UVM_CREATE_RANGE_GROUP"),
    (24, "UVM_DESTROY_RANGE_GROUP"),
    (25, "UVM_REGISTER_GPU_VASPACE"),
    (26, "UVM_UNREGISTER_GPU_VASPACE"),
    (27, "UVM_REGISTER_CHANNEL"),
    (28, "UVM_UNREGISTER_CHANNEL"),
    (29, "UVM_ENABLE_PEER_ACCESS"),
    (30, "UVM_DISABLE_PEER_ACCESS"),
    (31, "UVM_SET_RANGE_GROUP"),
    (33, "UVM_MAP_EXTERNAL_ALLOCATION"),
    (34, "UVM_FREE"),
    (37, "UVM_REGISTER_GPU"),
    (38, "UVM_UNREGISTER_GPU"),
    (39, "UVM_PAGEABLE_MEM_ACCESS"),
    (40, "UVM_PREVENT_MIGRATION_RANGE_GROUPS"),
    (41, "UVM_ALLOW_MIGRATION_RANGE_GROUPS"),
    (42, "UVM_SET_PREFERRED_LOCATION"),
    (43, "UVM_UNSET_PREFERRED_LOCATION"),
    (44, "UVM_ENABLE_READ_DUPLICATION"),
    (45, "UVM_DISABLE_READ_DUPLICATION"),
    (46, "UVM_SET_ACCESSED_BY"),
    (47, "UVM_UNSET_ACCESSED_BY"),
    (51, "UVM_MIGRATE"),
    (53, "UVM_MIGRATE_RANGE_GROUP"),
    (56, "UVM_TOOLS_INIT_EVENT_TRACKER"),
    (57, "UVM_TOOLS_SET_NOTIFICATION_THRESHOLD"),
    (58, "UVM_TOOLS_EVENT_QUEUE_ENABLE_EVENTS"),
    (59, "UVM_TOOLS_EVENT_QUEUE_DISABLE_EVENTS"),
    (60, "UVM_TOOLS_ENABLE_COUNTERS"),
    (61, "UVM_TOOLS_DISABLE_COUNTERS"),
    (62, "UVM_TOOLS_READ_PROCESS_MEMORY"),
    (63, "UVM_TOOLS_WRITE_PROCESS_MEMORY"),
    (64, "UVM_TOOLS_GET_PROCESSOR_UUID_TABLE"),
    (65, "UVM_MAP_DYNAMIC_PARALLELISM_REGION"),
    (66, "UVM_UNMAP_EXTERNAL"),
    (67, "UVM_TOOLS_FLUSH_EVENTS"),
    (68, "UVM_ALLOC_SEMAPHORE_POOL"),
    (69, "UVM_CLEAN_UP_ZOMBIE_RESOURCES"),
    (70, "UVM_PAGEABLE_MEM_ACCESS_ON_GPU"),
    (71, "UVM_POPULATE_PAGEABLE"),
    (72, "UVM_VALIDATE_VA_RANGE"),
    (73, "UVM_CREATE_EXTERNAL_RANGE"),
    (74, "UVM_MAP_EXTERNAL_SPARSE"),
    (75, "UVM_MM_INITIALIZE"),
    (76, "UVM_TOOLS_INIT_EVENT_TRACKER_V2"),
    (77, "UVM_TOOLS_GET_PROCESSOR_UUID_TABLE_V2"),
    (78, "UVM_ALLOC_DEVICE_P2P"),
    (79, "UVM_CLEAR_ALL_ACCESS_COUNTERS"),
    (80, "UVM_DISCARD"),
];

pub fn uvm_name(request: u32) -> Option<&'static str> {
    UVM.iter().find(|(r, _)| *r == request).map(|(_, n)| *n)
}

/// nvidia-modeset has a single entry point.
pub fn modeset_name(request: u32) -> Option<&'static str> {
    (request == 0xC010_6D00).then_some("NVKMS_IOCTL_CMD")
}

/// The name of an RM alloc class (`NVOS21/64.hClass`), from the generated table in `nvidia_rm.rs`.
pub fn alloc_class_name(class: u32) -> Option<&'static str> {
    ALLOC_CLASSES.binary_search_by_key(&class, |&(c, _)| c).ok().map(|i| ALLOC_CLASSES[i].1)
}

/// A control command's name (`NVOS54.cmd`, from the generated table in `nvidia_rm.rs`), or its
/// class/category/index split when the table does not know it (`cmd` = class in bits 31-16, category in 13-8,
/// index in 7-0).
pub fn control_name(cmd: u32) -> String {
    match CONTROL_COMMANDS.binary_search_by_key(&cmd, |&(c, _)| c) {
        Ok(i) => CONTROL_COMMANDS[i].1.to_string(),
        Err(_) => format!("class {:#06x} category {:#04x} index {:#04x}", cmd >> 16, (cmd >> 8) & 0x3f, cmd & 0xff),
    }
}

/// Byte offsets, in the argument struct, of what trapline reads for audit (x86_64 layouts).
pub const NVOS54_CMD_OFFSET: u64 = 8;
pub const NVOS21_64_HCLASS_OFFSET: u64 = 12;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontend_requests_are_named_by_nr() {
        assert_eq!(frontend_name(0xC020_462A).as_deref(), Some("NV_ESC_RM_CONTROL"));
        assert_eq!(frontend_name(0xC020_462B).as_deref(), Some("NV_ESC_RM_ALLOC (NVOS21)"));
        assert_eq!(frontend_name(0xC030_462B).as_deref(), Some("NV_ESC_RM_ALLOC (NVOS64)"));
        assert_eq!(frontend_name(0xC028_462B).as_deref(), Some("NV_ESC_RM_ALLOC (NVOS64)"));
        assert_eq!(frontend_name(0xC900_46C8).as_deref(), Some("NV_ESC_CARD_INFO"));
        assert_eq!(frontend_name(0xC048_46D2).as_deref(), Some("NV_ESC_CHECK_VERSION_STR"));
        assert_eq!(frontend_name(0x5401), None);
    }

    #[test]
    fn array_sized_requests_are_known() {
        assert!(size_varies(0xC900_46C8));
        assert!(size_varies(0xC004_46D4));
        assert!(!size_varies(0xC020_462A));
        assert_eq!(0xC900_46C8 & SIZE_MASK, 0xC000_46C8);
    }

    #[test]
    fn uvm_and_rm_subcommands_have_names() {
        assert_eq!(uvm_name(0x3000_0001), Some("UVM_INITIALIZE"));
        assert_eq!(uvm_name(75), Some("UVM_MM_INITIALIZE"));
        assert_eq!(control_name(0x2080_122b), "NV2080_CTRL_CMD_GR_GET_TPC_MASK");
        assert_eq!(control_name(0x2080_1299), "class 0x2080 category 0x12 index 0x99");
        assert_eq!(alloc_class_name(0xcbc0), Some("HOPPER_COMPUTE_A"));
    }

    #[test]
    fn generated_tables_are_strictly_sorted() {
        for table in [ALLOC_CLASSES, CONTROL_COMMANDS] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "not strictly sorted by value");
        }
        // Complete tables, not a hand-picked few.
        assert!(ALLOC_CLASSES.len() > 200, "{} alloc classes", ALLOC_CLASSES.len());
        assert!(CONTROL_COMMANDS.len() > 1000, "{} control commands", CONTROL_COMMANDS.len());
    }

    #[test]
    fn well_known_controls_and_classes_have_names() {
        for (cmd, name) in [
            (0x101, "NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION"),
            (0x201, "NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS"),
            (0xd01, "NV0000_CTRL_CMD_CLIENT_GET_ADDR_SPACE_TYPE"),
            (0x3d05, "NV0000_CTRL_CMD_OS_UNIX_EXPORT_OBJECT_TO_FD"),
            (0x80_0292, "NV0080_CTRL_CMD_GPU_GET_CLASSLIST_V2"),
            (0x2080_0102, "NV2080_CTRL_CMD_GPU_GET_INFO_V2"),
            (0x2080_3801, "NV2080_CTRL_CMD_GRMGR_GET_GR_FS_INFO"),
            (0xa06c_0101, "NVA06C_CTRL_CMD_GPFIFO_SCHEDULE"),
            (0xc36f_0108, "NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN"),
            (0xcb33_010c, "NV_CONF_COMPUTE_CTRL_CMD_GPU_GET_KEY_ROTATION_STATE"),
        ] {
            assert_eq!(control_name(cmd), name, "{cmd:#x}");
        }
        // Renumbered between branches: each numbering is named with the branches where it holds.
        for (cmd, label) in [
            (0x2080_81ea, "NV2080_CTRL_CMD_RUSD_GET_SUPPORTED_FEATURES (575-580)"),
            (0x2080_01ea, "NV2080_CTRL_CMD_RUSD_GET_SUPPORTED_FEATURES (590-595)"),
            (
                0x2080_1357,
                "NV2080_CTRL_CMD_FB_QUERY_DRAM_ENCRYPTION_INFOROM_SUPPORT (575-595) or NV2080_CTRL_CMD_FB_GET_STATUS (570)",
            ),
        ] {
            assert_eq!(control_name(cmd), label, "{cmd:#x}");
        }
        for (class, name) in [
            (0x0, "NV01_ROOT"),
            (0x3e, "NV01_MEMORY_SYSTEM"),
            (0x41, "NV01_ROOT_CLIENT"),
            (0x79, "NV01_EVENT_OS_EVENT"),
            (0x80, "NV01_DEVICE_0"),
            (0x2080, "NV20_SUBDEVICE_0"),
            (0xc56f, "AMPERE_CHANNEL_GPFIFO_A"),
            (0xcbc0, "HOPPER_COMPUTE_A"),
        ] {
            assert_eq!(alloc_class_name(class), Some(name), "{class:#x}");
        }
        // An NVXXXX_CTRL_CMD_* command's class bits are its XXXX; flag, field and message-id defines that share the
        // prefix are not commands.
        for &(cmd, name) in CONTROL_COMMANDS {
            let prefix = name.strip_prefix("NV").and_then(|n| n.split_once("_CTRL_CMD_")).map(|(class, _)| class);
            if let Some(class) = prefix.filter(|class| class.len() == 4) {
                assert_eq!(u32::from_str_radix(class, 16), Ok(cmd >> 16), "{name} = {cmd:#x}");
            }
            assert!(!name.ends_with("_MESSAGE_ID"), "{name}");
        }
        let names: Vec<&str> = CONTROL_COMMANDS.iter().map(|(_, n)| *n).collect();
        for flag in [
            "NV0000_CTRL_CMD_CLIENT_GET_ADDR_SPACE_TYPE_SYSMEM",
            "NV0000_CTRL_CMD_SYSTEM_GPS_CMD_GET_EXEC",
            "NV5080_CTRL_CMD_DEFERRED_API_FLAGS_DELETE_EXPLICIT",
            "NV0073_CTRL_CMD_DP_INVALID_PREFERRED_DISPLAY_ID",
        ] {
            assert!(!names.contains(&flag), "{flag}");
        }
        assert_eq!(alloc_class_name(0xffff), None);
        assert_eq!(control_name(0x0000_0001), "class 0x0000 category 0x00 index 0x01");
    }
}
