//! The reachability cache: one JSON file per build id, so a 1 GB library is decoded once per build, not once per
//! report. An entry written by another trapline version is ignored (its wrapper table may differ).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Entry {
    trapline: String,
    syscalls: BTreeSet<String>,
    unresolved: u64,
}

/// The entry's file; none for a build id that is not plain hex (it comes from a trace, which may be edited).
fn file(dir: &Path, build_id: &str) -> Option<PathBuf> {
    let hex = !build_id.is_empty() && build_id.len() <= 128 && build_id.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| dir.join(format!("{build_id}.json")))
}

pub fn load(dir: &Path, build_id: &str) -> Option<(BTreeSet<String>, u64)> {
    let bytes = std::fs::read(file(dir, build_id)?).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.trapline == env!("CARGO_PKG_VERSION")).then_some((entry.syscalls, entry.unresolved))
}

/// Writes the entry under a private name and renames it into place, so a reader never sees half of one.
pub fn store(dir: &Path, build_id: &str, syscalls: &BTreeSet<String>, unresolved: u64) -> std::io::Result<()> {
    let Some(path) = file(dir, build_id) else { return Ok(()) };
    std::fs::create_dir_all(dir)?;
    let entry = Entry { trapline: env!("CARGO_PKG_VERSION").to_string(), syscalls: syscalls.clone(), unresolved };
    let private = dir.join(format!(".{build_id}.{}.tmp", std::process::id()));
    std::fs::write(&private, serde_json::to_vec(&entry).map_err(std::io::Error::other)?)?;
    std::fs::rename(&private, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_build_ids_name_a_file() {
        assert!(file(Path::new("/c"), "4f2c").is_some());
        assert!(file(Path::new("/c"), "../../etc/passwd").is_none());
        assert!(file(Path::new("/c"), "").is_none());
    }
}
