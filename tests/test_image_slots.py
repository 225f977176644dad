"""The /dev/nvr/ slot names RAUC installs into (image/rootfs/overlay/usr/lib/udev/rules.d/
70-nvr-slots.rules, /usr/lib/nvr/nvr-slot-link): partitions 2, 3, 5 and 6 of the disk holding the
running root, and of no other disk, whatever its bus (image/README.md, "What the root holds").

Real loop devices laid out as the image (tests/test_storage_setup.py), the real helper run as
udev runs it (`nvr-slot-link KERNEL-NAME`), the kernel command line given by the seam
NVR_STORAGE_CMDLINE as a Pi's cmdline.txt writes it. Needs root.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_storage_setup import Loop, lay_out_image, probe_partition, sh

SLOT_LINK = (Path(__file__).resolve().parents[1] / "image" / "rootfs" / "overlay" / "usr" / "lib"
             / "nvr" / "nvr-slot-link")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: loop devices and mkfs")


@pytest.fixture
def loops(tmp_path):
    made: list[Loop] = []

    def make(name: str) -> Loop:
        made.append(Loop(tmp_path / f"{name}.img", 64))
        lay_out_image(made[-1])
        return made[-1]

    yield make
    for loop in made:
        loop.detach()


def names(disk: Loop, cmdline: Path) -> dict[int, str]:
    """Partition number -> the /dev/nvr/ name nvr-slot-link gives it (none: not named)."""
    found = {}
    for number in (1, 2, 3, 5, 6):
        done = subprocess.run(["sh", str(SLOT_LINK), f"{disk.name}p{number}"],
                              capture_output=True, text=True,
                              env=dict(os.environ, NVR_STORAGE_CMDLINE=str(cmdline)))
        if done.returncode == 0:
            found[number] = done.stdout.strip()
    return found


def test_only_the_disk_holding_the_root_gets_the_slot_names(loops, tmp_path):
    stick, card = loops("stick"), loops("card")          # the stick first: udev's order differs
    cmdline = tmp_path / "cmdline"
    partuuid = probe_partition(card.part(5))["PART_ENTRY_UUID"]
    cmdline.write_text(f"console=tty1 root=PARTUUID={partuuid} rootfstype=ext4 ro\n")
    assert names(card, cmdline) == {2: "boot-a", 3: "boot-b", 5: "root-a", 6: "root-b"}
    assert names(stick, cmdline) == {}
    # Booted from slot B, root= as a device name: the same disk, the same names.
    cmdline.write_text(f"root={card.part(6)} ro\n")
    assert names(card, cmdline) == {2: "boot-a", 3: "boot-b", 5: "root-a", 6: "root-b"}
    assert names(stick, cmdline) == {}


def test_a_card_cloned_from_the_same_image_makes_root_ambiguous_and_nothing_is_named(loops,
                                                                                    tmp_path):
    card, clone = loops("card"), loops("clone")
    disk_id = sh("sfdisk", "--disk-id", card.device).strip()
    sh("sfdisk", "--disk-id", "--no-reread", "--no-tell-kernel", clone.device, disk_id)
    partuuid = probe_partition(card.part(5))["PART_ENTRY_UUID"]
    assert probe_partition(clone.part(5))["PART_ENTRY_UUID"] == partuuid
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(f"root=PARTUUID={partuuid} ro\n")
    assert names(card, cmdline) == {} and names(clone, cmdline) == {}


def test_the_root_disk_without_nvrconfig_gets_no_names(loops, tmp_path):
    card = loops("card")
    sh("fatlabel", card.part(1), "OTHER")
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(f"root={card.part(5)} ro\n")
    assert names(card, cmdline) == {}


def test_the_root_found_by_overlayroots_lower_mount_as_findmnt_prints_it(loops, tmp_path):
    """On the image the root is overlayroot's overlay; its slot is mounted read-only at
    /media/root-ro, and nvr-slot-link asks findmnt for that mount's device number first. findmnt
    pads the column with spaces: the padded number once named no disk, so the image's
    /dev/nvr/ links were missing (the full system test found it). Real findmnt, a real ext4
    slot mounted at /media/root-ro in a private mount namespace, and a kernel command line
    naming another disk, so only the mount can give the answer."""
    stick, card = loops("stick"), loops("card")
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(f"root={stick.part(5)} ro\n")
    script = (f"mount --make-rprivate / && mkdir -p /media/root-ro && "
              f"mount -o ro {card.part(5)} /media/root-ro && "
              f"for n in 2 3 5 6; do sh {SLOT_LINK} {card.name}p$n || echo none; done; "
              f"sh {SLOT_LINK} {stick.name}p2 || echo none")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, NVR_STORAGE_CMDLINE=str(cmdline)), timeout=60)
    assert done.stdout.split() == ["boot-a", "boot-b", "root-a", "root-b", "none"], done
