//! Static reachability: the syscalls the native code of an executable or library can make, read from the file
//! itself, so a reviewer sees what the recorded runs never exercised ("reachable, never observed"). Imports of
//! the C library's wrappers and constant `syscall` numbers are what a binary can reach on its own; the C
//! library itself, and interpreters, reach nearly everything, so binaries are ranked by how few they reach.

mod cache;
pub mod scan;
mod wrappers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::trace::model::Trace;
pub use scan::Ways;

/// A binary that reaches more syscalls than this is broad (a C library, an interpreter, a framework): its gaps
/// are counted, not listed one by one.
pub const BROAD: usize = 120;

#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {error}")]
    Scan { path: PathBuf, error: scan::ScanError },
}

/// What one binary can reach, by syscall, with how.
#[derive(Clone, Debug)]
pub struct Reach {
    pub build_id: Option<String>,
    pub ways: Ways,
}

pub use cache::default_dir as default_cache_dir;

/// Reads `path`, through a cache in `cache_dir` kept per build-id (large libraries take seconds to
/// disassemble, and the same library sits at many paths).
pub fn reach(path: &Path, cache_dir: Option<&Path>) -> Result<Reach, ReachError> {
    let bytes = std::fs::read(path).map_err(|error| ReachError::Read { path: path.to_path_buf(), error })?;
    let build_id = cache::build_id_of(&bytes);
    if let Some(ways) = build_id.as_deref().zip(cache_dir).and_then(|(id, dir)| cache::load(dir, id)) {
        return Ok(Reach { build_id, ways });
    }
    let ways = scan::scan(&bytes).map_err(|error| ReachError::Scan { path: path.to_path_buf(), error })?;
    if let (Some(id), Some(dir)) = (&build_id, cache_dir) {
        cache::store(dir, id, &ways);
    }
    Ok(Reach { build_id, ways })
}

/// One binary of the traces, with what it can reach that no run was seen to make.
#[derive(Clone, Debug)]
pub struct Gaps {
    pub binary: String,
    /// How many syscalls it can reach in all.
    pub reachable: usize,
    /// Reachable, never observed: syscall and how.
    pub unobserved: Vec<(String, Vec<String>)>,
    /// Why it could not be read, where it could not.
    pub unreadable: Option<String>,
}

impl Gaps {
    /// Whether the binary reaches so much that its list says little (see [`BROAD`]).
    pub fn broad(&self) -> bool {
        self.reachable > BROAD
    }
}

/// For every executable and library the traces name (the processes' executables and the libraries their call
/// sites were in), what it can reach that no class of the traces made; the most specific binaries first.
pub fn unobserved(traces: &[(PathBuf, Trace)], cache_dir: Option<&Path>) -> Vec<Gaps> {
    let observed: BTreeSet<&str> = traces.iter().flat_map(|(_, t)| &t.classes).map(|c| c.syscall.as_str()).collect();
    let mut binaries: BTreeSet<String> = BTreeSet::new();
    for class in traces.iter().flat_map(|(_, t)| &t.classes) {
        binaries.extend(class.exes.iter().map(|e| e.to_string()));
        if let Some(site) = &class.site {
            binaries.insert(site.at.library.to_string());
            binaries.extend(site.caller.as_ref().map(|c| c.library.to_string()));
        }
    }
    // Pseudo-paths (`[vdso]`, `[anon]`, `[runc]`) and deleted files name nothing on disk.
    binaries.retain(|b| b.starts_with('/') && !b.ends_with(" (deleted)"));
    let mut gaps: Vec<Gaps> = binaries
        .into_iter()
        .map(|binary| match reach(Path::new(&binary), cache_dir) {
            Ok(reach) => {
                let reachable = reach.ways.len();
                let unobserved = reach
                    .ways
                    .into_iter()
                    .filter(|(syscall, _)| !observed.contains(syscall.as_str()))
                    .map(|(syscall, how)| (syscall, how.into_iter().collect()))
                    .collect();
                Gaps { binary, reachable, unobserved, unreadable: None }
            }
            Err(error) => Gaps { binary, reachable: 0, unobserved: Vec::new(), unreadable: Some(error.to_string()) },
        })
        .collect();
    gaps.sort_by(|a, b| (a.broad(), a.reachable, &a.binary).cmp(&(b.broad(), b.reachable, &b.binary)));
    gaps
}

/// Reachable-but-unobserved syscalls by name, with the binaries that reach them: for `--include-reachable`.
pub fn by_syscall(gaps: &[Gaps]) -> BTreeMap<&str, Vec<&str>> {
    let mut by_syscall: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for gap in gaps {
        for (syscall, _) in &gap.unobserved {
            by_syscall.entry(syscall).or_default().push(&gap.binary);
        }
    }
    by_syscall
}
