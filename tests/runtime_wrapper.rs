//! `trapline runtime` as Docker's runtime records containers: configured in daemon.json's `runtimes` with
//! `runtimeArgs`, `docker run --runtime trapline` runs the probe with its usual output and leaves one trace
//! named by the container's id; the profile made from it runs the same image in Docker and denies the call the
//! recording never saw. An output directory that cannot be written fails the container's start with one line,
//! promptly; a recorder killed mid-run takes its container with it. As containerd's runc binary, through `ctr`
//! and through a Kubernetes RuntimeClass (the CRI). As Podman's `--runtime`. Skips like `tests/engines.rs` where an engine is missing,
//! unless `TRAPLINE_REQUIRE_ENGINES=1`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::container::{find_runc, static_fixture};
use common::engines::{
    Cleanup, Containerd, CriClient, Docker, Engine, Podman, engine_or_skip, profile_of, static_rootfs_layer,
    trace_named, trapline_runtime,
};
use common::*;

const PLAIN: &str = "write=ok\nread=hello from trapline\ndone\n";
const EXTRA_DENIED: &str = "write=ok\nread=hello from trapline\nextra=Operation not permitted\ndone\n";

#[test]
fn docker_records_through_the_runtime_and_enforces_what_it_recorded() {
    const TEST: &str = "docker_records_through_the_runtime";
    if !engine_or_skip(TEST, Engine::Docker) {
        return;
    }
    let dir = TempDir::new("runtime-wrapper");
    let traces = dir.join("traces");
    let config = json!({"runtimes": {
        "trapline": trapline_runtime(&traces),
        "trapline-unwritable": trapline_runtime(Path::new("/proc/trapline-nowhere")),
    }});
    let probe = static_fixture("engine_probe");
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&probe, "/probe")], &layer);
    let Some(docker) = Docker::start_configured_or_skip(TEST, &config) else { return };
    docker.import(&layer, "trapline-probe");

    let out = docker.run_with(&["--runtime", "trapline"], None, "trapline-probe", &["/probe"]);
    assert!(out.status.success(), "{}", docker.daemon.explain("docker run --runtime trapline", &out));
    assert_eq!(out.stdout_str(), PLAIN, "{}", docker.daemon.explain("docker run --runtime trapline", &out));

    let trace = the_trace(&traces, &docker.daemon.log_text());
    let name = trace.file_stem().unwrap().to_str().unwrap();
    assert!(name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()), "named by the container id: {name}");

    let profile = dir.join("profile.json");
    let prof = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(&trace)
        .args(["--runtime", "none", "-o"])
        .arg(&profile)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(prof.code(), 0, "trapline profile: {}", prof.stderr_str());

    let out = docker.run(Some(&profile), "trapline-probe", &["/probe"]);
    assert_eq!(out.stdout_str(), PLAIN, "{}", docker.daemon.explain("the recorded profile", &out));
    let out = docker.run(Some(&profile), "trapline-probe", &["/probe", "extra"]);
    assert_eq!(out.stdout_str(), EXTRA_DENIED, "{}", docker.daemon.explain("the recorded profile, extra", &out));

    // With a terminal runc reports through its own output, which the engine reads to the end: the recorder
    // must not hold it open for the container's lifetime.
    let start = Instant::now();
    let out = docker.run_with(&["--runtime", "trapline", "-t"], None, "trapline-probe", &["/probe"]);
    assert!(out.status.success(), "{}", docker.daemon.explain("docker run -t --runtime trapline", &out));
    assert!(start.elapsed() < Duration::from_secs(30), "a terminal container took {:?}", start.elapsed());

    let start = Instant::now();
    let out = docker.run_with(&["--runtime", "trapline-unwritable"], None, "trapline-probe", &["/probe"]);
    assert!(!out.status.success(), "{}", docker.daemon.explain("an unwritable --out", &out));
    assert!(
        out.stderr_str().contains("trapline runtime: cannot write container traces into /proc/trapline-nowhere"),
        "{}",
        docker.daemon.explain("an unwritable --out", &out)
    );
    assert!(start.elapsed() < Duration::from_secs(30), "refused in {:?}", start.elapsed());
}

/// The one trace in `traces`, waited for.
fn the_trace(traces: &Path, log: &str) -> PathBuf {
    trace_named(traces, Duration::from_secs(20), log, |_| true)
}

/// In `dir`: where traces go, the two-line script containerd runs as its runc binary (a path without
/// arguments, so the script gives the wrapper its own), and a layer holding the probe.
fn runc_binary_and_probe(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    let traces = dir.join("traces");
    let runc = find_runc().expect("runc");
    let script = dir.join("trapline-runc");
    fs::write(
        &script,
        format!("#!/bin/sh\nexec {TRAPLINE} runtime --out {} --runc {} -- \"$@\"\n", traces.display(), runc.display()),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let probe = static_fixture("engine_probe");
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&probe, "/probe")], &layer);
    (traces, script, layer)
}

/// containerd's runc binary (`ctr run --runc-binary`, the runc shim's `BinaryName` for a Kubernetes
/// RuntimeClass) is a path without arguments: a two-line script gives the wrapper its own.
#[test]
fn containerd_records_through_the_runtime_as_its_runc_binary() {
    const TEST: &str = "containerd_records_through_the_runtime";
    if !engine_or_skip(TEST, Engine::Containerd) {
        return;
    }
    let dir = TempDir::new("runtime-wrapper-ctr");
    let (traces, script, layer) = runc_binary_and_probe(&dir);
    let Some(containerd) = Containerd::start_or_skip(TEST) else { return };
    let image = "docker.io/library/trapline-probe:latest";
    containerd.import(&layer, image);

    let options = ["--runc-binary", script.to_str().unwrap()];
    let out = containerd.run_with(&options, None, image, &["/probe"]);
    assert!(out.status.success(), "{}", containerd.daemon.explain("ctr run --runc-binary", &out));
    assert_eq!(out.stdout_str(), PLAIN, "{}", containerd.daemon.explain("ctr run --runc-binary", &out));

    let trace = the_trace(&traces, &containerd.daemon.log_text());
    let profile = profile_of(&trace, &dir.join("profile.json"));
    let out = containerd.run(Some(&profile), image, &["/probe"]);
    assert_eq!(out.stdout_str(), PLAIN, "{}", containerd.daemon.explain("the recorded profile", &out));
    let out = containerd.run(Some(&profile), image, &["/probe", "extra"]);
    assert_eq!(out.stdout_str(), EXTRA_DENIED, "{}", containerd.daemon.explain("the recorded profile, extra", &out));
}

/// Podman takes the runtime as a path too (`podman --runtime PATH`, or containers.conf's `[engine.runtimes]`),
/// and conmon, not a shim, waits for `create`: the same script records there.
#[test]
fn podman_records_through_the_runtime_given_as_its_runtime_path() {
    const TEST: &str = "podman_records_through_the_runtime";
    if !engine_or_skip(TEST, Engine::Podman) {
        return;
    }
    let dir = TempDir::new("runtime-wrapper-podman");
    let (traces, script, layer) = runc_binary_and_probe(&dir);
    let Some(podman) = Podman::start_or_skip(TEST) else { return };
    podman.import(&layer, "localhost/trapline-probe");

    let out = podman.run_with(Some(&script), None, "localhost/trapline-probe", &["/probe"]);
    assert_eq!(out.stdout_str(), PLAIN, "{}", podman.explain("podman --runtime trapline-runc run", &out));

    let trace = the_trace(&traces, "");
    let name = trace.file_stem().unwrap().to_str().unwrap();
    assert!(name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()), "named by the container id: {name}");
    let profile = profile_of(&trace, &dir.join("profile.json"));
    let out = podman.run_with(None, Some(&profile), "localhost/trapline-probe", &["/probe"]);
    assert_eq!(out.stdout_str(), PLAIN, "{}", podman.explain("the recorded profile", &out));
    let out = podman.run_with(None, Some(&profile), "localhost/trapline-probe", &["/probe", "extra"]);
    assert_eq!(out.stdout_str(), EXTRA_DENIED, "{}", podman.explain("the recorded profile, extra", &out));
}

/// A Kubernetes RuntimeClass: containerd's CRI plugin with a runtime handler whose runc shim runs the wrapper
/// (`BinaryName`), a pod asking for that handler, and one trace per container named by pod, container and id
/// from the CRI's annotations; the profile made from the probe's trace then runs the same container as a
/// Localhost profile in a pod on the default handler, and denies the call the recording never saw.
#[test]
fn a_runtime_class_records_a_pods_containers_by_name() {
    const TEST: &str = "runtime_class_records_a_pod";
    if !engine_or_skip(TEST, Engine::Cri) {
        return;
    }
    let dir = TempDir::new("runtime-class");
    let (traces, script, layer) = runc_binary_and_probe(&dir);
    let image = "docker.io/library/trapline-probe:latest";
    let Some(containerd) = Containerd::start_cri_with_handler_or_skip(TEST, image, "trapline", &script) else {
        return;
    };
    containerd.import(&layer, image);
    let client = CriClient::new();
    let pod = |profile: Option<&Path>, handler: Option<&str>, args: &[&str]| -> String {
        let out = client.run_pod(&containerd, image, profile, handler, args);
        let what = format!("a pod (handler {handler:?}, profile {profile:?})");
        assert!(out.status.success(), "{}", containerd.daemon.explain(&what, &out));
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["state"], 2, "the container did not exit: {result}");
        result["stdout"].as_str().unwrap().to_string()
    };

    assert_eq!(pod(None, Some("trapline"), &["/probe"]), PLAIN);
    // pod.py names the pod and its container `probe`; the sandbox's own trace has no container name.
    let trace = trace_named(&traces, Duration::from_secs(20), &containerd.daemon.log_text(), |name| {
        name.starts_with("probe-probe-") && name.ends_with(".json")
    });
    let profile = profile_of(&trace, &dir.join("profile.json"));
    assert_eq!(pod(Some(&profile), None, &["/probe"]), PLAIN);
    assert_eq!(pod(Some(&profile), None, &["/probe", "extra"]), EXTRA_DENIED);
}

/// The recording side of the wrapper killed while its container runs: the container dies with it (the tracer
/// holds PTRACE_O_EXITKILL), the engine sees it exit, and nothing is left in "Created" or running.
#[test]
fn killing_the_recorder_mid_run_leaves_no_container_behind() {
    const TEST: &str = "killing_the_recorder_mid_run";
    if !engine_or_skip(TEST, Engine::Docker) {
        return;
    }
    let dir = TempDir::new("runtime-kill");
    let traces = dir.join("traces");
    let nap = static_fixture("nap");
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&nap, "/nap")], &layer);
    let Some(docker) = Docker::start_recording_or_skip(TEST, &traces) else { return };
    docker.import(&layer, "trapline-nap");
    let name = common::container::container_id();
    let started = docker.docker(&[
        "run",
        "-d",
        "--runtime",
        "trapline",
        "--network",
        "none",
        "--name",
        &name,
        "trapline-nap",
        "/nap",
        "600000",
    ]);
    let _cleanup = Cleanup(|| {
        let _ = docker.docker(&["rm", "-f", &name]);
    });
    assert!(started.status.success(), "{}", docker.daemon.explain("docker run -d --runtime trapline", &started));
    let id = started.stdout_str().trim().to_string();

    // The recorder: the wrapper process still tracing `runc create ... ID` once `docker run -d` has returned.
    let recorder = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let args = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| *a == TRAPLINE.as_bytes())
                && args.contains(&&b"runtime"[..])
                && args.contains(&&b"create"[..])
                && args.contains(&id.as_bytes())
        })
        .unwrap_or_else(|| panic!("no recorder of {id}\n{}", docker.daemon.log_text()));
    // SAFETY: signalling a process of this test's own engine.
    assert_eq!(unsafe { libc::kill(recorder, libc::SIGKILL) }, 0);

    let start = Instant::now();
    let waited = docker.docker(&["wait", &name]);
    assert!(waited.status.success(), "{}", docker.daemon.explain("docker wait", &waited));
    assert!(start.elapsed() < Duration::from_secs(30), "the container outlived its recorder by {:?}", start.elapsed());
    let state = docker.docker(&["inspect", "-f", "{{.State.Status}}", &name]);
    assert_eq!(state.stdout_str().trim(), "exited", "{}", docker.daemon.explain("docker inspect", &state));
}

/// Docker Compose, as docs/containers.md gives it: a service with `runtime: trapline` records, and the same
/// service with `security_opt: [seccomp=PROFILE]` runs under the profile made from that trace.
#[test]
fn compose_records_with_the_runtime_key_and_enforces_with_security_opt() {
    const TEST: &str = "compose_records_and_enforces";
    if !engine_or_skip(TEST, Engine::Compose) {
        return;
    }
    let dir = TempDir::new("runtime-compose");
    let traces = dir.join("traces");
    let probe = static_fixture("engine_probe");
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&probe, "/probe")], &layer);
    let Some(docker) = Docker::start_recording_or_skip(TEST, &traces) else { return };
    docker.import(&layer, "trapline-probe");
    let project = common::container::container_id();
    let up = |service: &str, extra: &str| -> String {
        let file = dir.join(format!("{service}.yml"));
        fs::write(
            &file,
            format!(
                "version: \"2.4\"\nservices:\n  {service}:\n    image: trapline-probe\n    network_mode: none\n{extra}"
            ),
        )
        .unwrap();
        let out = docker.compose(&file, &project, &["run", "--rm", "-T", service]);
        let _ = docker.compose(&file, &project, &["down"]);
        assert!(out.status.success(), "{}", docker.daemon.explain("docker-compose run", &out));
        out.stdout_str()
    };

    assert_eq!(up("record", "    runtime: trapline\n    command: [\"/probe\"]\n"), PLAIN);
    let trace = the_trace(&traces, &docker.daemon.log_text());
    let profile = profile_of(&trace, &dir.join("profile.json"));
    let enforce = |args: &str| format!("    security_opt: [\"seccomp={}\"]\n    command: {args}\n", profile.display());
    assert_eq!(up("enforce", &enforce("[\"/probe\"]")), PLAIN);
    assert_eq!(up("enforce", &enforce("[\"/probe\", \"extra\"]")), EXTRA_DENIED);
}
