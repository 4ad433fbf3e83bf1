//! `trapline lint`: what each consumer of a seccomp profile (libseccomp, runc, containerd, Docker, glibc, the
//! Kubernetes KEP-6061 validation) will do with it, found before a node does.
//!
//! Input is a runtime-spec `linux.seccomp` object, a bundle `config.json` holding one, or a Security Profiles
//! Operator `SeccompProfile` object (its `spec`). The profile is read as plain JSON, not as the typed
//! [`super::oci::Seccomp`]: unknown keys, wrong types and unknown strings become findings with a location,
//! and no input makes lint panic.
//!
//! Each check is one function whose comment names the consumer it protects. The libseccomp check builds the
//! filter for real, per architecture, with this machine's libseccomp (as runc and crun would on a node).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Once;

use crate::trace::read::strip_position;
use libseccomp::error::{SeccompErrno, SeccompError};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall, ScmpVersion};
use nix::sys::memfd::{MFdFlags, memfd_create};
use serde_json::{Map, Value};

use super::generate::MAX_ENTRIES_PER_SYSCALL;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A consumer refuses the profile, or the profile does something other than it says.
    Error,
    /// Works, but some consumer drops, skips or refuses part of it, or it protects less than it could.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, at a JSON path a person can find (`syscalls[3].args[0]`, `linux.seccomp.defaultAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub location: String,
    /// What breaks, in which consumer, and the fix.
    pub message: String,
}

/// `LOCATION: severity: message`; the CLI puts `PATH: ` in front.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error(
        "{path}:{line}:{column}: {what}; is this a seccomp profile in JSON? (convert a YAML SeccompProfile \
         with `kubectl get seccompprofile NAME -o json`)"
    )]
    Json { path: PathBuf, line: usize, column: usize, what: String },
    #[error(
        "{path}: {what}; expected an OCI seccomp profile (with defaultAction), a runtime config.json with \
         linux.seccomp, or a SeccompProfile object"
    )]
    NotSeccomp { path: PathBuf, what: String },
}

/// Lints one file. `Ok` with no findings means clean.
pub fn lint_file(path: &Path) -> Result<Vec<Finding>, LintError> {
    let bytes = std::fs::read(path).map_err(|error| LintError::Io { path: path.to_path_buf(), error })?;
    lint_bytes(path, &bytes)
}

/// Lints a profile held in memory; `path` only names it in errors.
pub fn lint_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<Finding>, LintError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| LintError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        what: strip_position(&e.to_string()),
    })?;
    if let Some(findings) = super::podspec::lint_workload(&value) {
        return Ok(findings);
    }
    let (object, prefix, kind) =
        locate(&value).map_err(|what| LintError::NotSeccomp { path: path.to_path_buf(), what: what.to_string() })?;
    let mut out = Out { prefix, findings: Vec::new() };
    let profile = read_profile(object, kind, &mut out);
    check_strings(&profile, &mut out);
    check_libseccomp(&profile, &mut out);
    check_mask_zero(&profile, &mut out);
    check_notify(&profile, &mut out);
    check_foreign_keys(&profile, &mut out);
    check_entries_per_syscall(&profile, &mut out);
    check_default_allow(&profile, &mut out);
    check_clone3(&profile, &mut out);
    check_ioctl_request_width(&profile, &mut out);
    Ok(out.finish())
}

/// Where the seccomp object came from: the keys it may hold besides the runtime-spec ones differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Bundle,
    SeccompProfile,
}

/// Finds the seccomp object in a plain profile, a bundle config or a SeccompProfile, with the prefix its
/// locations get.
fn locate(value: &Value) -> Result<(&Map<String, Value>, &'static str, Kind), &'static str> {
    let top = value.as_object().ok_or("the top level is not a JSON object")?;
    let api = top.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api.starts_with("security-profiles-operator.x-k8s.io/") {
        if top.get("kind").and_then(Value::as_str) != Some("SeccompProfile") {
            return Err("a Security Profiles Operator object that is not of kind SeccompProfile");
        }
        let spec = top.get("spec").and_then(Value::as_object);
        return Ok((spec.ok_or("a SeccompProfile without a spec object")?, "spec.", Kind::SeccompProfile));
    }
    if let Some(linux) = top.get("linux") {
        return match linux.get("seccomp").and_then(Value::as_object) {
            Some(seccomp) => Ok((seccomp, "linux.seccomp.", Kind::Bundle)),
            None => Err("a runtime config.json without a linux.seccomp object: nothing to lint"),
        };
    }
    if top.contains_key("defaultAction") || top.contains_key("syscalls") {
        return Ok((top, "", Kind::Plain));
    }
    Err("no defaultAction or syscalls at the top level")
}

/// Findings as they are made; locations get the prefix of where the seccomp object sits.
struct Out {
    prefix: &'static str,
    findings: Vec<Finding>,
}

impl Out {
    fn push(&mut self, severity: Severity, location: &str, message: String) {
        self.findings.push(Finding { severity, location: format!("{}{location}", self.prefix), message });
    }

    fn error(&mut self, location: &str, message: String) {
        self.push(Severity::Error, location, message);
    }

    fn warning(&mut self, location: &str, message: String) {
        self.push(Severity::Warning, location, message);
    }

    /// In profile order (`syscalls[2]` before `syscalls[10]`), without repeats.
    fn finish(mut self) -> Vec<Finding> {
        self.findings.sort_by_cached_key(|f| order_key(&f.location));
        self.findings.dedup();
        self.findings
    }
}

/// The location with every number zero-padded, so that string order is profile order.
fn order_key(location: &str) -> String {
    let mut key = String::new();
    let mut digits = String::new();
    for c in location.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            key.push_str(&format!("{digits:0>20}"));
            digits.clear();
        }
        key.push(c);
    }
    key
}

// ---------------------------------------------------------------------------------------------------------
// Reading: what has the right type, by position. Wrong types are reported once, here; the checks skip what
// is missing.

/// containerd and runc unmarshal into Go structs: a wrong type fails the whole profile.
const WRONG_TYPE: &str = "containerd and runc cannot parse the profile, so the container does not start";

struct Profile<'a> {
    object: &'a Map<String, Value>,
    kind: Kind,
    default_action: Option<&'a str>,
    default_errno: Option<u64>,
    architectures: Vec<(usize, &'a str)>,
    flags: Vec<(usize, &'a str)>,
    entries: Vec<Entry<'a>>,
}

struct Entry<'a> {
    /// `syscalls[i]`.
    loc: String,
    object: &'a Map<String, Value>,
    names: Vec<(usize, &'a str)>,
    action: Option<&'a str>,
    errno_ret: Option<u64>,
    args: Vec<Arg<'a>>,
    /// Whether every element of `args` was an object (else the entry cannot be compiled).
    args_whole: bool,
}

struct Arg<'a> {
    /// `syscalls[i].args[j]`.
    loc: String,
    object: &'a Map<String, Value>,
    index: Option<u64>,
    value: Option<u64>,
    value_two: Option<u64>,
    op: Option<&'a str>,
}

impl Arg<'_> {
    /// A comparison libseccomp can take; `None` when a part is missing or malformed.
    fn compare(&self) -> Option<ScmpArgCompare> {
        let index = u32::try_from(self.index?).ok()?;
        let (value, value_two) = (self.value?, self.value_two?);
        let op = match self.op? {
            "SCMP_CMP_MASKED_EQ" => {
                return Some(ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), value_two));
            }
            other => ScmpCompareOp::from_str(other).ok()?,
        };
        Some(ScmpArgCompare::new(index, op, value))
    }
}

/// What a missing action or operator does (Go consumers read it as the empty string).
const REFUSED: &str = "runc and crun refuse the profile";
const U32: u64 = u32::MAX as u64;

fn read_profile<'a>(object: &'a Map<String, Value>, kind: Kind, out: &mut Out) -> Profile<'a> {
    require(object, "", "defaultAction", REFUSED, out);
    let mut entries = Vec::new();
    for (i, item) in array(object, "", "syscalls", out).iter().enumerate() {
        let loc = format!("syscalls[{i}]");
        match item.as_object() {
            Some(entry) => entries.push(read_entry(loc, entry, out)),
            None => wrong_type(&loc, "an object", item, out),
        }
    }
    string(object, "", "listenerPath", out);
    string(object, "", "listenerMetadata", out);
    Profile {
        object,
        kind,
        default_action: string(object, "", "defaultAction", out),
        default_errno: uint(object, "", "defaultErrnoRet", U32, out),
        architectures: strings(object, "", "architectures", out),
        flags: strings(object, "", "flags", out),
        entries,
    }
}

fn read_entry<'a>(loc: String, object: &'a Map<String, Value>, out: &mut Out) -> Entry<'a> {
    let no_names = if object.contains_key("name") {
        "the entry matches nothing (containerd and runc skip it); write the old `name` as `names: [..]`"
    } else {
        "the entry matches nothing (containerd and runc skip it; the runtime-spec schema requires it)"
    };
    require(object, &loc, "names", no_names, out);
    if matches!(field(object, "names"), Some(Value::Array(a)) if a.is_empty()) {
        out.warning(
            &format!("{loc}.names"),
            "names is empty: the entry does nothing (the runtime-spec schema asks for at least one \
             name); add the names or drop the entry"
                .to_string(),
        );
    }
    require(object, &loc, "action", REFUSED, out);
    let mut args = Vec::new();
    let mut args_whole = true;
    for (j, item) in array(object, &loc, "args", out).iter().enumerate() {
        let arg_loc = format!("{loc}.args[{j}]");
        let Some(arg) = item.as_object() else {
            wrong_type(&arg_loc, "an object", item, out);
            args_whole = false;
            continue;
        };
        let zero = "containerd and runc read it as 0";
        require(arg, &arg_loc, "index", zero, out);
        require(arg, &arg_loc, "value", zero, out);
        require(arg, &arg_loc, "op", REFUSED, out);
        let value_two = match field(arg, "valueTwo") {
            None => Some(0), // optional: 0 when absent
            Some(_) => uint(arg, &arg_loc, "valueTwo", u64::MAX, out),
        };
        args.push(Arg {
            index: uint(arg, &arg_loc, "index", U32, out),
            value: uint(arg, &arg_loc, "value", u64::MAX, out),
            value_two,
            op: string(arg, &arg_loc, "op", out),
            loc: arg_loc,
            object: arg,
        });
    }
    Entry {
        names: strings(object, &loc, "names", out),
        action: string(object, &loc, "action", out),
        errno_ret: uint(object, &loc, "errnoRet", U32, out),
        loc,
        object,
        args,
        args_whole,
    }
}

/// A present, non-null field (Go's unmarshal treats null as absent).
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

/// Reports a missing field, with what its absence does.
fn require(object: &Map<String, Value>, base: &str, key: &str, effect: &str, out: &mut Out) {
    if field(object, key).is_none() {
        out.error(&key_loc(base, key), format!("{key} is missing: {effect}; set it"));
    }
}

fn wrong_type(loc: &str, want: &str, value: &Value, out: &mut Out) {
    out.error(loc, format!("expected {want}, found {}: {WRONG_TYPE}", found(value)));
}

/// A string field; `None` when absent or (reported) of another type.
fn string<'a>(object: &'a Map<String, Value>, base: &str, key: &str, out: &mut Out) -> Option<&'a str> {
    match field(object, key)? {
        Value::String(s) => Some(s),
        other => {
            wrong_type(&key_loc(base, key), "a string", other, out);
            None
        }
    }
}

/// An unsigned integer field of at most `max`; `None` when absent or (reported) anything else.
fn uint(object: &Map<String, Value>, base: &str, key: &str, max: u64, out: &mut Out) -> Option<u64> {
    let value = field(object, key)?;
    match value.as_u64() {
        Some(n) if n <= max => Some(n),
        _ => {
            // A negative number has the same bits as a large unsigned one, which is what Go's uint64 wants.
            let hint = match value.as_i64() {
                Some(n) if n < 0 && max == u64::MAX => format!("; write {n} as {}", n as u64),
                _ => String::new(),
            };
            out.error(
                &key_loc(base, key),
                format!("expected an unsigned integer of at most {max}, found {}: {WRONG_TYPE}{hint}", found(value)),
            );
            None
        }
    }
}

/// An array field; empty when absent or (reported) of another type.
fn array<'a>(object: &'a Map<String, Value>, base: &str, key: &str, out: &mut Out) -> &'a [Value] {
    match field(object, key) {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            wrong_type(&key_loc(base, key), "an array", other, out);
            &[]
        }
    }
}

/// The strings of an array field, by position; other elements are reported.
fn strings<'a>(object: &'a Map<String, Value>, base: &str, key: &str, out: &mut Out) -> Vec<(usize, &'a str)> {
    let loc = key_loc(base, key);
    let mut result = Vec::new();
    for (i, item) in array(object, base, key, out).iter().enumerate() {
        match item.as_str() {
            Some(s) => result.push((i, s)),
            None => wrong_type(&format!("{loc}[{i}]"), "a string", item, out),
        }
    }
    result
}

/// A short rendering of a JSON value for messages.
fn found(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("the string {:?}...", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// `base.key`, or `base["key"]` when the key is not a plain word.
fn key_loc(base: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", serde_json::to_string(key).unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The vocabulary of the runtime-spec (config-linux.md).

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

const OPS: &[&str] =
    &["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

const ARCHES: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

const EPERM: u64 = 1;
const ENOSYS: u64 = 38;
/// The largest errno libseccomp accepts for SCMP_ACT_ERRNO.
const MAX_ERRNO: u64 = 4094;
/// The kernel refuses longer classic BPF programs (BPF_MAXINSNS).
const BPF_MAXINSNS: u64 = 4096;
const BPF_INSN_BYTES: u64 = 8;
const LOW_32_BITS: u64 = 0xffff_ffff;
/// ioctl's request argument.
const IOCTL_REQUEST: u64 = 1;

/// The libseccomp action a runtime builds from an action string and its errno, as runc does: the errno
/// (EPERM when absent) is cut to 16 bits.
fn scmp_action(name: &str, errno: Option<u64>) -> Option<ScmpAction> {
    let data = errno.unwrap_or(EPERM) & 0xffff;
    Some(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(data as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(data as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------------------
// The checks.

/// runc and crun refuse unknown action, operator, architecture and flag strings; KEP-6061 validation
/// refuses unknown architectures, flags and operators.
fn check_strings(p: &Profile, out: &mut Out) {
    let mut unknown = |loc: &str, what: &str, value: &str, known: &[&str]| {
        if !known.contains(&value) {
            out.error(
                loc,
                format!(
                    "unknown {what} {value:?}: runc and crun refuse the profile (KEP-6061 validation too); \
                     use one of {}",
                    known.join(", ")
                ),
            );
        }
    };
    if let Some(action) = p.default_action {
        unknown("defaultAction", "action", action, ACTIONS);
    }
    for (i, arch) in &p.architectures {
        unknown(&format!("architectures[{i}]"), "architecture", arch, ARCHES);
    }
    for (i, flag) in &p.flags {
        unknown(&format!("flags[{i}]"), "flag", flag, FLAGS);
    }
    for e in &p.entries {
        if let Some(action) = e.action {
            unknown(&format!("{}.action", e.loc), "action", action, ACTIONS);
        }
        for a in &e.args {
            if let Some(op) = a.op {
                unknown(&format!("{}.op", a.loc), "operator", op, OPS);
            }
        }
    }
}

/// libseccomp (inside runc and crun): builds the filter per architecture, as the runtime will, and reports
/// what libseccomp refuses, names it does not know for an architecture (runc skips those silently), and
/// filters longer than the kernel loads.
fn check_libseccomp(p: &Profile, out: &mut Out) {
    let Some(default) = p.default_action.and_then(|a| scmp_action(a, p.default_errno)) else {
        return; // missing or unknown: reported already
    };
    assume_current_kernel_api();
    let version =
        ScmpVersion::current().map(|v| format!("libseccomp {v}")).unwrap_or_else(|_| "libseccomp".to_string());
    let native = ScmpArch::native();
    let arches: Vec<(String, ScmpArch)> = if p.architectures.is_empty() {
        vec![(arch_name(native), native)]
    } else {
        p.architectures
            .iter()
            .filter_map(|(_, name)| Some((name.to_string(), ScmpArch::from_str(name).ok()?)))
            .filter(|(name, _)| ARCHES.contains(&name.as_str()))
            .collect()
    };
    // A repeated arch would build the same filter again.
    let mut arches = arches;
    let mut seen = Vec::new();
    arches.retain(|(_, arch)| {
        !seen.contains(arch) && {
            seen.push(*arch);
            true
        }
    });

    // (location, what) -> the architectures it happened on, so a multi-arch profile gets one finding.
    let mut refused: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    // Names libseccomp knows on no architecture, by location; names not on one architecture, by (entry, arch).
    let mut unknown: BTreeMap<String, &str> = BTreeMap::new();
    let mut not_on: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new(); // (entry, name) -> arches
    for (arch_label, arch) in &arches {
        let mut ctx = match ScmpFilterContext::new(default) {
            Ok(ctx) => ctx,
            Err(e) => {
                match errno_too_big(p.default_action, p.default_errno) {
                    Some(errno) => out.error("defaultErrnoRet", format!("{version} {}", errno_range(errno))),
                    None => out.error(
                        "defaultAction",
                        format!(
                            "{version} refuses this default action ({}): runc fails to start the \
                             container",
                            errno_text(&e)
                        ),
                    ),
                }
                return;
            }
        };
        if *arch != native {
            let added = ctx.add_arch(*arch).and_then(|c| c.remove_arch(ScmpArch::Native));
            if let Err(e) = added {
                let i = p.architectures.iter().find(|(_, n)| n == arch_label).map_or(0, |(i, _)| *i);
                out.error(
                    &format!("architectures[{i}]"),
                    format!(
                        "{version} cannot build a filter for {arch_label} ({}): runc fails to start the container \
                         where its libseccomp is as old; drop the architecture or upgrade libseccomp",
                        errno_text(&e)
                    ),
                );
                continue;
            }
        }
        // runc turns on libseccomp's binary tree for longer rule sets; the length check must see the same.
        if p.entries.len() > 32 {
            let _ = ctx.set_ctl_optimize(2);
        }
        for e in &p.entries {
            let Some(action) = e.action.and_then(|a| scmp_action(a, e.errno_ret)) else {
                continue;
            };
            let conditions: Option<Vec<ScmpArgCompare>> = e.args.iter().map(Arg::compare).collect();
            let (Some(conditions), true) = (conditions, e.args_whole) else {
                continue; // malformed: reported already
            };
            for (k, name) in &e.names {
                // libseccomp takes rule numbers in the native arch's terms and translates them per filter arch.
                let Ok(nr) = ScmpSyscall::from_name(name) else {
                    unknown.insert(format!("{}.names[{k}]", e.loc), name);
                    continue;
                };
                let on_arch =
                    ScmpSyscall::from_name_by_arch_rewrite(name, *arch).is_ok_and(|nr| nr.as_raw_syscall() >= 0);
                if !on_arch {
                    not_on.entry((&e.loc, name)).or_default().push(arch_label);
                    continue;
                }
                if let Err(err) = ctx.add_rule_conditional(action, nr, &conditions) {
                    let (loc, what) = refusal(e, *k, name, &err, &version);
                    refused.entry((loc, what)).or_default().insert(arch_label);
                }
            }
        }
        match exported_len(&ctx) {
            Ok(len) if len / BPF_INSN_BYTES > BPF_MAXINSNS => out.error(
                "syscalls",
                format!(
                    "the filter for {arch_label} is {} BPF instructions; the kernel loads at most {BPF_MAXINSNS}, \
                     so runc fails with EINVAL: fewer conditions (`trapline profile --ioctl type`) make it shorter",
                    len / BPF_INSN_BYTES
                ),
            ),
            Ok(_) => {}
            Err(e) => out.error(
                "syscalls",
                format!("{version} cannot export the filter for {arch_label} ({e}): runc fails to start the container"),
            ),
        }
    }
    for ((loc, what), arches) in refused {
        out.error(&loc, format!("{what} (compiling for {})", arches.into_iter().collect::<Vec<_>>().join(", ")));
    }
    let default_name = p.default_action.unwrap_or("the default action");
    for (loc, name) in unknown {
        out.warning(
            &loc,
            format!(
                "{version} knows no syscall {name:?} on any architecture: runc skips the name silently, so the \
                 call gets {default_name}; check the spelling, or, for a syscall newer than libseccomp (457 and \
                 up for 2.5.4), upgrade libseccomp on the nodes"
            ),
        );
    }
    // A name missing on some of the listed architectures is normal in a profile written for several (x86_64's
    // newfstatat is fstatat64 on i386); one missing on all of them can never match anything.
    for ((entry, name), missing_on) in not_on {
        if missing_on.len() < arches.len() {
            continue;
        }
        out.warning(
            &format!("{entry}.names"),
            format!(
                "{name:?} is not a syscall on {}: libseccomp skips it silently, so that call gets \
                 {default_name}; use the architecture's own name",
                missing_on.join(", ")
            ),
        );
    }
}

/// libseccomp asks the running kernel which actions it supports (its API level) and refuses the others.
/// lint judges the profile, not this machine: where seccomp is hidden (some sandboxes), it assumes the
/// level of a current kernel. It never loads a filter, and where the kernel answers it changes nothing.
fn assume_current_kernel_api() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if libseccomp::get_api() < 6 {
            let _ = libseccomp::set_api(6);
        }
    });
}

/// The runtime-spec name of a libseccomp architecture.
fn arch_name(arch: ScmpArch) -> String {
    ARCHES
        .iter()
        .find(|name| ScmpArch::from_str(name).ok() == Some(arch))
        .map_or_else(|| format!("{arch:?}"), |name| name.to_string())
}

/// `EINVAL: Invalid input to the libseccomp API`.
fn errno_text(e: &SeccompError) -> String {
    match e.errno() {
        Some(errno) => format!("{errno:?}: {e}"),
        None => e.to_string(),
    }
}

/// The 16 bits of an SCMP_ACT_ERRNO errno that libseccomp refuses (it takes 0 to 4094), if it does.
fn errno_too_big(action: Option<&str>, errno: Option<u64>) -> Option<u64> {
    let data = errno.unwrap_or(EPERM) & 0xffff;
    (action == Some("SCMP_ACT_ERRNO") && data > MAX_ERRNO).then_some(data)
}

fn errno_range(errno: u64) -> String {
    format!(
        "refuses errno {errno} (EINVAL): it takes 0 to {MAX_ERRNO} (runc cuts the value to 16 bits first), so \
         runc fails to start the container; use an errno from errno(3)"
    )
}

/// Where a refused rule is wrong and why, with the fix.
fn refusal(e: &Entry, name_at: usize, name: &str, err: &SeccompError, version: &str) -> (String, String) {
    let mut seen = [false; 6];
    let repeated = e.args.iter().filter_map(|a| a.index).find(|&i| {
        let slot = usize::try_from(i).ok().and_then(|i| seen.get_mut(i));
        slot.is_some_and(|s| std::mem::replace(s, true))
    });
    let out_of_range = e.args.iter().find(|a| a.index.is_some_and(|i| i > 5));
    let loc = |field: &str| format!("{}.{field}", e.loc);
    match err.errno() {
        Some(SeccompErrno::EACCES) => (
            loc("action"),
            format!(
                "the entry's action is the default action: {version} refuses such a rule (EACCES) and \
                 runc skips it silently; leave the entry out"
            ),
        ),
        Some(SeccompErrno::EINVAL) if errno_too_big(e.action, e.errno_ret).is_some() => {
            let errno = errno_too_big(e.action, e.errno_ret).unwrap_or_default();
            (loc("errnoRet"), format!("{version} {}", errno_range(errno)))
        }
        Some(SeccompErrno::EINVAL) if out_of_range.is_some() => {
            let arg = out_of_range.map_or(e.loc.as_str(), |a| a.loc.as_str());
            let index = out_of_range.and_then(|a| a.index).unwrap_or_default();
            (
                format!("{arg}.index"),
                format!(
                    "argument index {index} does not exist (syscalls have arguments 0 to 5): {version} \
                     (EINVAL) and runc refuse it; fix the index"
                ),
            )
        }
        Some(SeccompErrno::EINVAL) if repeated.is_some() => {
            let index = repeated.unwrap_or_default();
            (
                loc("args"),
                format!(
                    "args compare argument {index} more than once: {version} refuses it (EINVAL), and \
                     runc then adds each comparison as a rule of its own, so the AND becomes an OR and the \
                     entry allows more than it says; put each comparison of argument {index} in an entry \
                     of its own"
                ),
            )
        }
        Some(SeccompErrno::EEXIST) => (
            format!("{}.names[{name_at}]", e.loc),
            format!(
                "an earlier entry gives {name:?} another action under the same conditions: {version} \
                 refuses it (EEXIST) and runc fails to start the container; keep one of them"
            ),
        ),
        _ => (
            e.loc.clone(),
            format!("{version} refuses the rule for {name:?} ({}): runc fails to start the container", errno_text(err)),
        ),
    }
}

/// The size of the exported BPF program, in bytes.
fn exported_len(ctx: &ScmpFilterContext) -> Result<u64, String> {
    let fd = memfd_create(c"trapline-lint", MFdFlags::MFD_CLOEXEC).map_err(|e| e.to_string())?;
    ctx.export_bpf(&fd).map_err(|e| errno_text(&e))?;
    let len = File::from(fd).metadata().map_err(|e| e.to_string())?.len();
    Ok(len)
}

/// Every consumer: MASKED_EQ is `(arg & value) == valueTwo`, so a mask (`value`) of 0 makes the condition
/// always true (or, with a non-zero `valueTwo`, never true). Usually `value` and `valueTwo` were swapped.
fn check_mask_zero(p: &Profile, out: &mut Out) {
    for a in p.entries.iter().flat_map(|e| &e.args) {
        if a.op != Some("SCMP_CMP_MASKED_EQ") || a.value != Some(0) {
            continue;
        }
        let effect = match a.value_two {
            Some(0) => "(arg & 0) == 0 holds for every value: the condition allows any value",
            _ => "(arg & 0) never equals a non-zero valueTwo: the entry never matches",
        };
        out.error(
            &format!("{}.value", a.loc),
            format!(
                "SCMP_CMP_MASKED_EQ with mask 0: {effect}; `value` is the mask and `valueTwo` the expected \
                 value (for a 32-bit argument: value 4294967295, valueTwo the value)"
            ),
        );
    }
}

/// runc refuses SCMP_ACT_NOTIFY as the default action and on `write`; every NOTIFY needs a listener, and
/// KEP-6061 OCI-artifact profiles refuse NOTIFY and listenerPath.
fn check_notify(p: &Profile, out: &mut Out) {
    const NOTIFY: &str = "SCMP_ACT_NOTIFY";
    const KEP: &str = "KEP-6061 OCI-artifact profiles refuse it";
    if p.default_action == Some(NOTIFY) {
        out.error(
            "defaultAction",
            format!(
                "SCMP_ACT_NOTIFY as the default action: runc refuses it (it must write the notify fd to its \
                 parent), and {KEP}; use SCMP_ACT_ERRNO or SCMP_ACT_LOG"
            ),
        );
    }
    for e in &p.entries {
        if e.action != Some(NOTIFY) {
            continue;
        }
        let loc = format!("{}.action", e.loc);
        if e.names.iter().any(|(_, n)| *n == "write") {
            out.error(
                &loc,
                format!(
                    "SCMP_ACT_NOTIFY on write: runc refuses it (it writes the notify fd to its parent after loading \
                     the filter), and {KEP}; allow write or log it with SCMP_ACT_LOG"
                ),
            );
        } else {
            out.warning(
                &loc,
                format!(
                    "SCMP_ACT_NOTIFY needs a seccomp agent on listenerPath: without one the container hangs in \
                     \"created\", and if it dies the notified calls fail with ENOSYS; {KEP}; for a deployable \
                     profile use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO or SCMP_ACT_LOG"
                ),
            );
        }
    }
    for key in ["listenerPath", "listenerMetadata"] {
        if field(p.object, key).is_some() {
            out.warning(
                key,
                format!(
                    "{key} hands the notify fd to a seccomp agent that must be listening before the container \
                     starts; {KEP}, and Kubernetes has no way to run the agent; drop it from a deployable profile"
                ),
            );
        }
    }
}

/// containerd unmarshals plainly into the OCI struct and drops every other key without a word; Docker
/// (moby) refuses `architectures` together with `archMap`.
fn check_foreign_keys(p: &Profile, out: &mut Out) {
    const TOP: &[&str] =
        &["defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls"];
    // The Security Profiles Operator's own spec fields.
    const SPO: &[&str] = &["baseProfileName", "disabled"];
    const ENTRY: &[&str] = &["names", "action", "errnoRet", "args"];
    const ARG: &[&str] = &["index", "value", "valueTwo", "op"];
    let spo: &[&str] = if p.kind == Kind::SeccompProfile { SPO } else { &[] };
    foreign_keys(p.object, "", &[TOP, spo].concat(), out);
    for e in &p.entries {
        foreign_keys(e.object, &e.loc, ENTRY, out);
        for a in &e.args {
            foreign_keys(a.object, &a.loc, ARG, out);
        }
    }
    if field(p.object, "archMap").is_some() && field(p.object, "architectures").is_some() {
        out.error(
            "archMap",
            "architectures and archMap together: Docker refuses the profile (\"use either 'architectures' or \
             'archMap'\"); keep architectures"
                .to_string(),
        );
    }
}

fn foreign_keys(object: &Map<String, Value>, base: &str, known: &[&str], out: &mut Out) {
    const DROPPED: &str = "containerd drops it silently (plain unmarshal into the OCI struct)";
    for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
        let what = match key.as_str() {
            "archMap" => format!(
                "archMap is Docker's: {DROPPED} and runc never sees it; list the architectures in `architectures`"
            ),
            "includes" | "excludes" => format!(
                "{key} is Docker's (conditions on capabilities, arches, kernel): {DROPPED}, so the entry applies \
                 everywhere; resolve it for your target and remove the key"
            ),
            "comment" => format!(
                "comment is Docker's: {DROPPED}; keep explanations in a separate report (`trapline profile \
                 --explain FILE`)"
            ),
            "minKernel" => {
                format!("minKernel is Docker's: {DROPPED}, so the entry applies on every kernel; remove the key")
            }
            "name" => format!(
                "name is the old single-name form: {DROPPED}, so the entry matches nothing; write it as \
                 `names: [..]`"
            ),
            _ => format!(
                "{key:?} is not a runtime-spec key: {DROPPED}, so it has no effect; remove it or fix its spelling"
            ),
        };
        out.warning(&key_loc(base, key), what);
    }
}

/// KEP-6061 validation refuses more than 128 entries naming one syscall.
fn check_entries_per_syscall(p: &Profile, out: &mut Out) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &p.entries {
        let mut names: Vec<&str> = e.names.iter().map(|(_, n)| *n).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let count = counts.entry(name).or_default();
            *count += 1;
            if *count == MAX_ENTRIES_PER_SYSCALL + 1 {
                let total = p.entries.iter().filter(|e| e.names.iter().any(|(_, n)| *n == name)).count();
                let fix = if name == "ioctl" {
                    "coarsen with `trapline profile --ioctl type`"
                } else {
                    "merge conditions or allow the call unconditionally"
                };
                out.error(
                    &e.loc,
                    format!(
                        "{name:?} is named by {total} entries (this is number {}): KEP-6061 OCI-artifact profiles \
                         refuse more than {MAX_ENTRIES_PER_SYSCALL}; {fix}",
                        MAX_ENTRIES_PER_SYSCALL + 1
                    ),
                );
            }
        }
    }
}

/// The workload: a profile that allows by default protects against nothing it does not list.
fn check_default_allow(p: &Profile, out: &mut Out) {
    if p.default_action == Some("SCMP_ACT_ALLOW") {
        out.warning(
            "defaultAction",
            "SCMP_ACT_ALLOW by default: the profile denies only what it lists, and every syscall added to the \
             kernel later is allowed; make an allow-list from traces with `trapline profile`"
                .to_string(),
        );
    }
}

/// glibc (2.34 and later) calls clone3 first and falls back to clone only on ENOSYS: any other denial
/// breaks pthread_create and posix_spawn.
fn check_clone3(p: &Profile, out: &mut Out) {
    // What a denial does, or None when the call goes through (or gets ENOSYS).
    let denial = |action: &str, errno: Option<u64>| -> Option<String> {
        match action {
            "SCMP_ACT_ERRNO" if errno.unwrap_or(EPERM) & 0xffff != ENOSYS => {
                Some(format!("errno {}, not ENOSYS (38)", errno.unwrap_or(EPERM) & 0xffff))
            }
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_TRAP" => {
                Some(action.to_string())
            }
            _ => None,
        }
    };
    let fix = "glibc fails pthread_create and posix_spawn instead of falling back to clone; deny clone3 with \
               SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS), or allow it";
    let entries: Vec<&Entry> = p.entries.iter().filter(|e| e.names.iter().any(|(_, n)| *n == "clone3")).collect();
    if entries.is_empty() {
        let Some(action) = p.default_action else {
            return;
        };
        if let Some(what) = denial(action, p.default_errno) {
            out.error("defaultAction", format!("clone3 is not listed, so it gets the default action ({what}): {fix}"));
        }
        return;
    }
    for e in entries {
        let Some(action) = e.action else { continue };
        if let Some(what) = denial(action, e.errno_ret) {
            let field = if action == "SCMP_ACT_ERRNO" { "errnoRet" } else { "action" };
            out.error(&format!("{}.{field}", e.loc), format!("clone3 is denied ({what}): {fix}"));
        }
    }
}

/// The kernel and glibc: ioctl's request is 32 bits in C, and callers may hand it over sign-extended (bit 31
/// set) or with junk in the upper half; a 64-bit comparison then misses it and the call is denied.
fn check_ioctl_request_width(p: &Profile, out: &mut Out) {
    const FIX: &str = "compare with SCMP_CMP_MASKED_EQ, value (the mask) 4294967295, valueTwo the request";
    for e in &p.entries {
        if !e.names.iter().any(|(_, n)| *n == "ioctl") {
            continue;
        }
        for a in e.args.iter().filter(|a| a.index == Some(IOCTL_REQUEST)) {
            match (a.op, a.value) {
                (Some("SCMP_CMP_EQ"), _) => out.warning(
                    &format!("{}.op", a.loc),
                    format!(
                        "ioctl's request compared with SCMP_CMP_EQ: all 64 bits must match, so sign-extended \
                         request codes (bit 31 set) do not; {FIX}"
                    ),
                ),
                (Some("SCMP_CMP_MASKED_EQ"), Some(mask)) if mask & !LOW_32_BITS != 0 => out.warning(
                    &format!("{}.value", a.loc),
                    format!(
                        "ioctl's request masked with {mask:#x}, wider than 32 bits: sign-extended request codes \
                         (bit 31 set) do not match; {FIX}"
                    ),
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(json: &str) -> Vec<Finding> {
        lint_bytes(Path::new("p.json"), json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The findings at `location` with `severity`, as text for assertion messages.
    fn at(findings: &[Finding], severity: Severity, location: &str) -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.severity == severity && f.location == location)
            .map(|f| f.message.clone())
            .collect()
    }

    fn assert_one(findings: &[Finding], severity: Severity, location: &str, needle: &str) {
        let found = at(findings, severity, location);
        assert!(
            found.len() == 1 && found[0].contains(needle),
            "want one {severity} at {location} containing {needle:?}; all findings:\n{}",
            findings.iter().map(|f| format!("{f}\n")).collect::<String>()
        );
    }

    /// A clean profile with `extra` spliced into its syscalls.
    fn with_entries(extra: &str) -> String {
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
                {{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}},
                {{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}}{extra}]}}"#
        )
    }

    #[test]
    fn clean_profile_has_no_findings() {
        assert_eq!(lint(&with_entries("")), vec![]);
    }

    #[test]
    fn unknown_name_is_a_warning() {
        let f = lint(&with_entries(r#", {"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ALLOW"}"#));
        assert_one(&f, Severity::Warning, "syscalls[2].names[1]", "knows no syscall \"no_such_call\" on any");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn only_names_missing_on_every_arch_are_reported() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["newfstatat", "socket", "fstatat64", "arch_prctl", "clone3"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["fstatat64"], "action": "SCMP_ACT_LOG"}]}"#,
        );
        // newfstatat is x86_64's, fstatat64 i386's: fine in a profile for both.
        assert!(f.is_empty(), "{f:?}");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["newfstatat", "fstatat64", "clone3"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].location, "syscalls[0].names");
        assert!(f[0].message.contains("\"fstatat64\" is not a syscall on SCMP_ARCH_X86_64"), "{}", f[0]);
    }

    #[test]
    fn libseccomp_refusals_are_errors() {
        let f = lint(&with_entries(
            r#", {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                 {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["personality"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}"#,
        ));
        assert_one(&f, Severity::Error, "syscalls[2].action", "EACCES");
        assert_one(&f, Severity::Error, "syscalls[3].args", "EINVAL");
        assert_one(&f, Severity::Error, "syscalls[5].names[0]", "EEXIST");
        assert_one(&f, Severity::Error, "syscalls[6].args[0].index", "index 6 does not exist");
        assert_eq!(f.len(), 4, "{f:?}");
    }

    #[test]
    fn errno_out_of_range_is_an_error() {
        let f = lint(&with_entries(r#", {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}"#));
        assert_one(&f, Severity::Error, "syscalls[2].errnoRet", "refuses errno 5000");
        assert_eq!(f.len(), 1, "{f:?}");
        let f = lint(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65574}"#);
        // runc cuts 65574 to 16 bits: 38, which libseccomp takes.
        assert_eq!(f, vec![]);
        let f = lint(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4294967295}"#);
        assert_one(&f, Severity::Error, "defaultErrnoRet", "refuses errno 65535");
        assert_one(&f, Severity::Error, "defaultAction", "clone3 is not listed");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn unknown_strings_are_errors() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_DENY", "architectures": ["SCMP_ARCH_VAX"], "flags": ["SECCOMP_FILTER_FLAG_FAST"],
                "syscalls": [{"names": ["read"], "action": "ALLOW", "args": [{"index": 0, "value": 1, "op": "=="}]}]}"#,
        );
        assert_one(&f, Severity::Error, "defaultAction", "unknown action \"SCMP_ACT_DENY\"");
        assert_one(&f, Severity::Error, "architectures[0]", "unknown architecture");
        assert_one(&f, Severity::Error, "flags[0]", "unknown flag");
        assert_one(&f, Severity::Error, "syscalls[0].action", "unknown action \"ALLOW\"");
        assert_one(&f, Severity::Error, "syscalls[0].args[0].op", "unknown operator");
        assert_eq!(f.len(), 5, "{f:?}");
    }

    #[test]
    fn masked_eq_with_mask_zero_is_an_error() {
        let f = lint(&with_entries(
            r#", {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}"#,
        ));
        assert_one(&f, Severity::Error, "syscalls[2].args[0].value", "allows any value");
        assert_one(&f, Severity::Error, "syscalls[3].args[0].value", "never matches");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn notify_needs_a_listener_and_runc_refuses_some() {
        let f = lint(r#"{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"}"#);
        assert_one(&f, Severity::Error, "defaultAction", "runc refuses it");
        assert_one(&f, Severity::Warning, "listenerPath", "KEP-6061");
        assert_eq!(f.len(), 2, "{f:?}");
        let f = lint(&with_entries(
            r#", {"names": ["write"], "action": "SCMP_ACT_NOTIFY"}, {"names": ["openat"], "action": "SCMP_ACT_NOTIFY"}"#,
        ));
        assert_one(&f, Severity::Error, "syscalls[2].action", "runc refuses it");
        assert_one(&f, Severity::Warning, "syscalls[3].action", "KEP-6061");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn docker_keys_are_warnings_and_arch_map_with_architectures_an_error() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
                "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "stdin", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [], "excludes": {}},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ", "note": "AF_UNIX"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "odd key": 1}]}"#,
        );
        assert_one(&f, Severity::Warning, "archMap", "containerd drops it");
        assert_one(&f, Severity::Error, "archMap", "Docker refuses");
        assert_one(&f, Severity::Warning, "syscalls[0].comment", "--explain");
        assert_one(&f, Severity::Warning, "syscalls[0].includes", "applies everywhere");
        assert_one(&f, Severity::Warning, "syscalls[1].excludes", "containerd drops it");
        assert_one(&f, Severity::Warning, "syscalls[2].args[0].note", "not a runtime-spec key");
        assert_one(&f, Severity::Warning, "syscalls[3][\"odd key\"]", "not a runtime-spec key");
        assert_eq!(f.len(), 7, "{f:?}");
    }

    #[test]
    fn more_than_128_entries_for_one_syscall_is_an_error() {
        let entries = |n: u64| -> String {
            (0..n)
                .map(|v| {
                    format!(
                        r#", {{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{{"index": 1, "value": 4294967295, "valueTwo": {v}, "op": "SCMP_CMP_MASKED_EQ"}}]}}"#
                    )
                })
                .collect()
        };
        assert_eq!(lint(&with_entries(&entries(128))), vec![]);
        let f = lint(&with_entries(&entries(129)));
        assert_one(&f, Severity::Error, "syscalls[130]", "--ioctl type");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn default_allow_is_a_warning() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        assert_one(&f, Severity::Warning, "defaultAction", "trapline profile");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn clone3_denied_without_enosys_is_an_error() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_one(&f, Severity::Error, "defaultAction", "clone3 is not listed");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
        );
        assert_one(&f, Severity::Error, "syscalls[0].errnoRet", "errno 1, not ENOSYS");
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_eq!(f, vec![]);
    }

    #[test]
    fn ioctl_request_compared_on_64_bits_is_a_warning() {
        let f = lint(&with_entries(
            r#", {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 3221775648, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 18446744073709551615, "valueTwo": 21505, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967295, "valueTwo": 21506, "op": "SCMP_CMP_MASKED_EQ"}]}"#,
        ));
        assert_one(&f, Severity::Warning, "syscalls[2].args[0].op", "sign-extended");
        assert_one(&f, Severity::Warning, "syscalls[3].args[0].value", "wider than 32 bits");
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn malformed_values_are_findings_not_panics() {
        let f = lint(
            r#"{"defaultAction": 5, "architectures": "SCMP_ARCH_X86_64", "defaultErrnoRet": -1,
                "syscalls": [null, 3, {"names": [1, null, "read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1e30,
                  "args": [3, {"index": "a", "value": -1, "valueTwo": 1.5, "op": 7},
                           {"index": 99999999999, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}, {}]},
                 {"action": "SCMP_ACT_ALLOW", "name": "write"}, {"names": [], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_one(&f, Severity::Error, "defaultAction", "expected a string, found 5");
        assert_one(&f, Severity::Error, "architectures", "expected an array");
        assert_one(&f, Severity::Error, "defaultErrnoRet", "found -1");
        assert_one(&f, Severity::Error, "syscalls[0]", "found null");
        assert_one(&f, Severity::Error, "syscalls[1]", "found 3");
        assert_one(&f, Severity::Error, "syscalls[2].names[0]", "found 1");
        assert_one(&f, Severity::Error, "syscalls[2].errnoRet", "expected an unsigned integer");
        assert_one(&f, Severity::Error, "syscalls[2].args[0]", "found 3");
        assert_one(&f, Severity::Error, "syscalls[2].args[1].index", "the string \"a\"");
        assert_one(&f, Severity::Error, "syscalls[2].args[1].value", "write -1 as 18446744073709551615");
        assert_one(&f, Severity::Error, "syscalls[2].args[1].op", "found 7");
        assert_one(&f, Severity::Error, "syscalls[2].args[2].index", "found 99999999999");
        assert_one(&f, Severity::Error, "syscalls[2].args[3].op", "op is missing");
        assert_one(&f, Severity::Error, "syscalls[3].names", "old `name`");
        assert_one(&f, Severity::Warning, "syscalls[3].name", "old single-name form");
        assert_one(&f, Severity::Warning, "syscalls[4].names", "names is empty");
        assert_one(&f, Severity::Error, "syscalls[2].args[1].valueTwo", "found 1.5");
    }

    #[test]
    fn huge_numbers_and_strange_names_do_not_panic() {
        let f = lint(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4294967295, "syscalls": [
                {"names": ["", "nul\u0000byte", "clone3"], "action": "SCMP_ACT_TRACE", "errnoRet": 4294967295,
                 "args": [{"index": 4294967295, "value": 18446744073709551615, "valueTwo": 18446744073709551615, "op": "SCMP_CMP_GT"}]}]}"#,
        );
        assert!(!f.is_empty());
        assert!(f.iter().all(|f| !f.message.is_empty() && !f.location.is_empty()), "{f:?}");
    }

    #[test]
    fn findings_are_in_profile_order() {
        let mut extra = String::new();
        for _ in 0..10 {
            extra.push_str(r#", {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}"#);
        }
        extra.push_str(r#", {"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "comment": "x"}"#);
        let json = with_entries(&extra).replace(r#""names": ["read", "#, r#""comment": "y", "names": ["read", "#);
        let f = lint(&json);
        let locations: Vec<&str> = f.iter().map(|f| f.location.as_str()).collect();
        assert_eq!(locations, ["syscalls[0].comment", "syscalls[12].comment"]);
    }

    #[test]
    fn bundle_config_locations_are_prefixed() {
        let f = lint(
            r#"{"ociVersion": "1.1.0", "process": {"args": ["sh"]}, "linux": {"namespaces": [],
                "seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}}}"#,
        );
        assert_one(&f, Severity::Warning, "linux.seccomp.defaultAction", "denies only what it lists");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn seccomp_profile_object_lints_its_spec() {
        let f = lint(
            r#"{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
                "metadata": {"name": "p"}, "spec": {"baseProfileName": "runc-v1.1.5", "disabled": false,
                "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                  {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x"}]}}"#,
        );
        assert_one(&f, Severity::Warning, "spec.syscalls[1].comment", "containerd drops it");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn input_errors_name_the_file_and_place() {
        let err = lint_bytes(Path::new("p.json"), b"{\n  \"defaultAction\": ").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("p.json:2:"), "{text}");
        assert!(!text.contains('\n'), "{text}");

        for (json, needle) in [
            ("[]", "top level is not a JSON object"),
            (r#"{"foo": 1}"#, "no defaultAction or syscalls"),
            (r#"{"ociVersion": "1.1.0", "linux": {}}"#, "without a linux.seccomp"),
            (
                r#"{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile"}"#,
                "without a spec",
            ),
        ] {
            let err = lint_bytes(Path::new("p.json"), json.as_bytes()).unwrap_err();
            assert!(matches!(err, LintError::NotSeccomp { .. }), "{json}: {err}");
            assert!(err.to_string().starts_with("p.json: ") && err.to_string().contains(needle), "{err}");
        }

        let err = lint_file(Path::new("/nonexistent/p.json")).unwrap_err();
        assert!(matches!(err, LintError::Io { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot read /nonexistent/p.json: "), "{err}");
    }
}
