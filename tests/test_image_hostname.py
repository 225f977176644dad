"""One rule for the hostname (image/README.md; docs/provisioning.md step 1): the image's early
nvr-hostname.service (before the network, so DHCP and mDNS announce the name) and `nvr
firstboot` (later in the same boot) must give a device the same name, or the name changes
half-way through the boot and the TLS certificate names the other one. The image's unit runs
firstboot's own code (firmware/system/firstboot.py), so it cannot drift.

The real /usr/lib/nvr/nvr-hostname of the image, run as root in a UTS namespace of its own
(`unshare --uts`: the machine running the test keeps its name) on a test root whose device tree
holds a serial number as a Pi's does (hex digits and a NUL); what it sets is compared with
firstboot's hostname_from_serial. Seams: NVR_SYSTEM_ROOT (firstboot's) and NVR_PYTHON (the
image's venv Python, /opt/nvr/bin/python3). Needs root.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.system.firstboot import hostname_from_serial

REPO = Path(__file__).resolve().parents[1]
NVR_HOSTNAME = REPO / "image/rootfs/overlay/usr/lib/nvr/nvr-hostname"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: unshare --uts")


def early_name(tmp_path: Path, serial: bytes) -> tuple[str, str]:
    """The hostname nvr-hostname set in its namespace, and what it wrote in /etc/hostname."""
    root = tmp_path / "root"
    tree = root / "sys/firmware/devicetree/base"
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "serial-number").write_bytes(serial)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/hostname").write_text("raspberrypi\n")
    done = subprocess.run(
        ["unshare", "--uts", "sh", "-c", 'sh "$0" && echo "hostname=$(hostname)"',
         str(NVR_HOSTNAME)], capture_output=True, text=True, cwd=REPO, timeout=120,
        env=dict(os.environ, NVR_SYSTEM_ROOT=str(root), NVR_PYTHON=sys.executable))
    assert done.returncode == 0, done.stderr
    return (done.stdout.strip().splitlines()[-1].removeprefix("hostname="),
            (root / "etc/hostname").read_text().strip())


@pytest.mark.parametrize("serial", [b"10000000a1c0ffee\0",          # a Pi 4
                                    b"A1B2C3D4E5F60718\0",          # upper case
                                    b"0000000000000000\0",          # a placeholder
                                    b"1234\0"])                     # too short
def test_the_images_early_hostname_is_firstboots(tmp_path, serial):
    wanted = hostname_from_serial(serial.decode())
    name, written = early_name(tmp_path, serial)
    if wanted is None:      # firstboot leaves the name as it is: so does the early unit
        assert (name, written) == (socket.gethostname(), "raspberrypi")
    else:
        assert (name, written) == (wanted, wanted)


def test_the_unit_runs_before_the_network_on_any_machine_with_a_serial():
    unit = (REPO / "image/rootfs/overlay/etc/systemd/system/nvr-hostname.service").read_text()
    assert "Before=network-pre.target" in unit
    assert "ConditionPathExists=/proc/device-tree/serial-number" not in unit   # DMI too
