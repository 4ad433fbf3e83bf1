//! Warnings for ioctl requests on fds of unknown device that look like a GPU driver's but could be another
//! driver's: they are allowed exactly, unnamed and unmasked, and whoever reviews the profile should know.

use std::collections::BTreeSet;

use crate::decode::gpu::{DeviceFamily, Inferred};
use crate::trace::model::{Class, FdDesc};

/// One warning per distinct ambiguous request among `ioctls` (classes of `ioctl`).
pub fn warn<'a>(ioctls: impl Iterator<Item = &'a Class>, warnings: &mut Vec<String>) {
    let requests: BTreeSet<u64> = ioctls
        .filter(|c| matches!(c.fd, None | Some(FdDesc::Unknown)))
        .filter_map(|c| c.args.iter().find(|a| a.index == Some(1) && a.unreadable.is_none()).map(|a| a.value.0))
        .collect();
    for request in requests {
        if let Inferred::Ambiguous(why) = DeviceFamily::infer(request as u32) {
            warnings.push(format!(
                "ioctl {request:#x} on an fd of unknown device: {why}; allowed exactly, not named or masked \
                 (record or log the fd's open to settle it)"
            ));
        }
    }
}
