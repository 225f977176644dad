#!/bin/sh
# The base layer of the image: runs inside it while mmdebstrap builds it (customize hook,
# chrooted), from /root/vm-stage. Nothing here depends on the firmware (provision.sh does that).
set -eu
stage=/root/vm-stage

echo "--- the system: DHCP on the QEMU network, chrony"
echo nvr-vm > /etc/hostname
printf '127.0.1.1\tnvr-vm\n' >> /etc/hosts
# /etc/fstab and ssh: image/rootfs/ (the read-only root on partition 5; ssh off unless
# turned on, which tools/vm/provision.sh does for the tests).
mkdir -p /etc/systemd/network
printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' > /etc/systemd/network/10-vm.network
systemctl enable systemd-networkd chrony
# No time server reaches the VM (QEMU's network is restricted to the host's port forward): the
# guest's clock comes from QEMU's RTC, i.e. the host's synchronised clock, and chrony takes it
# as a local reference (leap status normal; the kernel's flag stays unsynchronised).
sed -i -e '/^pool /d' -e '/^server /d' -e '/^sourcedir /d' /etc/chrony/chrony.conf
printf 'local stratum 8\n' >> /etc/chrony/chrony.conf
# The clock seam's answer for the nvr units (their drop-ins are written by provision.sh).
install -m 0755 "$stage/chrony-synchronised" /usr/local/bin/nvr-chrony-synchronised
