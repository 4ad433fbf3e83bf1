//! Deploying a profile the way platform teams already do: as a Security Profiles Operator `SeccompProfile`
//! object, or as a Kubernetes `Localhost` profile file with the pod spec snippet that points at it.

use serde_json::{Value, json};

use super::oci::Seccomp;
use crate::files::json::to_json;

/// The version of the SPO `SeccompProfile` API an object is written for (security-profiles-operator.x-k8s.io).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpoApi {
    /// Served by every operator release; namespaced. Operators that store `v1` convert it.
    #[default]
    V1beta1,
    /// The storage version of newer operators, whose SeccompProfile is cluster-scoped: no namespace.
    V1,
}

impl SpoApi {
    pub fn api_version(self) -> &'static str {
        match self {
            SpoApi::V1beta1 => "security-profiles-operator.x-k8s.io/v1beta1",
            SpoApi::V1 => "security-profiles-operator.x-k8s.io/v1",
        }
    }
}

/// A `SeccompProfile` object whose `spec` holds the profile's fields, as the CRD defines them.
pub fn spo_object(profile: &Seccomp, name: &str, namespace: Option<&str>, api: SpoApi) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    json!({
        "apiVersion": api.api_version(),
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
    Spo { name: String, namespace: Option<String>, api: SpoApi },
}

/// The profile as a file in `format`.
pub fn render(profile: &Seccomp, format: &Format) -> Vec<u8> {
    match format {
        Format::Oci => to_json(profile),
        Format::Spo { name, namespace, api } => {
            to_yaml(&spo_object(profile, name, namespace.as_deref(), *api)).into_bytes()
        }
    }
}

/// A name Kubernetes would refuse, caught here rather than at `kubectl apply` or admission.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error(
        "not a Kubernetes object name (DNS-1123 subdomain): use at most 253 lowercase letters, digits, '-' and '.', \
         starting and ending with a letter or digit, e.g. pytorch-train"
    )]
    Object,
    #[error(
        "not a Kubernetes namespace (DNS-1123 label): use at most 63 lowercase letters, digits and '-', starting \
         and ending with a letter or digit, e.g. ml-serving"
    )]
    Namespace,
    #[error(
        "not a profile file name: use letters, digits, '-', '_' and '.', not starting with '.', e.g. pytorch-train \
         (it becomes profiles/NAME.json on the nodes)"
    )]
    ProfileFile,
}

/// A DNS-1123 label: what one dot-separated part of a subdomain, or a namespace, must be.
fn is_label(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (1..=63).contains(&text.len())
        && edge(text.chars().next())
        && edge(text.chars().last())
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// An object's `metadata.name` (SeccompProfile, like most kinds, takes a DNS-1123 subdomain).
pub fn object_name(name: &str) -> Result<String, NameError> {
    let ok = name.len() <= 253 && name.split('.').all(is_label);
    if ok { Ok(name.to_string()) } else { Err(NameError::Object) }
}

/// A namespace's name (a DNS-1123 label).
pub fn namespace(name: &str) -> Result<String, NameError> {
    if is_label(name) { Ok(name.to_string()) } else { Err(NameError::Namespace) }
}

/// The NAME of `profiles/NAME.json` under the kubelet's seccomp directory: one path element, never one that
/// leaves the directory. A trailing `.json` is the file's, not the name's (`foo.json` is `profiles/foo.json`).
pub fn profile_file_name(name: &str) -> Result<String, NameError> {
    let name = name.strip_suffix(".json").unwrap_or(name);
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok { Ok(name.to_string()) } else { Err(NameError::ProfileFile) }
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
         \x20   localhostProfile: profiles/{name}.json\n\
         # 3. `podman kube play` (Podman 4) ignores that field and runs the pod under its default profile.\n\
         #    There, annotate the pod and pass `--seccomp-profile-root DIR` with {name}.json directly in DIR:\n\
         #      seccomp.security.alpha.kubernetes.io/pod: localhost/{name}.json\n"
    )
}

/// YAML for a JSON value, as serde_norway writes it: block style, strings quoted wherever YAML would read
/// them as something else (`"yes"`, `"0x10"`, `"null"`), so every value round-trips exactly.
pub fn to_yaml(value: &Value) -> String {
    serde_norway::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names_are_checked_as_the_api_server_would() {
        assert_eq!(object_name("pytorch-train.v2"), Ok("pytorch-train.v2".into()));
        for bad in ["Foo_Bar", "", "-a", "a-", "a..b", &"a".repeat(254)] {
            assert_eq!(object_name(bad), Err(NameError::Object), "{bad:?}");
        }
        assert_eq!(namespace("ml-serving"), Ok("ml-serving".into()));
        for bad in ["Bad NS", "a.b", &"a".repeat(64)] {
            assert_eq!(namespace(bad), Err(NameError::Namespace), "{bad:?}");
        }
        assert_eq!(profile_file_name("foo.json"), Ok("foo".into()));
        for bad in ["../etc/x", "a/b", ".hidden", "", ".json"] {
            assert_eq!(profile_file_name(bad), Err(NameError::ProfileFile), "{bad:?}");
        }
    }

    #[test]
    fn yaml_round_trips_every_value() {
        let value = json!({
            "a": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}],
            "b": {"c": 1, "big": 18446744073709551615u64},
            "d": [],
            "tricky": ["yes", "0x10", "null", "a: b", "- x", "#", "", "line\nbreak", "~"],
        });
        let text = to_yaml(&value);
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
        assert!(text.starts_with("a:\n- action: SCMP_ACT_ALLOW\n"), "{text}");
    }
}
