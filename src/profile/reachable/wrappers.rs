//! Which syscalls a call to a libc function makes, for the functions a binary imports. Most wrappers carry
//! their syscall's name; the table lists those that do not (glibc 2.3x on x86_64: `open` is `openat`, `fork` is
//! `clone`, `sleep` is `clock_nanosleep`), and the library calls that start processes or threads.

use crate::decode::arch::Arch;

/// Functions whose syscalls have other names, or that make several.
const ALIASES: &[(&str, &[&str])] = &[
    ("open", &["openat"]),
    ("fopen", &["openat"]),
    ("freopen", &["openat"]),
    ("creat", &["openat"]),
    ("opendir", &["openat"]),
    ("fdopendir", &["newfstatat"]),
    ("readdir", &["getdents64"]),
    ("stat", &["newfstatat"]),
    ("lstat", &["newfstatat"]),
    ("fstat", &["newfstatat"]),
    ("fstatat", &["newfstatat"]),
    ("exit", &["exit_group"]),
    ("_exit", &["exit_group"]),
    ("_Exit", &["exit_group"]),
    ("fork", &["clone"]),
    ("daemon", &["clone", "setsid"]),
    ("system", &["clone3", "clone", "execve", "wait4"]),
    ("popen", &["clone3", "clone", "execve", "pipe2"]),
    ("posix_spawn", &["clone3", "clone", "execve"]),
    ("posix_spawnp", &["clone3", "clone", "execve"]),
    ("execv", &["execve"]),
    ("execvp", &["execve"]),
    ("execvpe", &["execve"]),
    ("execl", &["execve"]),
    ("execlp", &["execve"]),
    ("execle", &["execve"]),
    ("fexecve", &["execveat"]),
    ("pthread_create", &["clone3", "clone"]),
    ("pthread_kill", &["tgkill"]),
    ("raise", &["tgkill"]),
    ("abort", &["tgkill"]),
    ("killpg", &["kill"]),
    ("sigqueue", &["rt_sigqueueinfo"]),
    ("wait", &["wait4"]),
    ("waitpid", &["wait4"]),
    ("signal", &["rt_sigaction"]),
    ("sigaction", &["rt_sigaction"]),
    ("sigprocmask", &["rt_sigprocmask"]),
    ("pthread_sigmask", &["rt_sigprocmask"]),
    ("sigsuspend", &["rt_sigsuspend"]),
    ("sigwait", &["rt_sigtimedwait"]),
    ("sigtimedwait", &["rt_sigtimedwait"]),
    ("sleep", &["clock_nanosleep"]),
    ("usleep", &["clock_nanosleep"]),
    ("nanosleep", &["clock_nanosleep"]),
    ("remove", &["unlink", "rmdir"]),
    ("getdents", &["getdents64"]),
    ("shm_open", &["openat"]),
    ("shm_unlink", &["unlink"]),
    ("sem_open", &["openat", "link"]),
    ("sem_unlink", &["unlink"]),
    ("mkfifo", &["mknodat"]),
    ("mkstemp", &["openat"]),
    ("mkdtemp", &["mkdir"]),
    ("tmpfile", &["openat"]),
    ("getaddrinfo", &["socket", "connect"]),
    ("epoll_create", &["epoll_create1"]),
    ("eventfd", &["eventfd2"]),
    ("signalfd", &["signalfd4"]),
    ("inotify_init", &["inotify_init1"]),
    ("dup2", &["dup2"]),
    ("prlimit", &["prlimit64"]),
    ("getrlimit", &["prlimit64"]),
    ("setrlimit", &["prlimit64"]),
    ("lseek64", &["lseek"]),
    ("ftruncate64", &["ftruncate"]),
    ("truncate64", &["truncate"]),
];

/// The syscalls behind an imported function on `arch`: the table, else the function's own name (or without a
/// `64` suffix: `open64`, `mmap64`) where `arch` has a syscall of that name, else none (`printf`).
pub fn syscalls_of(function: &str, arch: Arch) -> Vec<&'static str> {
    let function = function.strip_prefix("__").filter(|f| f.ends_with("_chk")).map_or(function, |f| {
        // `__read_chk` is read with a buffer check.
        f.strip_suffix("_chk").unwrap_or(f)
    });
    let lookup = |name: &str| -> Option<Vec<&'static str>> {
        if let Some((_, names)) = ALIASES.iter().find(|(f, _)| *f == name) {
            return Some(names.iter().copied().filter(|n| arch.syscall_nr(n).is_some()).collect());
        }
        let nr = arch.syscall_nr(name)?;
        arch.syscall_name(arch.table_nr(nr)).map(|n| vec![n])
    };
    lookup(function).or_else(|| function.strip_suffix("64").and_then(lookup)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_map_to_the_syscalls_glibc_makes() {
        let x = Arch::X86_64;
        assert_eq!(syscalls_of("bind", x), ["bind"]);
        assert_eq!(syscalls_of("open", x), ["openat"]);
        assert_eq!(syscalls_of("open64", x), ["openat"]);
        assert_eq!(syscalls_of("fork", x), ["clone"]);
        assert_eq!(syscalls_of("pread64", x), ["pread64"]);
        assert_eq!(syscalls_of("__read_chk", x), ["read"]);
        assert!(syscalls_of("printf", x).is_empty());
        assert!(syscalls_of("malloc", x).is_empty());
    }
}
