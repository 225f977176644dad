#!/bin/sh
# Build a signed RAUC update bundle (verity format) of a root filesystem image.
#
#   image/updates/make-bundle.sh ROOTFS_IMAGE VERSION OUT
#
# ROOTFS_IMAGE  an ext4 image of the root filesystem (the image build's rootfs.ext4)
# VERSION       the firmware version inside it, e.g. 0.2.0 (nvr update check refuses a bundle
#               older than the running firmware)
# OUT           the bundle to write; its name must end in .raucb
#
# The key and certificate come from the environment, never from the repository:
#   NVR_UPDATE_CERT   signing certificate (PEM), issued by the CA whose certificate the device
#                     has as its keyring (/etc/rauc/keyring.pem)
#   NVR_UPDATE_KEY    its private key: a PEM file or a PKCS#11 URL (a hardware token); a
#                     passphrase, if any, in RAUC_KEY_PASSPHRASE
#   NVR_UPDATE_KEYRING  optional: the CA certificate, to check the signature right after signing
#   NVR_COMPATIBLE    optional: the compatible string (default: the one in system.conf beside
#                     this script, which is the device's)
# For development: eval "$(image/updates/dev-ca.sh --env DIR)" is NOT offered on purpose; run
# dev-ca.sh DIR and point the variables at DIR's files (README.md, "Development keys").
set -eu
[ $# -eq 3 ] || { echo "usage: $0 ROOTFS_IMAGE VERSION OUT.raucb" >&2; exit 2; }
rootfs=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
: "${NVR_UPDATE_CERT:?set NVR_UPDATE_CERT to the signing certificate (PEM)}"
: "${NVR_UPDATE_KEY:?set NVR_UPDATE_KEY to the signing key (PEM file or PKCS#11 URL)}"
[ -f "$rootfs" ] || { echo "$0: no root filesystem image at $rootfs" >&2; exit 1; }
case $out in *.raucb) ;; *) echo "$0: $out: a bundle's name ends in .raucb" >&2; exit 2;; esac
case $version in
    *[!0-9.]*|.*|*.|*..*|'') echo "$0: version $version is not like 1.2.3" >&2; exit 2;;
esac
compatible=${NVR_COMPATIBLE:-$(sed -n 's/^compatible=//p' "$here/system.conf")}
[ -n "$compatible" ] || { echo "$0: no compatible string in $here/system.conf" >&2; exit 1; }
[ ! -e "$out" ] || { echo "$0: $out exists; remove it or choose another name" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/content"
# A hard link when possible: the rootfs image can be large.
ln "$rootfs" "$work/content/rootfs.ext4" 2>/dev/null || cp "$rootfs" "$work/content/rootfs.ext4"
cat > "$work/content/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$version
description=nvr firmware $version

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MANIFEST
set -- --cert="$NVR_UPDATE_CERT" --key="$NVR_UPDATE_KEY"
[ -z "${NVR_UPDATE_KEYRING:-}" ] || set -- "$@" --keyring="$NVR_UPDATE_KEYRING"
rauc bundle "$@" "$work/content" "$out"
echo "$out: nvr $version for $compatible, sha256 $(sha256sum "$out" | cut -d' ' -f1)"
