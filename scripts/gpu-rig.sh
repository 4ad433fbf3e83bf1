#!/usr/bin/env bash
# gpu-rig.sh: run a command where GPU device nodes exist but no GPU does (the emulated GPU rig).
#
#   scripts/gpu-rig.sh CMD [ARGS...]
#
# CMD runs in a private mount namespace (unshare -m) whose /dev is a fresh tmpfs holding the usual nodes (null,
# zero, full, random, urandom, tty, pts, shm, the fd/stdin/stdout/stderr links) plus /dev/nvidiactl,
# /dev/nvidia0, /dev/nvidia-uvm and /dev/kfd, each a bind mount of /dev/zero. On those, open works, every
# ioctl fails with ENOTTY (the "device" answered: not EPERM, which is what a seccomp denial looks like) and
# mmap works, including MAP_SHARED|MAP_FIXED at offset == address as UVM does. trapline sees the paths, so
# it decodes the requests by device family exactly as on a GPU machine. /proc/driver/nvidia/{version,params} and
# /dev/char/195:N links make NVIDIA's real userspace go as far as its first requests. Nothing on the host changes: the
# host's /dev is never written to, and every mount lives and dies with the namespace.
#
# Needs root (or CAP_SYS_ADMIN) and util-linux unshare. The exit status is CMD's; 2 for a usage error, 125
# when the rig itself cannot be set up. See docs/gpu.md.
set -euo pipefail

INSIDE=__trapline_gpu_rig_inside__
NODES=(nvidiactl nvidia0 nvidia-uvm kfd)

die() {
    echo "gpu-rig: $*" >&2
    exit 125
}

if [ "${1-}" != "$INSIDE" ]; then
    if [ "$#" -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
    fi
    [ "$(id -u)" -eq 0 ] || die "needs root (it mounts a private /dev in a new mount namespace)"
    command -v unshare >/dev/null || die "unshare (util-linux) not found"
    # --propagation private is unshare's default; say it anyway: no mount made below may reach the host.
    exec unshare --mount --propagation private -- "$0" "$INSIDE" "$@"
fi
shift
[ "$#" -gt 0 ] || die "no command"

# Belt and braces: nothing mounted here propagates to the host's namespace, whatever unshare did.
mount --make-rprivate / || die "cannot make / private in the new mount namespace"

# Keep a handle on the real /dev before covering it. The directory is created on the host's /tmp (the
# namespace shares the filesystem) and removed again before CMD starts.
saved=$(mktemp -d /tmp/trapline-gpu-rig.XXXXXX) || die "mktemp failed"
mount --rbind /dev "$saved" || die "cannot bind the real /dev to $saved"

mount -t tmpfs -o mode=755,size=1m trapline-gpu-rig /dev || die "cannot mount a tmpfs on /dev"

bind_node() { # bind_node SOURCE TARGET: a bind mount needs an existing target, so create an empty file first
    touch "$2" || die "cannot create $2"
    mount --bind "$1" "$2" || die "cannot bind $1 to $2"
}

for node in null zero full random urandom tty; do
    if [ -e "$saved/$node" ]; then
        bind_node "$saved/$node" "/dev/$node"
    fi
done
for dir in pts shm; do
    mkdir -p "/dev/$dir"
    if [ -d "$saved/$dir" ]; then
        mount --rbind "$saved/$dir" "/dev/$dir" || die "cannot bind $saved/$dir to /dev/$dir"
    fi
done
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s pts/ptmx /dev/ptmx

# The emulated GPU: /dev/zero under the names the NVIDIA and AMD drivers use.
for node in "${NODES[@]}"; do
    bind_node /dev/zero "/dev/$node"
done

# What NVIDIA's userspace (libcuda, NVML) checks before it opens the nodes: the driver's /proc files, and
# /dev/char/195:N links to them (the device numbers it expects; with ModifyDeviceFiles 0 it trusts the links
# rather than create nodes itself). With them, a real libcuda opens /dev/nvidiactl and makes its first
# requests, which fail with ENOTTY, as no driver answers.
mkdir -p /dev/char
ln -s ../nvidiactl /dev/char/195:255
ln -s ../nvidia0 /dev/char/195:0
if [ -d /proc/driver ]; then
    mount -t tmpfs -o mode=755,size=64k trapline-gpu-rig /proc/driver || die "cannot mount a tmpfs on /proc/driver"
    mkdir -p /proc/driver/nvidia/gpus
    printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.309.01  (emulated by trapline gpu-rig)\n' \
        >/proc/driver/nvidia/version
    printf 'ModifyDeviceFiles: 0\nDeviceFileUID: 0\nDeviceFileGID: 0\nDeviceFileMode: 438\n' \
        >/proc/driver/nvidia/params
fi

# The nodes above hold their own mounts; the saved /dev is no longer needed.
umount --recursive --lazy "$saved" || die "cannot unmount $saved"
rmdir "$saved" || true

exec "$@"
