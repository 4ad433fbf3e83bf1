//! `trapline runtime`: reading the runc command line an engine gives its runtime, to tell which calls create
//! a container (those are recorded) from the rest (passed to runc untouched), and where the container's
//! bundle, pid file and trace name are.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::agent::trace_name;

/// runc's global options that take a value (`--root DIR`); the others are flags.
const VALUED_GLOBALS: [&str; 5] = ["--root", "--log", "--log-format", "--criu", "--rootless"];

/// A runc command that starts a container: `[globals] create|run [options] ID`.
#[derive(Debug, PartialEq, Eq)]
pub struct Creation {
    /// `create` (the engine starts it later) or `run` (in the foreground).
    pub verb: String,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    /// The global options, to ask runc about the container afterwards (`runc --root DIR state ID`).
    pub globals: Vec<OsString>,
}

/// Options of `create`/`run` that take a value.
const VALUED_OPTIONS: [&str; 6] =
    ["--bundle", "-b", "--console-socket", "--pid-file", "--preserve-fds", "--pidfd-socket"];

/// The container a runc command line creates, or `None` for any other command (and for one this does not
/// understand, which is then passed on untouched rather than guessed at).
pub fn creation(args: &[OsString]) -> Option<Creation> {
    let text: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let mut i = 0;
    while i < text.len() && text[i].starts_with('-') {
        i += if VALUED_GLOBALS.contains(&text[i]) { 2 } else { 1 };
    }
    let verb = *text.get(i)?;
    if verb != "create" && verb != "run" {
        return None;
    }
    let globals = args[..i].to_vec();
    let (mut bundle, mut pid_file, mut id) = (PathBuf::from("."), None, None);
    let mut j = i + 1;
    while j < text.len() {
        let (flag, inline) = match text[j].split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => (flag, Some(value)),
            _ => (text[j], None),
        };
        let value = if VALUED_OPTIONS.contains(&flag) && inline.is_none() {
            j += 1;
            text.get(j).copied()
        } else {
            inline
        };
        match flag {
            "--bundle" | "-b" => bundle = PathBuf::from(value?),
            "--pid-file" => pid_file = Some(PathBuf::from(value?)),
            f if f.starts_with('-') => {}
            positional => id = Some(positional.to_string()),
        }
        j += 1;
    }
    Some(Creation { verb: verb.to_string(), id: id?, bundle, pid_file, globals })
}

/// The trace's file name: the container id, with the Kubernetes pod and container names from the bundle's
/// annotations when it has them.
pub fn trace_file(creation: &Creation) -> String {
    let config: Value = std::fs::read(creation.bundle.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_slice(&text).ok())
        .unwrap_or(Value::Null);
    format!("{}.json", trace_name(&creation.id, &config["annotations"]))
}

/// Whether `dir` takes a file, checked by writing one, so a container is refused before it starts rather than
/// losing its trace when it ends.
pub fn writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".trapline-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn docker_and_containerd_creations_are_recognised() {
        let docker = "--root /run/docker/runtime-runc/moby --log /x/log.json --log-format json create --bundle /b \
                      --pid-file /b/init.pid c1";
        let c = creation(&args(docker)).unwrap();
        assert_eq!((c.verb.as_str(), c.id.as_str()), ("create", "c1"));
        assert_eq!(c.bundle, PathBuf::from("/b"));
        assert_eq!(c.pid_file, Some(PathBuf::from("/b/init.pid")));
        assert_eq!(c.globals.len(), 6);
        let shim = "--root /run/containerd/runc/default --log /b/log.json --log-format json --systemd-cgroup \
                    create --bundle=/b --pid-file=/b/init.pid --no-pivot c2";
        let c = creation(&args(shim)).unwrap();
        assert_eq!((c.id.as_str(), c.bundle.to_str()), ("c2", Some("/b")));
    }

    #[test]
    fn other_commands_pass_through() {
        assert_eq!(creation(&args("--root /r start c1")), None);
        assert_eq!(creation(&args("--root /r delete --force c1")), None);
        assert_eq!(creation(&args("--version")), None);
        assert_eq!(creation(&args("create --bundle /b")), None);
    }
}
