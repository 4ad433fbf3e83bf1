//! NVIDIA request tables, from open-gpu-kernel-modules (`nv-ioctl-numbers.h`, `nv-ioctl.h`, `nvos.h`,
//! `uvm_ioctl.h`, `uvm_linux_ioctl.h`) at release tags 515.43.04 to 595.45.04, x86_64 struct sizes.
//!
//! Frontend requests are `_IOWR('F', nr, sizeof(params))` and the driver dispatches on nr and size, so a
//! request is named by its nr; the size tells the two RM_ALLOC forms apart and, for some commands, changed
//! between driver branches (a profile is therefore tied to a branch; see `VARIES_BY_BRANCH`).
//!
//! Frontend escapes, UVM requests, RM alloc classes and control commands are named from `nvidia_rm.rs`, generated
//! from the driver's headers by `scripts/nvidia-tables.py` (the union over the newest release of each branch from
//! 535); the struct sizes and the other facts here are written by hand.

use super::nvidia_rm::{ALLOC_CLASSES, CONTROL_COMMANDS, FRONTEND_ESCAPES, UVM_REQUESTS};
use crate::decode::ioctl::Ioc;

/// The frontend's magic byte.
pub const TYPE_F: u8 = b'F';

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

/// Escapes older drivers had that no release from 535 on defines, so the generated table lacks them; traces (and
/// strace logs) from such drivers still show them. From the project's GPU reference (seen in 2019-2020 traces).
const LEGACY_ESCAPES: &[(u8, &str)] = &[(0xca, "NV_ESC_ENV_INFO (legacy)")];

/// The name of a frontend request (from the generated table in `nvidia_rm.rs`, else the legacy ones), with the
/// RM_ALLOC form when the size tells it.
pub fn frontend_name(request: u32) -> Option<String> {
    let ioc = Ioc::split(request);
    if ioc.kind != TYPE_F {
        return None;
    }
    let generated = FRONTEND_ESCAPES.binary_search_by_key(&ioc.nr, |&(nr, _)| nr).ok().map(|i| FRONTEND_ESCAPES[i].1);
    let name = generated.or_else(|| LEGACY_ESCAPES.iter().find(|(nr, _)| *nr == ioc.nr).map(|(_, name)| *name))?;
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

/// The name of a UVM request (a bare command number, not `_IOC` encoded), from the generated table in
/// `nvidia_rm.rs`.
pub fn uvm_name(request: u32) -> Option<&'static str> {
    UVM_REQUESTS.binary_search_by_key(&request, |&(r, _)| r).ok().map(|i| UVM_REQUESTS[i].1)
}

/// nvidia-modeset has a single entry point.
pub fn modeset_name(request: u32) -> Option<&'static str> {
    (request == 0xC010_6D00).then_some("NVKMS_IOCTL_CMD")
}

/// The name of an RM alloc class (`NVOS21/64.hClass`), from the generated table in `nvidia_rm.rs`.
pub fn alloc_class_name(class: u32) -> Option<&'static str> {
    ALLOC_CLASSES.binary_search_by_key(&class, |&(c, _)| c).ok().map(|i| ALLOC_CLASSES[i].1)
}

/// A control command's name, when the table knows it (with the driver branches where it was renumbered).
pub fn known_control_name(cmd: u32) -> Option<&'static str> {
    CONTROL_COMMANDS.binary_search_by_key(&cmd, |&(c, _)| c).ok().map(|i| CONTROL_COMMANDS[i].1)
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

/// The struct sizes each frontend escape has had across branches (x86_64; the project's GPU reference, from
/// the headers of 515.43.04 to 595.45.04), `0` for an array of that many bytes per entry. Escapes without a
/// row are never inferred from a request alone.
const ESCAPE_SIZES: &[(u8, &[u16])] = &[
    (0x27, &[56]),
    (0x28, &[20]),
    (0x29, &[16]),
    (0x2a, &[32]),
    (0x2b, &[32, 40, 48]),
    (0x34, &[28]),
    (0x35, &[24]),
    (0x39, &[32]),
    (0x41, &[56]),
    (0x4a, &[184]),
    (0x4d, &[72]),
    (0x4e, &[56]),
    (0x4f, &[32]),
    (0x52, &[16]),
    (0x54, &[56]),
    (0x57, &[56, 64]),
    (0x58, &[40, 48]),
    (0x59, &[16]),
    (0x5e, &[40]),
    (0x5f, &[15412]),
    (0xc8, &[0, 72, 80]),
    (0xc9, &[4]),
    (0xca, &[4]),
    (0xce, &[16]),
    (0xcf, &[16]),
    (0xd1, &[12]),
    (0xd2, &[72]),
    (0xd3, &[16]),
    (0xd4, &[0, 4]),
    (0xd5, &[8]),
    (0xd6, &[8]),
    (0xd7, &[552, 560]),
    (0xd8, &[4]),
    (0xd9, &[2600, 2608]),
    (0xda, &[8]),
];

/// Whether a request is `_IOWR('F', nr, size)` with a size some branch's struct for that escape has: then it
/// is NVIDIA's, whatever the fd (framebuffer drivers' 'F' requests carry no size).
pub fn escape_size_matches(request: u32) -> bool {
    let ioc = Ioc::split(request);
    if ioc.kind != TYPE_F || request >> 30 != 3 || ioc.size == 0 {
        return false;
    }
    let Some((_, sizes)) = ESCAPE_SIZES.iter().find(|(nr, _)| *nr == ioc.nr) else { return false };
    match sizes {
        // An array: any whole number of entries of one of the entry sizes that follow.
        [0, entries @ ..] => entries.iter().any(|e| ioc.size.is_multiple_of(*e)),
        sizes => sizes.contains(&ioc.size),
    }
}

/// Whether a UVM command number is UVM's alone: Linux's `fs.h` and others use bare numbers 0x00-0x1f
/// (FIBMAP is 1, FIGETBSZ 2), so only numbers above that range, and the `0x3000_00xx` ones, tell.
pub fn uvm_unambiguous(request: u32) -> bool {
    request > 0x1f && uvm_name(request).is_some()
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
        assert_eq!(frontend_name(0xC004_46CA).as_deref(), Some("NV_ESC_ENV_INFO (legacy)"));
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
        for table in [ALLOC_CLASSES, CONTROL_COMMANDS, UVM_REQUESTS] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "not strictly sorted by value");
        }
        assert!(FRONTEND_ESCAPES.windows(2).all(|w| w[0].0 < w[1].0), "frontend escapes not strictly sorted by nr");
        // Complete tables, not a hand-picked few.
        assert!(ALLOC_CLASSES.len() > 200, "{} alloc classes", ALLOC_CLASSES.len());
        assert!(CONTROL_COMMANDS.len() > 1000, "{} control commands", CONTROL_COMMANDS.len());
        assert!(FRONTEND_ESCAPES.len() > 35, "{} frontend escapes", FRONTEND_ESCAPES.len());
        assert!(UVM_REQUESTS.len() > 60, "{} UVM requests", UVM_REQUESTS.len());
    }

    #[test]
    fn generated_frontend_escapes_and_uvm_requests_have_names() {
        for (nr, name) in [
            (0x2a, "NV_ESC_RM_CONTROL"),
            (0x56, "NV_ESC_RM_ADD_VBLANK_CALLBACK"),
            (0x5c, "NV_ESC_RM_EXPORT_OBJECT_TO_FD"),
            (0x5d, "NV_ESC_RM_IMPORT_OBJECT_FROM_FD"),
            // (NV_IOCTL_BASE + n), NV_IOCTL_BASE = 200; NUMA_INFO from nv-ioctl-numa.h.
            (0xc8, "NV_ESC_CARD_INFO"),
            (0xd7, "NV_ESC_NUMA_INFO"),
            (0xd8, "NV_ESC_SET_NUMA_STATUS"),
            (0xda, "NV_ESC_WAIT_OPEN_COMPLETE"),
        ] {
            assert_eq!(frontend_name(0xC010_4600 | nr).as_deref(), Some(name), "{nr:#x}");
        }
        // A value whose name changed between branches names both.
        assert_eq!(
            frontend_name(0xC010_465F).as_deref(),
            Some("NV_ESC_RM_LOCKLESS_DIAGNOSTIC (545-595) or NV_ESC_RM_NVLOG_CTRL (535)")
        );
        // Header guards and bases are not requests.
        let names: Vec<&str> = FRONTEND_ESCAPES.iter().map(|(_, n)| *n).collect();
        assert!(names.iter().all(|n| n.starts_with("NV_ESC_") && !n.starts_with("NV_ESCAPE")), "{names:?}");
        for (request, name) in [
            (1, "UVM_RESERVE_VA"),
            (35, "UVM_MEM_MAP"),
            (75, "UVM_MM_INITIALIZE"),
            (2047, "UVM_IS_8_SUPPORTED"),
            (0x3000_0001, "UVM_INITIALIZE"),
            (0x3000_0002, "UVM_DEINITIALIZE"),
        ] {
            assert_eq!(uvm_name(request), Some(name), "{request}");
        }
        // UVM_IOCTL_BASE(i) is i on Linux; UVM_REGION_SET_BACKING and UVM_REGION_UNSET_BACKING (21, 22) are
        // Windows-only.
        assert_eq!(uvm_name(21), None);
        assert_eq!(uvm_name(22), None);
        assert!(UVM_REQUESTS.iter().all(|(_, n)| *n != "UVM_IOCTL_BASE"));
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
