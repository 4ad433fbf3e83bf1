//! Behaviour coverage: which kinds of behaviour the runs exercised (processes, threads, IPC, networking,
//! signals, files, GPUs) and which not, in words a reviewer checks against what the workload does in production.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::convergence::describe;
use crate::profile::groups::{REMOVERS, SIGNAL_SENDERS};
use crate::trace::model::{Class, FdDesc, Trace};

const CLONE_THREAD: u64 = 0x10000;
const AF_UNIX: u64 = 1;
const PROT_WRITE: u64 = 0x2;
const MAP_SHARED: u64 = 0x1;
/// Classes listed as evidence per behaviour (the rest are counted).
const EVIDENCE: usize = 4;

const MESSAGES: &[&str] = &["sendmsg", "recvmsg", "sendmmsg", "recvmmsg"];
const CREATES: &[&str] = &[
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "creat",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "rename",
    "renameat",
    "renameat2",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Exercised,
    NotExercised,
    /// The calls are there, but what they did is not recorded.
    CannotTell,
}

/// One kind of behaviour and what the runs showed of it.
#[derive(Clone, Debug, Serialize)]
pub struct Behaviour {
    /// A stable name for machines: `processes`, `threads`, `exec`, `pipes`, `unix-sockets`, `fd-passing`,
    /// `shared-memory`, `network`, `listen`, `signals`, `file-creation`, `file-removal`, `gpu`.
    pub kind: &'static str,
    pub status: Status,
    /// Runs that showed it (a merged trace counts the most runs any one of its classes was seen in).
    pub runs: u64,
    /// What it means, in one sentence: what was done, or what a profile from these runs will deny.
    pub summary: String,
    /// The classes behind it, as `describe` reads them, with their call counts.
    pub evidence: Vec<String>,
    /// The executables that made those calls.
    pub by: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Behaviours {
    pub total_runs: u64,
    /// Runs recorded with `--known`: they hold only what their profile lacked, so a behaviour missing from them
    /// may have been exercised under the profile.
    pub known_runs: u64,
    /// Every executable any run's calls came from.
    pub executables: Vec<String>,
    pub items: Vec<Behaviour>,
}

type Seen<'a> = Vec<(usize, &'a Class)>;

pub fn behaviours(traces: &[(PathBuf, Trace)]) -> Behaviours {
    let all: Seen = traces.iter().enumerate().flat_map(|(i, (_, t))| t.classes.iter().map(move |c| (i, c))).collect();
    let pick = |f: &dyn Fn(&Class) -> bool| -> Seen { all.iter().copied().filter(|(_, c)| f(c)).collect() };
    let named = |names: &'static [&'static str]| pick(&|c: &Class| names.contains(&c.syscall.as_str()));
    let executables: BTreeSet<String> = all.iter().flat_map(|(_, c)| c.exes.iter().map(|e| e.to_string())).collect();

    let mut items = vec![
        item(
            "processes",
            pick(&|c| match c.syscall.as_str() {
                "fork" | "vfork" => true,
                "clone" | "clone3" => flags(c).is_none_or(|f| f & CLONE_THREAD == 0),
                _ => false,
            }),
            "started processes (fork, vfork, or clone without CLONE_THREAD)",
            "never started a process (no fork, vfork or process clone): a run that starts workers or helpers \
             (multiprocessing, DataLoader workers, a shell) will be denied",
        ),
        item(
            "threads",
            pick(&|c| {
                matches!(c.syscall.as_str(), "clone" | "clone3") && flags(c).is_some_and(|f| f & CLONE_THREAD != 0)
            }),
            "started threads (clone with CLONE_THREAD)",
            "never started a thread: a thread pool or a library's worker threads will be denied clone",
        ),
        exec(&all, &executables, traces),
        item(
            "pipes",
            named(&["pipe", "pipe2"]),
            "made pipes",
            "made no pipe: a pipeline, or a worker's pipe back to its parent, will be denied pipe2",
        ),
        item(
            "unix-sockets",
            pick(&|c| is_socket(c) && domain(c) == Some(AF_UNIX)),
            "used AF_UNIX sockets",
            "used no AF_UNIX socket: local IPC (multiprocessing connections and managers, a helper's socket) \
             will be denied",
        ),
        fd_passing(named(MESSAGES)),
        item(
            "shared-memory",
            pick(&|c| is_shared_memory(c)),
            "shared memory between processes (writable MAP_SHARED mappings, memfd_create, System V shm)",
            "shared no memory (no writable MAP_SHARED mapping, memfd_create or shmget): buffers shared between \
             processes (/dev/shm, memfd, SysV shm) will be denied",
        ),
    ];
    items.extend(network(&all));
    items.push(item(
        "listen",
        named(&["listen", "accept", "accept4"]),
        "accepted connections (listen, accept)",
        "never listened for connections: a server, or the rank that hosts a rendezvous store, will be denied \
         listen and accept",
    ));
    items.push(item(
        "signals",
        named(SIGNAL_SENDERS),
        "sent signals",
        "never sent a signal: cleanup after Ctrl-C or a timeout will be denied (`profile --allow-group signals` \
         allows it as a risk accepted in review)",
    ));
    items.push(item(
        "file-creation",
        named(CREATES),
        "created directories, links or nodes, or renamed files",
        "created no directory, link or node and renamed nothing (whether open created files the trace cannot \
         tell: open's flags are no part of its class)",
    ));
    items.push(item(
        "file-removal",
        named(REMOVERS),
        "removed files or directories",
        "removed no file: cleanup of temporary files, also on an error path, will be denied unlink and rmdir \
         (`profile --allow-group cleanup` allows it as a risk accepted in review)",
    ));
    items.push(gpu(&all, traces));
    Behaviours {
        total_runs: traces.iter().map(|(_, t)| t.runs.len() as u64).sum(),
        known_runs: traces.iter().flat_map(|(_, t)| &t.runs).filter(|r| r.known.is_some()).count() as u64,
        executables: executables.into_iter().collect(),
        items,
    }
}

fn item(kind: &'static str, seen: Seen, yes: &str, no: &str) -> Behaviour {
    let status = if seen.is_empty() { Status::NotExercised } else { Status::Exercised };
    let summary = if seen.is_empty() { no } else { yes };
    with_evidence(kind, status, summary.to_string(), &seen)
}

fn with_evidence(kind: &'static str, status: Status, summary: String, seen: &Seen) -> Behaviour {
    let mut by_text: BTreeMap<String, u64> = BTreeMap::new();
    for (_, c) in seen {
        *by_text.entry(describe(c)).or_default() += c.count;
    }
    let mut ranked: Vec<(String, u64)> = by_text.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut evidence: Vec<String> = ranked.iter().take(EVIDENCE).map(|(t, n)| format!("{t} ×{n}")).collect();
    if ranked.len() > EVIDENCE {
        evidence.push(format!("{} more", ranked.len() - EVIDENCE));
    }
    let by: BTreeSet<String> = seen.iter().flat_map(|(_, c)| c.exes.iter().map(|e| e.to_string())).collect();
    Behaviour { kind, status, runs: runs_seen(seen), summary, evidence, by: by.into_iter().collect() }
}

/// Per trace the most runs any one class was seen in, summed over traces (a lower bound for a merge).
fn runs_seen(seen: &Seen) -> u64 {
    let mut per_trace: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, c) in seen {
        let most = per_trace.entry(*i).or_default();
        *most = (*most).max(c.runs);
    }
    per_trace.values().sum()
}

fn arg(c: &Class, name: &str) -> Option<u64> {
    c.args.iter().find(|a| a.name == name && a.unreadable.is_none()).map(|a| a.value.0)
}

fn flags(c: &Class) -> Option<u64> {
    arg(c, "flags")
}

fn domain(c: &Class) -> Option<u64> {
    arg(c, "domain")
}

fn is_socket(c: &Class) -> bool {
    matches!(c.syscall.as_str(), "socket" | "socketpair")
}

fn is_shared_memory(c: &Class) -> bool {
    match c.syscall.as_str() {
        "memfd_create" | "shmget" | "shmat" => true,
        // A device's shared mapping is the driver's memory (GPU), not memory shared between processes; a
        // read-only one (the locale archive) shares nothing either.
        "mmap" | "mmap2" => {
            let shared = flags(c).is_some_and(|f| f & MAP_SHARED != 0); // MAP_SHARED_VALIDATE too
            let writable = arg(c, "prot").is_some_and(|p| p & PROT_WRITE != 0);
            shared && writable && !matches!(c.fd, Some(FdDesc::Device { .. }))
        }
        _ => false,
    }
}

/// Which programs ran: exec beyond each run's first program is exercised.
fn exec(all: &Seen, executables: &BTreeSet<String>, traces: &[(PathBuf, Trace)]) -> Behaviour {
    let execs: Seen =
        all.iter().copied().filter(|(_, c)| matches!(c.syscall.as_str(), "execve" | "execveat")).collect();
    let runs: u64 = traces.iter().map(|(_, t)| t.runs.len() as u64).sum();
    let calls: u64 = execs.iter().map(|(_, c)| c.count).sum();
    let names = executables.iter().cloned().collect::<Vec<_>>().join(", ");
    if executables.len() > 1 || calls > runs {
        let summary = format!("ran {} executable(s): {names}", executables.len());
        with_evidence("exec", Status::Exercised, summary, &execs)
    } else {
        let only = if names.is_empty() { "its first program".to_string() } else { names };
        let summary = format!(
            "ran only {only}: another program a run starts (a shell, a helper such as torch_shm_manager) \
             makes calls no run recorded"
        );
        with_evidence("exec", Status::NotExercised, summary, &execs)
    }
}

fn fd_passing(messages: Seen) -> Behaviour {
    if messages.is_empty() {
        let summary = "no sendmsg or recvmsg: no fd passing (SCM_RIGHTS), which multiprocessing's fd sharing and \
                       resource sharers use, and no other message on a socket"
            .to_string();
        return with_evidence("fd-passing", Status::NotExercised, summary, &messages);
    }
    let summary = "sent or received messages on sockets (sendmsg, recvmsg); whether they passed fds (SCM_RIGHTS) \
                   the trace cannot tell: control messages are not recorded, and seccomp cannot see them either"
        .to_string();
    with_evidence("fd-passing", Status::CannotTell, summary, &messages)
}

/// One item per socket family other than AF_UNIX, or one that says no run used the network.
fn network(all: &Seen) -> Vec<Behaviour> {
    let mut families: BTreeMap<String, Seen> = BTreeMap::new();
    for (i, c) in all.iter().copied().filter(|(_, c)| is_socket(c) && domain(c).is_some_and(|d| d != AF_UNIX)) {
        let family = c.args.iter().find(|a| a.name == "domain").map(|a| a.decoded.clone()).unwrap_or_default();
        families.entry(family).or_default().push((i, c));
    }
    if families.is_empty() {
        return vec![item(
            "network",
            Vec::new(),
            "",
            "opened no network socket (AF_INET, AF_INET6, AF_NETLINK): a run that downloads, serves, or joins a \
             process group over TCP (torchrun, gloo) will be denied socket",
        )];
    }
    families
        .into_iter()
        .map(|(family, seen)| with_evidence("network", Status::Exercised, format!("used {family} sockets"), &seen))
        .collect()
}

/// The GPU devices calls went to, and those the machine had that no call touched.
fn gpu(all: &Seen, traces: &[(PathBuf, Trace)]) -> Behaviour {
    let seen: Seen = all.iter().copied().filter(|(_, c)| c.fd.as_ref().and_then(FdDesc::family).is_some()).collect();
    let used: BTreeSet<String> = seen
        .iter()
        .filter_map(|(_, c)| match &c.fd {
            Some(FdDesc::Device { path, .. }) => Some(path.to_string()),
            _ => None,
        })
        .collect();
    let present: BTreeSet<String> = traces
        .iter()
        .flat_map(|(_, t)| &t.runs)
        .filter_map(|r| r.gpu.as_ref())
        .flat_map(|g| g.devices.iter().cloned())
        .collect();
    let untouched: Vec<String> = present.difference(&used).cloned().collect();
    let also = if untouched.is_empty() {
        String::new()
    } else {
        format!("; the machine also had {}, which no call touched", untouched.join(", "))
    };
    if used.is_empty() {
        let summary = format!("used no GPU device (/dev/nvidia*, /dev/kfd, /dev/dri/*){also}");
        return with_evidence("gpu", Status::NotExercised, summary, &seen);
    }
    let summary = format!("used GPU devices: {}{also}", used.into_iter().collect::<Vec<_>>().join(", "));
    with_evidence("gpu", Status::Exercised, summary, &seen)
}
