//! Fuzz target: the profile reader used by `run`, `record --known` and `check` (`profile::read::read_profile`),
//! then the libseccomp compiler that turns what it read into BPF, in both modes.

use trapline::profile::compile::{Mode, compile};
use trapline::profile::read::read_profile;
use trapline_fuzz::MemFile;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let file = MemFile::new(data);
        let Ok(profile) = read_profile(&file.path()) else { return };
        let _ = compile(&profile, Mode::Enforce);
        let _ = compile(&profile, Mode::TraceOutside);
    });
}
