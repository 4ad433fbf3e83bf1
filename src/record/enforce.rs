//! Running a workload under a profile, enforcing it: the filter is compiled in trapline's process, loaded by
//! the launcher between fork and exec, and nothing is traced, so the workload runs at native speed.

use std::ffi::OsString;
use std::path::Path;

use super::launcher::{self, ChildFailure, Launch};
use super::{RecordError, signals};
use crate::observe::exit_of;
use crate::profile::compile::{Mode, allows_unconditionally, compile, unknown_names_warning};
use crate::profile::read::read_profile;
use crate::trace::model::Exit;

/// A workload ready to run under a profile: the command found and the profile compiled, before anything runs.
pub struct Enforcement {
    launch: Launch,
    filter: Vec<libc::sock_filter>,
    /// What the user should know before the workload starts (names libseccomp left out).
    pub warning: Option<String>,
}

impl Enforcement {
    /// Reads `profile`, finds the command and compiles the filter, refusing a profile the launcher cannot
    /// start a workload under.
    pub fn prepare(profile: &Path, command: &[OsString]) -> Result<Enforcement, RecordError> {
        let seccomp = read_profile(profile)?;
        let launch = Launch::resolve(command)?;
        // The launcher execs the workload after loading the filter: a profile that denies execve could only
        // kill or fail it there, with nothing to say why.
        if !allows_unconditionally(&seccomp, "execve") {
            return Err(RecordError::ProfileDeniesExec { program: launch.program.clone() });
        }
        let (filter, unknown) = compile(&seccomp, Mode::Enforce)?;
        Ok(Enforcement { launch, filter, warning: unknown_names_warning(profile, &unknown) })
    }

    /// What to say when the workload failed under the profile: a denied call rarely says so itself (a library
    /// reports "cannot allocate memory", a worker "exited unexpectedly"), and the audit names the call.
    pub fn hint(profile: &Path, exit: &Exit) -> Option<String> {
        let ended = match (&exit.signal, exit.status) {
            (Some(signal), _) => format!("was killed by {signal}"),
            (None, 0) => return None,
            (None, status) => format!("exited with status {status}"),
        };
        let profile = profile.display();
        Some(format!(
            "the workload {ended} under {profile}; if the profile denied a call it needs, \
             `trapline run --audit --profile {profile} -- COMMAND` lists what it would deny"
        ))
    }

    /// Runs the workload under the filter and returns how it ended.
    pub fn run(self) -> Result<Exit, RecordError> {
        run_enforced(&self.launch, &self.filter)
    }
}

/// Runs the command under `filter` and returns how it ended.
pub fn run_enforced(launch: &Launch, filter: &[libc::sock_filter]) -> Result<Exit, RecordError> {
    let child = launcher::spawn(launch, filter, false)?;
    child.release()?;
    signals::forward_to(child.pid);
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a live local.
        if unsafe { libc::waitpid(child.pid, &mut status, 0) } == child.pid {
            signals::forget_target();
            signals::stop();
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(RecordError::Wait(err));
        }
    }
    match child.failure() {
        Some(ChildFailure::Exec(error)) if error.raw_os_error() == Some(libc::EPERM) => {
            Err(RecordError::ProfileDeniesExec { program: launch.program.clone() })
        }
        Some(ChildFailure::Exec(error)) => Err(RecordError::Exec { program: launch.program.clone(), error }),
        Some(ChildFailure::Filter(error)) => Err(RecordError::Filter(error)),
        None => Ok(if libc::WIFSIGNALED(status) {
            exit_of(None, Some(libc::WTERMSIG(status)))
        } else {
            exit_of(Some(libc::WEXITSTATUS(status)), None)
        }),
    }
}
