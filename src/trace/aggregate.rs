//! The Aggregator: the sink recording backends push calls into. It folds every call into its call class
//! on the hot path (one hash lookup) and builds the sorted, deterministic Trace at the end.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use super::model::{Arg, CallSite, Class, FdDesc, GpuFacts, Hex, Outcomes, Run, SCHEMA, Text, Totals, Trace};
use crate::decode::arch::Arch;
use crate::decode::flags::errno_name;
use crate::decode::gpu::nvidia;
use crate::decode::ioctl::Ioc;
use crate::decode::rows::ArgKind;
use crate::decode::table::SyscallTables;
use crate::decode::{self, seccomp};

/// At most this many pids are listed per class; `processes` still counts them all.
const PIDS_LISTED: usize = 16;

/// An interned fd description; 0 means "no fd in this class".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FdId(pub(crate) u32);

/// An interned executable path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExeId(u32);

/// Index of a class, handed back so a later result can be attributed without another lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassId(usize);

impl ClassId {
    #[cfg(test)]
    pub(crate) fn for_tests(index: usize) -> ClassId {
        ClassId(index)
    }
}

/// The identity of a call class, compact enough to hash on every syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassKey {
    pub arch: Arch,
    /// The number within the arch's table.
    pub nr: u64,
    /// Argument values, in the order of the syscall's decoder row.
    pub values: [u64; 3],
    /// Bit i set: value i could not be read from the caller's memory (its slot holds the errno).
    pub unreadable: u8,
    pub fd: FdId,
    /// What a driver call asked for behind its pointer (NVIDIA RM control command or alloc class).
    pub detail: Option<Detail>,
}

/// A value read from a call's argument struct, for review only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detail {
    Value(u32),
    /// The struct could not be read: the errno.
    Unreadable(i32),
}

impl ClassKey {
    pub fn plain(arch: Arch, nr: u64) -> ClassKey {
        ClassKey { arch, nr, values: [0; 3], unreadable: 0, fd: FdId::default(), detail: None }
    }
}

/// What a recording backend reports. Backends share decoders and fd tables; only how they get to see a
/// call differs.
pub trait EventSink {
    /// One call of `key` by thread `tid` of process `tgid` running `exe`.
    fn call(&mut self, key: ClassKey, tgid: u32, exe: ExeId, raw_high: Option<u64>) -> ClassId;
    /// The result of a call reported by [`EventSink::call`]: a negative errno when `is_error`.
    fn result(&mut self, class: ClassId, rval: i64, is_error: bool);
    /// A call of the class that a seccomp filter in force answered with `action` (`SECCOMP_RET_*`), which
    /// keeps it from running.
    fn denied(&mut self, class: ClassId, action: u32);
    fn intern_fd(&mut self, desc: FdDesc) -> FdId;
    /// Whether the class still needs its call site (it was just seen for the first time).
    fn wants_site(&self, class: ClassId) -> bool;
    /// The call site of the class's first call, once looked up (`None`: it could not be resolved).
    fn set_site(&mut self, class: ClassId, site: Option<CallSite>);
    fn intern_exe(&mut self, exe: Text) -> ExeId;

    /// `n` (at least one) calls of one class at once, as a backend that counts in the kernel reports them.
    fn calls(&mut self, key: ClassKey, tgid: u32, exe: ExeId, raw_high: Option<u64>, n: u64) -> ClassId {
        let class = self.call(key, tgid, exe, raw_high);
        for _ in 1..n {
            self.call(key, tgid, exe, raw_high);
        }
        class
    }

    /// `n` results alike at once.
    fn results(&mut self, class: ClassId, rval: i64, is_error: bool, n: u64) {
        for _ in 0..n {
            self.result(class, rval, is_error);
        }
    }
}

struct Stats {
    key: ClassKey,
    count: u64,
    outcomes: Option<(u64, BTreeMap<i32, u64>)>,
    tgids: FxHashSet<u32>,
    last_tgid: u32,
    exes: Vec<ExeId>,
    last_exe: ExeId,
    /// The first register value seen whose high half differed from the class value.
    raw: Option<u64>,
    /// `None` until looked up; then the site, if it could be resolved.
    site: Option<Option<CallSite>>,
    first_seen: Duration,
    /// Calls a filter in force denied, by its answer.
    denied: BTreeMap<u32, u64>,
}

/// Looks at the aggregation while calls flow, at most once per [`WATCH_EVERY`]: progress lines, checkpoints.
pub type Watcher = Box<dyn FnMut(&Aggregator)>;

/// How often a [`Watcher`] is called while calls flow.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Calls between two looks at the clock for the watcher: rare enough to cost nothing on the hot path.
const CALLS_PER_CLOCK_LOOK: u64 = 1024;

pub struct Aggregator {
    tables: Rc<SyscallTables>,
    start: Instant,
    index: FxHashMap<ClassKey, usize>,
    stats: Vec<Stats>,
    fds: Vec<FdDesc>,
    fd_index: FxHashMap<FdDesc, FdId>,
    exes: Vec<Text>,
    exe_index: FxHashMap<Text, ExeId>,
    syscalls: u64,
    /// Every process seen, for progress lines (classes keep their own).
    processes: FxHashSet<u32>,
    watcher: Option<(Watcher, Instant)>,
}

impl Aggregator {
    pub fn new(tables: Rc<SyscallTables>, start: Instant) -> Aggregator {
        Aggregator {
            tables,
            start,
            index: FxHashMap::default(),
            stats: Vec::new(),
            // FdId(0) is "no fd": keep a placeholder there.
            fds: vec![FdDesc::Unknown],
            fd_index: FxHashMap::default(),
            exes: Vec::new(),
            exe_index: FxHashMap::default(),
            syscalls: 0,
            processes: FxHashSet::default(),
            watcher: None,
        }
    }

    /// Has `watcher` look at the aggregation about once per [`WATCH_EVERY`] while calls flow.
    pub fn watch(&mut self, watcher: Watcher) {
        self.watcher = Some((watcher, Instant::now()));
    }

    /// Calls so far.
    pub fn syscalls(&self) -> u64 {
        self.syscalls
    }

    /// Distinct classes so far.
    pub fn class_count(&self) -> usize {
        self.stats.len()
    }

    /// Processes that made a call so far.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// Classes first seen within the last `window`.
    pub fn classes_new_within(&self, window: Duration) -> usize {
        let since = self.start.elapsed().saturating_sub(window);
        self.stats.iter().rev().take_while(|s| s.first_seen >= since).count()
    }

    /// The classes from the `first`-th seen on, in the order they were first seen.
    /// One class as it stands now.
    pub fn class_of(&self, id: ClassId) -> Class {
        self.class(&self.stats[id.0])
    }

    pub fn classes_from(&self, first: usize) -> Vec<Class> {
        self.stats.iter().skip(first).map(|s| self.class(s)).collect()
    }

    /// Calls the watcher when its time has come.
    fn look(&mut self) {
        let Some((mut watcher, last)) = self.watcher.take() else { return };
        let now = Instant::now();
        if now.duration_since(last) >= WATCH_EVERY {
            watcher(self);
            self.watcher = Some((watcher, now));
        } else {
            self.watcher = Some((watcher, last));
        }
    }

    pub fn tables(&self) -> &SyscallTables {
        &self.tables
    }

    /// The Trace of everything pushed; `run.totals` gets its syscall and class counts here.
    pub fn finish(self, run: Run) -> Trace {
        self.snapshot(run)
    }

    /// The Trace of everything pushed so far, leaving the aggregation going (a checkpoint).
    pub fn snapshot(&self, mut run: Run) -> Trace {
        run.totals = Totals { syscalls: self.syscalls, classes: self.stats.len() as u64, ..run.totals };
        let mut classes: Vec<Class> = self.stats.iter().map(|s| self.class(s)).collect();
        classes.sort_by_cached_key(class_order);
        if let Some(gpu) = &mut run.gpu {
            let mut libraries: Vec<String> = self
                .fds
                .iter()
                .filter_map(|fd| match fd {
                    FdDesc::GpuLibrary { name } => Some(name.clone()),
                    _ => None,
                })
                .collect();
            libraries.sort();
            gpu.libraries = libraries;
        }
        run.gpu = run.gpu.filter(|g| *g != GpuFacts::default());
        Trace { schema: SCHEMA, runs: vec![run], classes }
    }

    fn class(&self, s: &Stats) -> Class {
        let entry = self.tables.get(s.key.arch, s.key.nr);
        let specs = entry.row.map(|r| r.args).unwrap_or(&[]);
        let fd = (s.key.fd != FdId::default()).then(|| &self.fds[s.key.fd.0 as usize]);
        let family = fd.and_then(FdDesc::family);
        let mut args: Vec<Arg> = specs
            .iter()
            .zip(s.key.values)
            .enumerate()
            .map(|(i, (spec, value))| {
                let unreadable = s.key.unreadable & (1 << i) != 0;
                Arg {
                    index: spec.index,
                    name: spec.name.to_string(),
                    value: Hex(if unreadable { 0 } else { value }),
                    raw: s.raw.filter(|_| i == 0 && spec.index.is_some()).map(Hex),
                    decoded: match (unreadable, spec.kind, family) {
                        (true, _, _) => String::new(),
                        (false, ArgKind::Ioctl, Some(family)) => {
                            family.request_name(value as u32).unwrap_or_else(|| decode::describe(spec.kind, value))
                        }
                        (false, kind, _) => decode::describe(kind, value),
                    },
                    ioc: (spec.kind == ArgKind::Ioctl && !unreadable).then(|| Ioc::split(value as u32)),
                    unreadable: unreadable.then(|| errno_name(value as i32)),
                }
            })
            .collect();
        if let Some(detail) = s.key.detail {
            args.push(detail_arg(s.key.values[0] as u32, detail));
        }
        let mut pids: Vec<u32> = s.tgids.iter().copied().collect();
        pids.sort_unstable();
        let mut exes: Vec<Text> = s.exes.iter().map(|e| self.exes[e.0 as usize].clone()).collect();
        exes.sort();
        Class {
            syscall: entry.name.map(str::to_string).unwrap_or_else(|| format!("syscall_{}", s.key.nr)),
            arch: s.key.arch,
            nr: s.key.nr,
            args,
            fd: fd.cloned(),
            count: s.count,
            runs: 1,
            results: s.outcomes.as_ref().map(|(ok, errors)| Outcomes {
                ok: *ok,
                errors: errors.iter().map(|(e, n)| (errno_name(*e), *n)).collect(),
            }),
            processes: pids.len() as u64,
            pids: pids.into_iter().take(PIDS_LISTED).collect(),
            exes,
            site: s.site.clone().flatten(),
            first_seen_secs: round_micros(s.first_seen),
            denied: s.denied.iter().map(|(action, n)| (seccomp::action_name(*action), *n)).collect(),
        }
    }
}

/// The argument read from an NVIDIA RM call's struct: the control command or the class allocated.
fn detail_arg(request: u32, detail: Detail) -> Arg {
    let control = Ioc::split(request).nr == nvidia::NV_ESC_RM_CONTROL;
    let (value, decoded, unreadable) = match detail {
        Detail::Value(v) if control => (v, nvidia::control_name(v), None),
        Detail::Value(v) => {
            (v, nvidia::alloc_class_name(v).map(str::to_string).unwrap_or_else(|| format!("{v:#x}")), None)
        }
        Detail::Unreadable(errno) => (0, String::new(), Some(errno_name(errno))),
    };
    Arg {
        index: None,
        name: if control { "cmd" } else { "hClass" }.to_string(),
        value: Hex(u64::from(value)),
        raw: None,
        decoded,
        ioc: None,
        unreadable,
    }
}

/// Classes are listed by syscall name, then arch, then argument values, then fd.
/// The order classes are listed in, in a recording and in a merge: syscall name, arch, argument values (an
/// unreadable value after a readable one), fd.
pub type ClassOrder = (String, Arch, Vec<(u64, Option<String>)>, Option<FdDesc>);

pub fn class_order(c: &Class) -> ClassOrder {
    (c.syscall.clone(), c.arch, c.args.iter().map(|a| (a.value.0, a.unreadable.clone())).collect(), c.fd.clone())
}

fn round_micros(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e6
}

impl EventSink for Aggregator {
    fn call(&mut self, key: ClassKey, tgid: u32, exe: ExeId, raw_high: Option<u64>) -> ClassId {
        self.syscalls += 1;
        let next = self.stats.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.stats.push(Stats {
                key,
                count: 0,
                outcomes: None,
                tgids: FxHashSet::default(),
                // No tgid yet: u32::MAX is no pid, while an imported log without pids reports 0.
                last_tgid: u32::MAX,
                exes: Vec::new(),
                last_exe: ExeId(u32::MAX),
                raw: None,
                site: None,
                first_seen: self.start.elapsed(),
                denied: BTreeMap::new(),
            });
        }
        let s = &mut self.stats[i];
        s.count += 1;
        let other_process = s.last_tgid != tgid;
        if other_process {
            s.tgids.insert(tgid);
            s.last_tgid = tgid;
        }
        if s.last_exe != exe {
            if !s.exes.contains(&exe) {
                s.exes.push(exe);
            }
            s.last_exe = exe;
        }
        if s.raw.is_none() {
            s.raw = raw_high;
        }
        if other_process {
            self.processes.insert(tgid);
        }
        if self.syscalls.is_multiple_of(CALLS_PER_CLOCK_LOOK) {
            self.look();
        }
        ClassId(i)
    }

    fn result(&mut self, class: ClassId, rval: i64, is_error: bool) {
        let (ok, errors) = self.stats[class.0].outcomes.get_or_insert_with(Default::default);
        if is_error {
            *errors.entry(rval.unsigned_abs() as i32).or_insert(0) += 1;
        } else {
            *ok += 1;
        }
    }

    fn denied(&mut self, class: ClassId, action: u32) {
        *self.stats[class.0].denied.entry(action).or_insert(0) += 1;
    }

    fn calls(&mut self, key: ClassKey, tgid: u32, exe: ExeId, raw_high: Option<u64>, n: u64) -> ClassId {
        let class = self.call(key, tgid, exe, raw_high);
        let more = n.saturating_sub(1);
        self.stats[class.0].count += more;
        self.syscalls += more;
        class
    }

    fn results(&mut self, class: ClassId, rval: i64, is_error: bool, n: u64) {
        let (ok, errors) = self.stats[class.0].outcomes.get_or_insert_with(Default::default);
        if is_error {
            *errors.entry(rval.unsigned_abs() as i32).or_insert(0) += n;
        } else {
            *ok += n;
        }
    }

    fn wants_site(&self, class: ClassId) -> bool {
        self.stats[class.0].site.is_none()
    }

    fn set_site(&mut self, class: ClassId, site: Option<CallSite>) {
        self.stats[class.0].site = Some(site);
    }

    fn intern_fd(&mut self, desc: FdDesc) -> FdId {
        if let Some(id) = self.fd_index.get(&desc) {
            return *id;
        }
        let id = FdId(self.fds.len() as u32);
        self.fds.push(desc.clone());
        self.fd_index.insert(desc, id);
        id
    }

    fn intern_exe(&mut self, exe: Text) -> ExeId {
        if let Some(id) = self.exe_index.get(&exe) {
            return *id;
        }
        let id = ExeId(self.exes.len() as u32);
        self.exes.push(exe.clone());
        self.exe_index.insert(exe, id);
        id
    }
}
