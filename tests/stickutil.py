"""Shared parts of the stick export tests (tests/test_stick_export.py, test_export_faults.py):
a recorded device with a registered art. 9 request ready for export, and exportd (the real
Daemon with the Runner twin, or real loop-mounted ext4 images) serving a real Unix socket."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import PASSWORD, recorded_site
from test_exportd import KEYPAD, STICK, TwinRunner, _add

from firmware.config import load
from firmware.export import protocol
from firmware.export.daemon import Daemon, RunError, serve
from firmware.governance.handover import record_declaration, record_identity
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore

LUKS_PASSWORD = "paard-batterij-nietje-correct"     # the twin's LUKS2 stick /dev/sdb
OFFICER = "brigadier K. Bakker"
SIZES = {"/dev/sdb": 16_008_609_792, "/dev/sdc": 8_000_000_000, "/dev/sdd": 8_000_000_000}
SECOND_KEYPAD = {**KEYPAD, "DEVNAME": "/dev/sdd", "MINOR": "48", "ID_MODEL": "Aegis_Key"}


def art9_site(tmp: Path) -> Path:
    """recorded_site with an art. 9 request (reference PL-STICK-1) for 'cam' covering the
    footage, the officer identified and the declaration signed: ready for export."""
    config = recorded_site(tmp, {})
    desk = Desk(config)
    try:
        segments = desk.store.list_segments("cam")
        req = desk.reqs.add_article9(desk.beheerder, reference="PL-STICK-1",
                                     requester="Politie Midden-Nederland", legal_basis="126nd",
                                     camera="cam", start=segments[0]["start"] - 1,
                                     end=segments[-1]["end"] + 1)
        record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                        document_type="dienstpas", last_digits="4411")
        record_declaration(desk.reqs, desk.beheerder, req["id"], signed_by=OFFICER)
    finally:
        desk.close()
    return config


class Desk:
    """The beheerder at the device: governance, the store, the request."""

    def __init__(self, config: Path):
        self.config = config
        self.cfg = load(config)
        self.gov = Governance.open(self.cfg)
        self.store = EncryptedStore.from_config(self.cfg)
        self.reqs = self.gov.requests(self.store)
        self.beheerder = self.gov.login("b.beheerder", PASSWORD)

    def request(self) -> dict:
        row = self.reqs.db.execute("SELECT id FROM requests WHERE reference = 'PL-STICK-1'"
                                   ).fetchone()
        return self.reqs.show(row[0])

    def export(self, helper, **kwargs) -> dict:
        from firmware.export.service import make_package
        req = self.request()
        args = {"request_id": req["id"], "camera": "cam", "start": req["start"],
                "end": req["end"], "helper": helper, "reason": "art. 9 request",
                "device": "test-device", **kwargs}
        return make_package(self.gov, self.store, self.beheerder, **args)

    def exports(self) -> list[dict]:
        from firmware.export.service import list_exports
        return list_exports(self.reqs.db)

    def failures(self) -> list[dict]:
        return [e for e in self.gov.logbook.entries("usage") if e["action"] == "export-failed"]

    def close(self) -> None:
        self.store.close()
        self.gov.close()


@pytest.fixture(name="desk")
def fresh_desk(tmp_path):
    """A Desk on an art. 9 site of its own (the red-team files import it as `desk`)."""
    (tmp_path / "site").mkdir()
    d = Desk(art9_site(tmp_path / "site"))
    yield d
    d.close()


def index_file(store) -> str:
    """The path of the store's index database, for the person with sqlite3."""
    with store.lock:
        return next(r[2] for r in store.db.execute("PRAGMA database_list") if r[1] == "main")


class LoopRunner(TwinRunner):
    """The twin, except that the devices in `images` are real ext4 (or damaged) image files:
    `mount` loop-mounts them for real (read-only ones through a read-only loop device, as a
    write-protected stick shows), `umount` unmounts them."""

    def __init__(self, tmp: Path, sizes: dict[str, int], images: dict[str, Path],
                 read_only: frozenset[str] = frozenset()):
        import pytest
        if os.geteuid() != 0 or not Path("/dev/loop-control").exists():
            pytest.skip("real loop mounts need root and /dev/loop-control; run the tests as "
                        "root (CI does) to prove this fault with a real file system")
        super().__init__(tmp, sizes)
        self.images, self.read_only = images, read_only
        self.loops: list[str] = []

    def run(self, argv: list[str], stdin: bytes | None = None) -> str:
        if argv[0] == "mount" and self.mapped.get(argv[-2], argv[-2]) in self.images:
            self.calls.append(list(argv))
            device = self.mapped.get(argv[-2], argv[-2])
            if device in self.read_only:
                loop = subprocess.run(["losetup", "-r", "-f", "--show",
                                       str(self.images[device])], capture_output=True,
                                      text=True, check=True).stdout.strip()
                self.loops.append(loop)
                real = [*argv[:-2], loop, argv[-1]]
            else:
                real = [*argv[:-3], argv[-3] + ",loop", str(self.images[device]), argv[-1]]
            done = subprocess.run(real, capture_output=True, text=True)
            if done.returncode != 0:
                raise RunError(argv, done.returncode, done.stderr)
            self.mounted[argv[-1]] = device
            return ""
        if argv[0] == "umount" and self.mounted.get(argv[-1]) in self.images:
            self.calls.append(list(argv))
            subprocess.run(argv, capture_output=True, check=True)
            self.mounted.pop(argv[-1])
            return ""
        return super().run(argv, stdin)

    def close(self) -> None:
        for point in list(self.mounted):
            if self.mounted[point] in self.images:
                subprocess.run(["umount", "--lazy", point], capture_output=True)
        for loop in self.loops:
            subprocess.run(["losetup", "-d", loop], capture_output=True)


def ext4_image(path: Path, size: int) -> Path:
    """A real ext4 file system in a file (mkfs.ext4 from e2fsprogs, debian-packages.txt)."""
    with open(path, "wb") as f:
        f.truncate(size)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(path)], check=True, capture_output=True)
    return path


@contextmanager
def exportd(tmp: Path, sticks=(STICK, KEYPAD), runner=None):
    """The Daemon (with `runner`, default the twin) serving a real Unix socket; yields
    (socket path, daemon, runner)."""
    runner = runner or TwinRunner(tmp, SIZES)
    (tmp / "run").mkdir(exist_ok=True)
    daemon = Daemon(runner, system_disks={"8:0"}, runtime_dir=tmp / "run")
    for props in sticks:
        daemon.handle_event(_add(props))
    path, stop = tmp / "run" / "exportd.sock", threading.Event()
    policy = protocol.PeerPolicy(uids=frozenset({os.getuid()}))
    thread = threading.Thread(target=serve, args=(daemon, path, policy, stop), daemon=True)
    thread.start()
    for _ in range(500):
        if path.exists():
            break
        threading.Event().wait(0.01)
    try:
        yield path, daemon, runner
    finally:
        stop.set()
        thread.join(5)
        if hasattr(runner, "close"):
            runner.close()


def stick_config(config: Path) -> Path:
    """The same device without the development directory: exports go to exportd's stick."""
    text = config.read_text().replace('[export]\ndirectory = "usb-stand-in"\n', "")
    assert "usb-stand-in" not in text
    path = config.with_name("nvr-stick.toml")
    path.write_text(text)
    return path


def verify_cli(config: Path, path: Path) -> subprocess.CompletedProcess:
    from conftest import nvr
    return nvr("--config", str(config), "export", "verify", str(path))


def nothing_verifies(config: Path, medium: Path) -> list[str]:
    """Whatever is on `medium` (files and folders, hidden ones too): `nvr export verify`
    must fail on every folder there. Returns the names found."""
    found = sorted(p.name for p in medium.iterdir()) if medium.exists() else []
    for name in found:
        if (medium / name).is_dir():
            assert verify_cli(config, medium / name).returncode == 1, name
    return found


def sevenzip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["7z", *args], capture_output=True, text=True)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())
