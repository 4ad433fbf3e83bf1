#!/usr/bin/env bash
# nvidia-userspace.sh DIR: NVIDIA's real userspace for the emulated GPU rig: Debian 12's non-free libcuda1,
# libnvidia-ml1 and nvidia-smi (driver branch 535), unpacked under DIR/root with dpkg-deb -x.
#
# Nothing is installed: apt runs with a scratch configuration under DIR (its own sources list, lists, cache
# and an empty status), so the system's apt state and sources are untouched. Prints DIR/root. Done once:
# a DIR that already holds the unpacked libraries is reused. Exit status 1, with one line, where the
# packages cannot be fetched (no network to deb.debian.org, say).
set -euo pipefail

dir=${1:?usage: nvidia-userspace.sh DIR}
root=$dir/root
# One fetch at a time into DIR (tests run in parallel): the others wait, then reuse it.
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
lib=$root/usr/lib/x86_64-linux-gnu/nvidia/current
if [ -e "$lib/libcuda.so.1" ] && [ -e "$root/usr/lib/nvidia/current/nvidia-smi" ]; then
    echo "$root"
    exit 0
fi
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs"
cat >"$dir/apt/sources.list" <<SOURCES
deb http://deb.debian.org/debian bookworm main non-free
deb http://deb.debian.org/debian-security bookworm-security main non-free
SOURCES
: >"$dir/apt/status"
apt=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache" -o "Dir::State::Status=$dir/apt/status"
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
if ! apt-get "${apt[@]}" -qq update >"$dir/apt.log" 2>&1 ||
    ! (cd "$dir/debs" && apt-get "${apt[@]}" -qq download libcuda1 libnvidia-ml1 nvidia-smi >>"$dir/apt.log" 2>&1); then
    echo "nvidia-userspace: cannot fetch libcuda1, libnvidia-ml1 and nvidia-smi from Debian non-free (see $dir/apt.log)" >&2
    exit 1
fi
rm -rf "$root.partial"
for deb in "$dir"/debs/*.deb; do
    dpkg-deb -x "$deb" "$root.partial"
done
rm -rf "$root"
mv "$root.partial" "$root"
echo "$root"
