//! Calls a profile can allow although no run made them: named groups for the error and shutdown paths healthy
//! runs never take (`profile --allow-group signals`), and what a library can reach (`--include-reachable`). Each rule they add is a known risk accepted in review, so
//! the explain report lists it as widened, and the command says so when it writes the profile.

/// A group of syscalls allowed together, and why a workload needs them on a path healthy runs do not take.
#[derive(Debug, PartialEq, Eq)]
pub struct Group {
    pub name: &'static str,
    pub names: &'static [&'static str],
    /// Reads after "for": "for stopping workers ...".
    pub why: &'static str,
}

/// Calls that send a signal to a process or thread.
pub const SIGNAL_SENDERS: &[&str] =
    &["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"];

/// Calls that remove a file or directory.
pub const REMOVERS: &[&str] = &["unlink", "unlinkat", "rmdir"];

/// Stopping workers and children: sending them signals and reaping them.
pub const SIGNALS: Group = Group {
    name: "signals",
    names: &[
        "kill",
        "tkill",
        "tgkill",
        "rt_sigqueueinfo",
        "rt_tgsigqueueinfo",
        "pidfd_open",
        "pidfd_send_signal",
        "wait4",
        "waitid",
    ],
    why: "stopping workers and children after Ctrl-C, a timeout or a failure: sending them signals and reaping them",
};

/// Removing what the workload made.
pub const CLEANUP: Group = Group {
    name: "cleanup",
    names: REMOVERS,
    why: "removing temporary files, sockets and directories, also on an error path",
};

pub const GROUPS: &[&Group] = &[&SIGNALS, &CLEANUP];

/// Calls allowed although no run made them, and on whose word: a named group, or what a library can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Widening {
    /// The option that asked for it: `--allow-group signals`, `--include-reachable libfoo.so`.
    pub by: String,
    /// Reads after "for".
    pub why: String,
    pub names: Vec<String>,
}

impl Group {
    pub fn widening(&self) -> Widening {
        Widening {
            by: format!("--allow-group {}", self.name),
            why: self.why.to_string(),
            names: self.names.iter().map(|n| n.to_string()).collect(),
        }
    }
}

/// The group called `name`.
pub fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().copied().find(|g| g.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_what_coverage_reports_missing() {
        let signals = group("signals").unwrap();
        assert!(SIGNAL_SENDERS.iter().all(|n| signals.names.contains(n)));
        assert_eq!(group("cleanup").unwrap().names, REMOVERS);
        assert!(group("nothing").is_none());
    }
}
