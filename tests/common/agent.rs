//! `trapline agent` started by a test, on a socket of its own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::run;

/// The agent process, stopped with SIGTERM when dropped.
pub struct Agent(Child);

impl Agent {
    /// `trapline agent --socket SOCKET --out OUT`, once it listens.
    pub fn start(socket: &Path, out: &Path) -> Agent {
        let agent = Agent(
            Command::new(env!("CARGO_BIN_EXE_trapline"))
                .args(["agent", "--socket"])
                .arg(socket)
                .arg("--out")
                .arg(out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        assert!(wait_for(socket), "the agent never listened on {}", socket.display());
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// Whether `path` exists within 20 s.
pub fn wait_for(path: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The recording profile (`trapline profile --recording`) for an agent listening at `socket`.
pub fn recording_profile(socket: &Path) -> Value {
    let out = run(Command::new(env!("CARGO_BIN_EXE_trapline"))
        .args(["profile", "--recording", "--listener"])
        .arg(socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert_eq!(out.code(), 0, "trapline profile --recording: {}", out.stderr_str());
    serde_json::from_str(&out.stdout_str()).unwrap()
}
