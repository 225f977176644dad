#!/bin/bash
# Build the virtual device's image: Debian bookworm (amd64) with the firmware, its units and a
# recording configuration, as an ext4 disk plus the kernel and initrd to boot it with QEMU.
#
#   tools/vm/build-image.sh CACHE_DIR     ->  CACHE_DIR/<hash>/{disk.raw,vmlinuz,initrd.img,
#                                                               id_ed25519,build.log}
# The hash covers every input (this folder, systemd/, pyproject.toml, firmware/): an unchanged
# tree reuses the image built before. The path of the image folder is the last line printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:?usage: build-image.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

inputs() {
    cd "$repo"
    find tools/vm systemd firmware pyproject.toml -type f \
        ! -name '*.pyc' ! -path '*/__pycache__/*' ! -name '*.mo' | LC_ALL=C sort | xargs sha256sum
}
key=$(inputs | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/done" ]; then
    echo "image up to date (inputs $key)" >&2
    echo "$out"
    exit 0
fi

work="$cache/build-$key.$$"
rm -rf "$work"
mkdir -p "$work/stage"
trap 'rm -rf "$work"' EXIT
log="$work/build.log"
step() { echo "[build-image] $(date -u +%T) $*" >&2; }

step "wheelhouse for Python 3.11 (the firmware and its dependencies)"
python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
    echo "build-image.sh needs python3 = 3.11 on the host (bookworm's Python) to build wheels" >&2
    exit 1; }
python3 -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$work/stage/wheelhouse" \
    "$repo" >>"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }

step "ssh key for the host"
ssh-keygen -q -t ed25519 -N '' -C nvr-system-test -f "$work/id_ed25519"
cp "$work/id_ed25519.pub" "$work/stage/authorized_keys"
cp -r "$repo/systemd" "$work/stage/units"
cp "$here/provision.sh" "$here/chrony-synchronised" "$work/stage/"

# The host's own apt sources (the same mirror apt uses here), or mmdebstrap's default.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && grep -q '^[^#]' "$f" && sources+=("$f")
done

step "mmdebstrap bookworm (amd64)"
packages=$(grep -v '^#' "$here/guest-packages.txt" | paste -sd, -)
mmdebstrap --mode=root --variant=minbase --arch=amd64 --include="$packages" \
    --customize-hook='cp -a '"$work/stage"' "$1/root/vm-stage"' \
    --customize-hook='chroot "$1" sh /root/vm-stage/provision.sh' \
    --customize-hook='rm -rf "$1/root/vm-stage"' \
    bookworm "$work/root" "${sources[@]}" >>"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }

step "kernel, initrd and ext4 disk"
cp "$work"/root/boot/vmlinuz-* "$work/vmlinuz"
cp "$work"/root/boot/initrd.img-* "$work/initrd.img"
truncate -s 4G "$work/disk.raw"
mkfs.ext4 -q -L nvr-root -d "$work/root" "$work/disk.raw" >>"$log" 2>&1
rm -rf "$work/root" "$work/stage"

mv "$work" "$out"
trap - EXIT
touch "$out/done"
# Older images of this cache are left for other checkouts; remove the ones unused for 2 days.
find "$cache" -mindepth 1 -maxdepth 1 -type d -mtime +2 ! -path "$out" -exec rm -rf {} + || true
step "image ready: $out"
echo "$out"
