//! Driving a running `trapline` from a test: read the workload's stdout line by line while it runs (to learn its
//! pids, or when it is ready), send signals to trapline or the workload, then collect how it ended. Everything is
//! bounded by [`super::TIMEOUT`], and a process still running when the test fails is killed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Finished, TIMEOUT};

/// A started command whose stdout lines arrive as they are written.
pub struct Live {
    child: Option<Child>,
    lines: Receiver<String>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    deadline: Instant,
    desc: String,
}

impl Live {
    /// Starts `cmd` with stdin from /dev/null and stdout and stderr piped.
    pub fn spawn(cmd: &mut Command) -> Live {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let desc = format!("{cmd:?}");
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
        let (tx, lines) = channel();
        let out = child.stdout.take().expect("stdout is piped");
        let stdout = thread::spawn(move || {
            let mut all = Vec::new();
            let mut reader = BufReader::new(out);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        all.extend_from_slice(&line);
                        let _ = tx.send(String::from_utf8_lossy(&line).trim_end().to_string());
                    }
                }
            }
            all
        });
        let mut err = child.stderr.take().expect("stderr is piped");
        let stderr = thread::spawn(move || {
            let mut all = Vec::new();
            let _ = err.read_to_end(&mut all);
            all
        });
        Live {
            child: Some(child),
            lines,
            stdout: Some(stdout),
            stderr: Some(stderr),
            deadline: Instant::now() + TIMEOUT,
            desc,
        }
    }

    /// The process id of the command (trapline itself).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("not waited for yet").id() as i32
    }

    /// The next line the command writes on stdout; panics (after killing it) if none comes before the deadline.
    pub fn line(&mut self) -> String {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => self.fail(&format!("no stdout line within {TIMEOUT:?}")),
            Err(RecvTimeoutError::Disconnected) => {
                let finished = self.wait();
                panic!(
                    "{}: stdout closed before the expected line; exit {:?}, stderr:\n{}",
                    self.desc,
                    finished.status,
                    finished.stderr_str()
                )
            }
        }
    }

    /// Sends `signal` to the command (trapline).
    pub fn signal(&self, signal: i32) {
        send(self.pid(), signal);
    }

    /// Whether it has exited, without waiting.
    pub fn exited(&mut self) -> bool {
        self.child.as_mut().expect("not waited for yet").try_wait().unwrap().is_some()
    }

    /// Waits for the command to end (killing it and panicking at the deadline) and returns its status and
    /// everything it wrote, the lines already read included.
    pub fn wait(&mut self) -> Finished {
        let mut child = self.child.take().expect("waited for twice");
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > self.deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("timed out after {TIMEOUT:?}: {}", self.desc);
            }
            thread::sleep(Duration::from_millis(5));
        };
        Finished {
            status,
            stdout: self.stdout.take().map(|h| h.join().unwrap()).unwrap_or_default(),
            stderr: self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default(),
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{}: {why}", self.desc)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// kill(2); a process that is already gone is not an error.
pub fn send(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    let r = unsafe { libc::kill(pid, signal) };
    assert!(r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH), "kill({pid}, {signal})");
}

/// `/proc/PID/stat` fields after the command name (field 3, the state, is element 0); `None` once it is gone.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The scheduler state letter of a process (`R`, `S`, `T`, `t`, `Z`, ...), or `None` once it is gone.
pub fn state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// When the process started (clock ticks since boot): with the pid, names one process even if the pid is reused.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Whether the process that had `pid` and started at `started` still runs (a zombie or a new owner of the pid
/// does not count).
pub fn alive(pid: i32, started: u64) -> bool {
    start_time(pid) == Some(started) && !matches!(state(pid), Some('Z' | 'X') | None)
}

/// Every descendant of `pid` (children, their children, ...), from `/proc/PID/task/*/children`.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse::<i32>().ok()) {
                if !found.contains(&child) {
                    found.push(child);
                    todo.push(child);
                }
            }
        }
    }
    found
}
