#!/bin/bash
# The recorder's disk image from a root tree and a boot tree, in the partition layout of
# image/updates/README.md (MBR):
#
#   p1 NVRCONFIG  FAT32   64 MiB  autoboot.txt (both sections: partition 2)
#   p2 NVR_BOOT_A FAT32  512 MiB  BOOT_DIR, cmdline.txt with root=PARTUUID=<disk id>-05
#   p3 NVR_BOOT_B FAT32  512 MiB  BOOT_DIR, cmdline.txt with root=PARTUUID=<disk id>-06
#   p4 extended, to the end of the image
#   p5 NVR_ROOT_A ext4     4 GiB  ROOTFS_DIR
#   p6 NVR_ROOT_B ext4     4 GiB  the same file system (own label and UUID)
#   no p7: the data partition NVRDATA is made at first boot and grown to the end of the medium
#         (image/rootfs/overlay/usr/lib/nvr/nvr-storage-setup).
#
#   image/assemble-disk.sh ROOTFS_DIR BOOT_DIR OUT.img
#
# An unprivileged file operation: each file system is made in a file of its own (mkfs.vfat and
# mtools' mcopy, mkfs.ext4 -d), the table is written by sfdisk into OUT.img, and each file
# system is copied in at its offset with dd (conv=notrunc,sparse). No loop device, no mount.
# ROOTFS_DIR/boot/firmware should be empty: it is the mount point of the running boot slot.
# Sizes in MiB can be made smaller for tests: NVR_CONFIG_MIB, NVR_BOOT_MIB, NVR_ROOT_MIB.
set -euo pipefail
rootfs=${1:?usage: assemble-disk.sh ROOTFS_DIR BOOT_DIR OUT.img}
bootdir=${2:?usage: assemble-disk.sh ROOTFS_DIR BOOT_DIR OUT.img}
out=${3:?usage: assemble-disk.sh ROOTFS_DIR BOOT_DIR OUT.img}
config_mib=${NVR_CONFIG_MIB:-64}
boot_mib=${NVR_BOOT_MIB:-512}
root_mib=${NVR_ROOT_MIB:-4096}
export PATH="$PATH:/usr/sbin:/sbin"

for tool in sfdisk mkfs.vfat mcopy mkfs.ext4 tune2fs dd; do
    command -v "$tool" >/dev/null || {
        echo "assemble-disk.sh: $tool is missing (Debian: fdisk, dosfstools, mtools," \
             "e2fsprogs, coreutils)" >&2; exit 1; }
done
[ -d "$rootfs" ] || { echo "assemble-disk.sh: no root tree $rootfs" >&2; exit 1; }
[ -d "$bootdir" ] || { echo "assemble-disk.sh: no boot tree $bootdir" >&2; exit 1; }

work=$(mktemp -d "${out}.parts.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Offsets in MiB. Partitions start on 1 MiB boundaries; each logical partition is preceded by
# 1 MiB holding its extended boot record. The extended partition ends where the image ends,
# 1 MiB after p6, so first boot has room for p7's boot record once it has grown p4.
p1=4
p2=$((p1 + config_mib))
p3=$((p2 + boot_mib))
p4=$((p3 + boot_mib))
p5=$((p4 + 1))
p6=$((p5 + root_mib + 1))
end=$((p6 + root_mib + 1))
mib=2048    # 512-byte sectors per MiB
disk_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')

rm -f "$out"
truncate -s "${end}M" "$out"
sfdisk --quiet --no-reread --no-tell-kernel "$out" <<TABLE
label: dos
label-id: 0x$disk_id
unit: sectors

start=$((p1 * mib)), size=$((config_mib * mib)), type=c
start=$((p2 * mib)), size=$((boot_mib * mib)), type=c
start=$((p3 * mib)), size=$((boot_mib * mib)), type=c
start=$((p4 * mib)), size=$(((end - p4) * mib)), type=5
start=$((p5 * mib)), size=$((root_mib * mib)), type=83
start=$((p6 * mib)), size=$((root_mib * mib)), type=83
TABLE

# A FAT32 file system of $2 MiB labelled $3 in file $1. Below 256 MiB one sector per cluster
# keeps FAT32 possible (it needs at least 65525 clusters): partition 1 and the tests' sizes.
fat() {
    local small=()
    [ "$2" -lt 256 ] && small=(-s 1)
    truncate -s "${2}M" "$1"
    mkfs.vfat -F 32 "${small[@]}" -n "$3" "$1" >/dev/null
}

# Partition 1: which boot partition the Pi firmware starts (tryboot A/B, README.md).
fat "$work/config.vfat" "$config_mib" NVRCONFIG
printf '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n' \
    > "$work/autoboot.txt"
mcopy -i "$work/config.vfat" "$work/autoboot.txt" ::/autoboot.txt

# Partitions 2 and 3: the same boot files, each cmdline.txt naming its own root partition.
boot_slot() {   # file label root-partition-number
    fat "$1" "$boot_mib" "$2"
    if [ -n "$(ls -A "$bootdir")" ]; then
        mcopy -s -p -i "$1" "$bootdir"/* ::/
    fi
    local cmdline="console=serial0,115200 console=tty1 rootfstype=ext4 fsck.repair=yes rootwait"
    [ -f "$bootdir/cmdline.txt" ] && cmdline=$(head -n 1 "$bootdir/cmdline.txt")
    # Replace root=..., add it when missing; the root is mounted read-only under the overlay.
    cmdline=$(printf '%s\n' "$cmdline" | sed -E 's/(^| )root=[^ ]*//g; s/(^| )(ro|rw)( |$)/ /g')
    printf '%s root=PARTUUID=%s-%02d ro\n' "$cmdline" "$disk_id" "$3" | sed 's/^ *//' \
        > "$work/cmdline.txt"
    mcopy -o -i "$1" "$work/cmdline.txt" ::/cmdline.txt
}
boot_slot "$work/boot-a.vfat" NVR_BOOT_A 5
boot_slot "$work/boot-b.vfat" NVR_BOOT_B 6

# Partitions 5 and 6: slot B is a copy of slot A with its own label and UUID.
mkfs.ext4 -q -L NVR_ROOT_A -E assume_storage_prezeroed=1 -d "$rootfs" "$work/root-a.ext4" \
    "${root_mib}M" >/dev/null
cp --sparse=always "$work/root-a.ext4" "$work/root-b.ext4"
tune2fs -L NVR_ROOT_B -U random "$work/root-b.ext4" >/dev/null

put() {   # file start-MiB
    dd if="$1" of="$out" bs=1M seek="$2" conv=notrunc,sparse status=none
    rm -f "$1"
}
put "$work/config.vfat" "$p1"
put "$work/boot-a.vfat" "$p2"
put "$work/boot-b.vfat" "$p3"
put "$work/root-a.ext4" "$p5"
put "$work/root-b.ext4" "$p6"
echo "assemble-disk.sh: $out (disk id $disk_id, ${end} MiB)"
