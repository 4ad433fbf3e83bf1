#!/usr/bin/env bash
# bench-profile.sh: how long do `trapline profile` and `trapline coverage` take on many large traces?
#
# Builds trapline (release), records one real trace as a template (TEMPLATE_CMD), generates TRACES synthetic traces
# of CLASSES classes each from it with scripts/gen_traces.py (ioctl request codes, mmap prot/flags combinations,
# socket/prctl/clone/mprotect variants, real x86_64 syscall names), then times
#   target/release/trapline profile TRACE... -o FILE            (and the same with --explain FILE.md)
#   target/release/trapline coverage TRACE... -o FILE           (and the same with --format json)
# RUNS times each and prints the best wall time, with the classes that went in and the entries that came out.
# Target: the profile of all of them in well under a second; coverage in a few seconds at most.
#
# Environment: TRACES (default 100), CLASSES (per trace, default 3000), RUNS (default 3), SEED (default 1),
# TEMPLATE (an existing trace to use instead of recording one), TEMPLATE_CMD (what to record, default below).
set -euo pipefail

cd "$(dirname "$0")/.."

TRACES=${TRACES:-100}
CLASSES=${CLASSES:-3000}
RUNS=${RUNS:-3}
SEED=${SEED:-1}
TEMPLATE_CMD=${TEMPLATE_CMD:-"ls -l / >/dev/null; stty -F /dev/null 2>/dev/null; exit 0"}
TARGET=1.0

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || { echo "bench-profile: python3 not found (make deps)" >&2; exit 2; }

echo "bench-profile: building trapline (release)" >&2
cargo build --release --quiet
TRAPLINE=target/release/trapline

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${TEMPLATE:-}" ]; then
  template=$TEMPLATE
else
  template=$tmp/template.json
  echo "bench-profile: recording the template: /bin/sh -c '$TEMPLATE_CMD'" >&2
  "$TRAPLINE" record -q -o "$template" -- /bin/sh -c "$TEMPLATE_CMD" </dev/null
fi

echo "bench-profile: generating $TRACES traces of $CLASSES classes" >&2
"$PY" scripts/gen_traces.py "$template" "$tmp/traces" --traces "$TRACES" --classes "$CLASSES" --seed "$SEED"

"$PY" - "$TRAPLINE" "$RUNS" "$TARGET" "$template" "$tmp" <<'EOF_PY'
import glob, json, os, subprocess, sys, time

trapline, runs, target, template, tmp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
traces = sorted(glob.glob(os.path.join(tmp, "traces", "*.json")))
classes_in = 0
for path in traces:
    with open(path) as f:
        classes_in += len(json.load(f)["classes"])
size = sum(os.path.getsize(p) for p in traces)
with open(template) as f:
    tpl = json.load(f)

def measure(command, extra):
    out = os.path.join(tmp, f"{command}.out")
    times, warnings = [], []
    for _ in range(runs):
        if os.path.exists(out):
            os.remove(out)
        t0 = time.perf_counter()
        p = subprocess.run([trapline, command, *traces, "-o", out, *extra],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace"))
            sys.exit(f"bench-profile: trapline {command} exited with status {p.returncode}")
        warnings = p.stderr.decode(errors="replace").splitlines()
    entries = ""
    if command == "profile":
        with open(out) as f:
            entries = len(json.load(f)["syscalls"])
    return min(times), times, entries, warnings

print(f"template: {' '.join(tpl['runs'][0]['command'])} ({len(tpl['classes'])} classes), kernel {os.uname().release}, "
      f"{os.cpu_count()} CPUs")
print(f"input: {len(traces)} traces, {classes_in} classes in, {size / 2**20:.1f} MiB of JSON")
print(f"{'variant':<20}{'classes in':>12}{'entries out':>13}{'best of ' + str(runs):>12}   all runs (s)")
best = {}
variants = [
    ("profile", "profile", []),
    ("profile --explain", "profile", ["--explain", os.path.join(tmp, "profile.md")]),
    ("coverage", "coverage", []),
    ("coverage --format json", "coverage", ["--format", "json"]),
]
for name, command, extra in variants:
    secs, times, entries, warnings = measure(command, extra)
    best[name] = secs
    print(f"{name:<20}{classes_in:>12}{entries:>13}{secs:>10.3f} s   {' '.join(f'{t:.3f}' for t in times)}")
    for w in warnings:
        print(f"    {w}")
verdict = "met" if best["profile"] < target else "NOT met"
print(f"target: profile of all {len(traces)} traces in < {target:.1f} s: {verdict} ({best['profile']:.3f} s)")
EOF_PY
