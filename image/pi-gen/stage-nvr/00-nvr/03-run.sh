#!/bin/bash -e
# pi-gen, on the build host: the staged folder leaves the root again, and the first user
# (FIRST_USER_NAME of pi-gen's config, image/build.sh) becomes the technisch beheerder's account
# (image/rootfs/overlay/usr/lib/nvr/nvr-first-user): no password at all (it logs in with an SSH
# key only, once the technisch beheerder enabled SSH: image/README.md, "SSH"), none of the
# groups pi-gen gave it (sudo, adm, video, gpio, ...), Raspberry Pi OS's
# /etc/sudoers.d/010_pi-nopasswd (NOPASSWD for everything) removed, and sudo for
# /usr/local/sbin/nvr-admin only. root keeps no password.
rm -rf "${ROOTFS_DIR}/root/nvr-stage"
on_chroot <<EOF
/usr/lib/nvr/nvr-first-user / "${FIRST_USER_NAME}"
EOF
