"""Red team 14c: `sudo nvr-admin config install` lets the technisch beheerder start a store with
no accounts, and the next boot hands them both first roles.

The guide: the technisch beheerder gets "only their column of R-11, never footage by a side door
(..., new accounts, ..., config install, ...)". `nvr-admin config install FILE` writes whatever
passes `nvr config check` as root, and the check accepts any `storage.data_dir` and
`storage.key_dir` whose key directory does not lie inside the data directory. Swapping the two
(`data_dir = "/var/lib/nvr/keys"`, `key_dir = "/var/lib/nvr/data"`) passes: both folders exist,
both are the services' (tmpfiles), neither lies inside the other. After a reboot (`sudo
nvr-admin reboot-trial` reboots when no trial is pending) the store opens in a folder without
an index: no account exists there, so `nvr firstboot` shows new enrollment codes for the
technisch beheerder AND the manager bedrijfsvoering on the console, as on a new device. The
technisch beheerder at the device (the person who installs it) makes a manager account of
their own with the code, approves a beheerder account of their own, and sees the live view and
every recording from then on: four eyes (art. 2, art. 3 lid 1, R-11) gone. The real manager and
DPO only find that their accounts no longer work. (It also writes a new master key onto the
footage disk, R-82.) image/fleet/README.md says "The data and key directories are fixed
(/var/lib/nvr/data, /var/lib/nvr/keys) and not in the inventory"; nothing on the device keeps
them so.

Real `nvr firstboot` as root on a device layout (tests/test_firstboot.py), `nvr config install
-` as root with the new text on standard input (what nvr-admin runs after reading FILE as the
caller), and the enrolments as nvr-web (what `sudo nvr-admin user add` runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from test_firstboot import Device, _new_root, codes_in

from conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: nvr firstboot is root's")

PW = "Kwartel vijfenveertig langs de Eem"


@pytest.fixture
def device():
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def _boot(device: Device) -> list[str]:
    _done, _host, shown = device.firstboot()
    return codes_in(shown)


def _config_install(device: Device, text: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(device.config),
                           "config", "install", "-"], input=text, capture_output=True,
                          text=True, cwd=ROOT, timeout=120,
                          env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8",
                               "PYTHONDONTWRITEBYTECODE": "1"})


def _enrol(device: Device, name: str, role: str, code: str) -> subprocess.CompletedProcess:
    return device.nvr("nvr-web", "user", "add", name, "--role", role, "--enrollment-code", code,
                      env={"NVR_NEW_PASSWORD": PW})


def test_config_install_cannot_reopen_enrollment_on_an_enrolled_device_R11(device):
    """HIGH. Expected once fixed: `config install` refuses a change of storage.data_dir /
    key_dir on a device (or any data_dir without this device's index), naming why; in any
    case the next boot of an enrolled device shows no enrollment code."""
    technical, manager = _boot(device)
    assert _enrol(device, "t.admin", "technisch-beheerder", technical).returncode == 0
    assert _enrol(device, "m.manager", "manager-bedrijfsvoering", manager).returncode == 0
    assert _boot(device) == []                     # enrolled: the guard of red team 14b

    text = device.config.read_text()
    swapped = (text.replace(f'data_dir = "{device.data}"', 'data_dir = "@@KEYS@@"')
               .replace(f'key_dir = "{device.keys}"', f'key_dir = "{device.data}"')
               .replace("@@KEYS@@", str(device.keys)))
    assert swapped != text, text
    installed = _config_install(device, swapped)
    if installed.returncode != 0:                  # a fix that refuses: it must say why
        assert "data_dir" in installed.stderr or "key_dir" in installed.stderr, \
            installed.stderr
        return
    # config install gives the file to the group nvr by name; this host has no such group
    # (the device's users live in the test root's /etc/group), so it is given here.
    os.chown(device.config, 0, device.gid("nvr"))
    shown = _boot(device)                          # sudo nvr-admin reboot-trial
    made = []
    if len(shown) == 2:                            # the technisch beheerder uses both
        for name, role, code in (("t.eigen", "technisch-beheerder", shown[0]),
                                 ("m.eigen", "manager-bedrijfsvoering", shown[1])):
            done = _enrol(device, name, role, code)
            made.append(f"{name} ({role})" if done.returncode == 0 else
                        f"not {name}: {done.stderr.strip()}")
    assert not shown, (
        "after the technisch beheerder's config install and a reboot the enrolled device shows "
        f"{len(shown)} new enrollment code(s) on the console; made with them: "
        f"{'; '.join(made)}")
