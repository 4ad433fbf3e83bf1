//! The address space of a traced process as `/proc/PID/maps` lists it, and the files mapped into it.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The same file wherever and however often it is mapped: `st_dev` (as `makedev(major, minor)`) and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct FileKey {
    dev: u64,
    inode: u64,
}

/// One line of `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mapping {
    pub(super) start: u64,
    end: u64,
    pub(super) exec: bool,
    pub(super) offset: u64,
    dev: u64,
    inode: u64,
    /// As the kernel prints it; empty for an anonymous mapping.
    pub(super) path: Vec<u8>,
}

impl Mapping {
    /// The key of the mapped file, or `None` for anonymous memory and pseudo-paths such as `[vdso]`.
    pub(super) fn file_key(&self) -> Option<FileKey> {
        (self.path.first() == Some(&b'/')).then_some(FileKey { dev: self.dev, inode: self.inode })
    }

    /// The mapped file itself: through `/proc/PID/map_files` (the very inode mapped, in any mount namespace), else as
    /// `/proc/PID/root/PATH`, used only while its device and inode match the mapping, so a replaced file is never read.
    pub(super) fn open(&self, pid: i32, use_map_files: bool) -> Option<File> {
        if use_map_files && let Ok(file) = File::open(format!("/proc/{pid}/map_files/{:x}-{:x}", self.start, self.end))
        {
            return Some(file);
        }
        let key = self.file_key()?;
        let path = self.path.strip_suffix(b" (deleted)").unwrap_or(&self.path);
        let relative = path.strip_prefix(b"/")?;
        let file = File::open(Path::new(&format!("/proc/{pid}/root")).join(OsStr::from_bytes(relative))).ok()?;
        let meta = file.metadata().ok()?;
        (meta.dev() == key.dev && meta.ino() == key.inode).then_some(file)
    }
}

pub(super) fn read_maps(pid: i32) -> Option<Vec<Mapping>> {
    let text = std::fs::read(format!("/proc/{pid}/maps")).ok()?;
    Some(text.split(|&b| b == b'\n').filter_map(parse_maps_line).collect())
}

pub(super) fn find_mapping(maps: &[Mapping], addr: u64) -> Option<&Mapping> {
    maps.iter().find(|m| m.start <= addr && addr < m.end)
}

/// Parses `START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]` (see proc(5)); the path runs to the end of the line and
/// may hold spaces.
fn parse_maps_line(line: &[u8]) -> Option<Mapping> {
    fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let start = rest.iter().position(|&b| b != b' ')?;
        let len = rest[start..].iter().position(|&b| b == b' ').unwrap_or(rest.len() - start);
        let field = &rest[start..start + len];
        *rest = &rest[start + len..];
        Some(field)
    }
    fn hex_field(bytes: &[u8]) -> Option<u64> {
        u64::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok()
    }
    let mut rest = line;
    let range = field(&mut rest)?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let perms = field(&mut rest)?;
    let offset = hex_field(field(&mut rest)?)?;
    let dev = field(&mut rest)?;
    let colon = dev.iter().position(|&b| b == b':')?;
    let (major, minor) = (hex_field(&dev[..colon])?, hex_field(&dev[colon + 1..])?);
    let inode = std::str::from_utf8(field(&mut rest)?).ok()?.parse().ok()?;
    let path = rest.iter().position(|&b| b != b' ').map_or(&[][..], |p| &rest[p..]);
    Some(Mapping {
        start: hex_field(&range[..dash])?,
        end: hex_field(&range[dash + 1..])?,
        exec: perms.get(2) == Some(&b'x'),
        offset,
        dev: nix::sys::stat::makedev(major, minor),
        inode,
        path: path.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::model::Text;

    #[test]
    fn maps_lines() {
        let line = b"7f3c1a200000-7f3c1a228000 r-xp 00028000 fd:01 1835028                    /usr/lib/libc.so.6";
        assert_eq!(
            parse_maps_line(line),
            Some(Mapping {
                start: 0x7f3c1a200000,
                end: 0x7f3c1a228000,
                exec: true,
                offset: 0x28000,
                dev: nix::sys::stat::makedev(0xfd, 1),
                inode: 1835028,
                path: b"/usr/lib/libc.so.6".to_vec(),
            })
        );
        let spaced = parse_maps_line(b"1000-2000 r-xp 00000000 08:02 7   /opt/my lib/x.so (deleted)").unwrap();
        assert_eq!(spaced.path, b"/opt/my lib/x.so (deleted)");
        let odd = parse_maps_line(b"1000-2000 r-xp 00000000 08:02 7 /tmp/\xff.so").unwrap();
        assert_eq!(Text::from_bytes(odd.path), Text::Bytes { bytes: b"/tmp/\xff.so".to_vec() });
        let anon = parse_maps_line(b"1000-2000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(anon.path.is_empty() && !anon.exec && anon.file_key().is_none());
        let vdso = parse_maps_line(b"7ffd1000-7ffd3000 r-xp 00000000 00:00 0                  [vdso]").unwrap();
        assert_eq!((vdso.path.as_slice(), vdso.file_key()), (&b"[vdso]"[..], None));
        assert_eq!(parse_maps_line(b""), None);
        assert_eq!(parse_maps_line(b"garbage"), None);
        assert_eq!(parse_maps_line(b"1000-zz r-xp 0 0:0 0"), None);
    }
}
