"""Which disk holds a path, and whether the keys or the index share the footage's disk (R-82).

The design goal of the key hierarchy is that a stolen data disk alone opens nothing: the master
key lives on a different medium than the footage whenever the device has two (footage on an SSD,
keys on the card; docs/provisioning.md). `nvr firstboot` and `nvr selftest`'s keys check both ask
`keys_beside_footage`, so they cannot disagree.

A path's disk is found from its file system's device number: /sys/dev/block/MAJ:MIN leads to the
partition, whose parent folder in sysfs is the whole disk. "Another disk" is one holding a file
system mounted in this process's view (/proc/self/mountinfo): an export stick is mounted only in
exportd's own namespace and does not count. `NVR_SYSTEM_ROOT` (a test's root) is the seam: /sys
and /proc/self/mountinfo are read below it.
"""

from __future__ import annotations

import os
from pathlib import Path

from firmware.i18n import _

ROOT_ENV = "NVR_SYSTEM_ROOT"


def system_root() -> Path:
    """Where /etc, /sys, /dev and /usr/share are looked for: / on a device, a test's root."""
    return Path(os.environ.get(ROOT_ENV) or "/")


def _disk_of_number(major: int, minor: int, root: Path) -> str | None:
    """The whole disk (its sysfs name, e.g. mmcblk0 or nvme0n1) of block device MAJ:MIN."""
    link = root / "sys" / "dev" / "block" / f"{major}:{minor}"
    try:
        target = Path(os.path.realpath(link))
    except OSError:
        return None
    if not target.exists():
        return None
    if (target / "partition").exists():
        return target.parent.name
    return target.name


def disk_of(path: Path, root: Path | None = None) -> str | None:
    """The disk that holds `path`, or None (a virtual file system: tmpfs, overlay)."""
    st = os.stat(path)
    return _disk_of_number(os.major(st.st_dev), os.minor(st.st_dev), root or system_root())


def mounted_disks(root: Path | None = None) -> set[str]:
    """Every disk holding a file system mounted in this process's view."""
    root = root or system_root()
    disks = set()
    try:
        lines = (root / "proc" / "self" / "mountinfo").read_text().splitlines()
    except OSError:
        return disks
    for line in lines:
        fields = line.split()
        if len(fields) < 3 or ":" not in fields[2]:
            continue
        major, _sep, minor = fields[2].partition(":")
        if major == "0":                       # tmpfs, proc, overlay: no disk
            continue
        disk = _disk_of_number(int(major), int(minor), root)
        if disk is not None:
            disks.add(disk)
    return disks


def _beside_footage(path: Path, data_dir: Path, root: Path) -> tuple[str, list[str]] | None:
    """(the footage's disk, the other mounted disks) when `path` lies on the footage's disk
    while another disk is mounted; else None."""
    try:
        disk, data = disk_of(path, root), disk_of(data_dir, root)
    except OSError:
        return None
    if disk is None or disk != data:
        return None
    others = sorted(mounted_disks(root) - {disk})
    return (disk, others) if others else None


def keys_beside_footage(key_dir: Path, data_dir: Path, root: Path | None = None) -> str | None:
    """A finding when the key directory lies on the disk of the footage while another disk is
    mounted (R-82: a thief with the footage's disk would have its keys too); else None. One
    medium for both is the documented trade-off of a device with one disk, not a finding."""
    found = _beside_footage(key_dir, data_dir, root or system_root())
    if found is None:
        return None
    keys, others = found
    return _("the keys (%(keys)s) lie on the disk of the footage (%(disk)s) while %(others)s "
             "is mounted too: a thief with that one disk has both; put key_dir on the other "
             "disk (the card when footage is on an SSD, docs/provisioning.md)",
             keys=str(key_dir), disk=keys, others=", ".join(others))


def index_beside_footage(index_dir: Path, data_dir: Path, root: Path | None = None) -> str | None:
    """The same finding for storage.index_dir (R-82): the index holds account names, password
    hashes and the logbooks, so a footage disk taken alone must not hold it either."""
    found = _beside_footage(index_dir, data_dir, root or system_root())
    if found is None:
        return None
    disk, others = found
    return _("the index (%(index)s: names, password hashes, logbooks) lies on the disk of the "
             "footage (%(disk)s) while %(others)s is mounted too: a thief with that one disk "
             "reads it; set storage.index_dir to a directory on the other disk "
             "(/var/lib/nvr/index on the card, docs/storage.md)",
             index=str(index_dir), disk=disk, others=", ".join(others))
