"""The SSH host keys' fingerprints on the console (image/README.md, "SSH"): the person at the
screen compares them with what `ssh` shows at the first login, since nobody can log in on the
console to run ssh-keygen (the first user has no password) and SSH is what is being trusted.

nvr-storage-setup says each key's fingerprint when it makes it (tests/test_redteam14b_storage.py);
`nvr firstboot` shows them at every boot while SSH is on, beside the TLS fingerprint and the
enrollment codes. The real `nvr firstboot` on a test root (tests/test_firstboot.py's Device), keys
made by the real ssh-keygen, the fingerprints compared with `ssh-keygen -l`. Needs root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_firstboot import Device, _new_root

OVERLAY = Path(__file__).resolve().parents[1] / "image" / "rootfs" / "overlay"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: nvr firstboot is root's (tests/test_firstboot.py)")


def test_firstboot_shows_the_ssh_host_key_fingerprints_while_ssh_is_on(tmp_path):
    root = _new_root()
    try:
        device = Device(root)
        ssh = root / "var/lib/nvr/system/ssh"
        ssh.mkdir(parents=True)
        wanted = []
        for kind in ("ed25519", "rsa"):
            key = ssh / f"ssh_host_{kind}_key"
            subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "nvr", "-f",
                            str(key)], check=True)
            wanted.append(subprocess.run(["ssh-keygen", "-l", "-f", f"{key}.pub"], check=True,
                                         capture_output=True, text=True).stdout.split()[1])
        _done, _host, off = device.firstboot()
        assert "SSH" not in off and not any(f in off for f in wanted), off
        (ssh / "enabled").touch()                       # what nvr-ssh marks
        _done, _host, on = device.firstboot()
        assert "SSH staat aan" in on, on
        for fingerprint in wanted:
            assert fingerprint in on, on
    finally:
        shutil.rmtree(root)


def test_nvr_ssh_runs_before_firstboot_so_the_boot_that_enables_ssh_shows_them():
    unit = (OVERLAY / "etc/systemd/system/nvr-ssh.service").read_text()
    assert "Before=nvr-firstboot.service" in unit
