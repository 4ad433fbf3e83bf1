//! The files trapline reads and writes, below every other module: atomic output (or stdout), and JSON
//! with errors that name the place; `-` for standard input and output.

pub mod json;
pub mod markdown;
pub mod output;
pub mod position;

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The whole file at `path`, or standard input for `-` (once: a second `-` has nothing left to read).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    if path != Path::new(output::STDIO) {
        return std::fs::read(path);
    }
    static TAKEN: AtomicBool = AtomicBool::new(false);
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "standard input (-) can be read only once"));
    }
    let mut bytes = Vec::new();
    io::stdin().lock().read_to_end(&mut bytes)?;
    Ok(bytes)
}
