//! What trapline writes never holds what a workload handles: a secret in the environment, in a later argument, in a
//! file the workload reads and writes, sent down a pipe and a socket, naming a memfd, a thread or a missing path.
//! Every output is searched for the secret and its encodings (upper case, hex of its text, base64 of its text and
//! of its bytes, any 12-character piece of it, and the `{"bytes": [...]}` form of JSON texts): the trace with and
//! without `--record-argv` and `--results all`, trapline's own stderr, a profile and its `--explain` report, a
//! merge, an audited run and its trace, and the import of an strace log that is full of the secret. The one
//! exception: with `--record-argv` the argument is in `runs[].command` (and so in the explain report's line for
//! that run), where the user asked for it.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// 32 random lowercase hex digits (16 bytes from the kernel).
fn new_secret() -> (String, Vec<u8>) {
    let mut raw = vec![0u8; 16];
    fs::File::open("/dev/urandom").unwrap().read_exact(&mut raw).unwrap();
    (raw.iter().map(|b| format!("{b:02x}")).collect(), raw)
}

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The secret and what it looks like encoded, each with a label for messages.
struct Needles {
    secret: String,
    forms: Vec<(String, Vec<u8>)>,
}

impl Needles {
    fn new(secret: &str, raw: &[u8]) -> Needles {
        let text = secret.as_bytes();
        let hex_of_text: String = text.iter().map(|b| format!("{b:02x}")).collect();
        let mut forms = vec![
            ("the secret".to_string(), text.to_vec()),
            ("the secret in upper case".to_string(), secret.to_uppercase().into_bytes()),
            ("hex of the secret's text".to_string(), hex_of_text.clone().into_bytes()),
            ("HEX of the secret's text".to_string(), hex_of_text.to_uppercase().into_bytes()),
            ("the secret's raw bytes".to_string(), raw.to_vec()),
        ];
        for (name, bytes) in [("text", text), ("bytes", raw)] {
            for (alphabet, which) in [(STANDARD, "base64"), (URL_SAFE, "base64url")] {
                // Without padding, and without the last 4 characters, which depend on what follows the secret.
                let b64 = base64(bytes, alphabet, false);
                forms.push((format!("{which} of the secret's {name}"), b64.as_bytes()[..b64.len() - 4].to_vec()));
            }
        }
        // base64 of the secret in the middle of other bytes starts at any of 3 alignments.
        for shift in 1..3 {
            let mut shifted = vec![b' '; shift];
            shifted.extend_from_slice(text);
            let b64 = base64(&shifted, STANDARD, false);
            forms.push((format!("base64 of the secret shifted by {shift}"), b64.as_bytes()[4..b64.len() - 4].to_vec()));
        }
        for start in (0..=text.len() - 12).step_by(4) {
            forms.push((format!("characters {start}..{} of the secret", start + 12), text[start..start + 12].to_vec()));
        }
        Needles { secret: secret.to_string(), forms }
    }

    /// Panics if `bytes` (an output called `what`) holds the secret in any form.
    fn assert_absent(&self, bytes: &[u8], what: &str) {
        for (label, needle) in &self.forms {
            if let Some(at) = find(bytes, needle) {
                let context =
                    String::from_utf8_lossy(&bytes[at.saturating_sub(80)..(at + needle.len() + 80).min(bytes.len())]);
                panic!("{what} holds {label} at byte {at}: ...{context}...");
            }
        }
        if let Ok(json) = serde_json::from_slice::<Value>(bytes) {
            self.assert_absent_in_byte_arrays(&json, what, "");
        }
    }

    /// JSON texts that are not UTF-8 are written as `{"bytes": [..]}`: look into every array of small integers.
    fn assert_absent_in_byte_arrays(&self, v: &Value, what: &str, at: &str) {
        match v {
            Value::Array(items) => {
                let bytes: Option<Vec<u8>> =
                    items.iter().map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok())).collect();
                if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
                    self.assert_absent(&bytes, &format!("{what} (the byte array at {at})"));
                }
                for (i, item) in items.iter().enumerate() {
                    self.assert_absent_in_byte_arrays(item, what, &format!("{at}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    self.assert_absent_in_byte_arrays(item, what, &format!("{at}.{k}"));
                }
            }
            _ => {}
        }
    }

    /// How often the plain secret occurs in `bytes`.
    fn occurrences(&self, bytes: &[u8]) -> usize {
        bytes.windows(self.secret.len()).filter(|w| *w == self.secret.as_bytes()).count()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A directory with the input file holding the secret, and the workload's command line.
struct Setup {
    dir: TempDir,
    needles: Needles,
    command: Vec<String>,
}

impl Setup {
    fn new() -> Setup {
        let (secret, raw) = new_secret();
        let dir = TempDir::new("secrets");
        let input = dir.join("input.txt");
        fs::write(&input, format!("token={secret}\n")).unwrap();
        let command = vec![
            fixture("stress_secret").to_str().unwrap().to_string(),
            input.to_str().unwrap().to_string(),
            dir.join("copy.txt").to_str().unwrap().to_string(),
            secret.clone(),
        ];
        Setup { dir, needles: Needles::new(&secret, &raw), command }
    }

    /// `trapline ARGS... -- COMMAND` with the secret in the environment; checks the workload succeeded.
    fn trapline(&self, args: &[&str]) -> Finished {
        let mut cmd = Command::new(TRAPLINE);
        cmd.args(args).arg("--").args(&self.command);
        cmd.env("TRAPLINE_TEST_SECRET", &self.needles.secret).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run(&mut cmd);
        assert_eq!(out.code(), 0, "trapline {args:?}: the workload failed; stderr:\n{}", out.stderr_str());
        assert!(
            fs::read_to_string(self.dir.join("copy.txt")).unwrap().contains(&self.needles.secret),
            "the workload copied the secret"
        );
        out
    }

    /// Records with `opts` into `name`; checks the trace and stderr, and returns the trace's path.
    fn record(&self, opts: &[&str], name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let mut args = vec!["record", "-o", path.to_str().unwrap()];
        args.extend_from_slice(opts);
        let out = self.trapline(&args);
        self.needles.assert_absent(&out.stderr, &format!("trapline record {opts:?}'s stderr"));
        let bytes = fs::read(&path).unwrap();
        let mut trace: Value = serde_json::from_slice(&bytes).unwrap();
        let what = format!("the trace recorded with {opts:?}");
        if opts.contains(&"--record-argv") {
            assert_eq!(trace["runs"][0]["command"], serde_json::json!(self.command), "{what}: the whole argv");
            assert_eq!(self.needles.occurrences(&bytes), 1, "{what}: the argument, once, in runs[0].command");
            trace["runs"][0]["command"] = Value::Null;
            self.needles.assert_absent(
                &serde_json::to_vec_pretty(&trace).unwrap(),
                &format!("{what}, but for runs[0].command"),
            );
        } else {
            assert_eq!(trace["runs"][0]["command"], serde_json::json!([self.command[0]]), "{what}: argv[0] only");
            self.needles.assert_absent(&bytes, &what);
        }
        path
    }
}

fn trapline_ok(args: &[&Path]) -> Finished {
    let out = run(Command::new(TRAPLINE).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "trapline {args:?}: {}", out.stderr_str());
    out
}

#[test]
fn recorded_traces_hold_no_secret_with_or_without_results_all() {
    let s = Setup::new();
    s.record(&[], "auto.json");
    s.record(&["--results", "all"], "all.json");
}

#[test]
fn record_argv_keeps_the_argument_in_the_command_and_nowhere_else() {
    let s = Setup::new();
    s.record(&["--record-argv"], "argv.json");
    s.record(&["--record-argv", "--results", "all"], "argv-all.json");
}

#[test]
fn profiles_explain_reports_and_merges_hold_no_secret() {
    let s = Setup::new();
    let plain = [s.record(&[], "auto.json"), s.record(&["--results", "all"], "all.json")];
    let argv =
        [s.record(&["--record-argv"], "argv.json"), s.record(&["--record-argv", "--results", "all"], "argv-all.json")];
    let n = &s.needles;

    // From traces without argv: nothing anywhere.
    let (profile, explain, merged) = (s.dir.join("p.json"), s.dir.join("p.md"), s.dir.join("m.json"));
    let out = trapline_ok(&[
        Path::new("profile"),
        &plain[0],
        &plain[1],
        Path::new("-o"),
        &profile,
        Path::new("--explain"),
        &explain,
    ]);
    n.assert_absent(&out.stderr, "trapline profile's stderr");
    n.assert_absent(&fs::read(&profile).unwrap(), "the profile");
    n.assert_absent(&fs::read(&explain).unwrap(), "the explain report");
    let out = trapline_ok(&[Path::new("merge"), &plain[0], &plain[1], Path::new("-o"), &merged]);
    n.assert_absent(&out.stderr, "trapline merge's stderr");
    n.assert_absent(&fs::read(&merged).unwrap(), "the merge");

    // With --record-argv runs among them: the profile still holds nothing; the merge and the explain report hold
    // the argument only where they repeat a run's command line.
    let all = [&plain[0], &plain[1], &argv[0], &argv[1]];
    let mut args: Vec<&Path> = vec![Path::new("profile")];
    args.extend(all.iter().map(|p| p.as_path()));
    args.extend([Path::new("-o"), &profile, Path::new("--explain"), &explain]);
    let out = trapline_ok(&args);
    n.assert_absent(&out.stderr, "trapline profile's stderr (argv traces)");
    n.assert_absent(&fs::read(&profile).unwrap(), "the profile of argv traces");
    let report = fs::read_to_string(&explain).unwrap();
    let (with, without): (Vec<&str>, Vec<&str>) = report.lines().partition(|l| l.contains(&n.secret));
    assert_eq!(with.len(), 2, "the explain report names the secret once per --record-argv run:\n{report}");
    for line in &with {
        let arg = &s.command[..].join(" ");
        assert!(line.contains(arg.as_str()), "only as part of the run's command line: {line}");
    }
    n.assert_absent(without.join("\n").as_bytes(), "the explain report, but for the argv runs' lines");

    let mut args: Vec<&Path> = vec![Path::new("merge")];
    args.extend(all.iter().map(|p| p.as_path()));
    args.extend([Path::new("-o"), &merged]);
    let out = trapline_ok(&args);
    n.assert_absent(&out.stderr, "trapline merge's stderr (argv traces)");
    let bytes = fs::read(&merged).unwrap();
    assert_eq!(n.occurrences(&bytes), 2, "the merge keeps the two argv runs' command lines");
    let mut merged: Value = serde_json::from_slice(&bytes).unwrap();
    for run in merged["runs"].as_array_mut().unwrap() {
        run["command"] = Value::Null;
    }
    n.assert_absent(&serde_json::to_vec(&merged).unwrap(), "the merge, but for runs[].command");
}

#[test]
fn audited_runs_hold_no_secret() {
    let s = Setup::new();
    let trace = s.record(&[], "auto.json");
    // A profile that allows too little (no write), so the audit has something to report, with executables.
    let profile = s.dir.join("p.json");
    trapline_ok(&[Path::new("profile"), &trace, Path::new("--runtime"), Path::new("none"), Path::new("-o"), &profile]);
    let mut p: Value = serde_json::from_slice(&fs::read(&profile).unwrap()).unwrap();
    for rule in p["syscalls"].as_array_mut().unwrap() {
        rule["names"].as_array_mut().unwrap().retain(|n| n != "write" && n != "read");
    }
    fs::write(&profile, serde_json::to_vec(&p).unwrap()).unwrap();
    let audit = s.dir.join("audit.json");
    let out = s.trapline(&["run", "--profile", profile.to_str().unwrap(), "--audit", "-o", audit.to_str().unwrap()]);
    assert!(out.stderr_str().contains("would deny"), "{}", out.stderr_str());
    s.needles.assert_absent(&out.stderr, "trapline run --audit's report");
    s.needles.assert_absent(&fs::read(&audit).unwrap(), "the audit trace");
}

#[test]
fn strace_import_holds_no_secret() {
    let s = Setup::new();
    let log = s.dir.join("strace.log");
    // -v -s 4096: the log holds the whole environment, argv and every buffer, secret included.
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-v", "-s", "4096", "-y", "-o"]).arg(&log).arg("--").args(&s.command);
    cmd.env("TRAPLINE_TEST_SECRET", &s.needles.secret).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run(&mut cmd);
    assert_eq!(out.code(), 0, "strace: {}", out.stderr_str());
    assert!(s.needles.occurrences(&fs::read(&log).unwrap()) >= 5, "the log is full of the secret");
    let trace = s.dir.join("imported.json");
    let out = trapline_ok(&[Path::new("import"), Path::new("strace"), &log, Path::new("-o"), &trace]);
    s.needles.assert_absent(&out.stderr, "trapline import's stderr");
    s.needles.assert_absent(&fs::read(&trace).unwrap(), "the imported trace");
}

#[test]
fn the_search_finds_every_encoding() {
    let (secret, raw) = new_secret();
    let n = Needles::new(&secret, &raw);
    let text = secret.as_bytes();
    let hex: String = text.iter().map(|b| format!("{b:02X}")).collect();
    let bytes_form = serde_json::to_vec_pretty(&serde_json::json!({"path": {"bytes": text}})).unwrap();
    let leaks: Vec<(&str, Vec<u8>)> = vec![
        ("plain", format!("x = {secret};").into_bytes()),
        ("upper case", secret.to_uppercase().into_bytes()),
        ("truncated", format!("\"{}\"", &secret[5..20]).into_bytes()),
        ("hex of the text", hex.into_bytes()),
        ("base64", base64(format!("ab{secret}cd").as_bytes(), STANDARD, true).into_bytes()),
        ("base64 of the bytes", base64(&raw, URL_SAFE, false).into_bytes()),
        ("a JSON byte array", bytes_form),
    ];
    for (what, leak) in leaks {
        let caught = std::panic::catch_unwind(|| n.assert_absent(&leak, what));
        assert!(caught.is_err(), "the search misses the secret as {what}: {}", String::from_utf8_lossy(&leak));
    }
    n.assert_absent(b"{\"schema\": 1, \"id\": \"5f2c9a1e07b3d4c8\"}", "an unrelated document");
}

#[test]
fn replacing_a_private_trace_keeps_it_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    // A trace recorded with --record-argv holds the secret argument; its owner made the file private.
    let path = s.dir.join("private.json");
    fs::write(&path, "{}\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    s.trapline(&["record", "--record-argv", "-q", "-o", path.to_str().unwrap()]);
    assert_eq!(s.needles.occurrences(&fs::read(&path).unwrap()), 1, "the argument is in the trace");
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the new trace replaced a private file and is readable by others: {mode:o}");
    // The same for a merge written over a private file.
    let merged = s.dir.join("merged.json");
    fs::write(&merged, "{}\n").unwrap();
    fs::set_permissions(&merged, fs::Permissions::from_mode(0o600)).unwrap();
    trapline_ok(&[Path::new("merge"), &path, Path::new("-o"), &merged]);
    let mode = fs::metadata(&merged).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the merge replaced a private file and is readable by others: {mode:o}");
}
