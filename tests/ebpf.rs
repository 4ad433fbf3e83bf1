//! `record --backend ebpf` against the ptrace backend as the oracle: the same programs (fork and exec,
//! hundreds of threads, 32-bit calls and their arguments, the GPU rig's device requests and RM commands) give the same call classes, counted the
//! same, from the kernel's per-class counters. Without the privileges to load programs it says so in one line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::container::{RIG, describe, rig_or_skip};
use common::*;

/// Whether eBPF recording can run here (root, and a kernel with BTF); otherwise says why `test` is skipped,
/// or fails where CI requires it (`TRAPLINE_REQUIRE_EBPF=1`).
fn ebpf_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        "not root (loading eBPF programs needs CAP_BPF and CAP_PERFMON)"
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        "the kernel has no BTF"
    } else {
        return true;
    };
    assert!(std::env::var_os("TRAPLINE_REQUIRE_EBPF").is_none_or(|v| v != "1"), "{test}: required, but {why}");
    eprintln!("{test}: skipped: {why}");
    false
}

/// A class as both backends see it: syscall, arch, the argument values (those behind pointers too: clone3's
/// flags, the NVIDIA RM command or class), what the fd was.
fn identity(class: &Value) -> String {
    let args: Vec<(&Value, &Value)> =
        class["args"].as_array().unwrap().iter().map(|a| (&a["value"], &a["unreadable"])).collect();
    format!("{} {} {:?} {}", class["arch"], class["syscall"], args, class["fd"])
}

fn counts(trace: &Value) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for class in classes(trace) {
        *counts.entry(identity(class)).or_insert(0) += count_of(class);
    }
    counts
}

fn record_both(cmd: &[&str]) -> (Value, Value) {
    let ptrace = record(cmd);
    assert_eq!(ptrace.code(), 0, "{}", ptrace.out.stderr_str());
    let ebpf = record_with(&["--backend", "ebpf"], cmd);
    assert_eq!(ebpf.code(), 0, "{}", ebpf.out.stderr_str());
    assert_eq!(ebpf.trace["runs"][0]["backend"], "ebpf");
    assert_eq!(ebpf.trace["runs"][0]["complete"], true, "{}", ebpf.trace["runs"][0]);
    (ptrace.trace, ebpf.trace)
}

#[test]
fn fork_and_exec_give_the_classes_and_counts_ptrace_gives() {
    if !ebpf_or_skip("ebpf_forkexec") {
        return;
    }
    let exe = fixture("forkexec");
    let (ptrace, ebpf) = record_both(&[exe.to_str().unwrap()]);
    assert_eq!(counts(&ebpf), counts(&ptrace));
    let totals = |t: &Value| (t["runs"][0]["totals"]["processes"].clone(), t["runs"][0]["totals"]["classes"].clone());
    assert_eq!(totals(&ebpf), totals(&ptrace));
    // Every executable the chain exec'd is named, as the ptrace backend names it.
    let exes = |t: &Value| -> BTreeSet<String> {
        classes(t).iter().flat_map(|c| c["exes"].as_array().unwrap()).map(|e| e.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(exes(&ebpf), exes(&ptrace));
    no_programs_left();
}

/// Nothing of trapline's stays loaded once it has exited (its programs are named `trapline_*`). Other tests
/// may be recording at this moment: a leak is a program that is still there once they have ended.
fn no_programs_left() {
    let listed = || {
        let out = run(Command::new("bpftool").args(["prog", "show"]).stdout(Stdio::piped()).stderr(Stdio::piped()));
        assert_eq!(out.code(), 0, "bpftool (Debian: bpftool): {}", out.stderr_str());
        out.stdout_str()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let programs = listed();
        if !programs.contains("name trapline_") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "trapline's programs stayed loaded:\n{programs}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn hundreds_of_threads_are_all_counted() {
    if !ebpf_or_skip("ebpf_threads") {
        return;
    }
    let exe = fixture("stress_threads");
    let (ptrace, ebpf) = record_both(&[exe.to_str().unwrap(), "300", "20"]);
    assert_eq!(count(&ebpf, "getppid"), 300 * 20);
    assert_eq!(count(&ebpf, "gettid"), count(&ptrace, "gettid"));
    assert_eq!(ebpf["runs"][0]["totals"]["threads"], ptrace["runs"][0]["totals"]["threads"]);
}

#[test]
fn thirty_two_bit_calls_are_counted_by_their_own_table() {
    if !ebpf_or_skip("ebpf_int80") {
        return;
    }
    let exe = fixture("int80");
    let (_, ebpf) = record_both(&[exe.to_str().unwrap()]);
    let i386: BTreeMap<String, u64> = syscall_counts_arch(&ebpf, "i386");
    assert_eq!(i386.get("getpid"), Some(&1), "{i386:?}");
    assert_eq!(i386.get("getppid"), Some(&1), "{i386:?}");
}

/// Children forked faster than user space could follow: the kernel side follows each fork as it happens (the
/// sched_process_fork tracepoint), so every child's call is counted.
#[test]
fn a_fork_storm_is_followed_in_the_kernel() {
    if !ebpf_or_skip("ebpf_fork_storm") {
        return;
    }
    let exe = fixture("stress_forks");
    let rec = record_with(&["--backend", "ebpf"], &[exe.to_str().unwrap(), "2000", "8"]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    assert_eq!(rec.trace["runs"][0]["complete"], true, "{}", rec.trace["runs"][0]);
    assert_eq!(count(&rec.trace, "getpgid"), 2000, "every child's one call");
    assert_eq!(rec.trace["runs"][0]["totals"]["processes"], 2001);
}

/// The arguments of 32-bit calls come from i386's registers (ebx, ecx, edx, ...): an ioctl's request and its
/// fd's device, a socket's domain, as the ptrace backend keys them.
#[test]
fn thirty_two_bit_calls_are_classed_by_their_arguments() {
    if !ebpf_or_skip("ebpf_int80_args") {
        return;
    }
    let exe = fixture("int80_args");
    let (ptrace, ebpf) = record_both(&[exe.to_str().unwrap()]);
    let i386 = |t: &Value| -> BTreeMap<String, u64> {
        counts(t).into_iter().filter(|(identity, _)| identity.starts_with("\"i386\"")).collect()
    };
    let (ebpf_i386, ptrace_i386) = (i386(&ebpf), i386(&ptrace));
    assert!(
        ebpf_i386.keys().any(|k| k.contains("ioctl") && k.contains("0x5401") && k.contains("/dev/null")),
        "{ebpf_i386:?}"
    );
    assert!(ebpf_i386.keys().any(|k| k.contains("socket") && k.contains("\"0x1\"")), "{ebpf_i386:?}");
    assert_eq!(ebpf_i386, ptrace_i386);
    assert_eq!(counts(&ebpf), counts(&ptrace));
}

#[test]
fn the_gpu_rigs_device_requests_are_named_by_device() {
    if !ebpf_or_skip("ebpf_gpu_rig") || !rig_or_skip("ebpf_gpu_rig") {
        return;
    }
    let exe = fixture("cuda_init");
    let on_rig = |backend: &str| -> Value {
        let dir = TempDir::new("ebpf-rig");
        let out = run(Command::new(RIG)
            .arg(TRAPLINE)
            .args(["record", "-q", "--backend", backend, "-o"])
            .arg(dir.join("trace.json"))
            .arg("--")
            .arg(&exe)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        assert_eq!(out.code(), 0, "{}", describe(&out));
        read_trace(&dir.join("trace.json"), &out)
    };
    let (ptrace, ebpf) = (on_rig("ptrace"), on_rig("ebpf"));
    let ioctls = |t: &Value| -> BTreeMap<String, u64> {
        counts(t).into_iter().filter(|(identity, _)| identity.contains("\"ioctl\"")).collect()
    };
    let (ebpf_ioctls, ptrace_ioctls) = (ioctls(&ebpf), ioctls(&ptrace));
    assert!(ebpf_ioctls.keys().any(|k| k.contains("/dev/nvidiactl")), "{ebpf_ioctls:?}");
    assert!(ebpf_ioctls.keys().any(|k| k.contains("/dev/nvidia-uvm")), "{ebpf_ioctls:?}");
    assert!(ebpf_ioctls.keys().any(|k| k.contains("/dev/kfd")), "{ebpf_ioctls:?}");
    // The RM control command and the class allocated, read in the kernel from the struct behind the pointer.
    assert!(ebpf_ioctls.keys().any(|k| k.contains("\"0x20800102\"")), "GPU_GET_INFO_V2: {ebpf_ioctls:?}");
    assert!(ebpf_ioctls.keys().any(|k| k.contains("\"0xcbc0\"")), "HOPPER_COMPUTE_A: {ebpf_ioctls:?}");
    assert_eq!(ebpf_ioctls, ptrace_ioctls);
}

/// A workload with more distinct classes than the kernel side has room for: what fits is recorded, what
/// does not is counted, and the trace says it is incomplete and what to raise. Never silent.
#[test]
fn a_full_class_map_is_counted_and_said() {
    if !ebpf_or_skip("ebpf_map_full") {
        return;
    }
    let exe = fixture("stress_classes");
    let rec = record_with(&["--backend", "ebpf", "--max-classes", "64"], &[exe.to_str().unwrap(), "500"]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    let run = &rec.trace["runs"][0];
    assert_eq!(run["complete"], false, "{run}");
    let why = run["incomplete"].as_str().unwrap();
    assert!(why.contains("class map was full") && why.contains("--max-classes"), "{why}");
    let lost: u64 = why.split_whitespace().find_map(|w| w.parse().ok()).unwrap();
    let kept = classes(&rec.trace).len() as u64;
    assert!(kept <= 64, "{kept} classes kept in a map of 64");
    // Every one of the 500 requests is either in a class or among the lost calls (with the calls after them).
    let requests: u64 = classes(&rec.trace)
        .iter()
        .filter(|c| c["syscall"] == "ioctl" && c["args"][0]["value"].as_str().unwrap().starts_with("0x7a"))
        .map(count_of)
        .sum();
    assert!(requests < 500 && lost + requests >= 500, "{lost} lost + {requests} recorded");
}

#[test]
fn without_the_privileges_it_says_what_is_missing_in_one_line() {
    if !ebpf_or_skip("ebpf_unprivileged") {
        return;
    }
    // Under the system's temporary directory, which the unprivileged user can reach wherever the tests run.
    let dir = std::env::temp_dir().join(format!("trapline-ebpf-noperm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(TRAPLINE)
        .args(["record", "--backend", "ebpf", "-o"])
        .arg(dir.join("t.json"))
        .args(["--", "/bin/true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 2, "{}", describe(&out));
    let stderr = out.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CAP_BPF") && stderr.contains("--backend ptrace"), "{stderr}");
    assert!(!dir.join("t.json").exists());
    let _ = std::fs::remove_dir(&dir);
}

/// What a seccomp filter denies never reaches the tracepoints (they come after seccomp): a workload that loads
/// its own filter gets a trace that says so, and the summary points at the ptrace backend.
#[test]
fn a_workloads_own_filter_is_said_to_hide_its_denials() {
    if !ebpf_or_skip("ebpf_own_filter") {
        return;
    }
    let exe = fixture("own_filter");
    let rec = record_with(&["--backend", "ebpf"], &[exe.to_str().unwrap(), "install"]);
    assert_eq!(rec.code(), 0, "{}", rec.out.stderr_str());
    let filters = &rec.trace["runs"][0]["filters"];
    assert_eq!((filters["loaded"].as_u64(), filters["seen"].as_bool()), (Some(1), Some(false)), "{filters}");
    assert_eq!(count(&rec.trace, "getppid"), 0, "denied calls cannot reach the tracepoints");
}

/// The cgroup v2 mount, or says why `test` is skipped (failing where CI requires eBPF).
fn cgroup2_mount_or_skip(test: &str) -> Option<std::path::PathBuf> {
    let mount = cgroup2_mount();
    if mount.is_none() {
        assert!(std::env::var_os("TRAPLINE_REQUIRE_EBPF").is_none_or(|v| v != "1"), "{test}: no cgroup2 mount");
        eprintln!("{test}: skipped: no cgroup2 mount");
    }
    mount
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid hosts).
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (fields, fs) = line.split_once(" - ")?;
        let mount_point = fields.split(' ').nth(4)?;
        fs.starts_with("cgroup2 ").then(|| std::path::PathBuf::from(mount_point))
    })
}

/// A running process group found by its cgroup, as a container is: recorded from the moment trapline attaches
/// until the cgroup is empty, its processes named even when they are gone, and the trace marked as attached.
#[test]
fn a_running_cgroup_is_recorded_until_it_is_empty() {
    if !ebpf_or_skip("ebpf_cgroup") {
        return;
    }
    let Some(mount) = cgroup2_mount_or_skip("ebpf_cgroup") else { return };
    let cgroup = mount.join(format!("trapline-test-{}", std::process::id()));
    std::fs::create_dir(&cgroup).unwrap();
    let looped = fixture("stress_threads");
    // The workload joins the cgroup, waits for trapline to attach, then works.
    let mut workload = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("echo $$ > {}/cgroup.procs && sleep 2 && exec {} 4 50", cgroup.display(), looped.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let dir = TempDir::new("ebpf-cgroup");
    let out = run(Command::new(TRAPLINE)
        .args(["record", "-q", "--backend", "ebpf", "--cgroup"])
        .arg(&cgroup)
        .arg("-o")
        .arg(dir.join("trace.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    workload.wait().unwrap();
    let _ = std::fs::remove_dir(&cgroup);
    assert_eq!(out.code(), 0, "{}", describe(&out));
    let trace = read_trace(&dir.join("trace.json"), &out);
    assert_eq!(count(&trace, "getppid"), 4 * 50, "every call after the attach");
    let run = &trace["runs"][0];
    assert_eq!(run["complete"], false);
    assert!(run["incomplete"].as_str().unwrap().contains("running cgroup"), "{run}");
    let exes: BTreeSet<&str> =
        classes(&trace).iter().flat_map(|c| c["exes"].as_array().unwrap()).filter_map(Value::as_str).collect();
    assert!(exes.contains(std::fs::canonicalize(&looped).unwrap().to_str().unwrap()), "{exes:?}");
    assert!(exes.contains("[sleep]"), "a process gone before the maps were read is named by its command: {exes:?}");
}

/// A node agent started by a test, its stderr in a log the failure messages show.
struct Agent {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Agent {
    /// Starts `trapline agent --backend ebpf ARGS...` and waits until it records.
    fn start(dir: &TempDir, args: &[&std::ffi::OsStr]) -> Agent {
        let log = dir.join(format!("agent-{}.log", std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()));
        let child = Command::new(TRAPLINE)
            .args(["agent", "--backend", "ebpf"])
            .args(args)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let agent = Agent { child, log };
        agent.until("the agent did not start", &|| agent.log().contains("recording new cgroups"));
        agent
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to a minute for `done`, else fails with `what` and the agent's log.
    fn until(&self, what: &str, done: &dyn Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}; agent log:\n{}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().to_string();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn kill(&mut self, signal: libc::c_int) -> std::process::ExitStatus {
        // SAFETY: signalling our own child, which has not been waited for yet.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        self.child.wait().unwrap()
    }
}

/// An agent left running by a failed assertion would record every cgroup created after it.
impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|status| status.is_none()) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `/bin/true` in a new cgroup `name` below `parent`, which is removed once it has ended.
fn job_in_cgroup(parent: &Path, name: &str) {
    let cgroup = parent.join(name);
    std::fs::create_dir(&cgroup).unwrap();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("echo $$ > {}/cgroup.procs && exec /bin/true", cgroup.display()))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir(&cgroup).unwrap();
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// The node agent: one trace per cgroup created while it runs (each container a runtime starts has one),
/// written when the cgroup is removed; its memory stays flat over hundreds of short-lived cgroups; killed with
/// SIGKILL it loses no trace of a cgroup that had ended and leaves nothing loaded in the kernel; restarted, it
/// records the cgroups created from then on.
#[test]
fn the_node_agent_writes_one_trace_per_cgroup_and_stays_flat() {
    if !ebpf_or_skip("ebpf_node_agent") {
        return;
    }
    let Some(mount) = cgroup2_mount_or_skip("ebpf_node_agent") else { return };
    let parent = mount.join(format!("trapline-agent-{}", std::process::id()));
    std::fs::create_dir(&parent).unwrap();
    let out = TempDir::new("ebpf-agent");
    let traces = out.join("traces");
    let args = [std::ffi::OsStr::new("--out"), traces.as_os_str(), "--under".as_ref(), parent.as_os_str()];
    let mut agent = Agent::start(&out, &args);
    const JOBS: usize = 200;
    let mut rss_early = 0;
    for job in 0..JOBS {
        job_in_cgroup(&parent, &format!("job{job}"));
        if job == 49 {
            agent.until("the first 50 traces were not written", &|| files_in(&traces) >= 50);
            rss_early = agent.rss_kb();
        }
    }
    agent.until("not every cgroup got its trace", &|| files_in(&traces) == JOBS);
    let rss_late = agent.rss_kb();
    assert!(
        rss_late <= rss_early + 8 * 1024,
        "resident size grew from {rss_early} kB to {rss_late} kB over {JOBS} cgroups"
    );

    // SIGKILL: nothing to clean up in trapline, and the kernel drops its programs with its last fd.
    agent.kill(libc::SIGKILL);
    assert_eq!(files_in(&traces), JOBS, "a trace was lost to the kill");
    let one = std::fs::read_to_string(traces.join(format!("trapline-agent-{}_job7.json", std::process::id()))).unwrap();
    let trace: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(trace["runs"][0]["backend"], "ebpf");
    assert!(classes(&trace).iter().any(|c| c["syscall"] == "execve"), "{trace}");
    no_programs_left();

    // Restarted over the same directory: it records what starts from now on, and keeps what is there.
    let mut agent = Agent::start(&out, &args);
    job_in_cgroup(&parent, "after-restart");
    agent.until("the restarted agent wrote no trace", &|| files_in(&traces) == JOBS + 1);
    let status = agent.kill(libc::SIGTERM);
    assert!(status.success(), "the agent ends cleanly on SIGTERM: {status:?}");
    let _ = std::fs::remove_dir(&parent);
    let name = format!("trapline-agent-{}_after-restart.json", std::process::id());
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(traces.join(name)).unwrap()).unwrap();
    assert_eq!(trace["runs"][0]["complete"], true, "{}", trace["runs"][0]);
    no_programs_left();
}

/// Containers a runtime starts: the agent names each trace by pod, container and id from the runtime's state
/// (runc's state.json under the given root, and the bundle's Kubernetes annotations), and with --select
/// writes only those whose annotations match.
#[test]
fn the_node_agent_names_containers_from_the_runtimes_state_and_selects_by_annotation() {
    if !ebpf_or_skip("ebpf_agent_select") {
        return;
    }
    let Some(runc) = common::container::runc_or_skip("ebpf_agent_select") else { return };
    let Some(mount) = cgroup2_mount_or_skip("ebpf_agent_select") else { return };
    let parent_name = format!("trapline-select-{}", std::process::id());
    let parent = mount.join(&parent_name);
    std::fs::create_dir(&parent).unwrap();
    let dir = TempDir::new("ebpf-agent-select");
    let (traces, state) = (dir.join("traces"), dir.join("runc-state"));
    let mut agent = Agent::start(
        &dir,
        &[
            "--out".as_ref(),
            traces.as_os_str(),
            "--under".as_ref(),
            parent.as_os_str(),
            "--state-root".as_ref(),
            state.as_os_str(),
            "--select".as_ref(),
            "io.kubernetes.cri.sandbox-namespace=ml".as_ref(),
        ],
    );
    // Containers live for seconds at least; this one for one and a half, so that the runtime's state is there
    // when the agent looks, however busy the machine (a container gone before that is not identified).
    let exe = common::container::static_fixture("nap");
    let mut ids = Vec::new();
    for (namespace, pod) in [("web", "serve-0"), ("ml", "train-0")] {
        let mut bundle = common::container::Bundle::new(&runc, &["/nap", "1500"]);
        bundle.add_file(&exe, "/nap");
        let id = common::container::container_id();
        bundle.config["linux"]["cgroupsPath"] = serde_json::json!(format!("/{parent_name}/{id}"));
        bundle.config["annotations"] = serde_json::json!({
            "io.kubernetes.cri.sandbox-namespace": namespace,
            "io.kubernetes.cri.sandbox-name": pod,
            "io.kubernetes.cri.container-name": "main",
        });
        std::fs::write(bundle.dir.join("config.json"), serde_json::to_vec(&bundle.config).unwrap()).unwrap();
        let ran = run(Command::new(&runc)
            .arg("--root")
            .arg(&state)
            .args(["run", "--bundle"])
            .arg(bundle.dir.path())
            .arg(&id)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        let _ = Command::new(&runc).arg("--root").arg(&state).args(["delete", "-f", &id]).status();
        assert_eq!(ran.code(), 0, "{}", describe(&ran));
        ids.push(id);
    }
    let wanted = traces.join(format!("train-0-main-{}.json", ids[1]));
    agent.until("the selected container got no trace named by its pod", &|| wanted.exists());
    agent.kill(libc::SIGTERM);
    // runc made the container's cgroups in every hierarchy (v1 controllers too, on a hybrid host).
    for hierarchy in std::fs::read_dir(mount.parent().unwrap_or(&mount)).unwrap().flatten() {
        let _ = std::fs::remove_dir(hierarchy.path().join(&parent_name));
    }
    let _ = std::fs::remove_dir(&parent);
    let written: Vec<_> = std::fs::read_dir(&traces).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(written, [wanted.file_name().unwrap()], "only the selected container's trace");
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&wanted).unwrap()).unwrap();
    assert!(
        classes(&trace).iter().any(|c| c["syscall"] == "nanosleep" || c["syscall"] == "clock_nanosleep"),
        "{trace}"
    );
    no_programs_left();
}
