//! Deploying a profile the way platform teams already do: as a Security Profiles Operator `SeccompProfile`
//! object, or as a Kubernetes `Localhost` profile file with the pod spec snippet that points at it.

use serde_json::{Value, json};

use super::oci::Seccomp;
use crate::files::json::to_json;

/// The SPO API version trapline writes (security-profiles-operator.x-k8s.io, SeccompProfile CRD).
pub const SPO_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1beta1";

/// A `SeccompProfile` object whose `spec` holds the profile's fields, as the CRD defines them.
pub fn spo_object(profile: &Seccomp, name: &str, namespace: Option<&str>) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    json!({
        "apiVersion": SPO_API_VERSION,
        "kind": "SeccompProfile",
        "metadata": metadata,
        "spec": serde_json::to_value(profile).unwrap_or_default(),
    })
}

/// The form `trapline profile` writes a profile in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// The runtime-spec seccomp JSON (Docker, runc, a kubelet Localhost profile).
    Oci,
    /// A Security Profiles Operator SeccompProfile object in YAML, for `kubectl apply`.
    Spo { name: String, namespace: Option<String> },
}

/// The profile as a file in `format`.
pub fn render(profile: &Seccomp, format: &Format) -> Vec<u8> {
    match format {
        Format::Oci => to_json(profile),
        Format::Spo { name, namespace } => to_yaml(&spo_object(profile, name, namespace.as_deref())).into_bytes(),
    }
}

/// Where the kubelet looks for `Localhost` profiles, and the path a pod spec names relative to it.
pub const KUBELET_SECCOMP_DIR: &str = "/var/lib/kubelet/seccomp";

/// The pod spec fragment for a profile installed on every node as `KUBELET_SECCOMP_DIR/profiles/NAME.json`.
pub fn k8s_snippet(name: &str) -> String {
    format!(
        "# 1. Install the profile on every node that may run the pod (a DaemonSet, your node image, or the\n\
         #    Security Profiles Operator with `trapline profile --format spo`):\n\
         #      {KUBELET_SECCOMP_DIR}/profiles/{name}.json\n\
         #    A missing or invalid file keeps the container from starting.\n\
         # 2. Point the pod (or one container) at it. Privileged containers ignore seccomp entirely.\n\
         securityContext:\n\
         \x20 seccompProfile:\n\
         \x20   type: Localhost\n\
         \x20   localhostProfile: profiles/{name}.json\n"
    )
}

/// YAML for a JSON value, in block style. Strings are written as double-quoted scalars, whose escapes are
/// JSON's: every string round-trips exactly, whatever it holds.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(Value::String(s.clone()).to_string()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// Keys made of letters, digits and underscores are written plain (`apiVersion:`), others quoted.
fn yaml_key(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { key.to_string() } else { Value::String(key.to_string()).to_string() }
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let key = yaml_key(key);
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}{key}: {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(item, indent + 2, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        // The item's first line goes after the dash; the rest keep its indentation.
                        let mut inner = String::new();
                        write_yaml(item, indent + 2, &mut inner);
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other).unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nests_lists_of_objects() {
        let value = json!({"a": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}], "b": {"c": 1}, "d": []});
        assert_eq!(
            to_yaml(&value),
            "a:\n  - action: \"SCMP_ACT_ALLOW\"\n    names:\n      - \"read\"\n      - \"write\"\nb:\n  c: 1\nd: []\n"
        );
    }
}
