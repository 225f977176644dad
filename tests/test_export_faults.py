"""Faults that end cleanly (issue 13, "Faults that end cleanly"; R-61, R-62): one test per
fault. Each ends with a clear message (what went wrong, what to do), an `export-failed` entry
in the usage logbook with the reason (no footage, no password), nothing on the medium that
`nvr export verify` accepts, and no row in exports. exportd is the real Daemon over a real Unix
socket, with the Runner twin or real loop-mounted ext4 images (tests/stickutil.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from stickutil import (LUKS_PASSWORD, SECOND_KEYPAD, SIZES, Desk, LoopRunner, art9_site,
                       exportd, ext4_image, nothing_verifies, verify_cli)
from test_exportd import KEYPAD, STICK, _add

from firmware.export.helpers import ExportdHelper, ExportError
from firmware.governance.requests import RequestError


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return art9_site(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def desk(site):
    d = Desk(site)
    yield d
    d.close()


def fails_cleanly(desk: Desk, run, says: str, media: list[Path],
                  error=ExportError) -> str:
    """Run the export `run()`; it must fail with `says` in its message, log export-failed
    with that reason, add no row to exports and leave nothing that verifies on `media`."""
    rows, logged = len(desk.exports()), len(desk.failures())
    with pytest.raises(error) as caught:
        run()
    message = str(caught.value)
    assert says in message, message
    assert len(desk.exports()) == rows                            # no row for it
    failures = desk.failures()
    assert len(failures) == logged + 1
    assert failures[-1]["reason"] == message and failures[-1]["actor"] == "b.beheerder"
    assert set(json.loads(failures[-1]["details"])) == {"camera", "start", "end"}
    for medium in media:
        nothing_verifies(desk.config, medium)
    return message


def test_r61_fault_stick_pulled_mid_write(desk, tmp_path):
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = ExportdHelper(str(sock))
        helper.unlock("/dev/sdb", LUKS_PASSWORD)
        mount = daemon.sticks["/dev/sdb"].mountpoint

        def pull(done, total):                  # udev reports the stick gone mid-write
            if "/dev/sdb" in daemon.sticks:
                daemon.handle_event(type(_add(STICK))("remove", STICK))
        message = fails_cleanly(desk, lambda: desk.export(helper, progress=pull),
                                "was pulled out mid-write", [runner.medium("/dev/sdb")])
        assert "insert it and export again" in message
        assert not mount.exists()                       # unmounted and locked (lazy)
        assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]
        left = list(runner.medium("/dev/sdb").iterdir())
        assert left and all(p.name.endswith(".part") for p in left)   # hidden, unfinished
        for part in left:
            refused = verify_cli(desk.config, part)
            assert "an unfinished package (.part)" in refused.stderr


def test_r61_fault_wrong_passphrase(desk, tmp_path):
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = ExportdHelper(str(sock))
        with pytest.raises(ExportError, match="wrong passphrase for /dev/sdb; type it again"):
            helper.unlock("/dev/sdb", "not the passphrase of it")
        assert daemon.list()[0]["state"] == "locked"
        fails_cleanly(desk, lambda: desk.export(helper), "no unlocked USB stick",
                      [runner.medium("/dev/sdb")])


def test_r61_fault_stick_too_small_is_refused_before_anything_is_written(desk, tmp_path):
    image = ext4_image(tmp_path / "small.img", 2 << 20)          # a real 2 MiB ext4 stick
    runner = LoopRunner(tmp_path, SIZES, {"/dev/sdc": image})
    with exportd(tmp_path, runner=runner) as (sock, daemon, _):
        helper = ExportdHelper(str(sock))
        helper.unlock("/dev/sdc", "")
        mount = daemon.sticks["/dev/sdc"].mountpoint
        message = fails_cleanly(desk, lambda: desk.export(helper), "is too small",
                                [mount])
        assert "use a larger stick" in message
        assert sorted(p.name for p in mount.iterdir()) == ["lost+found"]   # nothing written


def test_r61_fault_read_only_stick(desk, tmp_path):
    image = ext4_image(tmp_path / "ro.img", 8 << 20)
    runner = LoopRunner(tmp_path, SIZES, {"/dev/sdc": image}, read_only=frozenset({"/dev/sdc"}))
    with exportd(tmp_path, runner=runner) as (sock, daemon, _):
        helper = ExportdHelper(str(sock))
        with pytest.raises(ExportError, match="is read-only .write-protected.; use another"):
            helper.unlock("/dev/sdc", "")                # the real mount -w refuses
        fails_cleanly(desk, lambda: desk.export(helper), "no unlocked USB stick", [])
    assert _files_in(image) == ["lost+found"]


def test_r61_fault_unknown_or_damaged_filesystem(desk, tmp_path):
    image = tmp_path / "damaged.img"
    image.write_bytes(b"\x5a" * (8 << 20))              # no file system mount knows
    runner = LoopRunner(tmp_path, SIZES, {"/dev/sdc": image})
    with exportd(tmp_path, runner=runner) as (sock, daemon, _):
        helper = ExportdHelper(str(sock))
        with pytest.raises(ExportError, match="unknown or damaged file system; format it"):
            helper.unlock("/dev/sdc", "")
        fails_cleanly(desk, lambda: desk.export(helper), "no unlocked USB stick", [])
        assert {d["state"] for d in daemon.list()} == {"locked"}


def test_r61_fault_a_second_stick(desk, tmp_path):
    with exportd(tmp_path, sticks=(KEYPAD, SECOND_KEYPAD)) as (sock, daemon, runner):
        helper = ExportdHelper(str(sock))
        helper.unlock("/dev/sdc", "")
        helper.unlock("/dev/sdd", "")
        mounts = [daemon.sticks[d].mountpoint for d in ("/dev/sdc", "/dev/sdd")]
        message = fails_cleanly(desk, lambda: desk.export(helper),
                                "more than one USB stick is unlocked", mounts)
        assert "/dev/sdc, /dev/sdd" in message and "eject the one" in message
        assert all(list(m.iterdir()) == [] for m in mounts)


def test_r61_fault_exportd_not_running(desk, tmp_path):
    helper = ExportdHelper(str(tmp_path / "absent.sock"))
    message = fails_cleanly(desk, lambda: desk.export(helper), "exportd is not running", [])
    assert "systemctl start nvr-exportd" in message


def test_r60_fault_a_request_that_does_not_cover_the_window(desk, tmp_path):
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = ExportdHelper(str(sock))
        helper.unlock("/dev/sdc", "")
        req = desk.request()
        fails_cleanly(desk, lambda: desk.export(helper, start=req["start"] - 3600),
                      f"request {req['id']} is about camera cam from",
                      [daemon.sticks["/dev/sdc"].mountpoint], error=RequestError)
        assert list(daemon.sticks["/dev/sdc"].mountpoint.iterdir()) == []


def test_r61_fault_the_recorder_filling_the_disk_meanwhile(tmp_path_factory, tmp_path):
    """The recorder fills the disk during the export and its sweep makes room by removing a
    segment of the window (here: its file removed while the first one is being read)."""
    desk = Desk(art9_site(tmp_path_factory.mktemp("filling")))
    try:
        segments = desk.store.list_segments("cam")
        last = desk.cfg.storage.data_dir / segments[-1]["path"]
        with exportd(tmp_path) as (sock, daemon, runner):
            helper = ExportdHelper(str(sock))
            helper.unlock("/dev/sdb", LUKS_PASSWORD)
            mount = daemon.sticks["/dev/sdb"].mountpoint

            def sweep(done, total):
                last.unlink(missing_ok=True)
            message = fails_cleanly(desk, lambda: desk.export(helper, progress=sweep),
                                    "could not be written to /dev/sdb", [mount])
            assert f"segment {segments[-1]['id']}" in message and "is missing" in message
            assert list(mount.iterdir()) == []           # the .part folder was removed
    finally:
        desk.close()


def _files_in(image: Path) -> list[str]:
    listed = subprocess.run(["debugfs", "-R", "ls -p /", str(image)], capture_output=True,
                            text=True, check=True).stdout
    return sorted(line.split("/")[5] for line in listed.splitlines()
                  if line.count("/") >= 6 and line.split("/")[5] not in (".", ".."))
