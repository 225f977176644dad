"""First-boot provisioning on the virtual device (issue 14 item 2; docs/provisioning.md).

The image's nvr-firstboot.service ran `nvr firstboot` at the first boot, before the services.
Checked from outside, as the technisch beheerder meets the device: the unit succeeded, the
hostname is nvr- and the last 8 hex digits of the serial number QEMU gives the machine
(`-smbios type=1,serial=`), the keys have the owners and modes of docs/units.md, both enrollment
codes are on the serial console (the guest's /dev/console) and nowhere on its disk or in its
journal, and a code makes the first account once. conftest.py runs this file first, on the first
boot, so the codes make the first accounts (stick.first_accounts then finds them).
"""

from __future__ import annotations

import hashlib
import re
import ssl
import time

import pytest

from firmware.system.firstboot import hostname_from_serial
from systemtest.stick import STAFF_PASSWORD
from systemtest.vm import VirtualDevice

UNIT = "nvr-firstboot.service"
KEYS = "/var/lib/nvr/keys"
# What docs/units.md asks of each key (mode, owner, group).
MODES = {"master.key": "640 nvr-recorder nvr", "device-signing.key": "640 nvr-recorder nvr",
         "logbook-mac.key": "640 nvr-recorder nvr", "web-cert.pem": "640 nvr-web nvr",
         "web-key.pem": "600 nvr-web nvr", "client-ca.pem": "600 nvr-web nvr"}


def codes_on_console(text: str) -> dict[str, str]:
    """The last enrollment code shown for each role on the console's text."""
    found = {}
    for role, code in re.findall(r"Eenmalige inschrijfcode voor de eerste ([a-z-]+): "
                                 r"([0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6})", text):
        found[role] = code
    return found


def accounts(device: VirtualDevice) -> list[str]:
    import json
    return [u["name"] for u in json.loads(device.nvr("user list --json").stdout)]


def test_firstboot_ran_and_provisioned_hostname_and_keys(device, step):
    with step("nvr-firstboot: unit finished (sshd may answer before it)"):
        deadline = time.monotonic() + 600
        while True:
            state = dict(line.split("=", 1) for line in device.run(
                f"systemctl show {UNIT} -p ActiveState -p Result -p ExecMainStatus"
            ).stdout.split())
            if state["ActiveState"] != "activating" or time.monotonic() > deadline:
                break
            time.sleep(5)
    assert state == {"ActiveState": "active", "Result": "success", "ExecMainStatus": "0"}, \
        device.run(f"systemctl status {UNIT} --no-pager -l", check=False).stdout
    with step("nvr-firstboot: hostname, keys"):
        serial = device.run("cat /sys/class/dmi/id/product_serial").stdout
        want = hostname_from_serial(serial)
        assert want == "nvr-a1c0ffee", serial          # systemtest/vm.py's -smbios serial
        assert device.run("hostname").stdout.strip() == want
        stats = device.run(f"cd {KEYS} && stat -c '%n %a %U %G' " + " ".join(MODES)).stdout
        assert {line.split(" ", 1)[0]: line.split(" ", 1)[1]
                for line in stats.splitlines()} == MODES, stats
        journal = device.run(f"journalctl -b -u {UNIT} -o cat --no-pager").stdout
    assert f"hostname: {want}" in journal, journal
    pem = device.run(f"cat {KEYS}/web-cert.pem").stdout
    fingerprint = ":".join(f"{b:02X}" for b in hashlib.sha256(
        ssl.PEM_cert_to_DER_cert(pem)).digest())
    assert f"TLS certificate: {KEYS}/web-cert.pem" in journal and fingerprint in journal
    console = device.console_log.read_text(errors="replace")
    assert f"TLS-certificaat SHA-256: {fingerprint}" in console, device.console_tail()


def test_enrollment_codes_on_the_console_only_and_each_works_once(device, step):
    if accounts(device):
        pytest.skip("the guest has accounts already (a guest kept for development that ran "
                    "the export check): the codes are checked on a freshly booted guest")
    console = device.console_log.read_text(errors="replace")
    codes = codes_on_console(console)
    assert set(codes) == {"technisch-beheerder", "manager-bedrijfsvoering"}, \
        device.console_tail()
    with step("enrollment codes: grep of the guest's disk and journal"):
        pattern = " ".join(f"-e {code}" for code in codes.values())
        found = device.run(f"grep -rlaF {pattern} /var/lib/nvr /etc/nvr /var/log /run/log "
                           "/run/nvr* 2>/dev/null; journalctl -b -o cat --no-pager | grep -cF "
                           f"{pattern}; journalctl -b -o cat --no-pager | grep -cF "
                           "'one-time enrollment codes for the first'", check=False).stdout.split()
    # The last count is the control: the journal read holds the run that issued the codes.
    assert found[:-1] == ["0"] and int(found[-1]) >= 1, f"found: {found}"

    with step("enrollment code: first technisch-beheerder, once"):
        env = {"NVR_NEW_PASSWORD": STAFF_PASSWORD}
        made = device.nvr("user add t.admin --role technisch-beheerder --enrollment-code "
                          f"{codes['technisch-beheerder']}", check=False, env=env)
        assert made.returncode == 0, (made.stdout, made.stderr)
        again = device.nvr("user add t.second --role technisch-beheerder --enrollment-code "
                           f"{codes['technisch-beheerder']}", check=False, env=env)
        assert again.returncode != 0, again.stdout
        made = device.nvr("user add m.manager --role manager-bedrijfsvoering --enrollment-code "
                          f"{codes['manager-bedrijfsvoering']}", check=False, env=env)
        assert made.returncode == 0, (made.stdout, made.stderr)
    assert sorted(accounts(device)) == ["m.manager", "t.admin"]

    with step("nvr-firstboot again: no code once both accounts exist"):
        before = device.console_log.stat().st_size
        device.run(f"systemctl restart {UNIT}", timeout=600)
        with device.console_log.open("rb") as fh:
            fh.seek(before)
            shown = fh.read().decode(errors="replace")
    assert "TLS-certificaat SHA-256" in shown and not codes_on_console(shown), shown
