//! Helpers shared by the fuzz targets in `src/bin/`: handing an input to the readers that only take a path.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// An in-memory file holding `data`, and the path that opens it (`/proc/self/fd/N`): no disk, nothing left
/// behind, for readers that only take a path.
pub struct MemFile {
    fd: OwnedFd,
}

impl MemFile {
    pub fn new(data: &[u8]) -> MemFile {
        // SAFETY: the name is a NUL-terminated literal; the result is checked before use.
        let raw = unsafe { libc::memfd_create(c"fuzz-input".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(raw >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        // SAFETY: memfd_create just returned this fd, owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        std::fs::File::from(fd.try_clone().expect("dup")).write_all(data).expect("write to memfd");
        MemFile { fd }
    }

    pub fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }
}
