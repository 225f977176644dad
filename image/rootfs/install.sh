#!/bin/sh
# The recorder's part of the root file system, run chrooted in it: by the pi-gen stage
# (image/pi-gen/stage-nvr, arm64 Raspberry Pi OS) and by the virtual device's build
# (tools/vm/provision.sh, amd64 Debian), so both run the same steps (image/README.md).
#
#   install.sh STAGE
#
# STAGE holds: wheelhouse/ (the firmware and its dependencies as wheels for this machine's
# Python), systemd/ (the repository's systemd/), updates/ (image/updates/), overlay/
# (image/rootfs/overlay/), and optionally keyring.pem (the update CA's certificate).
# No network: the Debian packages are installed before (the stage's package list, the VM's
# guest-packages.txt), the Python packages come from the wheelhouse.
set -eu
stage=${1:?usage: install.sh STAGE}
say() { echo "--- install.sh: $*"; }

say "the firmware: /opt/nvr, a venv that also sees the system's packages (python3-picamera2)"
# The build host's pip settings (PIP_* variables, its find-links and constraints) mean nothing
# here.
for v in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null
python3 -m venv --system-site-packages /opt/nvr
/opt/nvr/bin/pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$stage/wheelhouse" nvr-firmware
ln -sf /opt/nvr/bin/nvr /usr/local/bin/nvr

say "the units, as systemd/ holds them"
# *.service/.timer/.socket/.path -> /etc/systemd/system; sysusers.d and tmpfiles.d entries (a
# folder of that name or a file named *sysusers*.conf / *tmpfiles*.conf) -> /usr/lib/...;
# *.rules -> /usr/lib/udev/rules.d; nvr-admin -> /usr/local/sbin (docs/units.md);
# anything else is reported, not guessed at.
units=""
for f in $(cd "$stage/systemd" && find . -type f | sort); do
    name=$(basename "$f")
    case "$f" in
        *.service|*.timer|*.socket|*.path|*.target)
            install -m 0644 "$stage/systemd/$f" /etc/systemd/system/
            units="$units $name" ;;
        */sysusers.d/*.conf|*sysusers*.conf)
            install -D -m 0644 "$stage/systemd/$f" "/usr/lib/sysusers.d/$name" ;;
        */tmpfiles.d/*.conf|*tmpfiles*.conf)
            install -D -m 0644 "$stage/systemd/$f" "/usr/lib/tmpfiles.d/$name" ;;
        *.rules) install -D -m 0644 "$stage/systemd/$f" "/usr/lib/udev/rules.d/$name" ;;
        */nvr-admin) install -m 0755 "$stage/systemd/$f" /usr/local/sbin/nvr-admin ;;
        *) echo "install.sh: not installed (unknown kind): systemd/$f" ;;
    esac
done
if ls /usr/lib/sysusers.d/*nvr* >/dev/null 2>&1; then systemd-sysusers; fi

say "RAUC (image/updates/README.md): system.conf, backend, verdict, D-Bus policy"
install -D -m 0644 "$stage/updates/system.conf" /etc/rauc/system.conf
install -D -m 0755 "$stage/updates/rauc-tryboot-backend" /usr/lib/nvr/rauc-tryboot-backend
install -D -m 0755 "$stage/updates/update-verdict" /usr/lib/nvr/update-verdict
install -m 0644 "$stage/updates/nvr-update-verdict.service" /etc/systemd/system/
install -D -m 0644 "$stage/updates/dbus-nvr-rauc.conf" /etc/dbus-1/system.d/nvr-rauc.conf
if [ -f "$stage/keyring.pem" ]; then
    install -m 0644 "$stage/keyring.pem" /etc/rauc/keyring.pem
else
    echo "install.sh: no keyring.pem given: /etc/rauc/keyring.pem is missing, so this image" \
         "accepts no update bundle (image/build.sh: NVR_UPDATE_KEYRING)"
fi
getent group nvr-update >/dev/null || groupadd --system nvr-update

say "the image's own files (image/rootfs/overlay/), copied as they are"
cp -a --no-preserve=ownership "$stage/overlay/." /
# Mount points in the read-only root: partition 1, the running boot slot, the data partition.
mkdir -p /boot/config /boot/firmware /var/lib/nvr
image_units=$(cd "$stage/overlay/etc/systemd/system" && ls -- *.service 2>/dev/null || true)

say "the technisch beheerder's account: no password, no groups, sudo for nvr-admin only"
# system configuration and users, never footage, keys or the logbook (nvr-first-user).
# pi-gen's stage runs it again after pi-gen made its first user (stage-nvr 03-run.sh).
/usr/lib/nvr/nvr-first-user / "${NVR_FIRST_USER:-${FIRST_USER_NAME:-beheer}}"

say "a read-only root with a RAM overlay (overlayroot, /etc/overlayroot.local.conf)"
command -v overlayroot-chroot >/dev/null || {
    echo "install.sh: the package overlayroot is not installed" >&2; exit 1; }
# The overlay is set up by the initramfs: rebuilt here with overlayroot's hook in it.
update-initramfs -u -k all
# overlayroot's script runs in the initramfs with what is there: it calls grep, which only
# busybox brings (initramfs-tools BUSYBOX=auto); without it the boot stops.
for initrd in /boot/initrd.img-*; do
    [ -e "$initrd" ] || { echo "install.sh: no /boot/initrd.img-*: is a kernel installed?" >&2
                          exit 1; }
    listing=$(lsinitramfs "$initrd")
    for needed in scripts/init-bottom/overlayroot scripts/init-bottom/nvr-machine-id bin/grep \
                  bin/head; do
        printf '%s\n' "$listing" | grep -q "$needed\$" || {
            echo "install.sh: $initrd has no $needed: overlayroot or the kept machine-id cannot work" \
                 "(is busybox installed?)" >&2; exit 1; }
    done
done

say "no swap"
if dpkg-query -W -f '${Status}' dphys-swapfile 2>/dev/null | grep -q 'ok installed'; then
    dpkg --purge dphys-swapfile
fi
systemctl mask swap.target

say "SSH off by default, keys only; host keys and machine-id on the data partition"
systemctl disable ssh.service 2>/dev/null || true
# Raspberry Pi OS turns SSH on when a file 'ssh' is put on the boot partition: not here, that
# would let anyone holding the card open the device.
systemctl mask sshswitch.service 2>/dev/null || true
rm -f /etc/ssh/ssh_host_*
# Empty: systemd makes an id at boot; nvr-storage-setup keeps the first one on NVRDATA.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -sf /etc/machine-id /var/lib/dbus/machine-id

say "enabled: the image's units and every unit of systemd/ with an [Install] section"
# A unit whose `nvr COMMAND` the firmware does not have fails the image: a device that quietly
# lacks a service is worse than no image (systemtest/test_device.py requires them all).
for unit in $image_units nvr-update-verdict.service; do
    grep -q '^\[Install\]' "/etc/systemd/system/$unit" && systemctl enable "$unit"
done
for unit in $units; do
    grep -q '^\[Install\]' "/etc/systemd/system/$unit" || continue
    sub=$(sed -n 's|^ExecStart=.*/nvr .*--config [^ ]* \([a-z-]*\).*|\1|p' \
        "/etc/systemd/system/$unit" | head -1)
    if [ -n "$sub" ] && ! nvr "$sub" --help >/dev/null 2>&1; then
        echo "install.sh: $unit runs 'nvr $sub', which the installed firmware does not" \
            "have (nvr $sub --help failed): fix the unit or the firmware" >&2
        exit 1
    fi
    systemctl enable "$unit"
done
echo "units installed:$units"
