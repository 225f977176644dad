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


def test_an_ssd_wiped_as_hardware_md_says_becomes_the_footage_disk(bench):  # noqa: F811
    """hardware.md, "Flashing the image and the first boot", step 2: "Leave the Pi 5's NVMe SSD
    empty: a new SSD is empty; one used before must be wiped first (`wipefs -a`)". `wipefs -a`
    erases the signatures only (the protective MBR's, the two GPT headers' "EFI PART"); the
    partition entries stay, so `blank()` (first and last MiB all zeros) says no, the SSD is
    left alone, and the footage goes onto the card beside the keys (R-82: one medium, a thief
    with the card has both) with a warning in the journal only: firstboot's R-82 finding
    looks at mounted disks and this SSD is not mounted. Either the step says what blank()
    needs (zero the first and last MiB, or blkdiscard) or blank() accepts what wipefs -a
    leaves."""
    card, ssd = bench.image(), bench.disk(48)
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", ssd.device,
       stdin="label: gpt\n,,L\n")                  # used before: a GPT, one ext4 partition
    subprocess.run(["partx", "--add", ssd.device], capture_output=True)
    sh("mkfs.ext4", "-q", "-L", "OLD", ssd.part(1))
    subprocess.run(["partx", "--delete", ssd.device], capture_output=True)
    sh("wipefs", "-a", ssd.device)                 # hardware.md's step 2, as written
    assert probe(ssd.device) == {}

    boot = setup(bench.root, card, ssd)
    assert boot.returncode == 0, boot.stderr
    mounted = dict(mounts_under(bench.root))
    assert str(bench.root / "var/lib/nvr/data") in mounted, (
        "the SSD wiped as hardware.md says was not taken: footage stays on the card beside the "
        f"keys.\n{boot.stdout}\n{boot.stderr}")


def test_the_ssh_host_key_fingerprint_is_shown_where_image_readme_says_to_compare_it(bench):  # noqa: F811
    """image/README.md, "SSH": "the host key was made at first boot: compare its fingerprint
    on the console, `ssh-keygen -lf /var/lib/nvr/system/ssh/ssh_host_ed25519_key.pub`". Nobody
    can run that on the console (the first user's password is locked, 03-run.sh; SSH is what
    is being set up), and nothing prints the fingerprint there: nvr-storage-setup (whose
    output the unit sends to the console) says only "SSH host key ed25519 made", and
    firstboot's console text has the TLS fingerprint alone. The first `ssh beheer@...` is
    then trust on first use, open to a man in the middle on the network."""
    card = bench.image()
    boot = setup(bench.root, card)
    assert boot.returncode == 0, boot.stderr
    pub = bench.root / "var/lib/nvr/system/ssh/ssh_host_ed25519_key.pub"
    fingerprint = sh("ssh-keygen", "-lf", str(pub)).split()[1]          # SHA256:...
    assert fingerprint in boot.stdout, (
        f"the host key's fingerprint {fingerprint} is not on the console:\n{boot.stdout}")
