"""The recorder's image on the virtual device (issue 14 item 1): the disk in the A/B layout of
image/updates/README.md, booted from root slot A (partition 5) under overlayroot, the data
partition made at first boot, footage on a second disk, no swap, SSH with keys only.
Runs after test_device.py on the same guest (file order)."""

from __future__ import annotations

import json
import subprocess

from systemtest.vm import VirtualDevice


def sh(device: VirtualDevice, command: str) -> str:
    return device.run(command).stdout.strip()


def disk_of(device: VirtualDevice, path: str) -> str:
    """The whole disk (vda, vdb) holding the file system that `path` is on."""
    source = sh(device, f"findmnt -n -o SOURCE --target {path}").split("[", 1)[0]
    parent = sh(device, f"lsblk -no PKNAME {source}")
    return parent or source.removeprefix("/dev/")


def test_root_is_an_overlay_on_read_only_root_slot_a(device, step):
    with step("image: overlay root on /dev/vda5"):
        assert sh(device, "findmnt -n -o FSTYPE /") == "overlay"
        # overlayroot moves the real root to /media/root-ro, read-only, under the RAM layer.
        lower = sh(device, "findmnt -n -o SOURCE,OPTIONS /media/root-ro").split()
        assert lower[0] == "/dev/vda5", lower
        assert "ro" in lower[1].split(","), lower
        assert sh(device, "findmnt -n -o FSTYPE /media/root-rw") == "tmpfs"
        # A write to the read-only slot itself is refused by the kernel.
        done = device.run("touch /media/root-ro/usr/nvr-systemtest", check=False)
        assert done.returncode != 0 and "Read-only file system" in done.stderr, done


def test_data_partition_made_at_first_boot_to_the_end_of_the_medium(device, step):
    with step("image: p7 NVRDATA at the end of vda"):
        table = json.loads(sh(device, "sfdisk -J /dev/vda"))["partitiontable"]
        parts = {p["node"]: p for p in table["partitions"]}
        assert set(parts) == {f"/dev/vda{n}" for n in range(1, 8)}, sorted(parts)
        sectors = int(sh(device, "blockdev --getsz /dev/vda"))
        p7, p4 = parts["/dev/vda7"], parts["/dev/vda4"]
        assert p7["start"] + p7["size"] == sectors == p4["start"] + p4["size"], (p7, sectors)
        probe = sh(device, "blkid -p -o export /dev/vda7")
        assert "TYPE=ext4" in probe.splitlines() and "LABEL=NVRDATA" in probe.splitlines()
        assert sh(device, "findmnt -n -o SOURCE /var/lib/nvr") == "/dev/vda7"
        assert sh(device, "systemctl is-active nvr-storage.service") == "active"
        labels = sh(device, "for n in 1 2 3 5 6; do blkid -p -s LABEL -o value /dev/vda$n; "
                            "done").split()
        assert labels == ["NVRCONFIG", "NVR_BOOT_A", "NVR_BOOT_B", "NVR_ROOT_A", "NVR_ROOT_B"]
        # RAUC's slot names (system.conf), by partition number (70-nvr-slots.rules).
        links = sh(device, "readlink -f /dev/nvr/boot-a /dev/nvr/boot-b /dev/nvr/root-a "
                           "/dev/nvr/root-b").split()
        assert links == ["/dev/vda2", "/dev/vda3", "/dev/vda5", "/dev/vda6"], links
        assert "boot_partition=2" in sh(device, "cat /boot/config/autoboot.txt")


def test_keys_and_footage_on_different_disks(device, step):
    with step("image: keys on vda7, footage on vdb"):
        assert disk_of(device, "/var/lib/nvr/keys") == "vda"
        assert disk_of(device, "/var/lib/nvr/data/segments") == "vdb"
        footage = sh(device, "findmnt -n -o SOURCE /var/lib/nvr/data")
        assert sh(device, f"blkid -p -s LABEL -o value {footage}") == "NVRFOOTAGE"
        # What the read-only root cannot keep is on the data partition.
        assert sh(device, "findmnt -n -o SOURCE /etc/nvr") == "/dev/vda7[/system/etc-nvr]"
        # Not checked: that /etc/machine-id shows the id kept on NVRDATA. It does at the first
        # boot only; at every later boot systemd's transient id stays (an OPEN defect, issue
        # 14, image/README.md "The machine-id"). Binding the kept id over it in the setup made
        # journalctl show nothing of the services (journald keeps the transient id).


def test_no_swap(device, step):
    with step("image: no swap"):
        assert sh(device, "swapon --show") == ""
        assert sh(device, "systemctl is-enabled swap.target || true") == "masked"


def test_sshd_refuses_password_authentication(device, step):
    with step("image: sshd keys only"):
        config = sh(device, "sshd -T").splitlines()
        assert "passwordauthentication no" in config
        assert "kbdinteractiveauthentication no" in config
        # From outside, asking for a password: the server offers public keys only.
        attempt = subprocess.run(
            ["ssh", "-p", str(device.port), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
             "-o", "PubkeyAuthentication=no",
             "-o", "PreferredAuthentications=password,keyboard-interactive",
             "-o", "ConnectTimeout=20", "root@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert attempt.returncode == 255, attempt
        assert "Permission denied (publickey)" in attempt.stderr, attempt.stderr


def test_power_cut_forgets_the_root_overlay_keeps_data_and_identity(device, step):
    """A file written under /usr is in RAM only: gone after a power cut. Footage and the SSH
    host key are on the data partition and stay (the machine-id does not yet: above)."""
    device.run("echo written > /usr/lib/nvr-systemtest-marker && sync")
    assert sh(device, "cat /usr/lib/nvr-systemtest-marker") == "written"
    host_key = sh(device, "ssh-keygen -lf /var/lib/nvr/system/ssh/ssh_host_ed25519_key.pub")
    footage = sh(device, "sync; find /var/lib/nvr/data/segments -type f -size +0 | sort")
    assert footage, "no footage on the footage disk before the cut"
    with step("image: power cut (QMP quit) and boot again"):
        device.power_cut()
        device.boot()
    assert device.run("test -e /usr/lib/nvr-systemtest-marker", check=False).returncode == 1
    assert sh(device, "ssh-keygen -lf /var/lib/nvr/system/ssh/ssh_host_ed25519_key.pub") == \
        host_key
    after = set(sh(device, "find /var/lib/nvr/data/segments -type f | sort").splitlines())
    missing = set(footage.splitlines()) - after
    print(f"[system-test] segment files before the cut: {len(footage.splitlines())}, after "
          f"the boot: {len(after)}, gone: {sorted(missing)}", flush=True)
    # Every segment file on the footage disk before the cut is there after it, but for the
    # one being written when the power went (test_device.py's power cut says the same).
    assert len(missing) <= 1, missing
    assert disk_of(device, "/var/lib/nvr/data/segments") == "vdb"
