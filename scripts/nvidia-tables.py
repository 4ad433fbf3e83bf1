#!/usr/bin/env python3
"""nvidia-tables.py: the RM alloc class and RM control command tables of src/decode/gpu/nvidia_rm.rs, generated
from the SDK headers of NVIDIA's open-gpu-kernel-modules.

usage: nvidia-tables.py REPO [TAG ...] [-o OUT]

REPO is a git directory (bare or not) or a checkout of open-gpu-kernel-modules. TAGs are driver release tags; with
none, the newest tag of each driver branch from 535 on. A directory that is not a git repository is read as it is,
as one release named by its version.mk. OUT defaults to src/decode/gpu/nvidia_rm.rs next to this script; `-o -`
writes to stdout. Needs python3 and, for a git directory, git; nothing else.

What is read, per tag:

- Control commands (`NVOS54.cmd`): `#define <PREFIX>_CTRL_CMD_<NAME> <number>` in
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

Over several tags the tables are the union. Where a command was renumbered, or a value names different commands in
different branches, the value's label gives each name with the branches where it has that value ("A (590-595) or
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
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "decode", "gpu", "nvidia_rm.rs")

NUMBER = r"\(?\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*\s*\)?"
# `#define NAME VALUE [comment]`, VALUE a number, optionally parenthesised, optionally with a U suffix.
DEFINE_NUMBER = re.compile(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\s+" + NUMBER + r"\s*(/[*/].*)?$")
CTRL_NAME = re.compile(r"^(NV([0-9A-F]{4})|NV_[A-Z0-9_]+?)_CTRL_CMD_[A-Z0-9_]+$")
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
            if name in found and found[name][0] != value:
                warn("%s: %s is defined as %#x in %s and %#x in %s; keeping the first"
                     % (tag, name, found[name][0], found[name][1], value, rel))
                continue
            found.setdefault(name, (value, rel))
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


def literal(value):
    if value > 0xFFFF:
        return "0x%x_%04x" % (value >> 16, value & 0xFFFF)
    return "0x%x" % value


def table(name, doc, rows):
    out = ["/// " + d for d in doc] + ["pub const %s: &[(u32, &str)] = &[" % name]
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


def render(tags, classes, controls):
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
        "// src/nvidia/generated/g_allclasses.h) and RM control commands from src/common/sdk/nvidia/inc/ctrl/,",
        "// the union over the release tags",
    ]
    out += tag_lines
    out += [
        "// (a command renumbered between branches is labelled with the branches of each numbering). Regenerate with",
        "//",
        "//     python3 scripts/nvidia-tables.py path/to/open-gpu-kernel-modules \\",
    ]
    out += ["//        " + line[2:] for line in tag_lines]
    out += [
        "//",
        "// (with no tags, the script takes the newest tag of each driver branch from %d on). Header paths below"
        % FIRST_BRANCH,
        "// are relative to src/common/sdk/nvidia/inc, from the newest tag with the entry.",
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
    for tag in tags:
        per_tag_classes.append((tag, classes_of(src, tag)))
        per_tag_controls.append((tag, controls_of(src, tag, args.verbose)))
    classes = merge(per_tag_classes, "class", args.verbose)
    controls = merge(per_tag_controls, "control", args.verbose)
    text = render(tags, classes, controls)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
    warn("%d alloc classes, %d control commands from %s" % (len(classes), len(controls), " ".join(tags)))


if __name__ == "__main__":
    main()
