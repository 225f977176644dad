"""Red team 14b: the /dev/nvr/ slot names (image/rootfs/overlay/usr/lib/udev/rules.d/
70-nvr-slots.rules and /usr/lib/nvr/nvr-slot-link), which RAUC's system.conf installs into.

The rule names partitions 2, 3, 5 and 6 of ANY disk whose partition 1 is labelled NVRCONFIG,
a USB stick included (the rule has no ID_BUS test and nvr-slot-link does not ask which disk
holds the root, as nvr-storage-setup's boot_disk does). A stick made with the image's layout
(or a second card in a reader) then claims /dev/nvr/root-a, root-b, boot-a and boot-b too;
udev gives a contested link to the device it saw last, the stick plugged in after boot. An
update (`nvr update install`) then writes the inactive slot onto the stick, marks the real
disk's untouched slot for tryboot, and the device boots whatever that slot held before: the
previous version, a downgrade, committed if it passes the verdict.

Real loop devices laid out as the image (tests/test_storage_setup.py), the real helper script
run as udev runs it (`nvr-slot-link KERNEL-NAME`). Needs root.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_storage_setup import Loop, lay_out_image

SLOT_LINK = (Path(__file__).resolve().parents[1] / "image" / "rootfs" / "overlay" / "usr" / "lib"
             / "nvr" / "nvr-slot-link")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: loop devices and mkfs")


def test_two_disks_with_the_image_layout_never_both_get_the_slot_names(tmp_path):
    card = Loop(tmp_path / "card.img", 64)
    stick = Loop(tmp_path / "stick.img", 64)
    try:
        lay_out_image(card)
        lay_out_image(stick)
        named: dict[str, list[str]] = {}
        for disk in (card, stick):
            for number in (2, 3, 5, 6):
                done = subprocess.run(["sh", str(SLOT_LINK), f"{disk.name}p{number}"],
                                      capture_output=True, text=True)
                if done.returncode == 0:
                    named.setdefault(done.stdout.strip(), []).append(f"{disk.name}p{number}")
        twice = {link: parts for link, parts in named.items() if len(parts) > 1}
        assert not twice, f"/dev/nvr/ names claimed by two disks: {twice}"
    finally:
        card.detach()
        stick.detach()
