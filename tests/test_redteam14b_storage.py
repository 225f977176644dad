"""Red team 14b: can nvr-storage-setup (root, at every boot) be made to format a disk with data?

`half_made` lets a boot finish a footage disk a power cut interrupted: the intent on NVRDATA
(system/footage-setup) names the disk by its KERNEL NAME and SIZE only, and the disk then
counts as ours when it holds exactly one partition on which blkid finds no signature. A
different disk of the same size in the same slot (nvme0n1: the SSD swapped after the failed
first boot, an identical model from the shelf) whose one partition holds data blkid does not
know (an encrypted container such as VeraCrypt's, a file system whose superblock was wiped,
raw data) is formatted without a word. Proposed fix: write the GPT with a label-id chosen
beforehand (sfdisk's `label-id:`), keep it in the intent, and finish only a disk carrying it.

Real loop devices, the real script as a subprocess with its seams (tests/test_storage_setup.py's
bench); needs root.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from test_storage_setup import MIB, bench, mounts_under, probe, setup, sh, unmount_all  # noqa: F401

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: loop devices, mkfs and mount (CI runs make test as root)")


def test_a_stale_footage_intent_does_not_format_another_disk_with_data(bench):  # noqa: F811
    card, other = bench.image(), bench.disk(48)
    first = setup(bench.root, card)                 # the first boot: NVRDATA, no footage disk
    assert first.returncode == 0, first.stderr
    # What a first boot cut off during make_footage_disk leaves on NVRDATA: the intent for a
    # disk of this name and size (the disk itself since replaced by `other`).
    system = bench.root / "var/lib/nvr/system"
    (system / "footage-setup").write_text(f"{other.name} {other.sectors()}\n")
    unmount_all(bench.root)
    # `other`: someone's disk, one GPT partition holding data blkid has no name for.
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", other.device,
       stdin="label: gpt\n,,L\n")
    subprocess.run(["partx", "--add", other.device], capture_output=True)
    with open(other.part(1), "r+b") as part:
        part.write(os.urandom(8 * MIB))             # random from its first byte: a container
    assert probe(other.part(1)) == {}
    before = other.sha256()

    boot = setup(bench.root, card, other)
    assert other.sha256() == before, (
        f"{other.device} (someone's data) was formatted as the footage disk: {boot.stdout}")
    assert str(bench.root / "var/lib/nvr/data") not in dict(mounts_under(bench.root))
