//! What a binary reaches, kept per GNU build-id under `$XDG_CACHE_HOME/trapline/reach` (or `~/.cache`): the
//! same library is read once, whatever path it is found at. Any failure to read or write the cache only costs
//! the time to scan again.

use std::path::{Path, PathBuf};

use goblin::elf::Elf;

use super::scan::Ways;

/// `$XDG_CACHE_HOME/trapline/reach`, else `~/.cache/trapline/reach`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("trapline").join("reach"))
}

/// A cache entry's file: the build-id and the trapline version that wrote it (a newer trapline may see more).
fn file(dir: &Path, build_id: &str) -> Option<PathBuf> {
    let safe = !build_id.is_empty() && build_id.bytes().all(|b| b.is_ascii_hexdigit());
    safe.then(|| dir.join(format!("{build_id}-{}.json", env!("CARGO_PKG_VERSION"))))
}

pub fn build_id_of(bytes: &[u8]) -> Option<String> {
    let elf = Elf::parse(bytes).ok()?;
    let notes = elf.iter_note_headers(bytes)?;
    notes
        .filter_map(Result::ok)
        .find(|n| n.n_type == goblin::elf::note::NT_GNU_BUILD_ID)
        .map(|note| note.desc.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn load(dir: &Path, build_id: &str) -> Option<Ways> {
    serde_json::from_slice(&std::fs::read(file(dir, build_id)?).ok()?).ok()
}

pub fn store(dir: &Path, build_id: &str, ways: &Ways) {
    let (Some(path), Ok(bytes)) = (file(dir, build_id), serde_json::to_vec(ways)) else { return };
    if let Some(parent) = path.parent()
        && std::fs::create_dir_all(parent).is_ok()
    {
        // Written whole and renamed, so a reader never sees half an entry.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
