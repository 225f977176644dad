#!/bin/sh
# Runs inside the image while it is built (mmdebstrap customize hook, chrooted), from the staged
# folder /root/vm-stage: wheelhouse/, units/ (the repository's systemd/), authorized_keys.
set -eu
stage=/root/vm-stage

echo "--- the firmware: /opt/nvr, from the wheelhouse, no network"
# The host's pip settings (PIP_* variables, its find-links and constraints) mean nothing here.
for v in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null
python3 -m venv /opt/nvr
/opt/nvr/bin/pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$stage/wheelhouse" nvr-firmware
ln -sf /opt/nvr/bin/nvr /usr/local/bin/nvr

echo "--- the units, as systemd/ holds them"
# *.service/.timer/.socket/.path -> /etc/systemd/system; sysusers.d and tmpfiles.d entries (a
# folder of that name or a file named *sysusers*.conf / *tmpfiles*.conf) -> /usr/lib/...;
# *.rules -> /etc/udev/rules.d; anything else is reported, not guessed at.
units=""
for f in $(cd "$stage/units" && find . -type f | sort); do
    name=$(basename "$f")
    case "$f" in
        *.service|*.timer|*.socket|*.path|*.target)
            install -m 0644 "$stage/units/$f" /etc/systemd/system/
            units="$units $name" ;;
        *sysusers*.conf) install -D -m 0644 "$stage/units/$f" "/usr/lib/sysusers.d/$name" ;;
        *tmpfiles*.conf) install -D -m 0644 "$stage/units/$f" "/usr/lib/tmpfiles.d/$name" ;;
        *.rules) install -D -m 0644 "$stage/units/$f" "/etc/udev/rules.d/$name" ;;
        *) echo "provision.sh: not installed (unknown kind): systemd/$f" ;;
    esac
done
if ls /usr/lib/sysusers.d/*nvr* >/dev/null 2>&1; then
    systemd-sysusers
fi
# The units on main name User=nvr; until a sysusers.d file makes it, it is made here.
getent passwd nvr >/dev/null || useradd --system --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --user-group nvr
usermod -a -G video nvr

echo "--- the device configuration: synthetic camera, small enough for an emulated CPU"
mkdir -p /var/lib/nvr
nvr init /etc/nvr --source synthetic --staff-in-view no \
    --dpia-reference "DPIA virtueel apparaat (systeemtest)" --dpia-date "$(date +%F)" \
    --signage "hoofdingang (virtueel apparaat)" > /root/nvr-init.txt
sed -i -e 's/^width = .*/width = 320/' -e 's/^height = .*/height = 240/' \
    -e 's/^fps = .*/fps = 5/' -e 's/^bitrate_kbps = .*/bitrate_kbps = 250/' /etc/nvr/nvr.toml
nvr --config /etc/nvr/nvr.toml config check
chown -R nvr:nvr /etc/nvr /var/lib/nvr
[ -d /etc/tmpfiles.d ] || mkdir -p /etc/tmpfiles.d

echo "--- the system: root on /dev/vda, DHCP on the QEMU network, ssh with the host's key"
echo nvr-vm > /etc/hostname
printf '127.0.1.1\tnvr-vm\n' >> /etc/hosts
printf '/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n' > /etc/fstab
mkdir -p /etc/systemd/network
printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' > /etc/systemd/network/10-vm.network
systemctl enable systemd-networkd ssh chrony
install -d -m 0700 /root/.ssh
install -m 0600 "$stage/authorized_keys" /root/.ssh/authorized_keys
# No time server reaches the VM (QEMU's network is restricted to the host's port forward): the
# guest's clock comes from QEMU's RTC, i.e. the host's synchronised clock, and chrony takes it
# as a local reference (leap status normal; the kernel's flag stays unsynchronised).
sed -i -e '/^pool /d' -e '/^server /d' -e '/^sourcedir /d' /etc/chrony/chrony.conf
printf 'local stratum 8\n' >> /etc/chrony/chrony.conf
# /readyz asks chrony through the firmware's clock seam (chrony-synchronised), for every nvr unit.
install -m 0755 "$stage/chrony-synchronised" /usr/local/bin/nvr-chrony-synchronised
for unit in $units; do
    case "$unit" in nvr-*.service)
        mkdir -p "/etc/systemd/system/$unit.d"
        printf '[Service]\nEnvironment=NVR_TIMEDATECTL=/usr/local/bin/nvr-chrony-synchronised\n' \
            > "/etc/systemd/system/$unit.d/vm-clock.conf" ;;
    esac
done

for unit in $units; do
    if grep -q '^\[Install\]' "/etc/systemd/system/$unit"; then
        systemctl enable "$unit"
    fi
done
echo "units installed:$units"
