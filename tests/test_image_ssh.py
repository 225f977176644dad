"""SSH on the image (image/README.md, "SSH"): nvr-ssh.service turns it on for the technisch
beheerder's key put on NVRCONFIG as nvr-ssh-USER.pub, and NEVER for root or a service account:
whoever holds the card for a minute must not get root's, or the recorder's, login (R-11).

The real /usr/lib/nvr/nvr-ssh of the image, run as root in a mount namespace of its own in which
temporary folders are bound over /var/lib, /boot and /etc/ssh and a test passwd over
/etc/passwd (so the machine running the test is never touched); `systemctl` is a stub on PATH
that records what it was asked (this machine runs no systemd). Needs root.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

OVERLAY = Path(__file__).resolve().parents[1] / "image" / "rootfs" / "overlay"
NVR_SSH = OVERLAY / "usr/lib/nvr/nvr-ssh"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl {who}\n"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: mount namespaces and bind mounts")


def boot(tmp_path: Path) -> subprocess.CompletedProcess:
    """One boot's nvr-ssh with tmp_path's var-lib/, boot/, etc-ssh/ and passwd in place."""
    binds = {"var-lib": "/var/lib", "boot": "/boot", "etc-ssh": "/etc/ssh",
             "passwd": "/etc/passwd"}
    script = "mount --make-rprivate / && " + " && ".join(
        f"mount --bind {tmp_path / name} {target}" for name, target in binds.items()) + \
        f" && sh {NVR_SSH}"
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture
def card(tmp_path):
    for folder in ("var-lib/nvr/system/ssh", "boot/config", "etc-ssh", "bin"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        "nvr-recorder:x:990:990::/nonexistent:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        "beheer:x:1000:1000::/home/beheer:/bin/bash\n")
    stub = tmp_path / "bin/systemctl"
    stub.write_text(f"#!/bin/sh\necho \"$*\" >> {tmp_path / 'systemctl.log'}\n")
    stub.chmod(0o755)
    return tmp_path


def test_root_and_service_accounts_never_get_ssh_from_the_boot_partition(card):
    keys = card / "var-lib/nvr/system/ssh/authorized_keys"
    keys.mkdir()
    (keys / "root").write_text(KEY.format(who="left by an older image"))
    for user in ("root", "nvr-recorder", "nobody"):
        (card / f"boot/config/nvr-ssh-{user}.pub").write_text(KEY.format(who=user))
    done = boot(card)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in keys.iterdir()) == []
    assert not (card / "var-lib/nvr/system/ssh/enabled").exists()
    assert not (card / "systemctl.log").exists()
    for user in ("root", "nvr-recorder", "nobody"):
        assert f"nvr-ssh-{user}.pub" in done.stderr and "never" in done.stderr
    assert "SSH off" in done.stdout


def test_the_technisch_beheerders_key_turns_ssh_on(card):
    (card / "boot/config/nvr-ssh-beheer.pub").write_text(KEY.format(who="beheer"))
    (card / "boot/config/nvr-ssh-root.pub").write_text(KEY.format(who="root"))
    done = boot(card)
    assert done.returncode == 0, done.stderr
    keys = card / "var-lib/nvr/system/ssh/authorized_keys"
    assert sorted(p.name for p in keys.iterdir()) == ["beheer"]
    assert (keys / "beheer").read_text() == KEY.format(who="beheer")
    assert not (card / "boot/config/nvr-ssh-beheer.pub").exists()
    assert (card / "var-lib/nvr/system/ssh/enabled").exists()
    assert "start ssh.service" in (card / "systemctl.log").read_text()


def test_sshd_config_refuses_root_and_passwords():
    """The image's sshd_config.d/nvr.conf; sshd takes the first value it reads of each."""
    conf = (OVERLAY / "etc/ssh/sshd_config.d/nvr.conf").read_text().splitlines()
    settings = [line.split() for line in conf if line.strip() and not line.startswith("#")]
    first = {}
    for key, *value in settings:
        first.setdefault(key.lower(), " ".join(value))
    assert first["permitrootlogin"] == "no"
    assert first["passwordauthentication"] == "no"
    assert first["kbdinteractiveauthentication"] == "no"


def test_nvr_ssh_off_turns_ssh_off_and_keeps_the_key(card):
    """image/README.md's "Turn off": an empty `nvr-ssh-off` on NVRCONFIG and a boot turn SSH
    off (the flag file is used up, sshd is not started) and keep the installed key (reviewer
    C: no test proved it)."""
    (card / "boot/config/nvr-ssh-beheer.pub").write_text(KEY.format(who="beheer"))
    assert boot(card).returncode == 0
    (card / "systemctl.log").unlink()
    (card / "boot/config/nvr-ssh-off").write_text("")
    done = boot(card)
    assert done.returncode == 0, done.stderr
    assert not (card / "var-lib/nvr/system/ssh/enabled").exists()
    assert not (card / "boot/config/nvr-ssh-off").exists()
    assert not (card / "systemctl.log").exists()
    assert (card / "var-lib/nvr/system/ssh/authorized_keys/beheer").exists()
    assert "SSH off" in done.stdout
