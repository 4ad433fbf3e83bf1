//! Reading a profile, whatever form (and JSON or YAML) it comes in: a plain runtime-spec seccomp object, a runtime bundle's
//! `config.json` (its `linux.seccomp`), a Security Profiles Operator `SeccompProfile` (its `spec`), or a
//! Kubernetes `List` of SeccompProfiles. Every command that takes a profile (run, record --known, check,
//! diff, lint) reads it through here, so they agree on what a file holds.
//!
//! Reading is three steps: [`Document::parse`] turns the bytes into a document value (the one place that
//! knows the file's syntax), [`locate`] finds the seccomp object(s) in it with their form and location, and
//! [`Document::seccomp`] reads the typed profile at a location. Lint stops after the second step and reads
//! the object leniently itself.

mod at;
mod locate;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub use locate::{Form, Found, LocateError, Location, OperatorError, Segment, list_item, locate, locate_one};

use super::oci::Seccomp;
use crate::files::json::strip_position;

/// What the JSON parser refused, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {what}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    /// The parser's message, without its own " at line L column C".
    pub what: String,
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError { line: e.line(), column: e.column(), what: strip_position(&e.to_string()) }
    }
}

impl From<serde_norway::Error> for ParseError {
    fn from(e: serde_norway::Error) -> Self {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        // libyaml puts " at line L column C" inside its message, sometimes twice; the position goes up front.
        let message = e.to_string();
        let mut what = String::new();
        let mut rest = message.as_str();
        while let Some(at) = rest.find(" at line ") {
            what.push_str(&rest[..at]);
            let after = &rest[at + " at line ".len()..];
            let skip = after.find(|c: char| !(c.is_ascii_digit() || c == ' ' || "column".contains(c)));
            rest = &after[skip.unwrap_or(after.len())..];
        }
        what.push_str(rest);
        ParseError { line, column, what }
    }
}

/// The syntax a document was written in.
enum Syntax {
    Json,
    /// YAML; a stream of several documents is read as the List they form, `streamed` holding the index of
    /// each item's document (empty documents are no items).
    Yaml {
        streamed: Option<Vec<usize>>,
    },
}

/// A file's content, parsed: the document value the profiles are found in, and the text the typed profile is
/// read from.
pub struct Document<'b> {
    bytes: &'b [u8],
    syntax: Syntax,
    value: Value,
}

impl<'b> Document<'b> {
    /// The parse step, the only one that depends on the file's syntax: JSON when the text starts with `{` or
    /// `[`, else YAML (what `kubectl get -o yaml` and the Security Profiles Operator's manifests are). Several
    /// YAML documents (`---`) are read as a List of them, as `kubectl apply -f` reads them.
    pub fn parse(bytes: &'b [u8]) -> Result<Document<'b>, ParseError> {
        let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if matches!(start, Some(b'{' | b'[')) || start.is_none() {
            return Ok(Document { bytes, syntax: Syntax::Json, value: serde_json::from_slice(bytes)? });
        }
        let mut documents = Vec::new();
        for (index, document) in serde_norway::Deserializer::from_slice(bytes).enumerate() {
            let value = Value::deserialize(document)?;
            if !value.is_null() {
                documents.push((index, value));
            }
        }
        // A document that is not a mapping (plain text reads as one YAML string) is no YAML manifest: say
        // what the JSON parser says of it, which is what a broken profile most likely is.
        if documents.is_empty() {
            return Err(ParseError { line: 1, column: 1, what: "no document, only empty YAML ones".to_string() });
        }
        if documents.iter().all(|(_, value)| !value.is_object()) {
            return Err(serde_json::from_slice::<Value>(bytes).err().map_or_else(
                || ParseError { line: 1, column: 1, what: "neither a JSON object nor a YAML mapping".to_string() },
                ParseError::from,
            ));
        }
        let (syntax, value) = match documents.len() {
            1 => (Syntax::Yaml { streamed: None }, documents.remove(0).1),
            _ => {
                let (streamed, items): (Vec<usize>, Vec<Value>) = documents.into_iter().unzip();
                (Syntax::Yaml { streamed: Some(streamed) }, serde_json::json!({"kind": "List", "items": items}))
            }
        };
        Ok(Document { bytes, syntax, value })
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Every seccomp object in the document (several only in a List), in document order.
    pub fn profiles(&self) -> Result<Vec<Found<'_>>, LocateError> {
        locate(&self.value)
    }

    /// The document's one seccomp object; a List of several is refused.
    pub fn profile(&self) -> Result<Found<'_>, LocateError> {
        locate_one(&self.value)
    }

    /// The typed profile at `found`'s location. Read from the text rather than the value, so that an error
    /// names its line and column.
    pub fn seccomp(&self, found: &Found<'_>) -> Result<Seccomp, ParseError> {
        let path = found.location.segments();
        Ok(match &self.syntax {
            Syntax::Json => at::from_slice_at(self.bytes, path)?,
            Syntax::Yaml { streamed } => at::from_yaml_at(self.bytes, path, streamed.as_deref())?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileReadError {
    #[error("cannot read {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: {what}; is this a seccomp profile in JSON or YAML? (`trapline lint` says more)")]
    Json { path: PathBuf, line: usize, column: usize, what: String },
    #[error("{path}:{line}:{column}: {what}; `trapline lint` says more")]
    Shape { path: PathBuf, line: usize, column: usize, what: String },
    #[error(
        "{path}: no seccomp profile here (expected defaultAction, linux.seccomp or an SPO spec); `trapline lint` says more"
    )]
    NotAProfile { path: PathBuf },
    #[error("{path}: {error}; `trapline lint` says more")]
    Locate { path: PathBuf, error: LocateError },
    #[error(
        "{path} holds a List of {count} SeccompProfile objects, but this command takes one profile; put the one \
         you mean in a file of its own"
    )]
    Several { path: PathBuf, count: usize },
}

/// Reads the one profile a file holds, to use it (run, record --known).
pub fn read_profile(path: &Path) -> Result<Seccomp, ProfileReadError> {
    let path_buf = || path.to_path_buf();
    let bytes = crate::files::read(path).map_err(|error| ProfileReadError::Io { path: path_buf(), error })?;
    let document = Document::parse(&bytes).map_err(|ParseError { line, column, what }| ProfileReadError::Json {
        path: path_buf(),
        line,
        column,
        what,
    })?;
    let found = document.profile().map_err(|error| match error {
        LocateError::Nothing => ProfileReadError::NotAProfile { path: path_buf() },
        LocateError::Several { count } => ProfileReadError::Several { path: path_buf(), count },
        error => ProfileReadError::Locate { path: path_buf(), error },
    })?;
    document.seccomp(&found).map_err(|ParseError { line, column, what }| ProfileReadError::Shape {
        path: path_buf(),
        line,
        column,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` from a file called `name`, in a directory of its own that is removed afterwards.
    fn read(name: &str, text: &str) -> Result<Seccomp, ProfileReadError> {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("trapline-read-{}-{seq}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let read = read_profile(&path);
        let _ = std::fs::remove_dir_all(&dir);
        read
    }

    #[test]
    fn every_form_reads_to_the_same_profile() {
        let plain =
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#;
        let spo = format!(
            r#"{{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile", "spec": {plain}}}"#
        );
        let want = read("plain.json", plain).unwrap();
        assert_eq!(read("config.json", &format!(r#"{{"linux": {{"seccomp": {plain}}}}}"#)).unwrap(), want);
        assert_eq!(read("spo.json", &spo).unwrap(), want);
        assert_eq!(read("list.json", &format!(r#"{{"kind": "List", "items": [{spo}]}}"#)).unwrap(), want);
    }

    #[test]
    fn errors_name_the_file_and_the_place() {
        let err = read("two.json", r#"{"kind": "List", "items": [{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile", "spec": {}},
            {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile", "spec": {}}]}"#)
        .unwrap_err()
        .to_string();
        assert!(err.contains("two.json holds a List of 2 SeccompProfile objects") && !err.contains('\n'), "{err}");
        let err = read(
            "item.json",
            r#"{"kind": "List", "items": [{"kind": "SeccompProfile",
            "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
            "spec": {"defaultAction": "SCMP_ACT_NOPE"}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("item.json:3:") && err.contains("SCMP_ACT_NOPE"), "{err}");
        let err = read("hello.json", r#"{"hello": 1}"#).unwrap_err().to_string();
        assert!(err.contains("hello.json: no seccomp profile here"), "{err}");
    }
}
