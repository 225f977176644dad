#!/bin/bash
# Build the virtual device's image: Debian bookworm (amd64) with the firmware, its units and a
# recording configuration, in the recorder's partition layout (image/assemble-disk.sh: config,
# boot A/B, root A/B; the data partition is made at first boot), plus the kernel and initrd to
# boot it with QEMU. The root is made by the same image/rootfs/install.sh as the Pi's image.
#
#   tools/vm/build-image.sh CACHE_DIR  ->  CACHE_DIR/<hash>/{disk.raw,vmlinuz,initrd.img,id_ed25519}
#
# Two layers, each cached by the hash of its inputs:
#   base-<hash>.tar  mmdebstrap with guest-packages.txt and provision-system.sh (BASE_RECIPE, the
#                    package list and the system settings: rebuilt rarely);
#   <hash>/          the base unpacked, plus image/rootfs/install.sh (the firmware's wheels,
#                    systemd/, image/updates/, image/rootfs/overlay/) and the configuration
#                    (provision.sh), assembled into a disk: rebuilt whenever firmware/,
#                    systemd/, image/rootfs/, image/updates/, image/assemble-disk.sh or
#                    pyproject.toml change.
# The path of the image folder is the last line printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:?usage: build-image.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
step() { echo "[build-image] $(date -u +%T) $*" >&2; }

hash_of() { (cd "$repo" && find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
    ! -name '*.mo' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16); }
# Bump BASE_RECIPE when the mmdebstrap command below changes (the base's other inputs are files).
BASE_RECIPE=1
base_key=$( (echo "$BASE_RECIPE"; hash_of tools/vm/guest-packages.txt \
    tools/vm/provision-system.sh tools/vm/chrony-synchronised) | sha256sum | cut -c1-16)
key=$(hash_of tools/vm systemd firmware pyproject.toml image/rootfs image/updates \
    image/assemble-disk.sh)
base="$cache/base-$base_key.tar"
out="$cache/$key"
if [ -f "$out/done" ]; then
    touch "$out" "$base" 2>/dev/null || true            # in use: kept by the clean-up below
    step "image up to date (inputs $key)"
    echo "$out"
    exit 0
fi

work="$cache/build-$key.$$"
rm -rf "$work"
mkdir -p "$work/stage"
trap 'rm -rf "$work"' EXIT
log="$work/build.log"
failed() { echo "build-image.sh: $1 failed; the end of its log ($log, kept):" >&2
           tail -40 "$log" >&2; trap - EXIT; exit 1; }

if [ ! -f "$base" ]; then
    # The host's own apt sources (the mirror apt uses here), or mmdebstrap's default.
    sources=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        [ -s "$f" ] && grep -q '^[^#]' "$f" && sources+=("$f")
    done
    step "base layer: mmdebstrap bookworm (amd64), guest-packages.txt"
    mkdir -p "$work/base-stage"
    cp "$here/provision-system.sh" "$here/chrony-synchronised" "$work/base-stage/"
    packages=$(grep -v '^#' "$here/guest-packages.txt" | paste -sd, -)
    mmdebstrap --mode=root --variant=minbase --arch=amd64 --include="$packages" \
        --customize-hook='cp -a '"$work/base-stage"' "$1/root/vm-stage"' \
        --customize-hook='chroot "$1" sh /root/vm-stage/provision-system.sh' \
        --customize-hook='rm -rf "$1/root/vm-stage"' \
        bookworm "$work/base.tar" "${sources[@]}" >>"$log" 2>&1 || failed mmdebstrap
    mv "$work/base.tar" "$base"
else
    step "base layer cached ($base_key)"
fi

step "wheelhouse for Python 3.11 (the firmware and its dependencies)"
python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
    echo "build-image.sh needs python3 = 3.11 on the host (bookworm's Python) to build the" \
         "guest's wheels; it has $(python3 --version)" >&2; exit 1; }
python3 -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$work/stage/wheelhouse" \
    "$repo" >>"$log" 2>&1 || failed "pip wheel"

step "firmware layer: image/rootfs/install.sh, configuration, ssh key (provision.sh, chrooted)"
ssh-keygen -q -t ed25519 -N '' -C nvr-system-test -f "$work/id_ed25519"
cp "$work/id_ed25519.pub" "$work/stage/authorized_keys"
cp -r "$repo/systemd" "$work/stage/systemd"
cp -r "$repo/image/updates" "$work/stage/updates"
cp -r "$repo/image/rootfs/overlay" "$work/stage/overlay"
cp "$repo/image/rootfs/install.sh" "$here/provision.sh" "$work/stage/"
# A development update CA for this image (its keys are thrown away with the build folder): the
# device's keyring, as image/build.sh installs the supplier's.
sh "$repo/image/updates/dev-ca.sh" "$work/ca" "nvr virtual device" >>"$log" 2>&1 \
    || failed dev-ca.sh
cp "$work/ca/ca.cert.pem" "$work/stage/keyring.pem"
mkdir "$work/root"
tar -C "$work/root" --numeric-owner --xattrs -xpf "$base"
cp -a "$work/stage" "$work/root/root/vm-stage"
# A private mount namespace: /proc and /dev for the chroot vanish with it, whatever happens.
unshare --mount --fork sh -c 'mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
    chroot "$1" sh /root/vm-stage/provision.sh' sh "$work/root" >>"$log" 2>&1 \
    || failed provision.sh
rm -rf "$work/root/root/vm-stage"

step "kernel, initrd and the disk (image/assemble-disk.sh)"
cp "$work"/root/boot/vmlinuz-* "$work/vmlinuz"
cp "$work"/root/boot/initrd.img-* "$work/initrd.img"
# QEMU starts the kernel itself (-kernel/-initrd): the boot partitions are in the layout but
# hold only cmdline.txt here (no Pi firmware reads them).
mkdir "$work/boot"
bash "$repo/image/assemble-disk.sh" "$work/root" "$work/boot" "$work/disk.raw" >>"$log" 2>&1 \
    || failed assemble-disk.sh
# 16 GB, sparse, as the medium the image is written to: the first boot grows partition 4 and
# makes the data partition 7 to its end. Footage goes to a second disk (systemtest/vm.py).
truncate -s 16G "$work/disk.raw"
rm -rf "${work:?}/root" "$work/stage" "$work/base-stage" "${work:?}/boot" "$work/ca"

touch "$work/done"
if ! mv -T "$work" "$out" 2>/dev/null; then        # another checkout built the same inputs
    step "the same image was built meanwhile by another run: using that one"
fi
# Images and bases of this cache unused for two days are removed (other checkouts share it).
find "$cache" -mindepth 1 -maxdepth 1 -mtime +2 ! -path "$out" ! -path "$base" \
    -exec rm -rf {} + || true
step "image ready: $out"
echo "$out"
