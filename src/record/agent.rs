//! The recording agent: a long-running listener for the runtime-spec `listenerPath`. A container whose
//! profile notifies its syscalls (`trapline profile --recording --listener PATH`) makes its runtime connect
//! here and hand over the notify fd with a JSON state message; the agent supervises every container at once,
//! one thread each, and writes one Trace per container when it ends.
//!
//! This is how a fleet records without privileged tracers: a DaemonSet runs the agent, pods use the recording
//! profile. If the agent dies, notified syscalls fail with ENOSYS: the containers break, so run it first.

use std::io::{IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use serde_json::Value;

use super::notify::Supervisor;
use super::{RecordError, signals};
use crate::decode::rows::fd_changing_names;
use crate::decode::table::{Results, SyscallTables};
use crate::files::json::to_json;
use crate::files::output::{Output, WriteError};
use crate::profile::generate::UNOBSERVED;
use crate::profile::oci::{Action, Seccomp};
use crate::trace::model::{Backend, Exit, Run, Text, Totals};
use crate::trace::run::run_id;
use crate::trace::{Aggregator, Trace};

pub struct AgentPlan {
    pub socket: PathBuf,
    pub out: PathBuf,
    pub call_sites: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot listen on {path}: {error}; choose another --socket")]
    Listen { path: PathBuf, error: std::io::Error },
    #[error("{path} is in use: another agent listens there; stop it or choose another --socket")]
    InUse { path: PathBuf },
    #[error("cannot write traces into {path}: {error}; choose another --out")]
    Out { path: PathBuf, error: std::io::Error },
    #[error("reading the runtime's message: {0}")]
    Message(nix::Error),
    #[error("reading the runtime's fds: {0}")]
    Fds(nix::Error),
    #[error("the runtime's state message is not JSON: {0}")]
    State(serde_json::Error),
    #[error("the runtime sent no seccomp fd")]
    NoSeccompFd,
    #[error("container {name}: {error}")]
    Supervise { name: String, error: std::io::Error },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Serves runtime connections until trapline is asked to stop (SIGINT, SIGTERM).
pub fn run_agent(plan: &AgentPlan) -> Result<(), RecordError> {
    std::fs::create_dir_all(&plan.out)
        .map_err(|error| AgentError::Out { path: plan.out.clone(), error })
        .map_err(RecordError::from)?;
    // A socket another agent still listens on is refused; one left by an agent that died is replaced.
    if UnixStream::connect(&plan.socket).is_ok() {
        return Err(AgentError::InUse { path: plan.socket.clone() }.into());
    }
    let _ = std::fs::remove_file(&plan.socket);
    let listener = UnixListener::bind(&plan.socket)
        .map_err(|error| AgentError::Listen { path: plan.socket.clone(), error })
        .map_err(RecordError::from)?;
    // Catch SIGINT and SIGTERM (nothing to forward them to): the loop below notices and stops.
    signals::forward_to(0);
    listener.set_nonblocking(true).map_err(|error| AgentError::Listen { path: plan.socket.clone(), error })?;
    eprintln!("trapline: agent listening on {}, traces go to {}", plan.socket.display(), plan.out.display());
    while signals::interrupted_by().is_none() {
        let mut pfd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one live pollfd; a timeout keeps the stop flag checked.
        unsafe { libc::poll(&mut pfd, 1, 200) };
        let Ok((stream, _)) = listener.accept() else { continue };
        let (out, call_sites) = (plan.out.clone(), plan.call_sites);
        // One thread per container: a slow or stuck container never delays another's answers.
        std::thread::spawn(move || {
            if let Err(e) = record_container(stream, &out, call_sites) {
                eprintln!("trapline: agent: {e}");
            }
        });
    }
    let _ = std::fs::remove_file(&plan.socket);
    Ok(())
}

/// One connection: the state message and the notify fd, then the container's calls until it ends.
fn record_container(stream: UnixStream, out: &Path, call_sites: bool) -> Result<(), AgentError> {
    let (state, listener) = receive(&stream)?;
    let name = trace_name(state["state"]["id"].as_str().unwrap_or("container"), &state["state"]["annotations"]);
    let started_at = SystemTime::now();
    let start = Instant::now();
    let tables = Rc::new(SyscallTables::new(Results::None));
    let mut aggregator = Aggregator::new(Rc::clone(&tables), start);
    let (processes, threads) = {
        let cache_fds = bundle_config(&state).is_some_and(|config| notifies_fd_changes(&config));
        let mut supervisor = Supervisor::new(&tables, &mut aggregator, &listener, None, call_sites, cache_fds);
        supervisor.serve(|| {}).map_err(|error| AgentError::Supervise { name: name.clone(), error })?;
        supervisor.counts()
    };
    let run = Run {
        command: vec![Text::Utf8(name.clone())],
        container: Some("runc".to_string()),
        unobserved: UNOBSERVED.iter().map(|s| s.to_string()).collect(),
        totals: Totals { processes, threads, ..Totals::default() },
        gpu: Some(super::gpu::machine_facts()),
        ..Run::new(run_id(started_at), Backend::NotifyAgent, Results::None, started_at)
    }
    // The runtime, not the agent, waits for the container: its exit status is not seen here.
    .ended(Exit { status: -1, signal: None }, start.elapsed(), None);
    let trace: Trace = aggregator.finish(run);
    let path = out.join(format!("{name}.json"));
    Output::prepare(&path)?.commit(&to_json(&trace))?;
    let _ = writeln!(
        std::io::stderr(),
        "trapline: agent: {} syscalls in {} classes from container {name} -> {}",
        trace.runs[0].totals.syscalls,
        trace.runs[0].totals.classes,
        path.display()
    );
    Ok(())
}

/// runc sends the state as JSON with the fds alongside (SCM_RIGHTS), in one message.
fn receive(stream: &UnixStream) -> Result<(Value, OwnedFd), AgentError> {
    let mut buf = vec![0u8; 1 << 20];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(AgentError::Message)?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in msg.cmsgs().map_err(AgentError::Fds)? {
        if let ControlMessageOwned::ScmRights(received) = message {
            // SAFETY: the kernel just installed these fds in this process for us; nobody else owns them.
            fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let len = msg.bytes;
    let state: Value = serde_json::from_slice(&buf[..len]).map_err(AgentError::State)?;
    // "fds" names each fd passed; the seccomp listener is "seccompFd".
    let index = state["fds"].as_array().and_then(|names| names.iter().position(|n| n == "seccompFd")).unwrap_or(0);
    let listener = fds.into_iter().nth(index).ok_or(AgentError::NoSeccompFd)?;
    Ok((state, listener))
}

/// The container's config.json, from the bundle the runtime's state message names (when readable from here).
fn bundle_config(state: &Value) -> Option<Value> {
    let bundle = state["state"]["bundle"].as_str()?;
    serde_json::from_slice(&std::fs::read(Path::new(bundle).join("config.json")).ok()?).ok()
}

/// Whether the container's filter notifies, unconditionally, every call that can close or replace an fd (the
/// recording profile does): then its processes' fds can be cached. False when a profile lets any such call run
/// unseen, or has none.
fn notifies_fd_changes(config: &Value) -> bool {
    let Ok(seccomp) = serde_json::from_value::<Seccomp>(config["linux"]["seccomp"].clone()) else { return false };
    fd_changing_names().all(|name| {
        let mut rules = seccomp.syscalls.iter().filter(|rule| rule.names.iter().any(|n| n == name)).peekable();
        match rules.peek() {
            None => seccomp.default_action == Action::Notify,
            Some(_) => rules.all(|rule| rule.action == Action::Notify && rule.args.is_empty()),
        }
    })
}

/// A file name for the container's trace: its id, prefixed with the pod and container names Kubernetes
/// puts in the annotations (the kubelet's, or containerd CRI's in a bundle) when they are there. Only
/// characters safe in a file name are kept.
pub fn trace_name(id: &str, annotations: &Value) -> String {
    let pick = |keys: [&str; 2]| keys.iter().find_map(|key| annotations[*key].as_str().map(str::to_string));
    let pod = pick(["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"]);
    let container = pick(["io.kubernetes.container.name", "io.kubernetes.cri.container-name"]);
    let name = match (pod, container) {
        (Some(pod), Some(container)) => format!("{pod}-{container}-{id}"),
        _ => id.to_string(),
    };
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::decode::arch::Arch;

    use crate::profile::generate::recording_profile;

    /// A container config whose filter is `seccomp`.
    fn config_with(seccomp: &serde_json::Value) -> serde_json::Value {
        json!({"linux": {"seccomp": seccomp}})
    }

    #[test]
    fn fds_are_cached_only_under_a_filter_that_notifies_every_close() {
        let recording = serde_json::to_value(recording_profile("/run/agent.sock", Arch::native())).unwrap();
        assert!(super::notifies_fd_changes(&config_with(&recording)), "the recording profile notifies every fd change");

        let mut close_allowed = recording.clone();
        close_allowed["syscalls"][0]["names"].as_array_mut().unwrap().retain(|n| n != "close");
        close_allowed["syscalls"].as_array_mut().unwrap().push(json!({"names": ["close"], "action": "SCMP_ACT_ALLOW"}));
        assert!(!super::notifies_fd_changes(&config_with(&close_allowed)), "close runs unseen");

        let mut dup2_conditional = recording;
        dup2_conditional["syscalls"][0]["names"].as_array_mut().unwrap().retain(|n| n != "dup2");
        dup2_conditional["syscalls"].as_array_mut().unwrap().push(json!({"names": ["dup2"],
            "action": "SCMP_ACT_NOTIFY", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}));
        assert!(!super::notifies_fd_changes(&config_with(&dup2_conditional)), "dup2 notified for fd 0 only");

        assert!(!super::notifies_fd_changes(&json!({"linux": {}})), "no filter: nothing is notified");
        assert!(super::bundle_config(&json!({"state": {"id": "c1", "bundle": "/nonexistent"}})).is_none());
    }

    #[test]
    fn names_come_from_kubernetes_annotations_or_the_id() {
        assert_eq!(super::trace_name("abc/../x", &json!(null)), "abc_.._x");
        let pod = json!({"io.kubernetes.pod.name": "train-0", "io.kubernetes.container.name": "pytorch"});
        assert_eq!(super::trace_name("c1", &pod), "train-0-pytorch-c1");
        let cri = json!({"io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.container-name": "app"});
        assert_eq!(super::trace_name("c2", &cri), "web-app-c2");
    }
}
