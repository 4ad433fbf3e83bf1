//! Docker and containerd daemons started by the tests themselves: each with its own root, state, socket and
//! pid file under a directory of its own, stopped, unmounted and removed when dropped, and an image built from
//! a local rootfs (no registry is reachable).
//!
//! Only one daemon runs at a time across tests and processes (`trapline-engines.lock`): they are heavy, and the
//! machine may have few CPUs. A missing prerequisite skips the test with a printed reason, unless
//! `TRAPLINE_REQUIRE_ENGINES=1` turns it into a failure.

use std::fs::{self, File};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Finished, run_for};

/// How long a daemon may take to answer on its socket, and one engine command to finish.
pub const DAEMON_START: Duration = Duration::from_secs(60);
pub const ENGINE_COMMAND: Duration = Duration::from_secs(90);

pub const DOCKER: &str = "/usr/bin/docker";
pub const DOCKERD: &str = "/usr/sbin/dockerd";
pub const CONTAINERD: &str = "/usr/bin/containerd";
pub const CTR: &str = "/usr/bin/ctr";
pub const COMPOSE: &str = "/usr/bin/docker-compose";
pub const PODMAN: &str = "/usr/bin/podman";
/// What `podman kube play` builds its pods' pause image from.
const CATATONIT: &str = "/usr/bin/catatonit";
const BUSYBOX: &str = "/bin/busybox";
/// Debian's Python, whose python3-grpcio and python3-grpc-tools the CRI client uses.
pub const PYTHON: &str = "/usr/bin/python3";

/// Why the CRI client cannot run, if it cannot.
fn grpc_missing() -> Option<String> {
    let out = run_for(
        Command::new(PYTHON)
            .args(["-c", "import grpc, grpc_tools.protoc"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        ENGINE_COMMAND,
    );
    (!out.status.success())
        .then(|| format!("python3-grpcio or python3-grpc-tools is missing: {}", out.stderr_str().trim()))
}

/// The engines the tests start.
#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Docker,
    Containerd,
    /// containerd's CRI plugin, driven by `tests/fixtures/cri/pod.py` (Debian packages no CRI client).
    Cri,
    /// Docker with Docker Compose (Debian's docker-compose 1.29).
    Compose,
    /// Podman (Debian's 4.3), daemonless: conmon supervises each container.
    Podman,
}

impl Engine {
    fn binaries(self) -> &'static [&'static str] {
        match self {
            // dockerd starts containerd and its runc shim itself.
            Engine::Docker => &[DOCKER, DOCKERD, CONTAINERD, "/usr/bin/containerd-shim-runc-v2"],
            Engine::Containerd => &[CONTAINERD, CTR, "/usr/bin/containerd-shim-runc-v2"],
            Engine::Cri => &[CONTAINERD, CTR, "/usr/bin/containerd-shim-runc-v2", PYTHON],
            Engine::Compose => &[DOCKER, DOCKERD, CONTAINERD, "/usr/bin/containerd-shim-runc-v2", COMPOSE],
            Engine::Podman => &[PODMAN, "/usr/bin/conmon", CATATONIT],
        }
    }
}

fn required() -> bool {
    std::env::var_os("TRAPLINE_REQUIRE_ENGINES").is_some_and(|v| v == "1")
}

/// Whether `engine` can run here; otherwise says why `test` is skipped, or fails under
/// `TRAPLINE_REQUIRE_ENGINES=1`.
pub fn engine_or_skip(test: &str, engine: Engine) -> bool {
    let why = match super::container::find_runc() {
        Err(why) => Some(why),
        Ok(_) => engine
            .binaries()
            .iter()
            .chain([&BUSYBOX])
            .find(|b| !Path::new(b).is_file())
            .map(|b| format!("{b} is not installed (make deps installs it)"))
            .or_else(|| matches!(engine, Engine::Cri).then(grpc_missing).flatten()),
    };
    match why {
        None => true,
        Some(why) if required() => panic!("{test}: TRAPLINE_REQUIRE_ENGINES=1 but {why}"),
        Some(why) => {
            eprintln!("{test}: skipped: {why}");
            false
        }
    }
}

/// The started daemon, or `None` after saying why `test` is skipped (a failure under
/// `TRAPLINE_REQUIRE_ENGINES=1`): a daemon that cannot start here is an engine that cannot run here.
fn started_or_skip<T>(test: &str, started: Result<T, String>) -> Option<T> {
    match started {
        Ok(daemon) => Some(daemon),
        Err(why) if required() => panic!("{test}: TRAPLINE_REQUIRE_ENGINES=1 but {why}"),
        Err(why) => {
            eprintln!("{test}: skipped: {why}");
            None
        }
    }
}

/// Serialises engine daemons across threads and processes for as long as it lives.
struct EngineLock(#[allow(dead_code)] File);

impl EngineLock {
    fn take() -> EngineLock {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trapline-engines.lock");
        let file = File::create(&path).unwrap_or_else(|e| panic!("cannot create lock file {}: {e}", path.display()));
        file.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
        EngineLock(file)
    }
}

/// A daemon's directory. Under /tmp rather than the target dir: unix socket paths must stay under 108 bytes.
fn daemon_dir(tag: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir =
        PathBuf::from(format!("/tmp/trapline-{tag}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running daemon, its directory and log; stopped and cleaned up when dropped.
pub struct Daemon {
    name: &'static str,
    child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
    log: PathBuf,
    _lock: EngineLock,
}

impl Daemon {
    fn spawn(name: &'static str, dir: PathBuf, socket: PathBuf, cmd: &mut Command, lock: EngineLock) -> Daemon {
        let log = dir.join("daemon.log");
        let log_file = File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon { name, child, dir, socket, log, _lock: lock }
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log at {}: {e})", self.log.display()))
    }

    /// Waits until the socket exists and `probe` succeeds against it; the daemon's log when it exits or does not
    /// answer within [`DAEMON_START`].
    fn wait_ready(&mut self, probe: impl Fn() -> Finished) -> Result<(), String> {
        let deadline = Instant::now() + DAEMON_START;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("{} exited while starting ({status}); its log:\n{}", self.name, self.log_text()));
            }
            let is_socket = fs::metadata(&self.socket).is_ok_and(|m| m.file_type().is_socket());
            if is_socket && probe().status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer on {} within {DAEMON_START:?}; its log:\n{}",
                    self.name,
                    self.socket.display(),
                    self.log_text()
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// A failure message for `what`: the command's output and the daemon's log.
    pub fn explain(&self, what: &str, out: &Finished) -> String {
        format!("{what}: {}\n{} log:\n{}", super::container::describe(out), self.name, self.log_text())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM lets the daemon stop its containerd and unmount; SIGKILL if it does not within 30 s.
        // SAFETY: kill has no memory preconditions; the pid is our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Detaches every mount at or below `dir`, deepest first, so that the directory can be removed.
fn unmount_under(dir: &Path) {
    let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else { return };
    let mut points: Vec<&str> =
        mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| Path::new(p).starts_with(dir)).collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let c = std::ffi::CString::new(p).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A `dockerd` with its own data root, exec root, socket and pid file, no networking of its own (no iptables,
/// no bridge) and the vfs storage driver (no overlay mounts to leave behind).
pub struct Docker {
    pub daemon: Daemon,
}

impl Docker {
    /// Starts dockerd, or says why `test` is skipped.
    pub fn start_or_skip(test: &str) -> Option<Docker> {
        started_or_skip(test, Docker::start(None))
    }

    /// Starts dockerd with `config` as its daemon.json, or says why `test` is skipped.
    pub fn start_configured_or_skip(test: &str, config: &serde_json::Value) -> Option<Docker> {
        started_or_skip(test, Docker::start(Some(config)))
    }

    /// Starts dockerd with `trapline runtime` as its runtime `trapline`, writing traces into `traces`.
    pub fn start_recording_or_skip(test: &str, traces: &Path) -> Option<Docker> {
        Docker::start_configured_or_skip(test, &serde_json::json!({"runtimes": {"trapline": trapline_runtime(traces)}}))
    }

    fn start(config: Option<&serde_json::Value>) -> Result<Docker, String> {
        let lock = EngineLock::take();
        let dir = daemon_dir("dockerd");
        let socket = dir.join("docker.sock");
        let mut cmd = Command::new(DOCKERD);
        if let Some(config) = config {
            let path = dir.join("daemon.json");
            fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
            cmd.arg("--config-file").arg(path);
        }
        cmd.args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"])
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()));
        let daemon = Daemon::spawn("dockerd", dir, socket, &mut cmd, lock);
        let mut docker = Docker { daemon };
        let probe_cmd = docker.cli_args();
        docker.daemon.wait_ready(|| {
            run_for(
                Command::new(DOCKER).args(&probe_cmd).arg("version").stdout(Stdio::piped()).stderr(Stdio::piped()),
                Duration::from_secs(10),
            )
        })?;
        Ok(docker)
    }

    fn cli_args(&self) -> Vec<String> {
        vec!["-H".into(), format!("unix://{}", self.daemon.socket.display())]
    }

    /// Runs `docker -H SOCK ARGS...`, bounded by [`ENGINE_COMMAND`].
    pub fn docker(&self, args: &[&str]) -> Finished {
        run_for(
            Command::new(DOCKER).args(self.cli_args()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()),
            ENGINE_COMMAND,
        )
    }

    /// Runs `docker-compose -f FILE -p PROJECT ARGS...` against this daemon, bounded by [`ENGINE_COMMAND`].
    pub fn compose(&self, file: &Path, project: &str, args: &[&str]) -> Finished {
        run_for(
            Command::new(COMPOSE)
                .env("DOCKER_HOST", format!("unix://{}", self.daemon.socket.display()))
                .arg("-f")
                .arg(file)
                .args(["-p", project, "--no-ansi"])
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            ENGINE_COMMAND,
        )
    }

    /// Imports `layer` (a tar of a root filesystem) as image `name`.
    pub fn import(&self, layer: &Path, name: &str) {
        let out = self.docker(&["import", layer.to_str().unwrap(), name]);
        assert!(out.status.success(), "{}", self.daemon.explain("docker import", &out));
    }

    /// `docker run --rm --network none [--security-opt seccomp=PROFILE] IMAGE ARGS...`; the container is
    /// removed even when the run fails or times out.
    pub fn run(&self, seccomp: Option<&Path>, image: &str, args: &[&str]) -> Finished {
        self.run_with(&[], seccomp, image, args)
    }

    /// [`Docker::run`] with more `docker run` options (`--runtime NAME`).
    pub fn run_with(&self, options: &[&str], seccomp: Option<&Path>, image: &str, args: &[&str]) -> Finished {
        run_removed(|argv| self.docker(argv), options, seccomp, image, args)
    }
}

/// `CLI run --rm --network none --name ID [OPTIONS] [--security-opt seccomp=PROFILE] IMAGE ARGS...` through
/// `cli`, a Docker-compatible command line (docker, podman); the container is removed even when the run fails
/// or times out.
fn run_removed(
    cli: impl Fn(&[&str]) -> Finished,
    options: &[&str],
    seccomp: Option<&Path>,
    image: &str,
    args: &[&str],
) -> Finished {
    let name = super::container::container_id();
    let profile = seccomp.map(|p| format!("seccomp={}", p.display()));
    let mut argv = vec!["run", "--rm", "--network", "none", "--name", &name];
    argv.extend(options);
    if let Some(p) = &profile {
        argv.extend(["--security-opt", p]);
    }
    argv.push(image);
    argv.extend(args);
    let _cleanup = Cleanup(|| {
        let _ = cli(&["rm", "-f", &name]);
    });
    cli(&argv)
}

/// Runs its function when dropped: clean-up that a failed assertion must not skip.
pub struct Cleanup<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for Cleanup<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Podman with storage, run and lock directories of its own and a `containers.conf` of its own (no system
/// configuration read), the vfs storage driver, cgroupfs, and the runc the other tests use. Podman has no daemon:
/// each command is a process of its own, and conmon stays with each container.
pub struct Podman {
    dir: PathBuf,
    runc: PathBuf,
    _lock: EngineLock,
}

impl Podman {
    /// Podman's state in a directory of its own, or why `test` is skipped.
    pub fn start_or_skip(test: &str) -> Option<Podman> {
        let runc = match super::container::find_runc() {
            Ok(runc) => runc,
            Err(why) => return started_or_skip(test, Err(why)),
        };
        let lock = EngineLock::take();
        let dir = daemon_dir("podman");
        // Podman raises RLIMIT_NOFILE and NPROC in every container by default, past what a sandboxed host may
        // allow root; file locks keep this instance apart from any other podman's shared-memory locks.
        let conf = "[containers]\ndefault_ulimits = []\n[engine]\nlock_type = \"file\"\n";
        fs::write(dir.join("containers.conf"), conf).unwrap();
        let podman = Podman { dir, runc, _lock: lock };
        let version = podman.podman(&["version"]);
        started_or_skip(
            test,
            if version.status.success() { Ok(podman) } else { Err(podman.explain("podman version", &version)) },
        )
    }

    /// Runs `podman --runtime RUNC ARGS...` with this instance's directories, bounded by [`ENGINE_COMMAND`].
    pub fn podman(&self, args: &[&str]) -> Finished {
        self.podman_with(&self.runc, args)
    }

    /// [`Podman::podman`] with `runtime` in runc's place (`podman --runtime PATH`).
    pub fn podman_with(&self, runtime: &Path, args: &[&str]) -> Finished {
        let at = |name: &str| self.dir.join(name);
        run_for(
            Command::new(PODMAN)
                .env("CONTAINERS_CONF", at("containers.conf"))
                .arg("--root")
                .arg(at("root"))
                .arg("--runroot")
                .arg(at("run"))
                .arg("--tmpdir")
                .arg(at("tmp"))
                .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
                .arg("--runtime")
                .arg(runtime)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            ENGINE_COMMAND,
        )
    }

    /// Imports `layer` (a tar of a root filesystem) as image `name`.
    pub fn import(&self, layer: &Path, name: &str) {
        let out = self.podman(&["import", "--quiet", layer.to_str().unwrap(), name]);
        assert!(out.status.success(), "{}", self.explain("podman import", &out));
    }

    /// `podman run --rm --network none [--security-opt seccomp=PROFILE] IMAGE ARGS...` under `runtime`
    /// (runc when `None`); the container is removed even when the run fails or times out.
    pub fn run_with(&self, runtime: Option<&Path>, seccomp: Option<&Path>, image: &str, args: &[&str]) -> Finished {
        run_removed(|argv| self.podman_with(runtime.unwrap_or(&self.runc), argv), &[], seccomp, image, args)
    }

    /// A failure message for `what`: the command's output.
    pub fn explain(&self, what: &str, out: &Finished) -> String {
        format!("{what}: {}", super::container::describe(out))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["pod", "rm", "--all", "--force"]);
        let _ = self.podman(&["rm", "--all", "--force"]);
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A standalone `containerd` with its own root, state, gRPC/ttrpc sockets, driven by `ctr` with the native
/// snapshotter (no overlay mounts to leave behind): without its CRI plugin, in a namespace of the tests' own, or
/// with it, in the CRI's `k8s.io`.
pub struct Containerd {
    pub daemon: Daemon,
    namespace: &'static str,
}

/// The CRI plugin's configuration: the tests' image as the pod sandbox's (its entrypoint sleeps), the native
/// snapshotter, CNI directories of the daemon's own (host-network pods need no CNI), and `oom_score_adj` kept
/// at containerd's own or above: lowering it to the sandbox's -998 needs CAP_SYS_RESOURCE, which root in a
/// container or microVM may lack.
fn cri_config(dir: &Path, sandbox_image: &str) -> String {
    format!(
        "[plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n  sandbox_image = \"{sandbox_image}\"\n\
         [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"native\"\n\
         [plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"{bin}\"\n  conf_dir = \"{conf}\"\n",
        bin = dir.join("cni-bin").display(),
        conf = dir.join("cni-conf").display(),
    )
}

impl Containerd {
    /// Starts containerd without its CRI plugin, or says why `test` is skipped.
    pub fn start_or_skip(test: &str) -> Option<Containerd> {
        started_or_skip(test, Containerd::start(None, ""))
    }

    /// Starts containerd with its CRI plugin, `sandbox_image` (to be imported) as the pods' sandbox image.
    pub fn start_cri_or_skip(test: &str, sandbox_image: &str) -> Option<Containerd> {
        started_or_skip(test, Containerd::start(Some(sandbox_image), ""))
    }

    /// [`Containerd::start_cri_or_skip`] with a runtime handler `name` (what a RuntimeClass's `handler` names):
    /// the runc shim running `binary` instead of runc (its `BinaryName` option).
    pub fn start_cri_with_handler_or_skip(
        test: &str,
        sandbox_image: &str,
        name: &str,
        binary: &Path,
    ) -> Option<Containerd> {
        let runtimes = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes";
        // A `runtimes` table replaces the default one: runc, the default handler, is named again.
        let handler = format!(
            "{runtimes}.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n\
             {runtimes}.{name}]\n  runtime_type = \"io.containerd.runc.v2\"\n\
             {runtimes}.{name}.options]\n  BinaryName = \"{}\"\n",
            binary.display()
        );
        started_or_skip(test, Containerd::start(Some(sandbox_image), &handler))
    }

    fn start(cri: Option<&str>, more: &str) -> Result<Containerd, String> {
        let lock = EngineLock::take();
        let dir = daemon_dir("containerd");
        let socket = dir.join("containerd.sock");
        let plugins = match cri {
            Some(image) => cri_config(&dir, image),
            None => "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n".to_string(),
        };
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n[debug]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            sock = socket.display(),
            opt = dir.join("opt").display(),
        ) + &plugins
            + more;
        let config_path = dir.join("config.toml");
        fs::write(&config_path, config).unwrap();
        let mut cmd = Command::new(CONTAINERD);
        cmd.arg("--config").arg(&config_path);
        let daemon = Daemon::spawn("containerd", dir, socket, &mut cmd, lock);
        let namespace = if cri.is_some() { "k8s.io" } else { "trapline-test" };
        let mut containerd = Containerd { daemon, namespace };
        let socket = containerd.daemon.socket.clone();
        containerd.daemon.wait_ready(|| {
            run_for(
                Command::new(CTR).arg("-a").arg(&socket).arg("version").stdout(Stdio::piped()).stderr(Stdio::piped()),
                Duration::from_secs(10),
            )
        })?;
        Ok(containerd)
    }

    /// Runs `ctr -a SOCK -n NAMESPACE ARGS...`, bounded by [`ENGINE_COMMAND`].
    pub fn ctr(&self, args: &[&str]) -> Finished {
        run_for(
            Command::new(CTR)
                .arg("-a")
                .arg(&self.daemon.socket)
                .args(["-n", self.namespace])
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            ENGINE_COMMAND,
        )
    }

    /// Imports `layer` (a tar of a root filesystem) as image `name` (a full reference), through an OCI image
    /// layout tarball written here.
    pub fn import(&self, layer: &Path, name: &str) {
        let tarball = self.daemon.dir.join("image.tar");
        oci_layout_tarball(layer, name, &tarball);
        let out = self.ctr(&["images", "import", "--snapshotter", "native", tarball.to_str().unwrap()]);
        assert!(out.status.success(), "{}", self.daemon.explain("ctr images import", &out));
    }

    /// `ctr run --rm [--seccomp --seccomp-profile PROFILE] IMAGE ID ARGS...`; the container is removed even
    /// when the run fails or times out.
    pub fn run(&self, seccomp: Option<&Path>, image: &str, args: &[&str]) -> Finished {
        self.run_with(&[], seccomp, image, args)
    }

    /// [`Containerd::run`] with more `ctr run` options (`--runc-binary PATH`).
    pub fn run_with(&self, options: &[&str], seccomp: Option<&Path>, image: &str, args: &[&str]) -> Finished {
        let id = super::container::container_id();
        let fifo = self.daemon.dir.join("fifo");
        let mut argv = vec!["run", "--rm", "--snapshotter", "native", "--fifo-dir", fifo.to_str().unwrap()];
        argv.extend(options);
        let profile = seccomp.map(|p| p.display().to_string());
        if let Some(p) = &profile {
            argv.extend(["--seccomp", "--seccomp-profile", p]);
        }
        argv.extend([image, &id]);
        argv.extend(args);
        let _cleanup = Cleanup(|| {
            let _ = self.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
            let _ = self.ctr(&["tasks", "delete", "-f", &id]);
            let _ = self.ctr(&["containers", "delete", &id]);
        });
        self.ctr(&argv)
    }
}

impl Drop for Containerd {
    /// Containers left by a failed test (a pod's sandbox sleeps for an hour): containerd leaves their shims
    /// running when it stops, so they go first.
    fn drop(&mut self) {
        let tasks = self.ctr(&["tasks", "ls", "-q"]);
        for id in tasks.stdout_str().lines().filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["tasks", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["tasks", "delete", "-f", id]);
        }
        let containers = self.ctr(&["containers", "ls", "-q"]);
        for id in containers.stdout_str().lines().filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["containers", "delete", id]);
        }
    }
}

/// The sha256 of a file, by coreutils' sha256sum.
fn sha256(path: &Path) -> String {
    let out =
        run_for(Command::new("sha256sum").arg(path).stdout(Stdio::piped()).stderr(Stdio::piped()), ENGINE_COMMAND);
    assert!(out.status.success(), "sha256sum {}: {}", path.display(), out.stderr_str());
    out.stdout_str().split_whitespace().next().expect("sha256sum output").to_string()
}

/// Writes an OCI image layout (one uncompressed layer, linux/amd64) as a tarball `ctr images import` reads,
/// naming the image `name`.
fn oci_layout_tarball(layer: &Path, name: &str, out: &Path) {
    let root = out.with_extension("d");
    let blobs = root.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let blob = |path: &Path| -> (String, u64) {
        let digest = sha256(path);
        fs::copy(path, blobs.join(&digest)).unwrap();
        (format!("sha256:{digest}"), fs::metadata(path).unwrap().len())
    };
    let (layer_digest, layer_size) = blob(layer);
    let write_blob = |file: &str, value: serde_json::Value| {
        let path = root.join(file);
        fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        let b = blob(&path);
        fs::remove_file(&path).unwrap();
        b
    };
    let (config_digest, config_size) = write_blob(
        "config.json",
        serde_json::json!({
            "architecture": "amd64", "os": "linux",
            // What a CRI pod sandbox runs (the pause container's part); other runs name their command.
            "config": {"Entrypoint": ["/bin/busybox", "sleep", "3600"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }),
    );
    let (manifest_digest, manifest_size) = write_blob(
        "manifest.json",
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size,
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size,
            }],
        }),
    );
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size,
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"},
        }],
    });
    fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    tar_dir(&root, out);
    let _ = fs::remove_dir_all(&root);
}

/// `tar -C dir -cf out .`
pub fn tar_dir(dir: &Path, out: &Path) {
    let t = run_for(
        Command::new("tar")
            .arg("-C")
            .arg(dir)
            .arg("-cf")
            .arg(out)
            .arg(".")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        ENGINE_COMMAND,
    );
    assert!(t.status.success(), "tar -C {} -cf {}: {}", dir.display(), out.display(), t.stderr_str());
}

/// A root filesystem of static binaries: /bin/busybox, each of `files` (host path, path in the image) and an
/// empty /tmp, as a layer tarball at `out`.
pub fn static_rootfs_layer(scratch: &Path, files: &[(&Path, &str)], out: &Path) {
    let rootfs = scratch.join("rootfs");
    fs::create_dir_all(rootfs.join("tmp")).unwrap();
    for (src, dest) in [(Path::new(BUSYBOX), "/bin/busybox")].iter().chain(files) {
        let target = rootfs.join(dest.trim_start_matches('/'));
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(src, &target).unwrap_or_else(|e| panic!("cannot copy {} into the rootfs: {e}", src.display()));
    }
    tar_dir(&rootfs, out);
}

/// A CRI client: `tests/fixtures/cri/pod.py` over stubs generated here from `tests/fixtures/cri/runtime.proto`.
pub struct CriClient {
    stubs: super::TempDir,
}

const CRI_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cri");

impl CriClient {
    pub fn new() -> CriClient {
        let stubs = super::TempDir::new("cri-stubs");
        let out = run_for(
            Command::new(PYTHON)
                .args(["-m", "grpc_tools.protoc", "-I", CRI_FIXTURES, "--python_out"])
                .arg(stubs.path())
                .arg("--grpc_python_out")
                .arg(stubs.path())
                .arg("runtime.proto")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            ENGINE_COMMAND,
        );
        assert!(out.status.success(), "generating the CRI stubs: {}", super::container::describe(&out));
        CriClient { stubs }
    }

    /// Runs `command` in a fresh host-network pod under the Localhost profile `seccomp` (unconfined when
    /// `None`), with the runtime `handler` a RuntimeClass names (the default when `None`); stdout is pod.py's
    /// JSON (`state`, `exit_code`, the container's `stdout`).
    pub fn run_pod(
        &self,
        containerd: &Containerd,
        image: &str,
        seccomp: Option<&Path>,
        handler: Option<&str>,
        command: &[&str],
    ) -> Finished {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let logs = containerd.daemon.dir.join(format!("pod-logs-{}", SEQ.fetch_add(1, Ordering::Relaxed)));
        fs::create_dir_all(&logs).unwrap();
        run_for(
            Command::new(PYTHON)
                .arg(Path::new(CRI_FIXTURES).join("pod.py"))
                .arg(self.stubs.path())
                .arg(&containerd.daemon.socket)
                .arg(&logs)
                .arg(image)
                .arg(seccomp.map_or("-".into(), |p| p.display().to_string()))
                .arg(handler.unwrap_or("-"))
                .args(command)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            ENGINE_COMMAND,
        )
    }
}

/// daemon.json's `runtimes` entry for `trapline runtime` writing its traces into `out`.
pub fn trapline_runtime(out: &Path) -> serde_json::Value {
    let runc = super::container::find_runc().expect("runc");
    serde_json::json!({"path": super::TRAPLINE, "runtimeArgs": ["runtime", "--out", out, "--runc", runc]})
}

/// The one trace in `traces` whose file name `wanted` accepts, waited for up to `within`: a trace is written
/// when its container ends, which the engine may report a moment earlier. `log` goes with a failure.
pub fn trace_named(traces: &Path, within: Duration, log: &str, wanted: impl Fn(&str) -> bool) -> PathBuf {
    let deadline = Instant::now() + within;
    loop {
        let written: Vec<_> = fs::read_dir(traces)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&wanted))
            .collect();
        if let [one] = &written[..] {
            return one.clone();
        }
        assert!(Instant::now() < deadline, "no single trace in {}: {written:?}\n{log}", traces.display());
        thread::sleep(Duration::from_millis(100));
    }
}

/// `trapline profile TRACE --runtime none -o PROFILE` (the trace was recorded through the runtime), which must
/// succeed; returns PROFILE.
pub fn profile_of(trace: &Path, profile: &Path) -> PathBuf {
    let made = super::run(
        Command::new(super::TRAPLINE)
            .arg("profile")
            .arg(trace)
            .args(["--runtime", "none", "-o"])
            .arg(profile)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    assert_eq!(made.code(), 0, "trapline profile: {}", made.stderr_str());
    profile.to_path_buf()
}
