#!/usr/bin/env python3
"""gen_traces.py: synthetic but valid Traces (docs/trace-format.md, schema 1) for benchmarking `trapline profile`.

Takes one real trace written by `trapline record` as a template (its `run` object, the shape of its classes, its
executables) and writes N traces of about C classes each: many ioctl request codes on many devices, mmap prot/flags
combinations, mprotect, socket, prctl and clone variants, and one argument-less class for each of a rotating window
of real x86_64 syscall names. The output is a pure function of the template and the options (seeded RNG).

No generated prot value is both writable and executable, so profiles keep per-prot mmap rules (the W^X path).

usage: gen_traces.py TEMPLATE OUTDIR [--traces N] [--classes C] [--seed S]
"""

import argparse
import copy
import json
import os
import random
import re
import sys

# Syscalls whose classes carry arguments (docs/trace-format.md, "Call classes"): generated separately below, never
# as argument-less classes (an argument-less ioctl class would open ioctl entirely).
WITH_ARGS = {"ioctl", "mmap", "mprotect", "pkey_mprotect", "socket", "clone", "clone3", "prctl", "personality"}

# Used when the kernel headers are not installed: (nr, name) on x86_64.
FALLBACK_NAMES = [
    (0, "read"), (1, "write"), (2, "open"), (3, "close"), (4, "stat"), (5, "fstat"), (6, "lstat"), (7, "poll"),
    (8, "lseek"), (11, "munmap"), (12, "brk"), (13, "rt_sigaction"), (14, "rt_sigprocmask"), (15, "rt_sigreturn"),
    (17, "pread64"), (18, "pwrite64"), (19, "readv"), (20, "writev"), (21, "access"), (22, "pipe"), (23, "select"),
    (24, "sched_yield"), (25, "mremap"), (26, "msync"), (27, "mincore"), (28, "madvise"), (32, "dup"), (33, "dup2"),
    (34, "pause"), (35, "nanosleep"), (37, "alarm"), (39, "getpid"), (40, "sendfile"), (42, "connect"),
    (43, "accept"), (44, "sendto"), (45, "recvfrom"), (46, "sendmsg"), (47, "recvmsg"), (48, "shutdown"),
    (49, "bind"), (50, "listen"), (51, "getsockname"), (52, "getpeername"), (53, "socketpair"), (54, "setsockopt"),
    (55, "getsockopt"), (57, "fork"), (58, "vfork"), (59, "execve"), (60, "exit"), (61, "wait4"), (62, "kill"),
    (63, "uname"), (72, "fcntl"), (73, "flock"), (74, "fsync"), (75, "fdatasync"), (76, "truncate"),
    (77, "ftruncate"), (78, "getdents"), (79, "getcwd"), (80, "chdir"), (81, "fchdir"), (82, "rename"),
    (83, "mkdir"), (84, "rmdir"), (86, "link"), (87, "unlink"), (88, "symlink"), (89, "readlink"), (90, "chmod"),
    (91, "fchmod"), (92, "chown"), (95, "umask"), (96, "gettimeofday"), (97, "getrlimit"), (98, "getrusage"),
    (99, "sysinfo"), (102, "getuid"), (104, "getgid"), (105, "setuid"), (106, "setgid"), (107, "geteuid"),
    (108, "getegid"), (109, "setpgid"), (110, "getppid"), (111, "getpgrp"), (112, "setsid"), (125, "capget"),
    (126, "capset"), (131, "sigaltstack"), (137, "statfs"), (138, "fstatfs"), (158, "arch_prctl"),
    (186, "gettid"), (202, "futex"), (204, "sched_getaffinity"), (217, "getdents64"), (218, "set_tid_address"),
    (228, "clock_gettime"), (230, "clock_nanosleep"), (231, "exit_group"), (232, "epoll_wait"), (233, "epoll_ctl"),
    (257, "openat"), (262, "newfstatat"), (273, "set_robust_list"), (281, "epoll_pwait"), (290, "eventfd2"),
    (291, "epoll_create1"), (292, "dup3"), (293, "pipe2"), (302, "prlimit64"), (318, "getrandom"),
    (332, "statx"), (334, "rseq"), (439, "faccessat2"),
]

PROT_NAMES = [(0x1, "PROT_READ"), (0x2, "PROT_WRITE"), (0x4, "PROT_EXEC")]
# PROT_NONE, R, W, RW, X, RX: never W and X together.
PROTS = [0x0, 0x1, 0x2, 0x3, 0x4, 0x5]
MAP_BASE = [(0x1, "MAP_SHARED"), (0x2, "MAP_PRIVATE")]
MAP_EXTRA = [
    (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x100, "MAP_GROWSDOWN"), (0x800, "MAP_DENYWRITE"),
    (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"), (0x100000, "MAP_FIXED_NOREPLACE"),
]
SOCK_DOMAINS = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}
SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"}
SOCK_TYPE_FLAGS = [(0, ""), (0x80000, "SOCK_CLOEXEC"), (0x800, "SOCK_NONBLOCK"), (0x80800, "SOCK_CLOEXEC|SOCK_NONBLOCK")]
# Thread and fork flag words of glibc: no namespace flags.
CLONE_FLAGS = [(0x3D0F00, "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|"
                           "CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"),
               (0x1200011, "CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD"),
               (0x4111, "CLONE_VM|CLONE_VFORK|SIGCHLD")]
IOC_DIRS = [(0, "none"), (1, "write"), (2, "read"), (3, "read|write")]
IOC_DIR_NAMES = {0: "_IO", 1: "_IOW", 2: "_IOR", 3: "_IOWR"}


def syscall_names():
    """(nr, name) of real x86_64 syscalls, from the installed kernel headers when there are any."""
    for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
        if os.path.exists(header):
            with open(header) as f:
                found = [(int(nr), name) for name, nr in re.findall(r"#define __NR_(\w+)\s+(\d+)", f.read())]
            if found:
                return sorted(found)
    return FALLBACK_NAMES


def flag_names(value, table):
    return "|".join(name for bit, name in table if value & bit) or "0"


def arg(index, name, value, decoded, raw=None, ioc=None):
    a = {"index": index, "name": name, "value": f"{value:#x}"}
    if raw is not None and raw != value:
        a["raw"] = f"{raw:#x}"
    a["decoded"] = decoded
    if ioc is not None:
        a["ioc"] = ioc
    return a


class Maker:
    def __init__(self, template, rng):
        self.template = template
        self.rng = rng
        tpl_classes = template["classes"]
        self.exes = next((c["exes"] for c in tpl_classes if c.get("exes")), ["/usr/bin/synthetic"])
        self.pids = next((c["pids"] for c in tpl_classes if c.get("pids")), [1000])
        self.arch = template["runs"][0]["arch"]
        self.nrs = {name: nr for nr, name in syscall_names()}

    def cls(self, syscall, args, fd=None, results=None):
        rng = self.rng
        c = {
            "syscall": syscall,
            "arch": self.arch,
            "nr": self.nrs.get(syscall, 0),
            "args": args,
        }
        if fd is not None:
            c["fd"] = fd
        count = rng.randint(1, 2000)
        c["count"] = count
        c["runs"] = 1
        if results is not None:
            failed = rng.randint(0, count)
            c["results"] = {"ok": count - failed, "errors": {results: failed}} if failed else {"ok": count}
        # Mostly one process per class, as in recorded traces; sometimes a few.
        n_pids = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        pids = sorted(rng.sample(range(self.pids[0], self.pids[0] + 500), n_pids))
        c["processes"] = len(pids)
        c["pids"] = pids
        c["exes"] = self.exes
        c["first_seen_secs"] = round(rng.uniform(0, 30), 6)
        return c


def make_trace(template, index, n_classes, names, seed):
    rng = random.Random(seed * 1_000_003 + index)
    m = Maker(template, rng)
    classes = []

    # Argument-less classes: a window of real names that rotates from trace to trace.
    plain = [n for _, n in names if n not in WITH_ARGS]
    window = min(len(plain), max(50, n_classes // 12))
    start = (index * 37) % len(plain)
    for k in range(window):
        classes.append(m.cls(plain[(start + k) % len(plain)], []))

    # socket: domain x type x flags.
    combos = [(d, t, f) for d in SOCK_DOMAINS for t in SOCK_TYPES for f in SOCK_TYPE_FLAGS]
    for d, t, (f, fname) in rng.sample(combos, min(len(combos), 40)):
        tdec = SOCK_TYPES[t] + ("|" + fname if fname else "")
        classes.append(m.cls("socket", [arg(0, "domain", d, SOCK_DOMAINS[d]), arg(1, "type", t | f, tdec)],
                             results="EACCES"))
    # prctl options, clone flag words, mprotect prots.
    for opt in sorted(rng.sample(range(1, 72), 30)):
        classes.append(m.cls("prctl", [arg(0, "option", opt, f"{opt:#x}")]))
    for flags, dec in CLONE_FLAGS:
        classes.append(m.cls("clone", [arg(0, "flags", flags, dec)]))
    for prot in PROTS:
        classes.append(m.cls("mprotect", [arg(2, "prot", prot, flag_names(prot, PROT_NAMES))]))

    # mmap: prot x flags x what the fd was; about 40% of what is left.
    budget = n_classes - len(classes)
    n_mmap = budget * 2 // 5
    seen = set()
    while len(seen) < n_mmap:
        prot = rng.choice(PROTS)
        base, _ = rng.choice(MAP_BASE)
        flags = base
        for bit, _ in MAP_EXTRA:
            if rng.random() < 0.3:
                flags |= bit
        anonymous = bool(flags & 0x20)
        fd = None if anonymous else rng.choice(
            [{"kind": "file"}, {"kind": "device", "path": f"/dev/synth{rng.randint(0, 7)}", "dev": f"240:{rng.randint(0, 7)}"}])
        key = (prot, flags, json.dumps(fd, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        classes.append(m.cls("mmap", [arg(2, "prot", prot, flag_names(prot, PROT_NAMES)),
                                      arg(3, "flags", flags, flag_names(flags, MAP_BASE + MAP_EXTRA))], fd=fd))

    # ioctl: the rest, request codes over one pool of 48 driver type bytes shared by all traces (a workload talks
    # to a few drivers), each type on a device of its own.
    n_ioctl = n_classes - len(classes)
    types = random.Random(seed).sample(range(0x20, 0xFF), 48)
    seen = set()
    while len(seen) < n_ioctl:
        kind = rng.choice(types)
        d, dname = rng.choice(IOC_DIRS)
        nr = rng.randint(0, 255)
        size = 0 if d == 0 else rng.choice([4, 8, 16, 24, 32, 64, 128, 256, 1024, 4096])
        request = (d << 30) | (size << 16) | (kind << 8) | nr
        minor = kind % 16
        fd = {"kind": "device", "path": f"/dev/synth-{kind:02x}-{minor}", "dev": f"{200 + kind % 40}:{minor}"}
        key = (request, fd["path"])
        if key in seen:
            continue
        seen.add(key)
        # Bit 31 set: half of these came sign-extended from a 32-bit int.
        raw = request | 0xFFFFFFFF00000000 if request & 0x80000000 and rng.random() < 0.5 else None
        kchar = chr(kind) if 0x21 <= kind < 0x7F and chr(kind) not in "'\\" else f"{kind:#x}"
        decoded = f"{IOC_DIR_NAMES[d]}('{kchar}', {nr:#x}" + (f", {size})" if d else ")")
        ioc = {"dir": dname, "type": kind, "nr": nr, "size": size}
        classes.append(m.cls("ioctl", [arg(1, "request", request, decoded, raw=raw, ioc=ioc)], fd=fd,
                             results="ENOTTY"))

    # The order trapline writes: by syscall, arch, argument values, fd.
    classes.sort(key=lambda c: (c["syscall"], c["arch"], [int(a["value"], 16) for a in c["args"]],
                                json.dumps(c.get("fd"), sort_keys=True)))

    run = copy.deepcopy(template["runs"][0])
    run["id"] = f"{rng_id(index):016x}"
    run["command"] = [f"synthetic-{index:03d}"]
    run["exit"] = {"status": 0}
    run["complete"] = True
    run.pop("incomplete", None)
    run["totals"] = {
        "syscalls": sum(c["count"] for c in classes),
        "classes": len(classes),
        "processes": max(len(set(p for c in classes for p in c["pids"])), 1),
        "threads": max(len(set(p for c in classes for p in c["pids"])), 1),
    }
    return {"schema": template["schema"], "runs": [run], "classes": classes}


def rng_id(index):
    """A distinct, reproducible run id per synthetic trace."""
    return (0x9E3779B97F4A7C15 * (index + 1)) & 0xFFFFFFFFFFFFFFFF


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("template", help="a trace written by `trapline record`")
    p.add_argument("outdir")
    p.add_argument("--traces", type=int, default=100)
    p.add_argument("--classes", type=int, default=3000, help="classes per trace (at least 300)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.classes < 300:
        p.error("--classes must be at least 300")
    with open(a.template) as f:
        template = json.load(f)
    if template.get("schema") != 1:
        sys.exit(f"gen_traces: {a.template}: schema {template.get('schema')}, this script writes schema 1")
    os.makedirs(a.outdir, exist_ok=True)
    names = syscall_names()
    total = 0
    for i in range(a.traces):
        trace = make_trace(template, i, a.classes, names, a.seed)
        total += len(trace["classes"])
        path = os.path.join(a.outdir, f"trace-{i:03d}.json")
        with open(path, "w") as f:
            json.dump(trace, f, indent=2)
            f.write("\n")
    print(f"gen_traces: wrote {a.traces} traces, {total} classes, to {a.outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
