//! Faults trapline must survive or report cleanly: being SIGKILLed mid-run, a full disk, a read-only output
//! directory, a closed stdout, a workload that closes every fd or stacks its own seccomp filter, and a profile that
//! denies what trapline's own launcher needs. Mounts (tests run as root) are small tmpfs instances under the cargo
//! target tmp dir, unmounted when the test ends, pass or fail.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::live::{Live, alive, start_time};
use common::*;
use serde_json::{Value, json};

fn fixture_str(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

/// A tmpfs mounted for one test; unmounted (lazily, so a busy mount cannot fail the cleanup) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &TempDir, options: &str) -> Tmpfs {
        let path = dir.join("mnt");
        fs::create_dir_all(&path).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "mount -t tmpfs -o {options} failed (these tests run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path)
    }

    fn remount_read_only(&self) {
        let out = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.0).output().unwrap();
        assert!(out.status.success(), "remount,ro: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// File names in the mount, sorted: what a failed write left behind.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// Fills the file system: `filler` grows until ENOSPC.
    fn fill(&self) {
        let chunk = vec![b'x'; 4096];
        let mut f = fs::File::create(self.join("filler")).unwrap();
        use std::io::Write;
        while f.write_all(&chunk).is_ok() {}
        let _ = f.flush();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A file's bytes, as a reference to compare with later.
fn previous_trace(path: &Path) -> Vec<u8> {
    let bytes = format!("{{\"previous\": \"trace\", \"written_by\": \"the test\", \"pid\": {}}}\n", std::process::id())
        .into_bytes();
    fs::write(path, &bytes).unwrap();
    bytes
}

/// trapline's stderr must be exactly one line, `trapline: ...`; returns it.
fn one_error_line(out: &Finished, what: &str) -> String {
    let stderr = out.stderr_str();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one error line expected, stderr:\n{stderr}");
    assert!(lines[0].starts_with("trapline: "), "{what}: {stderr}");
    lines[0].to_string()
}

/// Whether `message` reports the workload's exit status `status` (`exited with status 77`, `exit code 77`, ...).
fn mentions_status(message: &str, status: i32) -> bool {
    ["status", "exit code", "exited with", "exit"].iter().any(|w| message.contains(&format!("{w} {status}")))
}

/// A copy of a fixture at a path of this test's own, so processes running it can be told from other tests'.
fn private_copy(dir: &TempDir, name: &str) -> PathBuf {
    let copy = dir.join(name);
    fs::copy(fixture(name), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// Live (non-zombie) processes whose executable is `exe`.
fn running(exe: &Path) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        if fs::read_link(entry.path().join("exe")).is_ok_and(|p| p == exe)
            && let Some(started) = start_time(pid)
            && alive(pid, started)
        {
            found.push(pid);
        }
    }
    found
}

/// Waits up to 10 s for no process of `exe` to be left running.
fn none_left(exe: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = running(exe);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: processes of the workload survived trapline: {left:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_to_trapline_takes_the_whole_workload_with_it_and_keeps_the_old_trace() {
    let dir = TempDir::new("sigkill");
    let exe = private_copy(&dir, "stress_linger");
    let before = previous_trace(&dir.join("trace.json"));
    let mut live = Live::spawn(&mut record_command(&dir, &[], &[exe.to_str().unwrap()]));
    let line = live.line();
    let pids: Vec<i32> = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 4, "main, two children and the daemon: {line}");
    let started: Vec<(i32, u64)> = pids.iter().map(|p| (*p, start_time(*p).expect("workload process"))).collect();
    thread::sleep(Duration::from_millis(100));
    live.signal(libc::SIGKILL);
    let out = live.wait();
    assert_eq!(out.status.code(), None, "trapline was killed");
    // PTRACE_O_EXITKILL: every tracee, the setsid daemon included, dies with its tracer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.iter().any(|(p, s)| alive(*p, *s)) {
        let left: Vec<i32> = started.iter().filter(|(p, s)| alive(*p, *s)).map(|(p, _)| *p).collect();
        assert!(Instant::now() < deadline, "workload processes survived trapline: {left:?}");
        thread::sleep(Duration::from_millis(20));
    }
    none_left(&exe, "stress_linger");
    assert_eq!(fs::read(dir.join("trace.json")).unwrap(), before, "the previous trace must be untouched");
    let mut names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["stress_linger", "trace.json"], "no temporary file may be left in the output directory");
}

#[test]
fn sigkill_to_trapline_during_a_fork_storm_leaves_no_process_behind() {
    for delay_ms in [5, 20, 60] {
        let dir = TempDir::new("sigkill-storm");
        let exe = private_copy(&dir, "stress_forks");
        let mut live = Live::spawn(&mut record_command(&dir, &[], &[exe.to_str().unwrap(), "1000", "4"]));
        thread::sleep(Duration::from_millis(delay_ms));
        live.signal(libc::SIGKILL);
        let out = live.wait();
        assert_eq!(out.status.code(), None, "trapline was killed after {delay_ms} ms");
        none_left(&exe, &format!("killed after {delay_ms} ms"));
        assert!(!dir.join("trace.json").exists(), "no trace from a killed trapline");
        let leftovers: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".trapline-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}

#[test]
fn disk_full_reports_the_error_and_the_workloads_status_and_leaves_no_partial_file() {
    let dir = TempDir::new("enospc");
    let mnt = Tmpfs::mount(&dir, "size=64k");
    let exe = fixture_str("stress_classes");
    // 2000 distinct ioctl requests: 2000 classes, far more than 64 KiB of JSON.
    let mut cmd = Command::new(TRAPLINE);
    cmd.args(["record", "-q", "-o"]).arg(mnt.join("t.json")).args(["--", &exe, "2000", "77"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run(&mut cmd);
    assert_eq!(out.stdout_str(), "ready\n", "the workload ran");
    let line = one_error_line(&out, "disk full");
    assert!(line.contains("No space left on device") && line.contains("t.json"), "{line}");
    assert_eq!(mnt.listing(), Vec::<String>::new(), "no partial trace, no temporary file");
    assert_eq!(out.code(), 2, "no trace was written: trapline failed ({line})");
    assert!(mentions_status(&line, 77), "the workload exited with 77; the message must say so: {line}");
}

#[test]
fn disk_full_keeps_the_previous_trace_byte_for_byte() {
    let dir = TempDir::new("enospc-prev");
    let mnt = Tmpfs::mount(&dir, "size=64k");
    let before = previous_trace(&mnt.join("t.json"));
    mnt.fill();
    let exe = fixture_str("stress_classes");
    let mut cmd = Command::new(TRAPLINE);
    cmd.args(["record", "-q", "-o"]).arg(mnt.join("t.json")).args(["--", &exe, "5", "3"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run(&mut cmd);
    let line = one_error_line(&out, "disk full");
    assert!(line.contains("No space left on device"), "{line}");
    assert_eq!(fs::read(mnt.join("t.json")).unwrap(), before, "the previous trace must be untouched");
    assert_eq!(mnt.listing(), ["filler", "t.json"], "no temporary file may be left");
    assert_eq!(out.code(), 2, "{line}");
    assert!(mentions_status(&line, 3), "the workload exited with 3; the message must say so: {line}");
}

#[test]
fn profile_and_merge_outputs_on_a_full_disk() {
    let r = record(&["/bin/true"]);
    assert_eq!(r.code(), 0);
    let trace = r.dir.join("trace.json");
    let dir = TempDir::new("enospc-profile");
    let mnt = Tmpfs::mount(&dir, "size=16k");
    mnt.fill();
    for (args, name) in [
        (vec!["profile".to_string(), trace.display().to_string(), "-o".into()], "p.json"),
        (vec!["merge".to_string(), trace.display().to_string(), "-o".into()], "m.json"),
        (
            vec![
                "profile".to_string(),
                trace.display().to_string(),
                "-o".into(),
                dir.join("ok.json").display().to_string(),
                "--explain".into(),
            ],
            "e.md",
        ),
    ] {
        let mut cmd = Command::new(TRAPLINE);
        cmd.args(&args).arg(mnt.join(name));
        let out = run(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        assert_eq!(out.code(), 2, "{args:?}: stderr:\n{}", out.stderr_str());
        let line = one_error_line(&out, name);
        assert!(line.contains("No space left on device") && line.contains(name), "{line}");
        assert_eq!(mnt.listing(), ["filler"], "{args:?}: no partial output, no temporary file");
    }
}

#[test]
fn read_only_output_directory_is_refused_before_the_workload_starts() {
    let dir = TempDir::new("erofs");
    let mnt = Tmpfs::mount(&dir, "size=64k,ro");
    let exe = fixture_str("stress_classes");
    let mut cmd = Command::new(TRAPLINE);
    cmd.args(["record", "-q", "-o"]).arg(mnt.join("t.json")).args(["--", &exe, "5", "77"]);
    let out = run(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(out.code(), 2, "stderr:\n{}", out.stderr_str());
    let line = one_error_line(&out, "read-only");
    assert!(line.contains("Read-only file system") && line.contains("t.json"), "{line}");
    assert_eq!(out.stdout_str(), "", "the workload must not have started");
}

#[test]
fn output_directory_turned_read_only_during_the_run() {
    let dir = TempDir::new("erofs-late");
    let mnt = Tmpfs::mount(&dir, "size=64k");
    let before = previous_trace(&mnt.join("t.json"));
    let go = dir.join("go");
    let exe = fixture_str("stress_classes");
    let mut cmd = Command::new(TRAPLINE);
    cmd.args(["record", "-q", "-o"]).arg(mnt.join("t.json")).args(["--", &exe, "5", "77", go.to_str().unwrap()]);
    let mut live = Live::spawn(&mut cmd);
    assert_eq!(live.line(), "ready");
    mnt.remount_read_only();
    fs::write(&go, "").unwrap();
    let out = live.wait();
    let line = one_error_line(&out, "read-only at the end");
    assert!(line.contains("Read-only file system"), "{line}");
    assert_eq!(fs::read(mnt.join("t.json")).unwrap(), before, "the previous trace must be untouched");
    assert_eq!(mnt.listing(), ["t.json"], "no temporary file may be left");
    assert_eq!(out.code(), 2, "{line}");
    assert!(mentions_status(&line, 77), "the workload exited with 77; the message must say so: {line}");
}

#[test]
fn closed_stdout_is_no_error_for_profile_and_merge() {
    let r = record(&["/bin/true"]);
    assert_eq!(r.code(), 0);
    let trace = r.dir.join("trace.json");
    for sub in ["profile", "merge"] {
        let (read, write) = {
            let mut fds = [0; 2];
            // SAFETY: pipe writes two fds into the array.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            (fds[0], fds[1])
        };
        // SAFETY: closing the read end we own: whoever writes now gets EPIPE, like `trapline ... | head -0`.
        unsafe { libc::close(read) };
        // SAFETY: `write` is an fd we own, handed over to the child's stdout.
        let stdout = unsafe { <Stdio as std::os::fd::FromRawFd>::from_raw_fd(write) };
        let mut cmd = Command::new(TRAPLINE);
        cmd.arg(sub).arg(&trace).stdout(stdout).stderr(Stdio::piped());
        let out = run(&mut cmd);
        assert_eq!(
            out.code(),
            0,
            "trapline {sub} into a closed pipe (a reader that went away); stderr:\n{}",
            out.stderr_str()
        );
        assert!(!out.stderr_str().contains("Broken pipe"), "trapline {sub}: {}", out.stderr_str());
    }
}

#[test]
fn workload_that_closes_every_fd_is_still_recorded() {
    let exe = fixture_str("stress_closefds");
    let r = record(&[&exe]);
    assert_eq!(r.code(), 9, "stderr:\n{}", r.out.stderr_str());
    check_trace(&r.trace);
    let t = &r.trace;
    assert_eq!(count(t, "close_range"), 1);
    assert_eq!(count(t, "getppid"), 50, "every call after close_range is recorded");
    // TCGETS on the harness's stdout pipe before; on the reused fds 0 and 1 after: /dev/null and /dev/zero, not
    // what those numbers were before close_range.
    let mut fds: Vec<Value> = classes_named(t, "ioctl")
        .iter()
        .filter(|c| arg(c, Some(1)).is_some_and(|a| a["value"] == "0x5401"))
        .map(|c| {
            assert_eq!(count_of(c), 1, "{c}");
            let fd = &c["fd"];
            json!([fd["kind"], fd.get("path").cloned().unwrap_or(Value::Null)])
        })
        .collect();
    fds.sort_by_key(|v| v.to_string());
    assert_eq!(
        fds,
        [json!(["device", "/dev/null"]), json!(["device", "/dev/zero"]), json!(["pipe", null])],
        "TCGETS classes by fd"
    );
}

#[test]
fn workload_that_stacks_its_own_seccomp_filter_is_still_recorded() {
    for mode in ["allow", "log"] {
        let exe = fixture_str("stress_seccomp_stack");
        let r = record(&[&exe, mode]);
        assert_eq!(r.code(), 4, "{mode}: stderr:\n{}", r.out.stderr_str());
        check_trace(&r.trace);
        let t = &r.trace;
        assert_eq!(count(t, "seccomp"), 1, "{mode}");
        assert_eq!(count(t, "getppid"), 200, "{mode}: 4 threads x 50 calls, all after the filter");
        assert_eq!(count(t, "getpgid"), 1, "{mode}: the child's call");
        assert_eq!(count(t, "execve"), 2, "{mode}: the command and /bin/true");
        assert_eq!(t["runs"][0]["totals"]["processes"], 2, "{mode}");
        let true_exe = fs::canonicalize("/bin/true").unwrap();
        assert!(
            classes_named(t, "exit_group").iter().any(|c| c["exes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == true_exe.to_str().unwrap())),
            "{mode}: /bin/true's calls, after the exec under the stacked filter"
        );
    }
}

/// A profile for /bin/true with `edit` applied, written to `dir/name`.
fn true_profile(dir: &TempDir, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let r = record(&["/bin/true"]);
    assert_eq!(r.code(), 0);
    let out = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(r.dir.join("trace.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let mut profile: Value = serde_json::from_slice(&out.stdout).unwrap();
    edit(&mut profile);
    let path = dir.join(name);
    fs::write(&path, serde_json::to_vec_pretty(&profile).unwrap()).unwrap();
    path
}

/// Drops execve from every entry of a profile.
fn without_execve(profile: &mut Value) {
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        rule["names"].as_array_mut().unwrap().retain(|n| n != "execve");
    }
    profile["syscalls"].as_array_mut().unwrap().retain(|r| !r["names"].as_array().unwrap().is_empty());
}

/// `trapline run --profile P -- stress_classes 0 0` where P does not let the launcher exec: one clear line
/// naming execve, exit 126 or 2, the workload never started, and no hang.
fn launcher_denied(profile: &Path, what: &str) {
    let exe = fixture_str("stress_classes");
    let mut cmd = Command::new(TRAPLINE);
    cmd.arg("run").arg("--profile").arg(profile).args(["--", &exe, "0", "0"]);
    let out = run(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(out.stdout_str(), "", "{what}: the workload must not have run");
    let status = out.status.code();
    let stderr = out.stderr_str();
    assert!(
        matches!(status, Some(2 | 126)),
        "{what}: exit status {status:?} ({:?}) instead of 2 or 126; stderr:\n{stderr}",
        out.status
    );
    let line = one_error_line(&out, what);
    assert!(line.contains("execve"), "{what}: the message must say that the profile denies execve: {line}");
}

#[test]
fn run_with_a_profile_without_execve_default_errno() {
    let dir = TempDir::new("noexec");
    let p = true_profile(&dir, "p.json", without_execve);
    launcher_denied(&p, "defaultAction SCMP_ACT_ERRNO");
}

#[test]
fn run_with_a_profile_without_execve_default_kill_process() {
    let dir = TempDir::new("noexec-kill");
    let p = true_profile(&dir, "p.json", |p| {
        without_execve(p);
        p["defaultAction"] = json!("SCMP_ACT_KILL_PROCESS");
    });
    launcher_denied(&p, "defaultAction SCMP_ACT_KILL_PROCESS");
}

#[test]
fn run_with_a_profile_without_execve_default_trap() {
    let dir = TempDir::new("noexec-trap");
    let p = true_profile(&dir, "p.json", |p| {
        without_execve(p);
        p["defaultAction"] = json!("SCMP_ACT_TRAP");
    });
    launcher_denied(&p, "defaultAction SCMP_ACT_TRAP");
}

#[test]
fn run_with_a_profile_that_fails_execve_with_enosys() {
    let dir = TempDir::new("noexec-enosys");
    let p = true_profile(&dir, "p.json", |p| {
        without_execve(p);
        p["syscalls"]
            .as_array_mut()
            .unwrap()
            .push(json!({"names": ["execve"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}));
    });
    launcher_denied(&p, "execve denied with ENOSYS");
}

#[test]
fn run_with_an_empty_profile() {
    let dir = TempDir::new("noexec-empty");
    let p = dir.join("empty.json");
    fs::write(&p, r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#).unwrap();
    launcher_denied(&p, "a profile that allows nothing (not even write or exit_group)");
}

#[test]
fn run_with_a_profile_that_allows_execve_by_default_runs_the_workload() {
    let dir = TempDir::new("default-allow");
    let exe = fixture_str("stress_classes");
    for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"] {
        // No entry for execve: the default lets the launcher exec; the checks made for denying profiles must not
        // refuse it.
        let p = dir.join(format!("{default}.json"));
        let profile =
            json!({"defaultAction": default, "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"}]});
        fs::write(&p, serde_json::to_vec(&profile).unwrap()).unwrap();
        let mut cmd = Command::new(TRAPLINE);
        cmd.arg("run").arg("--profile").arg(&p).args(["--", &exe, "3", "5"]);
        let out = run(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        assert_eq!(out.code(), 5, "{default}: the workload's status; stderr:\n{}", out.stderr_str());
        assert_eq!(out.stdout_str(), "ready\n", "{default}");
    }
}

#[test]
fn an_output_that_is_a_device_or_stdout_is_written_in_place_not_replaced() {
    let dir = TempDir::new("devnode");
    let null = dir.join("null");
    let made = Command::new("mknod").arg(&null).args(["c", "1", "3"]).status().unwrap();
    assert!(made.success(), "mknod (these tests run as root)");
    let out = run(&mut record_command(&dir, &[], &["/bin/true"]));
    assert_eq!(out.code(), 0);
    let trace = dir.join("trace.json");
    for sub in ["record", "profile", "merge"] {
        let mut cmd = Command::new(TRAPLINE);
        match sub {
            "record" => cmd.args(["record", "-q", "-o"]).arg(&null).args(["--", "/bin/true"]),
            _ => cmd.arg(sub).arg(&trace).arg("-o").arg(&null),
        };
        let out = run(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        assert_eq!(out.code(), 0, "{sub} -o a device node: {}", out.stderr_str());
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::metadata(&null).unwrap().file_type().is_char_device(), "{sub} -o replaced the device node");
    }
    // /dev/stdout: the document goes to trapline's standard output.
    let mut cmd = Command::new(TRAPLINE);
    cmd.arg("profile").arg(&trace).args(["-o", "/dev/stdout"]);
    let out = run(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let profile: Value = serde_json::from_slice(&out.stdout).expect("the profile on stdout");
    assert!(profile["defaultAction"].is_string(), "{profile}");
    assert!(fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink(), "/dev/stdout is still a link");
}
