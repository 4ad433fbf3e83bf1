//! Linting a Kubernetes workload's pod spec for what makes a seccomp profile ineffective: privileged
//! containers (the runtime does not apply seccomp to them) and Unconfined or missing profiles.

use serde_json::Value;

use super::finding::{Finding, Severity};

/// Where each workload kind keeps its pod spec.
fn pod_spec_path(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    })
}

/// The findings for a workload object, or `None` when `value` is not one.
pub fn lint_workload(value: &Value) -> Option<Vec<Finding>> {
    let kind = value.get("kind")?.as_str()?;
    let path = pod_spec_path(kind)?;
    let spec = value.pointer(path)?;
    let location = |rest: &str| format!("{}{rest}", path.trim_start_matches('/').replace('/', "."));
    let mut findings = Vec::new();
    let pod_profile = spec.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str);
    if pod_profile == Some("Unconfined") {
        findings.push(unconfined(location(".securityContext.seccompProfile")));
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let containers = spec.get(list).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (i, container) in containers.iter().enumerate() {
            let here = location(&format!(".{list}[{i}]"));
            let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            if container.pointer("/securityContext/privileged") == Some(&Value::Bool(true)) {
                findings.push(Finding {
                    severity: Severity::Warning,
                    location: format!("{here}.securityContext.privileged"),
                    message: format!(
                        "container {name:?} is privileged: the runtime applies no seccomp profile to it, whatever \
                         seccompProfile says; GPU pods rarely need it (the NVIDIA device plugin or CDI gives device \
                         access without privileges)"
                    ),
                });
            }
            let own = container.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str);
            match own.or(pod_profile) {
                Some("Unconfined") if own.is_some() => findings.push(unconfined(format!("{here}.securityContext.seccompProfile"))),
                None => findings.push(Finding {
                    severity: Severity::Warning,
                    location: here.clone(),
                    message: format!(
                        "container {name:?} names no seccompProfile (neither it nor the pod): it runs Unconfined unless \
                         the kubelet's SeccompDefault is on; set type Localhost (`trapline k8s-snippet`)"
                    ),
                }),
                _ => {}
            }
        }
    }
    Some(findings)
}

fn unconfined(location: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        location,
        message: "seccompProfile type Unconfined: no filter at all; use Localhost with a trapline profile".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn privileged_and_unconfined_containers_are_reported() {
        let deployment = json!({
            "kind": "Deployment",
            "spec": {"template": {"spec": {
                "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/x.json"}},
                "containers": [
                    {"name": "train", "securityContext": {"privileged": true}},
                    {"name": "sidecar", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                    {"name": "ok"}
                ]
            }}}
        });
        let findings = lint_workload(&deployment).unwrap();
        let locations: Vec<&str> = findings.iter().map(|f| f.location.as_str()).collect();
        assert_eq!(
            locations,
            [
                "spec.template.spec.containers[0].securityContext.privileged",
                "spec.template.spec.containers[1].securityContext.seccompProfile"
            ]
        );
        assert!(findings[0].message.contains("no seccomp profile"));
    }

    #[test]
    fn a_pod_without_any_profile_is_reported_and_other_objects_are_not_workloads() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(lint_workload(&pod).unwrap().len(), 1);
        assert!(lint_workload(&json!({"defaultAction": "SCMP_ACT_ERRNO"})).is_none());
    }
}
