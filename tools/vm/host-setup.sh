#!/bin/sh
# What `make system-test` needs on the host: tools/vm/host-packages.txt. Says nothing when all
# is there; installs as root; otherwise prints the command and exits 1.
set -eu
cd "$(dirname "$0")"
missing=""
for cmd in mmdebstrap qemu-system-x86_64 qemu-img mkfs.ext4 ssh ssh-keygen cryptsetup debugfs \
           openssl; do
    command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "The system test needs$missing. As root: sh tools/vm/host-setup.sh" >&2
    exit 1
fi
echo "The system test needs$missing: installing tools/vm/host-packages.txt" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2046 # one word per package
apt-get install -y -qq -o DPkg::Lock::Timeout=600 $(grep -v '^#' host-packages.txt) >/dev/null
for cmd in $missing; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "Still missing after installing: $cmd" >&2; exit 1; }
done
