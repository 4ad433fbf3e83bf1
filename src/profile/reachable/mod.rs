//! Static reachability: for every executable and library the traces name, the syscalls its code can reach
//! (`elf` scans it, `wrappers` turns imported libc functions into syscalls), minus what the runs made: the calls
//! a run that takes another path may need. Results are cached per build id (`cache`).

mod cache;
pub mod elf;
pub mod wrappers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::decode::arch::Arch;
use crate::trace::model::{Location, Trace};

/// A binary that reaches more syscalls than this is an interpreter, a C library or a runtime: nearly everything,
/// so its gaps are counted, not listed, in reports for people.
pub const BROAD: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {why}")]
    NotElf { path: PathBuf, why: String },
    #[error("{path} is not the file the run used (build id {found}, the trace says {recorded})")]
    OtherBuild { path: PathBuf, recorded: String, found: String },
    #[error(
        "--include-reachable {name}: the traces name no library or executable of that name, and there is no such \
         file; give a path, or one of: {known}"
    )]
    NoSuchBinary { name: String, known: String },
}

/// What one binary can reach and the runs never made.
#[derive(Clone, Debug, Serialize)]
pub struct Binary {
    pub binary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// How many syscalls its code can reach.
    pub reachable: usize,
    /// Those no run made, sorted.
    pub unobserved: Vec<String>,
    /// Reaches more than [`BROAD`] syscalls.
    pub broad: bool,
    /// `syscall` instructions whose number is computed, so not counted.
    pub unresolved: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub binary: String,
    pub why: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Reachability {
    /// Most specific first: fewest reachable syscalls, broad ones last.
    pub binaries: Vec<Binary>,
    pub skipped: Vec<Skipped>,
}

/// The syscalls one file can reach, and its build id: from the cache when `cache` holds its build id.
pub fn reachable_of(
    path: &Path,
    expected_build_id: Option<&str>,
    arch: Arch,
    cache: Option<&Path>,
) -> Result<(Option<String>, BTreeSet<String>, u64), ReachError> {
    if let (Some(dir), Some(id)) = (cache, expected_build_id)
        && let Some((names, unresolved)) = cache::load(dir, id)
    {
        return Ok((Some(id.to_string()), names, unresolved));
    }
    let loaded = elf::load(path)?;
    if let (Some(recorded), Some(found)) = (expected_build_id, loaded.build_id.as_deref())
        && recorded != found
    {
        return Err(ReachError::OtherBuild {
            path: path.to_path_buf(),
            recorded: recorded.to_string(),
            found: found.to_string(),
        });
    }
    if let (Some(dir), Some(id)) = (cache, loaded.build_id.as_deref())
        && let Some((names, unresolved)) = cache::load(dir, id)
    {
        return Ok((Some(id.to_string()), names, unresolved));
    }
    let scanned = loaded.scan(path)?;
    let mut names: BTreeSet<String> = BTreeSet::new();
    for import in &scanned.imports {
        names.extend(wrappers::syscalls_of(import, arch).into_iter().map(str::to_string));
    }
    names.extend(scanned.numbers.iter().filter_map(|&nr| arch.syscall_name(nr)).map(str::to_string));
    if let (Some(dir), Some(id)) = (cache, loaded.build_id.as_deref()) {
        // A cache that cannot be written costs the next run time, nothing else.
        let _ = cache::store(dir, id, &names, scanned.unresolved);
    }
    Ok((loaded.build_id, names, scanned.unresolved))
}

/// Every executable and call-site library the traces name, with the build id recorded for it.
pub fn binaries(traces: &[(PathBuf, Trace)]) -> BTreeMap<String, Option<String>> {
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut library = |loc: &Location| {
        let path = loc.library.to_string();
        let path = path.strip_suffix(" (deleted)").unwrap_or(&path).to_string();
        if path.starts_with('/') {
            let entry = found.entry(path).or_default();
            if entry.is_none() {
                entry.clone_from(&loc.build_id);
            }
        }
    };
    for class in traces.iter().flat_map(|(_, t)| &t.classes) {
        if let Some(site) = &class.site {
            library(&site.at);
            if let Some(caller) = &site.caller {
                library(caller);
            }
        }
    }
    for exe in traces.iter().flat_map(|(_, t)| &t.classes).flat_map(|c| &c.exes) {
        let exe = exe.to_string();
        if exe.starts_with('/') {
            found.entry(exe).or_default();
        }
    }
    found
}

/// The binary `name` means: a path or file name the traces name (`libfoo.so` also matches `libfoo.so.1`), with
/// its recorded build id, else an existing file.
pub fn resolve(traces: &[(PathBuf, Trace)], name: &str) -> Result<(PathBuf, Option<String>), ReachError> {
    let named = binaries(traces);
    let matches = |path: &str| {
        let file = path.rsplit('/').next().unwrap_or(path);
        path == name || file == name || file.strip_prefix(name).is_some_and(|rest| rest.starts_with('.'))
    };
    if let Some((path, build_id)) = named.iter().find(|(path, _)| matches(path)) {
        return Ok((PathBuf::from(path), build_id.clone()));
    }
    if Path::new(name).is_file() {
        return Ok((PathBuf::from(name), None));
    }
    let known: Vec<&str> = named.keys().map(|p| p.rsplit('/').next().unwrap_or(p)).collect();
    Err(ReachError::NoSuchBinary { name: name.to_string(), known: known.join(", ") })
}

/// Reachable, never observed, for every binary the traces name that can be read here.
pub fn reachability(traces: &[(PathBuf, Trace)], cache: Option<&Path>) -> Reachability {
    let arch = traces.iter().find_map(|(_, t)| t.arch()).unwrap_or(Arch::X86_64);
    let observed: BTreeSet<&str> = traces.iter().flat_map(|(_, t)| &t.classes).map(|c| c.syscall.as_str()).collect();
    let mut out = Reachability::default();
    for (path, build_id) in binaries(traces) {
        if arch != Arch::X86_64 {
            out.skipped.push(Skipped { binary: path, why: format!("recorded on {arch}; only x86_64 is decoded") });
            continue;
        }
        match reachable_of(Path::new(&path), build_id.as_deref(), arch, cache) {
            Ok((build_id, names, unresolved)) => {
                let unobserved: Vec<String> =
                    names.iter().filter(|n| !observed.contains(n.as_str())).cloned().collect();
                out.binaries.push(Binary {
                    binary: path,
                    build_id,
                    reachable: names.len(),
                    unobserved,
                    broad: names.len() > BROAD,
                    unresolved,
                });
            }
            Err(e) => out.skipped.push(Skipped { binary: path, why: e.to_string() }),
        }
    }
    out.binaries.sort_by(|a, b| (a.broad, a.reachable, &a.binary).cmp(&(b.broad, b.reachable, &b.binary)));
    out
}
