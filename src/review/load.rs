//! Reading review inputs: a file is a trace or a seccomp profile, told apart by its content, not its name
//! (both are `.json`, and CI jobs name them freely).
//!
//! A trace has `"schema"` with `"runs"` or `"classes"`; a profile has `"defaultAction"`; a bundle's
//! `config.json` holds one in `linux.seccomp`, and a Security Profiles Operator `SeccompProfile` in `spec`.
//! The kind is found with a cheap probe that skips every value, then the file is parsed once as what it is, so
//! errors keep their line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::ReviewError;
use crate::files::json::strip_position;
use crate::profile::oci::Seccomp;
use crate::trace::model::Trace;
use crate::trace::read::parse_trace;

/// One input of a review.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub input: Input,
}

#[derive(Clone, Debug)]
pub enum Input {
    Trace(Trace),
    Profile(Seccomp),
}

impl Input {
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Trace(_) => "trace",
            Input::Profile(_) => "profile",
        }
    }
}

/// The top-level keys that tell the kinds apart; every value is skipped unparsed.
#[derive(Deserialize)]
struct Probe {
    schema: Option<IgnoredAny>,
    runs: Option<IgnoredAny>,
    classes: Option<IgnoredAny>,
    #[serde(rename = "defaultAction")]
    default_action: Option<IgnoredAny>,
    linux: Option<LinuxProbe>,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    spec: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct LinuxProbe {
    seccomp: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Bundle {
    linux: BundleLinux,
}

#[derive(Deserialize)]
struct BundleLinux {
    seccomp: Seccomp,
}

#[derive(Deserialize)]
struct SeccompProfileObject {
    spec: Seccomp,
}

enum Kind {
    Trace,
    Profile,
    Bundle,
    SeccompProfile,
}

/// Reads a trace or a profile, whichever the file holds.
pub fn load(path: &Path) -> Result<Loaded, ReviewError> {
    let bytes = std::fs::read(path).map_err(|error| ReviewError::Io { path: path.to_path_buf(), error })?;
    let input = match probe(path, &bytes)? {
        Kind::Trace => Input::Trace(parse_trace(path, &bytes)?),
        kind => Input::Profile(parse_profile(path, &bytes, kind)?),
    };
    Ok(Loaded { path: path.to_path_buf(), input })
}

/// A profile with the text it was read from, so reports can point at lines in it.
#[derive(Clone, Debug)]
pub struct ProfileFile {
    pub path: PathBuf,
    pub profile: Seccomp,
    pub text: String,
}

/// Reads a file that must be a profile (check's `--profile`).
pub fn load_profile(path: &Path) -> Result<ProfileFile, ReviewError> {
    let bytes = std::fs::read(path).map_err(|error| ReviewError::Io { path: path.to_path_buf(), error })?;
    let profile = match probe(path, &bytes)? {
        Kind::Trace => return Err(ReviewError::ExpectedProfile { path: path.to_path_buf() }),
        kind => parse_profile(path, &bytes, kind)?,
    };
    Ok(ProfileFile { path: path.to_path_buf(), profile, text: String::from_utf8_lossy(&bytes).into_owned() })
}

/// Reads a file that must be a trace (check's operands).
pub fn load_trace(path: &Path) -> Result<Trace, ReviewError> {
    match load(path)?.input {
        Input::Trace(trace) => Ok(trace),
        Input::Profile(_) => Err(ReviewError::ExpectedTrace { path: path.to_path_buf() }),
    }
}

fn probe(path: &Path, bytes: &[u8]) -> Result<Kind, ReviewError> {
    let p: Probe = serde_json::from_slice(bytes).map_err(|e| ReviewError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        what: strip_position(&e.to_string()),
    })?;
    let not = |what| ReviewError::NotReviewable { path: path.to_path_buf(), what };
    if p.schema.is_some() && (p.runs.is_some() || p.classes.is_some()) {
        return Ok(Kind::Trace);
    }
    if p.default_action.is_some() {
        return Ok(Kind::Profile);
    }
    if let Some(linux) = p.linux {
        return match linux.seccomp {
            Some(_) => Ok(Kind::Bundle),
            None => Err(not("a runtime config.json without linux.seccomp: the container runs unconfined")),
        };
    }
    if p.api_version.is_some_and(|a| a.starts_with("security-profiles-operator.x-k8s.io/"))
        && p.kind.as_deref() == Some("SeccompProfile")
        && p.spec.is_some()
    {
        return Ok(Kind::SeccompProfile);
    }
    Err(not("neither a trace nor a seccomp profile"))
}

fn parse_profile(path: &Path, bytes: &[u8], kind: Kind) -> Result<Seccomp, ReviewError> {
    let error = |e: serde_json::Error| ReviewError::Profile {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        what: strip_position(&e.to_string()),
    };
    match kind {
        Kind::Bundle => serde_json::from_slice::<Bundle>(bytes).map(|b| b.linux.seccomp).map_err(error),
        Kind::SeccompProfile => serde_json::from_slice::<SeccompProfileObject>(bytes).map(|o| o.spec).map_err(error),
        _ => serde_json::from_slice::<Seccomp>(bytes).map_err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> Result<&'static str, String> {
        let path = Path::new("x.json");
        match probe(path, text.as_bytes()).map_err(|e| e.to_string())? {
            Kind::Trace => Ok("trace"),
            Kind::Profile => Ok("profile"),
            Kind::Bundle => Ok("bundle"),
            Kind::SeccompProfile => Ok("spo"),
        }
    }

    #[test]
    fn kinds_come_from_content() {
        assert_eq!(kind_of(r#"{"schema": 1, "runs": [], "classes": []}"#), Ok("trace"));
        assert_eq!(kind_of(r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#), Ok("profile"));
        assert_eq!(kind_of(r#"{"ociVersion": "1.1.0", "linux": {"seccomp": {}}}"#), Ok("bundle"));
        assert_eq!(
            kind_of(
                r#"{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile", "spec": {}}"#
            ),
            Ok("spo")
        );
        let err = kind_of(r#"{"hello": 1}"#).unwrap_err();
        assert!(err.starts_with("x.json: neither a trace nor a seccomp profile"), "{err}");
        let err = kind_of("[1, 2").unwrap_err();
        assert!(err.starts_with("x.json:1:"), "{err}");
    }

    #[test]
    fn a_bad_profile_names_the_place_and_lint() {
        let err = parse_profile(Path::new("p.json"), br#"{"defaultAction": "SCMP_ACT_NOPE"}"#, Kind::Profile)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.json:1:") && err.contains("trapline lint p.json"), "{err}");
    }
}
