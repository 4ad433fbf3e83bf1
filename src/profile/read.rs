//! Reading a profile to use it (run, record --known, check): a bare runtime-spec seccomp object, a bundle's
//! config.json (its `linux.seccomp`), or a Security Profiles Operator SeccompProfile (its `spec`), in JSON.

use std::path::{Path, PathBuf};

use super::oci::Seccomp;

#[derive(Debug, thiserror::Error)]
pub enum ProfileReadError {
    #[error("cannot read {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: {what}; is this a seccomp profile in JSON? (`trapline lint` says more)")]
    Json { path: PathBuf, line: usize, column: usize, what: String },
    #[error("{path}: {what}; `trapline lint` says more")]
    Shape { path: PathBuf, what: String },
    #[error(
        "{path}: no seccomp profile here (expected defaultAction, linux.seccomp or an SPO spec); `trapline lint` says more"
    )]
    NotAProfile { path: PathBuf },
}

pub fn read_profile(path: &Path) -> Result<Seccomp, ProfileReadError> {
    let bytes = std::fs::read(path).map_err(|error| ProfileReadError::Io { path: path.to_path_buf(), error })?;
    let json = |e: serde_json::Error| ProfileReadError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        what: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(json)?;
    let object = if value.get("defaultAction").is_some() {
        value
    } else if let Some(seccomp) = value.pointer("/linux/seccomp") {
        seccomp.clone()
    } else if value.get("kind").and_then(|k| k.as_str()) == Some("SeccompProfile") {
        value.get("spec").cloned().unwrap_or_default()
    } else {
        return Err(ProfileReadError::NotAProfile { path: path.to_path_buf() });
    };
    // A Value has no positions left: shape errors name the field instead.
    serde_json::from_value(object)
        .map_err(|e| ProfileReadError::Shape { path: path.to_path_buf(), what: e.to_string() })
}
