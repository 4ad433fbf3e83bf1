#!/usr/bin/env python3
"""nvproxy-lists.py: the frontend escapes, UVM requests, RM control commands and RM alloc classes that gVisor's
nvproxy handles, over every driver ABI it supports, as values: the facts tests/decode.rs checks trapline's
NVIDIA tables against (tests/fixtures/nvproxy/lists.json).

usage: nvproxy-lists.py GVISOR_GIT_DIR [-o OUT]

GVISOR_GIT_DIR is a git directory (bare or not) of google/gvisor; its HEAD is read. What is read:

- pkg/sentry/devices/nvproxy/version.go: the keys of the driverABI maps (`frontendIoctl`, `uvmIoctl`,
  `controlCmd`, `allocationClass`), both in the first ABI's map literals and in the later ABIs'
  `abi.MAP[nvgpu.NAME] = ...` additions. A name any ABI has counts (the union over ABIs).
- pkg/abi/nvgpu/*.go: the values of those names (`NAME = 0x...`, or sums and differences of names and numbers).

Only names and numbers are taken over, never code. Needs python3 and git.
"""

import argparse
import json
import re
import subprocess
import sys

MAPS = ("frontendIoctl", "uvmIoctl", "controlCmd", "allocationClass")
CONST = re.compile(r"^\s*([A-Z][A-Za-z0-9_]*)\s*(?:[A-Za-z_.]+\s*)?=\s*([^/]+?)\s*(?://.*)?$")


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def constants(repo):
    """The numeric constants of pkg/abi/nvgpu, expressions resolved where they are sums of known terms."""
    raw = {}
    for path in git(repo, "ls-tree", "--name-only", "HEAD", "pkg/abi/nvgpu/").split():
        if path.endswith(".go") and not path.endswith("_test.go"):
            for line in git(repo, "show", f"HEAD:{path}").splitlines():
                m = CONST.match(line)
                if m:
                    raw.setdefault(m.group(1), m.group(2).strip())
    values = {}

    def value(name, depth=0):
        if name in values:
            return values[name]
        text = raw.get(name)
        if text is None or depth > 8:
            return None
        total = 0
        for sign, term in re.findall(r"([+-]?)\s*([^+-]+)", text.replace("(", " ").replace(")", " ")):
            term = term.strip()
            if re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", term):
                number = int(term, 0)
            elif re.fullmatch(r"[A-Z][A-Za-z0-9_]*", term) and value(term, depth + 1) is not None:
                number = values[term]
            else:
                return None
            total += -number if sign == "-" else number
        values[name] = total
        return total

    for name in raw:
        value(name)
    return values


def keys(repo):
    """The nvgpu names each map has in any ABI."""
    text = git(repo, "show", "HEAD:pkg/sentry/devices/nvproxy/version.go")
    found = {m: set() for m in MAPS}
    current = None
    for line in text.splitlines():
        opened = re.search(r"\b(" + "|".join(MAPS) + r"):\s*map\[", line)
        if opened:
            current = opened.group(1)
            continue
        added = re.search(r"abi\.(" + "|".join(MAPS) + r")\[nvgpu\.([A-Za-z0-9_]+)\]\s*=", line)
        if added:
            found[added.group(1)].add(added.group(2))
            continue
        if current and re.match(r"^\s*},?\s*$", line):
            current = None
            continue
        entry = re.match(r"^\s*nvgpu\.([A-Za-z0-9_]+)\s*:", line)
        if current and entry:
            found[current].add(entry.group(1))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo")
    parser.add_argument("-o", "--out", default="-")
    args = parser.parse_args()
    values = constants(args.repo)
    lists = {"gvisor_commit": git(args.repo, "rev-parse", "HEAD").strip()}
    for name, found in keys(args.repo).items():
        resolved = []
        for key in sorted(found):
            if values.get(key) is None:
                sys.exit(f"nvproxy-lists.py: no value for nvgpu.{key}")
            resolved.append([values[key], key])
        lists[name] = [[f"{v:#x}", k] for v, k in sorted(resolved)]
    text = json.dumps(lists, indent=1) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
