//! Reading fixed-size fields of a stopped thread's syscall arguments (clone3's flags, a driver's ioctl struct)
//! with process_vm_readv: never buffers or strings, since a Trace must not carry what a program reads or writes.

use std::io;

/// Reads a u64 at `addr` in thread `tid`'s memory. Fails with EFAULT on a bad pointer.
pub fn read_u64(tid: libc::pid_t, addr: u64) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    read(tid, addr, &mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}

/// Reads a u32 at `addr` in thread `tid`'s memory.
pub fn read_u32(tid: libc::pid_t, addr: u64) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    read(tid, addr, &mut bytes)?;
    Ok(u32::from_ne_bytes(bytes))
}

fn read(tid: libc::pid_t, addr: u64, buf: &mut [u8]) -> io::Result<()> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` covers `buf`, which is live and writable; the kernel checks the remote range.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    match n {
        -1 => Err(io::Error::last_os_error()),
        n if n as usize == buf.len() => Ok(()),
        _ => Err(io::Error::from_raw_os_error(libc::EFAULT)),
    }
}
