"""The disks at first boot (issue 14 item 1): image/rootfs/overlay/usr/lib/nvr/nvr-storage-setup.

Real loop devices holding sparse files partitioned like the image (image/updates/README.md,
sizes in MiB instead of GiB), the real sfdisk, partx, mkfs.ext4, resize2fs and mount, and the
script run as a subprocess with its seams (image/README.md, "The disks at first boot"):
NVR_STORAGE_ROOT (a directory standing in for /), NVR_STORAGE_DISKS (only our loop devices),
NVR_STORAGE_FOOTAGE_KINDS (loop devices may hold footage here) and NVR_STORAGE_BUS (a loop
device said to be on USB). The kernel here parses no partition table itself (losetup -P finds
nothing), so the helper adds the image's partitions with partx as the kernel does at boot.

Needs root (loop devices, mkfs, mount): CI runs `make test` as root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "image" / "rootfs" / "overlay" / "usr" / "lib" / "nvr" / "nvr-storage-setup"
SYSTEMD = REPO / "systemd"
MIB = 1 << 20

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: loop devices, mkfs and mount (CI runs make test as root)")


def sh(*cmd: str, stdin: str | None = None) -> str:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True).stdout


class Loop:
    """A sparse file attached to a loop device; its partitions added as the kernel would."""

    def __init__(self, path: Path, size_mib: int):
        self.path = path
        if not path.exists():
            with open(path, "wb") as f:
                f.truncate(size_mib * MIB)
        self.device = sh("losetup", "--find", "--show", str(path)).strip()
        self.name = os.path.basename(self.device)
        self.add_partitions()

    def add_partitions(self) -> None:
        if self.has_table():
            subprocess.run(["partx", "--add", self.device], capture_output=True)

    def has_table(self) -> bool:
        return subprocess.run(["blkid", "-p", "-s", "PTTYPE", "-o", "value", self.device],
                              capture_output=True, text=True).stdout.strip() != ""

    def part(self, number: int) -> str:
        return f"{self.device}p{number}"

    def table(self) -> dict:
        return json.loads(sh("sfdisk", "--json", self.device))["partitiontable"]

    def sectors(self) -> int:
        return int(sh("blockdev", "--getsz", self.device))

    def sha256(self) -> str:
        with open(self.device, "rb") as disk:
            return hashlib.file_digest(disk, "sha256").hexdigest()

    def detach(self) -> None:
        subprocess.run(["partx", "--delete", self.device], capture_output=True)
        subprocess.run(["losetup", "--detach", self.device], capture_output=True)


def lay_out_image(loop: Loop) -> None:
    """The image's layout, small: p1 NVRCONFIG, p2/p3 boot slots, p4 extended to the end of
    p6 (the image file ends there; the medium is bigger), p5/p6 root slots, no p7."""
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", loop.device,
       stdin="label: dos\n,4M,c\n,4M,c\n,4M,c\n,18M,5\n,8M,83\n,8M,83\n")
    sh("partx", "--add", loop.device)
    sh("mkfs.vfat", "-n", "NVRCONFIG", loop.part(1))
    sh("mkfs.vfat", "-n", "NVR_BOOT_A", loop.part(2))
    sh("mkfs.vfat", "-n", "NVR_BOOT_B", loop.part(3))
    sh("mkfs.ext4", "-q", "-L", "NVR_ROOT_A", loop.part(5))
    sh("mkfs.ext4", "-q", "-L", "NVR_ROOT_B", loop.part(6))


def fake_root(root: Path) -> Path:
    """What the script needs of /: the users and tmpfiles of systemd/, the image's /etc/nvr
    and the machine-id systemd made for this boot."""
    for kind in ("sysusers.d", "tmpfiles.d"):
        target = root / "usr" / "lib" / kind
        target.mkdir(parents=True)
        shutil.copy(SYSTEMD / kind / "nvr.conf", target / "nvr.conf")
    (root / "etc" / "nvr").mkdir(parents=True)
    sh("systemd-sysusers", f"--root={root}", "nvr.conf")
    (root / "etc" / "nvr" / "nvr.toml").write_text("# the image's default configuration\n")
    (root / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    return root


def setup(root: Path, *disks: Loop, usb: tuple[Loop, ...] = (),
          cmdline: str | None = None, **extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **extra, NVR_STORAGE_ROOT=str(root),
               NVR_STORAGE_DISKS=" ".join(d.name for d in disks),
               NVR_STORAGE_FOOTAGE_KINDS="loop*",
               NVR_STORAGE_BUS=" ".join(f"{d.name}=usb" for d in usb))
    if cmdline is not None:
        (root / "cmdline").write_text(cmdline + "\n")
        env["NVR_STORAGE_CMDLINE"] = str(root / "cmdline")
    return subprocess.run(["python3", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=300)


def mounts_under(root: Path) -> list[tuple[str, str]]:
    """(mount point, major:minor) of every mount below root, in the order they were made."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = fields[4].encode().decode("unicode_escape")
        if point.startswith(str(root) + "/"):
            found.append((point, fields[2]))
    return found


def unmount_all(root: Path) -> None:
    for point, _ in reversed(mounts_under(root)):
        subprocess.run(["umount", point], capture_output=True)


def dev_of(device: str) -> str:
    rdev = os.stat(device).st_rdev
    return f"{os.major(rdev)}:{os.minor(rdev)}"


def probe(device: str) -> dict[str, str]:
    """The signatures blkid finds on the device itself (not where its partition lies)."""
    out = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True,
                         text=True).stdout
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {k: v for k, v in found.items() if k != "DEVNAME" and not k.startswith("PART_ENTRY_")}


def probe_partition(device: str) -> dict[str, str]:
    """Where the partition lies (PART_ENTRY_UUID: the PARTUUID of an MBR partition)."""
    out = sh("blkid", "-p", "-o", "export", device)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def fs_bytes(device: str) -> int:
    head = dict(line.split(":", 1) for line in sh("dumpe2fs", "-h", device).splitlines()
                if ":" in line)
    return int(head["Block count"]) * int(head["Block size"])


def has_cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))   # CAP_SYS_RESOURCE
    return False


@pytest.fixture
def bench(tmp_path):
    """Loop devices and mounts made by a test, undone whatever happens."""
    loops: list[Loop] = []
    root = fake_root(tmp_path / "root")

    class Bench:
        def __init__(self):
            self.root = root

        def image(self, size_mib: int = 64) -> Loop:
            loops.append(Loop(tmp_path / f"card{len(loops)}.img", size_mib))
            lay_out_image(loops[-1])
            return loops[-1]

        def disk(self, size_mib: int = 32) -> Loop:
            loops.append(Loop(tmp_path / f"disk{len(loops)}.img", size_mib))
            return loops[-1]

        def reattach(self, loop: Loop) -> Loop:
            loop.detach()
            loops.remove(loop)
            loops.append(Loop(loop.path, 0))
            return loops[-1]

    yield Bench()
    unmount_all(root)
    for loop in loops:
        loop.detach()


def test_first_boot_makes_p7_nvrdata_to_the_end_mounts_it_and_keeps_the_system_files(bench):
    card = bench.image()
    # The disk is in use as on the device: its root slot is mounted read-only (overlayroot's
    # lower layer), so the table is changed without a re-read, partition by partition.
    lower = bench.root / "media/root-ro"
    lower.mkdir(parents=True)
    sh("mount", "-o", "ro", card.part(5), str(lower))
    done = setup(bench.root, card)
    assert done.returncode == 0, done.stderr
    parts = {p["node"]: p for p in card.table()["partitions"]}
    p7 = parts[card.part(7)]
    assert p7["type"] == "83"
    extended = parts[card.part(4)]
    # p7 lies in the extended partition, after p6, and both reach the end of the medium.
    p6 = parts[card.part(6)]
    assert p7["start"] > p6["start"] + p6["size"] - 1
    assert card.sectors() - (p7["start"] + p7["size"]) < 2048
    assert extended["start"] + extended["size"] == card.sectors()
    assert probe(card.part(7))["TYPE"] == "ext4"
    assert probe(card.part(7))["LABEL"] == "NVRDATA"

    var = bench.root / "var/lib/nvr"
    mounted = dict(mounts_under(bench.root))
    assert mounted[str(var)] == dev_of(card.part(7))
    # /etc/nvr is the image's, now kept on NVRDATA and bound over /etc/nvr.
    assert (var / "system/etc-nvr/nvr.toml").read_text().startswith("# the image's default")
    assert str(bench.root / "etc/nvr") in mounted
    (bench.root / "etc/nvr/nvr.toml").write_text("[device]\nid = 'nvr-1'\n")
    assert (var / "system/etc-nvr/nvr.toml").read_text() == "[device]\nid = 'nvr-1'\n"
    # This boot's machine-id is kept and bound over /etc/machine-id.
    assert (var / "system/machine-id").read_text() == "0123456789abcdef0123456789abcdef\n"
    assert str(bench.root / "etc/machine-id") in mounted
    for kind in ("ed25519", "rsa"):
        key = var / f"system/ssh/ssh_host_{kind}_key"
        assert key.stat().st_mode & 0o077 == 0 and key.with_name(key.name + ".pub").exists()
    # systemd-tmpfiles made the nvr folders on NVRDATA (docs/units.md).
    assert oct((var / "keys").stat().st_mode & 0o7777) == "0o2770"
    assert (var / "data/segments").is_dir()
    assert oct((var / "rauc").stat().st_mode & 0o7777) == "0o700"    # RAUC's slot status
    assert "NVRDATA" in done.stdout and "no footage disk" in done.stdout


def test_every_later_boot_only_mounts(bench):
    card = bench.image()
    assert setup(bench.root, card).returncode == 0
    var = bench.root / "var/lib/nvr"
    (var / "keys" / "master.key").write_bytes(b"k" * 32)
    before = (sh("sfdisk", "--dump", card.device), probe(card.part(7))["UUID"],
              (var / "system/ssh/ssh_host_ed25519_key").read_bytes(),
              (var / "system/machine-id").read_text())
    # The same boot again (everything mounted), then a reboot (nothing mounted).
    again = setup(bench.root, card)
    assert again.returncode == 0, again.stderr
    unmount_all(bench.root)
    (bench.root / "etc/machine-id").write_text("fedcba9876543210fedcba9876543210\n")
    reboot = setup(bench.root, card)
    assert reboot.returncode == 0, reboot.stderr
    for out in (again.stdout, reboot.stdout):
        assert "formatting" not in out and "making partition" not in out
        assert "growing" not in out and "key" not in out
    after = (sh("sfdisk", "--dump", card.device), probe(card.part(7))["UUID"],
             (var / "system/ssh/ssh_host_ed25519_key").read_bytes(),
             (var / "system/machine-id").read_text())
    assert after == before
    assert (var / "keys" / "master.key").read_bytes() == b"k" * 32
    # The kept machine-id, not this boot's, is what /etc/machine-id shows.
    assert (bench.root / "etc/machine-id").read_text() == before[3]


def test_a_bigger_medium_grows_p7_and_its_file_system(bench):
    card = bench.image(64)
    assert setup(bench.root, card).returncode == 0
    (bench.root / "var/lib/nvr/keys/master.key").write_bytes(b"k" * 32)
    first_size = fs_bytes(card.part(7))
    unmount_all(bench.root)
    with open(card.path, "r+b") as f:          # the same image on a card twice as big
        f.truncate(128 * MIB)
    card = bench.reattach(card)
    done = setup(bench.root, card)
    assert done.returncode == 0, done.stderr
    assert "growing partition 7" in done.stdout
    p7 = next(p for p in card.table()["partitions"] if p["node"] == card.part(7))
    assert card.sectors() - (p7["start"] + p7["size"]) < 2048
    assert (bench.root / "var/lib/nvr/keys/master.key").read_bytes() == b"k" * 32
    if not has_cap_sys_resource():
        # The kernel refuses online growth without it; the script says so and goes on.
        assert "keeps its size" in done.stderr and "Nothing is lost" in done.stderr
        pytest.skip("the file system's online growth: this sandbox's bounding set lacks "
                    "CAP_SYS_RESOURCE, which resize2fs of a mounted ext4 needs (a device's "
                    "root has it); the partition's growth above is proven")
    assert fs_bytes(card.part(7)) > first_size + 50 * MIB


def test_a_blank_second_disk_becomes_nvrfootage_at_data_and_stays_so(bench):
    card, ssd = bench.image(), bench.disk(48)
    done = setup(bench.root, card, ssd)
    assert done.returncode == 0, done.stderr
    part = ssd.part(1)
    assert probe(part)["LABEL"] == "NVRFOOTAGE" and probe(part)["TYPE"] == "ext4"
    assert ssd.table()["label"] == "gpt"
    mounted = dict(mounts_under(bench.root))
    assert mounted[str(bench.root / "var/lib/nvr/data")] == dev_of(part)
    assert mounted[str(bench.root / "var/lib/nvr")] == dev_of(card.part(7))
    # the keys stay on the card, the footage is on the other disk.
    data, keys = bench.root / "var/lib/nvr/data", bench.root / "var/lib/nvr/keys"
    assert os.stat(data).st_dev != os.stat(keys).st_dev
    assert oct(data.stat().st_mode & 0o7777) == "0o3770"     # tmpfiles ran after the mount
    uuid = probe(part)["UUID"]
    (data / "segments" / "kept").write_bytes(b"footage")
    unmount_all(bench.root)
    reboot = setup(bench.root, card, ssd)
    assert reboot.returncode == 0, reboot.stderr
    assert "formatting" not in reboot.stdout
    assert probe(part)["UUID"] == uuid
    assert (data / "segments" / "kept").read_bytes() == b"footage"


def test_a_disk_with_data_is_never_formatted_footage_stays_on_p7(bench, tmp_path):
    card, with_fs, raw = bench.image(), bench.disk(32), bench.disk(16)
    sh("mkfs.ext4", "-q", "-L", "HOLIDAY", with_fs.device)
    with open(raw.device, "r+b") as f:         # no signature at all: random bytes (plain dm-crypt)
        f.write(os.urandom(2 * MIB))
    hashes = (with_fs.sha256(), raw.sha256())
    done = setup(bench.root, card, with_fs, raw)
    assert done.returncode == 0, done.stderr
    assert (with_fs.sha256(), raw.sha256()) == hashes
    assert f"{with_fs.device} is not blank (it holds ext4)" in done.stderr
    assert f"{raw.device} is not blank" in done.stderr
    assert "NEVER formatted" in done.stderr
    mounted = dict(mounts_under(bench.root))
    assert str(bench.root / "var/lib/nvr/data") not in mounted


def test_a_usb_disk_is_never_touched_R61(bench):
    card, stick = bench.image(), bench.disk(32)
    before = stick.sha256()
    done = setup(bench.root, card, stick, usb=(stick,))
    assert done.returncode == 0, done.stderr
    assert stick.sha256() == before
    assert f"{stick.device} is on USB" in done.stdout and "R-61" in done.stdout
    assert str(bench.root / "var/lib/nvr/data") not in dict(mounts_under(bench.root))


def test_a_power_cut_after_the_partition_before_the_file_system_is_completed(bench):
    card, ssd = bench.image(), bench.disk(48)
    # Cut off after sfdisk wrote p7 (in a grown p4), before mkfs.
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", "-N", "4", card.device, stdin=",+\n")
    sh("sfdisk", "--quiet", "--append", "--no-reread", "--no-tell-kernel", card.device,
       stdin=",,83\n")
    card = bench.reattach(card)
    assert probe(card.part(7)) == {}
    done = setup(bench.root, card, ssd)
    assert done.returncode == 0, done.stderr
    assert probe(card.part(7))["LABEL"] == "NVRDATA"
    # And the footage disk cut off after its partition table, before its mkfs: the intent
    # kept on NVRDATA lets the next boot finish it, although the disk is no longer blank.
    uuid = probe(ssd.part(1))["UUID"]
    unmount_all(bench.root)
    sh("wipefs", "--all", "--quiet", ssd.part(1))
    (bench.root / "var/lib/nvr").mkdir(parents=True, exist_ok=True)
    sh("mount", card.part(7), str(bench.root / "var/lib/nvr"))
    system = bench.root / "var/lib/nvr/system"
    (system / "footage-disk").unlink()
    (system / "footage-setup").write_text(f"{ssd.name} {ssd.sectors()}\n")
    unmount_all(bench.root)
    again = setup(bench.root, card, ssd)
    assert again.returncode == 0, again.stderr
    assert probe(ssd.part(1))["LABEL"] == "NVRFOOTAGE" and probe(ssd.part(1))["UUID"] != uuid
    assert not (system / "footage-setup").exists()


def test_the_footage_disk_gone_stops_the_setup_with_what_to_do(bench):
    card, ssd = bench.image(), bench.disk(48)
    assert setup(bench.root, card, ssd).returncode == 0
    unmount_all(bench.root)
    done = setup(bench.root, card)               # the SSD died or was taken out
    assert done.returncode == 1
    assert "footage disk" in done.stderr and "is missing" in done.stderr
    assert "Put the disk back" in done.stderr
    # Nothing is mounted at data/: the recorder (which requires this unit) does not start.
    assert str(bench.root / "var/lib/nvr/data") not in dict(mounts_under(bench.root))


def test_a_medium_no_bigger_than_the_image_is_refused_unchanged(bench):
    card = bench.image(31)                       # the image's size: nothing after p6
    before = card.sha256()
    done = setup(bench.root, card)
    assert done.returncode == 1
    assert "no room after partition 6" in done.stderr and "bigger medium" in done.stderr
    assert card.sha256() == before


def test_no_image_layout_changes_nothing(bench):
    other = bench.disk(32)
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", other.device,
       stdin="label: dos\n,,83\n")
    before = other.sha256()
    done = setup(bench.root, other, INVOCATION_ID="0" * 32)     # as systemd runs it
    assert done.returncode == 1
    assert "no partition labelled NVRCONFIG" in done.stderr
    assert done.stderr.startswith("<3>nvr-storage: ERROR:")          # the journal's priority err
    assert other.sha256() == before


def unit_root(tmp_path: Path) -> Path:
    """The host's system units, the units of systemd/ and the overlay's, as the image has them."""
    root = tmp_path / "units"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(REPO / "image/rootfs/overlay/etc/systemd/system",
                    root / "etc/systemd/system", symlinks=True)
    for unit in SYSTEMD.glob("nvr-*.service"):
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    for binary in ("usr/local/bin/nvr", "usr/lib/nvr/nvr-storage-setup"):
        (root / binary).parent.mkdir(parents=True, exist_ok=True)
        (root / binary).write_text("#!/bin/sh\nexit 0\n")
        (root / binary).chmod(0o755)
    return root


def test_the_unit_verifies_and_the_nvr_units_wait_for_it(tmp_path):
    if not Path("/usr/lib/systemd/system").is_dir():
        pytest.fail("the host has no /usr/lib/systemd/system (Debian package systemd)")
    root = unit_root(tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}",
                           "nvr-storage.service", "nvr-recorder.service", "nvr-web.service",
                           "nvr-exportd.service"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr
    for unit in ("nvr-recorder", "nvr-web", "nvr-exportd"):
        dropin = (REPO / "image/rootfs/overlay/etc/systemd/system" / f"{unit}.service.d"
                  / "storage.conf").read_text()
        assert "Requires=nvr-storage.service" in dropin and "After=nvr-storage.service" in dropin
        assert "RequiresMountsFor=" in dropin and "/etc/nvr" in dropin


def test_machine_id_commit_is_masked_because_it_fails_on_the_kept_id(tmp_path):
    """systemd-machine-id-commit.service runs when /etc/machine-id is a mount point and fails
    unless it is a tmpfs: with our bind from NVRDATA it would fail at every boot."""
    (tmp_path / "etc").mkdir()
    kept = tmp_path / "kept"
    kept.write_text("0123456789abcdef0123456789abcdef\n")
    (tmp_path / "etc/machine-id").touch()
    sh("mount", "--bind", str(kept), str(tmp_path / "etc/machine-id"))
    try:
        done = subprocess.run(["systemd-machine-id-setup", "--commit", f"--root={tmp_path}"],
                              capture_output=True, text=True)
    finally:
        sh("umount", str(tmp_path / "etc/machine-id"))
    assert done.returncode != 0 and "not on a temporary file system" in done.stderr
    mask = REPO / "image/rootfs/overlay/etc/systemd/system/systemd-machine-id-commit.service"
    assert mask.is_symlink() and os.readlink(mask) == "/dev/null"


def test_two_cards_with_nvrconfig_neither_the_root_are_refused(bench):
    one, two = bench.image(), bench.image()
    before = (one.sha256(), two.sha256())
    done = setup(bench.root, one, two)
    assert done.returncode == 1
    assert "none of them holds the root" in done.stderr and "unplug the other" in done.stderr
    assert (one.sha256(), two.sha256()) == before


def test_of_two_cards_with_nvrconfig_the_one_holding_the_root_is_the_boot_disk(bench):
    """As a Pi's cmdline.txt names it: root=PARTUUID=<disk id>-05 (slot A's root)."""
    other, card = bench.image(), bench.image()
    partuuid = probe_partition(card.part(5))["PART_ENTRY_UUID"]
    other_before = other.sha256()
    done = setup(bench.root, other, card,
                 cmdline=f"console=tty1 root=PARTUUID={partuuid} rootfstype=ext4 ro")
    assert done.returncode == 0, done.stderr
    assert f"boot disk {card.device}" in done.stdout
    assert probe(card.part(7))["LABEL"] == "NVRDATA"
    assert other.sha256() == other_before


def test_without_nvrconfig_the_disk_of_the_root_is_taken_with_a_warning(bench):
    card = bench.image()
    sh("fatlabel", card.part(1), "OTHER")
    done = setup(bench.root, card, cmdline=f"root={card.part(6)} ro")
    assert done.returncode == 0, done.stderr
    assert "no partition labelled NVRCONFIG: taking" in done.stderr
    assert probe(card.part(7))["LABEL"] == "NVRDATA"


def test_a_p7_holding_something_else_is_never_formatted(bench):
    card = bench.image()
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", "-N", "4", card.device, stdin=",+\n")
    sh("sfdisk", "--quiet", "--append", "--no-reread", "--no-tell-kernel", card.device,
       stdin=",,83\n")
    card = bench.reattach(card)
    sh("mkfs.ext4", "-q", "-L", "SOMEONES", card.part(7))
    before = card.sha256()
    done = setup(bench.root, card)
    assert done.returncode == 1
    assert "holds ext4, not ext4 NVRDATA" in done.stderr and "wipefs -a" in done.stderr
    assert card.sha256() == before


def test_a_damaged_data_file_system_is_not_mounted_and_says_run_e2fsck(bench):
    card = bench.image()
    assert setup(bench.root, card).returncode == 0
    unmount_all(bench.root)
    sh("debugfs", "-w", "-R", "clri <2>", card.part(7))      # the root folder's inode cleared
    sh("debugfs", "-w", "-R", "ssv state 2", card.part(7))   # marked with errors, as the kernel does
    done = setup(bench.root, card)
    assert done.returncode == 1
    assert "e2fsck -p cannot mend" in done.stderr and f"e2fsck {card.part(7)}" in done.stderr
    assert str(bench.root / "var/lib/nvr") not in dict(mounts_under(bench.root))


def test_a_footage_disk_of_another_device_is_refused(bench):
    card, ssd = bench.image(), bench.disk(48)
    assert setup(bench.root, card, ssd).returncode == 0
    unmount_all(bench.root)
    stranger = bench.disk(48)                  # another recorder's SSD, this one's taken out
    sh("mkfs.ext4", "-q", "-L", "NVRFOOTAGE", stranger.device)
    before = stranger.sha256()
    done = setup(bench.root, card, stranger)
    assert done.returncode == 1
    assert "is not this device's footage disk" in done.stderr
    assert stranger.sha256() == before


def test_a_blank_disk_added_later_does_not_hide_footage_on_p7(bench):
    card = bench.image()
    assert setup(bench.root, card).returncode == 0
    (bench.root / "var/lib/nvr/data/index.sqlite3").write_bytes(b"SQLite format 3\0")
    unmount_all(bench.root)
    ssd = bench.disk(48)
    before = ssd.sha256()
    done = setup(bench.root, card, ssd)
    assert done.returncode == 0, done.stderr
    assert f"the blank disk {ssd.device} is not used" in done.stderr
    assert ssd.sha256() == before
    assert str(bench.root / "var/lib/nvr/data") not in dict(mounts_under(bench.root))


def test_a_host_key_cut_off_by_a_power_failure_is_made_again(bench):
    card = bench.image()
    assert setup(bench.root, card).returncode == 0
    ssh = bench.root / "var/lib/nvr/system/ssh"
    (ssh / "ssh_host_rsa_key.pub").unlink()
    (ssh / "ssh_host_rsa_key").write_bytes(b"-----BEGIN OPENSSH PRIVATE")
    ed25519 = (ssh / "ssh_host_ed25519_key").read_bytes()
    done = setup(bench.root, card)
    assert done.returncode == 0, done.stderr
    assert "SSH host key rsa made" in done.stdout and "ed25519 made" not in done.stdout
    assert sh("ssh-keygen", "-l", "-f", str(ssh / "ssh_host_rsa_key")).split()[-1] == "(RSA)"
    assert (ssh / "ssh_host_ed25519_key").read_bytes() == ed25519


def test_two_nvrfootage_disks_and_none_remembered_are_refused(bench):
    card, one, two = bench.image(), bench.disk(48), bench.disk(48)
    for disk in (one, two):
        sh("mkfs.ext4", "-q", "-L", "NVRFOOTAGE", disk.device)
    before = (one.sha256(), two.sha256())
    done = setup(bench.root, card, one, two)
    assert done.returncode == 1
    assert "more than one disk carries NVRFOOTAGE" in done.stderr and "unplug" in done.stderr
    assert (one.sha256(), two.sha256()) == before
    assert str(bench.root / "var/lib/nvr/data") not in dict(mounts_under(bench.root))
