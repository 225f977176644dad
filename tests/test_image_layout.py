"""image/assemble-disk.sh: the partition layout of image/updates/README.md, built as an
unprivileged file operation and checked with the tools a technisch beheerder would use on a
card: sfdisk, fsck.vfat, e2fsck, blkid, mtools (issue 14 item 1)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSEMBLE = ROOT / "image" / "assemble-disk.sh"
MIB = 1024 * 1024
# Small sizes for the test; the layout (order, types, labels, gaps) is the real one.
CONFIG_MIB, BOOT_MIB, ROOT_MIB = 64, 64, 32


@pytest.fixture(scope="module")
def disk(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("layout")
    rootfs, boot = base / "rootfs", base / "boot"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "boot" / "firmware").mkdir(parents=True)
    (rootfs / "etc" / "os-release").write_text("ID=debian\n")
    (rootfs / "usr" / "bin").mkdir(parents=True)
    (rootfs / "usr" / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(rootfs / "usr" / "bin" / "tool", 0o755)
    (boot / "overlays").mkdir(parents=True)
    (boot / "config.txt").write_text("arm_64bit=1\n")
    (boot / "overlays" / "x.dtbo").write_bytes(b"\xd0\x0d\xfe\xed")
    # pi-gen's own cmdline.txt, with its placeholder root and rw: both replaced.
    (boot / "cmdline.txt").write_text(
        "console=serial0,115200 console=tty1 root=PARTUUID=ROOTDEV rootfstype=ext4 "
        "fsck.repair=yes rootwait rw\n")
    out = base / "disk.img"
    env = dict(os.environ, NVR_CONFIG_MIB=str(CONFIG_MIB), NVR_BOOT_MIB=str(BOOT_MIB),
               NVR_ROOT_MIB=str(ROOT_MIB))
    run = subprocess.run([str(ASSEMBLE), str(rootfs), str(boot), str(out)], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    table = json.loads(subprocess.run(["sfdisk", "-J", str(out)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]
    return {"out": out, "table": table, "base": base}


def partition(disk: dict, number: int) -> dict:
    for p in disk["table"]["partitions"]:
        if p["node"].endswith(f"img{number}"):
            return p
    raise AssertionError(f"no partition {number} in {disk['table']}")


def extract(disk: dict, number: int) -> Path:
    """One partition copied out of the image (fsck tools take no offset)."""
    p = partition(disk, number)
    path = disk["base"] / f"p{number}.bin"
    subprocess.run(["dd", f"if={disk['out']}", f"of={path}", "bs=512", f"skip={p['start']}",
                    f"count={p['size']}", "conv=sparse", "status=none"], check=True)
    return path


def probe(disk: dict, number: int) -> dict:
    p = partition(disk, number)
    text = subprocess.run(["blkid", "-p", "-o", "export", "-O", str(p["start"] * 512),
                           str(disk["out"])], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def mtype(disk: dict, number: int, name: str) -> str:
    offset = partition(disk, number)["start"] * 512
    return subprocess.run(["mtype", "-i", f"{disk['out']}@@{offset}", f"::/{name}"],
                          capture_output=True, text=True, check=True).stdout


def test_mbr_with_three_primary_an_extended_and_two_logical_partitions_no_p7(disk):
    table = disk["table"]
    assert table["label"] == "dos"
    types = {int(p["node"].rsplit("img", 1)[1]): p["type"] for p in table["partitions"]}
    assert types == {1: "c", 2: "c", 3: "c", 4: "5", 5: "83", 6: "83"}   # no 7: first boot
    assert partition(disk, 1)["size"] * 512 == CONFIG_MIB * MIB
    assert partition(disk, 2)["size"] * 512 == partition(disk, 3)["size"] * 512 == BOOT_MIB * MIB
    assert partition(disk, 5)["size"] * 512 == partition(disk, 6)["size"] * 512 == ROOT_MIB * MIB
    # Every partition on a 1 MiB boundary, none overlapping, the logicals inside p4, which
    # ends where the image ends (first boot grows it with p7).
    starts = [p["start"] for p in table["partitions"]]
    assert all(s % 2048 == 0 for s in starts)
    ext = partition(disk, 4)
    for n in (5, 6):
        p = partition(disk, n)
        assert ext["start"] < p["start"] and p["start"] + p["size"] <= ext["start"] + ext["size"]
    assert (ext["start"] + ext["size"]) * 512 == disk["out"].stat().st_size
    assert partition(disk, 5)["start"] + partition(disk, 5)["size"] < partition(disk, 6)["start"]


def test_labels_and_file_systems(disk):
    expected = {1: ("vfat", "NVRCONFIG"), 2: ("vfat", "NVR_BOOT_A"), 3: ("vfat", "NVR_BOOT_B"),
                5: ("ext4", "NVR_ROOT_A"), 6: ("ext4", "NVR_ROOT_B")}
    found = {n: (probe(disk, n)["TYPE"], probe(disk, n)["LABEL"]) for n in expected}
    assert found == expected
    assert probe(disk, 1)["VERSION"] == "FAT32"
    # Slot B is a copy with its own identity: an update writes one slot and labels by UUID
    # would otherwise be ambiguous.
    assert probe(disk, 5)["UUID"] != probe(disk, 6)["UUID"]


def test_fsck_finds_every_file_system_clean(disk):
    for n in (1, 2, 3):
        run = subprocess.run(["fsck.vfat", "-n", str(extract(disk, n))], capture_output=True,
                             text=True)
        assert run.returncode == 0, f"p{n}: {run.stdout}{run.stderr}"
    for n in (5, 6):
        run = subprocess.run(["e2fsck", "-f", "-n", str(extract(disk, n))],
                             capture_output=True, text=True)
        assert run.returncode == 0, f"p{n}: {run.stdout}{run.stderr}"


def test_autoboot_txt_boots_partition_2_with_nothing_pending(disk):
    assert mtype(disk, 1, "autoboot.txt").replace("\r", "") == (
        "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n")


def test_each_boot_slot_names_its_own_root_partition(disk):
    disk_id = disk["table"]["id"].removeprefix("0x")
    for n, root in ((2, 5), (3, 6)):
        words = mtype(disk, n, "cmdline.txt").split()
        roots = [w for w in words if w.startswith("root=")]
        assert roots == [f"root=PARTUUID={disk_id}-{root:02d}"], words
        assert "ro" in words and "rw" not in words
        assert "rootwait" in words and "console=tty1" in words      # the rest kept
        assert mtype(disk, n, "config.txt") == "arm_64bit=1\n"
        offset = partition(disk, n)["start"] * 512
        listing = subprocess.run(["mdir", "-b", "-i", f"{disk['out']}@@{offset}",
                                  "::/overlays"], capture_output=True, text=True,
                                 check=True).stdout
        assert listing.split() == ["::/overlays/x.dtbo"]


def test_root_slots_hold_the_tree_with_modes(disk):
    for n in (5, 6):
        image = extract(disk, n)
        listing = subprocess.run(["debugfs", "-R", "stat /usr/bin/tool", str(image)],
                                 capture_output=True, text=True, check=True).stdout
        assert "Mode:  0755" in listing, listing
        content = subprocess.run(["debugfs", "-R", "cat /etc/os-release", str(image)],
                                 capture_output=True, text=True, check=True).stdout
        assert content == "ID=debian\n"


# --- The pi-gen stage and the build (item 1): what can be checked without an arm64 chroot,
# pi-gen or the Raspberry Pi archive (image/README.md, "What runs where").

STAGE = ROOT / "image" / "pi-gen" / "stage-nvr"
SCRIPTS = [p for p in [
    ROOT / "image" / "build.sh", ROOT / "image" / "assemble-disk.sh",
    ROOT / "image" / "rootfs" / "install.sh", STAGE / "prerun.sh",
    *sorted((STAGE / "00-nvr").glob("*.sh")),
    *sorted((ROOT / "image" / "rootfs" / "overlay" / "usr" / "lib" / "nvr").iterdir()),
    *sorted((ROOT / "image" / "rootfs" / "overlay" / "etc" / "initramfs-tools").rglob("*")),
    *sorted((ROOT / "tools" / "vm").glob("*.sh"))]
    if p.is_file() and p.read_text().startswith(("#!/bin/sh", "#!/bin/bash"))]   # not the Python ones
# Packages of the stage that only the Raspberry Pi archive has (archive.raspberrypi.com), which
# this host does not reach: named in image/README.md.
RASPBERRY_PI_ARCHIVE_ONLY = {"python3-picamera2"}


def packages(path: Path) -> list[str]:
    """A pi-gen NN-packages file as pi-gen reads it: comments dropped, words split."""
    return " ".join(line.split("#", 1)[0] for line in path.read_text().splitlines()).split()


def test_every_image_script_parses_and_passes_shellcheck():
    for script in SCRIPTS:
        shell = "bash" if script.read_text().startswith("#!/bin/bash") else "sh"
        run = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert run.returncode == 0, f"{script}: {run.stderr}"
    run = subprocess.run(["shellcheck", "-S", "warning", "-x", *map(str, SCRIPTS)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_pi_gen_stage_follows_pi_gen_conventions():
    # pi-gen runs prerun.sh and NN-run.sh only when executable; NN-run-chroot.sh is fed to
    # bash in the chroot.
    assert os.access(STAGE / "prerun.sh", os.X_OK)
    for name in ("01-run.sh", "03-run.sh"):
        assert os.access(STAGE / "00-nvr" / name, os.X_OK), name
    chroot = (STAGE / "00-nvr" / "02-run-chroot.sh").read_text()
    assert "sh /root/nvr-stage/install.sh /root/nvr-stage" in chroot
    # No EXPORT_IMAGE: pi-gen's own export would make its two-partition layout.
    assert not (STAGE / "EXPORT_IMAGE").exists()
    build = (ROOT / "image" / "build.sh").read_text()
    assert 'STAGE_LIST="stage0 stage1 stage2 $repo/image/pi-gen/stage-nvr"' in build
    assert "PI_GEN_TAG=2026-06-18-raspios-bookworm-arm64" in build
    assert 'touch "$pigen/stage2/SKIP_IMAGES"' in build


def test_stage_packages_exist_in_bookworm_and_the_vm_installs_the_same():
    release = Path("/etc/os-release").read_text()
    assert "VERSION_CODENAME=bookworm" in release, "this check asks the host's bookworm apt"
    wanted = packages(STAGE / "00-nvr" / "00-packages")
    assert {"rauc", "rauc-service", "cryptsetup-bin", "overlayroot"} <= set(wanted)
    run = subprocess.run(["apt-cache", "show", "--no-all-versions", *wanted],
                         capture_output=True, text=True)
    known = {line.split(":", 1)[1].strip() for line in run.stdout.splitlines()
             if line.startswith("Package:")}
    assert run.returncode == 0 and known == set(wanted), (set(wanted) - known, run.stderr)
    no_recommends = packages(STAGE / "00-nvr" / "00-packages-nr")
    assert set(no_recommends) == RASPBERRY_PI_ARCHIVE_ONLY
    for name in no_recommends:
        run = subprocess.run(["apt-cache", "show", "--no-all-versions", name],
                             capture_output=True, text=True)
        assert run.returncode != 0, f"{name} is in Debian after all: move it to 00-packages"
    # The virtual device runs the same install.sh: it needs the same Debian packages, listed
    # or pulled in by one listed (cryptsetup-bin by cryptsetup).
    guest = packages(ROOT / "tools" / "vm" / "guest-packages.txt")
    depends = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests",
                              *guest], capture_output=True, text=True, check=True).stdout
    pulled = {line.split(":", 1)[1].strip() for line in depends.splitlines()
              if line.strip().startswith("Depends:")}
    assert set(wanted) <= set(guest) | pulled, set(wanted) - set(guest) - pulled
