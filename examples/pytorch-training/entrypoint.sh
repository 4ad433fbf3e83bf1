#!/bin/sh
# With RECORD=1 the job runs under `trapline record` (needs CAP_SYS_PTRACE and an unconfined seccomp profile
# for that run only) and leaves its trace in /out; otherwise it runs as is, under the pod's profile.
set -e
if [ "${RECORD:-0}" = 1 ]; then
  exec trapline record -o "/out/train-$(hostname).json" -- python /app/train.py "$@"
fi
exec python /app/train.py "$@"
