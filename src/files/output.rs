//! Writing an output file so that readers only ever see the old file or the whole new one, or writing to stdout.
//!
//! The output directory is checked before the workload starts (a run that cannot be saved is refused up
//! front), and the document is written to a temporary file beside the target, then renamed over it.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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

/// An output path that has been checked to be writable.
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    /// The target is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO): opened up front and written in
    /// place, because renaming a file over it would replace the node itself.
    in_place: Option<fs::File>,
}

impl Output {
    pub fn prepare(path: &Path) -> Result<Output, WriteError> {
        if path.is_dir() {
            return Err(WriteError::IsDirectory { path: path.to_path_buf() });
        }
        if path.metadata().is_ok_and(|m| !m.is_file()) {
            let unwritable = |error| WriteError::Unwritable { path: path.to_path_buf(), error };
            let file = fs::OpenOptions::new().write(true).open(path).map_err(unwritable)?;
            return Ok(Output { path: path.to_path_buf(), in_place: Some(file) });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            return Err(WriteError::NoDirectory { path: path.to_path_buf(), dir: dir.to_path_buf() });
        }
        let probe = temp_path(path);
        let unwritable = |error| WriteError::Unwritable { path: path.to_path_buf(), error };
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&probe).map_err(unwritable)?;
        fs::remove_file(&probe).map_err(unwritable)?;
        if path.exists() {
            // An existing target must be replaceable too (rename needs the directory, not the file, but a
            // read-only file signals that the user did not mean it to be overwritten).
            fs::OpenOptions::new().append(true).open(path).map_err(unwritable)?;
        }
        Ok(Output { path: path.to_path_buf(), in_place: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to a temporary file in the same directory and renames it over the target.
    pub fn commit(&self, bytes: &[u8]) -> Result<(), WriteError> {
        if let Some(mut file) = self.in_place.as_ref() {
            return file.write_all(bytes).map_err(|error| WriteError::Write { path: self.path.clone(), error });
        }
        let temp = temp_path(&self.path);
        // A file replaced keeps its permissions: a trace someone made private stays private.
        let keep = fs::metadata(&self.path).ok().map(|m| m.permissions().mode() & 0o7777);
        let result = (|| {
            // A new file gets 0644 less the umask; a replaced one is created private, then given its old mode.
            let create_mode = if keep.is_some() { 0o600 } else { 0o644 };
            let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(create_mode).open(&temp)?;
            if let Some(mode) = keep {
                file.set_permissions(fs::Permissions::from_mode(mode))?;
            }
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, &self.path)
        })();
        result.map_err(|error| {
            let _ = fs::remove_file(&temp);
            WriteError::Write { path: self.path.clone(), error }
        })
    }
}

/// `dir/.name.trapline-PID.tmp`: hidden, unique per process, on the same filesystem as the target.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(format!(".{name}.trapline-{}.tmp", std::process::id()))
}

/// Where a command's document goes: a checked file, or stdout when no file was named.
#[derive(Debug)]
pub enum Destination {
    Stdout,
    File(Output),
}

impl Destination {
    /// Checks `path` up front (before any work is done), or picks stdout when there is none.
    pub fn prepare(path: Option<&Path>) -> Result<Destination, WriteError> {
        Ok(match path {
            Some(path) => Destination::File(Output::prepare(path)?),
            None => Destination::Stdout,
        })
    }

    /// Writes the whole document: atomically to a file, or to stdout.
    pub fn commit(&self, bytes: &[u8]) -> Result<(), WriteError> {
        match self {
            Destination::File(output) => output.commit(bytes),
            Destination::Stdout => io::stdout().lock().write_all(bytes).map_err(WriteError::Stdout),
        }
    }
}
