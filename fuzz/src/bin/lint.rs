//! Fuzz target: the profile linter (`profile::lint::lint_bytes`), which reads any JSON as a profile and must turn
//! every oddity into a finding or an error, never a panic.

use std::path::Path;

use trapline::profile::runtime::Runtime;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = trapline::profile::lint::lint_bytes(Path::new("fuzz.json"), data, Some(Runtime::Runc));
    });
}
