//! The PyTorch examples end to end in Docker, from material a machine without a registry can get: a CPU image
//! from Debian 12's python3-torch (`examples/torch-rootfs.sh`, debootstrap) holding the examples' own
//! `serve.py` and `train.py`. Each is recorded through `trapline runtime` (`docker run --runtime trapline`),
//! profiled, and run again under its profile with `--security-opt seccomp=`: the server answers requests, the
//! training job finishes. Skips like `tests/engines.rs` where Docker is missing, unless
//! `TRAPLINE_REQUIRE_ENGINES=1`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::engines::{Cleanup, Docker, Engine, engine_or_skip, profile_of, tar_dir, trace_named};
use common::*;

const IMAGE: &str = "trapline-torch-examples";

/// The examples' image in a dockerd of the test's own, with trapline's runtime configured; `None` to skip.
fn docker_with_examples(test: &str, dir: &TempDir) -> Option<(Docker, PathBuf)> {
    if !engine_or_skip(test, Engine::Docker) {
        return None;
    }
    let rootfs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("torch-rootfs");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/torch-rootfs.sh");
    // debootstrap downloads and unpacks some 240 packages: minutes, longer than run()'s limit on a busy machine.
    let built = run_for(
        Command::new(script).arg(&rootfs).stdout(Stdio::piped()).stderr(Stdio::piped()),
        Duration::from_secs(900),
    );
    assert_eq!(built.code(), 0, "examples/torch-rootfs.sh: {}", built.stderr_str());
    let layer = dir.join("torch.tar");
    tar_dir(&rootfs, &layer);
    let traces = dir.join("traces");
    let docker = Docker::start_recording_or_skip(test, &traces)?;
    docker.import(&layer, IMAGE);
    Some((docker, traces))
}

/// The one trace in `traces`, waited for (a long recording takes a while to fold and write).
fn the_trace(traces: &Path) -> PathBuf {
    trace_named(traces, Duration::from_secs(60), "", |_| true)
}

/// POSTs one prediction request to the server on `port`, waiting up to a minute for it to listen; returns the
/// response's body.
fn predict(port: u16) -> String {
    let body = r#"{"inputs": [[1, 2, 3, 4]]}"#;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok() && stream.read_to_string(&mut response).is_ok() {
                return response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
            }
        }
        assert!(Instant::now() < deadline, "the server on port {port} never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn model_serving_records_in_docker_and_serves_under_its_profile() {
    const TEST: &str = "model_serving_in_docker";
    let dir = TempDir::new("example-serving");
    let Some((docker, traces)) = docker_with_examples(TEST, &dir) else { return };
    // Serves on the host's network (the tests' dockerd has no bridge), answers, then stops on SIGTERM.
    let serve = |options: &[&str]| -> String {
        let name = common::container::container_id();
        let port = free_port().to_string();
        let mut argv = vec!["run", "-d", "--network", "host", "--name", &name, "-e"];
        let env = format!("PORT={port}");
        argv.push(&env);
        argv.extend(options);
        argv.extend([IMAGE, "python3", "/app/serve.py"]);
        let started = docker.docker(&argv);
        let _cleanup = Cleanup(|| {
            let _ = docker.docker(&["rm", "-f", &name]);
        });
        assert!(started.status.success(), "{}", docker.daemon.explain("docker run serve.py", &started));
        let answer = predict(port.parse().unwrap());
        let stopped = docker.docker(&["stop", &name]);
        assert!(stopped.status.success(), "{}", docker.daemon.explain("docker stop", &stopped));
        let status = docker.docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
        assert_eq!(status.stdout_str().trim(), "0", "serve.py shuts down cleanly on SIGTERM: {answer}");
        answer
    };

    let answer = serve(&["--runtime", "trapline"]);
    assert!(answer.contains("\"scores\""), "{answer}");
    let trace = the_trace(&traces);
    let profile = dir.join("serving.json");
    profile_of(&trace, &profile);
    let seccomp = format!("seccomp={}", profile.display());
    let answer = serve(&["--security-opt", &seccomp]);
    assert!(answer.contains("\"scores\""), "under its profile: {answer}");
}

#[test]
fn pytorch_training_records_in_docker_and_trains_under_its_profile() {
    const TEST: &str = "pytorch_training_in_docker";
    let dir = TempDir::new("example-training");
    let Some((docker, traces)) = docker_with_examples(TEST, &dir) else { return };
    // 60 steps on one thread: the same calls as the full job, in a fraction of the time.
    let train = |options: &[&str]| {
        let mut argv = vec!["run", "--rm", "--network", "none", "-e", "STEPS=60", "-e", "OMP_NUM_THREADS=1"];
        argv.extend(options);
        argv.extend([IMAGE, "python3", "/app/train.py"]);
        let out = docker.docker(&argv);
        assert!(out.status.success(), "{}", docker.daemon.explain("docker run train.py", &out));
        assert!(out.stdout_str().contains("step 50 loss"), "{}", out.stdout_str());
    };
    train(&["--runtime", "trapline"]);
    let trace = the_trace(&traces);
    let profile = dir.join("training.json");
    profile_of(&trace, &profile);
    train(&["--security-opt", &format!("seccomp={}", profile.display())]);
}
