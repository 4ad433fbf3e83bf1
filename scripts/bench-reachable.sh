#!/usr/bin/env bash
# bench-reachable.sh: how long does static reachability of one large library take, cold and from the cache?
#
# Builds trapline (release), records `/bin/true` as the run the profile is made from, then times
#   target/release/trapline profile TRACE --runtime none --include-reachable LIB --cache DIR -o /dev/null
# cold (an empty cache: the library is read, its imports mapped, its code decoded) and warm (the entry for its
# build id is read back), RUNS times each, and prints the best wall time with the file's size and how many
# syscalls it reaches that the run did not make. Target: a 1 GB library such as libtorch_cpu.so in seconds.
#
# Environment: LIB (the library; default: libtorch_cpu.so of an installed PyTorch, else the largest libLLVM,
# else libc), RUNS (default 3).
set -euo pipefail

cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || { echo "bench-reachable: python3 not found (make deps)" >&2; exit 2; }

if [ -z "${LIB:-}" ]; then
  LIB=$("$PY" -c 'import glob, os, torch; print(glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))[0])' 2>/dev/null || true)
fi
if [ -z "${LIB:-}" ]; then
  LIB=$(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -name 'libLLVM*.so*' -type f -printf '%s %p\n' 2>/dev/null |
    sort -n | tail -1 | cut -d' ' -f2-)
fi
if [ -z "${LIB:-}" ]; then
  for f in /usr/lib/x86_64-linux-gnu/libc.so.6 /lib64/libc.so.6; do
    if [ -f "$f" ]; then LIB=$f; break; fi
  done
fi
[ -f "$LIB" ] || { echo "bench-reachable: no library to measure (set LIB)" >&2; exit 2; }
LIB=$(readlink -f "$LIB")

echo "bench-reachable: building trapline (release)" >&2
cargo build --release --quiet
TRAPLINE=target/release/trapline

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TRAPLINE" record -q -o "$tmp/true.json" -- /bin/true

"$PY" - "$TRAPLINE" "$RUNS" "$LIB" "$tmp" <<'EOF_PY'
import os, re, shutil, subprocess, sys, time

trapline, runs, lib, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
trace = os.path.join(tmp, "true.json")
cache = os.path.join(tmp, "cache")

def once():
    t0 = time.perf_counter()
    p = subprocess.run([trapline, "profile", trace, "--runtime", "none", "--include-reachable", lib,
                        "--cache", cache, "-o", os.devnull],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace"))
        sys.exit(f"bench-reachable: trapline profile exited with status {p.returncode}")
    said = p.stderr.decode(errors="replace")
    m = re.search(r"widened by --include-reachable \S+: (.*) \(no run made them\)", said)
    return elapsed, len(m.group(1).split(", ")) if m else 0

cold, warm = [], []
for _ in range(runs):
    shutil.rmtree(cache, ignore_errors=True)
    secs, added = once()
    cold.append(secs)
for _ in range(runs):
    secs, _ = once()
    warm.append(secs)
size = os.path.getsize(lib)
print(f"library: {lib} ({size / 2**20:.0f} MiB), kernel {os.uname().release}, {os.cpu_count()} CPUs")
print(f"reachable syscalls the run did not make: {added}")
print(f"cold (read, map imports, decode code): best {min(cold):.3f} s of {' '.join(f'{t:.3f}' for t in cold)}")
print(f"warm (cached per build id):            best {min(warm):.3f} s of {' '.join(f'{t:.3f}' for t in warm)}")
EOF_PY
