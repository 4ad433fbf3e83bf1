//! Reading the seccomp object leniently into `Profile`, `Entry` and `Arg`: what has the right type, by
//! position. Wrong types and missing fields are reported once, here, so the checks need only skip what is
//! missing.

use serde_json::{Map, Value};

use super::out::{Out, key_loc};
use crate::profile::read::Form;

/// containerd and runc unmarshal into Go structs: a wrong type fails the whole profile.
const WRONG_TYPE: &str = "containerd and runc cannot parse the profile, so the container does not start";

pub(super) struct Profile<'a> {
    pub(super) object: &'a Map<String, Value>,
    /// The form the object came in: an operator spec may hold keys a plain object may not.
    pub(super) form: Form,
    pub(super) default_action: Option<&'a str>,
    pub(super) default_errno: Option<u64>,
    pub(super) architectures: Vec<(usize, &'a str)>,
    pub(super) flags: Vec<(usize, &'a str)>,
    pub(super) entries: Vec<Entry<'a>>,
}

pub(super) struct Entry<'a> {
    /// `syscalls[i]`.
    pub(super) loc: String,
    pub(super) object: &'a Map<String, Value>,
    pub(super) names: Vec<(usize, &'a str)>,
    pub(super) action: Option<&'a str>,
    pub(super) errno_ret: Option<u64>,
    pub(super) args: Vec<Arg<'a>>,
    /// Whether every element of `args` was an object (else the entry cannot be compiled).
    pub(super) args_whole: bool,
}

pub(super) struct Arg<'a> {
    /// `syscalls[i].args[j]`.
    pub(super) loc: String,
    pub(super) object: &'a Map<String, Value>,
    pub(super) index: Option<u64>,
    pub(super) value: Option<u64>,
    pub(super) value_two: Option<u64>,
    pub(super) op: Option<&'a str>,
}

/// What a missing action or operator does (Go consumers read it as the empty string).
const REFUSED: &str = "runc and crun refuse the profile";
const U32: u64 = u32::MAX as u64;

pub(super) fn read_profile<'a>(object: &'a Map<String, Value>, form: Form, out: &mut Out) -> Profile<'a> {
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
        form,
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
pub(super) fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
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

#[cfg(test)]
mod tests {
    use crate::profile::lint::Severity;
    use crate::profile::lint::tests::{assert_one, lint, with_entries};

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
}
