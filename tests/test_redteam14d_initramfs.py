"""Red team 14d: a FIFO at system/machine-id on partition 7 hangs the initramfs, so the device
never boots.

image/rootfs/overlay/etc/initramfs-tools/scripts/init-bottom/nvr-machine-id mounts partition 7
of the root's disk read-only and does `[ -r "$place/system/machine-id" ] && read -r id <
"$place/system/machine-id"`. `-r` is true for a FIFO, and opening a FIFO for reading blocks
until a writer comes, which in the initramfs never happens: init-bottom never finishes, systemd
never starts, no recording, no web, no console (its comment promises "anything unexpected
leaves the boot as it was"). Who can put it there: whoever has the card for a minute (or a
second card given back after repair), or anything running as root once; nothing at boot
removes it. Severity: low (availability; the same person could wipe the card, but this looks
like a dead device and survives every reflash of the root slots, which leave partition 7).
What held: only a 32-hex id is ever written, only into overlayroot's RAM layer; a symlink or a
block device there is only read.

Real script (its `. /scripts/functions` pointed at two stand-in functions), a real partitioned
loop disk with an ext4 partition 7, a real overlay mount as the new root, in a mount namespace.
Suggested fix: `[ -f "$place/system/machine-id" ] && [ ! -L ... ]` before reading, or read with
a bound (`head -c 33` under `timeout`, which busybox has)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = (ROOT / "image" / "rootfs" / "overlay" / "etc" / "initramfs-tools" / "scripts" /
          "init-bottom" / "nvr-machine-id")
TOOLS = ("losetup", "sfdisk", "mkfs.ext4", "unshare", "mknod", "timeout", "mount", "mkfifo")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in TOOLS),
    reason="needs root and " + ", ".join(TOOLS))

INSIDE = r"""
set -e
W=$1 L=$2
mount --make-rprivate /
mount -t tmpfs tmpfs /dev
mknod /dev/null c 1 3
for p in 1 7; do mknod /dev/${L}p$p b $(tr : ' ' < /sys/class/block/${L}p$p/dev); done
mount -t tmpfs tmpfs /run
mount -t overlay overlay -o lowerdir=$W/lower,upperdir=$W/upper,workdir=$W/work $W/root
set +e
ROOT=/dev/${L}p1 rootmnt=$W/root timeout 20 sh $W/script
echo "rc=$?"
"""


def _run(w: Path, loop: str) -> str:
    done = subprocess.run(["unshare", "-m", "sh", str(w / "inside.sh"), str(w), loop],
                          capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def _partition7(w: Path, loop: str, make) -> None:
    dev = w / "p7"
    major, minor = (Path(f"/sys/class/block/{loop}p7/dev").read_text().strip().split(":"))
    subprocess.run(["mknod", str(dev), "b", major, minor], check=True)
    mnt = w / "m"
    mnt.mkdir(exist_ok=True)
    subprocess.run(["mount", str(dev), str(mnt)], check=True)
    try:
        (mnt / "system").mkdir(exist_ok=True)
        target = mnt / "system" / "machine-id"
        target.unlink(missing_ok=True)
        make(target)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        dev.unlink()


def test_a_fifo_on_partition_7_does_not_hang_the_boot(tmp_path):
    # /dev is covered inside the namespace, so the work folder must not lie below /dev/shm
    w = Path(tempfile.mkdtemp(prefix="rt14d-initramfs-", dir="/tmp"))
    loop = None
    try:
        for d in ("lower/etc", "upper", "work", "root"):
            (w / d).mkdir(parents=True)
        (w / "functions").write_text('resolve_device() { echo "$1"; }\n'
                                     'log_success_msg() { echo "$@"; }\n')
        (w / "script").write_text(SCRIPT.read_text().replace(". /scripts/functions",
                                                             f". {w}/functions"))
        (w / "inside.sh").write_text(INSIDE)
        image = w / "disk.img"
        with open(image, "wb") as f:
            f.truncate(120 << 20)             # partition 7 the rest: room for 48 MB
        table = "label: gpt\n" + ",4M\n" * 6 + ",\n"
        subprocess.run(["sfdisk", "-q", str(image)], input=table, text=True, check=True)
        loop = subprocess.run(["losetup", "-P", "--find", "--show", str(image)],
                              capture_output=True, text=True, check=True).stdout.strip()
        name = Path(loop).name
        for _ in range(50):                 # the partitions appear a moment later, or by partx
            if Path(f"/sys/class/block/{name}p7").exists():
                break
            subprocess.run(["partx", "-a", loop], capture_output=True)
            time.sleep(0.1)
        subprocess.run(["mkfs.ext4", "-q", "-F", f"/dev/{name}p7"] if
                       Path(f"/dev/{name}p7").exists() else ["true"], check=True)
        if not Path(f"/dev/{name}p7").exists():          # no udev: make the node ourselves
            major, minor = Path(f"/sys/class/block/{name}p7/dev").read_text().strip().split(":")
            node = w / "p7"
            subprocess.run(["mknod", str(node), "b", major, minor], check=True)
            subprocess.run(["mkfs.ext4", "-q", "-F", str(node)], check=True)
            node.unlink()
        # The harness works: a good id is copied into the RAM layer.
        _partition7(w, name, lambda p: p.write_text("0123456789abcdef0123456789abcdef\n"))
        out = _run(w, name)
        assert "rc=0" in out and (w / "upper" / "etc" / "machine-id").read_text() == \
            "0123456789abcdef0123456789abcdef\n", out
        (w / "upper" / "etc" / "machine-id").unlink()
        # A FIFO in its place: the boot must go on as without an id.
        _partition7(w, name, lambda p: os.mkfifo(p))
        out = _run(w, name)
        assert "rc=0" in out, ("init-bottom/nvr-machine-id did not finish in 20 s with a FIFO "
                               f"at system/machine-id on partition 7: the boot hangs ({out})")
        # Reviewer C: a huge regular file without a newline was read a byte at a time into
        # memory (48 MB: past 20 s; partition 7 holds gigabytes). At most 33 bytes are read.
        _partition7(w, name, lambda p: p.write_bytes(b"0123456789abcdef" * (3 << 20)))
        out = _run(w, name)
        assert "rc=0" in out, ("init-bottom/nvr-machine-id did not finish in 20 s with a 48 MB "
                               f"machine-id file without a newline ({out})")
        assert not (w / "upper" / "etc" / "machine-id").exists()     # not an id: not used
    finally:
        if loop:
            subprocess.run(["losetup", "-d", loop], check=False)
        shutil.rmtree(w, ignore_errors=True)
