//! Fuzz target: the strace importer (`import::strace::import`). Whatever it makes of a log must be a trace that
//! writes and parses back.

use std::path::Path;

use trapline::trace::read::parse_trace;
use trapline::files::json::to_json;
use trapline_fuzz::MemFile;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let file = MemFile::new(data);
        let Ok(imported) = trapline::import::strace::import(&file.path()) else { return };
        let written = to_json(&imported.trace);
        parse_trace(Path::new("imported.json"), &written).expect("an imported trace must parse back");
    });
}
