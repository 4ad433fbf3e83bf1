//! Reading review inputs: a file is a trace or a seccomp profile, told apart by its content, not its name
//! (both are `.json`, and CI jobs name them freely).
//!
//! A trace has `"schema"` with `"runs"` or `"classes"`, found with a cheap probe that skips every value, so that
//! a large trace is parsed once, as a trace. Anything else is a profile in any form [`crate::profile::read`]
//! knows, read at its location so that errors keep their line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::ReviewError;
use crate::profile::oci::Seccomp;
use crate::profile::read::{Document, Found, LocateError, ParseError};
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

/// The top-level keys that make a trace; every value is skipped unparsed.
#[derive(Deserialize)]
struct TraceProbe {
    schema: Option<IgnoredAny>,
    runs: Option<IgnoredAny>,
    classes: Option<IgnoredAny>,
}

/// Reads a trace or a profile, whichever the file holds.
pub fn load(path: &Path) -> Result<Loaded, ReviewError> {
    let bytes = crate::files::read(path).map_err(|error| ReviewError::Io { path: path.to_path_buf(), error })?;
    let input = match is_trace(path, &bytes)? {
        true => Input::Trace(parse_trace(path, &bytes)?),
        false => Input::Profile(parse_profile(path, &bytes)?),
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
    let bytes = crate::files::read(path).map_err(|error| ReviewError::Io { path: path.to_path_buf(), error })?;
    if is_trace(path, &bytes)? {
        return Err(ReviewError::ExpectedProfile { path: path.to_path_buf() });
    }
    let profile = parse_profile(path, &bytes)?;
    Ok(ProfileFile { path: path.to_path_buf(), profile, text: String::from_utf8_lossy(&bytes).into_owned() })
}

/// Reads a file that must be a trace (check's operands).
pub fn load_trace(path: &Path) -> Result<Trace, ReviewError> {
    match load(path)?.input {
        Input::Trace(trace) => Ok(trace),
        Input::Profile(_) => Err(ReviewError::ExpectedTrace { path: path.to_path_buf() }),
    }
}

/// Whether `path` holds a profile rather than a trace (for `profile`, which extends profiles it is given).
/// Anything unreadable or malformed is no profile here: the trace reader then says what is wrong with it.
pub fn is_profile(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    matches!(is_trace(path, &bytes), Ok(false)) && parse_profile(path, &bytes).is_ok()
}

/// Whether the file is a trace. Only an object can be one; anything else goes to the profile reader, which
/// says what is wrong with it.
fn is_trace(path: &Path, bytes: &[u8]) -> Result<bool, ReviewError> {
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Ok(false);
    }
    let p: TraceProbe = serde_json::from_slice(bytes).map_err(|e| json_error(path, e.into()))?;
    Ok(p.schema.is_some() && (p.runs.is_some() || p.classes.is_some()))
}

fn parse_profile(path: &Path, bytes: &[u8]) -> Result<Seccomp, ReviewError> {
    let document = document(path, bytes)?;
    let found = profile_in(path, &document)?;
    document.seccomp(&found).map_err(|ParseError { line, column, what }| ReviewError::Profile {
        path: path.to_path_buf(),
        line,
        column,
        what,
    })
}

fn document<'b>(path: &Path, bytes: &'b [u8]) -> Result<Document<'b>, ReviewError> {
    Document::parse(bytes).map_err(|e| json_error(path, e))
}

/// The one profile a review input holds: diff and check compare one profile at a time.
fn profile_in<'d>(path: &Path, document: &'d Document) -> Result<Found<'d>, ReviewError> {
    document.profile().map_err(|error| match error {
        LocateError::Several { count } => ReviewError::SeveralProfiles { path: path.to_path_buf(), count },
        error => ReviewError::NotReviewable { path: path.to_path_buf(), error },
    })
}

fn json_error(path: &Path, ParseError { line, column, what }: ParseError) -> ReviewError {
    ReviewError::Json { path: path.to_path_buf(), line, column, what }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::read::Form;

    fn kind_of(text: &str) -> Result<&'static str, String> {
        let path = Path::new("x.json");
        if is_trace(path, text.as_bytes()).map_err(|e| e.to_string())? {
            return Ok("trace");
        }
        let document = document(path, text.as_bytes()).map_err(|e| e.to_string())?;
        match profile_in(path, &document).map_err(|e| e.to_string())?.form {
            Form::Plain => Ok("profile"),
            Form::Bundle => Ok("bundle"),
            Form::SeccompProfile | Form::ListItem => Ok("spo"),
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
        let err = parse_profile(Path::new("p.json"), br#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap_err().to_string();
        assert!(err.starts_with("p.json:1:") && err.contains("trapline lint p.json"), "{err}");
    }
}
