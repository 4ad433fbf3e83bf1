//! Which container a cgroup holds, for the node agent: the container id in the cgroup's path, and the OCI
//! annotations (Kubernetes' pod, namespace and container names among them) from the bundle the runtime's
//! state names. Read from the runtime's own state directory, so no runtime needs configuring.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where runtimes keep one directory of state per container: runc's and crun's defaults, Docker's runc root
/// (one per namespace, `moby`), and containerd's runc shim's (one per containerd namespace, `k8s.io`).
pub const STATE_ROOTS: [&str; 4] = ["/run/runc", "/run/crun", "/run/docker/runtime-runc/*", "/run/containerd/runc/*"];

/// A container the runtime's state names.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    /// `annotations` of the bundle's config.json (`null` when it has none).
    pub annotations: Value,
}

impl Container {
    /// Whether its annotations hold `key`, with `value` when one is given.
    pub fn has_annotation(&self, key: &str, value: Option<&str>) -> bool {
        match (self.annotations[key].as_str(), value) {
            (Some(_), None) => true,
            (Some(found), Some(wanted)) => found == wanted,
            (None, _) => false,
        }
    }
}

/// The container in the cgroup at `cgroup_path` (as the kernel names it: `/kubepods.slice/.../cri-containerd-
/// ID.scope`), if a runtime under one of `roots` (a trailing `*` stands for each directory there) has state for
/// it while it runs.
pub fn find(cgroup_path: &str, roots: &[PathBuf]) -> Option<Container> {
    let ids = candidate_ids(cgroup_path);
    expand(roots).iter().find_map(|root| ids.iter().find_map(|id| read_state(&root.join(id), id)))
}

/// The default roots and `extra`, in that order.
pub fn roots(extra: &[PathBuf]) -> Vec<PathBuf> {
    STATE_ROOTS.iter().map(PathBuf::from).chain(extra.iter().cloned()).collect()
}

/// What the last component of a cgroup path may name a container by: the component itself without `.scope`
/// (runc's cgroupfs paths end in the id), and what follows the last `-` or `:` in it (systemd's
/// `docker-ID.scope`, `cri-containerd-ID.scope`, `crio-ID.scope`; CRI-O's `crio:ID`).
fn candidate_ids(cgroup_path: &str) -> Vec<String> {
    let last = cgroup_path.rsplit('/').next().unwrap_or_default();
    let bare = last.trim_end_matches(".scope");
    let mut ids = vec![bare.to_string()];
    if let Some((_, id)) = bare.rsplit_once(['-', ':'])
        && !id.is_empty()
    {
        ids.push(id.to_string());
    }
    ids.retain(|id| !id.is_empty() && id != "." && id != "..");
    ids
}

fn expand(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in roots {
        if root.file_name().is_some_and(|name| name == "*") {
            let parent = root.parent().unwrap_or(Path::new("/"));
            if let Ok(entries) = std::fs::read_dir(parent) {
                dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
        } else {
            dirs.push(root.clone());
        }
    }
    dirs
}

/// A container's state directory: runc's `state.json` (its config's labels: `bundle=DIR`, and each annotation
/// as `KEY=VALUE`) or crun's `status` (its `bundle`). The bundle's config.json gives the annotations while it
/// is there; runc's labels keep them when it is gone.
fn read_state(dir: &Path, id: &str) -> Option<Container> {
    let json = |path: PathBuf| -> Option<Value> { serde_json::from_slice(&std::fs::read(path).ok()?).ok() };
    let (bundle, labels) = if let Some(state) = json(dir.join("state.json")) {
        let labels: serde_json::Map<String, Value> = state["config"]["labels"]
            .as_array()?
            .iter()
            .filter_map(|label| label.as_str()?.split_once('='))
            .map(|(key, value)| (key.to_string(), Value::from(value)))
            .collect();
        (labels.get("bundle")?.as_str()?.to_string(), Some(labels))
    } else {
        (json(dir.join("status"))?["bundle"].as_str()?.to_string(), None)
    };
    let annotations = match json(Path::new(&bundle).join("config.json")) {
        Some(config) => config["annotations"].clone(),
        None => labels.map(Value::Object).unwrap_or_default(),
    };
    Some(Container { id: id.to_string(), annotations })
}

#[cfg(test)]
mod tests {
    use super::candidate_ids;

    #[test]
    fn a_cgroup_names_its_container_as_each_runtime_writes_it() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(candidate_ids(&format!("/system.slice/docker-{id}.scope"))[1], id);
        assert_eq!(candidate_ids(&format!("/kubepods.slice/pod1/cri-containerd-{id}.scope"))[1], id);
        assert_eq!(candidate_ids(&format!("/kubepods/pod1/crio:{id}"))[1], id);
        assert_eq!(candidate_ids(&format!("/docker/{id}")), vec![id.clone()]);
        assert_eq!(candidate_ids("/jobs/train-0"), vec!["train-0".to_string(), "0".to_string()]);
        assert!(candidate_ids("/").is_empty());
    }
}
