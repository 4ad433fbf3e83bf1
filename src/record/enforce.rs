//! Running a workload under a profile, enforcing it: the filter is compiled in trapline's process, loaded by
//! the launcher between fork and exec, and nothing is traced, so the workload runs at native speed.

use super::launcher::{self, ChildFailure, Launch};
use super::{RecordError, signals};
use crate::observe::exit_of;
use crate::trace::model::Exit;

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
