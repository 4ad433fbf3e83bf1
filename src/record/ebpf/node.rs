//! The node agent on the eBPF backend (`trapline agent --backend ebpf --out DIR`): follows every cgroup created
//! once it runs (each container a runtime starts gets one), counts their calls in the kernel, and writes one
//! Trace per cgroup when it is removed, named after the container. No runtime configuration and no
//! `listenerPath`: if the agent dies, the workloads run on unaffected, and the kernel unloads its programs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use libbpf_rs::RingBufferBuilder;

use super::containers::{self, Container};
use super::{EbpfError, alive_exe, exec_event_in, maps};
use crate::decode::table::{Results, SyscallTables};
use crate::files::json::to_json;
use crate::files::output::Output;
use crate::record::agent;
use crate::record::{RecordError, signals};
use crate::trace::model::{Backend, Exit, Run, Text, Totals};
use crate::trace::run::run_id;
use crate::trace::{Aggregator, EventSink};

pub struct NodePlan {
    pub out: PathBuf,
    /// Only cgroups below this one (a cgroup v2 directory) get a trace.
    pub under: Option<PathBuf>,
    /// Room for distinct call classes in the kernel, across the cgroups recording at once.
    pub max_classes: u32,
    /// Runtime state directories to look for containers in, besides [`containers::STATE_ROOTS`].
    pub state_roots: Vec<PathBuf>,
    /// Only containers whose annotations have each of these keys (with the value, where one is given) get a
    /// trace; none: every cgroup does.
    pub select: Vec<(String, Option<String>)>,
}

/// A cgroup the agent follows: its path in the cgroup hierarchy, when it appeared, and how many calls the
/// kernel side had lost by then (the counters are shared by every cgroup).
struct Followed {
    path: String,
    since: (SystemTime, Instant),
    exes: Vec<(u32, Vec<u8>)>,
    lost_before: u64,
    /// The container a runtime's state names for it, looked for at its first exec (the runtime has written its
    /// state by then) and, failing that, when it is removed.
    container: Option<Container>,
}

impl Followed {
    fn find_container(&mut self, roots: &[PathBuf]) {
        if self.container.is_none() {
            self.container = containers::find(&self.path, roots);
        }
    }
}

/// Records until SIGINT or SIGTERM. Returns how many traces it wrote.
pub fn run_node_agent(plan: &NodePlan) -> Result<usize, RecordError> {
    std::fs::create_dir_all(&plan.out).map_err(|error| EbpfError::Out { path: plan.out.clone(), error })?;
    let under = plan.under.as_deref().map(hierarchy_path).transpose()?;
    let tables = Rc::new(SyscallTables::new(Results::Auto));
    let mut object = MaybeUninit::uninit();
    let skel = super::load(&mut object, &tables, maps::NEW_CGROUPS, plan.max_classes)?;
    let lost_so_far = || (0..super::LOST.len() as u32).map(|i| maps::counter(&skel.maps.lost, i)).sum::<u64>();
    let load = |step| move |error| RecordError::from(EbpfError::Load { step, error });

    let events: RefCell<Vec<Event>> = RefCell::default();
    let mut ring = RingBufferBuilder::new();
    ring.add(&skel.maps.cgroup_events, |data: &[u8]| {
        if let Some(event) = cgroup_event(data) {
            events.borrow_mut().push(event);
        }
        0
    })
    .map_err(load("read the cgroup events of"))?;
    ring.add(&skel.maps.execs, |data: &[u8]| {
        if let Some((tgid, cgroup, path)) = exec_event_in(data) {
            events.borrow_mut().push(Event::Exec { tgid, cgroup, path });
        }
        0
    })
    .map_err(load("read the exec events of"))?;
    let ring = ring.build().map_err(load("read the events of"))?;
    signals::forward_to(0);
    eprintln!("trapline: agent recording new cgroups with eBPF, traces go to {}", plan.out.display());

    let mut followed: HashMap<u64, Followed> = HashMap::new();
    let mut early_execs: HashMap<u64, Vec<(u32, Vec<u8>)>> = HashMap::new();
    let mut written = 0;
    let roots = containers::roots(&plan.state_roots);
    let write = |id: u64, mut cgroup: Followed, incomplete: Option<String>| -> Result<bool, RecordError> {
        cgroup.find_container(&roots);
        let selected = plan
            .select
            .iter()
            .all(|(key, value)| cgroup.container.as_ref().is_some_and(|c| c.has_annotation(key, value.as_deref())));
        let in_scope = under.as_ref().is_none_or(|u| cgroup.path.starts_with(u.as_str()));
        if in_scope && !plan.select.is_empty() && cgroup.container.is_none() && !cgroup.exes.is_empty() {
            eprintln!(
                "trapline: {}: no runtime state found for it (it ended before the agent read it, or its runtime \
                 keeps its state elsewhere: --state-root), so --select cannot choose it",
                cgroup.path
            );
        }
        let wanted = selected && in_scope;
        let mut aggregator = Aggregator::new(Rc::clone(&tables), cgroup.since.1);
        let mut exes = HashMap::new();
        for (tgid, path) in cgroup.exes {
            exes.insert(tgid, aggregator.intern_exe(Text::from_bytes(path)));
        }
        let exe_of = |tgid| alive_exe(tgid, maps::comm(&skel.maps.comms, tgid));
        let drained =
            maps::drain(&skel.maps.classes, &skel.maps.results, &tables, &mut exes, &exe_of, Some(id), &mut aggregator);
        maps::forget_cgroup(&skel.maps.cgroups, id);
        if !wanted || aggregator.syscalls() == 0 {
            return Ok(false);
        }
        let lost = lost_so_far() - cgroup.lost_before;
        let incomplete = incomplete.or_else(|| {
            (lost > 0).then(|| {
                format!(
                    "the kernel side lost {lost} calls, results or events while it ran (a full map: raise \
                     --max-classes)"
                )
            })
        });
        let run = Run {
            command: vec![Text::from(cgroup.path.as_str())],
            totals: Totals { processes: drained.processes, threads: drained.processes, ..Totals::default() },
            ..Run::new(run_id(cgroup.since.0), Backend::Ebpf, Results::Auto, cgroup.since.0)
        }
        .ended(Exit { status: -1, signal: None }, cgroup.since.1.elapsed(), incomplete);
        let trace = aggregator.finish(run);
        let name = match &cgroup.container {
            Some(container) => agent::trace_name(&container.id, &container.annotations),
            None => trace_name(&cgroup.path),
        };
        let output = Output::prepare(&plan.out.join(format!("{name}.json")))
            .map_err(|e| RecordError::Wait(std::io::Error::other(e.to_string())))?;
        output.commit(&to_json(&trace)).map_err(|e| RecordError::Wait(std::io::Error::other(e.to_string())))?;
        eprintln!("trapline: {} -> {}", cgroup.path, output.name());
        Ok(true)
    };
    while signals::interrupted_by().is_none() {
        let _ = ring.poll(Duration::from_millis(100));
        for event in events.take() {
            match event {
                Event::Created { id, path } => {
                    let since = (SystemTime::now(), Instant::now());
                    let lost_before = lost_so_far();
                    let exes = early_execs.remove(&id).unwrap_or_default();
                    let mut cgroup = Followed { path, since, lost_before, container: None, exes };
                    if !cgroup.exes.is_empty() {
                        cgroup.find_container(&roots);
                    }
                    followed.insert(id, cgroup);
                }
                Event::Exec { tgid, cgroup, path } => match followed.get_mut(&cgroup) {
                    Some(followed) => {
                        followed.exes.push((tgid, path));
                        followed.find_container(&roots);
                    }
                    // The two kinds of events come through two ring buffers: an exec may be read before the
                    // creation of its cgroup, which the kernel side follows already.
                    None => early_execs.entry(cgroup).or_default().push((tgid, path)),
                },
                Event::Removed { id } => {
                    early_execs.remove(&id);
                    if let Some(cgroup) = followed.remove(&id) {
                        written += usize::from(write(id, cgroup, None)?);
                    }
                }
            }
        }
    }
    // Stopped while containers still run: what they did so far, marked as such.
    for (id, cgroup) in followed.drain() {
        let why = "the agent stopped while the cgroup still had processes".to_string();
        written += usize::from(write(id, cgroup, Some(why))?);
    }
    Ok(written)
}

enum Event {
    Created { id: u64, path: String },
    Removed { id: u64 },
    Exec { tgid: u32, cgroup: u64, path: Vec<u8> },
}

/// A `cgroup_event` (interface.h).
fn cgroup_event(data: &[u8]) -> Option<Event> {
    let removed = u32::from_ne_bytes(data.get(..4)?.try_into().ok()?);
    let id = u64::from_ne_bytes(data.get(8..16)?.try_into().ok()?);
    let path: Vec<u8> = data.get(16..)?.iter().take_while(|b| **b != 0).copied().collect();
    Some(if removed == 1 {
        Event::Removed { id }
    } else {
        Event::Created { id, path: String::from_utf8_lossy(&path).into_owned() }
    })
}

/// A cgroup directory's path within the cgroup v2 hierarchy (`/kubepods/pod.../ID`), as the kernel names it.
fn hierarchy_path(dir: &Path) -> Result<String, RecordError> {
    let not = |why: String| RecordError::from(EbpfError::NotCgroup { path: dir.to_path_buf(), why });
    super::cgroup_id(dir)?;
    let dir = std::fs::canonicalize(dir).map_err(|e| not(e.to_string()))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| not(e.to_string()))?;
    let mount = mountinfo
        .lines()
        .filter_map(|line| line.split_once(" - ").filter(|(_, fs)| fs.starts_with("cgroup2 ")))
        .filter_map(|(fields, _)| fields.split(' ').nth(4).map(PathBuf::from))
        .find(|mount| dir.starts_with(mount))
        .ok_or_else(|| not("not under a cgroup2 mount".into()))?;
    let relative = dir.strip_prefix(&mount).unwrap_or(&dir);
    Ok(format!("/{}", relative.display()).replace("//", "/"))
}

/// A file name for a cgroup's trace: the container id in its path when there is one (`docker-ID.scope`,
/// `cri-containerd-ID.scope`, `/docker/ID`), else the path itself; only characters safe in a file name.
fn trace_name(path: &str) -> String {
    let is_id = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let id = path.rsplit('/').find_map(|component| {
        let bare = component.trim_end_matches(".scope");
        let id = bare.rsplit(['-', ':']).next().unwrap_or(bare);
        is_id(id).then(|| id.to_string())
    });
    let name = id.unwrap_or_else(|| path.trim_matches('/').replace('/', "_"));
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if name.is_empty() { "root".to_string() } else { name }
}

#[cfg(test)]
mod tests {
    use super::trace_name;

    #[test]
    fn a_containers_trace_is_named_by_its_id() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(trace_name(&format!("/system.slice/docker-{id}.scope")), id);
        assert_eq!(trace_name(&format!("/kubepods/besteffort/pod1/cri-containerd-{id}.scope")), id);
        assert_eq!(trace_name(&format!("/docker/{id}")), id);
        assert_eq!(trace_name("/trapline-test/job 1"), "trapline-test_job_1");
    }
}
