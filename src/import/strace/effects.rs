//! What a call did to fd tables and tasks, once its result is known: closes, unshares, spawns, and the fds it
//! created. Without `-y`, this is all a log says about what an fd is.

use std::rc::Rc;

use super::fds::{self, Fds};
use super::tasks::{SPAWNS, Tasks, spawn_flags};
use super::value::{self, Outcome};
use crate::decode::flags::CLONE_FILES;
use crate::trace::model::FdDesc;

/// Calls whose result is a new fd.
const FD_CREATORS: &[&str] = crate::decode::rows::RETURNS_FD;

/// What the call `name` of `pid` did to fd tables and tasks, now that its result is known.
pub fn apply(tasks: &mut Tasks, pid: u32, name: &str, items: &[&str], outcome: Option<Outcome>) {
    let returned = match outcome {
        Some(Outcome::Value { value, fd }) => Some((value, fd)),
        _ => None,
    };
    let Some(table) = tasks.find(pid).map(|t| Rc::clone(&t.fds)) else {
        return;
    };
    by_name(tasks, pid, name, items, returned.map(|(value, _)| value), &table);
    if let Some((fd, decoration)) = returned {
        returned_fd(name, items, fd, decoration, &table);
    }
}

/// What the call does to the fds and tasks there are, whatever it returned: closes, unshares, spawns, and the
/// fd pairs of pipes and socketpairs.
fn by_name(tasks: &mut Tasks, pid: u32, name: &str, items: &[&str], returned: Option<i64>, table: &Fds) {
    let word = |i: usize| items.get(i).and_then(|t| value::word(t).ok());
    let fd_at = |i: usize| items.get(i).and_then(|t| value::fd(t).ok()).map(|(fd, _)| fd);
    match name {
        "close" => {
            if let Some(fd) = fd_at(0) {
                table.borrow_mut().remove(&fd);
            }
        }
        "close_range" => {
            const CLOSE_RANGE_UNSHARE: u64 = 2;
            let (Some(first), Some(last)) = (word(0), word(1)) else {
                return;
            };
            let table = match tasks.find_mut(pid) {
                Some(task) if word(2).unwrap_or(0) & CLOSE_RANGE_UNSHARE != 0 => {
                    task.fds = fds::copy(&task.fds);
                    Rc::clone(&task.fds)
                }
                _ => Rc::clone(table),
            };
            table.borrow_mut().retain(|fd, _| !(first..=last).contains(&u64::from(*fd as u32)));
        }
        "unshare" if word(0).unwrap_or(0) & CLONE_FILES != 0 && returned.is_some() => {
            if let Some(task) = tasks.find_mut(pid) {
                task.fds = fds::copy(&task.fds);
            }
        }
        _ if SPAWNS.contains(&name) => {
            if let Some(child) = returned
                && let Ok(child) = u32::try_from(child)
                && child > 0
            {
                tasks.spawned(pid, child, spawn_flags(name, items));
            }
        }
        "pipe" | "pipe2" | "socketpair" if returned.is_some() => {
            let (at, kind) = if name == "socketpair" { (3, FdDesc::Socket) } else { (0, FdDesc::Pipe) };
            for element in items.get(at).and_then(|t| value::elements(t)).unwrap_or_default() {
                if let Ok((fd, decoration)) = value::fd(element) {
                    let desc = decoration.map_or_else(|| kind.clone(), fds::from_decoration);
                    table.borrow_mut().insert(fd, desc);
                }
            }
        }
        _ => {}
    }
}

/// The value `fd` the call returned, when the call makes a new fd: as strace decorated it (`-y`), else as
/// the call made it.
fn returned_fd(name: &str, items: &[&str], fd: i64, decoration: Option<&str>, table: &Fds) {
    let dup_command = || items.get(1).is_some_and(|c| ["F_DUPFD", "F_DUPFD_CLOEXEC", "0", "1030"].contains(c));
    let creates_fd = FD_CREATORS.contains(&name) || (name.starts_with("fcntl") && dup_command());
    if creates_fd && let Ok(fd) = i32::try_from(fd) {
        let desc = match decoration {
            Some(decoration) => Some(fds::from_decoration(decoration)),
            None => created(name, items, table),
        };
        match desc {
            Some(desc) => table.borrow_mut().insert(fd, desc),
            // The number now means something the log does not say.
            None => table.borrow_mut().remove(&fd),
        };
    }
}

/// The fd a call returned, when strace did not decorate it.
fn created(name: &str, items: &[&str], table: &Fds) -> Option<FdDesc> {
    let opened = |path_at: usize| {
        let path = value::string(items.get(path_at)?)?;
        let directory = items.get(path_at + 1).is_some_and(|flags| flags.contains("O_DIRECTORY"));
        Some(fds::from_path(&path, None, directory))
    };
    match name {
        "open" | "creat" => opened(0),
        "openat" | "openat2" => opened(1),
        _ if name.starts_with("dup") || name.starts_with("fcntl") => {
            let (source, _) = value::fd(items.first()?).ok()?;
            table.borrow().get(&source).cloned()
        }
        _ => fds::created_by(name),
    }
}
