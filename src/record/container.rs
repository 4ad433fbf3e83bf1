//! Recording a container through its runtime (`trapline record --container -- runc run -b BUNDLE ID`).
//!
//! The runtime is traced from its start, but only what the container does from the moment its init
//! process loads its seccomp filter is kept: that is exactly what the filter will have to allow (the
//! runtime's own last steps before exec included), and nothing of the runtime's setup before it. A bundle
//! without a seccomp section gets a permissive one for the run, so there is a load to anchor on; the user's
//! bundle on disk is never changed.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("--container expects a runtime command such as `runc run -b BUNDLE ID`; {0}")]
    NotARuntimeRun(String),
    #[error("{0} is not installed (not found on PATH); install it (Debian: apt-get install {0}) or give its path")]
    RuntimeMissing(String),
    #[error(
        "cannot read the bundle's {path}: {error}; the bundle must hold an OCI runtime config (`runc spec` writes \
         one): fix it, or give runc another with --bundle"
    )]
    Config { path: PathBuf, error: String },
    #[error("cannot prepare the recording bundle in {path}: {error}")]
    Prepare { path: PathBuf, error: std::io::Error },
}

/// The command to run and, when the bundle needed a permissive filter, the temporary bundle that holds it
/// (removed when dropped).
pub struct Prepared {
    pub command: Vec<OsString>,
    /// `runc` or `crun`.
    pub runtime: String,
    /// The container's filter is trapline's permissive one (the bundle had none).
    pub permissive: bool,
    _bundle: Option<TempBundle>,
}

struct TempBundle(PathBuf);

impl Drop for TempBundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A filter that changes nothing a container could otherwise do (it may not reboot the host anyway) but makes
/// the runtime load one.
fn permissive_filter() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]
    })
}

/// Finds the bundle of a `runc|crun [global options] run|create [-b|--bundle DIR] ... ID` command and, if its
/// config has no seccomp section, points the command at a copy of the config that has a permissive one.
pub fn prepare(command: &[OsString]) -> Result<Prepared, ContainerError> {
    let runtime = command.first().and_then(|p| Path::new(p).file_name()).and_then(OsStr::to_str);
    let runtime = match runtime {
        Some(name @ ("runc" | "crun")) => name.to_string(),
        _ => return Err(ContainerError::NotARuntimeRun("the command is not runc or crun".into())),
    };
    let program = Path::new(&command[0]);
    let installed = if program.components().count() > 1 {
        program.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
    };
    if !installed {
        return Err(ContainerError::RuntimeMissing(runtime));
    }
    let verb = command
        .iter()
        .position(|a| a == "run" || a == "create")
        .ok_or_else(|| ContainerError::NotARuntimeRun("no `run` or `create` in it".into()))?;
    let bundle_flag = command[verb..].iter().position(|a| a == "-b" || a == "--bundle").map(|i| i + verb);
    let bundle = match bundle_flag {
        Some(i) => PathBuf::from(
            command.get(i + 1).ok_or_else(|| ContainerError::NotARuntimeRun("--bundle needs a directory".into()))?,
        ),
        None => PathBuf::from("."),
    };
    let config_path = bundle.join("config.json");
    let config_error = |error: String| ContainerError::Config { path: config_path.clone(), error };
    let text = std::fs::read(&config_path).map_err(|e| config_error(e.to_string()))?;
    let mut config: Value = serde_json::from_slice(&text).map_err(|e| config_error(e.to_string()))?;
    if config.pointer("/linux/seccomp").is_some_and(|s| !s.is_null()) {
        return Ok(Prepared { command: command.to_vec(), runtime, permissive: false, _bundle: None });
    }

    // A copy of config.json with the filter, whose root points back at the user's bundle.
    let bundle = std::fs::canonicalize(&bundle).map_err(|e| config_error(e.to_string()))?;
    let root = config.pointer("/root/path").and_then(Value::as_str).unwrap_or("rootfs").to_string();
    let root = if Path::new(&root).is_absolute() { PathBuf::from(root) } else { bundle.join(root) };
    config["root"]["path"] = json!(root);
    config["linux"]["seccomp"] = permissive_filter();
    let dir = std::env::temp_dir().join(format!("trapline-bundle-{}", std::process::id()));
    let prepare_error = |error| ContainerError::Prepare { path: dir.clone(), error };
    std::fs::create_dir_all(&dir).map_err(prepare_error)?;
    let temp = TempBundle(dir.clone());
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap_or_default())
        .map_err(prepare_error)?;

    let mut rewritten = command.to_vec();
    match bundle_flag {
        Some(i) => rewritten[i + 1] = dir.clone().into_os_string(),
        None => {
            rewritten.insert(verb + 1, dir.clone().into_os_string());
            rewritten.insert(verb + 1, "--bundle".into());
        }
    }
    Ok(Prepared { command: rewritten, runtime, permissive: true, _bundle: Some(temp) })
}
