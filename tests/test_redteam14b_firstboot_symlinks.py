"""Red team 14b: `nvr firstboot` runs as root over the key directory, which the services can write
(tmpfiles: /var/lib/nvr/keys 2770 nvr-recorder:nvr, not sticky). A service user who plants a
symlink there must not make root write, truncate, chmod or chown a file outside it.

Found: firstboot's TLS step (`system/tls.ensure_certificate`, called through `_make`) opens
web-key.pem with O_CREAT|O_TRUNC and writes web-cert.pem with write_bytes, both following
symlinks, and `_make` then chowns and chmods the paths, following them too. So nvr-web (a web
compromise) turns the next boot's provisioning into "root truncates and rewrites a file of my
choosing" (inside the unit: /etc/nvr/nvr.toml, /etc/hosts, anything under /var/lib/nvr; when the
technisch beheerder runs `nvr firstboot` by hand, as docs/provisioning.md tells them to, any file
on the system) and "root creates a file at a path of my choosing and gives it to nvr-web".

Real subprocesses of `nvr firstboot` as root on a root laid out by the project's sysusers.d and
tmpfiles.d (tests/test_firstboot.py's Device), the symlink planted by the real nvr-web uid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from test_firstboot import Device, _new_root

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: nvr firstboot is root's and the symlink is planted as "
    "the service user nvr-web made by systemd-sysusers --root")


def _plant_as_web(device: Device, link: str, target: str) -> None:
    """`ln -s target keys/link` as nvr-web (uid and group of the test root's passwd)."""
    done = subprocess.run([*device.as_user("nvr-web"), "ln", "-s", target,
                           str(device.keys / link)], capture_output=True, text=True)
    assert done.returncode == 0, f"nvr-web could not plant the link: {done.stderr}"


def _firstboot(device: Device) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--uts", sys.executable, "-m", "firmware.cli", "firstboot"],
                          capture_output=True, text=True, env=device.env(), cwd=ROOT,
                          timeout=300)


@pytest.fixture
def device():
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def test_firstboot_does_not_overwrite_a_file_through_a_web_key_symlink_planted_by_nvr_web(device):
    """nvr-web links web-key.pem to the configuration (root:nvr 0640, which nvr-web may not
    write); web-cert.pem is missing, as after "delete web-cert.pem and web-key.pem and reboot"."""
    done = _firstboot(device)                     # a normal first boot: config and keys made
    assert done.returncode == 0, done.stderr
    config_before = device.config.read_bytes()
    (device.keys / "web-cert.pem").unlink()
    (device.keys / "web-key.pem").unlink()
    _plant_as_web(device, "web-key.pem", str(device.config))

    _firstboot(device)                            # the next boot (refusing is a fine answer)
    assert device.config.read_bytes() == config_before, \
        "root's firstboot wrote the TLS private key into /etc/nvr/nvr.toml through nvr-web's link"
    st = device.config.stat()
    assert (st.st_mode & 0o777, st.st_uid) == (0o640, 0), "the configuration's mode/owner changed"


def test_firstboot_does_not_create_a_file_for_nvr_web_where_its_dangling_symlink_points(device):
    """A dangling web-cert.pem -> a path of nvr-web's choosing outside the key directory (here
    the test root's etc/profile.d/nvr.sh, which a root login shell would source)."""
    target = device.root / "etc" / "profile.d" / "nvr.sh"
    target.parent.mkdir(parents=True)
    _plant_as_web(device, "web-cert.pem", str(target))

    _firstboot(device)
    assert not target.exists(), (
        "root's firstboot created " + str(target) + " through nvr-web's dangling link, owned by "
        f"uid {target.stat().st_uid} (nvr-web is {device.uid('nvr-web')}), mode "
        f"{oct(target.stat().st_mode & 0o777)}")


def test_firstboot_does_not_chown_the_target_of_a_dangling_client_ca_symlink(device):
    """A guard (passes today: ensure_ca does not follow the link). client-ca.pem's step: `_make` chowns and chmods the path after `ensure_ca` made it."""
    target = device.root / "etc" / "nvr-planted"
    _plant_as_web(device, "client-ca.pem", str(target))
    _firstboot(device)
    assert not target.exists() or target.stat().st_uid == 0, \
        f"root's firstboot created {target} through nvr-web's link and gave it to nvr-web"
