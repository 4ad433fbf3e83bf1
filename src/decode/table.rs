//! Per-architecture lookup tables built once per run, so the tracer's hot path is an array index, not a
//! string comparison.

use super::arch::Arch;
use super::rows::{Row, result_worthy, row_for};

#[derive(Clone, Copy, Default)]
pub struct Entry {
    pub name: Option<&'static str>,
    pub row: Option<&'static Row>,
    /// Whether the tracer should stop again at syscall exit to see the result.
    pub wants_result: bool,
}

/// Which results the tracer collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Results {
    /// Results of fd-creating calls, ioctl and exec: one extra stop for those calls only.
    Auto,
    /// Every result: two stops per syscall.
    All,
    /// No results: the backend cannot see them (seccomp user notification lets calls run after answering).
    None,
}

pub struct SyscallTables {
    by_arch: Vec<Vec<Entry>>,
}

impl SyscallTables {
    pub fn new(results: Results) -> SyscallTables {
        let by_arch = Arch::ALL
            .iter()
            .map(|&arch| {
                (0..arch.table_len() as u64)
                    .map(|nr| {
                        let name = arch.syscall_name(nr);
                        Entry {
                            name,
                            row: name.and_then(|n| row_for(arch, n)),
                            wants_result: results == Results::All || name.is_some_and(result_worthy),
                        }
                    })
                    .collect()
            })
            .collect();
        SyscallTables { by_arch }
    }

    /// The entry for a call; unknown numbers get an empty entry (counted, named by number).
    pub fn get(&self, arch: Arch, table_nr: u64) -> Entry {
        usize::try_from(table_nr).ok().and_then(|nr| self.by_arch[arch.index()].get(nr)).copied().unwrap_or_default()
    }
}
