//! The importer: a state machine over the log's parsed lines. It joins each unfinished call to its resumption,
//! keeps each task's state, and hands every call to the aggregator as a live recording would.

use std::time::Duration;

use std::collections::BTreeMap;

use super::NotUnderstood;
use super::call::Decoded;
use super::clock::Clock;
use super::effects;
use super::fds;
use super::line::{self, Event, Line};
use super::tasks::{Pending, Tasks};
use super::value::{self, Outcome};
use crate::decode::flags;
use crate::decode::table::SyscallTables;
use crate::observe::classify::{Classified, classify};
use crate::observe::exit_of;
use crate::observe::restart::{self, Interrupted, RESTART_ERRNOS, internal_errno, is_sigreturn};
use crate::trace::aggregate::ClassId;
use crate::trace::model::{Exit, Text};
use crate::trace::{Aggregator, EventSink};

/// What the log said about the run as a whole.
pub struct End {
    pub syscalls: u64,
    pub not_understood: u64,
    pub first_not_understood: Option<(usize, String)>,
    /// How many lines were not understood, by kind of reason.
    pub reasons: BTreeMap<&'static str, u64>,
    pub command: Option<Text>,
    pub exit: Exit,
    pub incomplete: Option<String>,
    pub duration: Duration,
    pub processes: u64,
    pub threads: u64,
}

pub struct Importer<'a> {
    tables: &'a SyscallTables,
    sink: &'a mut Aggregator,
    tasks: Tasks,
    unprefixed: u32,
    exit: Option<Exit>,
    command: Option<Text>,
    syscalls: u64,
    not_understood: u64,
    first_not_understood: Option<(usize, String)>,
    reasons: BTreeMap<&'static str, u64>,
    /// Call lines that could not be read, and calls the log ends inside.
    cut: u64,
    clock: Clock,
    /// The NVIDIA RM word the log gave for the line being read.
    rm_word: Option<u32>,
    /// The line being read dumped an ioctl's struct too short to hold the word its class needs.
    cut_dump: bool,
}

impl<'a> Importer<'a> {
    pub fn new(tables: &'a SyscallTables, sink: &'a mut Aggregator, unprefixed: u32) -> Importer<'a> {
        let unknown_exe = sink.intern_exe(Text::from("?"));
        Importer {
            tables,
            sink,
            tasks: Tasks::new(unknown_exe),
            unprefixed,
            exit: None,
            command: None,
            syscalls: 0,
            not_understood: 0,
            first_not_understood: None,
            reasons: BTreeMap::new(),
            cut: 0,
            clock: Clock::default(),
            rm_word: None,
            cut_dump: false,
        }
    }

    /// A line for which the log also gave the word behind an NVIDIA RM ioctl's pointer (gVisor's nvproxy notes).
    pub fn line_with_word(&mut self, number: usize, text: &str, rm_word: Option<u32>) {
        self.rm_word = rm_word;
        self.line(number, text);
        self.rm_word = None;
    }

    /// A call line in another log's format than the one being read: counted, not read.
    pub fn other_format(&mut self, number: usize, text: &str, which: &'static str) {
        self.not_understood(number, text, &NotUnderstood::OtherFormat(which), true);
    }

    pub fn line(&mut self, number: usize, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let result = match line::parse(text) {
            Ok(parsed) => {
                self.clock.tick(parsed.stamp);
                self.event(number, parsed)
            }
            Err(reason) => Err(NotUnderstood::Line(reason)),
        };
        if let Err(reason) = result {
            self.not_understood(number, text, &reason, line::looks_like_call(text));
        }
        if std::mem::take(&mut self.cut_dump) {
            // The call is counted; only what its struct named is missing.
            self.not_understood(number, text, &NotUnderstood::CutDump, false);
        }
    }

    fn not_understood(&mut self, number: usize, text: &str, reason: &NotUnderstood, call: bool) {
        self.not_understood += 1;
        self.cut += u64::from(call);
        *self.reasons.entry(reason.kind()).or_default() += 1;
        if self.first_not_understood.is_none() {
            let text: String = text.trim().chars().take(120).collect();
            let text = if text.is_empty() { String::new() } else { format!(": {text}") };
            self.first_not_understood = Some((number, format!("{reason}{text}")));
        }
    }

    fn event(&mut self, number: usize, line: Line) -> Result<(), NotUnderstood> {
        let pid = line.pid.unwrap_or(self.unprefixed);
        match line.event {
            Event::Note | Event::Signal => {}
            Event::Mode { pid, arch } => self.tasks.task(pid).arch = arch,
            Event::Call { name, args, result } => {
                self.flush(pid);
                return self.call(pid, name, args, Some(result));
            }
            Event::Unfinished { name, args } => {
                self.flush(pid);
                let pending = Pending { name: name.to_string(), args: args.to_string(), line: number, child: None };
                self.tasks.task(pid).pending = Some(pending);
            }
            Event::Resumed { name, args, result } => match self.tasks.task(pid).pending.take() {
                Some(pending) if pending.name == name => {
                    let joined = format!("{} {args}", pending.args);
                    return self.call(pid, name, &joined, Some(result));
                }
                other => {
                    self.tasks.task(pid).pending = other;
                    return Err(NotUnderstood::ResumedAlone { name: name.to_string() });
                }
            },
            Event::Exited(code) => self.gone(pid, exit_of(Some(code), None)),
            Event::Killed(signal) => self.gone(pid, exit_of(None, flags::signal_number(signal))),
            Event::Superseded(former) => {
                // The exec'ing thread takes over the leader's pid; its unfinished execve resumes there.
                self.flush(pid);
                if let Some(thread) = self.tasks.remove(former) {
                    self.tasks.task(pid).pending = thread.pending;
                }
            }
        }
        Ok(())
    }

    /// The call `pid` left unfinished still happened: it is counted without a result.
    fn flush(&mut self, pid: u32) {
        let Some(pending) = self.tasks.find_mut(pid).and_then(|t| t.pending.take()) else {
            return;
        };
        if let Err(reason) = self.call(pid, &pending.name, &pending.args, None) {
            let text = format!("{}({} <unfinished ...>", pending.name, pending.args);
            self.not_understood(pending.line, &text, &reason, true);
        }
    }

    fn gone(&mut self, pid: u32, exit: Exit) {
        self.flush(pid);
        if self.tasks.first() == Some(pid) {
            self.exit = Some(exit);
        }
        self.tasks.remove(pid);
    }

    /// One call of `pid`, with its `result` unless the log ends inside it: read, counted, its result recorded,
    /// and what it did to fds and tasks applied.
    fn call(&mut self, pid: u32, name: &str, args: &str, result: Option<&str>) -> Result<(), NotUnderstood> {
        let arch = self.tasks.task(pid).arch;
        let items = value::split_args(args);
        let mut decoded = Decoded::new(self.tables, arch, name, &items, result)?;
        decoded.rm_word = self.rm_word;
        if matches!(decoded.outcome, Some(Outcome::Value { .. })) && (name == "execve" || name == "execveat") {
            // An exec is charged to what it becomes, as the ptrace backend charges it.
            self.exec(pid, name, &items);
        }
        let class = self.count(pid, name, &decoded)?;
        self.returned(pid, decoded.call.nr, class, decoded.outcome);
        effects::apply(&mut self.tasks, pid, name, &items, decoded.outcome);
        Ok(())
    }

    /// The class of the call, counted unless it is an interrupted call the kernel entered again.
    fn count(&mut self, pid: u32, name: &str, decoded: &Decoded) -> Result<ClassId, NotUnderstood> {
        let Some(task) = self.tasks.find_mut(pid) else {
            return Err(NotUnderstood::TaskGone);
        };
        // strace shows the kernel entering an interrupted call again as one more call: it is counted once, as
        // the ptrace backend counts it (the restart's result is the call's).
        let restarted = restart::entered(&mut task.interrupted, decoded.call.nr, 0, is_sigreturn(name)).flatten();
        if decoded.amdgpu {
            fds::mark_amdgpu(&task.fds, decoded.call.args[0] as i32);
        }
        let mut source = decoded.source(&task.fds);
        let Classified { key, raw_high, .. } = classify(self.tables, &decoded.call, &mut source, self.sink);
        self.cut_dump |= source.cut_short;
        Ok(match restarted {
            Some(class) => class,
            None => {
                self.syscalls += 1;
                self.sink.call(key, task.tgid, task.exe, raw_high)
            }
        })
    }

    /// The call's result, recorded in `class`; a call a signal interrupted waits for what comes of it.
    fn returned(&mut self, pid: u32, nr: u64, class: ClassId, outcome: Option<Outcome>) {
        let Some(task) = self.tasks.find_mut(pid) else {
            return;
        };
        let rval = match outcome {
            Some(Outcome::Value { value, .. }) => Some(value),
            Some(Outcome::Error(errno)) => Some(-i64::from(errno)),
            Some(Outcome::Unknown) | None => None,
        };
        let errno = rval.filter(|r| *r < 0).and_then(|r| r.checked_neg()).and_then(|e| i32::try_from(e).ok());
        match (rval, errno) {
            (Some(_), Some(errno)) if RESTART_ERRNOS.contains(&errno) => {
                task.interrupted = Some(Interrupted::new(nr, 0, Some(class)));
            }
            (Some(_), Some(errno)) if internal_errno(errno) => {}
            (Some(rval), _) => self.sink.result(class, rval, rval < 0),
            (None, _) => {}
        }
        // A handler's rt_sigreturn: what it restored says whether the interrupted call runs again or failed.
        if let Some(rval) = rval
            && task.interrupted.is_some_and(|i| i.awaits_exit())
            && let Some(class) = restart::returned(&mut task.interrupted, rval)
        {
            self.sink.result(class, -i64::from(libc::EINTR), true);
        }
    }

    fn exec(&mut self, pid: u32, name: &str, items: &[&str]) {
        let path_at = usize::from(name == "execveat");
        let exe = items.get(path_at).and_then(|t| value::string(t)).map(|p| self.sink.intern_exe(Text::from_bytes(p)));
        if self.command.is_none() {
            self.command = items
                .get(path_at + 1)
                .and_then(|argv| value::first_element(argv))
                .and_then(value::string)
                .map(Text::from_bytes);
        }
        self.tasks.exec(pid, exe);
    }

    pub fn finish(mut self) -> End {
        let pids = self.tasks.unfinished();
        let inside = pids.len() as u64;
        for pid in pids {
            self.flush(pid);
        }
        self.cut += inside;
        let incomplete = if self.exit.is_none() {
            Some("the log ends before the first process exited".to_string())
        } else if self.cut > 0 {
            Some(format!("{} calls in the log were cut off or could not be read", self.cut))
        } else {
            None
        };
        let (processes, threads) = self.tasks.counts();
        End {
            syscalls: self.syscalls,
            not_understood: self.not_understood,
            first_not_understood: self.first_not_understood,
            reasons: self.reasons,
            command: self.command,
            exit: self.exit.unwrap_or_else(|| exit_of(None, None)),
            incomplete,
            duration: self.clock.duration(),
            processes,
            threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::time::Instant;

    use super::super::fds;
    use super::*;
    use crate::decode::table::Results;

    fn import_lines(lines: &[&str]) -> (u64, u64) {
        let tables = SyscallTables::new(Results::All);
        let mut aggregator = Aggregator::new(Rc::new(SyscallTables::new(Results::All)), Instant::now());
        let mut importer = Importer::new(&tables, &mut aggregator, 0);
        for (i, line) in lines.iter().enumerate() {
            importer.line(i + 1, line);
        }
        let end = importer.finish();
        (end.syscalls, end.not_understood)
    }

    const SAMPLE: &[&str] = &[
        "100 execve(\"/usr/bin/sh\", [\"sh\", \"-c\", \"x\"], 0x7ffc /* 35 vars */) = 0",
        "100 openat(AT_FDCWD</work>, \"/dev/nvidiactl\", O_RDWR|O_CLOEXEC) = 3</dev/nvidiactl<char 195:255>>",
        "100 ioctl(3</dev/nvidiactl<char 195:255>>, _IOC(_IOC_READ|_IOC_WRITE, 0x46, 0x2a, 0x20), 0x7ffd) = 0",
        "100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, exit_signal=0}, 88 <unfinished ...>",
        "101 mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00",
        "100 <... clone3 resumed> => {parent_tid=[101]}, 88) = 101",
        "101 ioctl(3, 0x30000001, 0x7ffd) = -1 ENOTTY (Inappropriate ioctl for device)",
        "100 --- SIGCHLD {si_signo=SIGCHLD} ---",
        "101 +++ exited with 0 +++",
        "[ Process PID=100 runs in 32 bit mode. ]",
        "100 getpid() = 100",
        "100 +++ exited with 0 +++",
    ];

    #[test]
    fn a_small_log() {
        assert_eq!(import_lines(SAMPLE), (7, 0));
    }

    /// A tiny xorshift generator: the garbage must be reproducible, and the crate has no rand dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics() {
        const ALPHABET: &[u8] = b" ()[]{}<>\"\\,=|:;.-+0123456789xabcdefEROLNUSTIP_?/*...+++---\n\t\xc3\xa9";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut lines = Vec::new();
        for _ in 0..20_000 {
            let line = if rng.below(2) == 0 {
                // A real line, cut and spliced at random byte offsets (on char boundaries).
                let base = SAMPLE[rng.below(SAMPLE.len())];
                let other = SAMPLE[rng.below(SAMPLE.len())];
                let cut = (0..=base.len()).filter(|i| base.is_char_boundary(*i)).nth(rng.below(base.len() + 1));
                let splice = (0..=other.len()).filter(|i| other.is_char_boundary(*i)).nth(rng.below(other.len() + 1));
                format!("{}{}", &base[..cut.unwrap_or(0)], &other[splice.unwrap_or(0)..])
            } else {
                let len = rng.below(80);
                let bytes: Vec<u8> = (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            lines.push(line);
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (_, not_understood) = import_lines(&refs);
        assert!(not_understood > 0);
        for line in &refs {
            let _ = line::parse(line);
            for item in value::split_args(line) {
                let _ = value::word(item);
                let _ = value::fd(item);
                let _ = value::outcome(item);
                let _ = value::string(item);
                let _ = fds::from_decoration(item);
            }
        }
    }
}
