"""Red team 14c: `nvr-ssh` (image/rootfs/overlay/usr/lib/nvr/nvr-ssh) enables SSH for any
account whose name follows `nvr-ssh-` on partition NVRCONFIG, a service user too.

image/README.md ("SSH") promises: SSH for the technisch beheerder's account `beheer`, keys
only, and `beheer` is not root (R-11). The script checks only that the named user exists
(`getent passwd`). `nvr-ssh-nvr-web.pub` or `nvr-ssh-nvr-recorder.pub` on the card's FAT
partition puts that key into `/var/lib/nvr/system/ssh/authorized_keys/nvr-web`, which sshd reads
(`AuthorizedKeysFile ... /etc/ssh/nvr-authorized-keys/%u`), and starts sshd. The service users
have no login shell, but sshd forwards without one: `ssh -N -L 9000:/var/lib/nvr/data/live.sock
nvr-web@device` connects, as nvr-web (group nvr), to the recorder's live socket, which checks
nothing but the file's mode: live pictures without an account, a reason or a logbook entry
(R-01, R-50); and as nvr-recorder to exportd's socket. The known finding `nvr-ssh-root.pub` is
the same hole for root; the service users (and every other system account) are not covered by
a fix that only refuses root.

The real script runs in a mount namespace of its own: tmpfs over /boot, /var/lib and /etc/ssh,
a passwd file with the device's users bound over /etc/passwd (getent reads it), and
`systemctl` a stand-in that records what would be started (the host's systemd is not asked)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NVR_SSH = ROOT / "image" / "rootfs" / "overlay" / "usr" / "lib" / "nvr" / "nvr-ssh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"),
    reason="needs root and unshare (a mount namespace for /boot/config and /var/lib/nvr)")

PASSWD = """root:x:0:0:root:/root:/bin/bash
nvr-recorder:x:990:990:nvr recorder:/var/lib/nvr:/usr/sbin/nologin
nvr-web:x:991:990:nvr web interface:/var/lib/nvr:/usr/sbin/nologin
beheer:x:1000:1000:technisch beheerder:/home/beheer:/bin/bash
"""

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0000000000000000000000000000000000000000000 someone\n"

SCRIPT = """set -e
mount -t tmpfs none /boot
mount -t tmpfs none /var/lib
mount -t tmpfs none /etc/ssh
mount --bind "$T/passwd" /etc/passwd
mkdir -p /boot/config /var/lib/nvr/system
cp "$T"/nvr-ssh-*.pub /boot/config/
PATH="$T/bin:$PATH" sh "$NVR_SSH" > "$T/out" 2>&1
ls /var/lib/nvr/system/ssh/authorized_keys > "$T/authorized"
if [ -e /var/lib/nvr/system/ssh/enabled ]; then echo yes > "$T/enabled"; fi
"""


def _run_nvr_ssh(tmp_path: Path, user: str) -> tuple[list[str], bool, str]:
    (tmp_path / "passwd").write_text(PASSWD)
    (tmp_path / f"nvr-ssh-{user}.pub").write_text(KEY)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "systemctl"
    stand_in.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/systemctl\n')
    stand_in.chmod(0o755)
    run = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", SCRIPT],
                         env={**os.environ, "T": str(tmp_path), "NVR_SSH": str(NVR_SSH)},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr + (tmp_path / "out").read_text()
    authorized = (tmp_path / "authorized").read_text().split()
    return authorized, (tmp_path / "enabled").exists(), (tmp_path / "out").read_text()


def test_the_technisch_beheerders_key_enables_ssh_for_beheer(tmp_path):
    """Guard: what image/README.md documents works (nvr-ssh-beheer.pub)."""
    authorized, enabled, _out = _run_nvr_ssh(tmp_path, "beheer")
    assert authorized == ["beheer"] and enabled


@pytest.mark.parametrize("user", ["nvr-web", "nvr-recorder"])
def test_a_key_on_the_boot_partition_never_opens_ssh_for_a_service_user_R11(tmp_path, user):
    """MEDIUM (needs the card in hand: a tamper-switch event, or before the case is closed): a
    file nvr-ssh-nvr-web.pub on NVRCONFIG gives SSH as a service user of the group nvr, whose
    forwarding reaches the live socket and the key files' readers. Expected: only the
    technisch beheerder's login account (beheer; never root, never a system account) is
    enabled; the file is refused and said so. (That sshd forwards for an account whose shell
    is nologin is sshd's documented behaviour, not run here.)"""
    authorized, enabled, out = _run_nvr_ssh(tmp_path, user)
    assert user not in authorized, (
        f"nvr-ssh put a key into authorized_keys/{user}: SSH as the service user {user} "
        f"(group nvr): its forwarding reaches /var/lib/nvr/data/live.sock; said: {out!r}")
    assert not enabled, f"SSH was switched on by nvr-ssh-{user}.pub: {out!r}"
