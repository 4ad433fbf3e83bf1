"""The serving benchmark: requests per second a server answers natively and while trapline records it.

Usage: serving.py TRAPLINE REQUESTS OUT_DIR. Starts bench/http_server.py on a free port on 127.0.0.1, bare and
under `trapline record` with each backend, sends REQUESTS requests over one keep-alive connection, and prints
requests/s and the ratio to native (target for ebpf: at least 0.9)."""
import http.client
import os
import socket
import subprocess
import sys
import time

trapline, requests, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_server.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rate(prefix):
    port = free_port()
    server = subprocess.Popen(prefix + [sys.executable, server_py, str(port)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/")
            conn.getresponse().read()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit(f"bench: the server did not start under {prefix}")
            time.sleep(0.05)
    start = time.perf_counter()
    for _ in range(requests):
        conn.request("GET", "/")
        conn.getresponse().read()
    elapsed = time.perf_counter() - start
    conn.request("GET", "/quit")
    conn.getresponse().read()
    conn.close()
    if server.wait(timeout=60) != 0:
        sys.exit(f"bench: the server under {prefix} exited with status {server.returncode}")
    return requests / elapsed


variants = [("native", [])] + [
    (backend, [trapline, "record", "-q", "--backend", backend, "-o", os.path.join(out, f"serve-{backend}.json"), "--"])
    for backend in ("ptrace", "notify", "ebpf")
]
rates = {name: max(rate(prefix) for _ in range(3)) for name, prefix in variants}
print(f"serving: {requests} requests over one keep-alive connection to a Python HTTP server (best of 3)")
for name, value in rates.items():
    print(f"  {name:<8}{value:>10.0f} requests/s{value / rates['native']:>8.2f}x native")
ebpf = rates["ebpf"] / rates["native"]
print(f"target ebpf >= 0.9x native: {'met' if ebpf >= 0.9 else 'NOT met'} ({ebpf:.2f})")
