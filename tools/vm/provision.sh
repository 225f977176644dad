#!/bin/sh
# The firmware layer of the image: runs chrooted in the unpacked base (build-image.sh), from the
# staged folder /root/vm-stage: install.sh and what it takes (wheelhouse/, systemd/, updates/,
# overlay/, keyring.pem; image/rootfs/install.sh), authorized_keys. What is VM-only is here:
# the device configuration, SSH turned on with the test's key, the clock seam.
set -eu
stage=/root/vm-stage

echo "--- the image's root: firmware, units, RAUC, overlay, read-only root (image/rootfs/install.sh)"
sh "$stage/install.sh" "$stage"
units=$(cd "$stage/systemd" && find . -type f \( -name '*.service' -o -name '*.timer' \
    -o -name '*.socket' -o -name '*.path' -o -name '*.target' \) -exec basename {} \; | sort)

echo "--- the device configuration: synthetic camera, small enough for an emulated CPU"
nvr init /root/nvr-init --source synthetic --staff-in-view no \
    --dpia-reference "DPIA virtueel apparaat (systeemtest)" --dpia-date "$(date +%F)" \
    --signage "hoofdingang (virtueel apparaat)" > /root/nvr-init.txt
toml=/root/nvr-init/nvr.toml
sed -i -e 's/^width = .*/width = 320/' -e 's/^height = .*/height = 240/' \
    -e 's/^fps = .*/fps = 5/' -e 's/^bitrate_kbps = .*/bitrate_kbps = 250/' "$toml"
# The watchdog's stalled-camera seam (systemtest: frozen camera). The firmware must accept it:
# a configuration check that refuses it fails the image instead of dropping the check.
sed -i 's|^path = ""|&\nfreeze_file = "/run/nvr-systemtest-freeze"|' "$toml"
grep -q '^freeze_file = ' "$toml" || { echo "provision.sh: freeze_file not set in $toml" >&2; exit 1; }
nvr --config "$toml" config check >/dev/null
mkdir -p /etc/nvr
# The units' own layout (sysusers.d/tmpfiles.d in systemd/, docs/units.md): data, keys and the
# index (R-82: off the footage disk, as firstboot's default) in /var/lib/nvr, made by tmpfiles
# at boot; the recorder makes the master key at its first start.
getent passwd nvr-recorder >/dev/null || { echo "provision.sh: no user nvr-recorder (sysusers.d)" >&2; exit 1; }
sed -e 's|^data_dir = .*|data_dir = "/var/lib/nvr/data"|' \
    -e 's|^key_dir = .*|key_dir = "/var/lib/nvr/keys"\nindex_dir = "/var/lib/nvr/index"|' \
    -e 's|^directory = .*|directory = ""|' "$toml" > /etc/nvr/nvr.toml
chown root:nvr /etc/nvr /etc/nvr/nvr.toml
chmod 0750 /etc/nvr
chmod 0640 /etc/nvr/nvr.toml
systemd-tmpfiles --create
rm -rf /root/nvr-init
nvr --config /etc/nvr/nvr.toml config check
# The image's default configuration (the first boot copies it to /etc/nvr/nvr.toml when missing).
install -D -m 0644 /etc/nvr/nvr.toml /usr/share/nvr/nvr.toml

echo "--- ssh turned on with the test's key, keys only (the image has it off)"
# What a technisch beheerder does to turn SSH on (image/README.md, "SSH"), here in the image's
# read-only root, as the tests need it from the first boot; sshd_config.d/nvr.conf refuses
# passwords either way.
install -d -m 0700 /root/.ssh
install -m 0600 "$stage/authorized_keys" /root/.ssh/authorized_keys
systemctl enable ssh.service
# The test harness alone logs in as root (the Pi image refuses root over SSH: nvr.conf); read
# before nvr.conf, so its value wins. The technisch beheerder's account `beheer` (made by
# install.sh, sudo for nvr-admin only) gets the same key, as nvr-ssh.service would give it
# from NVRCONFIG: the fleet's checks log in as beheer (systemtest/test_fleet_vm.py).
printf '%s\n' "# virtual device only: the test harness runs commands as root" \
    "PermitRootLogin prohibit-password" > /etc/ssh/sshd_config.d/00-vm-root.conf
install -d -m 0700 -o beheer -g beheer /home/beheer/.ssh
install -m 0600 -o beheer -g beheer "$stage/authorized_keys" /home/beheer/.ssh/authorized_keys
# No Raspberry Pi firmware here (no tryboot, no /proc/device-tree): the update verdict would
# fail at every boot. Not enabled in the virtual device; its backend is tested in tests/.
systemctl disable nvr-update-verdict.service
# /readyz asks chrony through the firmware's clock seam (provision-system.sh), for every nvr unit.
for unit in $units; do
    case "$unit" in nvr-*.service)
        mkdir -p "/etc/systemd/system/$unit.d"
        printf '[Service]\nEnvironment=NVR_TIMEDATECTL=/usr/local/bin/nvr-chrony-synchronised\n' \
            > "/etc/systemd/system/$unit.d/vm-clock.conf" ;;
    esac
done

echo "units installed (enabled by install.sh):" $units
