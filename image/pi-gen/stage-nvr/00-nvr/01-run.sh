#!/bin/bash -e
# pi-gen, on the build host: the staged folder image/build.sh prepared (NVR_STAGE_DIR, set in
# pi-gen's config: install.sh, wheelhouse for cp311 aarch64, systemd/, updates/, overlay/,
# keyring.pem) copied into the root for 02-run-chroot.sh.
: "${NVR_STAGE_DIR:?NVR_STAGE_DIR is not set: run this stage through image/build.sh}"
rm -rf "${ROOTFS_DIR}/root/nvr-stage"
cp -a "${NVR_STAGE_DIR}" "${ROOTFS_DIR}/root/nvr-stage"
