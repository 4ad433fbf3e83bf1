#!/usr/bin/env bash
# demo.sh: trapline's main job on real examples, end to end.
#
#   1. record a shell pipeline (three processes, pipes, ioctls) into a Trace
#   2. turn it into a seccomp profile, with its explain report, and lint it
#   3. run the same pipeline under the profile (enforcing), then audit a command that does more
#   4. a container: record a busybox workload, profile it for runc, run it with runc under the profile
#   5. a GPU workload on the emulated GPU rig (/dev/zero standing in for /dev/nvidia*), if the fixture exists
#
# Outputs go to target/demo/ (DEMO_DIR to change it). Needs root for runc and the rig (mount namespaces); steps that cannot run say why.
set -euo pipefail
cd "$(dirname "$0")/.."

T=$(realpath "${TRAPLINE:-target/release/trapline}")
D=${DEMO_DIR:-target/demo}
rm -rf "$D" && mkdir -p "$D"
step() { printf '\n==> %s\n' "$*"; }

PIPELINE="tar -cf - -C /usr/share/doc busybox-static | gzip -c > $D/doc.tar.gz; ls -l $D/doc.tar.gz"

step "1. record: sh -c '$PIPELINE'"
"$T" record -o "$D/pipeline.json" -- sh -c "$PIPELINE"

step "2. profile (runtime none: this runs on the host), explain, lint"
"$T" profile "$D/pipeline.json" --runtime none -o "$D/pipeline.profile.json" --explain "$D/pipeline.profile.md"
echo "$D/pipeline.profile.json: $(grep -c '"SCMP_ACT' "$D/pipeline.profile.json") entries; why each is there: $D/pipeline.profile.md"
"$T" lint --runtime none "$D/pipeline.profile.json" && echo "lint: no findings"

step "3. run the pipeline under its profile (enforcing), then audit python3 against it"
"$T" run --profile "$D/pipeline.profile.json" -- sh -c "$PIPELINE"
"$T" run --profile "$D/pipeline.profile.json" --audit -- /usr/bin/python3 -S -c 'import socket; socket.socket()' 2>&1 |
  head -12

step "4. a container under runc"
if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null || [ ! -x /bin/busybox ]; then
  echo "skipped: needs root, runc and busybox-static (make deps)"
else
  B=$(realpath "$D")/bundle
  mkdir -p "$B/rootfs/bin" "$B/rootfs/tmp"
  cp /bin/busybox "$B/rootfs/bin/busybox"
  cat > "$B/rootfs/workload.sh" <<'SH'
busybox mkdir -p /tmp/demo && busybox echo "written in the container" > /tmp/demo/file
busybox cat /tmp/demo/file && busybox ls /tmp/demo
busybox nc -w 1 127.0.0.1 9 </dev/null 2>/dev/null; busybox echo "socket step done"
SH
  (cd "$B" && runc spec)
  python3 - "$B" <<'PY'
import json, sys
path = sys.argv[1] + "/config.json"
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/busybox", "sh", "/workload.sh"]
c["root"]["readonly"] = False
json.dump(c, open(path, "w"), indent=2)
PY
  # Recorded through runc: what the container does from its filter load on, runc's last steps included, so the
  # profile needs no runtime list.
  "$T" record -q --container -o "$D/container.json" -- runc run --bundle "$B" "trapline-demo-rec-$$"
  "$T" profile "$D/container.json" --runtime none -o "$D/container.profile.json" --explain "$D/container.profile.md"
  python3 - "$B" "$D/container.profile.json" <<'PY'
import json, sys
path = sys.argv[1] + "/config.json"
c = json.load(open(path))
c["linux"]["seccomp"] = json.load(open(sys.argv[2]))
json.dump(c, open(path, "w"), indent=2)
PY
  id="trapline-demo-$$"
  runc run --bundle "$B" "$id" && echo "runc: the container ran under its generated profile"
  runc delete -f "$id" 2>/dev/null || true
fi

step "5. a CUDA-style initialisation on the emulated GPU rig"
if [ "$(id -u)" -ne 0 ] || [ ! -f tests/fixtures/cuda_init.c ]; then
  echo "skipped: needs root and tests/fixtures/cuda_init.c"
else
  cc -O1 -pthread -o "$D/cuda_init" tests/fixtures/cuda_init.c
  scripts/gpu-rig.sh "$T" record -q -o "$D/gpu.json" -- "$D/cuda_init" >/dev/null
  "$T" profile "$D/gpu.json" --runtime none -o "$D/gpu.profile.json" --explain "$D/gpu.profile.md"
  sed -n '/## ioctl requests by device/,$p' "$D/gpu.profile.md" | head -30
fi

printf '\nAll outputs are in %s/.\n' "$D"
