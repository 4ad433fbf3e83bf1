//! Reading the log file: its lines, rejoined where strace's own notes cut one in two, and a first pass that
//! finds the pid of the lines strace printed without a `[pid N]` prefix.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use rustc_hash::FxHashSet;

use super::gvisor;
use super::line::{self, Event, Line};
use super::tasks::SPAWNS;
use super::value::{self, Outcome};

/// The pid of the lines strace printed without one. On a terminal, strace leaves the pid out while it traces a
/// single process and puts `[pid N]` on every line once there are more; the first process's own pid shows then,
/// or in a mode-switch note, or as the result of its early `set_tid_address`. Found in a first pass so that
/// its calls are not split between a placeholder and its real pid.
pub fn unprefixed_pid(path: &Path) -> io::Result<Option<u32>> {
    let mut children = FxHashSet::default();
    // While a spawn of the unprefixed process is unfinished, new pids are its children.
    let mut spawning = false;
    let mut found = None;
    read_lines(File::open(path)?, |_, text| {
        if found.is_some() {
            return;
        }
        let Ok(Line { pid, event, .. }) = line::parse(text) else {
            return;
        };
        let value = |result| match value::outcome(result) {
            Ok(Outcome::Value { value, .. }) => u32::try_from(value).ok(),
            _ => None,
        };
        found = match (pid, event) {
            (None, Event::Mode { pid, .. }) if !spawning => Some(Some(pid)),
            (None, Event::Call { name, result, .. }) if ["set_tid_address", "gettid", "getpid"].contains(&name) => {
                Some(value(result))
            }
            (None, Event::Call { name, result, .. }) if SPAWNS.contains(&name) => {
                children.extend(value(result));
                None
            }
            (None, Event::Unfinished { name, .. }) if SPAWNS.contains(&name) => {
                spawning = true;
                None
            }
            (Some(pid), Event::Resumed { name, .. }) if spawning && SPAWNS.contains(&name) => Some(Some(pid)),
            (Some(pid), _) if !spawning && !children.contains(&pid) => Some(Some(pid)),
            _ => None,
        };
    })?;
    Ok(found.flatten())
}

/// The two logs a call line can come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `strace -f`, in any of its line forms.
    Strace,
    /// gVisor's `runsc --strace` (glog lines with `E` and `X` for each call).
    Gvisor,
}

/// Which log `path` is, by its first call line (strace's, when it has none).
pub fn detect_format(path: &Path) -> io::Result<Format> {
    let mut format = None;
    read_lines(File::open(path)?, |_, text| {
        if format.is_none() {
            if gvisor::is_call_line(text) {
                format = Some(Format::Gvisor);
            } else if matches!(line::parse(text), Ok(Line { event: Event::Call { .. } | Event::Unfinished { .. }, .. }))
            {
                format = Some(Format::Strace);
            }
        }
    })?;
    Ok(format.unwrap_or(Format::Strace))
}

/// Calls `each(number, text)` for every line of `file` and returns how many there were.
///
/// On a terminal strace's own notes go to the same stream as the calls, unbuffered, so `strace: Process 12
/// attached` can land inside a call line that strace finishes on the next line: the note is dropped and the
/// two halves are joined.
pub fn read_lines(file: File, mut each: impl FnMut(usize, &str)) -> io::Result<usize> {
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0;
    let mut carried: Option<(usize, String)> = None;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&buf);
        let (first, text) = match carried.take() {
            Some((first, head)) => (first, Cow::Owned(format!("{head}{text}"))),
            None => (number, text),
        };
        match split_note(&text) {
            Some(head) => carried = Some((first, head.to_string())),
            None => each(first, &text),
        }
    }
    if let Some((first, head)) = carried {
        each(first, &head);
    }
    Ok(number)
}

/// The text before a `strace: Process N attached` (or `detached`) note that ends the line, when there is some.
fn split_note(text: &str) -> Option<&str> {
    let start = text.rfind("strace: Process ")?;
    let note = text[start..].trim_end();
    let (pid, what) = note.strip_prefix("strace: Process ")?.split_once(' ')?;
    let is_note = pid.bytes().all(|b| b.is_ascii_digit()) && ["attached", "detached"].contains(&what);
    (start > 0 && is_note).then(|| &text[..start])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_inside_call_lines_are_dropped_and_the_halves_joined() {
        let path = std::env::temp_dir().join(format!("trapline-notes-{}.log", std::process::id()));
        let log = "clone(child_stack=NULL, flags=SIGCHLDstrace: Process 30442 attached\n\
                   , child_tidptr=0x7f) = 30442\n\
                   wait4(30440, strace: Process 30440 attached\n\
                   \x20<unfinished ...>\n\
                   strace: Process 9 attached\n";
        std::fs::write(&path, log).unwrap();
        let mut lines = Vec::new();
        let count = read_lines(File::open(&path).unwrap(), |n, text| lines.push((n, text.to_string()))).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(count, 5);
        assert_eq!(
            lines,
            vec![
                (1, "clone(child_stack=NULL, flags=SIGCHLD, child_tidptr=0x7f) = 30442\n".to_string()),
                (3, "wait4(30440,  <unfinished ...>\n".to_string()),
                (5, "strace: Process 9 attached\n".to_string()),
            ]
        );
    }
}
