//! gVisor's `runsc --strace` log (the Sentry's `runsc.log.*.boot`), read as the strace lines it stands for.
//!
//! Each call is logged twice, through glog: `I0507 19:46:54.276168  1868651 strace.go:561] [   7:   7]
//! nvidia-smi E ioctl(0x3 /dev/nvidiactl, 0xc020462a, 0x7ffd…)` when it enters, and the same with `X` and
//! `= 0 (0x0) (1.61µs)` (or `= -1 errno=25 (…) (…)`; before 2024, `= 0 (0x0) errno=25 (…)`) when it leaves.
//! The task prefix is `[PID:TID]`, or `[ROOTPID(PID):ROOTTID(TID)]` in a nested pid namespace; an fd argument
//! carries its path (`0x3 /dev/nvidiactl`), a pointer what it points at (`0x7ffd "/etc/ld.so.cache"`).
//!
//! An exit line becomes the strace line `TID HH:MM:SS.micros name(args) = result`, with fds decorated as
//! `-y` does (`3</dev/nvidiactl>`). An entry line is held until its exit line; exit and exit_group, which never
//! return, become `= ?` and `+++ exited with N +++`; an entry the log ends inside is left unfinished. With
//! `--debug`, nvproxy logs the RM control command (`nvproxy: control command 0x20800102, object …`) or the
//! class allocated (`nvproxy: allocation class 49856`) between the two: that word is what the ptrace backend
//! reads behind the ioctl's pointer, and is handed on with the call.

use rustc_hash::FxHashMap;

use super::value;

/// A call line in strace's form, with the NVIDIA RM word the log gave for it.
#[derive(Debug, PartialEq)]
pub struct Translated {
    pub text: String,
    pub word: Option<u32>,
}

/// What one line of the log is.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// Strace lines it stands for (none for an entry, whose exit line will carry the call).
    Calls(Vec<Translated>),
    /// Another log line of the Sentry (boot messages, nvproxy's other notes): no call.
    Other,
    /// Not a glog line at all.
    NotGvisor,
}

/// The parts of a strace line: the glog line's time of day and the call itself.
struct Entered {
    /// The entry's line in the log.
    line: usize,
    stamp: String,
    name: String,
    args: String,
    word: Option<u32>,
}

#[derive(Default)]
pub struct Gvisor {
    /// Each task's call that has entered and not yet exited, by thread id.
    entered: FxHashMap<u32, Entered>,
}

impl Gvisor {
    /// Line `number` of the log, `text`.
    pub fn line(&mut self, number: usize, text: &str) -> Line {
        let Some((stamp, body)) = glog(text.trim_end_matches(['\n', '\r'])) else {
            return Line::NotGvisor;
        };
        let Some((tid, body)) = task(body) else {
            return Line::Other;
        };
        if let Some(note) = body.strip_prefix("nvproxy: ") {
            if let (Some(word), Some(entered)) = (rm_word(note), self.entered.get_mut(&tid)) {
                entered.word = Some(word);
            }
            return Line::Other;
        }
        let Some((direction, name, rest)) = call(body) else {
            return Line::Other;
        };
        let name = match name.strip_prefix("sys_") {
            // A syscall gVisor has no name for: strace's form for those.
            Some(number) if number.bytes().all(|b| b.is_ascii_digit()) => format!("syscall_{number}"),
            _ => name.to_string(),
        };
        let Some(close) = value::close_paren(rest) else {
            return Line::Calls(vec![Translated { text: format!("{tid} {stamp} {name}({rest}"), word: None }]);
        };
        let args = strace_args(&name, &rest[..close]);
        let mut calls = Vec::new();
        match direction {
            'E' => {
                // One still entered was left by a call that never came back (a task's rt_sigreturn, say).
                if let Some(left) = self.entered.remove(&tid) {
                    calls.push(left.finished(tid, "?"));
                }
                if name == "exit" || name == "exit_group" {
                    let status = value::number(&args).unwrap_or(0) & 0xff;
                    calls.push(Translated { text: format!("{tid} {stamp} {name}({args}) = ?"), word: None });
                    calls.push(Translated { text: format!("{tid} +++ exited with {status} +++"), word: None });
                } else {
                    let entered = Entered { line: number, stamp: stamp.to_string(), name, args, word: None };
                    self.entered.insert(tid, entered);
                }
            }
            _ => {
                let word = match self.entered.remove(&tid) {
                    Some(entered) if entered.name == name => entered.word,
                    Some(other) => {
                        calls.push(other.finished(tid, "?"));
                        None
                    }
                    None => None,
                };
                let result = rest[close + 1..].trim_start().strip_prefix('=').map(result);
                let text = format!("{tid} {stamp} {name}({args}) = {}", result.unwrap_or_else(|| "?".into()));
                calls.push(Translated { text, word });
            }
        }
        Line::Calls(calls)
    }

    /// The calls the log ends inside, as strace leaves them (unfinished), with the lines they entered on.
    pub fn finish(&mut self) -> Vec<(usize, Translated)> {
        let mut left: Vec<_> = self.entered.drain().collect();
        left.sort_by_key(|(tid, _)| *tid);
        left.into_iter()
            .map(|(tid, e)| {
                let text = format!("{tid} {} {}({} <unfinished ...>", e.stamp, e.name, e.args);
                (e.line, Translated { text, word: e.word })
            })
            .collect()
    }
}

impl Entered {
    fn finished(self, tid: u32, result: &str) -> Translated {
        Translated { text: format!("{tid} {} {}({}) = {result}", self.stamp, self.name, self.args), word: self.word }
    }
}

/// Whether a line is a gVisor strace line (entry or exit of a call).
pub fn is_call_line(text: &str) -> bool {
    glog(text.trim_end()).and_then(|(_, body)| task(body)).is_some_and(|(_, body)| call(body).is_some())
}

/// glog's prefix, `I0507 19:46:54.276168  1868651 strace.go:561] `: the time of day, and the message.
fn glog(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    if b.len() < 22 || !b"DIWEF".contains(&b[0]) || !b[1..5].iter().all(u8::is_ascii_digit) || b[5] != b' ' {
        return None;
    }
    let (stamp, rest) = text[6..].split_once(' ')?;
    if !stamp.bytes().all(|c| c.is_ascii_digit() || c == b':' || c == b'.') || !stamp.contains(':') {
        return None;
    }
    let (thread, rest) = rest.trim_start().split_once(' ')?;
    let (source, message) = rest.split_once("] ")?;
    let is_source = source.contains(".go:") && !source.contains(' ');
    (thread.bytes().all(|c| c.is_ascii_digit()) && is_source).then_some((stamp, message))
}

/// The task prefix, `[   7:   8] ` or `[ 100(   7): 101(   8)] `: the thread id in the root pid namespace.
fn task(message: &str) -> Option<(u32, &str)> {
    let (inside, rest) = message.strip_prefix('[')?.split_once("] ")?;
    let (_, thread) = inside.split_once(':')?;
    let root = thread.split('(').next()?.trim();
    Some((root.parse().ok()?, rest))
}

/// `COMM E name(` or `COMM X name(`: the direction, the syscall's name and what follows its parenthesis. The
/// command name may hold spaces: the marker is the first ` E ` or ` X ` that a name and `(` follow.
fn call(body: &str) -> Option<(char, &str, &str)> {
    let mut from = 0;
    while let Some(at) = body[from..].find([' ']).map(|i| from + i) {
        from = at + 1;
        let rest = &body[at + 1..];
        let Some(direction) = rest.strip_prefix("E ").map(|r| ('E', r)).or(rest.strip_prefix("X ").map(|r| ('X', r)))
        else {
            continue;
        };
        let (direction, rest) = direction;
        let len = rest.bytes().take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_').count();
        if len > 0 && rest.as_bytes().get(len) == Some(&b'(') {
            return Some((direction, &rest[..len], &rest[len + 1..]));
        }
    }
    None
}

/// Arguments as strace writes them: `0x3 /dev/nvidiactl` is fd 3 decorated as `-y` does, `0x7ffd /etc/x` or
/// `0x7ffd "data"` the string, `0xb (bad FD)` the bare number, `AT_FDCWD /work` AT_FDCWD; the rest as it is. The first
/// argument of clone is named `flags=`, as strace names it.
fn strace_args(name: &str, args: &str) -> String {
    let mut items: Vec<String> = value::split_args(args).iter().map(|item| strace_arg(item.trim())).collect();
    if let (Some(flags), "clone") = (items.first_mut(), name) {
        *flags = format!("flags={flags}");
    }
    items.join(", ")
}

fn strace_arg(item: &str) -> String {
    if let Some(cwd) = item.strip_prefix("AT_FDCWD ") {
        return format!("AT_FDCWD<{cwd}>");
    }
    let Some((number, rest)) = item.split_once(' ') else {
        return item.to_string();
    };
    let Some(value) = number.strip_prefix("0x").and_then(|hex| u64::from_str_radix(hex, 16).ok()) else {
        return item.to_string();
    };
    match rest.as_bytes().first() {
        Some(b'"' | b'[' | b'{') => rest.to_string(),
        Some(b'(') => value.to_string(),
        // gVisor prints an fd and a path argument alike, `0x3 /dev/nvidiactl` and `0x7ef93efab32b
        // /proc/devices`: an fd is below the kernel's limit on them (nr_open, 2^20), a pointer is not.
        Some(_) if value < 1 << 20 => format!("{value}<{rest}>"),
        Some(_) => quoted(rest),
        None => number.to_string(),
    }
}

/// A path as strace quotes it.
fn quoted(path: &str) -> String {
    let mut text = String::from("\"");
    for c in path.chars() {
        match c {
            '"' | '\\' => text.extend(['\\', c]),
            _ => text.push(c),
        }
    }
    text.push('"');
    text
}

/// gVisor's result, `0 (0x0) (1.61µs)`, `-1 errno=25 (inappropriate ioctl for device) (2µs)`, or before 2024
/// `0 (0x0) errno=2 (no such file or directory) (5.1µs)`, as strace's: `0`, `-1 (errno 25)`.
fn result(text: &str) -> String {
    let text = text.trim();
    if let Some((_, errno)) = text.split_once("errno=") {
        let digits: String = errno.chars().take_while(char::is_ascii_digit).collect();
        return format!("-1 (errno {digits})");
    }
    text.split_whitespace().next().unwrap_or("?").to_string()
}

/// The RM word an nvproxy note names: `control command 0x20800102, object 0x…` or `… for control command
/// 0x…` (an unsupported one), `allocation class 49856` (decimal) or `… for allocation class …`.
fn rm_word(note: &str) -> Option<u32> {
    let after = |marker: &str| note.split_once(marker).map(|(_, rest)| rest);
    let token = after("control command ").or_else(|| after("allocation class "))?;
    let token: String = token.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    value::number(&token).and_then(|v| u32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: Line) -> Vec<String> {
        match line {
            Line::Calls(calls) => calls.into_iter().map(|c| c.text).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entry_and_exit_lines_become_one_strace_line() {
        let mut gvisor = Gvisor::default();
        let e = "I0507 19:46:54.276168  1868651 strace.go:561] [   7:   7] nvidia-smi E close(0xb /sys/devices/system/cpu/online)";
        let x = "I0507 19:46:54.276174  1868651 strace.go:599] [   7:   7] nvidia-smi X close(0xb /sys/devices/system/cpu/online) = 0 (0x0) (1.61µs)";
        assert_eq!(gvisor.line(1, e), Line::Calls(vec![]));
        assert_eq!(texts(gvisor.line(1, x)), ["7 19:46:54.276174 close(11</sys/devices/system/cpu/online>) = 0"]);
        let old = "I0507 19:46:54.276221  1868651 strace.go:614] [   7:   7] nvidia-smi X sys_439(0xffffffff, 0x7ec93d642730, 0x4, 0x0, 0x0, 0x75) = 0 (0x0) errno=2 (no such file or directory) (5.141µs)";
        assert_eq!(
            texts(gvisor.line(1, old)),
            ["7 19:46:54.276221 syscall_439(0xffffffff, 0x7ec93d642730, 0x4, 0x0, 0x0, 0x75) = -1 (errno 2)"]
        );
    }

    #[test]
    fn nvproxy_notes_give_the_rm_word_and_nested_namespaces_the_root_tid() {
        let mut gvisor = Gvisor::default();
        let lines = [
            "I1205 10:00:00.000001   42 strace.go:576] [ 100(   1): 101(   2)] python3 E ioctl(0x5 /dev/nvidiactl, 0xc020462a, 0x7ffd0000)",
            "D1205 10:00:00.000002   42 frontend.go:224] [ 100(   1): 101(   2)] nvproxy: frontend ioctl: nr = 42 = 0x2a, argSize = 32",
            "W1205 10:00:00.000003   42 frontend.go:927] [ 100(   1): 101(   2)] nvproxy: unsupported for control command 0x20800145 (paramsSize=8)",
        ];
        assert_eq!(gvisor.line(1, lines[0]), Line::Calls(vec![]));
        assert_eq!(gvisor.line(1, lines[1]), Line::Other);
        assert_eq!(gvisor.line(1, lines[2]), Line::Other);
        let x = "I1205 10:00:00.000004   42 strace.go:614] [ 100(   1): 101(   2)] python3 X ioctl(0x5 /dev/nvidiactl, 0xc020462a, 0x7ffd0000) = -1 errno=22 (invalid argument) (3µs)";
        let Line::Calls(calls) = gvisor.line(1, x) else { panic!() };
        assert_eq!(
            calls[0].text,
            "101 10:00:00.000004 ioctl(5</dev/nvidiactl>, 0xc020462a, 0x7ffd0000) = -1 (errno 22)"
        );
        assert_eq!(calls[0].word, Some(0x2080_0145));
    }

    #[test]
    fn exits_end_their_task_and_calls_cut_off_stay_unfinished() {
        let mut gvisor = Gvisor::default();
        let exit = "I0101 00:00:01.5   1 strace.go:576] [   3:   3] sh E exit_group(0x1)";
        assert_eq!(texts(gvisor.line(1, exit)), ["3 00:00:01.5 exit_group(0x1) = ?", "3 +++ exited with 1 +++"]);
        let cut = "I0101 00:00:02.5   1 strace.go:576] [   4:   5] sh E read(0x0 pipe:[12], 0x7f00, 0x1000)";
        assert_eq!(gvisor.line(1, cut), Line::Calls(vec![]));
        let left: Vec<String> = gvisor.finish().into_iter().map(|(_, t)| t.text).collect();
        assert_eq!(left, ["5 00:00:02.5 read(0<pipe:[12]>, 0x7f00, 0x1000 <unfinished ...>"]);
        assert_eq!(gvisor.line(1, "I0101 00:00:00.1   1 loader.go:12] Platform: systrap"), Line::Other);
        assert_eq!(gvisor.line(1, "5 read(0, \"\", 1) = 0"), Line::NotGvisor);
        let open = "I1021 20:39:11.873859   33296 strace.go:608] [   1:   1] nvidia-smi X openat(AT_FDCWD /, 0x7ef93efab32b /proc/devices, O_RDONLY|0x0, 0o0) = 3 (0x3) (2.456µs)";
        assert_eq!(
            texts(gvisor.line(1, open)),
            ["1 20:39:11.873859 openat(AT_FDCWD</>, \"/proc/devices\", O_RDONLY|0x0, 0o0) = 3"]
        );
        // Cut anywhere, a line never panics.
        let x = "I1205 10:00:00.000004   42 strace.go:614] [ 100(   1): 101(   2)] python3 X ioctl(0x5 /dev/nvidiactl, 0xc020462a) = 0 (0x0) (3µs)";
        for cut in (0..x.len()).filter(|i| x.is_char_boundary(*i)) {
            let _ = gvisor.line(1, &x[..cut]);
        }
    }
}
