//! How a workload ended, as the shell would report it: shared by the backends and the log importers.

use crate::decode::flags::signal_name;
use crate::trace::model::Exit;

/// The exit status a shell reports for a workload that ended this way.
pub fn exit_of(code: Option<i32>, signal: Option<i32>) -> Exit {
    match (code, signal) {
        (_, Some(signal)) => Exit { status: 128 + signal, signal: Some(signal_name(signal)) },
        (Some(code), None) => Exit { status: code, signal: None },
        (None, None) => Exit { status: 0, signal: None },
    }
}
