#!/usr/bin/env bash
# bench.sh: how much does recording slow a workload down, next to strace?
#
# Builds trapline (release), bench/getppid_loop.c and bench/ioctl_loop.c, then times three variants of three
# workloads:
#   workloads: getppid_loop (N getppid syscalls: nearly pure syscall overhead), ioctl_loop (N ioctls on a device
#              fd: the per-call device lookup a GPU driver's traffic needs), python3 -c pass (startup)
#   variants:  native | trapline record -q -o FILE -- CMD | strace -f -o /dev/null CMD
# then the other backends, enforcement, the serving benchmark (bench/serving.py) and containers in Docker
# with runc and through `trapline runtime` (bench/containers.py: start latency, the loop inside).
# Each variant runs up to RUNS times, fewer when the next run would take it past BUDGET seconds (always at least
# once); the table shows the best (minimum) wall time. Target: trapline/strace <= 0.5 on the loop.
#
# Environment: N (loop iterations, default 200000), RUNS (default 5), BUDGET (seconds per variant, default 20),
# REQUESTS (the serving benchmark's requests, default 3000).
set -euo pipefail

cd "$(dirname "$0")/.."

N=${N:-200000}
RUNS=${RUNS:-5}
BUDGET=${BUDGET:-20}
TARGET=0.5

# The system interpreter, not a version-manager shim (a shim would add a shell script and an extra exec to the
# workload being measured).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || { echo "bench: python3 not found (make deps)" >&2; exit 2; }
command -v strace >/dev/null || { echo "bench: strace not found (make deps)" >&2; exit 2; }
command -v cc >/dev/null || { echo "bench: cc not found (make deps)" >&2; exit 2; }

echo "bench: building trapline (release), getppid_loop and ioctl_loop" >&2
cargo build --release --quiet
mkdir -p target/bench
cc -O2 -Wall -Wextra -Werror -o target/bench/getppid_loop bench/getppid_loop.c
cc -O2 -Wall -Wextra -Werror -o target/bench/ioctl_loop bench/ioctl_loop.c

TRAPLINE=target/release/trapline
LOOP=target/bench/getppid_loop
IOCTL_LOOP=target/bench/ioctl_loop
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trace=$tmp/trace.json
results=$tmp/results

# measure WORKLOAD VARIANT CMD...: time CMD, append "WORKLOAD<TAB>VARIANT<TAB>best_secs<TAB>runs" to $results.
# The workload's output is discarded; a non-zero exit status fails the benchmark.
measure() {
  local workload=$1 variant=$2
  shift 2
  echo "bench: $workload / $variant" >&2
  "$PY" - "$RUNS" "$BUDGET" "$workload" "$variant" "$@" >>"$results" <<'EOF'
import subprocess, sys, time

runs, budget, workload, variant, cmd = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
times = []
while len(times) < runs and (not times or sum(times) + times[-1] <= budget):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace"))
        sys.exit(f"bench: {' '.join(cmd)} exited with status {p.returncode}")
    times.append(elapsed)
print(f"{workload}\t{variant}\t{min(times):.6f}\t{len(times)}")
EOF
}

bench_workload() {
  local workload=$1
  shift
  measure "$workload" native "$@"
  measure "$workload" trapline "$TRAPLINE" record -q -o "$trace" -- "$@"
  measure "$workload" strace strace -f -o /dev/null "$@"
}

bench_workload "getppid x$N" "$LOOP" "$N"
# A fast recorder that missed the calls would be no result: the last loop trace must hold all N getppid calls.
"$PY" - "$trace" "$N" <<'EOF'
import json, sys

path, n = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    trace = json.load(f)
seen = sum(c["count"] for c in trace["classes"] if c["syscall"] == "getppid")
if seen < n:
    sys.exit(f"bench: the trace holds {seen} getppid calls, expected at least {n}: the recorder missed calls")
EOF
# With a complete profile of the loop, audited runs and re-recordings trap nothing: they should cost about what
# the workload does natively (target: at most 1.2x).
profile=$tmp/loop.profile.json
"$TRAPLINE" profile "$trace" --runtime none -o "$profile" 2>/dev/null
# The floor: any seccomp filter at all moves every syscall to the kernel's slower entry path; a profile that
# allows everything measures that cost alone.
echo '{"defaultAction": "SCMP_ACT_ALLOW"}' >"$tmp/allow-all.json"
measure "getppid x$N" "record --backend notify" "$TRAPLINE" record -q --backend notify -o "$tmp/notify.json" -- "$LOOP" "$N"
measure "getppid x$N" "allow-all filter" "$TRAPLINE" run --quiet --profile "$tmp/allow-all.json" -- "$LOOP" "$N"
# Enforced with denials named as they happen (traced, but only denied calls stop) and quietly (untraced).
measure "getppid x$N" "run" "$TRAPLINE" run --profile "$profile" -- "$LOOP" "$N"
measure "getppid x$N" "run --quiet" "$TRAPLINE" run --quiet --profile "$profile" -- "$LOOP" "$N"
measure "getppid x$N" "run --audit" "$TRAPLINE" run --profile "$profile" --audit -- "$LOOP" "$N"
measure "getppid x$N" "record --known" "$TRAPLINE" record -q --known "$profile" -o "$tmp/known.json" -- "$LOOP" "$N"
# The eBPF backend pays a fixed cost (loading and attaching its programs) and a small one per call: two loop
# lengths tell them apart.
BIG=$((10 * N))
measure "getppid x$N" "record --backend ebpf" "$TRAPLINE" record -q --backend ebpf -o "$tmp/ebpf.json" -- "$LOOP" "$N"
measure "getppid x$BIG" native "$LOOP" "$BIG"
measure "getppid x$BIG" "record --backend ebpf" "$TRAPLINE" record -q --backend ebpf -o "$tmp/ebpf.json" -- "$LOOP" "$BIG"
"$PY" - "$tmp/ebpf.json" "$BIG" <<'EOF'
import json, sys

with open(sys.argv[1]) as f:
    trace = json.load(f)
seen = sum(c["count"] for c in trace["classes"] if c["syscall"] == "getppid")
if seen != int(sys.argv[2]):
    sys.exit(f"bench: the eBPF trace holds {seen} getppid calls, expected {sys.argv[2]}")
EOF
bench_workload "ioctl x$N" "$IOCTL_LOOP" "$N"
measure "ioctl x$N" "record --backend notify" "$TRAPLINE" record -q --backend notify -o "$tmp/notify.json" -- "$IOCTL_LOOP" "$N"
# Both recorders must have named the device behind every call.
"$PY" - "$N" "$trace" "$tmp/notify.json" <<'EOF'
import json, sys

n = int(sys.argv[1])
for path in sys.argv[2:]:
    with open(path) as f:
        trace = json.load(f)
    seen = sum(c["count"] for c in trace["classes"]
               if c["syscall"] == "ioctl" and c.get("fd", {}).get("path") == "/dev/null")
    if seen < n:
        sys.exit(f"bench: {path} holds {seen} ioctls on /dev/null, expected at least {n}")
EOF
bench_workload "python3 -c pass" "$PY" -c pass

"$PY" - "$results" "$TARGET" "$RUNS" "$(uname -r)" "$(nproc)" "$(strace -V | sed -n 1p)" "$N" <<'EOF'
import sys

path, target, runs, kernel, cpus, strace_version, N = sys.argv[1], float(sys.argv[2]), *sys.argv[3:]
N = int(N)
rows = {}
for line in open(path):
    workload, variant, secs, runs = line.rstrip("\n").split("\t")
    rows.setdefault(workload, {})[variant] = (float(secs), int(runs))

print(f"kernel {kernel}, {cpus} CPUs, {strace_version}; best wall time of up to {runs} runs [runs made]")
header = ("workload", "native", "trapline", "strace", "trapline/native", "strace/native", "trapline/strace")
print(f"{header[0]:<18}{header[1]:>14}{header[2]:>14}{header[3]:>14}{header[4]:>17}{header[5]:>15}{header[6]:>17}")
for workload, v in rows.items():
    if "trapline" not in v:
        continue
    (nat, nn), (tl, tn), (st, sn) = v["native"], v["trapline"], v["strace"]
    cell = lambda secs, runs: f"{secs:.4f}s [{runs}]"
    print(f"{workload:<18}{cell(nat, nn):>14}{cell(tl, tn):>14}{cell(st, sn):>14}"
          f"{tl / nat:>16.1f}x{st / nat:>14.1f}x{tl / st:>17.2f}")

loop = next(v for w, v in rows.items() if w.startswith("getppid"))
ratio = loop["trapline"][0] / loop["strace"][0]
verdict = "met" if ratio <= target else "NOT met"
print(f"target trapline/strace <= {target:.2f} on the getppid loop: {verdict} ({ratio:.2f})")

native = loop["native"][0]
print("seccomp user notification instead of ptrace:")
for workload, v in rows.items():
    if "record --backend notify" in v:
        secs, n = v["record --backend notify"]
        print(f"  {workload:<18}{secs:.4f}s [{n}]{secs / v['native'][0]:>10.1f}x native{secs / v['strace'][0]:>8.2f}x strace")
small, big = (rows[f"getppid x{n}"] for n in (N, 10 * N))
per_call = ((big["record --backend ebpf"][0] - small["record --backend ebpf"][0])
            - (big["native"][0] - small["native"][0])) / (9 * N) * 1e6
fixed = small["record --backend ebpf"][0] - small["native"][0] - per_call * N / 1e6
notify = (small["record --backend notify"][0] - small["native"][0]) / N * 1e6
print(f"eBPF (kernel-side counters): {per_call:.3f} us per getppid over native (target <= 0.5: "
      f"{'met' if per_call <= 0.5 else 'NOT met'}), {fixed:.2f} s to load and attach; notify {notify:.2f} us per call, "
      f"eBPF/notify {per_call / notify:.3f} (target <= 0.1: {'met' if per_call / notify <= 0.1 else 'NOT met'})")
print("with a complete profile of the loop (target: at most 1.2x native):")
for variant in ("allow-all filter", "run", "run --quiet", "run --audit", "record --known"):
    secs, n = loop[variant]
    print(f"  {variant:<18}{secs:.4f}s [{n}]{secs / native:>10.2f}x native  {'met' if secs / native <= 1.2 else 'NOT met'}")
EOF

# A server under load: what each backend costs in requests per second.
"$PY" bench/serving.py "$TRAPLINE" "${REQUESTS:-3000}" "$tmp"

# Containers: start latency and the loop inside Docker, with runc and through `trapline runtime`.
cc -O2 -static -Wall -Wextra -Werror -o target/bench/getppid_loop_static bench/getppid_loop.c
"$PY" bench/containers.py "$TRAPLINE" target/bench/getppid_loop_static "$N" "$tmp"
