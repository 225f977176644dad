"""Red team of issue 13: exportd's state of a stick across udev's "change" events
(firmware/export/daemon.py, R-61).

udev sends "change" for a disk that is already present: `udevadm trigger` (its default action
is change; boot, package updates and `udevadm control --reload` runs do it), a media change,
and the inotify watch of 60-block.rules, which emits "change" whenever a process closes a
block device it opened for writing. `Daemon.handle_event` treated every event but "remove"
as a new stick: it replaced the unlocked stick by a fresh, locked one and so forgot its
mount point, its LUKS mapping and the write under way. The stick then showed as locked
while it was mounted and open, `eject` neither unmounted nor closed it (a person is told
"pull it out now" with the file system mounted), unlocking again failed (the mapping
exists) and the export under way failed at `finish` with "no write open". Fixed: an event
for a stick exportd already holds keeps its state."""

from __future__ import annotations

import os

from test_exportd import PASSWORD, STICK, twin  # noqa: F401 - the fixture

from firmware.export.udev import DeviceEvent


def _change(props: dict) -> DeviceEvent:
    return DeviceEvent("change", props)


def test_a_change_event_keeps_an_unlocked_stick_unlocked_and_eject_locks_it_R61(twin):  # noqa: F811
    daemon, runner = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    daemon.handle_event(_change(STICK))               # udevadm trigger, or the inotify watch
    [listed] = [s for s in daemon.list() if s["device"] == "/dev/sdb"]
    assert listed["state"] == "unlocked", "exportd forgot that the stick is mounted and open"
    runner.calls.clear()
    daemon.eject("/dev/sdb")
    assert [a[:2] for a in runner.calls if a[0] in ("umount", "cryptsetup")] == [
        ["umount", str(daemon.runtime_dir / "mnt" / "sdb")], ["cryptsetup", "close"]], \
        runner.calls
    assert runner.mounted == {}


def test_a_change_event_mid_write_does_not_lose_the_export_under_way_R61(twin):  # noqa: F811
    daemon, runner = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    _, fds = daemon.write_open("/dev/sdb", "export-x", ["a.txt"], 10)
    try:
        os.write(fds[0], b"evidence")
    finally:
        for fd in fds:
            os.close(fd)
    daemon.handle_event(_change(STICK))
    done = daemon.write_finish("/dev/sdb", "export-x")
    assert done["bytes"] == len(b"evidence")
    assert (daemon.runtime_dir / "mnt" / "sdb" / "export-x" / "a.txt").read_bytes() == \
        b"evidence"


def test_a_write_pulled_out_and_never_closed_does_not_fail_the_next_export_R61(twin):  # noqa: F811
    """The stick pulled mid-write while its client had died (never sent finish or abort): the
    pull was kept per device, so the next, unrelated export onto the same stick, inserted
    again, was refused at `finish` as "pulled out mid-write" although nothing was pulled."""
    daemon, runner = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    _, fds = daemon.write_open("/dev/sdb", "export-a", ["a.txt"], 10)
    for fd in fds:
        os.close(fd)
    daemon.handle_event(DeviceEvent("remove", STICK))   # pulled; client a is gone
    daemon.handle_event(DeviceEvent("add", STICK))      # inserted again
    daemon.unlock("/dev/sdb", PASSWORD)
    _, fds = daemon.write_open("/dev/sdb", "export-b", ["b.txt"], 10)
    for fd in fds:
        os.close(fd)
    assert daemon.write_finish("/dev/sdb", "export-b")["path"] == "export-b"
    import pytest

    from firmware.export.daemon import ExportdError
    with pytest.raises(ExportdError, match="pulled out mid-write"):
        daemon.write_finish("/dev/sdb", "export-a")     # the pulled write still says so


def _mounted_disk() -> str:
    """The whole disk ("major:minor") that holds this test's root file system."""
    import pytest
    from pathlib import Path
    dev = os.stat("/").st_dev
    node = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if not node.exists():
        pytest.skip(f"/ is not on a block device ({os.major(dev)}:{os.minor(dev)}): no mounted "
                    "disk to offer as a stick here")
    real = node.resolve()
    if (real / "partition").exists():
        real = real.parent
    return (real / "dev").read_text().strip()


def _as_usb(disk: str) -> dict:
    major, minor = disk.split(":")
    return {**STICK, "DEVNAME": "/dev/sdz", "MAJOR": major, "MINOR": minor,
            "ID_FS_TYPE": "ext4", "ID_MODEL": "USB_SSD"}


def test_a_disk_mounted_after_exportd_started_is_never_offered_nor_formatted_R61(tmp_path):
    """exportd reads the system's disks once, at start (`system_disks`). A USB data disk
    mounted after that (a `nofail` mount that came late, a disk replaced while it ran) was
    offered as a stick, and `format` ran luksFormat on it."""
    import pytest

    from firmware.export.daemon import Daemon, ExportdError, Stick
    from test_exportd import TwinRunner
    disk = _mounted_disk()
    runner = TwinRunner(tmp_path, {"/dev/sdz": 64_000_000_000})
    (tmp_path / "run").mkdir()
    daemon = Daemon(runner, system_disks=set(), runtime_dir=tmp_path / "run")   # read at start
    daemon.handle_event(DeviceEvent("add", _as_usb(disk)))
    assert "/dev/sdz" not in [s["device"] for s in daemon.list()]
    # Offered while it was not yet mounted, then mounted by the system: still never formatted.
    daemon.sticks["/dev/sdz"] = Stick(devname="/dev/sdz", disk=disk, devtype="disk",
                                      model="USB SSD", serial="", size=64_000_000_000,
                                      kind="plain", fstype="ext4")
    stick = daemon.sticks["/dev/sdz"]
    with pytest.raises(ExportdError, match="in use"):
        daemon.format("/dev/sdz", stick.confirmation(), PASSWORD)
    with pytest.raises(ExportdError, match="in use"):
        daemon.unlock("/dev/sdz", "")
    assert not [a for a in runner.calls if a[0] in ("cryptsetup", "mkfs.ext4", "mount")]


def test_two_exports_at_once_cannot_both_claim_the_same_free_space_R61(twin):  # noqa: F811
    """"Stick too small (checked before starting)": two exports onto one stick at the same
    time (the web and `nvr export create`, whose jobs the web does not see) were each checked
    against the whole free space, so both started and one ended in a full stick mid-write.
    The second is now checked against what the first still has to write."""
    import shutil

    import pytest

    from firmware.export.daemon import ExportdError
    daemon, _ = twin
    daemon.unlock("/dev/sdb", PASSWORD)
    free = shutil.disk_usage(daemon.sticks["/dev/sdb"].mountpoint).free
    need = int(free * 0.6)
    _, fds = daemon.write_open("/dev/sdb", "export-a", ["a.mp4"], need)
    for fd in fds:
        os.close(fd)
    with pytest.raises(ExportdError, match="too small"):
        daemon.write_open("/dev/sdb", "export-b", ["b.mp4"], need)
    assert not (daemon.sticks["/dev/sdb"].mountpoint / ".export-b.part").exists()
    daemon.write_abort("/dev/sdb", "export-a")            # the space is free again
    _, fds = daemon.write_open("/dev/sdb", "export-b", ["b.mp4"], need)
    for fd in fds:
        os.close(fd)


def test_a_peer_that_connects_and_sends_nothing_is_dropped_R61(twin, tmp_path, monkeypatch):  # noqa: F811
    """One thread per connection, and no limit on how long a request may take to arrive: the
    recorder's user (eject button, the peer with the largest attack surface: it parses the
    cameras' streams) could hold any number of exportd's threads by connecting and sending
    nothing. A request must arrive within REQUEST_TIMEOUT; then the connection is answered
    with a refusal and closed."""
    import json
    import socket
    import threading

    from firmware.export import protocol
    from firmware.export.daemon import serve
    daemon, _ = twin
    monkeypatch.setattr(protocol, "REQUEST_TIMEOUT", 0.5, raising=False)
    path, stop = tmp_path / "idle.sock", threading.Event()
    policy = protocol.PeerPolicy(uids=frozenset({os.getuid()}))
    thread = threading.Thread(target=serve, args=(daemon, path, policy, stop), daemon=True)
    thread.start()
    while not path.exists():
        threading.Event().wait(0.01)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
            idle.connect(str(path))
            idle.settimeout(30)                        # a bound for the test, not a measure
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = idle.recv(4096)
                if not chunk:
                    break
                answer += chunk
        reply = json.loads(answer) if answer else {}
        assert reply.get("ok") is False and "in time" in reply.get("error", ""), answer
        assert protocol.call(path, {"cmd": "list"})["ok"]     # the others are still served
    finally:
        stop.set()
        thread.join(5)


def _serving(daemon, tmp_path):
    import threading

    from firmware.export import protocol
    from firmware.export.daemon import serve
    path, stop = tmp_path / "busy.sock", threading.Event()
    policy = protocol.PeerPolicy(uids=frozenset({os.getuid()}))
    thread = threading.Thread(target=serve, args=(daemon, path, policy, stop), daemon=True)
    thread.start()
    while not path.exists():
        threading.Event().wait(0.01)
    return path, stop, thread


def test_the_sticks_are_listed_while_a_long_finish_holds_exportd_R61(twin, tmp_path):  # noqa: F811
    """`write finish` fsyncs the whole package onto the stick (minutes on a slow stick) with
    exportd's lock held; `list` waited for it, so the web's export page (30 s timeout) and the
    eject button failed for every other person meanwhile. `list` reads a snapshot instead."""
    from firmware.export import protocol
    daemon, _ = twin
    path, stop, thread = _serving(daemon, tmp_path)
    try:
        with daemon.lock:                              # a finish syncing a large package
            listed = protocol.call(path, {"cmd": "list"}, timeout=30)
        assert {d["device"] for d in listed["devices"]} == {"/dev/sdb", "/dev/sdc"}
    finally:
        stop.set()
        thread.join(5)


def test_an_answer_that_does_not_come_in_time_is_a_protocol_error_R61(twin, tmp_path):  # noqa: F811
    """A call whose answer does not come within its timeout raised a bare TimeoutError, which
    neither the web (ExportError) nor the CLI catches: a 500 instead of a message."""
    import pytest

    from firmware.export import protocol
    daemon, _ = twin
    path, stop, thread = _serving(daemon, tmp_path)
    try:
        with daemon.lock:                              # eject must wait for the finish
            with pytest.raises(protocol.ProtocolError, match="exportd did not answer"):
                protocol.call(path, {"cmd": "eject", "device": "/dev/sdb"}, timeout=0.5)
    finally:
        stop.set()
        thread.join(5)
