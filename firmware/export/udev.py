"""USB block devices as they come and go: the udev seam of exportd (issue 13 item 1, R-61).

The only module that imports pyudev. A `DeviceSource` yields `DeviceEvent`s (add, remove) for
block devices; `UdevSource` reads them from the kernel through udev (the devices present at
start first, then the netlink monitor); `TwinSource` is the portable twin tests feed. Which
device may become an export medium is decided in one place, `is_export_candidate`: a USB disk or
partition only, never a disk that holds the root file system or the recorder's data.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

SYS_DEV_BLOCK = Path("/sys/dev/block")


@dataclass(frozen=True)
class DeviceEvent:
    action: str                         # "add" (also "change") or "remove"
    props: dict = field(default_factory=dict)   # udev properties: DEVNAME, ID_BUS, MAJOR, ...

    @property
    def devname(self) -> str:
        return self.props.get("DEVNAME", "")


class DeviceSource(Protocol):
    def events(self) -> Iterator[DeviceEvent]:
        """Devices present now (as "add"), then every change until `close`."""

    def close(self) -> None:
        """End `events`."""


def disk_of(props: dict) -> str | None:
    """The whole disk a block device belongs to, as "major:minor"."""
    if props.get("DEVTYPE") == "partition":
        return props.get("ID_PART_ENTRY_DISK") or None
    if "MAJOR" in props and "MINOR" in props:
        return f"{props['MAJOR']}:{props['MINOR']}"
    return None


MOUNTINFO = Path("/proc/self/mountinfo")


def system_disks(paths: Iterable[Path], sys_dev_block: Path = SYS_DEV_BLOCK,
                 mountinfo: Path = MOUNTINFO) -> set[str]:
    """The whole disks ("major:minor") under `paths` (the root file system, the data
    directory), following device-mapper and RAID down to the disks they are built on.

    Each path counts twice over: by stat() of it (or its nearest readable parent), and by the
    mount table. exportd's unit makes the data directory inaccessible (a mode-000 node mounted
    over it): stat() then sees that node, not the data disk, but the data disk's mount stays
    listed in /proc/self/mountinfo under the node covering it (redteam12: a USB data disk was
    offered as an export stick)."""
    disks: set[str] = set()
    mounts = _mounts(mountinfo)
    for path in paths:
        dev = _st_dev(Path(path))
        if dev is not None:
            _collect(f"{os.major(dev)}:{os.minor(dev)}", sys_dev_block, disks, depth=0)
        for majmin in _mounted_under(Path(path), mounts, sys_dev_block):
            _collect(majmin, sys_dev_block, disks, depth=0)
    return disks


def _mounts(mountinfo: Path) -> list[tuple[str, str, str]]:
    """(mount point, "major:minor", source) of every mount in the table, covered ones too."""
    try:
        text = mountinfo.read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        out.append((point, fields[2], fields[sep + 2] if len(fields) > sep + 2 else ""))
    return out


def _mounted_under(path: Path, mounts: list[tuple[str, str, str]],
                   sys_dev_block: Path) -> list[str]:
    """The block devices of the deepest mount point holding `path` that is backed by a block
    device (a covering tmpfs or an inaccessible node is not; the mount it covers is)."""
    target = os.path.normpath(str(path))
    holding = [m for m in mounts
               if target == m[0] or target.startswith(m[0].rstrip("/") + "/")]
    for point in sorted({m[0] for m in holding}, key=len, reverse=True):
        found = []
        for _, majmin, source in (m for m in holding if m[0] == point):
            if (sys_dev_block / majmin).exists():
                found.append(majmin)
            elif source.startswith("/dev/"):           # btrfs and the like: anonymous st_dev
                try:
                    rdev = os.stat(source).st_rdev
                except OSError:
                    continue
                if rdev:
                    found.append(f"{os.major(rdev)}:{os.minor(rdev)}")
        if found:
            return found
    return []


def _st_dev(path: Path) -> int | None:
    """The device of `path`, or of its nearest readable parent (exportd cannot read the data
    directory itself: its unit makes it inaccessible)."""
    for p in (path, *path.parents):
        try:
            return os.stat(p).st_dev
        except OSError:
            continue
    return None


def _collect(majmin: str, sys_dev_block: Path, disks: set[str], depth: int) -> None:
    node = sys_dev_block / majmin
    try:
        real = node.resolve(strict=True)
    except OSError:
        return
    if (real / "partition").exists():
        real = real.parent
        majmin = (real / "dev").read_text().strip()
    disks.add(majmin)
    if depth > 8:
        return
    slaves = real / "slaves"
    if slaves.is_dir():
        for slave in slaves.iterdir():
            try:
                _collect((slave / "dev").read_text().strip(), sys_dev_block, disks, depth + 1)
            except OSError:
                continue


def is_export_candidate(props: dict, system: set[str]) -> bool:
    """R-61: only a USB disk or partition may become an export medium; never a disk in
    `system` (the boot, root or data disk, from `system_disks`), never a disk on another bus
    (SATA, NVMe, the SD card, device-mapper)."""
    if props.get("SUBSYSTEM", "block") != "block":
        return False
    if props.get("ID_BUS") != "usb":
        return False
    if props.get("DEVTYPE") not in ("disk", "partition"):
        return False
    if not props.get("DEVNAME", "").startswith("/dev/"):
        return False
    disk = disk_of(props)
    return disk is not None and disk not in system


class TwinSource:
    """The portable twin of `UdevSource`: tests `add` and `remove` devices by their props."""

    def __init__(self, present: Iterable[dict] = ()):
        self._queue: queue.Queue[DeviceEvent | None] = queue.Queue()
        for props in present:
            self.add(props)

    def add(self, props: dict) -> None:
        self._queue.put(DeviceEvent("add", dict(props)))

    def remove(self, props: dict) -> None:
        self._queue.put(DeviceEvent("remove", dict(props)))

    def close(self) -> None:
        self._queue.put(None)

    def events(self) -> Iterator[DeviceEvent]:
        while (event := self._queue.get()) is not None:
            yield event


class UdevSource:
    """Block devices from udev (pyudev): the present ones, then the netlink monitor."""

    def __init__(self):
        import pyudev                   # only here: the hardware seam (ARCHITECTURE.md)
        self._pyudev = pyudev
        self._context = pyudev.Context()
        self._monitor = pyudev.Monitor.from_netlink(self._context)
        self._monitor.filter_by("block")
        self._closed = False

    def events(self) -> Iterator[DeviceEvent]:
        self._monitor.start()           # before listing: nothing plugged in between is lost
        for device in self._context.list_devices(subsystem="block"):
            yield DeviceEvent("add", dict(device.properties))
        while not self._closed:
            device = self._monitor.poll(timeout=1.0)
            if device is None:
                continue
            action = "remove" if device.action == "remove" else "add"
            yield DeviceEvent(action, dict(device.properties))

    def close(self) -> None:
        self._closed = True
