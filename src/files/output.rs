//! Writing an output file so that readers only ever see the old file or the whole new one, or writing to stdout.
//!
//! The output directory is checked before the workload starts (a run that cannot be saved is refused up
//! front), and the document is written to a temporary file beside the target, then renamed over it.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: {error}; choose a writable location with -o")]
    Unwritable { path: PathBuf, error: io::Error },
    #[error("cannot write {path}: the directory {dir} does not exist; create it (mkdir -p {dir}) or choose another -o")]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: it is a directory; name a file with -o")]
    IsDirectory { path: PathBuf },
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    /// The cause is kept as the source, so a reader that went away (`| head`) can be told apart.
    #[error("cannot write to standard output")]
    Stdout(#[source] io::Error),
}

/// The name that means standard output (or input) wherever a command takes a file.
pub const STDIO: &str = "-";

/// An output that has been checked to be writable, before any work is done.
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    target: Target,
}

#[derive(Debug)]
enum Target {
    /// A regular file (or none yet): written beside it and renamed over it.
    Replace,
    /// Not a regular file (`/dev/null`, `/dev/stdout`, a FIFO): opened up front and written in place, because
    /// renaming a file over it would replace the node itself.
    InPlace(fs::File),
    /// `-`: standard output.
    Stdout,
}

impl Output {
    /// Checks `path`; `-` is standard output.
    pub fn prepare(path: &Path) -> Result<Output, WriteError> {
        let output = |target| Ok(Output { path: path.to_path_buf(), target });
        if path == Path::new(STDIO) {
            return output(Target::Stdout);
        }
        if path.is_dir() {
            return Err(WriteError::IsDirectory { path: path.to_path_buf() });
        }
        let unwritable = |error| WriteError::Unwritable { path: path.to_path_buf(), error };
        if path.metadata().is_ok_and(|m| !m.is_file()) {
            let file = fs::OpenOptions::new().write(true).open(path).map_err(unwritable)?;
            return output(Target::InPlace(file));
        }
        // Only a directory that is really missing: one trapline may not look into is reported by the write itself,
        // with the permission error.
        let missing = |d: &Path| d.metadata().is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && missing(d)) {
            return Err(WriteError::NoDirectory { path: path.to_path_buf(), dir: dir.to_path_buf() });
        }
        let probe = temp_path(path);
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&probe).map_err(unwritable)?;
        fs::remove_file(&probe).map_err(unwritable)?;
        if path.exists() {
            // An existing target must be replaceable too (rename needs the directory, not the file, but a
            // read-only file signals that the user did not mean it to be overwritten).
            fs::OpenOptions::new().append(true).open(path).map_err(unwritable)?;
        }
        output(Target::Replace)
    }

    /// `path` checked, or standard output where none was named.
    pub fn prepare_or_stdout(path: Option<&Path>) -> Result<Output, WriteError> {
        Output::prepare(path.unwrap_or(Path::new(STDIO)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the document goes to standard output (where a terminal may want colour).
    pub fn is_stdout(&self) -> bool {
        matches!(self.target, Target::Stdout)
    }

    /// How a summary line names where the document went.
    pub fn name(&self) -> String {
        match self.target {
            Target::Stdout => "standard output".to_string(),
            _ => self.path.display().to_string(),
        }
    }

    /// Writes the whole document: to a temporary file in the same directory renamed over the target, in place,
    /// or to standard output.
    pub fn commit(&self, bytes: &[u8]) -> Result<(), WriteError> {
        match &self.target {
            Target::Replace => self.replace(bytes),
            // `Write` is implemented for `&File`: no need to own it.
            Target::InPlace(file) => {
                (&*file).write_all(bytes).map_err(|error| WriteError::Write { path: self.path.clone(), error })
            }
            Target::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(WriteError::Stdout)
            }
        }
    }

    /// A new file gets 0644 less the umask; a replaced one keeps its permissions (a trace someone made private
    /// stays private). atomic-write-file writes it unnamed (O_TMPFILE), syncs it, puts it over the target and
    /// syncs the directory: readers see the old file or the whole new one, after a crash too.
    fn replace(&self, bytes: &[u8]) -> Result<(), WriteError> {
        let write = || {
            let mut file = atomic_write_file::OpenOptions::new().mode(0o644).open(&self.path)?;
            file.write_all(bytes)?;
            file.commit()
        };
        write().map_err(|error| WriteError::Write { path: self.path.clone(), error })
    }
}

/// `dir/.name.trapline-PID.tmp`: hidden, unique per process, on the same filesystem as the target.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(format!(".{name}.trapline-{}.tmp", std::process::id()))
}
