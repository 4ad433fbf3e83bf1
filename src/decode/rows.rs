//! The decoder rows: for each syscall whose arguments a seccomp rule can test, which arguments form its
//! call class, and what the tracer must do around it (follow an fd, a new task, an exec).
//!
//! Rows are data: adding a decoder is adding a row. Every syscall without a row is one call class per
//! (arch, syscall).

use super::arch::Arch;

/// How one argument word is read and named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// An ioctl request code: 32 bits in C, often sign-extended in the register.
    Ioctl,
    Prot,
    MmapFlags,
    SocketDomain,
    SocketType,
    /// clone(2)'s flag word, exit signal in the low byte.
    CloneFlags,
    /// clone3's flags, read from `struct clone_args` in the caller's memory.
    Clone3Flags,
    PrctlOption,
    Personality,
    /// i386 socketcall(2)'s call number.
    SocketCall,
}

impl ArgKind {
    /// Whether the argument is an `int` in C: the kernel (and seccomp's MASKED_EQ rules) use only its low 32 bits.
    pub fn is_32bit(self) -> bool {
        !matches!(self, ArgKind::CloneFlags | ArgKind::Clone3Flags)
    }
}

/// One argument that is part of the call class.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    /// The syscall argument index a seccomp rule compares, or `None` when the value lives in memory behind a
    /// pointer (seccomp cannot see it; it is recorded for review only).
    pub index: Option<u8>,
    pub name: &'static str,
    pub kind: ArgKind,
}

/// Which argument holds an fd worth describing (ioctl's and mmap's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdArg {
    Always(u8),
    /// mmap: only a file mapping has an fd; MAP_ANONYMOUS ignores it.
    UnlessAnonymous {
        fd: u8,
        flags: u8,
    },
}

/// What the tracer has to do for a syscall besides counting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Plain,
    /// Closes the fd in argument 0.
    Close,
    /// close_range(first, last, flags).
    CloseRange,
    /// dup2/dup3: replaces the fd in argument 1.
    Replace,
    /// Creates a task; the flags say whether it shares the fd table and thread group.
    Spawn(SpawnFlags),
    /// unshare(2): CLONE_FILES in argument 0 gives the caller a private fd table.
    Unshare,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnFlags {
    /// clone(2): flags in argument 0.
    Arg0,
    /// clone3: flags in `struct clone_args`.
    Clone3,
    Fork,
    Vfork,
}

pub struct Row {
    pub name: &'static str,
    pub args: &'static [ArgSpec],
    pub fd: Option<FdArg>,
    pub role: Role,
    /// Architectures where this name has another calling convention (i386's `mmap` takes a struct).
    pub not_on: &'static [Arch],
}

const fn arg(index: u8, name: &'static str, kind: ArgKind) -> ArgSpec {
    ArgSpec { index: Some(index), name, kind }
}

const fn row(name: &'static str, args: &'static [ArgSpec]) -> Row {
    Row { name, args, fd: None, role: Role::Plain, not_on: &[] }
}

const fn role(name: &'static str, role: Role) -> Row {
    Row { name, args: &[], fd: None, role, not_on: &[] }
}

const MMAP_ARGS: &[ArgSpec] = &[arg(2, "prot", ArgKind::Prot), arg(3, "flags", ArgKind::MmapFlags)];
const MMAP_FD: Option<FdArg> = Some(FdArg::UnlessAnonymous { fd: 4, flags: 3 });
const CLONE_ARGS: &[ArgSpec] = &[arg(0, "flags", ArgKind::CloneFlags)];

pub const ROWS: &[Row] = &[
    Row {
        name: "ioctl",
        args: &[arg(1, "request", ArgKind::Ioctl)],
        fd: Some(FdArg::Always(0)),
        role: Role::Plain,
        not_on: &[],
    },
    Row { name: "mmap", args: MMAP_ARGS, fd: MMAP_FD, role: Role::Plain, not_on: &[Arch::I386, Arch::Arm] },
    Row { name: "mmap2", args: MMAP_ARGS, fd: MMAP_FD, role: Role::Plain, not_on: &[] },
    row("mprotect", &[arg(2, "prot", ArgKind::Prot)]),
    row("pkey_mprotect", &[arg(2, "prot", ArgKind::Prot)]),
    row("socket", &[arg(0, "domain", ArgKind::SocketDomain), arg(1, "type", ArgKind::SocketType)]),
    row("socketpair", &[arg(0, "domain", ArgKind::SocketDomain), arg(1, "type", ArgKind::SocketType)]),
    row("socketcall", &[arg(0, "call", ArgKind::SocketCall)]),
    row("prctl", &[arg(0, "option", ArgKind::PrctlOption)]),
    row("personality", &[arg(0, "persona", ArgKind::Personality)]),
    Row { name: "clone", args: CLONE_ARGS, fd: None, role: Role::Spawn(SpawnFlags::Arg0), not_on: &[] },
    Row {
        name: "clone3",
        args: &[ArgSpec { index: None, name: "flags", kind: ArgKind::Clone3Flags }],
        fd: None,
        role: Role::Spawn(SpawnFlags::Clone3),
        not_on: &[],
    },
    role("fork", Role::Spawn(SpawnFlags::Fork)),
    role("vfork", Role::Spawn(SpawnFlags::Vfork)),
    role("close", Role::Close),
    role("close_range", Role::CloseRange),
    role("dup2", Role::Replace),
    role("dup3", Role::Replace),
    role("unshare", Role::Unshare),
];

/// Whether a syscall can close or replace fds, or give processes a shared fd table: a backend that caches what
/// fds are must see every such call.
pub fn changes_fds(name: &str) -> bool {
    matches!(name, "execve" | "execveat")
        || ROWS.iter().any(|r| {
            r.name == name && matches!(r.role, Role::Close | Role::CloseRange | Role::Replace | Role::Spawn(_))
        })
}

/// The syscalls [`changes_fds`] names.
pub fn fd_changing_names() -> impl Iterator<Item = &'static str> {
    ROWS.iter().map(|r| r.name).chain(["execve", "execveat"]).filter(|name| changes_fds(name))
}

/// Syscalls whose return value is a new fd.
pub const RETURNS_FD: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "socket",
    "accept",
    "accept4",
    "dup",
    "dup2",
    "dup3",
    "eventfd",
    "eventfd2",
    "epoll_create",
    "epoll_create1",
    "memfd_create",
    "memfd_secret",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "inotify_init",
    "inotify_init1",
    "fanotify_init",
    "userfaultfd",
    "perf_event_open",
    "pidfd_open",
    "pidfd_getfd",
    "io_uring_setup",
    "fsopen",
    "fspick",
    "open_tree",
    "fsmount",
];

/// Whether `--results auto` waits for a syscall's result: for calls that create fds (their errors explain a
/// run's behaviour; pipe, socketpair and bpf create theirs too), ioctl (ENOTTY and friends tell a reviewer
/// whether a device answered), exec, and the calls that create tasks (EAGAIN says a pids limit was hit; their
/// exit also shows the kernel restarting a fork that a signal to another thread interrupted).
pub fn result_worthy(name: &str) -> bool {
    const ALSO: &[&str] =
        &["pipe", "pipe2", "socketpair", "bpf", "ioctl", "execve", "execveat", "clone", "clone3", "fork", "vfork"];
    RETURNS_FD.contains(&name) || ALSO.contains(&name)
}

pub fn row_for(arch: Arch, name: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.name == name && !r.not_on.contains(&arch))
}
