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

/// One page for trapline and one per command.
pub fn man_pages(dir: &Path) -> anyhow::Result<Verdict> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let command = Args::command();
    let mut pages = vec![("trapline".to_string(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("trapline-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page).render(&mut bytes)?;
        std::fs::write(&path, bytes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(Verdict::Clean)
}
