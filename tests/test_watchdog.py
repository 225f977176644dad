"""Issue 12 item 2: a watchdog that means something.

A real `nvr run --no-web` subprocess talks the sd_notify protocol to a real AF_UNIX datagram
socket bound here (NOTIFY_SOCKET), with a watchdog of 2 s (WATCHDOG_USEC): it says READY=1 once
the camera delivers, pings WATCHDOG=1 while it records, and withholds the ping (saying why in
STATUS=) while the camera stalls or a segment commit hangs, which is what makes systemd
restart it. A restart after an unclean end is counted in the index and logged.

Pings are counted, never timed: "withheld" means several status lines in a row with no ping
between them, at the cadence the pings had.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, nvr, write_config

WATCHDOG_USEC = "2000000"            # pings every second
TIMEOUT = 90.0                       # generous: the machine is shared


def fields(datagram: bytes) -> dict[str, str]:
    """An sd_notify datagram: KEY=value lines."""
    return dict(line.split("=", 1) for line in datagram.decode().splitlines() if line)


class NotifySocket:
    """What systemd's end of NOTIFY_SOCKET sees: every datagram, in order."""

    def __init__(self, directory: Path):
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.messages: list[dict[str, str]] = []

    def next(self, deadline: float, proc: subprocess.Popen) -> dict[str, str]:
        while True:
            assert proc.poll() is None, f"the recorder ended: {proc.communicate()[1][-3000:]}"
            left = deadline - time.monotonic()
            assert left > 0, f"nothing more from the recorder; so far: {self.messages[-10:]}"
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append(fields(data))
            return self.messages[-1]

    def wait_for(self, proc: subprocess.Popen, test, what: str,
                 timeout: float = TIMEOUT) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.next(deadline, proc)
            except AssertionError as exc:
                raise AssertionError(f"waiting for {what}: {exc}") from None
            if test(message):
                return message

    def rest(self) -> list[dict[str, str]]:
        """What arrived and was not read yet (after the recorder ended)."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(4096)
                self.messages.append(fields(data))
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        return self.messages

    def close(self) -> None:
        self.sock.close()


def ping(m: dict) -> bool:
    return m.get("WATCHDOG") == "1"


def not_well(m: dict) -> bool:
    return m.get("STATUS", "").startswith("niet in orde, watchdog-signaal ingehouden")


@pytest.fixture
def notify():
    # A short directory: an AF_UNIX path has room for 107 bytes only.
    directory = Path(tempfile.mkdtemp(prefix="nvr-notify-", dir="/tmp"))
    sock = NotifySocket(directory)
    yield sock
    sock.close()
    sock.path.unlink(missing_ok=True)
    directory.rmdir()


def start(config: Path, notify: NotifySocket | None, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "NRESTARTS")}
    if notify is not None:
        environ |= {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": WATCHDOG_USEC}
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "run", "--no-web"], cwd=ROOT, env=environ | env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    return out, err


def withheld(notify: NotifySocket, proc: subprocess.Popen, ticks: int = 3) -> list[dict]:
    """The next `ticks` messages: each a status saying why, none a ping."""
    deadline = time.monotonic() + TIMEOUT
    seen = [notify.next(deadline, proc) for _ in range(ticks)]
    assert not any(ping(m) for m in seen), seen
    assert all(not_well(m) for m in seen), seen
    return seen


def test_ready_then_pings_only_while_the_camera_delivers_frames_issue12_item2_R82(tmp_path, notify):
    freeze = tmp_path / "freeze"
    config = write_config(tmp_path, camera_extra=f'freeze_file = "{freeze}"')
    proc = start(config, notify)
    try:
        ready = notify.wait_for(proc, lambda m: m.get("READY") == "1", "READY=1")
        # systemctl status speaks Dutch to the technisch beheerder (the catalogue)
        assert ready["STATUS"].startswith("neemt op met 1 camera('s), alle leveren beeld; "
                                          "laatste segment opgeslagen: "), ready
        for _ in range(3):                                   # pings keep coming while well
            notify.wait_for(proc, ping, "WATCHDOG=1")
        freeze.touch()                                       # the camera stops delivering
        why = notify.wait_for(proc, not_well, "the status of a stalled camera")
        assert "camera cam leverde al meer dan 10 s geen beeld" in why["STATUS"], why
        withheld(notify, proc)
        freeze.unlink()                                      # frames again: pings resume
        notify.wait_for(proc, ping, "WATCHDOG=1 after the camera came back")
        out, err = stop(proc)
    finally:
        proc.kill()
    assert any(m.get("STOPPING") == "1" and m["STATUS"].startswith("stopt:")
               for m in notify.rest())
    assert "watchdog: not well" in err and "watchdog: well again" in err
    assert not (tmp_path / "data" / "recorder.running").exists()     # a clean stop


def test_pings_stop_while_a_segment_commit_hangs_issue12_item2_R82(tmp_path, notify):
    # 2 s segments: the demo scene's passers-by keep an event open, so commits come often.
    config = write_config(tmp_path, storage="segment_seconds = 2")
    proc = start(config, notify)
    index = None
    try:
        notify.wait_for(proc, lambda m: m.get("READY") == "1", "READY=1")
        notify.wait_for(proc, lambda m: ping(m) and "STATUS" in m and "nog geen" not in
                        m["STATUS"], "a ping after the first segment was stored")
        # Another process holds the index's write lock: the next commit waits on it.
        index = sqlite3.connect(tmp_path / "data" / "index.sqlite3", isolation_level=None)
        index.execute("BEGIN IMMEDIATE")
        why = notify.wait_for(proc, lambda m: "vastleggen in de index duurt al" in
                              m.get("STATUS", ""), "the status of a hung commit, in Dutch")
        assert not_well(why)
        withheld(notify, proc)
        index.execute("ROLLBACK")                            # the disk answers again
        index.close()
        index = None
        notify.wait_for(proc, ping, "WATCHDOG=1 after the commit went through")
        stop(proc)
    finally:
        proc.kill()
        if index is not None:
            index.close()


def test_a_storage_error_withholds_no_ping_a_restart_cures_none_issue12_item2_R82(tmp_path, notify):
    """Segments that cannot be stored (here: the camera's folder is a file) are lost and said
    by the recorder's status and /readyz; within the failure bound (60 s by default) the pings
    go on: one lost segment is no reason to restart (the bound: the test above)."""
    from firmware.config import load
    from firmware.live.client import recorder_status
    freeze = tmp_path / "freeze"
    freeze.touch()                                  # no frames until the obstacle is in place
    config = write_config(tmp_path, storage="segment_seconds = 2",
                          camera_extra=f'freeze_file = "{freeze}"')
    live_socket = load(config).live_socket
    proc = start(config, notify)
    try:
        deadline = time.monotonic() + TIMEOUT
        while recorder_status(live_socket) is None:     # the store is open and reconciled
            assert proc.poll() is None and time.monotonic() < deadline, "no recorder socket"
            time.sleep(0.2)
        assert not any("READY" in m for m in notify.rest())   # no frame yet: not started
        (tmp_path / "data" / "segments").mkdir(exist_ok=True)
        (tmp_path / "data" / "segments" / "cam").write_text("not a folder")
        freeze.unlink()
        notify.wait_for(proc, lambda m: m.get("READY") == "1", "READY=1")
        while not (recorder_status(live_socket) or {}).get("cam", {}).get("storage_error"):
            assert proc.poll() is None and time.monotonic() < deadline, "no storage error"
            time.sleep(0.2)
        first = len(notify.messages)
        for _ in range(3):
            notify.wait_for(proc, ping, "WATCHDOG=1 while segments are lost")
        assert not any(not_well(m) for m in notify.messages[first:])
        stop(proc)
    finally:
        proc.kill()


def _folder_is_a_file(folder: Path) -> None:
    folder.write_text("not a folder")


def _failing_store(tmp_path: Path, notify: NotifySocket, storage: str,
                   obstacle=_folder_is_a_file):
    """A recorder whose camera's folder is made unusable by `obstacle` (by default: it is a
    file): every segment fails to be stored (an error, not a hang). Returns the process once
    the error shows in its status."""
    from firmware.config import load
    from firmware.live.client import recorder_status
    freeze = tmp_path / "freeze"
    freeze.touch()                                  # no frames until the obstacle is in place
    config = write_config(tmp_path, storage=storage, camera_extra=f'freeze_file = "{freeze}"')
    live_socket = load(config).live_socket
    proc = start(config, notify)
    deadline = time.monotonic() + TIMEOUT
    while recorder_status(live_socket) is None:     # the store is open and reconciled
        assert proc.poll() is None and time.monotonic() < deadline, "no recorder socket"
        time.sleep(0.2)
    (tmp_path / "data" / "segments").mkdir(exist_ok=True)
    obstacle(tmp_path / "data" / "segments" / "cam")
    freeze.unlink()
    notify.wait_for(proc, lambda m: m.get("READY") == "1", "READY=1")
    while not (recorder_status(live_socket) or {}).get("cam", {}).get("storage_error"):
        assert proc.poll() is None and time.monotonic() < deadline, "no storage error"
        time.sleep(0.2)
    return proc


def failing_too_long(m: dict) -> bool:
    return not_well(m) and "kon geen segment worden opgeslagen" in m["STATUS"]


def test_segments_failing_longer_than_the_bound_stop_the_pings_issue12_item2(tmp_path, notify):
    """Issue 12: pings "only while frames arrive and segments reach the disk". Segments that
    fail with an error (not a hang) for longer than `[storage] watchdog_failure_seconds` (here
    2 s, raised to two 2-s segments: 4 s) stop the pings, the status naming the camera and the
    error, so systemd restarts the recorder and counts it; once a segment is stored again
    the pings resume."""
    proc = _failing_store(tmp_path, notify,
                          "segment_seconds = 2\nwatchdog_failure_seconds = 2")
    try:
        why = notify.wait_for(proc, failing_too_long, "the pings withheld for failing segments")
        assert "camera cam: al meer dan 4 s kon geen segment worden opgeslagen" in \
            why["STATUS"], why
        withheld(notify, proc)
        (tmp_path / "data" / "segments" / "cam").unlink()     # the store works again
        notify.wait_for(proc, ping, "WATCHDOG=1 once a segment is stored again")
        stop(proc)
    finally:
        proc.kill()


def _full_file_system(folder: Path) -> None:
    """A 64 KiB tmpfs at `folder`, filled: every write below it fails with ENOSPC."""
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                           str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"mount -t tmpfs needs root with CAP_SYS_ADMIN (as .ci/run gives): "
                    f"{done.stderr.strip()}")
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:                                       # ENOSPC: full
        pass
    finally:
        os.close(fd)


def test_a_full_disk_withholds_no_ping_even_past_the_bound_issue12_item2_R42(tmp_path, notify):
    """A full file system (ENOSPC; the same holds for the storage-full alarm of a disk whose
    footage is all held, R-42): a restart makes no room and would only drop the pre-roll and
    the frames of every start-up, so the pings go on past the failure bound (4 s here;
    docs/units.md, "The watchdog and a full disk"). Counted, not timed: eight pings after the
    error showed span more than the bound."""
    folder = tmp_path / "data" / "segments" / "cam"
    proc = None
    try:
        proc = _failing_store(tmp_path, notify,
                              "segment_seconds = 2\nwatchdog_failure_seconds = 2",
                              obstacle=_full_file_system)
        first = len(notify.messages)
        for _ in range(8):
            notify.wait_for(proc, ping, "WATCHDOG=1 while the disk is full")
        assert not any(not_well(m) for m in notify.messages[first:]), notify.messages[first:]
        from firmware.config import load
        from firmware.live.client import recorder_status
        status = recorder_status(load(tmp_path / "nvr.toml").live_socket)
        assert "No space left on device" in status["cam"]["storage_error"], status
        stop(proc)
    finally:
        if proc is not None:
            proc.kill()
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_the_store_says_when_its_writer_ended_or_an_operation_runs_too_long(tmp_path):
    import threading
    from firmware.storage.keys import FileKeyProvider
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore(tmp_path / "data", "dev", FileKeyProvider(tmp_path / "keys"),
                           retention_days=28, owner=True)
    try:
        assert store.writer_hung(15.0) == ""
        release, started = threading.Event(), threading.Event()
        store.submit(lambda: (started.set(), release.wait(60)))     # a write that hangs
        assert started.wait(30)
        assert store.writer_hung(15.0) == ""                        # not for long yet
        later = time.monotonic() + 16.0
        assert "has been running for 16 s (more than 15 s)" in store.writer_hung(15.0, later)
        release.set()
        store.drain()
        assert store.writer_hung(15.0, later) == ""
        store.submit(None)                                          # the writer ends
        store._writer.join(30)
        assert store.writer_hung(15.0) == "the store's writer thread has ended"
    finally:
        release.set()
        store.close()


def _restarts(config: Path) -> tuple[int, dict | None, list[dict]]:
    from firmware.config import load
    from firmware.governance.service import Governance
    from firmware.storage import restarts
    from firmware.storage.store import EncryptedStore
    cfg = load(config)
    store = EncryptedStore.from_config(cfg)
    try:
        counted, last = restarts.count(store), restarts.last(store)
    finally:
        store.close()
    gov = Governance.open(cfg)
    try:
        logged = [e for e in gov.logbook.entries("usage") if e["action"] == "recorder-restart"]
    finally:
        gov.close()
    return counted, last, logged


def test_a_restart_after_sigkill_is_counted_and_logged_a_clean_stop_is_not_issue12_item2_R82(
        tmp_path, notify):
    config = write_config(tmp_path)
    killed = start(config, notify)
    try:
        notify.wait_for(killed, lambda m: m.get("READY") == "1", "READY=1 of the first run")
    finally:
        killed.kill()                                        # SIGKILL: no clean stop
    killed.communicate(timeout=30)
    again = start(config, notify, NRESTARTS="1")             # systemd says how many restarts
    try:
        notify.wait_for(again, lambda m: m.get("READY") == "1", "READY=1 after the restart")
        out, err = stop(again)
    finally:
        again.kill()
    assert "restarted after an unclean end" in out
    assert f"pid {killed.pid}" in out
    third = start(config, notify)                            # after a clean stop
    try:
        notify.wait_for(third, lambda m: m.get("READY") == "1", "READY=1 of the third run")
        out, _ = stop(third)
    finally:
        third.kill()
    assert "unclean end" not in out
    counted, last, logged = _restarts(config)
    assert counted == 1
    assert last["previous_pid"] == killed.pid and last["nrestarts"] == 1
    assert len(logged) == 1 and logged[0]["actor"] == "nvr"
    assert json.loads(logged[0]["details"])["previous_pid"] == killed.pid


def test_sigabrt_of_the_watchdog_shows_every_thread_and_counts_as_a_restart_issue12_item2_R82(
        tmp_path, notify):
    """What systemd does when the pings stop: SIGABRT. The log shows where each thread was."""
    config = write_config(tmp_path)
    proc = start(config, notify)
    try:
        notify.wait_for(proc, lambda m: m.get("READY") == "1", "READY=1")
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGABRT
    assert "Fatal Python error: Aborted" in err and err.count("Thread 0x") >= 3, err[-3000:]
    for where in ("in cmd_run", "in _write_loop", "capture/camera.py"):  # main, writer, camera
        assert where in err, err[-3000:]
    assert (tmp_path / "data" / "recorder.running").exists()     # counted at the next start


def test_notify_speaks_to_abstract_and_path_sockets_and_reads_the_watchdog(tmp_path):
    from firmware.system.notify import Notifier, watchdog_seconds
    name = f"nvr-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(10)
        n = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "30000000"})
        assert n.watchdog_interval == 30.0
        assert n.ready("up") and s.recv(100) == b"READY=1\nSTATUS=up"
        assert n.watchdog() and s.recv(100) == b"WATCHDOG=1"
        assert n.stopping() and s.recv(100) == b"STOPPING=1"
    assert not Notifier({}).watchdog()                        # no socket: nothing, no error
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000",
                             "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "x"}) is None
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).status("x") is False


def test_freeze_file_only_for_the_synthetic_camera_with_an_absolute_path(tmp_path):
    config = write_config(tmp_path, camera_extra='freeze_file = "freeze"')
    done = nvr("--config", str(config), "config", "check")
    assert done.returncode != 0
    assert "cameras[0].freeze_file" in done.stderr and "absolute path" in done.stderr
