#!/usr/bin/env bash
# A busybox container, end to end: record it through runc, profile it, run it under the profile, and show that
# a step outside the profile is denied. Needs root, runc and busybox-static.
#
#   TRAPLINE=path/to/trapline examples/busybox/run.sh [WORKDIR]
set -euo pipefail

T=$(realpath "${TRAPLINE:-target/release/trapline}")
W=$(realpath -m "${1:-$(mktemp -d)}")
mkdir -p "$W/bundle/rootfs/bin" "$W/bundle/rootfs/tmp"
cp /bin/busybox "$W/bundle/rootfs/bin/busybox"
cat > "$W/bundle/rootfs/app.sh" <<'SH'
busybox echo "model weights" > /tmp/weights.bin
busybox sha256sum /tmp/weights.bin | busybox cut -c1-16
busybox ls /tmp
if [ "${1:-}" = extra ]; then busybox nc -w 1 127.0.0.1 9 </dev/null; fi
SH
(cd "$W/bundle" && runc spec)
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"].update(terminal=False, args=["/bin/busybox", "sh", "/app.sh"])
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY

echo "== record the container through runc"
"$T" record -q --container -o "$W/app.json" -- runc run --bundle "$W/bundle" "busybox-example-$$"
echo "== profile it (no runtime list: the trace holds what runc does after loading the filter)"
"$T" profile "$W/app.json" --runtime none -o "$W/app.seccomp.json" --explain "$W/app.seccomp.md"
python3 - "$W/bundle/config.json" "$W/app.seccomp.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["seccomp"] = json.load(open(sys.argv[2]))
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
echo "== run it under the profile"
runc run --bundle "$W/bundle" "busybox-example-$$-confined"
echo "== a step the recording never made (a socket) is denied"
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/busybox", "sh", "/app.sh", "extra"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
if runc run --bundle "$W/bundle" "busybox-example-$$-extra"; then
  echo "the extra step was allowed: the profile is too wide" >&2
  exit 1
fi
echo "denied, as it should be; the profile and its explain report are in $W"
