//! What every way of seeing calls shares: the ptrace and notify backends under `record/`, and the log importers
//! under `import/`. Each supplies raw calls; this layer turns them into call classes (`classify`), keeps the
//! per-process fd tables that tie an fd to its device (`fdtable`), tells a kernel restart from a new call
//! (`restart`), and reports how the workload ended (`exit`).

pub mod classify;
pub mod exit;
pub mod fdtable;
pub mod restart;

pub use exit::exit_of;
