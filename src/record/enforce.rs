//! Running a workload under a profile, enforcing it: the filter is compiled in trapline's process and loaded
//! by the launcher between fork and exec. Calls the profile allows never leave the kernel. A call it denies
//! with an errno stops in trapline first (SECCOMP_RET_TRACE, with the errno in the filter's answer), which
//! names it on the spot (a denied call rarely says so itself: a library reports "cannot allocate memory", a
//! worker "exited unexpectedly") and fails it with that errno. Quiet, nothing is traced at all.

use std::ffi::OsString;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use rustc_hash::FxHashSet;

use super::launcher::{self, ChildFailure, Launch};
use super::ptrace::PtraceBackend;
use super::{Backend, RecordError, signals};
use crate::decode::table::{Results, SyscallTables};
use crate::observe::exit_of;
use crate::profile::compile::{Mode, allows_unconditionally, compile, unknown_names_warning};
use crate::profile::read::read_profile;
use crate::trace::aggregate::{ClassId, ExeId, FdId};
use crate::trace::model::{CallSite, Class, Exit, FdDesc, Text};
use crate::trace::{Aggregator, EventSink};

/// A workload ready to run under a profile: the command found and the profile compiled, before anything runs.
pub struct Enforcement {
    launch: Launch,
    /// The profile as the kernel alone enforces it.
    filter: Vec<libc::sock_filter>,
    /// The same profile with its errno denials passed through trapline, which reports them (`Mode::Report`);
    /// `None` when denials are not to be reported.
    reporting: Option<Vec<libc::sock_filter>>,
    /// What the user should know before the workload starts (names libseccomp left out).
    pub warning: Option<String>,
}

/// How an enforced run ended, and what the profile denied in it.
pub struct Enforced {
    pub exit: Exit,
    /// Each distinct call the profile denied, with how often.
    pub denied: Vec<Class>,
    /// Why denials could not be reported, where they could not.
    pub unreported: Option<String>,
}

impl Enforcement {
    /// Reads `profile`, finds the command and compiles the filter, refusing a profile the launcher cannot
    /// start a workload under.
    pub fn prepare(profile: &Path, command: &[OsString], report: bool) -> Result<Enforcement, RecordError> {
        let seccomp = read_profile(profile)?;
        let launch = Launch::resolve(command)?;
        // The launcher execs the workload after loading the filter: a profile that denies execve could only
        // kill or fail it there, with nothing to say why.
        if !allows_unconditionally(&seccomp, "execve") {
            return Err(RecordError::ProfileDeniesExec { program: launch.program.clone() });
        }
        let (filter, unknown) = compile(&seccomp, Mode::Enforce)?;
        // The tracer fails a reported call by rewriting registers, which it knows how to do on x86_64.
        let report = report && cfg!(target_arch = "x86_64");
        let reporting = report.then(|| compile(&seccomp, Mode::Report)).transpose()?.map(|(filter, _)| filter);
        Ok(Enforcement { launch, filter, reporting, warning: unknown_names_warning(profile, &unknown) })
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

    /// Runs the workload under the profile and returns how it ended; `on_denial` hears of each distinct
    /// denied call the first time it is made.
    pub fn run(self, on_denial: &mut dyn FnMut(&Class)) -> Result<Enforced, RecordError> {
        let quiet = |exit, unreported| Enforced { exit, denied: Vec::new(), unreported };
        let Some(reporting) = self.reporting else {
            return run_enforced(&self.launch, &self.filter).map(|exit| quiet(exit, None));
        };
        let tables = Rc::new(SyscallTables::new(Results::Auto));
        let mut aggregator = Aggregator::new(Rc::clone(&tables), Instant::now());
        let mut sink = Reporting { inner: &mut aggregator, reported: FxHashSet::default(), on_denial };
        match PtraceBackend::with_filter(tables, reporting).enforcing().run(&self.launch, &mut sink) {
            Ok(end) => {
                let denied = aggregator.classes_from(0).into_iter().filter(|c| !c.denied.is_empty()).collect();
                Ok(Enforced { exit: end.exit, denied, unreported: None })
            }
            // Where trapline may not trace (a container without CAP_SYS_PTRACE), the kernel enforces alone.
            Err(RecordError::PtraceDenied { error, .. }) => run_enforced(&self.launch, &self.filter).map(|exit| {
                quiet(exit, Some(format!("ptrace is not permitted here ({error}), so denied calls were not reported")))
            }),
            Err(other) => Err(other),
        }
    }
}

/// Passes every event to the aggregator, and each class the first time it is denied to `on_denial`.
struct Reporting<'a> {
    inner: &'a mut Aggregator,
    reported: FxHashSet<ClassId>,
    on_denial: &'a mut dyn FnMut(&Class),
}

impl EventSink for Reporting<'_> {
    fn call(
        &mut self,
        key: crate::trace::aggregate::ClassKey,
        tgid: u32,
        exe: ExeId,
        raw_high: Option<u64>,
    ) -> ClassId {
        self.inner.call(key, tgid, exe, raw_high)
    }

    fn result(&mut self, class: ClassId, rval: i64, is_error: bool) {
        self.inner.result(class, rval, is_error)
    }

    fn denied(&mut self, class: ClassId, action: u32) {
        self.inner.denied(class, action);
        if self.reported.insert(class) {
            (self.on_denial)(&self.inner.class_of(class));
        }
    }

    fn intern_fd(&mut self, desc: FdDesc) -> FdId {
        self.inner.intern_fd(desc)
    }

    fn wants_site(&self, class: ClassId) -> bool {
        self.inner.wants_site(class)
    }

    fn set_site(&mut self, class: ClassId, site: Option<CallSite>) {
        self.inner.set_site(class, site)
    }

    fn intern_exe(&mut self, exe: Text) -> ExeId {
        self.inner.intern_exe(exe)
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
