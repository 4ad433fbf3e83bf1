//! ioctl request codes: the generic `_IOC` split and the names of common, device-independent requests.
//!
//! The layout is the asm-generic one used by x86 and arm: nr in bits 0-7, type in 8-15, size in 16-29, and the
//! direction in bits 30-31 (`_IOC_WRITE` = 1, `_IOC_READ` = 2). Device-specific tables (GPU drivers) are keyed by
//! the device family the fd belongs to, because the same number means different things on different drivers.

use serde::{Deserialize, Serialize};

/// The four fields of an `_IOC` request code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ioc {
    /// `none`, `write`, `read` or `read|write`, as seen from user space.
    pub dir: IocDir,
    /// The type (or "magic") byte, such as `'F'` for the NVIDIA frontend.
    #[serde(rename = "type")]
    pub kind: u8,
    pub nr: u8,
    /// The size of the argument struct the request says it carries.
    pub size: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IocDir {
    None,
    Write,
    Read,
    #[serde(rename = "read|write")]
    ReadWrite,
}

impl Ioc {
    pub fn split(request: u32) -> Ioc {
        let dir = match request >> 30 {
            0 => IocDir::None,
            1 => IocDir::Write,
            2 => IocDir::Read,
            _ => IocDir::ReadWrite,
        };
        Ioc { dir, kind: (request >> 8) as u8, nr: request as u8, size: ((request >> 16) & 0x3fff) as u16 }
    }

    /// `_IOWR('F', 0x29, 16)` style, the way the request is written in a driver header.
    pub fn render(&self) -> String {
        let kind = if self.kind.is_ascii_graphic() {
            format!("'{}'", self.kind as char)
        } else {
            format!("{:#04x}", self.kind)
        };
        match self.dir {
            IocDir::None => format!("_IO({kind}, {:#04x})", self.nr),
            IocDir::Write => format!("_IOW({kind}, {:#04x}, {})", self.nr, self.size),
            IocDir::Read => format!("_IOR({kind}, {:#04x}, {})", self.nr, self.size),
            IocDir::ReadWrite => format!("_IOWR({kind}, {:#04x}, {})", self.nr, self.size),
        }
    }
}

/// Requests that mean the same on any fd that accepts them (terminals, sockets, files): asm-generic/ioctls.h,
/// linux/sockios.h, linux/fs.h.
const GENERIC: &[(u32, &str)] = &[
    (0x5401, "TCGETS"),
    (0x5402, "TCSETS"),
    (0x5403, "TCSETSW"),
    (0x5404, "TCSETSF"),
    (0x5405, "TCGETA"),
    (0x5406, "TCSETA"),
    (0x5407, "TCSETAW"),
    (0x5408, "TCSETAF"),
    (0x5409, "TCSBRK"),
    (0x540A, "TCXONC"),
    (0x540B, "TCFLSH"),
    (0x540C, "TIOCEXCL"),
    (0x540D, "TIOCNXCL"),
    (0x540E, "TIOCSCTTY"),
    (0x540F, "TIOCGPGRP"),
    (0x5410, "TIOCSPGRP"),
    (0x5411, "TIOCOUTQ"),
    (0x5412, "TIOCSTI"),
    (0x5413, "TIOCGWINSZ"),
    (0x5414, "TIOCSWINSZ"),
    (0x5415, "TIOCMGET"),
    (0x541B, "FIONREAD"),
    (0x541C, "TIOCLINUX"),
    (0x541D, "TIOCCONS"),
    (0x5420, "TIOCPKT"),
    (0x5421, "FIONBIO"),
    (0x5422, "TIOCNOTTY"),
    (0x5429, "TIOCGSID"),
    (0x5450, "FIONCLEX"),
    (0x5451, "FIOCLEX"),
    (0x5452, "FIOASYNC"),
    (0x80045430, "TIOCGPTN"),
    (0x40045431, "TIOCSPTLCK"),
    (0x80045432, "TIOCGDEV"),
    (0x5441, "TIOCGPTPEER"),
    (0x8912, "SIOCGIFCONF"),
    (0x8913, "SIOCGIFFLAGS"),
    (0x8914, "SIOCSIFFLAGS"),
    (0x8915, "SIOCGIFADDR"),
    (0x8921, "SIOCGIFMTU"),
    (0x8927, "SIOCGIFHWADDR"),
    (0x8933, "SIOCGIFINDEX"),
    (0x8910, "SIOCGIFNAME"),
    (0x80086601, "FS_IOC_GETFLAGS"),
    (0x40086602, "FS_IOC_SETFLAGS"),
    (0x40049409, "FICLONE"),
    (0x4020940d, "FICLONERANGE"),
    (0xc020660b, "FS_IOC_FIEMAP"),
    (0x80081272, "BLKGETSIZE64"),
    (0x1260, "BLKGETSIZE"),
    (0x127b, "BLKPBSZGET"),
    (0x1268, "BLKSSZGET"),
];

/// The name of a request that means the same on every fd, if it is one of those.
pub fn generic_name(request: u32) -> Option<&'static str> {
    GENERIC.iter().find(|(code, _)| *code == request).map(|(_, name)| *name)
}

/// The request code of a generic request's name (`TCGETS` is 0x5401): the reverse of [`generic_name`], for
/// reading logs of tools that print names.
pub fn generic_value(name: &str) -> Option<u32> {
    GENERIC.iter().find(|(_, n)| *n == name).map(|(code, _)| *code)
}

/// How a request reads in a trace: its generic name when it has one, else its `_IOC` form.
pub fn describe(request: u32) -> String {
    generic_name(request).map(str::to_string).unwrap_or_else(|| Ioc::split(request).render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_requests_with_bit_31_set() {
        let ioc = Ioc::split(0xc010_4629);
        assert_eq!(ioc, Ioc { dir: IocDir::ReadWrite, kind: b'F', nr: 0x29, size: 16 });
        assert_eq!(ioc.render(), "_IOWR('F', 0x29, 16)");
    }

    #[test]
    fn generic_requests_have_names() {
        assert_eq!(describe(0x5401), "TCGETS");
        assert_eq!(describe(0x0000_3000), "_IO('0', 0x00)");
        assert_eq!(Ioc::split(0x5401).render(), "_IO('T', 0x01)");
    }
}
