#!/bin/bash -e
# pi-gen, on the build host: the staged folder leaves the root again, and the first user
# (FIRST_USER_NAME of pi-gen's config, image/build.sh) gets no password at all: it logs in with
# an SSH key only, once the technisch beheerder enabled SSH (image/README.md, "SSH").
rm -rf "${ROOTFS_DIR}/root/nvr-stage"
on_chroot <<EOF
passwd -l "${FIRST_USER_NAME}"
EOF
