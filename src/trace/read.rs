//! Reading Traces back, with errors that name the file, the place and the fix.

use std::path::{Path, PathBuf};

use super::model::{SCHEMA, Trace};
use crate::files::json::strip_position;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: {what}; is this a trace written by `trapline record`?")]
    Json { path: PathBuf, line: usize, column: usize, what: String },
    #[error("{path}: trace schema {found} is newer than this trapline understands (schema {SCHEMA}); upgrade trapline")]
    NewerSchema { path: PathBuf, found: u64 },
}

impl ReadError {
    /// The file, where it was read but is no trace (it may be another kind of document).
    pub fn not_a_trace(&self) -> Option<&Path> {
        match self {
            ReadError::Json { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// Reads and validates one Trace file.
pub fn read_trace(path: &Path) -> Result<Trace, ReadError> {
    let bytes = crate::files::read(path).map_err(|error| ReadError::Io { path: path.to_path_buf(), error })?;
    parse_trace(path, &bytes)
}

/// Parses a Trace; `path` is only used in messages.
pub fn parse_trace(path: &Path, bytes: &[u8]) -> Result<Trace, ReadError> {
    let json_error = |e: serde_json::Error| ReadError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        what: strip_position(&e.to_string()),
    };
    #[derive(serde::Deserialize)]
    struct Schema {
        schema: Option<u64>,
    }
    let newer = |found: u64| ReadError::NewerSchema { path: path.to_path_buf(), found };
    match serde_json::from_slice::<Trace>(bytes) {
        Ok(trace) if trace.schema > SCHEMA => Err(newer(u64::from(trace.schema))),
        Ok(trace) => Ok(trace),
        // A newer schema may have another shape: say "upgrade" rather than name a field.
        Err(error) => match serde_json::from_slice::<Schema>(bytes) {
            Ok(Schema { schema: Some(found) }) if found > u64::from(SCHEMA) => Err(newer(found)),
            _ => Err(json_error(error)),
        },
    }
}

/// Reads several traces, in parallel (parsing dominates a profile of many large traces), keeping their
/// order; the first error in input order wins.
pub fn read_traces(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Trace)>, ReadError> {
    read_each(paths).into_iter().collect()
}

/// Reads each file as a trace, in parallel, keeping their order: what each gave, for a caller that takes
/// other inputs too.
pub fn read_each(paths: &[PathBuf]) -> Vec<Result<(PathBuf, Trace), ReadError>> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(paths.len().max(1));
    let chunk = paths.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|p| read_trace(p).map(|t| (p.clone(), t))).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_json_names_the_place() {
        let err = parse_trace(Path::new("t.json"), b"{\n  \"schema\": 1,\n  \"run\": {").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("t.json:3:"), "{text}");
        assert!(text.contains("EOF"), "{text}");
    }

    #[test]
    fn newer_schema_asks_for_an_upgrade() {
        let err = parse_trace(Path::new("t.json"), br#"{"schema": 99, "run": {}, "classes": []}"#).unwrap_err();
        assert!(err.to_string().contains("schema 99 is newer"), "{err}");
    }

    #[test]
    fn wrong_shape_names_the_field() {
        let err = parse_trace(Path::new("t.json"), br#"{"schema": 1, "run": 3, "classes": []}"#).unwrap_err();
        assert!(err.to_string().starts_with("t.json:1:"), "{err}");
    }
}
