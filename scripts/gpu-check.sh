#!/usr/bin/env bash
# gpu-check.sh: the checks that need a real NVIDIA GPU, as one prepared run of under 5 minutes.
#
#   make static    # here, beforehand: one self-contained binary to carry to the GPU machine
#   TRAPLINE=target/x86_64-unknown-linux-gnu/release/trapline OUT=/tmp/gpu-check scripts/gpu-check.sh
#
# On a machine with an NVIDIA GPU and driver (root, no network needed) it:
#   1. prints `nvidia-smi -L` and the driver version;
#   2. records `nvidia-smi` with trapline;
#   3. records a small PyTorch CUDA program (allocate, matmul, synchronize), if python3 has torch with CUDA;
#   4. makes profiles from both traces (`--runtime none`, exact and `--gpu-portable`), explain reports, and
#      lints the profiles;
#   5. runs each workload under its profile with `trapline run` (skipped if this trapline has no `run`), and
#      when one fails, runs it again with `--audit` to list what the profile denies; then records each workload
#      again with `--backend notify` (what the agent sees), to compare with ptrace;
#   6. prints a summary: syscalls, classes, and the ioctl requests by name and device, with the RM control
#      commands and alloc classes behind them.
# Everything is written under $OUT with the driver version in the file names:
#   traces/nvidia-smi-<driver>.json  traces/pytorch-matmul-<driver>.json  traces/<workload>-<driver>-notify.json
#   profiles/<workload>-<driver>.json  profiles/<workload>-<driver>-portable.json
#   reports/<workload>-<driver>.md  logs/<step>.log  summary-<driver>.txt  env-<driver>.txt
#   traces/<workload>-<driver>-denied.json (only when a workload failed under its profile)
#
# Environment:
#   TRAPLINE         the trapline binary (default: the `make static` build if present, else target/release/trapline,
#                    relative to the repository root). It is built elsewhere and carried along; a dynamic build
#                    links libseccomp.so.2 and glibc, which this script checks with ldd.
#   TRAPLINE_LIB_DIR a directory with shared libraries the binary needs but the machine lacks (libseccomp.so.2),
#                    put on LD_LIBRARY_PATH for trapline only.
#   OUT              output directory (default /tmp/gpu-check).
#   BUDGET           seconds for the whole run (default 270); every step has its own timeout within it, and
#                    steps that would start after it is spent are skipped.
#
# Missing pieces (no GPU, no nvidia-smi, no torch, a trapline that cannot start) are reported and the steps
# that need them skipped; the script then still exits 0 so that what it did collect comes back. It exits 1
# only when it could check nothing at all (no usable trapline and no GPU). See docs/gpu.md.
set -euo pipefail

cd "$(dirname "$0")/.."

STATIC_BUILD=target/x86_64-unknown-linux-gnu/release/trapline
if [ -z "${TRAPLINE:-}" ] && [ -x "$STATIC_BUILD" ]; then TRAPLINE=$STATIC_BUILD; fi
TRAPLINE=${TRAPLINE:-target/release/trapline}
OUT=${OUT:-/tmp/gpu-check}
BUDGET=${BUDGET:-270}
START=$SECONDS

say() { printf 'gpu-check: %s\n' "$*"; }
skip() { printf 'gpu-check: SKIPPED: %s\n' "$*"; }
indent() { sed 's/^/    /'; }

# Seconds a step may take: its own limit, cut to what is left of the budget (0 when it is spent).
limit() {
    local left=$((BUDGET - (SECONDS - START)))
    local want=$1
    if [ "$left" -lt "$want" ]; then want=$left; fi
    if [ "$want" -lt 0 ]; then want=0; fi
    echo "$want"
}

# run_step NAME SECONDS CMD...: runs CMD with a timeout, output to logs/NAME.log (and the terminal's tail on
# failure); returns CMD's status (124 when it timed out) without stopping the script.
run_step() {
    local name=$1 secs
    secs=$(limit "$2")
    shift 2
    local log="$OUT/logs/$name.log" rc=0
    if [ "$secs" -lt 5 ]; then
        say "$name: SKIPPED: the ${BUDGET}s budget is spent"
        return 124
    fi
    say "$name: $* (timeout ${secs}s)"
    timeout -k 10 "$secs" "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        say "$name: timed out after ${secs}s (log: $log)"
    elif [ "$rc" -ne 0 ]; then
        say "$name: exit status $rc (log: $log); last lines:"
        tail -n 5 "$log" | indent
    fi
    return "$rc"
}

mkdir -p "$OUT"/{traces,profiles,reports,logs}
say "output in $OUT, budget ${BUDGET}s"

# --- 1. The GPU and its driver ------------------------------------------------------------------------------
have_gpu=0
if command -v nvidia-smi >/dev/null; then
    if timeout "$(limit 30)" nvidia-smi -L; then
        have_gpu=1
    else
        say "nvidia-smi -L failed: no usable GPU or driver"
    fi
else
    say "nvidia-smi is not installed"
fi

driver=""
if [ "$have_gpu" -eq 1 ]; then
    driver=$(timeout "$(limit 30)" nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null |
        head -n 1 | tr -d ' ') || true
fi
if [ -z "$driver" ] && [ -r /proc/driver/nvidia/version ]; then
    # "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  ..." (or "Open Kernel Module for x86_64 ...").
    driver=$(sed -n 's/^NVRM version:.*[[:space:]]\([0-9][0-9]*\(\.[0-9][0-9]*\)\{1,\}\)[[:space:]].*/\1/p' \
        /proc/driver/nvidia/version | head -n 1)
fi
if [ -z "$driver" ] && [ -r /sys/module/nvidia/version ]; then
    driver=$(tr -d ' \n' </sys/module/nvidia/version)
fi
if [ -z "$driver" ]; then
    say "NVIDIA driver version: unknown (no driver loaded?)"
    driver=unknown
else
    say "NVIDIA driver version: $driver"
fi
driver=${driver//[^A-Za-z0-9._-]/_}

# --- trapline itself ----------------------------------------------------------------------------------------
have_trapline=0
if [ ! -x "$TRAPLINE" ]; then
    say "no trapline binary at $TRAPLINE (set TRAPLINE, or carry target/release/trapline along)"
else
    if [ -n "${TRAPLINE_LIB_DIR:-}" ]; then
        export LD_LIBRARY_PATH="$TRAPLINE_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    ldd_out=$(ldd "$TRAPLINE" 2>&1) || true
    if grep -qE 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
        say "trapline at $TRAPLINE is statically linked"
    else
        say "trapline at $TRAPLINE is NOT static; it needs:"
        printf '%s\n' "$ldd_out" | indent
        if grep -q 'not found' <<<"$ldd_out"; then
            say "missing libraries above: carry them (libseccomp.so.2) and set TRAPLINE_LIB_DIR"
        fi
    fi
    if version=$(timeout 10 "$TRAPLINE" --version 2>&1); then
        say "$version"
        have_trapline=1
    else
        say "trapline cannot start here:"
        printf '%s\n' "$version" | indent
    fi
fi

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -r)"
    echo "driver: $driver"
    echo "trapline: ${version:-none} ($TRAPLINE)"
    echo "gpus:"
    if [ "$have_gpu" -eq 1 ]; then timeout 30 nvidia-smi -L 2>&1 | indent || true; fi
    echo "ldd:"
    printf '%s\n' "${ldd_out:-}" | indent
    echo "device nodes:"
    find /dev -maxdepth 2 \( -name 'nvidia*' -o -name kfd -o -name 'renderD*' \) -exec ls -ld {} + 2>/dev/null |
        indent || true
} >"$OUT/env-$driver.txt"

if [ "$have_trapline" -eq 0 ] && [ "$have_gpu" -eq 0 ]; then
    say "nothing to check: no usable trapline and no GPU"
    exit 1
fi
if [ "$have_trapline" -eq 0 ]; then
    skip "recording, profiles and summary: trapline cannot run here"
    exit 0
fi

traces=()

# --- 2. nvidia-smi ------------------------------------------------------------------------------------------
if [ "$have_gpu" -eq 1 ]; then
    t="$OUT/traces/nvidia-smi-$driver.json"
    # A failed or timed-out run still leaves a trace (marked incomplete) worth keeping.
    run_step record-nvidia-smi 60 "$TRAPLINE" record -q -o "$t" -- nvidia-smi || true
    if [ -s "$t" ]; then traces+=("nvidia-smi"); fi
else
    skip "recording nvidia-smi: no GPU"
fi

# --- 3. PyTorch ---------------------------------------------------------------------------------------------
have_torch=0
prog="$OUT/pytorch-matmul.py"
cat >"$prog" <<'EOF'
# A small CUDA workload: allocate, multiply, synchronize (written by scripts/gpu-check.sh).
import torch

x = torch.randn(1024, 1024, device="cuda")
y = x @ x
torch.cuda.synchronize()
print("pytorch-matmul ok", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), float(y.sum()))
EOF
if [ "$have_gpu" -eq 0 ]; then
    skip "PyTorch: no GPU"
elif ! command -v python3 >/dev/null; then
    skip "PyTorch: python3 is not installed"
elif run_step probe-torch 60 python3 -c 'import sys, torch
print(torch.__version__, torch.version.cuda)
sys.exit(0 if torch.cuda.is_available() else 3)'; then
    have_torch=1
    say "torch: $(head -n 1 "$OUT/logs/probe-torch.log")"
else
    case $? in
        1) skip "PyTorch: python3 has no torch module (install it on this machine beforehand; there is no network)" ;;
        3) skip "PyTorch: torch is installed but sees no CUDA device ($(head -n 1 "$OUT/logs/probe-torch.log"))" ;;
        *) skip "PyTorch: probing torch failed (see $OUT/logs/probe-torch.log)" ;;
    esac
fi
if [ "$have_torch" -eq 1 ]; then
    t="$OUT/traces/pytorch-matmul-$driver.json"
    run_step record-pytorch-matmul 150 "$TRAPLINE" record -q -o "$t" -- python3 "$prog" || true
    if [ -s "$t" ]; then traces+=("pytorch-matmul"); fi
fi

# --- 4. Profiles, explain reports, lint ---------------------------------------------------------------------
for w in "${traces[@]}"; do
    t="$OUT/traces/$w-$driver.json"
    run_step "profile-$w" 30 "$TRAPLINE" profile "$t" --runtime none \
        -o "$OUT/profiles/$w-$driver.json" --explain "$OUT/reports/$w-$driver.md" || true
    run_step "profile-$w-portable" 30 "$TRAPLINE" profile "$t" --runtime none --gpu-portable \
        -o "$OUT/profiles/$w-$driver-portable.json" --explain "$OUT/reports/$w-$driver-portable.md" || true
    for p in "$OUT/profiles/$w-$driver.json" "$OUT/profiles/$w-$driver-portable.json"; do
        if [ -s "$p" ]; then
            run_step "lint-$(basename "$p" .json)" 30 "$TRAPLINE" lint --runtime none "$p" ||
                say "lint: findings or errors for $p (see log)"
        fi
    done
done

# --- 5. The workloads under their profiles ------------------------------------------------------------------
# `trapline run --profile P -- CMD` loads the profile's filter and runs CMD untraced. When a workload fails under
# its profile, `--audit` runs it again with nothing denied and lists (and writes as a trace) what would have been.
if ! timeout 10 "$TRAPLINE" run --help >/dev/null 2>&1; then
    skip "running the workloads under their profiles: this trapline has no 'run' command"
elif ! timeout 10 "$TRAPLINE" run --help 2>&1 | grep -q -- '--profile'; then
    skip "running the workloads under their profiles: 'trapline run' has no --profile option this script knows"
else
    for w in "${traces[@]}"; do
        p="$OUT/profiles/$w-$driver.json"
        case $w in
            nvidia-smi) cmd=(nvidia-smi) ;;
            pytorch-matmul) cmd=(python3 "$prog") ;;
        esac
        if [ ! -s "$p" ]; then
            skip "running $w under its profile: no profile"
        elif run_step "run-$w" 90 "$TRAPLINE" run --profile "$p" -- "${cmd[@]}"; then
            say "$w ran under its profile"
        else
            say "$w FAILED under its profile; auditing what the profile denies"
            run_step "audit-$w" 120 "$TRAPLINE" run --audit --profile "$p" \
                -o "$OUT/traces/$w-$driver-denied.json" -- "${cmd[@]}" || true
            grep -v '^gpu-check' "$OUT/logs/audit-$w.log" | grep -E 'audit|^  ' | head -n 20 | indent || true
        fi
    done
fi

# --- 5b. The same workloads under the notify backend -----------------------------------------------------------
# What the agent (a fleet's recorder) sees is what `--backend notify` sees: on a real driver it must name the same
# requests as ptrace does. Last before the summary, so the budget goes to the steps above first.
for w in "${traces[@]}"; do
    case $w in
        nvidia-smi) cmd=(nvidia-smi) secs=60 ;;
        pytorch-matmul) cmd=(python3 "$prog") secs=120 ;;
    esac
    run_step "record-$w-notify" "$secs" "$TRAPLINE" record -q --backend notify \
        -o "$OUT/traces/$w-$driver-notify.json" -- "${cmd[@]}" || true
done

# --- 6. Summary ---------------------------------------------------------------------------------------------
summary="$OUT/summary-$driver.txt"
if [ "${#traces[@]}" -eq 0 ]; then
    skip "summary: no traces were written"
elif ! command -v python3 >/dev/null; then
    skip "summary: python3 is not installed (the traces are in $OUT/traces)"
else
    files=()
    for w in "${traces[@]}"; do files+=("$OUT/traces/$w-$driver.json"); done
    timeout "$(limit 30)" python3 - "${files[@]}" >"$summary" <<'EOF' || say "summary failed"
import json, sys
from collections import defaultdict

for path in sys.argv[1:]:
    with open(path) as f:
        trace = json.load(f)
    runs = trace.get("runs") or [trace.get("run", {})]
    run = runs[0]
    totals = run.get("totals", {})
    gpu = run.get("gpu", {})
    print(f"== {path}")
    print(f"command: {' '.join(map(str, run.get('command', [])))}  exit: {run.get('exit')}  "
          f"complete: {run.get('complete')} {run.get('incomplete', '')}")
    print(f"syscalls: {totals.get('syscalls')}  classes: {totals.get('classes')}  "
          f"processes: {totals.get('processes')}  threads: {totals.get('threads')}")
    print(f"driver: {gpu.get('nvidia_driver')}  libraries: {', '.join(gpu.get('libraries', []))}")
    print(f"devices: {', '.join(gpu.get('devices', []))}")
    names = defaultdict(int)
    for c in trace["classes"]:
        names[c["syscall"]] += c["count"]
    print(f"distinct syscalls: {len(names)}")
    print("ioctl requests (request, name, device, family: calls, results):")
    by_req = defaultdict(lambda: {"count": 0, "ok": 0, "errors": defaultdict(int), "details": set()})
    for c in trace["classes"]:
        if c["syscall"] != "ioctl":
            continue
        req = next((a for a in c["args"] if a.get("index") == 1), {})
        fd = c.get("fd", {})
        key = (req.get("value", "?"), req.get("decoded", ""), fd.get("path", fd.get("kind", "?")), fd.get("family", ""))
        e = by_req[key]
        e["count"] += c["count"]
        res = c.get("results", {})
        e["ok"] += res.get("ok", 0)
        for k, v in res.get("errors", {}).items():
            e["errors"][k] += v
        for a in c["args"]:
            if a.get("index") is None:
                e["details"].add(f"{a['name']}={a.get('decoded') or a['value']}")
    for (value, name, dev, family), e in sorted(by_req.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        errs = " ".join(f"{k}:{v}" for k, v in sorted(e["errors"].items()))
        print(f"  {value:>12} {name:<36} {dev:<18} {family:<16} calls {e['count']:>6}  ok {e['ok']} {errs}")
        for d in sorted(e["details"]):
            print(f"  {'':>12}   {d}")
    mmaps = [c for c in trace["classes"] if c["syscall"] == "mmap" and c.get("fd", {}).get("kind") == "device"]
    if mmaps:
        print("device mmaps (device: prot, flags):")
        for c in mmaps:
            vals = {a["name"]: a.get("decoded") or a["value"] for a in c["args"]}
            print(f"  {c['fd'].get('path')}: {vals.get('prot')}, {vals.get('flags')}  calls {c['count']}")
    notify_path = path[: -len(".json")] + "-notify.json"
    try:
        with open(notify_path) as f:
            notify = json.load(f)
    except (OSError, ValueError):
        notify = None
    if notify is not None:
        def keys(t):
            return {(c["syscall"], tuple(a.get("value") for a in c["args"]), c.get("fd", {}).get("path", ""))
                    for c in t["classes"]}
        p, n = keys(trace), keys(notify)
        only = lambda a, b: sorted({k[0] + (" " + k[2] if k[2] else "") for k in a - b})
        print(f"notify backend ({notify_path}): {len(n)} classes, ptrace {len(p)}; "
              f"ioctl classes {sum(1 for k in n if k[0] == 'ioctl')} vs {sum(1 for k in p if k[0] == 'ioctl')}")
        print(f"  only under ptrace: {', '.join(only(p, n)[:12]) or '-'}")
        print(f"  only under notify: {', '.join(only(n, p)[:12]) or '-'}")
    print()
EOF
    cat "$summary"
fi

say "done in $((SECONDS - START))s; files:"
(cd "$OUT" && find . -type f | sort | sed 's/^\.\///' | indent)
