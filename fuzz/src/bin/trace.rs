//! Fuzz target: the Trace parser (`trace::read::parse_trace`), and what takes its output. A trace that parses
//! must write back to itself, and profile generation and merge must accept it without panicking.

use std::path::{Path, PathBuf};

use trapline::profile::generate::{DefaultAction, IoctlMode, ProfilePlan, generate};
use trapline::profile::runtime::Runtime;
use trapline::trace::merge::merge;
use trapline::trace::read::parse_trace;
use trapline::files::json::to_json;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(trace) = parse_trace(Path::new("fuzz.json"), data) else { return };
        let written = to_json(&trace);
        let again = parse_trace(Path::new("again.json"), &written).expect("a written trace must parse");
        assert!(again == trace, "a trace changed on its way through to_json and parse_trace");
        for ioctl in [IoctlMode::Exact, IoctlMode::Type] {
            let plan = ProfilePlan {
                default_action: DefaultAction::Errno,
                ioctl,
                runtime: Some(Runtime::Runc),
                allow_mixed_arch: true,
                gpu_portable: ioctl == IoctlMode::Type,
                allow_io_uring: false,
                allow_denied: false,
                widen: Vec::new(),
            };
            let traces = [(PathBuf::from("fuzz.json"), trace.clone())];
            if let Ok(generated) = generate(&traces, &plan) {
                let _ = trapline::profile::explain::explain(&traces, &generated);
                let _ = to_json(&generated.profile);
            }
        }
        let _ = merge(vec![(PathBuf::from("a.json"), trace)]);
    });
}
