#!/bin/bash
# The recorder's Raspberry Pi image in one command (image/README.md, step by step):
#
#   sudo image/build.sh [OUT_DIR]        ->  OUT_DIR/nvr-<version>-arm64.img
#
# 1. checks the build host (root, arm64 binaries through binfmt qemu-aarch64, pi-gen's tools);
# 2. fetches pi-gen at a pinned bookworm arm64 release and checks its commit;
# 3. builds the wheelhouse: the firmware and every dependency as wheels for CPython 3.11 on
#    aarch64 (manylinux), downloaded for that platform, never built here;
# 4. writes pi-gen's config: stages 0, 1, 2 (Raspberry Pi OS Lite) and image/pi-gen/stage-nvr,
#    no stage 3 or later, pi-gen's own disk image export off;
# 5. runs pi-gen, whose stage-nvr runs image/rootfs/install.sh in the arm64 chroot;
# 6. assembles the disk from pi-gen's root tree with image/assemble-disk.sh (the A/B layout).
#
# Environment: NVR_UPDATE_KEYRING (the update CA certificate the devices trust; without it the
# image accepts no update bundle), NVR_IMAGE_WORK (work folder, default build/image; pi-gen
# needs some 10 GB there), NVR_FIRST_USER (the OS user that SSH keys are for, default beheer).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=$(realpath -m "${1:-$repo/build/image/out}")
work=$(realpath -m "${NVR_IMAGE_WORK:-$repo/build/image}")
first_user=${NVR_FIRST_USER:-beheer}

# pi-gen's release for Raspberry Pi OS bookworm arm64: the tag and the commit it must be.
PI_GEN_URL=https://github.com/RPi-Distro/pi-gen.git
PI_GEN_TAG=2026-06-18-raspios-bookworm-arm64
PI_GEN_COMMIT=d7a31c6aa09f4b867902c51da2b45807c0a1709e
# Wheels a Raspberry Pi OS bookworm (glibc 2.36, CPython 3.11, aarch64) can use.
PLATFORMS=(manylinux_2_36_aarch64 manylinux_2_28_aarch64 manylinux_2_17_aarch64
           manylinux2014_aarch64)

step() { echo "[image] $(date -u +%T) $*" >&2; }
die() { echo "image/build.sh: $*" >&2; exit 1; }

step "1. the build host"
[ "$(id -u)" = 0 ] || die "pi-gen must run as root (it mounts /proc and /dev in its chroot): sudo $0"
command -v git >/dev/null || die "git is missing (apt-get install git)"
# pi-gen runs arm64 programs in its chroot: natively on an arm64 host, else through the
# kernel's binfmt_misc handler for aarch64 (Debian: qemu-user-static and binfmt-support).
if [ "$(uname -m)" != aarch64 ] && ! [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    die "this host cannot run arm64 programs: install qemu-user-static and binfmt-support" \
        "(Debian), check /proc/sys/fs/binfmt_misc/qemu-aarch64, or build on an arm64 machine"
fi
for tool in sfdisk mkfs.vfat mcopy mkfs.ext4 python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: fdisk, dosfstools, mtools," \
        "e2fsprogs, python3)"
done
mkdir -p "$work" "$out"

step "2. pi-gen $PI_GEN_TAG"
pigen=$work/pi-gen
if ! [ -d "$pigen/.git" ]; then
    git clone --quiet --depth 1 --branch "$PI_GEN_TAG" "$PI_GEN_URL" "$pigen" \
        || die "cloning pi-gen from $PI_GEN_URL failed (GitHub must be reachable)"
fi
[ "$(git -C "$pigen" rev-parse HEAD)" = "$PI_GEN_COMMIT" ] \
    || die "pi-gen in $pigen is not $PI_GEN_COMMIT ($PI_GEN_TAG): remove it and build again"
# Raspberry Pi OS Lite only (stages 0-2) and pi-gen's own image export off: the disk is
# assembled in the A/B layout below.
touch "$pigen/stage2/SKIP_IMAGES"

step "3. the wheelhouse for CPython 3.11 on aarch64"
stage=$work/nvr-stage
rm -rf "$stage"
mkdir -p "$stage/wheelhouse"
python3 -m pip wheel --quiet --no-deps --wheel-dir "$stage/wheelhouse" "$repo"
platform_args=()
for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
# Binary wheels only: a dependency without an aarch64 wheel for CPython 3.11 stops the build
# here, named by pip, instead of being compiled on the device or under emulation.
python3 -m pip download --quiet --disable-pip-version-check --dest "$stage/wheelhouse" \
    --only-binary=:all: "${platform_args[@]}" --python-version 3.11 --implementation cp \
    --abi cp311 --abi abi3 --abi none --constraint "$here/pi-gen/constraints.txt" \
    "$stage"/wheelhouse/nvr_firmware-*.whl \
    || die "a dependency has no wheel for CPython 3.11 on aarch64 (pip says which, above)"

step "   the staged folder for image/rootfs/install.sh"
cp "$repo/image/rootfs/install.sh" "$stage/"
cp -r "$repo/systemd" "$stage/systemd"
cp -r "$repo/image/updates" "$stage/updates"
cp -r "$repo/image/rootfs/overlay" "$stage/overlay"
if [ -n "${NVR_UPDATE_KEYRING:-}" ]; then
    cp "$NVR_UPDATE_KEYRING" "$stage/keyring.pem"
else
    echo "image/build.sh: NVR_UPDATE_KEYRING is not set: this image will accept no update" \
         "bundle (image/updates/README.md, Keys)" >&2
fi

step "4. pi-gen's config"
version=$(cd "$repo" && python3 -c 'import firmware; print(firmware.__version__)')
cat > "$pigen/config" <<CONFIG
IMG_NAME=nvr-$version
RELEASE=bookworm
DEPLOY_COMPRESSION=none
STAGE_LIST="stage0 stage1 stage2 $repo/image/pi-gen/stage-nvr"
TARGET_HOSTNAME=nvr
LOCALE_DEFAULT=nl_NL.UTF-8
KEYBOARD_KEYMAP=us
KEYBOARD_LAYOUT="English (US)"
TIMEZONE_DEFAULT=Europe/Amsterdam
FIRST_USER_NAME=$first_user
# pi-gen wants a password when the first-boot user wizard is off; stage-nvr locks it (keys only).
FIRST_USER_PASS=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
DISABLE_FIRST_BOOT_USER_RENAME=1
ENABLE_SSH=0
export NVR_STAGE_DIR=$stage
CONFIG

step "5. pi-gen (hours under emulation; its log: $pigen/work/nvr-$version/build.log)"
(cd "$pigen" && ./build.sh -c config)

step "6. the disk (image/assemble-disk.sh)"
rootfs=$pigen/work/nvr-$version/stage-nvr/rootfs
[ -d "$rootfs/boot/firmware" ] || die "pi-gen left no root tree at $rootfs"
boot=$work/boot
rm -rf "$boot"
mkdir -p "$boot"
# The boot files go to partitions 2 and 3; in the root, /boot/firmware is only the mount point.
cp -a "$rootfs/boot/firmware/." "$boot/"
find "$rootfs/boot/firmware" -mindepth 1 -delete
bash "$repo/image/assemble-disk.sh" "$rootfs" "$boot" "$out/nvr-$version-arm64.img"
step "done: $out/nvr-$version-arm64.img (write it to the card or SSD: image/README.md)"
