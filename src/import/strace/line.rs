//! One line of `strace -f` output, split into who, when and what: the pid prefix (`[pid  123] ` on a terminal,
//! `123 ` with `-o FILE`, none while one process is traced), an optional timestamp (`-t`, `-tt`, `-ttt`, `-r`)
//! and instruction pointer (`-i`), then a call (`name(args) = result`, `name(args <unfinished ...>`,
//! `<... name resumed>args) = result`), an exit (`+++ exited with 0 +++`), a signal (`--- SIGCHLD {...} ---`)
//! or a mode switch (`[ Process PID=123 runs in 32 bit mode. ]`).
//!
//! Arguments are left as text; `value` reads the few that make a call class.

use super::value;
use crate::decode::arch::Arch;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line<'a> {
    /// `None` when strace printed no pid: only one process was traced at the time.
    pub pid: Option<u32>,
    pub stamp: Option<Stamp>,
    pub event: Event<'a>,
}

/// A timestamp, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stamp {
    /// `-t`, `-tt`: the time of day.
    Clock(f64),
    /// `-ttt`: seconds since the epoch.
    Epoch(f64),
    /// `-r`: since the previous line.
    Delta(f64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'a> {
    /// `name(args) = result`.
    Call {
        name: &'a str,
        args: &'a str,
        result: &'a str,
    },
    /// `name(args <unfinished ...>`: the call began; another process's line came before its result.
    Unfinished {
        name: &'a str,
        args: &'a str,
    },
    /// `<... name resumed>args) = result`: the rest of this process's unfinished call.
    Resumed {
        name: &'a str,
        args: &'a str,
        result: &'a str,
    },
    Exited(i32),
    /// `+++ killed by SIGKILL +++` (with the signal's name).
    Killed(&'a str),
    /// `+++ superseded by execve in pid N +++`: thread N exec'd and took over this (the leader's) pid.
    Superseded(u32),
    /// `--- SIGCHLD {...} ---`, `--- stopped by SIGSTOP ---`: signals, not calls.
    Signal,
    /// `[ Process PID=N runs in 32 bit mode. ]`: that process's calls from here on are in this arch.
    Mode {
        pid: u32,
        arch: Arch,
    },
    /// strace's own messages (`strace: Process 123 attached`), `-k` stack frames, and calls strace could not
    /// name (`???()`).
    Note,
}

/// Why a line is not understood.
pub type LineError = &'static str;

pub fn parse(text: &str) -> Result<Line<'_>, LineError> {
    let text = text.trim_end_matches(['\n', '\r']);
    let (pid, rest) = pid(text);
    let (stamp, rest) = stamp(rest);
    let body = instruction_pointer(rest.trim_start()).trim_start();
    Ok(Line { pid, stamp, event: event(body)? })
}

/// Whether a line that could not be parsed looked like a syscall (a name and a parenthesis): losing one of
/// those loses evidence, losing a line of the workload's own output does not.
pub fn looks_like_call(text: &str) -> bool {
    let (_, rest) = pid(text.trim_end());
    let (_, rest) = stamp(rest);
    let body = instruction_pointer(rest.trim_start()).trim_start();
    body.starts_with("<... ") || syscall_name(body).is_some_and(|(_, after)| after.starts_with('('))
}

fn pid(text: &str) -> (Option<u32>, &str) {
    if let Some(rest) = text.strip_prefix("[pid")
        && let Some((number, rest)) = rest.split_once(']')
        && let Ok(pid) = number.trim().parse()
    {
        return (Some(pid), rest.strip_prefix(' ').unwrap_or(rest));
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    // `-o FILE` puts the pid first; a timestamp also starts with digits but goes on with `.` or `:`.
    if digits > 0 && text.as_bytes().get(digits) == Some(&b' ') {
        return (text[..digits].parse().ok(), &text[digits + 1..]);
    }
    (None, text)
}

fn stamp(text: &str) -> (Option<Stamp>, &str) {
    let trimmed = text.trim_start();
    let len = trimmed.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.' || *b == b':').count();
    if len == 0 || trimmed.as_bytes().get(len) != Some(&b' ') {
        return (None, text);
    }
    let token = &trimmed[..len];
    let rest = &trimmed[len + 1..];
    let stamp = if token.contains(':') {
        let mut seconds = 0.0;
        for part in token.split(':') {
            seconds = seconds * 60.0 + part.parse::<f64>().unwrap_or(0.0);
        }
        Stamp::Clock(seconds)
    } else {
        let seconds = token.parse::<f64>().unwrap_or(0.0);
        // `-r` deltas are small; `-ttt` is seconds since 1970. Nothing runs between them for eleven days.
        if seconds < 1e6 { Stamp::Delta(seconds) } else { Stamp::Epoch(seconds) }
    };
    (Some(stamp), rest)
}

/// `-i` prints `[00007f8a1b2c3d4e] ` (or question marks when unknown) before the call.
fn instruction_pointer(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix('[')
        && let Some((address, rest)) = rest.split_once("] ")
        && !address.is_empty()
        && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b'?')
    {
        return rest;
    }
    text
}

fn event(body: &str) -> Result<Event<'_>, LineError> {
    if let Some(exit) = body.strip_prefix("+++ ") {
        let exit = exit.trim_end().strip_suffix("+++").ok_or("an exit line without its closing +++")?.trim();
        if let Some(code) = exit.strip_prefix("exited with ") {
            return code.parse().map(Event::Exited).map_err(|_| "an exit status that is not a number");
        }
        if let Some(signal) = exit.strip_prefix("killed by ") {
            return Ok(Event::Killed(signal.split_whitespace().next().unwrap_or_default()));
        }
        if let Some(pid) = exit.strip_prefix("superseded by execve in pid ") {
            return pid.trim().parse().map(Event::Superseded).map_err(|_| "a superseding pid that is not a number");
        }
        return Err("an unknown +++ line");
    }
    if body.starts_with("--- ") {
        return Ok(Event::Signal);
    }
    if let Some(mode) = body.strip_prefix("[ Process PID") {
        return personality(mode).ok_or("an unknown mode line");
    }
    // `???(...)`: strace could not tell which call a dying thread was in (a thread killed by another's exec).
    if body.starts_with("strace: ")
        || body.starts_with("> ")
        || body.starts_with("???(")
        || body.starts_with("<... ??? ")
    {
        return Ok(Event::Note);
    }
    if let Some(resumed) = body.strip_prefix("<... ") {
        let (name, rest) = resumed.split_once(" resumed>").ok_or("a resumed call without its name")?;
        let rest = rest.trim_start();
        // `<... wait4 resumed> <unfinished ...>) = ?`: the process died inside the call.
        let rest = rest.strip_prefix("<unfinished ...>").unwrap_or(rest);
        let (args, result) = args_and_result(rest)?;
        return Ok(Event::Resumed { name, args, result });
    }
    let (name, rest) = syscall_name(body).ok_or("no syscall name")?;
    let rest = rest.strip_prefix('(').ok_or("no ( after the syscall name")?;
    if let Some(args) = rest.trim_end().strip_suffix("<unfinished ...>") {
        return Ok(Event::Unfinished { name, args: args.trim_end() });
    }
    let (args, result) = args_and_result(rest)?;
    Ok(Event::Call { name, args, result })
}

/// `Process PID=N runs in 32 bit mode. ]` (after the `[ Process PID` already taken off).
fn personality(text: &str) -> Option<Event<'_>> {
    let text = text.trim_start_matches(['=', ' ']);
    let (pid, rest) = text.split_once(' ')?;
    let mode = rest.strip_prefix("runs in ")?.strip_suffix(" mode. ]")?;
    let arch = match mode {
        "64 bit" => Arch::native(),
        "32 bit" if Arch::native() == Arch::Aarch64 => Arch::Arm,
        "32 bit" => Arch::I386,
        "x32" => Arch::X32,
        // strace on arm64 names the modes themselves.
        "AArch64" => Arch::Aarch64,
        "32-bit" => Arch::Arm,
        _ => return None,
    };
    Some(Event::Mode { pid: pid.parse().ok()?, arch })
}

fn syscall_name(body: &str) -> Option<(&str, &str)> {
    let len = body.bytes().take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_').count();
    (len > 0).then(|| body.split_at(len))
}

/// Splits `args) = result` (the text after the opening parenthesis).
fn args_and_result(rest: &str) -> Result<(&str, &str), LineError> {
    let close = value::close_paren(rest).ok_or("no ) closing the arguments")?;
    let after = rest[close + 1..].trim_start();
    let result = after.strip_prefix('=').ok_or("no = result after the arguments")?.trim();
    if result.is_empty() {
        return Err("an empty result");
    }
    Ok((&rest[..close], strip_duration(result)))
}

/// `-T` appends the time spent in the call: `= 0 <0.000012>`.
fn strip_duration(result: &str) -> &str {
    if let Some(open) = result.rfind(" <")
        && let Some(time) = result[open + 2..].strip_suffix('>')
        && !time.is_empty()
        && time.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return result[..open].trim_end();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(name: &'a str, args: &'a str, result: &'a str) -> Event<'a> {
        Event::Call { name, args, result }
    }

    #[test]
    fn pid_prefixes_and_timestamps() {
        let l = parse("15856 execve(\"/usr/bin/sh\", [\"sh\"], 0x7ffc /* 35 vars */) = 0\n").unwrap();
        assert_eq!(l.pid, Some(15856));
        assert_eq!(l.event, call("execve", "\"/usr/bin/sh\", [\"sh\"], 0x7ffc /* 35 vars */", "0"));
        let l = parse("[pid  4242] getpid() = 4242").unwrap();
        assert_eq!((l.pid, l.event), (Some(4242), call("getpid", "", "4242")));
        let l = parse("getpid()                          = 7").unwrap();
        assert_eq!((l.pid, l.stamp), (None, None));
        let l = parse("15973 03:23:18.083247 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 4").unwrap();
        assert_eq!((l.pid, l.stamp), (Some(15973), Some(Stamp::Clock(3.0 * 3600.0 + 23.0 * 60.0 + 18.083247))));
        let l = parse("1795836198.098239 brk(NULL) = 0x55").unwrap();
        assert_eq!((l.pid, l.stamp), (None, Some(Stamp::Epoch(1795836198.098239))));
        let l = parse("15987      0.000150 brk(NULL) = 0x55").unwrap();
        assert_eq!((l.pid, l.stamp), (Some(15987), Some(Stamp::Delta(0.000150))));
        let l = parse("     0.000150 brk(NULL) = 0x55").unwrap();
        assert_eq!((l.pid, l.stamp), (None, Some(Stamp::Delta(0.000150))));
        let l = parse("12 03:23:18 [00007f842a6b1e8b] brk(NULL) = 0x55 <0.000012>").unwrap();
        assert_eq!(l.event, call("brk", "NULL", "0x55"));
        // `-o` pads pids to five columns.
        let l = parse("3437  [00007f9d0bfd4ad7] brk(NULL) = 0x55").unwrap();
        assert_eq!((l.pid, l.event), (Some(3437), call("brk", "NULL", "0x55")));
    }

    #[test]
    fn unfinished_and_resumed() {
        let l =
            parse("15952 futex(0x7f, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 15953, NULL <unfinished ...>").unwrap();
        assert_eq!(
            l.event,
            Event::Unfinished { name: "futex", args: "0x7f, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 15953, NULL" }
        );
        let l = parse("15973 rt_sigprocmask(SIG_SETMASK, [],  <unfinished ...>").unwrap();
        assert_eq!(l.event, Event::Unfinished { name: "rt_sigprocmask", args: "SIG_SETMASK, []," });
        let l = parse("15973 <... rt_sigprocmask resumed>NULL, 8) = 0").unwrap();
        assert_eq!(l.event, Event::Resumed { name: "rt_sigprocmask", args: "NULL, 8", result: "0" });
        let l = parse("[pid 7] <... wait4 resumed> <unfinished ...>) = ?").unwrap();
        assert_eq!(l.event, Event::Resumed { name: "wait4", args: "", result: "?" });
    }

    #[test]
    fn exits_signals_and_modes() {
        assert_eq!(parse("15945 +++ exited with 3 +++").unwrap().event, Event::Exited(3));
        assert_eq!(parse("+++ killed by SIGKILL +++").unwrap().event, Event::Killed("SIGKILL"));
        assert_eq!(parse("9 +++ killed by SIGSEGV (core dumped) +++").unwrap().event, Event::Killed("SIGSEGV"));
        assert_eq!(parse("9 +++ superseded by execve in pid 11 +++").unwrap().event, Event::Superseded(11));
        assert_eq!(parse("9 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---").unwrap().event, Event::Signal);
        if Arch::native() == Arch::X86_64 {
            let l = parse("[ Process PID=21744 runs in 32 bit mode. ]").unwrap();
            assert_eq!(l.event, Event::Mode { pid: 21744, arch: Arch::I386 });
            let l = parse("[ Process PID 21744 runs in 64 bit mode. ]").unwrap();
            assert_eq!(l.event, Event::Mode { pid: 21744, arch: Arch::X86_64 });
        }
        assert_eq!(parse("strace: Process 5 attached").unwrap().event, Event::Note);
        assert_eq!(parse("[pid  1770] ???( <unfinished ...>").unwrap().event, Event::Note);
    }

    #[test]
    fn what_is_not_a_call() {
        assert!(parse("").is_err());
        assert!(parse("hello world").is_err());
        assert!(parse("15 read(3, \"abc\", 3").is_err());
        assert!(parse("15 read(3, \"abc\", 3)").is_err());
        assert!(looks_like_call("15 read(3, \"abc\", 3"));
        assert!(!looks_like_call("total 48"));
    }
}
