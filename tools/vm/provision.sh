#!/bin/sh
# The firmware layer of the image: runs chrooted in the unpacked base (build-image.sh), from the
# staged folder /root/vm-stage: wheelhouse/, units/ (the repository's systemd/), authorized_keys.
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
# *.rules -> /usr/lib/udev/rules.d; nvr-admin -> /usr/local/sbin (docs/units.md when present);
# anything else is reported, not guessed at.
units=""
for f in $(cd "$stage/units" && find . -type f | sort); do
    name=$(basename "$f")
    case "$f" in
        *.service|*.timer|*.socket|*.path|*.target)
            install -m 0644 "$stage/units/$f" /etc/systemd/system/
            units="$units $name" ;;
        *sysusers*.conf|*/sysusers.d/*.conf)
            install -D -m 0644 "$stage/units/$f" "/usr/lib/sysusers.d/$name" ;;
        *tmpfiles*.conf|*/tmpfiles.d/*.conf)
            install -D -m 0644 "$stage/units/$f" "/usr/lib/tmpfiles.d/$name" ;;
        *.rules) install -D -m 0644 "$stage/units/$f" "/usr/lib/udev/rules.d/$name" ;;
        */nvr-admin) install -m 0755 "$stage/units/$f" /usr/local/sbin/nvr-admin ;;
        *) echo "provision.sh: not installed (unknown kind): systemd/$f" ;;
    esac
done
ls /usr/lib/sysusers.d/*nvr* >/dev/null 2>&1 && systemd-sysusers

echo "--- the device configuration: synthetic camera, small enough for an emulated CPU"
nvr init /root/nvr-init --source synthetic --staff-in-view no \
    --dpia-reference "DPIA virtueel apparaat (systeemtest)" --dpia-date "$(date +%F)" \
    --signage "hoofdingang (virtueel apparaat)" > /root/nvr-init.txt
toml=/root/nvr-init/nvr.toml
sed -i -e 's/^width = .*/width = 320/' -e 's/^height = .*/height = 240/' \
    -e 's/^fps = .*/fps = 5/' -e 's/^bitrate_kbps = .*/bitrate_kbps = 250/' "$toml"
# The watchdog's stalled-camera seam, where the firmware has it (systemtest: frozen camera).
sed -i 's|^path = ""|&\nfreeze_file = "/run/nvr-systemtest-freeze"|' "$toml"
nvr --config "$toml" config check >/dev/null 2>&1 || sed -i '/^freeze_file = /d' "$toml"
mkdir -p /etc/nvr
if getent passwd nvr-recorder >/dev/null; then
    # The units' own layout (sysusers.d/tmpfiles.d in systemd/, docs/units.md): data and keys in
    # /var/lib/nvr, made by tmpfiles at boot; the recorder makes the master key at its first start.
    sed -e 's|^data_dir = .*|data_dir = "/var/lib/nvr/data"|' \
        -e 's|^key_dir = .*|key_dir = "/var/lib/nvr/keys"|' \
        -e 's|^directory = .*|directory = ""|' "$toml" > /etc/nvr/nvr.toml
    chown root:nvr /etc/nvr /etc/nvr/nvr.toml
    chmod 0750 /etc/nvr
    chmod 0640 /etc/nvr/nvr.toml
    systemd-tmpfiles --create
else
    # The units on main before issue 12 item 1: one user nvr, everything in /etc/nvr.
    getent passwd nvr >/dev/null || useradd --system --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin --user-group nvr
    usermod -a -G video nvr
    cp -a /root/nvr-init/. /etc/nvr/
    chown -R nvr:nvr /etc/nvr
fi
rm -rf /root/nvr-init
nvr --config /etc/nvr/nvr.toml config check

echo "--- ssh with the host's key of this image"
install -d -m 0700 /root/.ssh
install -m 0600 "$stage/authorized_keys" /root/.ssh/authorized_keys
# /readyz asks chrony through the firmware's clock seam (provision-system.sh), for every nvr unit.
for unit in $units; do
    case "$unit" in nvr-*.service)
        mkdir -p "/etc/systemd/system/$unit.d"
        printf '[Service]\nEnvironment=NVR_TIMEDATECTL=/usr/local/bin/nvr-chrony-synchronised\n' \
            > "/etc/systemd/system/$unit.d/vm-clock.conf" ;;
    esac
done

# Enabled: every unit with an [Install] section, except one whose `nvr COMMAND` the firmware
# does not have yet (nvr-exportd.service before issue 13): named here, and by the test.
for unit in $units; do
    grep -q '^\[Install\]' "/etc/systemd/system/$unit" || continue
    sub=$(sed -n 's|^ExecStart=.*/nvr .*--config [^ ]* \([a-z-]*\).*|\1|p' \
        "/etc/systemd/system/$unit" | head -1)
    if [ -n "$sub" ] && ! nvr "$sub" --help >/dev/null 2>&1; then
        echo "not enabled: $unit (the firmware has no 'nvr $sub' yet)"
        continue
    fi
    systemctl enable "$unit"
done
echo "units installed:$units"
