#!/usr/bin/env bash
# torch-rootfs.sh DIR: a root filesystem with CPU PyTorch from Debian 12's packages (python3-torch 1.13.1),
# built with debootstrap from deb.debian.org, no container registry needed. The examples' files go into
# DIR/app. Import it with `tar -C DIR -c . | docker import - NAME`: the CPU stand-in of the examples' images
# (which start from pytorch/pytorch on Docker Hub, with CUDA), to record, profile and enforce them end to end
# on a machine that cannot reach a registry. Done once: a DIR that already holds torch is reused. Needs root
# and debootstrap (`make deps`).
set -euo pipefail

dir=${1:?usage: torch-rootfs.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ ! -d "$dir/usr/lib/python3/dist-packages/torch" ]; then
    rm -rf "$dir.partial"
    debootstrap --variant=minbase --include=python3-torch bookworm "$dir.partial" http://deb.debian.org/debian \
        >"$dir.log" 2>&1 || { echo "torch-rootfs: debootstrap failed (see $dir.log)" >&2; exit 1; }
    # What a container image does not need: apt's caches.
    rm -rf "$dir.partial/var/cache/apt/archives"/*.deb "$dir.partial/var/lib/apt/lists"/*
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
fi
mkdir -p "$dir/app"
cp "$here/model-serving/serve.py" "$here/pytorch-training/train.py" "$dir/app/"
echo "$dir"
