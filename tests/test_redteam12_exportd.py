"""Red team of issue 12/13: exportd's view of the system's own disks (firmware/export/udev.py,
firmware/cli/usb.py, systemd/nvr-exportd.service).

exportd must never offer the data disk (issue 13 item 1, R-61). It finds the system's disks by
stat() of the root, /boot and the data and key directories (`system_disks`), falling back to
the nearest readable parent. But its own unit makes /var/lib/nvr inaccessible
(`InaccessiblePaths=-/var/lib/nvr`: an empty mode-000 node mounted over it), so in exportd's
mount namespace the data directory does not exist and its "nearest parent" is that node, on
/run's tmpfs: the data disk is not among the system disks. On a Raspberry Pi the data disk is
usually a USB SSD (ID_BUS=usb), so exportd offers the recorder's data disk as an export stick,
and `format` would luksFormat it.

Fixed in `system_disks`: the mount table still lists the data disk's mount under the node
that covers it. The namespace is made as the unit makes it: a tmpfs of mode
000 mounted over the parent of the data directory (needs root and unshare)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.export.udev import is_export_candidate, system_disks

from conftest import ROOT

needs_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) to make exportd's mount namespace "
           "(InaccessiblePaths=) as systemd makes it")

PROBE = r"""
import json, subprocess, sys
from pathlib import Path
parent, data = sys.argv[1], sys.argv[2]
# what systemd does for InaccessiblePaths=-/var/lib/nvr: an empty node of mode 000 over it
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=000,size=4k", "inaccessible", parent],
               check=True)
from firmware.export.udev import system_disks
print(json.dumps(sorted(system_disks([Path(data)]))))
"""


@needs_namespace
def test_exportd_never_offers_the_data_disk_in_its_own_namespace_R61(tmp_path):
    parent = tmp_path / "nvr"                         # stands for /var/lib/nvr
    data = parent / "data"
    data.mkdir(parents=True)
    dev = os.stat(data).st_dev
    disk = f"{os.major(dev)}:{os.minor(dev)}"
    if not Path(f"/sys/dev/block/{disk}").exists():
        pytest.skip(f"{tmp_path} is not on a block device ({disk}): nothing to compare")
    assert disk in system_disks([data])               # seen from outside: it is a system disk

    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                            "-c", PROBE, str(parent), str(data)],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert probe.returncode == 0, probe.stderr
    seen = set(json.loads(probe.stdout))
    # The data disk on USB, as udev reports it: exportd must not take it for a stick.
    props = {"SUBSYSTEM": "block", "ID_BUS": "usb", "DEVTYPE": "disk", "DEVNAME": "/dev/sdb",
             "MAJOR": str(os.major(dev)), "MINOR": str(os.minor(dev))}
    assert not is_export_candidate(props, seen), (
        f"in exportd's namespace the system disks are {sorted(seen)}: the data disk {disk} "
        "is offered as an export stick")


UDEV_PROBE = r"""
import sys
from firmware.export.udev import UdevSource
import pyudev
present = sum(1 for _ in pyudev.Context().list_devices(subsystem="block"))
source = UdevSource()
for i, event in enumerate(source.events()):
    if i + 1 == present:
        print("ready", flush=True)
    elif i + 1 > present:
        print("event", event.action, event.devname, flush=True)
        break
"""


def _udevd() -> subprocess.Popen | None:
    """A udevd to send the events: the one running, or one started here (a container)."""
    if subprocess.run(["pgrep", "-x", "systemd-udevd"], capture_output=True).returncode == 0:
        return None
    binary = shutil.which("systemd-udevd") or "/lib/systemd/systemd-udevd"
    if not Path(binary).exists():
        pytest.skip("no systemd-udevd to send udev events")
    return subprocess.Popen([binary], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@needs_namespace
def test_exportd_as_its_unit_runs_it_hears_a_stick_plugged_in_R61(tmp_path):
    """exportd learns of a stick from udev's netlink events (pyudev, source "udev"), which
    systemd-udevd sends in the host's network namespace. The unit had PrivateNetwork=yes: a
    namespace of its own, where no udev event arrives (systemd.exec(5), PrivateNetwork=), so a
    stick plugged in (or pulled out mid-write) while exportd runs was never seen. The probe
    runs the real UdevSource in the namespace the unit asks for; a change event on a loop
    device stands for the stick."""
    unit = (ROOT / "systemd" / "nvr-exportd.service").read_text()
    private = "\nPrivateNetwork=yes" in unit
    if not Path("/sys/block/loop0").exists():
        pytest.skip("no /sys/block/loop0 to send a udev event for")
    udevd = _udevd()
    try:
        argv = [sys.executable, "-c", UDEV_PROBE]
        probe = subprocess.Popen((["unshare", "--net"] if private else []) + argv, cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert probe.stdout.readline().strip() == "ready", probe.stderr.read()
            for _ in range(3):                       # udevd may still be starting
                subprocess.run(["udevadm", "trigger", "--action=change", "/sys/block/loop0"],
                               check=True, timeout=30)
                try:
                    out, _ = probe.communicate(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                probe.kill()
                out, _ = probe.communicate()
        finally:
            probe.kill()
    finally:
        if udevd is not None:
            udevd.terminate()
            udevd.wait(10)
    assert "event" in out and "loop0" in out, (
        f"exportd in its unit's namespace (PrivateNetwork={'yes' if private else 'no'}) heard "
        f"no udev event: {out!r}")


def test_the_data_disk_mounted_under_an_inaccessible_node_is_a_system_disk_R61(tmp_path):
    """The device's layout: root on the SD card, the data disk (a USB SSD, sdb1) mounted at
    /var/lib/nvr, and exportd's unit covering that with an inaccessible node. stat() sees the
    node; the mount table still names sdb1, whose whole disk is sdb (8:16)."""
    devices = tmp_path / "devices"
    for name, dev, part in (("mmcblk0", "179:0", None), ("mmcblk0/mmcblk0p2", "179:2", True),
                            ("sdb", "8:16", None), ("sdb/sdb1", "8:17", True)):
        d = devices / name
        d.mkdir(parents=True)
        (d / "dev").write_text(dev + "\n")
        if part:
            (d / "partition").write_text("1\n")
    block = tmp_path / "block"
    block.mkdir()
    for dev, name in (("179:0", "mmcblk0"), ("179:2", "mmcblk0/mmcblk0p2"), ("8:16", "sdb"),
                      ("8:17", "sdb/sdb1")):
        (block / dev).symlink_to(devices / name)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 179:2 / / rw,relatime shared:1 - ext4 /dev/mmcblk0p2 rw\n"
        "40 22 8:17 / /var/lib/nvr rw,relatime shared:20 - ext4 /dev/sdb1 rw\n"
        "90 40 0:55 / /var/lib/nvr ro,nosuid,nodev,noexec - tmpfs inaccessible ro,mode=000\n")
    seen = system_disks([Path("/var/lib/nvr/data")], sys_dev_block=block, mountinfo=mountinfo)
    assert "8:16" in seen, seen
    usb_data_disk = {"SUBSYSTEM": "block", "ID_BUS": "usb", "DEVTYPE": "disk",
                     "DEVNAME": "/dev/sdb", "MAJOR": "8", "MINOR": "16"}
    assert not is_export_candidate(usb_data_disk, seen)
    stick = {**usb_data_disk, "DEVNAME": "/dev/sdc", "MINOR": "32"}
    assert is_export_candidate(stick, seen)


def test_the_eject_group_may_only_list_and_eject_R61():
    """The recorder (eject button) is in nvr-export to reach the socket and in nvr-eject:
    it gets list and eject only, even as a member of the full group; root and the web all."""
    from firmware.export import protocol
    policy = protocol.PeerPolicy(frozenset({0, 1001, 1002}), frozenset({990}),
                                 frozenset({1002}))
    assert policy.rights(1001, 500) == frozenset(protocol.COMMANDS)      # the web
    assert policy.rights(1002, 500) == {"list", "eject"}                  # the recorder
    assert policy.rights(0, 0) == frozenset(protocol.COMMANDS)
    assert policy.rights(1003, 990) == frozenset(protocol.COMMANDS)      # primary group
    assert policy.rights(1003, 500) == frozenset()
