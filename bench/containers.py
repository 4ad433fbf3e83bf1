"""The container benchmark: what recording through `trapline runtime` costs a Docker container.

Usage: containers.py TRAPLINE LOOP_STATIC N OUT_DIR. Starts a dockerd of its own (its own data root, exec root
and socket under OUT_DIR, no networking, the vfs driver) with trapline's runtime in daemon.json's `runtimes`,
imports an image holding only LOOP_STATIC (bench/getppid_loop.c, built -static), and measures, as ratios to
runc in the same run:

- start latency: `docker run --rm` of the loop with 0 iterations, median of RUNS;
- the getppid loop of N calls inside the container, best of RUNS, and what each call costs beyond the start;
- the same through trapline with `--security-opt seccomp=unconfined`, where trapline gives the container a
  permissive filter of its own and need not follow it through Docker's.

Prints a skip line and exits 0 where Docker is not installed or this is not root."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

trapline, loop, n, out = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
RUNS = int(os.environ.get("RUNS", "5"))
for tool in ("docker", "dockerd", "containerd", "runc"):
    if not shutil.which(tool):
        print(f"containers: skipped: {tool} is not installed (make deps)")
        sys.exit(0)
if os.geteuid() != 0:
    print("containers: skipped: starting dockerd needs root")
    sys.exit(0)

root = os.path.join(out, "dockerd")
os.makedirs(root, exist_ok=True)
socket = os.path.join(root, "docker.sock")
traces = os.path.join(root, "traces")
config = os.path.join(root, "daemon.json")
runtime = {"path": trapline, "runtimeArgs": ["runtime", "--out", traces, "--runc", shutil.which("runc")]}
with open(config, "w") as f:
    json.dump({"runtimes": {"trapline": runtime}}, f)
log = open(os.path.join(root, "dockerd.log"), "w")
daemon = subprocess.Popen(
    ["dockerd", "--config-file", config, "--iptables=false", "--ip6tables=false", "--bridge=none",
     "--storage-driver=vfs", "--data-root", os.path.join(root, "data"), "--exec-root", os.path.join(root, "exec"),
     "--pidfile", os.path.join(root, "dockerd.pid"), "-H", f"unix://{socket}"],
    stdout=log, stderr=log)


def docker(*args, check=True):
    p = subprocess.run(["docker", "-H", f"unix://{socket}", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"bench: docker {' '.join(args)}: {p.stderr.strip()}")
    return p


try:
    deadline = time.monotonic() + 60
    while docker("version", check=False).returncode != 0:
        if time.monotonic() > deadline or daemon.poll() is not None:
            sys.exit(f"bench: dockerd did not start; see {root}/dockerd.log")
        time.sleep(0.2)
    layer = os.path.join(root, "layer.tar")
    with tarfile.open(layer, "w") as tar:
        tar.add(loop, arcname="loop")
    docker("import", layer, "trapline-bench")

    def timed(runtime, options, iterations):
        start = time.perf_counter()
        docker("run", "--rm", "--network", "none", "--runtime", runtime, *options, "trapline-bench", "/loop",
               str(iterations))
        return time.perf_counter() - start

    unconfined = ("--security-opt", "seccomp=unconfined")
    results = {}
    for name, runtime, options in (("runc", "runc", ()), ("trapline", "trapline", ()),
                                   ("unconfined", "trapline", unconfined)):
        timed(runtime, options, 0)  # the first start pays for caches
        starts = [timed(runtime, options, 0) for _ in range(RUNS)]
        loops = [timed(runtime, options, n) for _ in range(RUNS)]
        results[name] = (statistics.median(starts), min(loops))
    (runc_start, runc_loop), (tl_start, tl_loop) = results["runc"], results["trapline"]
    un_start, un_loop = results["unconfined"]
    written = len(os.listdir(traces)) if os.path.isdir(traces) else 0
    print(f"containers: Docker {docker('version', '-f', '{{.Server.Version}}').stdout.strip()}, "
          f"runc vs trapline runtime, {RUNS} runs each ({written} traces written)")
    print(f"  start latency (median)      runc {runc_start:.3f}s   trapline {tl_start:.3f}s   "
          f"{tl_start / runc_start:.2f}x")
    print(f"  getppid x{n} (best)     runc {runc_loop:.3f}s   trapline {tl_loop:.3f}s   {tl_loop / runc_loop:.2f}x")
    per_call = lambda total, start: max(total - start, 0.0) / n * 1e6
    print(f"  per call beyond the start   runc {per_call(runc_loop, runc_start):.3f}us   trapline "
          f"{per_call(tl_loop, tl_start):.3f}us (the container's own seccomp filter makes the tracer stop at every "
          f"entry and exit)")
    print(f"  seccomp=unconfined          trapline {un_loop:.3f}s for the loop, {un_loop / runc_loop:.2f}x runc, "
          f"{per_call(un_loop, un_start):.3f}us per call (trapline's permissive filter: no entry stops)")
finally:
    for container in docker("ps", "-aq", check=False).stdout.split():
        docker("rm", "-f", container, check=False)
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
    subprocess.run(["umount", "-R", "-l", os.path.join(root, "exec")], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
