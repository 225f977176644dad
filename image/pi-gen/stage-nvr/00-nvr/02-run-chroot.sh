#!/bin/bash -e
# pi-gen, in the arm64 chroot: the recorder's part of the root (image/rootfs/install.sh, the same
# script the virtual device runs), then what only a Raspberry Pi OS image needs.

# pi-gen builds with update_initramfs=no and sets it back in its export stage, which this image
# does not use (image/build.sh assembles the disk): the overlayroot hook must reach the
# initramfs the firmware loads (auto_initramfs=1 copies it to /boot/firmware).
sed -i 's/^update_initramfs=.*/update_initramfs=yes/' /etc/initramfs-tools/update-initramfs.conf

sh /root/nvr-stage/install.sh /root/nvr-stage

# Raspberry Pi OS's first-boot helpers would undo the layout: the firstboot init grows the last
# partition and resize2fs_once the root (both fixed-size slots here: the data partition is
# grown by nvr-storage-setup); regenerate_ssh_host_keys writes keys into the read-only root
# (they live on the data partition).
sed -i -e 's# init=/usr/lib/raspberrypi-sys-mods/firstboot##' -e 's# quiet##' \
	/boot/firmware/cmdline.txt
systemctl disable resize2fs_once regenerate_ssh_host_keys 2>/dev/null || true
systemctl mask resize2fs_once regenerate_ssh_host_keys 2>/dev/null || true
