//! `trapline import strace`: logs written here by hand in the renderings strace has (tests/fixtures/strace), and
//! logs of real programs traced by strace in the test, whose import must classify every call as `trapline record`
//! classifies it.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::container::{RIG, rig_or_skip};
use common::*;
use serde_json::{Value, json};

fn log(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/strace").join(name)
}

/// A `trapline import strace LOG -o <tmp>/trace.json` run and what it wrote.
struct Imported {
    out: Finished,
    trace: Option<Value>,
    output: PathBuf,
    _dir: TempDir,
}

fn import(log: &Path) -> Imported {
    let dir = TempDir::new("import");
    let output = dir.join("trace.json");
    let out = run(Command::new(TRAPLINE)
        .args(["import", "strace"])
        .arg(log)
        .arg("-o")
        .arg(&output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let trace = fs::read_to_string(&output).ok().map(|text| {
        check_trace_key_order(&text);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("trace of {} is not JSON: {e}", log.display()))
    });
    Imported { out, trace, output, _dir: dir }
}

/// Imports a log that must import cleanly (exit 0, a trace) and checks the trace's invariants.
fn imported(log: &Path) -> (Value, String) {
    let i = import(log);
    assert_eq!(i.out.code(), 0, "import of {} failed:\n{}", log.display(), i.out.stderr_str());
    let trace = i.trace.unwrap_or_else(|| panic!("no trace written for {}", log.display()));
    check_imported(&trace);
    (trace, i.out.stderr_str())
}

/// What every imported trace satisfies: one run from the strace importer, results of every call, counts that add up.
fn check_imported(trace: &Value) {
    assert_eq!(trace["schema"], 1);
    let runs = trace["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "an import holds one run");
    let run = &runs[0];
    assert!(run["id"].as_str().is_some_and(|id| id.len() == 16), "run.id: {run}");
    assert_eq!(run["backend"], "strace-import");
    assert_eq!(run["arch"], native_arch());
    assert_eq!(run["kernel"], "", "the log does not say which kernel ran it");
    assert_eq!(run["results"], "all");
    assert!(run.get("gpu").is_none(), "{run}");
    let started = run["started"].as_str().expect("run.started");
    assert!(started.len() == 24 && started.ends_with('Z'), "run.started: {started}");
    let classes = classes(trace);
    let sum: u64 = classes.iter().map(count_of).sum();
    assert_eq!(run["totals"]["syscalls"].as_u64(), Some(sum), "totals.syscalls");
    assert_eq!(run["totals"]["classes"].as_u64(), Some(classes.len() as u64), "totals.classes");
    let names: Vec<&str> = classes.iter().filter_map(|c| c["syscall"].as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "classes are not sorted: {names:?}");
}

/// A class as both backends see it: syscall, arch, argument values, and the kind and path of its fd.
type Key = (String, String, Vec<String>, Option<(String, String)>);

fn key(c: &Value) -> Key {
    let values = c["args"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap().to_string()).collect();
    let fd = c.get("fd").map(|fd| (fd["kind"].as_str().unwrap().to_string(), fd["path"].to_string()));
    (c["syscall"].as_str().unwrap().to_string(), c["arch"].as_str().unwrap().to_string(), values, fd)
}

/// Whether a futex or signal return happens at all depends on timing (a joined thread may be gone already, a
/// SIGCHLD may come while the shell waits or not): only their counts differ between runs of the same program,
/// but across two runs even their presence can.
const TIMING: &[&str] = &["futex", "rt_sigreturn", "restart_syscall"];

fn keys(trace: &Value) -> BTreeSet<Key> {
    classes(trace).iter().map(key).filter(|k| !TIMING.contains(&k.0.as_str())).collect()
}

fn assert_same_classes(what: &str, imported: &Value, recorded: &Value) {
    let (a, b) = (keys(imported), keys(recorded));
    let only_imported: Vec<&Key> = a.difference(&b).collect();
    let only_recorded: Vec<&Key> = b.difference(&a).collect();
    assert!(
        only_imported.is_empty() && only_recorded.is_empty(),
        "{what}: the import and the recording disagree\n  only imported: {only_imported:#?}\n  only recorded: \
         {only_recorded:#?}"
    );
}

/// The one class of `syscall` whose first argument has `value`.
fn class_with<'a>(trace: &'a Value, syscall: &str, value: &str) -> &'a Value {
    let found: Vec<&Value> =
        classes_named(trace, syscall).into_iter().filter(|c| c["args"][0]["value"] == value).collect();
    assert_eq!(found.len(), 1, "{syscall} {value}: {found:#?}");
    found[0]
}

#[test]
fn nvidia_initialisation_is_named_by_device() {
    let (t, stderr) = imported(&log("cuda_init.log"));
    assert!(stderr.starts_with("trapline: imported 50 syscalls from ") && stderr.lines().count() == 1, "{stderr}");
    assert!(!stderr.contains("not understood"), "{stderr}");
    let ctl = json!({"kind": "device", "path": "/dev/nvidiactl", "dev": "195:255", "family": "nvidia-frontend"});
    for (request, name, count) in [
        ("0xc04846d2", "NV_ESC_CHECK_VERSION_STR", 1),
        ("0xc00846d6", "NV_ESC_SYS_PARAMS", 1),
        ("0xc90046c8", "NV_ESC_CARD_INFO", 1),
        ("0xc020462b", "NV_ESC_RM_ALLOC (NVOS21)", 1),
        // Its line was split by another thread's: `<unfinished ...>`, then `<... ioctl resumed>`.
        ("0xc030462b", "NV_ESC_RM_ALLOC (NVOS64)", 1),
        ("0xc020462a", "NV_ESC_RM_CONTROL", 2),
        ("0xc0104629", "NV_ESC_RM_FREE", 1),
    ] {
        let c = class_with(&t, "ioctl", request);
        assert_eq!(c["args"][0]["decoded"], name, "{c}");
        assert_eq!(c["args"][0]["index"], 1, "{c}");
        assert_eq!(c["fd"], ctl, "{c}");
        assert_eq!(count_of(c), count, "{c}");
        assert_eq!(c["results"], json!({"ok": count}), "{c}");
        // The RM control command and alloc class live behind the pointer: strace does not print them.
        assert_eq!(c["args"].as_array().unwrap().len(), 1, "{c}");
    }
    let c = class_with(&t, "ioctl", "0xc00446c9");
    assert_eq!(c["args"][0]["decoded"], "NV_ESC_REGISTER_FD");
    assert_eq!(c["fd"], json!({"kind": "device", "path": "/dev/nvidia0", "dev": "195:0", "family": "nvidia-frontend"}));
    let uvm = json!({"kind": "device", "path": "/dev/nvidia-uvm", "dev": "509:0", "family": "nvidia-uvm"});
    let c = class_with(&t, "ioctl", "0x30000001");
    assert_eq!(c["args"][0]["decoded"], "UVM_INITIALIZE");
    assert_eq!(c["args"][0]["ioc"], json!({"dir": "none", "type": 0, "nr": 1, "size": 0x3000}));
    assert_eq!(c["fd"], uvm);
    let c = class_with(&t, "ioctl", "0x4b");
    assert_eq!(c["results"], json!({"ok": 0, "errors": {"EINVAL": 1}}));
    let mappings: Vec<&Value> = classes_named(&t, "mmap").into_iter().filter(|c| c["fd"] == uvm).collect();
    assert_eq!(mappings.len(), 1, "{mappings:#?}");
    assert_eq!(mappings[0]["args"][0]["decoded"], "PROT_READ|PROT_WRITE");
    assert_eq!(mappings[0]["args"][1]["decoded"], "MAP_SHARED|MAP_FIXED");
    // The thread (CLONE_THREAD, CLONE_FILES) counts in its process; the fds it opened are its process's.
    let c3 = &classes_named(&t, "clone3")[0];
    assert_eq!(arg(c3, None).unwrap()["value"], "0x3d0f00", "{c3}");
    for c in classes(&t) {
        assert_eq!(c["pids"], json!([4100]), "{c}");
    }
    let libcuda = class_with(&t, "mmap", "0x5");
    assert_eq!(libcuda["fd"], json!({"kind": "gpu-library", "name": "libcuda.so.550.54.15"}));
    let run = &t["runs"][0];
    assert_eq!(run["command"], json!(["python3"]));
    assert_eq!(run["exit"], json!({"status": 0}));
    assert_eq!(run["complete"], true);
    assert_eq!(run["duration_secs"], 0.0038);
    assert_eq!(run["totals"]["processes"], 1);
    assert_eq!(run["totals"]["threads"], 2);
    assert_eq!(classes_named(&t, "exit_group")[0].get("results"), None, "strace shows no result for exit_group");
}

#[test]
fn default_and_raw_renderings_give_the_same_classes() {
    // The same calls as strace -f -tt -yy prints them and as strace -f -X raw does (no -y: fds are followed
    // through the log's openat, close and clone3 lines).
    let (default, _) = imported(&log("cuda_init.log"));
    let (raw, _) = imported(&log("cuda_init_raw.log"));
    assert_same_classes("cuda_init default vs raw", &raw, &default);
    let counts = |t: &Value| classes(t).iter().map(|c| (key(c), count_of(c), c["results"].clone())).collect::<Vec<_>>();
    assert_eq!(counts(&raw), counts(&default));
}

#[test]
fn i386_mode_switches_and_unprefixed_lines() {
    let (t, stderr) = imported(&log("legacy_i386.log"));
    assert!(!stderr.contains("not understood"), "{stderr}");
    // The execve is the 64-bit call that loaded the 32-bit program; the mode note switches what follows.
    assert_eq!(classes_named_arch(&t, "execve", native_arch()).len(), 1);
    for name in ["brk", "mmap2", "openat", "ioctl", "mprotect", "personality", "socket", "clone", "wait4"] {
        assert!(!classes_named_arch(&t, name, "i386").is_empty(), "no i386 {name}");
        assert!(classes_named_arch(&t, name, native_arch()).is_empty(), "a {name} of the 32-bit process in 64-bit");
    }
    let mmap2 = classes_named_arch(&t, "mmap2", "i386");
    let file = mmap2.iter().find(|c| c.get("fd").is_some()).expect("a file mapping");
    assert_eq!(file["fd"], json!({"kind": "device", "path": "/dev/null", "dev": "1:3"}));
    // The child inherits the mode and the fds; lines without a pid are the first process's, pid 5200.
    let ioctl = &classes_named_arch(&t, "ioctl", "i386")[0];
    assert_eq!(ioctl["args"][0]["decoded"], "TCGETS");
    assert_eq!(ioctl["pids"], json!([5200, 5201]));
    assert_eq!(ioctl["results"], json!({"ok": 0, "errors": {"ENOTTY": 2}}));
    assert_eq!(classes_named_arch(&t, "kill", "i386")[0]["pids"], json!([5202]));
    // Back in 64-bit mode for the last calls.
    assert_eq!(classes_named_arch(&t, "getpid", native_arch())[0]["pids"], json!([5200]));
    let run = &t["runs"][0];
    assert_eq!(run["exit"], json!({"status": 3}));
    assert_eq!(run["complete"], true);
    assert_eq!(run["command"], json!(["./legacy32"]));
    assert_eq!(run["totals"]["processes"], 3);
}

#[test]
fn a_cut_log_is_incomplete_and_says_what_it_skipped() {
    let i = import(&log("cut.log"));
    assert_eq!(i.out.code(), 0, "{}", i.out.stderr_str());
    let stderr = i.out.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A line of program output, a request strace named but trapline cannot read back, and the cut last line.
    assert!(
        stderr.contains("; 3 lines not understood (2 not a line strace writes, 1 unknown name; first at "),
        "how many lines were skipped, by reason: {stderr}"
    );
    assert!(stderr.contains("cut.log:3: "), "{stderr}");
    let t = i.trace.expect("a trace");
    check_imported(&t);
    let run = &t["runs"][0];
    assert_eq!(run["complete"], false);
    assert_eq!(run["incomplete"], "the log ends before the first process exited");
    assert_eq!(run["command"], json!(["cat"]));
    assert_eq!(count(&t, "read"), 1);
}

/// `--strict`: any line not understood is an error naming the first, and no trace is written; a log read whole
/// imports as without it.
#[test]
fn strict_import_refuses_any_skipped_line() {
    let dir = TempDir::new("import-strict");
    let output = dir.join("trace.json");
    let strict = |log: &Path| {
        run(Command::new(TRAPLINE)
            .args(["import", "strace", "--strict"])
            .arg(log)
            .arg("-o")
            .arg(&output)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()))
    };
    let out = strict(&log("cut.log"));
    assert_eq!(out.code(), 2, "{}", out.stderr_str());
    let stderr = out.stderr_str();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("trapline: ") && stderr.contains("cut.log:3: "), "{stderr}");
    assert!(stderr.contains("3 lines not understood"), "{stderr}");
    assert!(!output.exists(), "a trace was written under --strict");
    let out = strict(&log("named_requests.log"));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    assert!(output.exists());
}

#[test]
fn a_file_that_is_no_strace_log_fails_with_one_line() {
    let dir = TempDir::new("import-bad");
    let notes = dir.join("notes.txt");
    fs::write(&notes, "shopping list\n- milk\n- (eggs) = 12\n").unwrap();
    let empty = dir.join("empty.log");
    fs::write(&empty, "").unwrap();
    for input in [&notes, &empty, &dir.join("missing.log")] {
        let i = import(input);
        assert_eq!(i.out.code(), 2, "{}", i.out.stderr_str());
        let stderr = i.out.stderr_str();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("trapline: ") && stderr.contains(&input.display().to_string()), "{stderr}");
        assert!(!i.output.exists(), "a trace was written for {}", input.display());
    }
}

/// Runs `cmd` under `strace -f OPTS -o <tmp>/strace.log`, stdout piped (as `trapline record` in these tests),
/// and imports the log.
fn strace_import(opts: &[&str], cmd: &[&str]) -> Value {
    let dir = TempDir::new("import-strace");
    let log = dir.join("strace.log");
    let out = run(Command::new("strace")
        .arg("-f")
        .args(opts)
        .arg("-o")
        .arg(&log)
        .arg("--")
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert!(out.status.code().is_some(), "strace {cmd:?} failed: {:?}\n{}", out.status, out.stderr_str());
    let (trace, stderr) = imported(&log);
    assert!(!stderr.contains("not understood"), "strace {opts:?} {cmd:?}: {stderr}");
    trace
}

#[test]
fn a_shell_pipeline_imports_as_it_records() {
    let cmd = ["sh", "-c", "ls / | wc -l"];
    let recorded = record(&cmd);
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let imported = strace_import(&["-y"], &cmd);
    assert_same_classes("sh -c 'ls / | wc -l' under strace -f -y", &imported, &recorded.trace);
    let run = &imported["runs"][0];
    assert_eq!(run["command"], json!(["sh"]));
    assert_eq!(run["complete"], true);
    assert_eq!(run["totals"]["processes"], recorded.trace["runs"][0]["totals"]["processes"]);
}

/// Makes the calls whose classes carry arguments: an ioctl with bit 31 set on a device, a socket, executable
/// memory, a device mapping, a thread (clone3) and a process (clone), and a prctl.
const PROBE: &str = r#"
#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void *worker(void *arg) {
    (void)arg;
    return (void *)(long)getpid();
}

int main(void) {
    char buf[16] = {0};
    int null = open("/dev/null", O_RDWR);
    ioctl(null, 0xC0104629, buf);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    void *code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int zero = open("/dev/zero", O_RDONLY);
    void *z = mmap(NULL, 4096, PROT_READ, MAP_SHARED, zero, 0);
    prctl(PR_SET_NAME, "probe");
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    pid_t child = fork();
    if (child == 0)
        _exit(ioctl(null, 0xC0104629, buf) == -1 ? 0 : 1);
    waitpid(child, NULL, 0);
    munmap(code, 4096);
    munmap(z, 4096);
    close(s);
    return 0;
}
"#;

#[test]
fn a_c_program_imports_as_it_records_in_every_rendering() {
    let probe = program("import_probe", PROBE);
    let probe = probe.to_str().unwrap();
    let recorded = record(&[probe]);
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let ioctl = class_with(&recorded.trace, "ioctl", "0xc0104629");
    assert_eq!(ioctl["fd"]["path"], "/dev/null", "{ioctl}");
    for opts in [&["-y"][..], &["-yy", "-X", "raw", "-tt"], &["-y", "-X", "verbose", "-r"], &["-y", "-T", "-i"]] {
        let imported = strace_import(opts, &[probe]);
        assert_same_classes(&format!("the probe under strace -f {}", opts.join(" ")), &imported, &recorded.trace);
        let ioctl = class_with(&imported, "ioctl", "0xc0104629");
        assert_eq!(ioctl["results"], json!({"ok": 0, "errors": {"ENOTTY": 2}}), "{opts:?}: {ioctl}");
        assert_eq!(ioctl["processes"], 2, "{opts:?}: {ioctl}");
    }
}

/// strace prints a call the kernel enters again after a signal as one more call (`= ? ERESTARTSYS`, then the
/// call again); the import counts it once, with the EINTR a handler without SA_RESTART made of it, as recording
/// does.
#[test]
fn calls_restarted_after_a_signal_import_as_they_record() {
    let restart = fixture("restart");
    let recorded = record_with(&["--results", "all"], &[restart.to_str().unwrap()]);
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let imported = strace_import(&["-y"], &[restart.to_str().unwrap()]);
    for name in ["readv", "rt_sigreturn"] {
        let (i, r) = (&classes_named(&imported, name)[0], &classes_named(&recorded.trace, name)[0]);
        assert_eq!((&i["count"], &i["results"]), (&r["count"], &r["results"]), "{name}: imported {i}, recorded {r}");
    }
    assert_eq!(classes_named(&imported, "readv")[0]["count"], 2, "the program's two calls, not strace's four lines");
}

#[test]
fn i386_calls_of_a_real_program_on_a_terminal_log() {
    // strace writes its mode-switch notes to stderr, not to -o's file: the log must be strace's stderr.
    let int80 = fixture("int80");
    let recorded = record(&[int80.to_str().unwrap()]);
    assert_eq!(recorded.code(), 0, "{}", recorded.out.stderr_str());
    let dir = TempDir::new("import-int80");
    let log = dir.join("strace.log");
    let out = run(Command::new("strace")
        .args(["-f", "-y", "--"])
        .arg(&int80)
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&log).unwrap()));
    assert_eq!(out.code(), 0);
    let (imported, _) = imported(&log);
    assert_same_classes("int80 under strace -f -y", &imported, &recorded.trace);
    // Its lines carry no pid (one process on a terminal); the real one is found, not a placeholder.
    for name in ["getpid", "getppid"] {
        let c = classes_named_arch(&imported, name, "i386");
        assert_eq!(c.len(), 1, "{name}");
        let pids = c[0]["pids"].as_array().unwrap();
        assert!(pids.len() == 1 && pids[0].as_u64() > Some(0), "{name}: {}", c[0]);
    }
}

#[test]
fn cuda_init_on_the_gpu_rig_imports_as_it_records() {
    if !rig_or_skip("cuda_init_on_the_gpu_rig_imports_as_it_records") {
        return;
    }
    let program = fixture("cuda_init");
    let dir = TempDir::new("import-rig");
    let recorded = dir.join("recorded.json");
    let out = run(Command::new(RIG)
        .arg(TRAPLINE)
        .args(["record", "-q", "-o"])
        .arg(&recorded)
        .arg("--")
        .arg(&program)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let mut recorded = read_trace(&recorded, &out);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    // strace names AMD KFD requests (AMDKFD_IOC_GET_VERSION) that trapline cannot read back: -X raw.
    let log = dir.join("strace.log");
    let out = run(Command::new(RIG)
        .args(["strace", "-f", "-y", "-X", "raw", "-o"])
        .arg(&log)
        .arg("--")
        .arg(&program)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let (imported, stderr) = imported(&log);
    assert!(!stderr.contains("not understood"), "{stderr}");
    // The RM control command and alloc class are read from the caller's memory: a log does not have them.
    for c in recorded["classes"].as_array_mut().unwrap() {
        c["args"].as_array_mut().unwrap().retain(|a| !a["index"].is_null() || a["name"] == "flags");
    }
    assert_same_classes("cuda_init on the GPU rig under strace -f -y -X raw", &imported, &recorded);
    let control = class_with(&imported, "ioctl", "0xc020462a");
    assert_eq!(control["args"][0]["decoded"], "NV_ESC_RM_CONTROL");
    assert_eq!(control["fd"]["family"], "nvidia-frontend");
}

/// An excerpt without pids (a log cut out of a bug report) was made by one process: each class says so, not
/// "0 processes".
#[test]
fn an_excerpt_without_pids_counts_one_process() {
    let dir = TempDir::new("excerpt");
    let excerpt = dir.join("excerpt.log");
    fs::write(
        &excerpt,
        "openat(AT_FDCWD, \"/dev/null\", O_RDWR) = 3\nioctl(3, _IOC(_IOC_READ, 0x54, 0x1, 0x3c), 0x7ffd) = -1 ENOTTY \
         (Inappropriate ioctl for device)\n",
    )
    .unwrap();
    let i = import(&excerpt);
    assert_eq!(i.out.code(), 0, "{}", i.out.stderr_str());
    let trace = i.trace.unwrap();
    assert_eq!(trace["runs"][0]["totals"]["processes"], 1);
    for class in classes(&trace) {
        assert_eq!(class["processes"], 1, "{class}");
    }
}

/// A log of a process strace attached to (`strace -p`): its GPU fds were opened before, so no line says what
/// they are. Requests only one driver family defines are named on an inferred device; lookalikes stay unnamed,
/// and the profile made from the trace says so.
#[test]
fn gpu_requests_on_fds_never_opened_infer_their_device() {
    let (t, _) = imported(&log("attached_gpu.log"));
    let ioctls: Vec<(String, Value)> = classes_named(&t, "ioctl")
        .into_iter()
        .map(|c| (c["args"][0]["decoded"].as_str().unwrap_or_default().to_string(), c["fd"].clone()))
        .collect();
    let inferred = |family: &str| json!({"kind": "inferred", "family": family});
    for (name, family) in [
        ("NV_ESC_RM_CONTROL", "nvidia-frontend"),
        ("NV_ESC_RM_ALLOC (NVOS64)", "nvidia-frontend"),
        ("NV_ESC_RM_ALLOC (NVOS21)", "nvidia-frontend"),
        ("NV_ESC_CARD_INFO", "nvidia-frontend"),
        ("UVM_INITIALIZE", "nvidia-uvm"),
        ("UVM_MM_INITIALIZE", "nvidia-uvm"),
        ("AMDKFD_IOC_GET_VERSION", "amd-kfd"),
    ] {
        assert!(ioctls.contains(&(name.to_string(), inferred(family))), "{name} on {family}: {ioctls:?}");
    }
    // RM_CONTROL's number with another size, a bare 1 (FIBMAP or UVM_RESERVE_VA), TCGETS: nothing inferred.
    for name in ["_IOWR('F', 0x2a, 36)", "_IO(0x00, 0x01)", "TCGETS"] {
        assert!(ioctls.contains(&(name.to_string(), json!({"kind": "unknown"}))), "{name}: {ioctls:?}");
    }

    let dir = TempDir::new("inferred");
    fs::write(dir.join("trace.json"), serde_json::to_vec(&t).unwrap()).unwrap();
    let out = run(Command::new(TRAPLINE)
        .arg("profile")
        .arg(dir.join("trace.json"))
        .args(["--runtime", "none", "--gpu-portable", "-o"])
        .arg(dir.join("profile.json"))
        .arg("--explain")
        .arg(dir.join("explain.md"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let warnings: Vec<String> =
        out.stderr_str().lines().filter(|l| l.contains("unknown device")).map(String::from).collect();
    assert_eq!(warnings.len(), 2, "one warning per ambiguous request: {warnings:?}");
    assert!(warnings[0].contains("0x1 ") && warnings[1].contains("0xc024462a"), "{warnings:?}");
    let explain = fs::read_to_string(dir.join("explain.md")).unwrap();
    assert!(
        explain.contains("NVIDIA frontend (/dev/nvidiactl, /dev/nvidiaN) (device inferred from the request)"),
        "{explain}"
    );
    assert!(explain.contains("`0xc020462a` NV_ESC_RM_CONTROL: 2 call(s)"), "{explain}");
}

/// strace prints the requests it decodes by name (`AMDKFD_IOC_GET_VERSION`, `DRM_IOCTL_VERSION`,
/// `LOOP_CTL_GET_FREE`, `SIOCETHTOOL`): each is read back to its request code, so a ROCm log gives its ioctl rules
/// instead of dropping the lines.
#[test]
fn symbolic_gpu_requests_read_back_to_their_codes() {
    let (t, stderr) = imported(&log("named_requests.log"));
    assert!(!stderr.contains("not understood"), "{stderr}");
    let requests: BTreeSet<(u64, String)> = classes_named(&t, "ioctl")
        .into_iter()
        .map(|c| {
            let a = &c["args"][0];
            (
                u64::from_str_radix(a["value"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
                a["decoded"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (request, name) in [
        (0x8008_4B01, "AMDKFD_IOC_GET_VERSION"),
        (0x4008_4B15, "AMDKFD_IOC_ACQUIRE_VM"),
        (0xC028_4B16, "AMDKFD_IOC_ALLOC_MEMORY_OF_GPU"),
        (0xC040_6400, "DRM_IOCTL_VERSION"),
        // strace's amdgpu name says the DRM device is amdgpu's, which its path alone does not.
        (0x4020_6445, "DRM_IOCTL_AMDGPU_INFO"),
        (0x5401, "TCGETS"),
        (0x4C82, "_IO('L', 0x82)"),
        (0x8008_1272, "BLKGETSIZE64"),
        (0x8946, "_IO(0x89, 0x46)"),
    ] {
        assert!(requests.contains(&(request, name.to_string())), "{name}: {requests:?}");
    }
    let amdgpu = classes_named(&t, "ioctl")
        .into_iter()
        .find(|c| c["args"][0]["decoded"] == "DRM_IOCTL_AMDGPU_INFO")
        .map(|c| c["fd"]["family"].clone());
    assert_eq!(amdgpu, Some(json!("amdgpu")));
}

/// strace logs of NVIDIA programs from public bug reports (tests/fixtures/strace/public, sources in its
/// README): excerpts whose fds were mostly opened before the excerpt begins. Every NVIDIA request is named,
/// on its device where the log says it and on an inferred one where it does not.
#[test]
fn public_nvidia_logs_have_every_request_named() {
    let mut report = Vec::new();
    for (name, expected) in [
        ("cuda_checkpoint_cuinit.log", &["NV_ESC_REGISTER_FD", "NV_ESC_RM_CONTROL", "NV_ESC_RM_ALLOC (NVOS64)"][..]),
        ("nvidia_smi_persistenced.log", &["NV_ESC_RM_CONTROL"][..]),
        (
            "vaapi_nvidia.log",
            &[
                "NV_ESC_ALLOC_OS_EVENT",
                "NV_ESC_RM_CONTROL",
                "NV_ESC_RM_ALLOC (NVOS64)",
                "NV_ESC_RM_MAP_MEMORY",
                "NV_ESC_RM_VID_HEAP_CONTROL",
            ][..],
        ),
    ] {
        let (trace, _) = imported(&log(&format!("public/{name}")));
        let nvidia: Vec<&Value> =
            classes_named(&trace, "ioctl").into_iter().filter(|c| c["args"][0]["ioc"]["type"] == json!(0x46)).collect();
        let named: Vec<&str> = nvidia.iter().filter_map(|c| c["args"][0]["decoded"].as_str()).collect();
        for class in &nvidia {
            assert_eq!(class["fd"]["family"], "nvidia-frontend", "{name}: {class}");
        }
        let mut sorted = named.clone();
        sorted.sort();
        let mut want = expected.to_vec();
        want.sort();
        assert_eq!(sorted, want, "{name}");
        let calls: u64 = nvidia.iter().map(|c| count_of(c)).sum();
        report.push(format!("{name}: {calls} NVIDIA calls, all named"));
    }
    eprintln!("{}", report.join("; "));
}
