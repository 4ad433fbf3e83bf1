//! Running fixtures in a real runc container: finding runc, one runc at a time across tests, bundles whose
//! rootfs holds a statically linked fixture, and leaving no container behind when an assertion fails.
//!
//! runc is only ever run by one test at a time, in this process and across processes (nextest runs each test
//! in a process of its own): every runc call holds an exclusive lock on `trapline-runc.lock` in the target tmp
//! dir, the same file `tests/runc.rs` locks.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::{Finished, TempDir, run};

/// runc to use, or why runc tests cannot run here (they need root and runc).
pub fn find_runc() -> Result<PathBuf, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    let candidates = [PathBuf::from("/usr/sbin/runc"), PathBuf::from("/usr/bin/runc")];
    let found = candidates.into_iter().find(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).map(|d| d.join("runc")).find(|p| p.is_file()))
    });
    found.ok_or_else(|| "runc is not installed".into())
}

/// Whether a missing prerequisite must fail the test instead of skipping it (`TRAPLINE_REQUIRE_RUNC=1`, for
/// CI machines that are meant to have root and runc).
pub fn prerequisites_required() -> bool {
    std::env::var_os("TRAPLINE_REQUIRE_RUNC").is_some_and(|v| v == "1")
}

/// runc, or `None` after saying why `test` is skipped (or failing when `TRAPLINE_REQUIRE_RUNC=1`).
pub fn runc_or_skip(test: &str) -> Option<PathBuf> {
    match find_runc() {
        Ok(path) => Some(path),
        Err(why) if prerequisites_required() => panic!("{test}: TRAPLINE_REQUIRE_RUNC=1 but {why}"),
        Err(why) => {
            eprintln!("{test}: skipped: {why}");
            None
        }
    }
}

/// Serialises runc across threads and processes for as long as it lives.
pub struct RuncLock(#[allow(dead_code)] File);

impl RuncLock {
    pub fn take() -> RuncLock {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trapline-runc.lock");
        let file = File::create(&path).unwrap_or_else(|e| panic!("cannot create lock file {}: {e}", path.display()));
        file.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
        RuncLock(file)
    }
}

/// A container id no other test (thread or process) uses: pid + counter.
pub fn container_id() -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    format!("trapline-test-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// `runc delete -f ID` when dropped, so that a failing assertion leaves no container behind.
pub struct Container<'a> {
    pub runc: &'a Path,
    pub id: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.runc)
            .args(["delete", "-f", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Builds `tests/fixtures/<name>.c` with `-static` (once per test process) and returns the executable: a
/// container's rootfs can then hold just that file, no libc or loader.
pub fn static_fixture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    super::compile_once(
        &dir.join(format!("{name}-static")),
        super::CSource::Fixture(name),
        &["-static", "-O1", "-pthread", "-Wall", "-Wextra"],
    )
}

/// An OCI bundle from `runc spec`, with no terminal and a writable rootfs that starts empty.
pub struct Bundle {
    pub dir: TempDir,
    pub runc: PathBuf,
    /// config.json as it will be written for each run (before `linux.seccomp` is set).
    pub config: Value,
}

impl Bundle {
    pub fn new(runc: &Path, args: &[&str]) -> Bundle {
        let dir = TempDir::new("runc-bundle");
        fs::create_dir_all(dir.join("rootfs")).unwrap();
        let spec = run(Command::new(runc)
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        assert_eq!(spec.code(), 0, "runc spec: {}", spec.stderr_str());
        let mut config: Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["root"]["readonly"] = json!(false);
        Bundle { dir, runc: runc.to_path_buf(), config }
    }

    /// Copies `src` into the rootfs at `dest` (an absolute path inside the container), keeping its mode.
    pub fn add_file(&self, src: &Path, dest: &str) {
        let target = self.dir.join("rootfs").join(dest.trim_start_matches('/'));
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(src, &target).unwrap_or_else(|e| panic!("cannot copy {} into the rootfs: {e}", src.display()));
    }

    /// Adds a bind mount of the host's `source` at `destination` (runc creates the target).
    pub fn bind(&mut self, source: &str, destination: &str) {
        let mounts = self.config["mounts"].as_array_mut().expect("config.json has no mounts array");
        mounts.push(json!({"destination": destination, "type": "bind", "source": source, "options": ["bind"]}));
    }

    /// `trapline record -q --container -o OUT EXTRA... -- runc run --bundle DIR ID`, on the bundle's
    /// config.json as it is on disk, holding the runc lock.
    pub fn record_container(&self, out: &Path, extra: &[&str]) -> Finished {
        let _lock = RuncLock::take();
        let container = Container { runc: &self.runc, id: container_id() };
        run(Command::new(env!("CARGO_BIN_EXE_trapline"))
            .args(["record", "-q", "--container", "-o"])
            .arg(out)
            .args(extra)
            .arg("--")
            .arg(&self.runc)
            .args(["run", "--bundle"])
            .arg(self.dir.path())
            .arg(&container.id)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()))
    }

    /// Runs the container once, fresh, under `seccomp` as `linux.seccomp` (none when `None`).
    pub fn run(&self, seccomp: Option<&Value>) -> Finished {
        let mut config = self.config.clone();
        match seccomp {
            Some(profile) => config["linux"]["seccomp"] = profile.clone(),
            None => {
                if let Some(linux) = config["linux"].as_object_mut() {
                    linux.remove("seccomp");
                }
            }
        }
        fs::write(self.dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let _lock = RuncLock::take();
        let container = Container { runc: &self.runc, id: container_id() };
        run(Command::new(&self.runc)
            .args(["run", "--bundle"])
            .arg(self.dir.path())
            .arg(&container.id)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()))
    }
}

/// A finished command for a failure message: status, stdout and stderr.
pub fn describe(out: &Finished) -> String {
    format!("status {:?}\nstdout:\n{}\nstderr:\n{}", out.status, out.stdout_str(), out.stderr_str())
}

/// `scripts/gpu-rig.sh`: runs a command with /dev/zero standing in for the GPU device nodes.
pub const RIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gpu-rig.sh");

/// Whether the emulated GPU rig can run here (root, util-linux unshare); otherwise says why `test` is skipped,
/// or fails with `TRAPLINE_REQUIRE_RUNC=1`.
pub fn rig_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        "not running as root (the GPU rig mounts in a private mount namespace)"
    } else if !Path::new("/usr/bin/unshare").is_file() && !Path::new("/bin/unshare").is_file() {
        "util-linux unshare is not installed"
    } else {
        return true;
    };
    assert!(!prerequisites_required(), "{test}: TRAPLINE_REQUIRE_RUNC=1 but {why}");
    eprintln!("{test}: skipped: {why}");
    false
}
