//! Real engines enforce trapline's profiles: a static probe recorded on the host (`trapline record`) and in a
//! runc container (`record --container`), profiled, runs under each profile in Docker
//! (`docker run --security-opt seccomp=`) and in containerd (`ctr run --seccomp --seccomp-profile`) with the
//! output it has unconfined, and the one call the recordings never saw fails there with EPERM while the rest
//! of the probe runs. A container recorded with `noNewPrivileges: true` runs in Docker only with
//! `--security-opt no-new-privileges`.
//!
//! The tests start the daemons themselves (see `common::engines`) from an image built from a static rootfs;
//! they need root, runc, busybox-static, Debian's docker.io and containerd, and for the CRI pod python3-grpcio
//! and python3-grpc-tools (Debian 12 packages no CRI client: `tests/fixtures/cri/pod.py` is one, over the part
//! of the CRI API it uses). Without them, or when a daemon cannot start here (its log is printed), they print
//! why and pass, unless `TRAPLINE_REQUIRE_ENGINES=1`.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use common::agent::{Agent, recording_profile};
use common::container::{Bundle, describe, find_runc, static_fixture};
use common::engines::{
    Containerd, CriClient, Docker, Engine, Podman, engine_or_skip, profile_of, static_rootfs_layer, trace_named,
};
use common::*;

/// The probe's output with no extra call, and with it allowed or denied.
const PLAIN: &str = "write=ok\nread=hello from trapline\ndone\n";
const EXTRA_ALLOWED: &str = "write=ok\nread=hello from trapline\nextra=ok\ndone\n";
const EXTRA_DENIED: &str = "write=ok\nread=hello from trapline\nextra=Operation not permitted\ndone\n";

/// The probe, its image layer and the two profiles made from its recordings.
struct Workload {
    dir: TempDir,
    layer: PathBuf,
    /// (how it was recorded, profile path)
    profiles: Vec<(&'static str, PathBuf)>,
}

fn profile(trace: &Path, runtime: &str, out: &Path) -> PathBuf {
    let prof = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(trace)
        .args(["--runtime", runtime, "-o"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(prof.code(), 0, "trapline profile {}: {}", trace.display(), prof.stderr_str());
    let parsed: Value = serde_json::from_slice(&fs::read(out).unwrap()).unwrap();
    let allowed: Vec<&str> = parsed["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|e| e["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()))
        .collect();
    assert!(allowed.contains(&"write"), "{}: {parsed}", out.display());
    assert!(!allowed.contains(&"getpriority"), "the probe's extra call must stay outside {}", out.display());
    out.to_path_buf()
}

fn prepare() -> Workload {
    let dir = TempDir::new("engines");
    let probe = static_fixture("engine_probe");

    let host_trace = dir.join("host.json");
    let rec = run(Command::new(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(&host_trace)
        .arg("--")
        .arg(&probe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(rec.code(), 0, "recording the probe on the host: {}", describe(&rec));
    assert_eq!(rec.stdout_str(), PLAIN);
    let host = profile(&host_trace, "runc", &dir.join("host-profile.json"));

    // The same probe recorded in a runc container from its filter load: no runtime list needed. Docker runs
    // containers without noNewPrivileges, where runc loads the filter before dropping privileges (capset,
    // setuid, ...): recorded with the bundle's default (true) the profile stops `runc init` under Docker.
    // Recorded without it, it holds what runc does in both cases.
    let container_trace = dir.join("container.json");
    record_in_runc(&probe, false, &container_trace);
    let in_container = profile(&container_trace, "none", &dir.join("container-profile.json"));

    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&probe, "/probe")], &layer);
    Workload { dir, layer, profiles: vec![("recorded on the host", host), ("recorded in runc", in_container)] }
}

/// `record --container` of the probe in a runc bundle with the given `noNewPrivileges`, into `trace`.
fn record_in_runc(probe: &Path, no_new_privileges: bool, trace: &Path) {
    let mut bundle = Bundle::new(&find_runc().expect("runc"), &["/probe"]);
    bundle.config["process"]["noNewPrivileges"] = serde_json::json!(no_new_privileges);
    bundle.add_file(probe, "/probe");
    fs::create_dir_all(bundle.dir.join("rootfs/tmp")).unwrap();
    fs::write(bundle.dir.join("config.json"), serde_json::to_vec_pretty(&bundle.config).unwrap()).unwrap();
    let rec = bundle.record_container(trace, &[]);
    assert_eq!(rec.code(), 0, "recording the probe in runc: {}", describe(&rec));
    assert_eq!(rec.stdout_str(), PLAIN);
}

/// The checks both engines pass: `run(profile, args)` runs the probe image in the engine.
fn enforces(
    w: &Workload,
    engine: &str,
    run: impl Fn(Option<&Path>, &[&str]) -> Finished,
    explain: impl Fn(&str, &Finished) -> String,
) {
    // Without trapline's profile the extra call succeeds: a denial below is the profile's doing.
    let plain = run(None, &["/probe", "extra"]);
    assert!(plain.status.success(), "{}", explain(&format!("{engine} without a profile"), &plain));
    assert_eq!(plain.stdout_str(), EXTRA_ALLOWED, "{}", explain(engine, &plain));

    for (how, profile) in &w.profiles {
        let what = format!("{engine}, profile {how} ({})", profile.display());
        let out = run(Some(profile), &["/probe"]);
        assert!(out.status.success(), "{}", explain(&what, &out));
        assert_eq!(out.stdout_str(), PLAIN, "{}", explain(&what, &out));

        let out = run(Some(profile), &["/probe", "extra"]);
        assert!(out.status.success(), "{}", explain(&what, &out));
        assert_eq!(out.stdout_str(), EXTRA_DENIED, "{}", explain(&what, &out));
    }
    let _ = &w.dir;
}

#[test]
fn docker_enforces_profiles_recorded_on_the_host_and_in_a_container() {
    if !engine_or_skip("docker_enforces_profiles", Engine::Docker) {
        return;
    }
    let w = prepare();
    let Some(docker) = Docker::start_or_skip("docker_enforces_profiles") else { return };
    docker.import(&w.layer, "trapline-probe");
    enforces(
        &w,
        "docker",
        |p, args| docker.run(p, "trapline-probe", args),
        |what, out| docker.daemon.explain(what, out),
    );
}

#[test]
fn containerd_enforces_profiles_recorded_on_the_host_and_in_a_container() {
    if !engine_or_skip("containerd_enforces_profiles", Engine::Containerd) {
        return;
    }
    let w = prepare();
    let Some(containerd) = Containerd::start_or_skip("containerd_enforces_profiles") else { return };
    let image = "docker.io/library/trapline-probe:latest";
    containerd.import(&w.layer, image);
    enforces(
        &w,
        "containerd",
        |p, args| containerd.run(p, image, args),
        |what, out| containerd.daemon.explain(what, out),
    );
}

#[test]
fn podman_enforces_profiles_recorded_on_the_host_and_in_a_container() {
    if !engine_or_skip("podman_enforces_profiles", Engine::Podman) {
        return;
    }
    let w = prepare();
    let Some(podman) = Podman::start_or_skip("podman_enforces_profiles") else { return };
    podman.import(&w.layer, "localhost/trapline-probe");
    enforces(
        &w,
        "podman",
        |p, args| podman.run_with(None, p, "localhost/trapline-probe", args),
        |what, out| podman.explain(what, out),
    );
}

/// `podman kube play` runs a pod manifest without a cluster, but Podman 4 reads a pod's seccomp profile only
/// from the annotations Kubernetes deprecated in 1.19 and no longer reads from 1.27
/// (`seccomp.security.alpha.kubernetes.io/pod: localhost/NAME`, NAME one file directly under
/// `--seccomp-profile-root`): a `securityContext.seccompProfile` is ignored and the container runs under
/// Podman's default profile. The docs say so; this holds them to it.
#[test]
fn podman_kube_play_enforces_the_annotation_and_ignores_the_security_context() {
    if !engine_or_skip("podman_kube_play", Engine::Podman) {
        return;
    }
    let w = prepare();
    let Some(podman) = Podman::start_or_skip("podman_kube_play") else { return };
    podman.import(&w.layer, "localhost/trapline-probe");
    let root = w.dir.join("seccomp");
    fs::create_dir_all(&root).unwrap();
    fs::copy(&w.profiles[1].1, root.join("probe.json")).unwrap();

    let play = |name: &str, annotations: &str, security_context: &str| {
        let manifest = w.dir.join(format!("{name}.yaml"));
        fs::write(
            &manifest,
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\n\
                 spec:\n  restartPolicy: Never\n  containers:\n  - name: probe\n    image: localhost/trapline-probe\n    \
                 command: [\"/probe\", \"extra\"]\n    securityContext: {{{security_context}}}\n"
            ),
        )
        .unwrap();
        let started = podman.podman(&[
            "kube",
            "play",
            "--network",
            "none",
            "--seccomp-profile-root",
            root.to_str().unwrap(),
            manifest.to_str().unwrap(),
        ]);
        assert!(started.status.success(), "{}", podman.explain("podman kube play", &started));
        let container = format!("{name}-probe");
        let waited = podman.podman(&["wait", &container]);
        assert!(waited.status.success(), "{}", podman.explain("podman wait", &waited));
        podman.podman(&["logs", &container])
    };
    // The annotation as `k8s-snippet` gives it.
    let snippet = run(Command::new(TRAPLINE).args(["k8s-snippet", "probe"]).stdout(Stdio::piped()));
    let text = snippet.stdout_str();
    let annotation = text
        .lines()
        .map(|l| l.trim_start_matches(['#', ' ']))
        .find(|l| l.starts_with("seccomp.security"))
        .unwrap_or_else(|| panic!("no annotation in k8s-snippet's output: {text}"));
    let annotated = play("annotated", annotation, "");
    assert_eq!(annotated.stdout_str(), EXTRA_DENIED, "{}", podman.explain("the annotation", &annotated));
    let field = "seccompProfile: {type: Localhost, localhostProfile: probe.json}";
    let ignored = play("field", "", field);
    assert_eq!(ignored.stdout_str(), EXTRA_ALLOWED, "{}", podman.explain("securityContext.seccompProfile", &ignored));
}

/// A profile that notifies getpriority (a call neither runc nor the probe's plain run makes) to an agent at
/// `socket`, where nobody listens, and the probe's image layer.
fn notifying(dir: &TempDir) -> (PathBuf, PathBuf, String) {
    let socket = dir.join("nobody-listens.sock").display().to_string();
    let profile = dir.join("notify.json");
    let body = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_NOTIFY"}],
    });
    fs::write(&profile, body.to_string()).unwrap();
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&static_fixture("engine_probe"), "/probe")], &layer);
    (profile, layer, socket)
}

/// What `lint` says of listenerPath: Docker before 23.0 drops it, and runc refuses the NOTIFY rules left
/// without it; from 23.0 on runc gets it and tries the agent.
#[test]
fn docker_before_23_drops_the_listener_path() {
    if !engine_or_skip("docker_before_23_drops_the_listener_path", Engine::Docker) {
        return;
    }
    let dir = TempDir::new("engines-listener");
    let (profile, layer, socket) = notifying(&dir);
    let Some(docker) = Docker::start_or_skip("docker_before_23_drops_the_listener_path") else { return };
    docker.import(&layer, "trapline-probe");
    let version = docker.docker(&["version", "--format", "{{.Server.Version}}"]);
    let major: u32 = version.stdout_str().split('.').next().and_then(|m| m.trim().parse().ok()).unwrap_or_else(|| {
        panic!("{}", docker.daemon.explain("docker version", &version));
    });
    let out = docker.run(Some(&profile), "trapline-probe", &["/probe", "extra"]);
    assert!(!out.status.success(), "{}", docker.daemon.explain("docker run, notify without an agent", &out));
    let want = if major < 23 { "listenerPath is not set".to_string() } else { socket };
    assert!(out.stderr_str().contains(&want), "Docker {major}: want {want:?}: {}", describe(&out));
}

/// containerd 1.6 and later pass listenerPath on: runc tries the agent and names its socket.
#[test]
fn containerd_passes_the_listener_path_on() {
    if !engine_or_skip("containerd_passes_the_listener_path_on", Engine::Containerd) {
        return;
    }
    let dir = TempDir::new("engines-listener");
    let (profile, layer, socket) = notifying(&dir);
    let Some(containerd) = Containerd::start_or_skip("containerd_passes_the_listener_path_on") else { return };
    let image = "docker.io/library/trapline-probe:latest";
    containerd.import(&layer, image);
    let out = containerd.run(Some(&profile), image, &["/probe", "extra"]);
    assert!(!out.status.success(), "{}", containerd.daemon.explain("ctr run, notify without an agent", &out));
    let stderr = out.stderr_str();
    assert!(stderr.contains("seccomp agent") && stderr.contains(&socket), "{}", describe(&out));
}

/// A Kubernetes pod through containerd's CRI plugin: the container's `securityContext` names each profile as
/// `Localhost` (host network; the image imported locally also serves as the sandbox image).
#[test]
fn cri_pod_enforces_localhost_profiles_recorded_on_the_host_and_in_a_container() {
    if !engine_or_skip("cri_pod_enforces_localhost_profiles", Engine::Cri) {
        return;
    }
    let w = prepare();
    let image = "docker.io/library/trapline-probe:latest";
    let Some(containerd) = Containerd::start_cri_or_skip("cri_pod_enforces_localhost_profiles", image) else {
        return;
    };
    containerd.import(&w.layer, image);
    let client = CriClient::new();
    let run_pod = |profile: Option<&Path>, args: &[&str]| {
        let out = client.run_pod(&containerd, image, profile, None, args);
        if !out.status.success() {
            return out;
        }
        // pod.py's JSON into what the other engines give: the container's stdout and exit status.
        let result: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("pod.py printed no JSON ({e}): {}", describe(&out)));
        assert_eq!(result["state"], 2, "the container did not exit: {result}");
        let status = std::process::ExitStatus::from_raw((result["exit_code"].as_i64().unwrap() as i32) << 8);
        Finished { status, stdout: result["stdout"].as_str().unwrap().as_bytes().to_vec(), stderr: out.stderr }
    };
    enforces(&w, "CRI pod", run_pod, |what, out| containerd.daemon.explain(what, out));
}

/// A container recorded with the bundle's default `noNewPrivileges: true` gives a profile without what runc
/// does before a late filter load: Docker's default (no no_new_privs) stops `runc init` under it, and
/// `--security-opt no-new-privileges` runs it, as `lint` says.
#[test]
fn docker_runs_a_no_new_privileges_recording_only_with_no_new_privileges() {
    if !engine_or_skip("docker_no_new_privileges_recording", Engine::Docker) {
        return;
    }
    let dir = TempDir::new("engines-nnp");
    let probe = static_fixture("engine_probe");
    let trace = dir.join("nnp.json");
    record_in_runc(&probe, true, &trace);
    let profile = profile(&trace, "none", &dir.join("nnp-profile.json"));
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&probe, "/probe")], &layer);

    let Some(docker) = Docker::start_or_skip("docker_no_new_privileges_recording") else { return };
    docker.import(&layer, "trapline-probe");
    let refused = docker.run(Some(&profile), "trapline-probe", &["/probe"]);
    assert!(!refused.status.success(), "{}", docker.daemon.explain("docker run without no-new-privileges", &refused));
    assert!(refused.stderr_str().contains("operation not permitted"), "{}", describe(&refused));
    let runs = docker.run_with(&["--security-opt", "no-new-privileges"], Some(&profile), "trapline-probe", &["/probe"]);
    assert_eq!(
        runs.stdout_str(),
        PLAIN,
        "{}",
        docker.daemon.explain("docker run --security-opt no-new-privileges", &runs)
    );
}

/// Through an engine that passes `listenerPath` on, `trapline agent` records the probe's container, and the
/// profile of that one trace runs the probe in the same engine and denies the call it never saw. `run` is the
/// engine's `run(profile, args)`.
fn the_agent_records(dir: &TempDir, engine: &str, run: impl Fn(Option<&Path>, &[&str]) -> Finished) {
    let socket = dir.join("agent.sock");
    let traces = dir.join("traces");
    let agent = Agent::start(&socket, &traces);
    let recording = dir.join("recording.json");
    fs::write(&recording, recording_profile(&socket).to_string()).unwrap();
    let recorded = run(Some(&recording), &["/probe"]);
    assert_eq!(recorded.stdout_str(), PLAIN, "{engine} under the recording profile: {}", describe(&recorded));
    let trace = trace_named(&traces, std::time::Duration::from_secs(20), "", |_| true);
    drop(agent);
    let profile = profile_of(&trace, &dir.join("profile.json"));
    let out = run(Some(&profile), &["/probe"]);
    assert_eq!(out.stdout_str(), PLAIN, "{engine}, the agent's profile: {}", describe(&out));
    let out = run(Some(&profile), &["/probe", "extra"]);
    assert_eq!(out.stdout_str(), EXTRA_DENIED, "{engine}, the agent's profile, extra: {}", describe(&out));
}

#[test]
fn the_agent_records_a_podman_container_through_its_listener_path() {
    const TEST: &str = "the_agent_records_a_podman_container";
    if !engine_or_skip(TEST, Engine::Podman) {
        return;
    }
    let dir = TempDir::new("engines-agent-podman");
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&static_fixture("engine_probe"), "/probe")], &layer);
    let Some(podman) = Podman::start_or_skip(TEST) else { return };
    podman.import(&layer, "localhost/trapline-probe");
    the_agent_records(&dir, "podman", |p, args| podman.run_with(None, p, "localhost/trapline-probe", args));
}

#[test]
fn the_agent_records_a_containerd_container_through_its_listener_path() {
    const TEST: &str = "the_agent_records_a_containerd_container";
    if !engine_or_skip(TEST, Engine::Containerd) {
        return;
    }
    let dir = TempDir::new("engines-agent-ctr");
    let layer = dir.join("layer.tar");
    static_rootfs_layer(dir.path(), &[(&static_fixture("engine_probe"), "/probe")], &layer);
    let Some(containerd) = Containerd::start_or_skip(TEST) else { return };
    let image = "docker.io/library/trapline-probe:latest";
    containerd.import(&layer, image);
    the_agent_records(&dir, "containerd", |p, args| containerd.run(p, image, args));
}
