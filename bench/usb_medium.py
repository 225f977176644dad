"""A block medium that writes at a USB stick's speed, for benchmarks that write to the stick.

An export goes to a USB stick, which writes at 10-40 MB/s (a USB 2 stick, a cheap USB 3 one)
to 100-160 MB/s (a good USB 3 or keypad stick); the temporary directory of a benchmark writes
into the page cache at several GB/s, so there every path is CPU-bound and a comparison with a
plain copy says nothing about the stick. This medium is a real block device with a real
filesystem whose writes reach their backing file no faster than a stick's:

  image file -> qemu-storage-daemon (a throttle group, `x-bps-write`) -> FUSE export (a file)
  -> loop device -> ext4 (mkfs.ext4, everything initialised up front) -> mounted

The kernel's page cache and writeback sit in front of it as in front of a stick, so a writer
that fsyncs waits for the throttled device, and one that computes while earlier writes drain
overlaps the two, as on the device. Needs root, /dev/fuse, losetup and qemu-storage-daemon
(Debian: qemu-system-common); `unavailable()` names what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def unavailable() -> str | None:
    """Why the medium cannot be made on this machine, or None."""
    if os.geteuid() != 0:
        return "needs root (losetup, mount)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    for tool in ("qemu-storage-daemon", "losetup", "mkfs.ext4"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _wait_for_mount(point: Path, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(line.split()[1] == str(point) for line in open("/proc/mounts")):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"qemu-storage-daemon did not export {point}: {log.read_text()[-500:]}")


@contextmanager
def usb_medium(write_mbps: float, size_mb: int = 768,
               work: str | None = None) -> Iterator[Path]:
    """A mounted ext4 filesystem whose device writes at `write_mbps` MB/s; yields its root."""
    with tempfile.TemporaryDirectory(dir=work) as d:
        d = Path(d)
        image, exported, mnt, log = d / "stick.img", d / "stick.raw", d / "mnt", d / "qsd.log"
        with open(image, "wb") as f:
            f.truncate(size_mb << 20)
        exported.touch()
        mnt.mkdir()
        proc = subprocess.Popen(
            ["qemu-storage-daemon",
             "--object", f"throttle-group,id=stick,x-bps-write={int(write_mbps * 1e6)}",
             "--blockdev", f"driver=file,node-name=file0,filename={image}",
             "--blockdev", "driver=raw,node-name=raw0,file=file0",
             "--blockdev", "driver=throttle,node-name=slow0,throttle-group=stick,file=raw0",
             "--export", f"type=fuse,id=exp0,node-name=slow0,mountpoint={exported},"
                         "writable=on"],
            stdout=open(log, "w"), stderr=subprocess.STDOUT)
        loop = None
        try:
            _wait_for_mount(exported, proc, log)
            loop = subprocess.run(["losetup", "-f", "--show", str(exported)], check=True,
                                  capture_output=True, text=True).stdout.strip()
            # Inode tables and journal written now: no lazy init competing with the benchmark.
            subprocess.run(["mkfs.ext4", "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                            loop], check=True)
            subprocess.run(["mount", "-o", "nosuid,nodev,noexec", loop, str(mnt)], check=True)
            try:
                yield mnt
            finally:
                subprocess.run(["umount", str(mnt)], check=False)
        finally:
            if loop:
                subprocess.run(["losetup", "-d", loop], check=False)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            subprocess.run(["umount", "-l", str(exported)], check=False, capture_output=True)
