//! Argument types several commands share: the reachability cache, the groups `--allow-group` names, and
//! probabilities.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::profile::groups::{self, Group};

/// A probability strictly between 0 and 1.
pub fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err(format!("{text:?} is no probability between 0 and 1 (exclusive); try 0.05")),
    }
}

/// Where reachability results are kept per build id.
#[derive(Debug, clap::Args)]
pub struct CacheArg {
    /// The reachability cache, one file per build id [default: $XDG_CACHE_HOME/trapline/reachable or
    /// ~/.cache/trapline/reachable].
    #[arg(long = "cache", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl CacheArg {
    pub fn dir(&self) -> Option<PathBuf> {
        let home = || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"));
        self.dir.clone().or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|d| d.is_absolute())
                .or_else(home)
                .map(|d| d.join("trapline/reachable"))
        })
    }
}

/// The groups of `profile --allow-group` (`profile::groups::GROUPS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GroupArg {
    Signals,
    Cleanup,
}

impl GroupArg {
    pub fn group(self) -> &'static Group {
        match self {
            GroupArg::Signals => &groups::SIGNALS,
            GroupArg::Cleanup => &groups::CLEANUP,
        }
    }
}

/// `--select KEY[=VALUE]`.
pub fn annotation_selector(text: &str) -> Result<(String, Option<String>), String> {
    let (key, value) = match text.split_once('=') {
        Some((key, value)) => (key, Some(value.to_string())),
        None => (text, None),
    };
    if key.is_empty() {
        return Err("an annotation key is needed before `=` (e.g. io.kubernetes.cri.sandbox-namespace=ml)".into());
    }
    Ok((key.to_string(), value))
}
