//! `trapline profile` from the command line, without a container runtime: determinism, ioctl and W^X rules,
//! and refusing bad input (exit 2, one line on stderr, no output file).

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

const MASK_32: u64 = 0xffff_ffff;

fn trapline_profile<I, S>(args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(Command::new(TRAPLINE).arg("profile").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()))
}

/// Records `cmd` into a trace, checks it recorded cleanly, and returns it (its file is `rec.dir/trace.json`).
fn recorded(cmd: &[&str]) -> Recorded {
    let rec = record(cmd);
    assert_eq!(rec.code(), 0, "{cmd:?} failed under trapline record: {}", rec.out.stderr_str());
    check_trace(&rec.trace);
    rec
}

fn trace_path(rec: &Recorded) -> PathBuf {
    rec.dir.join("trace.json")
}

/// `trapline profile TRACES... OPTS... -o <tmp>/profile.json`, which must succeed; returns the parsed profile.
fn profile_of(traces: &[&Recorded], opts: &[&str]) -> Value {
    let dir = TempDir::new("profile-out");
    let out_path = dir.join("profile.json");
    let mut args: Vec<PathBuf> = traces.iter().map(|r| trace_path(r)).collect();
    args.extend(opts.iter().map(PathBuf::from));
    args.push("-o".into());
    args.push(out_path.clone());
    let out = trapline_profile(&args);
    assert_eq!(out.code(), 0, "trapline profile {args:?}: {}", out.stderr_str());
    serde_json::from_slice(&fs::read(&out_path).unwrap()).expect("profile is JSON")
}

fn entries(profile: &Value) -> &Vec<Value> {
    profile["syscalls"].as_array().unwrap_or_else(|| panic!("profile without syscalls: {profile}"))
}

fn names_of(entry: &Value) -> Vec<&str> {
    entry["names"]
        .as_array()
        .unwrap_or_else(|| panic!("entry without names: {entry}"))
        .iter()
        .map(|n| n.as_str().expect("name"))
        .collect()
}

/// Names allowed with any arguments.
fn unconditional_allows(profile: &Value) -> BTreeSet<&str> {
    entries(profile)
        .iter()
        .filter(|e| e["action"] == "SCMP_ACT_ALLOW" && e.get("args").is_none())
        .flat_map(names_of)
        .collect()
}

/// The entries that name `name`.
fn entries_for<'a>(profile: &'a Value, name: &str) -> Vec<&'a Value> {
    entries(profile).iter().filter(|e| names_of(e).contains(&name)).collect()
}

/// For a conditional allow of `name` alone with a single `SCMP_CMP_MASKED_EQ` on argument `index`:
/// `(mask, value)`. Panics on any other shape.
fn masked_eq(entry: &Value, name: &str, index: u64) -> (u64, u64) {
    assert_eq!(names_of(entry), [name], "one name per conditional entry: {entry}");
    assert_eq!(entry["action"], "SCMP_ACT_ALLOW", "{entry}");
    let args = entry["args"].as_array().unwrap_or_else(|| panic!("conditional entry expected: {entry}"));
    assert_eq!(args.len(), 1, "one condition expected: {entry}");
    let a = &args[0];
    assert_eq!(a["op"], "SCMP_CMP_MASKED_EQ", "{entry}");
    assert_eq!(a["index"], index, "{entry}");
    (a["value"].as_u64().expect("value"), a["valueTwo"].as_u64().expect("valueTwo"))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.strip_prefix("0x").expect("0x prefix"), 16).expect("hex")
}

/// The values of argument `arg` over the trace's classes of `syscall`.
fn arg_values(trace: &Value, syscall: &str, arg: &str) -> BTreeSet<u64> {
    classes_named(trace, syscall)
        .iter()
        .flat_map(|c| c["args"].as_array().unwrap())
        .filter(|a| a["name"] == arg)
        .map(|a| hex(a["value"].as_str().expect("value")))
        .collect()
}

/// The `(mask, value)` pairs of the entries for `name`, checking there is no unconditional entry for it and
/// no duplicate entry.
fn conditional_pairs(profile: &Value, name: &str, index: u64) -> BTreeSet<(u64, u64)> {
    assert!(
        !unconditional_allows(profile).contains(name),
        "{name} should only be allowed under conditions: {profile:#}"
    );
    let list = entries_for(profile, name);
    let pairs: BTreeSet<(u64, u64)> = list.iter().map(|e| masked_eq(e, name, index)).collect();
    assert_eq!(pairs.len(), list.len(), "duplicate {name} entries: {list:?}");
    pairs
}

#[test]
fn output_is_identical_for_traces_in_any_order() {
    let a = recorded(&[fixture("profile_ioctl").to_str().unwrap()]);
    let b = recorded(&[fixture("profile_wx").to_str().unwrap()]);
    let c = recorded(&["/bin/sh", "-c", "echo hi | cat >/dev/null; ls / >/dev/null"]);
    let orders: [[&Recorded; 3]; 6] =
        [[&a, &b, &c], [&a, &c, &b], [&b, &a, &c], [&b, &c, &a], [&c, &a, &b], [&c, &b, &a]];
    let dir = TempDir::new("determinism");
    let mut outputs = Vec::new();
    for (i, order) in orders.iter().enumerate() {
        let out_path = dir.join(format!("profile-{i}.json"));
        let mut args: Vec<PathBuf> = order.iter().map(|r| trace_path(r)).collect();
        args.push("-o".into());
        args.push(out_path.clone());
        let out = trapline_profile(&args);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr_str());
        outputs.push((args, fs::read(&out_path).unwrap()));
    }
    // Standard output carries the same bytes as -o.
    let stdout = trapline_profile([trace_path(&c), trace_path(&a), trace_path(&b)]);
    assert_eq!(stdout.code(), 0, "{}", stdout.stderr_str());
    outputs.push((vec!["(stdout)".into()], stdout.stdout));

    let (first_args, first) = &outputs[0];
    serde_json::from_slice::<Value>(first).expect("profile is JSON");
    for (args, bytes) in &outputs[1..] {
        assert!(
            bytes == first,
            "profile of {args:?} differs from that of {first_args:?}:\n{}\n---\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(first)
        );
    }
}

#[test]
fn ioctl_exact_is_one_masked_entry_per_request() {
    let rec = recorded(&[fixture("profile_ioctl").to_str().unwrap()]);
    let requests = arg_values(&rec.trace, "ioctl", "request");
    assert!(
        requests.contains(&0xc0104629) && requests.contains(&0x5401),
        "the trace should hold both requests: {requests:x?}"
    );
    for opts in [&["--runtime", "none"][..], &["--runtime", "none", "--ioctl", "exact"]] {
        let profile = profile_of(&[&rec], opts);
        let pairs = conditional_pairs(&profile, "ioctl", 1);
        let expected: BTreeSet<(u64, u64)> = requests.iter().map(|&r| (MASK_32, r)).collect();
        assert_eq!(pairs, expected, "{opts:?}: {profile:#}");
        // Sign-extended in the register (0xffffffffc0104629) or not, the rule compares the low 32 bits only.
        assert!(pairs.contains(&(4294967295, 0xc0104629)), "{pairs:x?}");
        assert!(pairs.contains(&(4294967295, 0x5401)), "{pairs:x?}");
    }
}

#[test]
fn ioctl_type_is_one_entry_per_type_byte() {
    let rec = recorded(&[fixture("profile_ioctl").to_str().unwrap()]);
    let requests = arg_values(&rec.trace, "ioctl", "request");
    let profile = profile_of(&[&rec], &["--runtime", "none", "--ioctl", "type"]);
    let pairs = conditional_pairs(&profile, "ioctl", 1);
    let expected: BTreeSet<(u64, u64)> = requests.iter().map(|&r| (0xff00, r & 0xff00)).collect();
    assert_eq!(pairs, expected, "{profile:#}");
    assert!(pairs.contains(&(65280, 0x4600)), "'F': {pairs:x?}");
    assert!(pairs.contains(&(65280, 0x5400)), "'T': {pairs:x?}");
}

#[test]
fn ioctl_any_is_unconditional() {
    let rec = recorded(&[fixture("profile_ioctl").to_str().unwrap()]);
    let profile = profile_of(&[&rec], &["--runtime", "none", "--ioctl", "any"]);
    assert!(unconditional_allows(&profile).contains("ioctl"), "{profile:#}");
    let conditional: Vec<&Value> =
        entries_for(&profile, "ioctl").into_iter().filter(|e| e.get("args").is_some()).collect();
    assert!(conditional.is_empty(), "no ioctl conditions expected: {conditional:?}");
}

#[test]
fn writable_and_executable_memory_opens_mmap() {
    let wx = recorded(&[fixture("profile_wx").to_str().unwrap()]);
    assert!(
        arg_values(&wx.trace, "mmap", "prot").contains(&0x7),
        "the trace should hold mmap(PROT_READ|PROT_WRITE|PROT_EXEC): {:#?}",
        classes_named(&wx.trace, "mmap")
    );
    let plain = recorded(&[fixture("profile_ioctl").to_str().unwrap()]);
    assert!(
        arg_values(&plain.trace, "mmap", "prot")
            .iter()
            .chain(&arg_values(&plain.trace, "mprotect", "prot"))
            .all(|p| p & 0x6 != 0x6),
        "the ioctl fixture should never ask for W+X"
    );

    // One run that asked for W+X memory: mmap and mprotect allowed with any prot, and no leftover conditions.
    for traces in [&[&wx][..], &[&plain, &wx]] {
        let profile = profile_of(traces, &["--runtime", "none"]);
        let open = unconditional_allows(&profile);
        for name in ["mmap", "mprotect"] {
            if classes_named(&wx.trace, name).is_empty() {
                continue;
            }
            assert!(open.contains(name), "{name} should be unconditional: {profile:#}");
            assert_eq!(
                entries_for(&profile, name).len(),
                1,
                "{name}: only the unconditional entry expected: {profile:#}"
            );
        }
    }

    // No W+X anywhere: one entry per prot value seen, compared on the low 32 bits.
    let profile = profile_of(&[&plain], &["--runtime", "none"]);
    for name in ["mmap", "mprotect"] {
        let prots = arg_values(&plain.trace, name, "prot");
        assert!(!prots.is_empty(), "the trace should hold {name} calls");
        let expected: BTreeSet<(u64, u64)> = prots.iter().map(|&p| (MASK_32, p)).collect();
        assert_eq!(conditional_pairs(&profile, name, 2), expected, "{name}: {profile:#}");
    }
}

/// Sorted names of the files in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Runs `trapline profile TRACES -o DIR/out.json --explain DIR/out.md` and checks it is refused: exit 2,
/// nothing on stdout, one line on stderr that starts with "trapline: " and contains each of `must`, and
/// nothing written to `dir` (no profile, no report, no temporary file). Returns the line.
fn assert_refused(dir: &TempDir, traces: &[&Path], must: &[&str]) -> String {
    let before = listing(dir.path());
    let out_path = dir.join("out.json");
    let explain_path = dir.join("out.md");
    let mut args: Vec<&OsStr> = traces.iter().map(|p| p.as_os_str()).collect();
    args.extend([OsStr::new("-o"), out_path.as_os_str(), OsStr::new("--explain"), explain_path.as_os_str()]);
    let out = trapline_profile(&args);
    let stderr = out.stderr_str();
    assert_eq!(out.code(), 2, "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout_str());
    assert!(stderr.ends_with('\n') && stderr.lines().count() == 1, "{args:?}: one line expected on stderr: {stderr:?}");
    assert!(stderr.starts_with("trapline: "), "{args:?}: {stderr:?}");
    for m in must {
        assert!(stderr.contains(m), "{args:?}: {m:?} expected in {stderr:?}");
    }
    assert!(!out_path.exists(), "{args:?}: {} written", out_path.display());
    assert!(!explain_path.exists(), "{args:?}: {} written", explain_path.display());
    assert_eq!(listing(dir.path()), before, "{args:?}: files left behind");
    stderr.trim_end().to_string()
}

/// A good trace, copied into `dir` as good.json; returns its path and its text.
fn good_trace(dir: &TempDir) -> (PathBuf, String) {
    let rec = recorded(&["/bin/true"]);
    let text = fs::read_to_string(trace_path(&rec)).unwrap();
    let path = dir.join("good.json");
    fs::write(&path, &text).unwrap();
    (path, text)
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let dir = TempDir::new("bad-json");
    let (good, _) = good_trace(&dir);
    let bad = dir.join("bad.json");
    fs::write(&bad, "{\n  \"schema\": 1,\n  \"run\": oops\n}\n").unwrap();
    let want = format!("{}:3:10: ", bad.display());
    for traces in [&[bad.as_path()][..], &[&good, &bad]] {
        let line = assert_refused(&dir, traces, &[&want]);
        assert!(line.starts_with(&format!("trapline: {want}")), "{line}");
    }
}

#[test]
fn truncated_trace_names_where_it_ends() {
    let dir = TempDir::new("truncated");
    let (good, text) = good_trace(&dir);
    // Cut in the middle, not right after a newline, so that the position is the last line's end.
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) || text.as_bytes()[cut - 1] == b'\n' {
        cut -= 1;
    }
    let head = &text[..cut];
    let line = head.matches('\n').count() + 1;
    let column = head.len() - head.rfind('\n').map_or(0, |i| i + 1);
    let truncated = dir.join("truncated.json");
    fs::write(&truncated, head).unwrap();
    let want = format!("{}:{line}:{column}: ", truncated.display());
    assert_refused(&dir, &[&good, &truncated], &[&want, "EOF"]);

    let empty = dir.join("empty.json");
    fs::write(&empty, "").unwrap();
    assert_refused(&dir, &[&empty], &[&format!("{}:1:0: ", empty.display())]);
}

#[test]
fn newer_schema_asks_for_an_upgrade() {
    let dir = TempDir::new("schema99");
    let (good, text) = good_trace(&dir);
    let mut trace: Value = serde_json::from_str(&text).unwrap();
    trace["schema"] = 99.into();
    let newer = dir.join("newer.json");
    fs::write(&newer, serde_json::to_vec_pretty(&trace).unwrap()).unwrap();
    assert_refused(&dir, &[&good, &newer], &[&newer.display().to_string(), "99", "newer", "upgrade"]);
}

/// A syscall name the trace's architecture does not have is refused, not written into the profile.
#[test]
fn a_made_up_syscall_is_refused() {
    let dir = TempDir::new("made-up");
    let (_, text) = good_trace(&dir);
    let mut trace: Value = serde_json::from_str(&text).unwrap();
    trace["classes"][0]["syscall"] = "frobnicate".into();
    let edited = dir.join("edited.json");
    fs::write(&edited, serde_json::to_vec_pretty(&trace).unwrap()).unwrap();
    assert_refused(&dir, &[&edited], &[&edited.display().to_string(), "frobnicate is no ", native_arch()]);
}

/// The same run given twice would count as two ("seen in 2 of 2"); it is refused, as merge refuses it.
#[test]
fn the_same_run_twice_is_refused() {
    let dir = TempDir::new("twice");
    let (good, text) = good_trace(&dir);
    let copy = dir.join("copy.json");
    fs::write(&copy, text).unwrap();
    assert_refused(&dir, &[&good, &copy], &["is in both", &good.display().to_string(), &copy.display().to_string()]);
    assert_refused(&dir, &[&good, &good], &["is in both"]);
}

#[test]
fn mixed_architectures_are_refused() {
    let dir = TempDir::new("mixed-arch");
    let (good, text) = good_trace(&dir);
    let mut trace: Value = serde_json::from_str(&text).unwrap();
    trace["runs"][0]["arch"] = "aarch64".into();
    let arm = dir.join("arm.json");
    fs::write(&arm, serde_json::to_vec_pretty(&trace).unwrap()).unwrap();
    assert_refused(
        &dir,
        &[&good, &arm],
        &[&good.display().to_string(), &arm.display().to_string(), "aarch64", native_arch()],
    );
}

#[test]
fn no_traces_is_a_usage_error() {
    let dir = TempDir::new("no-traces");
    let out_path = dir.join("out.json");
    let out = trapline_profile([OsStr::new("-o"), out_path.as_os_str()]);
    let stderr = out.stderr_str();
    assert_eq!(out.code(), 2, "{stderr}");
    assert!(out.stdout.is_empty());
    // A usage error is one line, like every other error: what is missing, then the usage.
    assert!(stderr.starts_with("trapline: ") && stderr.lines().count() == 1, "{stderr:?}");
    assert!(stderr.contains("<TRACE>"), "{stderr:?}");
    assert!(!out_path.exists(), "{} written", out_path.display());
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

/// The explain report counts the processes behind a rule once each: a 4-process run never shows more than 4,
/// however many classes (files, protections) one process's calls fall into.
#[test]
fn explain_counts_each_process_once() {
    let rec = recorded(&["/bin/sh", "-c", "/bin/true; /bin/true; /bin/true"]);
    let report = rec.dir.join("p.md");
    let out = trapline_profile([
        trace_path(&rec).as_os_str(),
        OsStr::new("-o"),
        rec.dir.join("p.json").as_os_str(),
        OsStr::new("--explain"),
        report.as_os_str(),
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr_str());
    let text = fs::read_to_string(&report).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split(" | ").collect())
        .filter(|cells: &Vec<&str>| cells.len() == 8 && cells[4].parse::<u64>().is_ok())
        .collect();
    assert!(!rows.is_empty(), "{text}");
    for row in &rows {
        assert!(row[4].parse::<u64>().unwrap() <= 4, "{row:?}");
    }
    let execve = rows.iter().find(|r| r[0] == "| `execve`").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(execve[4], "4", "{execve:?}");
}
