//! Documentation generated from the same clap definitions as `--help`: man pages and shell completions.

use std::path::Path;

use clap::CommandFactory;

use super::Verdict;
use super::args::Args;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<Verdict> {
    clap_complete::generate(shell, &mut Args::command(), "trapline", &mut std::io::stdout());
    Ok(Verdict::Clean)
}

/// One page for trapline and one per command, nested commands included (`trapline-import-strace.1`), each
/// listing its subcommands' pages, so no reference dangles.
pub fn man_pages(dir: &Path) -> anyhow::Result<Verdict> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    clap_mangen::generate_to(Args::command(), dir)
        .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", dir.display()))?;
    Ok(Verdict::Clean)
}
