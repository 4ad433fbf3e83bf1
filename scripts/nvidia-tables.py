#!/usr/bin/env python3
"""nvidia-tables.py: the RM alloc class, RM control command, frontend escape and UVM request tables of
src/decode/gpu/nvidia_rm.rs, generated from the headers of NVIDIA's open-gpu-kernel-modules.

usage: nvidia-tables.py REPO [TAG ...] [-o OUT]

REPO is a git directory (bare or not) or a checkout of open-gpu-kernel-modules. TAGs are driver release tags; with
none, the newest tag of each driver branch from 535 on. A directory that is not a git repository is read as it is,
as one release named by its version.mk. OUT defaults to src/decode/gpu/nvidia_rm.rs next to this script; `-o -`
writes to stdout. Needs python3 and, for a git directory, git; nothing else.

What is read, per tag:

- Control commands (`NVOS54.cmd`): `#define <PREFIX>_CTRL_CMD_<NAME> <number>`, or any `<PREFIX>_CTRL_<NAME>`
  that carries FINN's command comment (FINN generates NV906F_CTRL_GET_CLASS_ENGINEID without `_CMD_`), in
  src/common/sdk/nvidia/inc/ctrl/ctrlXXXX.h and ctrl/ctrlXXXX/*.h. A command is
  class << 16 | category << 8 | index (ctrl/ctrlxxxx.h); the category's top two bits are used too (0x80 and 0xc0
  are the legacy privilege categories, e.g. NV2080_CTRL_CMD_INTERNAL_GCX_ENTRY_PREREQUISITE = 0x2080a7d7). The same
  prefix names flags, field ranges (`1:0`), counts and message ids, so a define is kept only when
    * its value's class bits (value >> 16) are the header's class (the XXXX of ctrlXXXX), and, for a name of the
      form NVXXXX_CTRL_CMD_*, the XXXX of the name as well;
    * for class 0000, whose commands are small numbers like its flags, it also carries FINN's
      `/* finn: Evaluated from "(FINN_..._INTERFACE_ID << 8) | ..." */` comment, which every generated command
      define has and no flag define has.
  The one finn-commented define this drops is NV0050_CTRL_CMD_NULL, which ctrl0050.h gives as 0x5000 (its FINN
  evaluated the interface id without the class); `-v` lists such defines.
  Prefixes that are not NVXXXX (NV_CONF_COMPUTE_CTRL_CMD_* in ctrlcb33.h, NV_SEMAPHORE_SURFACE_CTRL_CMD_* in
  ctrl00da.h, ...) count: their class comes from the header. Names with _CTRL_ before _CTRL_CMD_
  (NV0000_CTRL_SYSTEM_DEBUG_RMMSG_CTRL_CMD_GET) are fields, not commands.
  Aliases (a command defined as another command's name, e.g. NVC56F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN defined
  as NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN) are skipped, not resolved: only numeric defines are read, and
  an alias's value is the aliased command's, which is in the table under its own name.

- Alloc classes (`NVOS21/64.hClass`): in src/common/sdk/nvidia/inc/class/clXXXX*.h, the numeric defines whose
  value is the header's class id XXXX (not *_MESSAGE_ID, and not in clXXXX_notification.h, which numbers
  notifiers). Several names often share one id (NV01_MEMORY_SYSTEM,
  NV01_CONTEXT_ERROR_TO_MEMORY and NV1_CONTEXT_ERROR_TO_MEMORY are all 0x3e); the canonical one is the one RM's
  own class list, src/nvidia/generated/g_allclasses.h, defines without an `// alias` comment. That list also has
  classes whose header is named for another id (NV01_MEMORY_LIST_SYSTEM, 0x81, in cl84a0.h; NV01_ROOT_CLIENT, 0x41,
  whose cl0041.h only says NV04_MEMORY): they are taken from it, attributed to the header its #include names.
  An id g_allclasses.h does not know is named by its header: the first name there that is not a legacy NV1_ one.

- Frontend escapes (the nr of `_IOWR('F', nr, size)` on /dev/nvidiactl and /dev/nvidiaN): the NV_ESC_* defines of
  src/nvidia/arch/nvalloc/unix/include/nv_escape.h (NV_ESC_RM_*, hex literals),
  kernel-open/common/inc/nv-ioctl-numbers.h and kernel-open/common/inc/nv-ioctl-numa.h (`(NV_IOCTL_BASE + n)`,
  NV_IOCTL_BASE 200). src/nvidia/arch/nvalloc/unix/include has copies of the last two; a difference is reported.
- UVM requests (bare request numbers on /dev/nvidia-uvm): the defines of kernel-open/nvidia-uvm/uvm_ioctl.h that
  expand UVM_IOCTL_BASE(n), among that header's flag and count defines, and the numeric UVM_* defines of
  kernel-open/nvidia-uvm/uvm_linux_ioctl.h (UVM_INITIALIZE 0x30000001, UVM_DEINITIALIZE).
  These headers are read as a Linux x86_64 build preprocesses them: #if/#ifdef/#elif/#else are evaluated with
  __linux__, NV_LINUX and NV_64_BITS defined and nothing else (not WIN32/WIN64), and values are the defines'
  expansions, evaluated. So UVM_IOCTL_BASE(i) is i (uvm_ioctl.h makes it a CTL_CODE under WIN32/WIN64), and the
  Windows-only UVM_REGION_SET_BACKING and UVM_REGION_UNSET_BACKING (21, 22) are left out. Guards, NV_IOCTL_MAGIC
  and the bases are not requests. NV_ESC_ENV_INFO (0xca) is not in the table: no release from 515 on defines it.

scripts/nvidia-extra.tsv, kept by hand, adds the commands and classes real userspace uses that the headers read
do not define (undocumented ones, and values of drivers newer than the newest tag), each with where it comes
from; a row is merged only where the headers leave its value unnamed, and one the headers name is reported.

Over several tags the tables are the union. Where a command or request was renumbered, or a value names different
ones in different branches (frontend escape 0x5f is NV_ESC_RM_NVLOG_CTRL in 535 and NV_ESC_RM_LOCKLESS_DIAGNOSTIC
later), the value's label gives each name with the branches where it has that value ("A (590-595) or
B (535-580)"). Two names for one value in one release
(NV2080_CTRL_CMD_FB_COMPBITCOPY_GET_COMPBITS and NV2080_CTRL_CMD_FB_STATS_GET, both 0x2080132a) keep the first by
name, also reported. The output is deterministic, sorted by value
with no duplicates, and laid out as rustfmt leaves it.
"""

import argparse
import os
import re
import subprocess
import sys

SDK = "src/common/sdk/nvidia/inc"
ALLCLASSES = "src/nvidia/generated/g_allclasses.h"
FIRST_BRANCH = 535
EXTRA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nvidia-extra.tsv")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "decode", "gpu", "nvidia_rm.rs")

NUMBER = r"\(?\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*\s*\)?"
# `#define NAME VALUE [comment]`, VALUE a number, optionally parenthesised, optionally with a U suffix.
DEFINE_NUMBER = re.compile(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\s+" + NUMBER + r"\s*(/[*/].*)?$")
CTRL_NAME = re.compile(r"^(NV([0-9A-F]{4})|NV_[A-Z0-9_]+?)_CTRL_CMD_[A-Z0-9_]+$")
FINN_CTRL_NAME = re.compile(r"^(NV([0-9A-F]{4})|NV_[A-Z0-9_]+?)_CTRL_[A-Z0-9_]+$")
FINN_COMMAND = re.compile(r'finn: Evaluated from "\(*FINN_[A-Z0-9_]+_INTERFACE_ID << 8\b')
CTRL_HEADER = re.compile(r"^ctrl/ctrl([0-9a-fA-F]{4})(?:\.h$|/[^/]+\.h$)")
CLASS_HEADER = re.compile(r"^class/cl([0-9a-fA-F]{4})[^/]*\.h$")
ALLCLASSES_INCLUDE = re.compile(r"^\s*#\s*include\s*<([^>]+\.h)>\s*//\s*([A-Za-z0-9_]+)")


def warn(msg):
    print("nvidia-tables: " + msg, file=sys.stderr)


def number(text):
    """A C integer literal's value (suffix already stripped); decimal, even with leading zeros, or hex."""
    return int(text, 16) if text[:2] in ("0x", "0X") else int(text, 10)


def version_key(tag):
    return tuple(int(p) if p.isdigit() else -1 for p in tag.split("."))


class GitSource:
    """Files of a tag in a git repository, read through one `git cat-file --batch`."""

    def __init__(self, path):
        self.git = ["git", "--git-dir", path]
        self.cat = None

    def tags(self):
        out = subprocess.run(self.git + ["tag"], check=True, capture_output=True, text=True).stdout
        return [t for t in out.split() if re.fullmatch(r"[0-9]+(\.[0-9]+)+", t)]

    def files(self, tag, under):
        out = subprocess.run(
            self.git + ["ls-tree", "-r", "--name-only", tag, "--", under], check=True, capture_output=True, text=True
        ).stdout
        return sorted(p[len(under) + 1 :] for p in out.splitlines())

    def read(self, tag, path):
        if self.cat is None:
            self.cat = subprocess.Popen(
                self.git + ["cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        self.cat.stdin.write(("%s:%s\n" % (tag, path)).encode())
        self.cat.stdin.flush()
        header = self.cat.stdout.readline().decode().split()
        if len(header) < 2 or header[1] == "missing":
            return None
        data = self.cat.stdout.read(int(header[2]))
        self.cat.stdout.read(1)
        return data.decode("utf-8", errors="replace")


class TreeSource:
    """A plain source tree: one release, named by its version.mk."""

    def __init__(self, path):
        self.root = path
        self.version = "working tree"
        try:
            with open(os.path.join(path, "version.mk")) as f:
                m = re.search(r"^NVIDIA_VERSION\s*=\s*(\S+)", f.read(), re.M)
                if m:
                    self.version = m.group(1)
        except OSError:
            pass

    def tags(self):
        return [self.version]

    def files(self, tag, under):
        base = os.path.join(self.root, under)
        found = []
        for dirpath, _, names in os.walk(base):
            for n in names:
                found.append(os.path.relpath(os.path.join(dirpath, n), base).replace(os.sep, "/"))
        return sorted(found)

    def read(self, tag, path):
        try:
            with open(os.path.join(self.root, path), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return None


def open_source(path):
    if not os.path.isdir(path):
        sys.exit("nvidia-tables: %s is not a directory" % path)
    probe = subprocess.run(["git", "-C", path, "rev-parse", "--absolute-git-dir"], capture_output=True, text=True)
    if probe.returncode == 0:
        return GitSource(probe.stdout.strip())
    return TreeSource(path)


def default_tags(tags):
    newest = {}
    for t in tags:
        branch = version_key(t)[0]
        if branch >= FIRST_BRANCH and (branch not in newest or version_key(t) > version_key(newest[branch])):
            newest[branch] = t
    return [newest[b] for b in sorted(newest)]


def lines_of(text):
    """Lines with backslash continuations joined."""
    return text.replace("\\\r\n", " ").replace("\\\n", " ").splitlines()


def keep_first(found, tag, name, value, rel):
    """Records name = value from header rel; a name one tag defines twice with different values keeps the first."""
    if name in found and found[name][0] != value:
        warn("%s: %s is defined as %#x in %s and %#x in %s; keeping the first"
             % (tag, name, found[name][0], found[name][1], value, rel))
        return
    found.setdefault(name, (value, rel))


def controls_of(src, tag, verbose):
    """name -> (value, header) of the control commands of one tag."""
    found = {}
    for rel in src.files(tag, SDK + "/ctrl"):
        rel = "ctrl/" + rel
        m = CTRL_HEADER.match(rel)
        if not m:
            continue
        header_class = int(m.group(1), 16)
        text = src.read(tag, SDK + "/" + rel)
        for line in lines_of(text):
            d = DEFINE_NUMBER.match(line)
            if not d:
                continue
            name, digits, comment = d.group(1), d.group(2), d.group(3) or ""
            n = CTRL_NAME.match(name)
            if not n and FINN_COMMAND.search(comment):
                # FINN generates every command define, `_CMD_` in its name or not (NV906F_CTRL_GET_CLASS_ENGINEID).
                n = FINN_CTRL_NAME.match(name)
            if not n or "_CTRL_" in n.group(1):
                continue
            value = number(digits)
            if value >> 32:
                continue
            name_class = int(n.group(2), 16) if n.group(2) else header_class
            if value >> 16 != name_class or value >> 16 != header_class:
                if verbose and FINN_COMMAND.search(comment):
                    warn("%s: %s: %s = %#x carries a command's finn comment but not class %04x; skipped"
                         % (tag, rel, name, value, header_class))
                continue
            if header_class == 0 and not FINN_COMMAND.search(comment):
                continue
            keep_first(found, tag, name, value, rel)
    return found


def classes_of(src, tag):
    """name -> (value, header, canonical) of the alloc classes of one tag: canonical is 0 for a name
    g_allclasses.h defines without `// alias`, 1 for a header's choice where that list does not know the id,
    2 for the other names (kept to tell names apart across tags, never output)."""
    by_id = {}
    for rel in src.files(tag, SDK + "/class"):
        rel = "class/" + rel
        m = CLASS_HEADER.match(rel)
        # clXXXX_notification.h numbers notifiers, some of them equal to the class id; it defines no class.
        if not m or rel.endswith("_notification.h"):
            continue
        class_id = int(m.group(1), 16)
        for line in lines_of(src.read(tag, SDK + "/" + rel)):
            d = DEFINE_NUMBER.match(line)
            if not d or number(d.group(2)) != class_id or d.group(1).endswith("_MESSAGE_ID"):
                continue
            names = by_id.setdefault(class_id, [])
            # The plain clXXXX.h is the class's own header; clXXXX_notification.h, clXXXXsw.h and the like come
            # after it.
            entry = (rel != "class/cl%04x.h" % class_id, d.group(1), rel)
            if all(e[1] != entry[1] for e in names):
                names.append(entry)

    listed = {}
    include_of = {}
    text = src.read(tag, ALLCLASSES)
    if text is None:
        warn("%s: no %s; class names come from the class headers alone" % (tag, ALLCLASSES))
        text = ""
    for line in lines_of(text):
        inc = ALLCLASSES_INCLUDE.match(line)
        if inc:
            include_of.setdefault(inc.group(2), inc.group(1))
            continue
        d = DEFINE_NUMBER.match(line)
        if d and "alias" not in (d.group(3) or ""):
            value = number(d.group(2))
            if value in listed and listed[value] != d.group(1):
                warn("%s: %s names %#x both %s and %s; keeping the first" % (tag, ALLCLASSES, value, listed[value],
                                                                           d.group(1)))
                continue
            listed[value] = d.group(1)

    found = {}
    for class_id, names in by_id.items():
        names.sort(key=lambda e: e[0])
        for _, name, rel in names:
            found[name] = (class_id, rel, 2)
        if class_id not in listed:
            legacy = [e for e in names if not e[1].startswith("NV1_")] or names
            found[legacy[0][1]] = (class_id, legacy[0][2], 1)
    for class_id, name in listed.items():
        own = [e for e in by_id.get(class_id, []) if e[1] == name]
        if own:
            rel = own[0][2]
        elif name in include_of:
            rel = include_of[name]
        elif class_id in by_id:
            rel = by_id[class_id][0][2]
        else:
            rel = "(" + ALLCLASSES + ")"
        found[name] = (class_id, rel, 0)
    return found


# Frontend escapes and UVM requests: the headers that define them, each group read in order as one translation unit
# (nv-ioctl-numa.h uses nv-ioctl-numbers.h's NV_IOCTL_BASE, uvm_linux_ioctl.h includes uvm_ioctl.h).
ESCAPE_HEADERS = [
    "src/nvidia/arch/nvalloc/unix/include/nv_escape.h",
    "kernel-open/common/inc/nv-ioctl-numbers.h",
    "kernel-open/common/inc/nv-ioctl-numa.h",
]
# Copies of the kernel-open headers that RM builds from; they should agree, and a difference is reported.
ESCAPE_HEADER_COPIES = {
    "kernel-open/common/inc/nv-ioctl-numbers.h": "src/nvidia/arch/nvalloc/unix/include/nv-ioctl-numbers.h",
    "kernel-open/common/inc/nv-ioctl-numa.h": "src/nvidia/arch/nvalloc/unix/include/nv-ioctl-numa.h",
}
UVM_HEADERS = ["kernel-open/nvidia-uvm/uvm_ioctl.h", "kernel-open/nvidia-uvm/uvm_linux_ioctl.h"]
UVM_LINUX_HEADER = "kernel-open/nvidia-uvm/uvm_linux_ioctl.h"
# What a Linux x86_64 build defines, as far as the #if's around these requests ask: anything else (WIN32, WIN64,
# NV_BSD, __cplusplus, ...) is undefined. uvm_ioctl.h defines UVM_IOCTL_BASE(i) as a Windows CTL_CODE under
# `#if defined(WIN32) || defined(WIN64)` and as plain i otherwise, and has Windows-only requests
# (UVM_REGION_SET_BACKING, 21) under the same condition.
LINUX_DEFINES = {"__linux__": "1", "NV_LINUX": "1", "NV_64_BITS": "1"}

DIRECTIVE = re.compile(r"^\s*#\s*([a-z]+)\b\s*(.*)$")
MACRO = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\(([^)]*)\))?\s*(.*)$")
IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
INT_LITERAL = re.compile(r"\b(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*\b")


def without_comments(text):
    """C comments replaced by a space, newlines kept."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", lambda m: " " + "\n" * m.group(0).count("\n"), text, flags=re.S)


def expand(expr, macros):
    """`expr` with the object-like and one-level function-like macros of `macros` expanded; None when it does not
    settle (a macro that expands to itself)."""
    for _ in range(32):
        def call(m):
            params, body = macros[m.group(1)]
            args = [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
            if len(args) != len(params):
                return m.group(0)
            bound = dict(zip(params, args))
            return "(" + IDENT.sub(lambda i: bound.get(i.group(0), i.group(0)), body) + ")"

        def plain(m):
            found = macros.get(m.group(0))
            return "(" + found + ")" if isinstance(found, str) else m.group(0)

        functions = [n for n, v in macros.items() if isinstance(v, tuple)]
        out = expr
        if functions:
            out = re.sub(r"\b(%s)\s*\(([^()]*)\)" % "|".join(map(re.escape, functions)), call, out)
        out = IDENT.sub(plain, out)
        if out == expr:
            return out
        expr = out
    return None


def c_int(m):
    """A C integer literal's decimal digits: hex, octal (leading 0) or decimal."""
    digits = m.group(1)
    if digits[:2] in ("0x", "0X"):
        return str(int(digits, 16))
    if len(digits) > 1 and digits[0] == "0" and set(digits) <= set("01234567"):
        return str(int(digits, 8))
    return str(int(digits, 10))


ARITHMETIC = re.compile(r"^[0-9\s()+\-*<>|&^~]*$")


def evaluate(expr):
    """The value of an integer constant expression (no identifiers left), or None."""
    expr = INT_LITERAL.sub(c_int, expr)
    if not expr.strip() or not ARITHMETIC.match(expr) or "**" in expr:
        return None
    try:
        value = eval(expr, {"__builtins__": {}}, {})
    except (SyntaxError, TypeError, ValueError):
        return None
    return value if type(value) is int else None


def condition(expr, macros):
    """An #if/#elif condition as a Linux build evaluates it: `defined` from `macros`, other identifiers 0."""
    expr = re.sub(r"\bdefined\s*(?:\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))",
                  lambda m: "1" if (m.group(1) or m.group(2)) in macros else "0", expr)
    expr = expand(expr, macros) or "0"
    expr = IDENT.sub("0", INT_LITERAL.sub(c_int, expr))
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    if not re.match(r"^[0-9\s()+\-*<>=!|&^~]*$", expr.replace(" and ", " ").replace(" or ", " ").replace(" not ", " ")):
        warn("cannot evaluate #if %s; taken as false" % expr)
        return False
    try:
        return bool(eval(expr, {"__builtins__": {}}, {}))
    except (SyntaxError, TypeError, ValueError):
        warn("cannot evaluate #if %s; taken as false" % expr)
        return False


def defines_of(text, macros):
    """(name, body) of the object-like #defines a Linux build of `text` sees, in order; `macros` (name -> body, or
    (params, body) for a function-like macro) is updated as the preprocessor would."""
    found = []
    stack = []  # (this branch taken, some branch of this #if taken, enclosing region active)
    active = True
    for line in lines_of(without_comments(text)):
        d = DIRECTIVE.match(line)
        if not d:
            continue
        kind, rest = d.group(1), d.group(2).strip()
        if kind in ("if", "ifdef", "ifndef"):
            if kind == "ifdef":
                taken = rest.split()[0] in macros if rest else False
            elif kind == "ifndef":
                taken = rest.split()[0] not in macros if rest else True
            else:
                taken = active and condition(rest, macros)
            stack.append((taken, taken, active))
            active = active and taken
        elif kind == "elif":
            _, any_taken, outer = stack.pop()
            taken = outer and not any_taken and condition(rest, macros)
            stack.append((taken, any_taken or taken, outer))
            active = outer and taken
        elif kind == "else":
            _, any_taken, outer = stack.pop()
            stack.append((not any_taken, True, outer))
            active = outer and not any_taken
        elif kind == "endif":
            if stack:
                active = stack.pop()[2]
        elif not active:
            continue
        elif kind == "define":
            m = MACRO.match(rest)
            if not m:
                continue
            name, body = m.group(1), m.group(4).strip()
            if m.group(2):
                macros[name] = ([p.strip() for p in m.group(3).split(",") if p.strip()], body)
            else:
                macros[name] = body
                found.append((name, body))
        elif kind == "undef":
            macros.pop(rest.split()[0] if rest else "", None)
    return found


def requests_of(src, tag, headers, is_request):
    """name -> (value, header) of the requests `headers` define in one tag, and the macros they left."""
    macros = dict(LINUX_DEFINES)
    found = {}
    for rel in headers:
        text = src.read(tag, rel)
        if text is None:
            continue
        for name, body in defines_of(text, macros):
            if not is_request(rel, name, body, macros):
                continue
            expanded = expand(body, macros)
            value = evaluate(expanded) if expanded is not None else None
            if value is None or value < 0:
                warn("%s: %s: %s = %s is not a number; skipped" % (tag, rel, name, body))
                continue
            keep_first(found, tag, name, value, rel)
    return found, macros


def is_escape(rel, name, body, macros):
    return name.startswith("NV_ESC_")


def escapes_of(src, tag):
    """name -> (value, header) of the frontend escapes (`_IOWR('F', nr, ...)`) of one tag."""
    found, _ = requests_of(src, tag, ESCAPE_HEADERS, is_escape)
    copies = {h: c for h, c in ESCAPE_HEADER_COPIES.items() if src.read(tag, c) is not None}
    if copies:
        other, _ = requests_of(src, tag, [copies.get(h, h) for h in ESCAPE_HEADERS], is_escape)
        if {n: v for n, (v, _) in other.items()} != {n: v for n, (v, _) in found.items()}:
            warn("%s: %s define other escapes than the kernel-open headers; reading kernel-open"
                 % (tag, ", ".join(sorted(copies.values()))))
    for name, (value, _) in list(found.items()):
        if value > 0xFF:
            warn("%s: %s = %#x does not fit an ioctl nr; skipped" % (tag, name, value))
            del found[name]
    if not found:
        warn("%s: no frontend escapes in %s" % (tag, ", ".join(ESCAPE_HEADERS)))
    return found


def is_uvm_request(rel, name, body, macros):
    """uvm_ioctl.h numbers its requests UVM_IOCTL_BASE(n) among flag and count defines; uvm_linux_ioctl.h holds
    only the Linux requests, as bare numbers."""
    if not name.startswith("UVM_"):
        return False
    if re.search(r"\bUVM_IOCTL_BASE\s*\(", body):
        return True
    return rel == UVM_LINUX_HEADER and evaluate(body) is not None


def uvm_requests_of(src, tag):
    """name -> (value, header) of the UVM requests (bare ioctl request numbers on /dev/nvidia-uvm) of one tag."""
    found, macros = requests_of(src, tag, UVM_HEADERS, is_uvm_request)
    base = macros.get("UVM_IOCTL_BASE")
    if found and base != (["i"], "i"):
        warn("%s: UVM_IOCTL_BASE is %r for Linux, not (i) i" % (tag, base))
    if not found:
        warn("%s: no UVM requests in %s" % (tag, ", ".join(UVM_HEADERS)))
    return found


def branch_of(tag):
    return tag.split(".")[0]


def ranges(branches, order):
    """Branches as runs over `order`, the branches of the tags read: ["535", "545", "590"] of
    535 545 550 ... 595 -> "535-545, 590"."""
    runs, run = [], []
    for b in order:
        if b in branches:
            run.append(b)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return ", ".join(r[0] if len(r) == 1 else "%s-%s" % (r[0], r[-1]) for r in runs)


def merge(per_tag, what, verbose):
    """Union over tags (oldest first): one (value, label, header) per value. A value whose command never moved is
    labelled by its name. NVIDIA renumbers some commands between branches, so a value may name one command in
    some branches and another (or nothing) in others: its label then gives each name with the branches where it
    has that value, newest first ("A (590-595) or B (535-580)"), so a trace from any branch reads right."""
    order = []
    holds = {}  # value -> name -> branches where the name has that value
    values_of = {}  # name -> values it had
    headers = {}  # value -> header of the newest tag that has it
    shared = {}
    for tag, table in per_tag:
        branch = branch_of(tag)
        if branch not in order:
            order.append(branch)
        names = {}
        for name, entry in table.items():
            if len(entry) > 2 and entry[2] == 2:
                continue
            names.setdefault(entry[0], []).append((name, entry[1]))
        for value, candidates in names.items():
            # Two commands with one value in one release (NV2080_CTRL_CMD_FB_COMPBITCOPY_GET_COMPBITS and
            # NV2080_CTRL_CMD_FB_STATS_GET are both 0x2080132a): the first by name, reported once.
            candidates.sort()
            if len(candidates) > 1:
                shared.setdefault((value, tuple(c[0] for c in candidates)), []).append(tag)
            name, header = candidates[0]
            holds.setdefault(value, {}).setdefault(name, set()).add(branch)
            values_of.setdefault(name, set()).add(value)
            headers[value] = header
    for (value, names), tags in sorted(shared.items()):
        warn("%s %#x is named %s in %s; keeping %s" % (what, value, ", ".join(names), " ".join(tags), names[0]))
    rows = []
    for value in sorted(holds):
        names = holds[value]
        if len(names) == 1 and len(values_of[next(iter(names))]) == 1:
            rows.append((value, next(iter(names)), headers[value]))
            continue
        newest_first = sorted(names, key=lambda n: max(order.index(b) for b in names[n]), reverse=True)
        label = " or ".join("%s (%s)" % (n, ranges(names[n], order)) for n in newest_first)
        if verbose:
            warn("%s %#x: %s" % (what, value, label))
        rows.append((value, label, headers[value]))
    return rows


def read_extra(path):
    """kind -> [(value, name, source)] of the hand-kept list of values the open headers lack."""
    extra = {"control": [], "class": []}
    with open(path) as f:
        for number_, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4 or fields[0] not in extra:
                sys.exit("nvidia-tables: %s:%d: expected KIND<tab>VALUE<tab>NAME<tab>SOURCE" % (path, number_))
            extra[fields[0]].append((int(fields[1], 16), fields[2], fields[3]))
    return extra


def with_extra(rows, extra):
    """The merged rows, with each extra row whose value they leave unnamed; its source stands as its header."""
    named = {value for value, _, _ in rows}
    added = [(v, n, "not in the open headers: " + src) for v, n, src in extra if v not in named]
    for value, name, _ in extra:
        if value in named:
            warn("%#x (%s) of the extra list is in the headers now; the list's row can go" % (value, name))
    return sorted(rows + added, key=lambda row: row[0])


def literal(value):
    if value > 0xFFFF:
        return "0x%x_%04x" % (value >> 16, value & 0xFFFF)
    return "0x%x" % value


def uvm_literal(value):
    """UVM requests as their headers write them: UVM_IOCTL_BASE(75) in decimal, UVM_INITIALIZE in hex."""
    return literal(value) if value > 0xFFFF else "%d" % value


def table(name, doc, rows, value_type="u32", literal=literal):
    out = ["/// " + d for d in doc] + ["pub const %s: &[(%s, &str)] = &[" % (name, value_type)]
    header = None
    for value, entry_name, rel in rows:
        if rel != header:
            out.append("    // " + rel)
            header = rel
        line = '    (%s, "%s"),' % (literal(value), entry_name)
        if len(line) > 120:
            # As rustfmt lays out a tuple too long for one line (max_width 120).
            line = '    (\n        %s,\n        "%s",\n    ),' % (literal(value), entry_name)
        out.append(line)
    out.append("];")
    return out


def render(tags, classes, controls, escapes, uvm):
    tag_lines = []
    line = "//"
    for t in tags:
        if len(line) + 1 + len(t) > 116:
            tag_lines.append(line)
            line = "//"
        line += " " + t
    tag_lines.append(line)
    out = [
        "// Generated by scripts/nvidia-tables.py from NVIDIA's open-gpu-kernel-modules; do not edit by hand.",
        "//",
        "// RM alloc classes from src/common/sdk/nvidia/inc/class/clXXXX.h (canonical names from",
        "// src/nvidia/generated/g_allclasses.h), RM control commands from src/common/sdk/nvidia/inc/ctrl/, frontend",
        "// escapes from nv_escape.h, nv-ioctl-numbers.h and nv-ioctl-numa.h, and UVM requests from uvm_ioctl.h and",
        "// uvm_linux_ioctl.h (as a Linux build defines them), the union over the release tags",
    ]
    out += tag_lines
    out += [
        "// (a request renumbered between branches is labelled with the branches of each numbering). Regenerate with",
        "//",
        "//     python3 scripts/nvidia-tables.py path/to/open-gpu-kernel-modules \\",
    ]
    out += ["//        " + line[2:] for line in tag_lines]
    out += [
        "//",
        "// (with no tags, the script takes the newest tag of each driver branch from %d on). Header paths below"
        % FIRST_BRANCH,
        "// are from the newest tag with the entry, relative to src/common/sdk/nvidia/inc for the RM classes and",
        "// commands and to the repository root for the frontend escapes and UVM requests.",
        "",
    ]
    out += table(
        "ALLOC_CLASSES",
        ["RM alloc classes (`NVOS21/64.hClass`), sorted by class id."],
        classes,
    )
    out.append("")
    out += table(
        "CONTROL_COMMANDS",
        ["RM control commands (`NVOS54.cmd`), sorted by command."],
        controls,
    )
    out.append("")
    out += table(
        "FRONTEND_ESCAPES",
        [
            "Frontend escapes: the nr of `_IOWR('F', nr, sizeof(params))` on /dev/nvidiactl and /dev/nvidiaN, sorted",
            "by nr.",
        ],
        escapes,
        "u8",
    )
    out.append("")
    out += table(
        "UVM_REQUESTS",
        ["UVM requests: bare ioctl request numbers on /dev/nvidia-uvm (not `_IOC` encoded), sorted by number."],
        uvm,
        literal=uvm_literal,
    )
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo", help="git directory or checkout of open-gpu-kernel-modules")
    ap.add_argument("tags", nargs="*", help="release tags (default: newest of each branch from %d on)" % FIRST_BRANCH)
    ap.add_argument("-o", "--output", default=DEFAULT_OUT, help="output file, - for stdout")
    ap.add_argument("-v", "--verbose", action="store_true", help="also report values renamed between tags and "
                    "defines with a command's finn comment that fail the class check")
    args = ap.parse_args()

    src = open_source(args.repo)
    tags = args.tags or default_tags(src.tags())
    if not tags:
        sys.exit("nvidia-tables: no tags of branch %d or later in %s" % (FIRST_BRANCH, args.repo))
    tags = sorted(set(tags), key=version_key)

    per_tag_classes = []
    per_tag_controls = []
    per_tag_escapes = []
    per_tag_uvm = []
    for tag in tags:
        per_tag_classes.append((tag, classes_of(src, tag)))
        per_tag_controls.append((tag, controls_of(src, tag, args.verbose)))
        per_tag_escapes.append((tag, escapes_of(src, tag)))
        per_tag_uvm.append((tag, uvm_requests_of(src, tag)))
    classes = merge(per_tag_classes, "class", args.verbose)
    controls = merge(per_tag_controls, "control", args.verbose)
    extra = read_extra(EXTRA)
    classes = with_extra(classes, extra["class"])
    controls = with_extra(controls, extra["control"])
    escapes = merge(per_tag_escapes, "escape", args.verbose)
    uvm = merge(per_tag_uvm, "UVM request", args.verbose)
    text = render(tags, classes, controls, escapes, uvm)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
    warn("%d alloc classes, %d control commands, %d frontend escapes, %d UVM requests from %s"
         % (len(classes), len(controls), len(escapes), len(uvm), " ".join(tags)))


if __name__ == "__main__":
    main()
