"""exportd (issue 13 items 1-2, R-61): the udev seam and its filter, the strict socket protocol,
the privileged steps through the runner twin, and the real `cryptsetup luksFormat` arguments."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from firmware.export import protocol
from firmware.export.daemon import (Daemon, ExportdError, RunError, SubprocessRunner,
                                    luks_format_argv, serve)
from firmware.export.udev import TwinSource, is_export_candidate, system_disks

PASSWORD = "paard-batterij-nietje-correct"

STICK = {"SUBSYSTEM": "block", "DEVNAME": "/dev/sdb", "DEVTYPE": "disk", "MAJOR": "8",
         "MINOR": "16", "ID_BUS": "usb", "ID_MODEL": "Cruzer_Blade", "ID_SERIAL_SHORT": "4C53",
         "ID_FS_TYPE": "crypto_LUKS", "ID_FS_VERSION": "2"}
KEYPAD = {**STICK, "DEVNAME": "/dev/sdc", "MINOR": "32", "ID_MODEL": "datAshur_PRO",
          "ID_FS_TYPE": "exfat", "ID_FS_VERSION": "1.0"}
SATA = {**STICK, "DEVNAME": "/dev/sda", "MINOR": "0", "ID_BUS": "ata", "ID_MODEL": "SSD"}
NVME = {"SUBSYSTEM": "block", "DEVNAME": "/dev/nvme0n1", "DEVTYPE": "disk", "MAJOR": "259",
        "MINOR": "0", "ID_BUS": "nvme"}
SD_CARD = {"SUBSYSTEM": "block", "DEVNAME": "/dev/mmcblk0p2", "DEVTYPE": "partition",
           "MAJOR": "179", "MINOR": "2", "ID_PART_ENTRY_DISK": "179:0"}
# A USB disk the system boots from (a Pi booting from USB): its partition holds the root.
USB_ROOT = {**STICK, "DEVNAME": "/dev/sdd2", "DEVTYPE": "partition", "MINOR": "50",
            "ID_PART_ENTRY_DISK": "8:48", "ID_FS_TYPE": "ext4"}


class TwinRunner:
    """Records every command and simulates the stick: each device has a directory that holds
    its files while it is not mounted; `mount` moves them to the mount point, `umount` back."""

    def __init__(self, tmp: Path, sizes: dict[str, int]):
        self.tmp, self.sizes = tmp, sizes
        self.calls: list[list[str]] = []
        self.passwords: dict[str, str] = {"/dev/sdb": PASSWORD}
        self.mapped: dict[str, str] = {}         # /dev/mapper/NAME -> device
        self.mounted: dict[str, str] = {}        # mount point -> device
        self.fail: dict[str, str] = {}           # command -> its stderr: it fails (exit 32)

    def medium(self, device: str) -> Path:
        path = self.tmp / "media" / Path(device).name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, argv: list[str], stdin: bytes | None = None) -> str:
        self.calls.append(list(argv))
        if argv[0] in self.fail:
            raise RunError(argv, 32, self.fail[argv[0]])
        if argv[:2] == ["blockdev", "--getsize64"]:
            return f"{self.sizes.get(argv[2], 0)}\n"
        if argv[:2] == ["cryptsetup", "luksFormat"]:
            self.passwords[argv[-1]] = stdin.decode()
        elif argv[:2] == ["cryptsetup", "open"]:
            device, name = argv[-2], argv[-1]
            if self.passwords.get(device) != stdin.decode():
                raise RunError(argv, 2, "No key available with this passphrase.")
            self.mapped[f"/dev/mapper/{name}"] = device
        elif argv[0] == "mount":
            source, point = argv[-2], argv[-1]
            device = self.mapped.get(source, source)
            shutil.copytree(self.medium(device), point, dirs_exist_ok=True)
            shutil.rmtree(self.medium(device))
            self.mounted[point] = device
        elif argv[0] == "umount":
            point = argv[-1]
            device = self.mounted.pop(point)
            shutil.copytree(point, self.medium(device), dirs_exist_ok=True)
            for child in Path(point).iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        return ""

    def commands(self) -> list[str]:
        return [" ".join(a[:2]) for a in self.calls if a[0] != "blockdev"]


@pytest.fixture
def twin(tmp_path):
    runner = TwinRunner(tmp_path, {"/dev/sdb": 16_008_609_792, "/dev/sdc": 8_000_000_000})
    daemon = Daemon(runner, system_disks={"8:0", "8:48"}, runtime_dir=tmp_path / "run")
    (tmp_path / "run").mkdir()
    for props in (STICK, KEYPAD, SATA):
        daemon.handle_event(_add(props))
    return daemon, runner


def _add(props):
    from firmware.export.udev import DeviceEvent
    return DeviceEvent("add", props)


# -- item 1: the udev seam and the filter --------------------------------------------------------

def test_r61_udev_twin_events_add_and_remove_sticks(tmp_path):
    runner = TwinRunner(tmp_path, {"/dev/sdb": 16_008_609_792})
    daemon = Daemon(runner, system_disks={"8:0"}, runtime_dir=tmp_path)
    source = TwinSource(present=[SATA, STICK])
    thread = daemon.follow(source)
    source.add(KEYPAD)
    source.remove(KEYPAD)
    source.add(NVME)
    source.close()
    thread.join(10)
    assert not thread.is_alive()
    assert [d["device"] for d in daemon.list()] == ["/dev/sdb"]
    only = daemon.list()[0]
    assert (only["kind"], only["state"], only["bytes"]) == ("luks2", "locked", 16_008_609_792)
    assert only["confirm"] == "/dev/sdb Cruzer Blade 16.0GB"


def test_r61_filter_takes_usb_disks_only_never_sata_nvme_sd_or_the_root_disk():
    system = {"8:48", "179:0"}
    assert is_export_candidate(STICK, system)
    assert is_export_candidate({**STICK, "DEVTYPE": "partition", "DEVNAME": "/dev/sdb1",
                                "ID_PART_ENTRY_DISK": "8:16"}, system)
    assert not is_export_candidate(SATA, system)
    assert not is_export_candidate(NVME, system)
    assert not is_export_candidate(SD_CARD, system)
    assert not is_export_candidate(USB_ROOT, system)            # USB, but the root disk
    assert not is_export_candidate({**STICK, "MINOR": "48"}, system)
    assert not is_export_candidate({**STICK, "DEVTYPE": "loop"}, system)


def test_r61_system_disks_follow_a_partition_to_its_disk(tmp_path):
    """The disk holding a path is found through /sys/dev/block: here a fake sysfs in which the
    temporary directory's device is partition 2 of disk 8:48."""
    dev = os.stat(tmp_path).st_dev
    devices = tmp_path / "sys" / "devices" / "usb1" / "block" / "sdd"
    (devices / "sdd2").mkdir(parents=True)
    (devices / "dev").write_text("8:48\n")
    (devices / "sdd2" / "dev").write_text(f"{os.major(dev)}:{os.minor(dev)}\n")
    (devices / "sdd2" / "partition").write_text("2\n")
    block = tmp_path / "sys" / "dev" / "block"
    block.mkdir(parents=True)
    (block / f"{os.major(dev)}:{os.minor(dev)}").symlink_to(devices / "sdd2")
    assert system_disks([tmp_path / "data" / "not-readable"], block) == {"8:48"}


# -- item 1: the protocol ------------------------------------------------------------------------

@pytest.fixture
def served(twin, tmp_path):
    daemon, runner = twin
    path = tmp_path / "exportd.sock"
    stop = threading.Event()
    policy = protocol.PeerPolicy(uids=frozenset({os.getuid()}))
    thread = threading.Thread(target=serve, args=(daemon, path, policy, stop), daemon=True)
    thread.start()
    for _ in range(200):
        if path.exists():
            break
        threading.Event().wait(0.01)
    yield path, daemon, runner
    stop.set()
    thread.join(5)


def _raw(path: Path, payload: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(path))
        conn.sendall(payload)
        return json.loads(conn.makefile("rb").readline())


def test_r61_socket_refuses_anything_outside_its_command_set(served):
    path, _, runner = served
    assert protocol.call(path, {"cmd": "list"})["devices"][0]["device"] == "/dev/sdb"
    for payload, says in ((b'{"cmd": "shell", "args": "rm -rf /"}\n', "unknown command"),
                          (b'{"cmd": "eject", "device": "/dev/sdb", "force": 1}\n', "no field"),
                          (b'{"cmd": "unlock", "device": "/dev/sdb"}\n', "needs the field"),
                          (b'not json\n', "not JSON"), (b'[1]\n', "not a JSON object"),
                          (b'{"cmd": "list", "x": "' + b"a" * 20000 + b'"}\n', "too long")):
        answer = _raw(path, payload)
        assert answer["ok"] is False and says in answer["error"], answer
    assert runner.commands() == []                               # nothing ran


def test_r61_socket_refuses_a_device_that_is_not_a_usb_candidate(served):
    path, _, runner = served
    for device in ("/dev/sda", "/dev/nvme0n1", "/dev/mmcblk0", "/dev/sdb/../sda"):
        with pytest.raises(protocol.ProtocolError, match="not a USB stick exportd offers"):
            protocol.call(path, {"cmd": "unlock", "device": device, "password": PASSWORD})
    assert runner.commands() == []


def test_r61_socket_refuses_a_peer_outside_the_web_group(twin, tmp_path):
    daemon, runner = twin
    path, stop = tmp_path / "s.sock", threading.Event()
    nobody = protocol.PeerPolicy(uids=frozenset({os.getuid() + 4242}),
                                 gids=frozenset({os.getgid() + 4242}))
    thread = threading.Thread(target=serve, args=(daemon, path, nobody, stop), daemon=True)
    thread.start()
    while not path.exists():
        threading.Event().wait(0.01)
    with pytest.raises(protocol.ProtocolError, match="not allowed"):
        protocol.call(path, {"cmd": "list"})
    stop.set()
    thread.join(5)


def test_exportd_not_running_says_so(tmp_path):
    with pytest.raises(protocol.ProtocolError, match="exportd is not running"):
        protocol.call(tmp_path / "none.sock", {"cmd": "list"})


# -- item 1: format, unlock, write, eject ----------------------------------------------------------

def test_r61_format_needs_the_confirmation_naming_device_model_and_size(twin):
    daemon, runner = twin
    for wrong in ("yes", "/dev/sdb", "/dev/sdb Cruzer Blade", "/dev/sdc datAshur PRO 8.0GB"):
        with pytest.raises(ExportdError, match="confirm with exactly"):
            daemon.format("/dev/sdb", wrong, PASSWORD)
    with pytest.raises(ExportdError, match="at least 16"):
        daemon.format("/dev/sdb", "/dev/sdb Cruzer Blade 16.0GB", "short-password")
    assert runner.commands() == []
    daemon.format("/dev/sdb", "/dev/sdb Cruzer Blade 16.0GB", "een-nieuw-wachtwoord-van-nu")
    assert runner.commands() == ["cryptsetup luksFormat", "cryptsetup open", "mkfs.ext4 -q",
                                 "cryptsetup close"]
    assert [c for c in runner.calls if c[0] != "blockdev"][0] == luks_format_argv("/dev/sdb")


def test_r61_unlock_write_eject_through_the_runner(served, tmp_path):
    path, daemon, runner = served
    with pytest.raises(protocol.ProtocolError, match="wrong passphrase"):
        protocol.call(path, {"cmd": "unlock", "device": "/dev/sdb", "password": "not it"})
    stick = protocol.call(path, {"cmd": "unlock", "device": "/dev/sdb",
                                 "password": PASSWORD})["device"]
    assert stick["state"] == "unlocked" and stick["package"] == "files"
    content = os.urandom(3 << 20)
    opened, fds = protocol.call_fds(path, {"cmd": "write", "device": "/dev/sdb",
                                           "name": "export-1", "step": "open",
                                           "files": ["export-1.7z"], "bytes": len(content)})
    assert opened["files"] == ["export-1.7z"] and len(fds) == 1
    with os.fdopen(fds[0], "wb") as f:          # the client streams into exportd's file
        f.write(content)
    on_mount = tmp_path / "run" / "mnt" / "sdb"
    assert [p.name for p in on_mount.iterdir()] == [".export-1.part"]    # hidden until done
    done = protocol.call(path, {"cmd": "write", "device": "/dev/sdb", "name": "export-1",
                                "step": "finish"})
    assert done["bytes"] == 3 << 20
    protocol.call(path, {"cmd": "eject", "device": "/dev/sdb"})
    mount = ["mount", "-w", "-o", "nosuid,nodev,noexec,noatime", "/dev/mapper/nvr-export-sdb",
             str(tmp_path / "run" / "mnt" / "sdb")]
    assert [c for c in runner.calls if c[0] != "blockdev"] == [
        ["cryptsetup", "open", "--type", "luks2", "--key-file", "-", "/dev/sdb",
         "nvr-export-sdb"],
        ["cryptsetup", "open", "--type", "luks2", "--key-file", "-", "/dev/sdb",
         "nvr-export-sdb"],
        mount,
        ["sync", "--file-system", mount[-1]],
        ["sync", "--file-system", mount[-1]],
        ["umount", mount[-1]],
        ["cryptsetup", "close", "nvr-export-sdb"]]
    on_stick = runner.medium("/dev/sdb")
    assert sorted(p.name for p in on_stick.iterdir()) == ["export-1"]
    assert (on_stick / "export-1" / "export-1.7z").read_bytes() == content
    assert daemon.list()[0]["state"] == "locked"
    assert not Path(mount[-1]).exists()


def test_r61_a_keypad_stick_is_mounted_without_cryptsetup_and_takes_the_7z(twin):
    daemon, runner = twin
    stick = daemon.unlock("/dev/sdc", "")
    assert (stick["kind"], stick["hardware_encrypted"], stick["package"]) == ("plain", True, "7z")
    assert runner.commands() == ["mount -w"]


def test_r61_a_stick_pulled_mid_write_ends_cleanly(twin):
    daemon, runner = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    _, fds = daemon.write_open("/dev/sdb", "export-2", ["export-2.7z"], 1 << 20)
    with os.fdopen(fds[0], "wb") as f:
        f.write(b"x" * (1 << 20))
    daemon.handle_event(type(_add(STICK))("remove", STICK))       # udev: the stick is gone
    with pytest.raises(ExportdError, match="pulled out mid-write; nothing on it is valid"):
        daemon.write_finish("/dev/sdb", "export-2")
    assert [d["device"] for d in daemon.list()] == ["/dev/sdc"]
    assert runner.calls[-2][:2] == ["umount", "--lazy"]
    assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]
    assert not (runner.medium("/dev/sdb") / "export-2").exists()   # nothing that looks valid


def test_r61_a_stick_too_small_is_refused_before_writing(twin, tmp_path):
    daemon, runner = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    with pytest.raises(ExportdError, match="too small"):
        daemon.write_open("/dev/sdb", "export-3", ["export-3.7z"], 1 << 43)   # 8 TB
    assert list((tmp_path / "run" / "mnt" / "sdb").iterdir()) == []


def test_r61_write_refuses_unsafe_names_and_a_locked_stick(twin):
    daemon, _ = twin
    with pytest.raises(ExportdError, match="locked; unlock it first"):
        daemon.write_open("/dev/sdb", "export-4", ["a.mp4"], 0)
    daemon.unlock("/dev/sdb", PASSWORD)
    for name in ("../etc", ".hidden", "a/b", ""):
        with pytest.raises(ExportdError, match="no safe file name"):
            daemon.write_open("/dev/sdb", name, ["a.mp4"], 0)
        with pytest.raises(ExportdError, match="no safe file name"):
            daemon.write_open("/dev/sdb", "export-4", [name], 0)
    with pytest.raises(ExportdError, match="no write of export-4 is open"):
        daemon.write_finish("/dev/sdb", "export-4")


def test_r61_write_steps_are_strict_on_the_socket(served):
    path, _, runner = served
    for payload, says in (
            (b'{"cmd": "write", "device": "/dev/sdb", "name": "e"}\n', "needs the field step"),
            (b'{"cmd": "write", "device": "/dev/sdb", "name": "e", "step": "rm"}\n', "step"),
            (b'{"cmd": "write", "device": "/dev/sdb", "name": "e", "step": "finish", '
             b'"files": ["a"]}\n', "no field files"),
            (b'{"cmd": "write", "device": "/dev/sdb", "name": "e", "step": "open", '
             b'"files": ["a"], "bytes": -1}\n', "bytes"),
            (b'{"cmd": "write", "device": "/dev/sdb", "name": "e", "step": "open", '
             b'"files": ["a"], "bytes": true}\n', "needs the field bytes")):
        answer = _raw(path, payload)
        assert answer["ok"] is False and says in answer["error"], answer
    assert runner.commands() == []


def test_r61_a_blank_or_luks1_stick_is_not_unlocked(tmp_path):
    runner = TwinRunner(tmp_path, {})
    daemon = Daemon(runner, system_disks=set(), runtime_dir=tmp_path)
    blank = {**STICK, "ID_FS_TYPE": ""}
    old = {**STICK, "DEVNAME": "/dev/sde", "MINOR": "64", "ID_FS_VERSION": "1"}
    for props in (blank, old):
        daemon.handle_event(_add(props))
    with pytest.raises(ExportdError, match="no file system; format it first"):
        daemon.unlock("/dev/sdb", PASSWORD)
    with pytest.raises(ExportdError, match="LUKS1; format it as LUKS2"):
        daemon.unlock("/dev/sde", PASSWORD)
    assert runner.commands() == []


def test_r61_a_read_only_or_damaged_stick_ends_cleanly_and_stays_locked(twin):
    daemon, runner = twin
    runner.fail["mount"] = "mount: /run/x: cannot mount /dev/mapper/x read-only."
    with pytest.raises(ExportdError, match="is read-only"):
        daemon.unlock("/dev/sdb", PASSWORD)
    runner.fail["mount"] = "mount: /run/x: wrong fs type, bad option, bad superblock"
    with pytest.raises(ExportdError, match="unknown or damaged file system; format it"):
        daemon.unlock("/dev/sdc", "")
    assert [c for c in runner.commands() if c != "mount -w"] == [
        "cryptsetup open", "cryptsetup close"]             # the mapping is closed again
    assert {d["state"] for d in daemon.list()} == {"locked"}
    assert list((daemon.runtime_dir / "mnt").iterdir()) == []


def test_r61_socket_is_0660_and_the_policy_is_root_and_the_group(served):
    import grp
    import pwd
    path, _, _ = served
    assert os.stat(path).st_mode & 0o777 == 0o660
    root_group = grp.getgrgid(0).gr_name
    assert protocol.PeerPolicy.for_group(root_group) == protocol.PeerPolicy(
        uids=frozenset({0, *(pwd.getpwnam(m).pw_uid for m in grp.getgrgid(0).gr_mem)}),
        gids=frozenset({0}))
    assert protocol.PeerPolicy.for_group("no-such-group-nvr") == protocol.PeerPolicy(
        uids=frozenset({0}))


# -- the real cryptsetup -------------------------------------------------------------------------

def test_r61_luks_format_arguments_make_luks2_aes_xts_argon2id(tmp_path):
    """Real `cryptsetup luksFormat` on a plain file (no device-mapper needed), checked with
    `cryptsetup luksDump`. Opening it needs device-mapper: that runs in make system-test."""
    if shutil.which("cryptsetup") is None:
        pytest.skip("cryptsetup is not installed (Debian cryptsetup-bin, debian-packages.txt)")
    image = tmp_path / "stick.img"
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    SubprocessRunner().run(luks_format_argv(str(image)), stdin=PASSWORD.encode())
    dump = subprocess.run(["cryptsetup", "luksDump", str(image)], capture_output=True,
                          text=True, check=True).stdout
    fields = [" ".join(line.split()) for line in dump.splitlines()]
    for expected in ("Version: 2", "Label: NVR-EXPORT", "cipher: aes-xts-plain64",
                     "Key: 512 bits", "PBKDF: argon2id", "AF hash: sha256"):
        assert expected in fields, (expected, dump)


# -- item 1: the clients: the web's ExportdHelper, the eject button, `nvr exportd`, `nvr usb` -----

def test_r61_exportd_helper_writes_the_package_onto_the_one_unlocked_stick(served, monkeypatch):
    """The helper's target: the one unlocked stick, files opened by exportd, renamed when
    finished (the package itself: tests/test_stick_export.py)."""
    from firmware.export.helpers import ExportdHelper, ExportError
    path, daemon, runner = served
    with pytest.raises(ExportError, match="exportd is not running"):
        ExportdHelper(str(path) + ".absent").stick()
    helper = ExportdHelper(str(path))
    with pytest.raises(ExportError, match="no unlocked USB stick"):
        helper.stick()
    daemon.unlock("/dev/sdb", PASSWORD)
    daemon.unlock("/dev/sdc", "")
    with pytest.raises(ExportError, match="more than one USB stick is unlocked"):
        helper.stick()
    daemon.eject("/dev/sdc")
    target = helper.target(helper.stick(), "export-5", ["a.mp4"], 10)
    target.open("a.mp4").write(b"video")
    done = target.finish()
    assert done == {"path": "/dev/sdb:export-5", "bytes": 5}
    written = Path(daemon.sticks["/dev/sdb"].mountpoint) / "export-5" / "a.mp4"
    assert written.read_bytes() == b"video"
    monkeypatch.setenv(protocol.SOCKET_ENV, str(path))
    from firmware.export.helpers import helper_for
    assert isinstance(helper_for(type("Cfg", (), {"export_directory": None})()), ExportdHelper)


def test_r61_the_eject_seam_ejects_through_exportd(served, device, monkeypatch):
    from dataclasses import replace
    from firmware.export.medium import eject
    path, daemon, runner = served
    monkeypatch.setenv(protocol.SOCKET_ENV, str(path))
    device = replace(device, export=replace(device.export, directory=""))   # a real device
    assert device.export_directory is None
    first = eject(device)
    assert first.ejected is False and "nothing to eject" in first.message
    daemon.unlock("/dev/sdb", PASSWORD)
    done = eject(device)
    assert done.ejected is True and "/dev/sdb" in done.message
    assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]


def test_nvr_exportd_and_nvr_usb_over_the_real_socket(device, tmp_path):
    """`nvr exportd` as a real process with the real udev source (no USB stick here), and the
    `nvr usb` client refusing a disk that is not a USB stick."""
    from conftest import nvr
    sock = tmp_path / "run" / "exportd.sock"
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config",
                             str(device.source), "exportd", "--socket", str(sock)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(500):
            if sock.exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.02)
        assert sock.exists(), proc.communicate(timeout=5)
        listed = nvr("usb", "list", "--socket", str(sock), "--json")
        assert listed.returncode == 0, listed.stderr
        offered = [d["device"] for d in json.loads(listed.stdout)]
        assert "/dev/vda" not in offered and "/dev/sda" not in offered    # no system disk
        anonymous = nvr("--config", str(device.source), "usb", "eject", "/dev/vda",
                        "--socket", str(sock))         # logged by a person: --user first
        assert anonymous.returncode == 1 and "needs --user" in anonymous.stderr
        unconfirmed = nvr("usb", "format", "/dev/vda", "--socket", str(sock))
        assert unconfirmed.returncode == 1 and "not a USB stick" in unconfirmed.stderr
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "exportd: listening on" in err


# -- issue 13 item 0: exportd's refusals through the one catalogue, in the reader's language ----

def test_a_refusal_of_exportd_reads_dutch_in_a_web_request_and_english_on_the_cli(served, site):
    """exportd (root) answers the msgid and its params; the client translates: Dutch inside a
    web request, English in the CLI (a real `nvr usb unlock` against the same socket)."""
    app, _ = site
    path, _, _ = served
    wrong = {"cmd": "unlock", "device": "/dev/sdb", "password": "not the password"}
    with app.test_request_context("/"):
        with pytest.raises(protocol.ProtocolError) as web:
            protocol.call(path, wrong)
    assert str(web.value) == "verkeerd wachtwoord voor /dev/sdb; typ het opnieuw"
    with pytest.raises(protocol.ProtocolError) as english:
        protocol.call(path, wrong)
    assert str(english.value) == "wrong passphrase for /dev/sdb; type it again"
    from conftest import nvr
    from conftest import PASSWORD as ACCOUNT_PASSWORD
    cli = nvr("--config", str(site[1]), "usb", "unlock", "/dev/sdb", "--socket", str(path),
              "--user", "b.beheerder", env={**os.environ, "NVR_PASSWORD": ACCOUNT_PASSWORD,
                                            "NVR_USB_PASSWORD": "not the password"})
    assert cli.returncode == 1 and "wrong passphrase for /dev/sdb; type it again" in cli.stderr
    with app.test_request_context("/"):
        with pytest.raises(protocol.ProtocolError, match="exportd draait niet"):
            protocol.call(path.with_name("absent.sock"), {"cmd": "list"})
    answer = _raw(path, b'{"cmd": "unlock", "device": "/dev/sdb", "password": "x"}\n')
    assert answer == {"ok": False, "error": "wrong passphrase for /dev/sdb; type it again",
                      "msgid": "wrong passphrase for %(device)s; type it again",
                      "params": {"device": "/dev/sdb"}}


def test_a_refusal_falls_back_to_english_when_msgid_or_params_do_not_fit(site):
    app, _ = site
    with app.test_request_context("/"):
        unknown = protocol.translate({"error": "stick on fire", "msgid": "stick on fire %(x)s",
                                      "params": {"x": 1}})
        misfit = protocol.translate({"error": "wrong passphrase for ?",
                                     "msgid": "wrong passphrase for %(device)s; type it again",
                                     "params": {"disk": "/dev/sdb"}})
        junk = protocol.translate({"error": "refused", "msgid": ["x"], "params": "y"})
    assert (unknown, misfit, junk) == ("stick on fire", "wrong passphrase for ?", "refused")


def test_r61_a_change_event_of_an_unlocked_stick_keeps_it_unlocked(twin):
    """udev reports a `change` of the stick (UdevSource: "add" again) when cryptsetup opens it
    and after its file system is written: found in `make system-test`, where exportd then
    listed an unlocked, mounted stick as locked, refused the write and left the mapping open.
    The stick keeps its mapping and mount point; eject still closes both."""
    daemon, runner = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    daemon.handle_event(_add(STICK))
    assert {d["device"]: d["state"] for d in daemon.list()}["/dev/sdb"] == "unlocked"
    daemon.eject("/dev/sdb")
    assert runner.calls[-2][0] == "umount"
    assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]


def test_the_socket_answers_as_soon_as_it_exists_and_ready_follows(tmp_path):
    """exportd binds under a temporary name and renames the socket into place once it listens:
    a client that sees the socket is never refused (the system test saw 'Connection refused'),
    and systemd hears READY=1 (Type=notify) only then."""
    from firmware.export import protocol
    from firmware.export.daemon import Daemon, serve
    from firmware.system.notify import Notifier
    notify = tmp_path / "notify"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(notify))
    receiver.settimeout(10)
    path, stop = tmp_path / "exportd.sock", threading.Event()
    seen = []

    def ready():
        seen.append(path.exists())
        Notifier({"NOTIFY_SOCKET": str(notify)}).send("READY=1")

    for attempt in range(20):                     # the race was a window of microseconds
        stop.clear()
        path.unlink(missing_ok=True)
        thread = threading.Thread(target=serve, args=(
            Daemon(TwinRunner(tmp_path, {}), set(), tmp_path), path,
            protocol.PeerPolicy(uids=frozenset({os.getuid()})), stop, ready), daemon=True)
        thread.start()
        while not path.exists():
            pass
        assert protocol.call(path, {"cmd": "list"})["devices"] == []
        assert receiver.recv(100) == b"READY=1"
        stop.set()
        thread.join(5)
    assert seen == [True] * 20
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".exportd")] == []
    receiver.close()


def test_an_exportd_that_does_not_answer_in_time_is_a_clear_message_not_a_traceback(tmp_path):
    from firmware.export import protocol
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(path))
        silent.listen(1)
        with pytest.raises(protocol.ProtocolError) as refused:
            protocol.call(path, {"cmd": "list"}, timeout=0.3)
    assert "did not answer list within" in str(refused.value)
    assert "nvr usb list" in str(refused.value)
