"""Issue 13's faults, the loose ends (task faults13): each ends with a clear message in the
catalogue, an `export-failed` entry in the usage logbook, and nothing that verifies.

1. A stick pulled mid-write shows up on a real device as EIO (or ENODEV, ENXIO, ENOENT) on
   write, fsync, rename or close: the faults are injected at that boundary (a file whose N-th
   write fails, os.fsync / os.rename failing for the stick's files only), everything else is
   real: the Daemon over a real Unix socket, `nvr` in a subprocess, the real `nvr export
   verify`.
2. protocol.call tells a timeout, a broken connection and a missing exportd apart: a real Unix
   socket server in the test that never answers or closes the connection.
3. The web's export jobs live in one process: a restarted web process (a second app) says so
   in Dutch instead of a bare 404, and the half-written folder does not verify.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import threading
from pathlib import Path

import pytest

from firmware.export import protocol
from firmware.i18n import translations

DUTCH = translations("nl")


# -- 2. protocol.call: timeout, broken connection, not running ------------------------------------

class OneShotServer:
    """A real Unix socket server that does `behaviour(conn)` with each connection."""

    def __init__(self, path: Path, behaviour):
        self.path, self.behaviour = path, behaviour
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            self.behaviour(conn, self)

    def close(self) -> None:
        self.release.set()
        self.server.close()
        self.thread.join(5)


def _read_line(conn: socket.socket) -> None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


@pytest.fixture
def server(tmp_path):
    made: list[OneShotServer] = []

    def start(behaviour) -> Path:
        made.append(OneShotServer(tmp_path / "exportd.sock", behaviour))
        return made[-1].path
    yield start
    for s in made:
        s.close()


def test_exportd_that_never_answers_is_a_timeout(server):
    path = server(lambda conn, s: (_read_line(conn), s.release.wait(10)))
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.call(path, {"cmd": "list"}, timeout=0.5)
    assert "did not answer list within" in str(caught.value)
    assert "broke" not in str(caught.value)


def test_exportd_closing_the_connection_without_an_answer_is_a_broken_connection(server):
    """exportd died or restarted after reading the request: an empty read."""
    path = server(lambda conn, s: _read_line(conn))
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.call(path, {"cmd": "list"}, timeout=5)
    message = str(caught.value)
    assert "the connection to exportd broke (it stopped or restarted;" in message, message
    assert "systemctl status nvr-exportd" in message and "in time" not in message


def test_exportd_breaking_off_mid_answer_is_a_broken_connection(server):
    def half(conn, s):
        _read_line(conn)
        conn.sendall(b'{"ok": true, "devi')
    path = server(half)
    with pytest.raises(protocol.ProtocolError, match="the connection to exportd broke"):
        protocol.call(path, {"cmd": "list"}, timeout=5)


def test_exportd_resetting_the_connection_is_a_broken_connection(server):
    """exportd closes with the request unread: the client's read gets ECONNRESET (or its
    send EPIPE)."""
    def reset(conn, s):
        s.release.wait(0.2)             # the request is in conn's buffer, unread
    path = server(reset)
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.call(path, {"cmd": "list", "pad": "x" * 100}, timeout=5)
    message = str(caught.value)
    assert "the connection to exportd broke" in message and "in time" not in message, message


def test_exportd_answering_something_unreadable_says_so(server):
    def garbage(conn, s):
        _read_line(conn)
        conn.sendall(b"<html>not exportd</html>\n")
    path = server(garbage)
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.call(path, {"cmd": "list"}, timeout=5)
    message = str(caught.value)
    assert "an answer this client cannot read" in message and "broke" not in message


def test_no_exportd_is_not_running_and_each_message_is_dutch_in_the_web(tmp_path):
    with pytest.raises(protocol.ProtocolError, match="exportd is not running"):
        protocol.call(tmp_path / "absent.sock", {"cmd": "list"})
    refused = tmp_path / "refused.sock"             # a socket nobody listens on
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(refused))
    s.close()
    with pytest.raises(protocol.ProtocolError, match="exportd is not running"):
        protocol.call(refused, {"cmd": "list"})
    broke = ("the connection to exportd broke (it stopped or restarted; %(problem)s); check "
             "`systemctl status nvr-exportd` and try again")
    assert DUTCH.gettext(broke) != broke and "exportd" in DUTCH.gettext(broke)


# -- 1. a stick pulled mid-write: EIO (ENODEV, ENXIO, ENOENT) on the stick's files -------------

GONE = "was removed during writing or gave a write error"
GONE_NL = "is tijdens het schrijven verwijderd of gaf een schrijffout"


class FailsAtWrite(io.IOBase):
    """A package file on the stick whose `n`-th write (counted over all files of the package,
    `count`) fails with EIO, as a pulled stick's does; everything else is the real file."""

    def __init__(self, f, n: int, count: list[int], code: int = errno.EIO):
        super().__init__()
        self._f, self._n, self._count, self._code = f, n, count, code
        self.name = getattr(f, "name", None)

    def write(self, data) -> int:
        self._count[0] += 1
        if self._count[0] >= self._n:
            raise OSError(self._code, os.strerror(self._code))
        return self._f.write(data)

    def read(self, size: int = -1) -> bytes:
        return self._f.read(size)

    def readinto(self, buffer) -> int:
        return self._f.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def truncate(self, size=None) -> int:
        return self._f.truncate(size)

    def flush(self) -> None:
        self._f.flush()

    def fileno(self) -> int:
        return self._f.fileno()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


def writes_fail_at(target, n: int):
    """`target` (a helper's Target) whose files fail at the n-th write."""
    count, real_open = [0], target.open
    target.open = lambda name: FailsAtWrite(real_open(name), n, count)
    return target


def fail_under(monkeypatch, root: Path, call: str, code: int = errno.EIO) -> list[str]:
    """os.fsync (of a descriptor) or os.rename (of a path) under `root` fails with `code`,
    as on a stick pulled out (or a failing mapping); every other call is the real one.
    Returns the paths that failed."""
    real, failed, root = getattr(os, call), [], str(root)

    def where(arg) -> str:
        if isinstance(arg, int):
            try:
                return os.readlink(f"/proc/self/fd/{arg}")
            except OSError:
                return ""
        return os.fspath(arg)

    def failing(*args, **kwargs):
        path = where(args[0])
        if path == root or path.startswith(root + "/"):
            failed.append(path)
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)
    monkeypatch.setattr(os, call, failing)
    return failed


@pytest.fixture(scope="module")
def art9(tmp_path_factory):
    from stickutil import art9_site
    return art9_site(tmp_path_factory.mktemp("faults2"))


@pytest.fixture
def desk(art9):
    from stickutil import Desk
    d = Desk(art9)
    yield d
    d.close()


def _usb_list(config: Path, sock: Path) -> dict:
    import json

    from conftest import nvr
    from stickutil import stick_config
    listed = nvr("--config", str(stick_config(config)), "usb", "list", "--json",
                 env={**os.environ, "NVR_EXPORTD_SOCKET": str(sock)})
    assert listed.returncode == 0, listed.stderr
    devices = json.loads(listed.stdout)
    return {d["device"]: d for d in devices}


def test_r61_eio_at_the_nth_write_on_the_folder_ends_with_the_removed_message(desk, tmp_path):
    from test_export_faults import fails_cleanly

    from firmware.export.helpers import DirectoryHelper

    class Pulled(DirectoryHelper):
        def target(self, stick, name, files, need):
            return writes_fail_at(super().target(stick, name, files, need), 3)
    medium = tmp_path / "stick"
    for package in ("files", "7z"):
        message = fails_cleanly(desk, lambda: desk.export(Pulled(medium, package)), GONE,
                                [medium])
        assert "Insert the stick again and start the export again" in message
        assert message.startswith(f"the USB stick {medium} ")
        assert list(medium.iterdir()) == []                 # the .part folder removed


def test_r61_a_full_stick_inside_the_mp4_muxer_is_said_not_a_bare_error(desk, tmp_path):
    """ENOSPC at a write PyAV makes (the MP4 streamed into the stick's file) comes out of
    PyAV as its callback error: said as the write failing, with the reason."""
    from test_export_faults import fails_cleanly

    from firmware.export.helpers import DirectoryHelper

    class Full(DirectoryHelper):
        def target(self, stick, name, files, need):
            target, count = super().target(stick, name, files, need), [0]
            real_open = target.open
            target.open = lambda n: FailsAtWrite(real_open(n), 3, count, errno.ENOSPC)
            return target
    medium = tmp_path / "stick"
    message = fails_cleanly(desk, lambda: desk.export(Full(medium, "files")),
                            f"could not be written to {medium}", [medium])
    assert os.strerror(errno.ENOSPC) in message and GONE not in message
    assert list(medium.iterdir()) == []                     # the .part folder removed


@pytest.mark.parametrize("call, code", [("fsync", errno.EIO), ("rename", errno.ENOENT)])
def test_r61_eio_at_fsync_or_rename_of_the_folder_ends_with_the_removed_message(
        desk, tmp_path, monkeypatch, call, code):
    from test_export_faults import fails_cleanly

    from firmware.export.helpers import DirectoryHelper
    medium = tmp_path / "stick"
    medium.mkdir()
    failed = fail_under(monkeypatch, medium, call, code)
    fails_cleanly(desk, lambda: desk.export(DirectoryHelper(medium, "files")), GONE, [medium])
    assert failed                                           # the fault did happen there


def test_r61_a_failing_disk_of_the_recorder_is_not_blamed_on_the_stick(desk, tmp_path):
    """EIO while a segment is read from the recorder's own disk: said as that, not as a
    removed stick."""
    from test_export_faults import fails_cleanly

    from firmware.export.helpers import DirectoryHelper
    real = desk.store.read_segment

    def failing(segment_id):
        yield from list(real(segment_id))[:1]
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    desk.store.read_segment = failing
    medium = tmp_path / "stick"
    message = fails_cleanly(desk, lambda: desk.export(DirectoryHelper(medium, "files")),
                            "could not be read from the recorder's disk", [medium])
    assert GONE not in message and "the stick is not at fault" in message
    assert list(medium.iterdir()) == []                     # the .part folder removed


def test_r61_eio_at_a_write_to_exportd_s_stick_releases_it(desk, tmp_path, monkeypatch,
                                                           caplog):
    """The client's write into a descriptor exportd opened fails with EIO; its abort finds the
    stick failing too (the sync after removing the .part folder): exportd releases mount and
    mapping (lazy unmount, cryptsetup close) without crashing, and `nvr usb list` right after
    shows the stick locked, needing an unlock."""
    from stickutil import LUKS_PASSWORD, exportd
    from test_export_faults import fails_cleanly

    from firmware.export.helpers import ExportdHelper

    class Pulled(ExportdHelper):
        def target(self, stick, name, files, need):
            return writes_fail_at(super().target(stick, name, files, need), 5)
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = Pulled(str(sock))
        helper.unlock("/dev/sdb", LUKS_PASSWORD)
        mount = daemon.sticks["/dev/sdb"].mountpoint
        fail_under(monkeypatch, mount, "fsync")
        fails_cleanly(desk, lambda: desk.export(helper), GONE, [runner.medium("/dev/sdb")])
        assert "/dev/sdb failed mid-write" in caplog.text and "released" in caplog.text
        assert ["umount", "--lazy", str(mount)] in runner.calls
        assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]
        monkeypatch.undo()
        assert _usb_list(desk.config, sock)["/dev/sdb"]["state"] == "locked"
        assert helper.devices()                             # exportd still answers


def test_r61_a_pull_udev_reports_before_the_failing_write_leaves_the_stick_gone(desk, tmp_path):
    """The order of a real pull: udev's remove reaches exportd, then the client's next write
    fails with EIO and it aborts: the export says the stick was removed, exportd answers, and
    `nvr usb list` no longer shows the stick."""
    from stickutil import LUKS_PASSWORD, exportd
    from test_export_faults import fails_cleanly
    from test_exportd import STICK

    from firmware.export.helpers import ExportdHelper
    from firmware.export.udev import DeviceEvent

    class Pulled(ExportdHelper):
        def target(self, stick, name, files, need):
            target = super().target(stick, name, files, need)
            real_open = target.open

            def open_then_pull(n):
                daemon.handle_event(DeviceEvent("remove", STICK))
                return FailsAtWrite(real_open(n), 1, [0])
            target.open = open_then_pull
            return target
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = Pulled(str(sock))
        helper.unlock("/dev/sdb", LUKS_PASSWORD)
        fails_cleanly(desk, lambda: desk.export(helper), GONE, [runner.medium("/dev/sdb")])
        assert "/dev/sdb" not in _usb_list(desk.config, sock)
        assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]


@pytest.mark.parametrize("call, code", [("mkdir", errno.ENXIO), ("fsync", errno.EIO),
                                        ("rename", errno.ENODEV), ("rename", errno.ENOENT)])
def test_r61_exportd_releases_a_stick_failing_at_a_write_step_and_ends_its_other_writes(
        tmp_path, monkeypatch, call, code):
    """exportd's own steps of a write (mkdir of `.NAME.part` at open; fsync and rename at
    finish) failing with an I/O error: the catalogue's message (its msgid for the client),
    the stick released (lazy unmount, cryptsetup close) and locked, and another write open on
    it ends as pulled, not as a package."""
    from stickutil import LUKS_PASSWORD, SIZES
    from test_exportd import STICK, TwinRunner, _add

    from firmware.export.daemon import Daemon, ExportdError
    from firmware.export.faults import STICK_GONE
    runner = TwinRunner(tmp_path, SIZES)
    (tmp_path / "run").mkdir()
    daemon = Daemon(runner, system_disks={"8:0"}, runtime_dir=tmp_path / "run")
    daemon.handle_event(_add(STICK))
    daemon.unlock("/dev/sdb", LUKS_PASSWORD)
    mount = daemon.sticks["/dev/sdb"].mountpoint
    _, fds = daemon.write_open("/dev/sdb", "other", ["a.mp4"], 10)
    for fd in fds:
        os.close(fd)
    if call != "mkdir":
        _, fds = daemon.write_open("/dev/sdb", "this", ["a.mp4"], 10)
        for fd in fds:
            os.write(fd, b"bytes of a package")
            os.close(fd)
    failed = fail_under(monkeypatch, mount, call, code)
    with pytest.raises(ExportdError) as caught:
        if call == "mkdir":
            daemon.write_open("/dev/sdb", "this", ["a.mp4"], 10)
        else:
            daemon.write_finish("/dev/sdb", "this")
    monkeypatch.undo()
    assert failed and caught.value.msgid == STICK_GONE
    assert str(caught.value).startswith(f"the USB stick /dev/sdb {GONE}")
    assert daemon.list()[0]["state"] == "locked"
    assert ["umount", "--lazy", str(mount)] in runner.calls
    assert runner.calls[-1] == ["cryptsetup", "close", "nvr-export-sdb"]
    with pytest.raises(ExportdError, match="was pulled out mid-write"):
        daemon.write_finish("/dev/sdb", "other")
    assert not any(p.name in ("this", "other") for p in runner.medium("/dev/sdb").iterdir())


def test_r61_eio_at_exportd_s_fsync_fails_nvr_export_create_in_english(art9, tmp_path,
                                                                       monkeypatch):
    """exportd's `write finish` gets EIO at fsync: the real `nvr export create` says the
    stick was removed (English), the usage logbook has export-failed, nothing verifies, and
    `nvr usb list` shows the stick locked (its mount and mapping released)."""
    from conftest import nvr, staff
    from stickutil import LUKS_PASSWORD, Desk, exportd, nothing_verifies, stick_config
    with exportd(tmp_path) as (sock, daemon, runner):
        daemon.unlock("/dev/sdb", LUKS_PASSWORD)
        mount = daemon.sticks["/dev/sdb"].mountpoint
        failed = fail_under(monkeypatch, mount, "fsync")
        env = {**staff(art9), "NVR_EXPORTD_SOCKET": str(sock)}
        made = nvr("--config", str(stick_config(art9)), "export", "create", "--request",
                   "PL-STICK-1", "--user", "b.beheerder", "--reason", "art. 9", env=env)
        assert made.returncode == 1 and failed, made.stdout + made.stderr
        assert f"the USB stick /dev/sdb {GONE}" in made.stderr, made.stderr
        assert "Insert the stick again" in made.stderr
        monkeypatch.undo()
        assert _usb_list(art9, sock)["/dev/sdb"]["state"] == "locked"
        assert nothing_verifies(art9, runner.medium("/dev/sdb")) == []
    d = Desk(art9)
    try:
        assert GONE in d.failures()[-1]["reason"]
        assert not [e for e in d.exports() if e["request_id"] == d.request()["id"]]
    finally:
        d.close()


@pytest.fixture
def stick_web(site, tmp_path, monkeypatch):
    """The web site's app without the development folder, on a real exportd (runner twin)
    over a real Unix socket."""
    import dataclasses

    from stickutil import exportd

    from firmware.config import load
    from firmware.web import create_app
    app, config = site
    cfg = load(config)
    cfg = dataclasses.replace(cfg, export=dataclasses.replace(cfg.export, directory=""))
    with exportd(tmp_path) as (sock, daemon, runner):
        monkeypatch.setenv(protocol.SOCKET_ENV, str(sock))
        new = create_app(cfg, app.extensions["nvr"]["store"])
        new.config["TESTING"] = True
        yield new, daemon, runner


def test_r61_enodev_at_exportd_s_rename_is_said_in_dutch_on_the_web_page(stick_web,
                                                                         monkeypatch):
    from test_web_export import _registered, _unlocked_luks, _wait
    from webutil import csrf_of, login
    app, daemon, runner = stick_web
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-EIO-WEB")
    _unlocked_luks(c, req_id, daemon)
    failed = fail_under(monkeypatch, daemon.sticks["/dev/sdb"].mountpoint, "rename",
                        errno.ENODEV)
    r = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                   "reason": "stick weg bij hernoemen"})
    assert r.status_code == 303
    status = _wait(c, req_id)
    assert failed and status["state"] == "failed" and GONE_NL in status["error"], status
    body = c.get(f"/requests/{req_id}/export/status").get_data(True)
    assert GONE_NL in body and "Steek de stick opnieuw in" in body
    assert 'value="stick weg bij hernoemen"' in body
    assert daemon.sticks["/dev/sdb"].state == "locked"
    assert [p for p in runner.medium("/dev/sdb").rglob("*")] == []


# -- 3. the web's export jobs live in one process: a restart says so -----------------------------

INTERRUPTED_NL = ("De export is onderbroken (de webinterface is opnieuw gestart); er staat geen "
                  "geldig pakket op de stick. Start de export opnieuw.")


def _web_on(site, medium: Path, helper_class, monkeypatch):
    """A factory of web processes (apps) of the site exporting into `medium` through
    `helper_class` (a DirectoryHelper)."""
    import dataclasses

    import firmware.web.exports as web_exports
    from firmware.config import load
    from firmware.web import create_app
    app, config = site
    cfg = load(config)
    cfg = dataclasses.replace(cfg, export=dataclasses.replace(cfg.export,
                                                              directory=str(medium)))
    monkeypatch.setattr(web_exports, "helper_for", lambda _cfg: helper_class(medium, "files"))

    def process():
        new = create_app(cfg, app.extensions["nvr"]["store"])
        new.config["TESTING"] = True
        return new
    return process


def test_a_restarted_web_process_says_the_export_was_interrupted_and_nothing_verifies(
        site, tmp_path, monkeypatch):
    """The first web process writes the package and stalls mid-write (as when it is
    restarted: its job and thread are gone with it); the second process, asked by the same
    person's browser for that export's progress, says in Dutch that it was interrupted and
    links back to the request's export page, in the page and in the JSON the page polls. The
    half-written .part folder left on the stick does not verify."""
    from stickutil import verify_cli
    from test_web_export import _registered
    from webutil import csrf_of, login, replay

    from firmware.export.helpers import DirectoryHelper
    reached, gate = threading.Event(), threading.Event()

    class Stalls(DirectoryHelper):
        def target(self, stick, name, files, need):
            target, real_open = super().target(stick, name, files, need), None
            real_open = target.open

            def open_stalling(n):
                f = real_open(n)
                f.write(b"\0" * 1000)           # bytes on the stick
                f.flush()
                reached.set()
                gate.wait(60)                   # the process "dies" here
                raise OSError(errno.EIO, "the web process was restarted")
            target.open = open_stalling
            return target
    medium = tmp_path / "stick"
    web = _web_on(site, medium, Stalls, monkeypatch)
    first = web()
    c = login(first, "b.beheerder")
    req_id = _registered(c, "PL-RESTART")
    try:
        r = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                       "reason": "herstart tijdens export"})
        assert r.status_code == 303 and reached.wait(60)
        parts = list(medium.iterdir())
        assert [p.name for p in parts] == [p.name for p in parts if p.name.endswith(".part")]
        assert parts and all(verify_cli(site[1], p).returncode == 1 for p in parts)
        second = replay(web(), c)                # the same browser, the restarted process
        status = second.get(f"/api/requests/{req_id}/export/status")
        assert status.status_code == 200, status.get_data(True)
        data = status.get_json()
        assert data["state"] == "interrupted" and data["error"] == INTERRUPTED_NL, data
        assert data["request_url"] == f"/requests/{req_id}/export"
        page = second.get(f"/requests/{req_id}/export/status")
        body = page.get_data(True)
        assert page.status_code == 200 and INTERRUPTED_NL in body, body
        assert f'href="/requests/{req_id}/export"' in body
        assert second.get(f"/api/requests/{req_id}/export/result").get_json()[
            "error"] == INTERRUPTED_NL
    finally:
        gate.set()


def test_an_export_finished_before_the_restart_is_not_called_interrupted(site, tmp_path,
                                                                         monkeypatch):
    """The job finished in the first process, which then restarted: the second process
    cannot show its result (nor a password) but says the export was recorded, with its
    number, and links to the list of exports."""
    from test_web_export import _registered, _wait
    from webutil import csrf_of, login, replay

    from firmware.export.helpers import DirectoryHelper
    web = _web_on(site, tmp_path / "stick", DirectoryHelper, monkeypatch)
    c = login(web(), "b.beheerder")
    req_id = _registered(c, "PL-RESTART-DONE")
    assert c.post(f"/requests/{req_id}/export", data={
        "csrf": csrf_of(c), "reason": "klaar voor de herstart"}).status_code == 303
    done = _wait(c, req_id)
    assert done["state"] == "done", done
    second = replay(web(), c)
    data = second.get(f"/api/requests/{req_id}/export/status").get_json()
    assert data["state"] == "done" and data["export"] == done["export"], data
    body = second.get(f"/requests/{req_id}/export/status").get_data(True)
    assert f"Export {done['export']}" in body and "onderbroken" not in body
    assert 'href="/exports"' in body


def test_a_real_restart_of_nvr_web_mid_export_is_said_in_chromium(tmp_path, monkeypatch):
    """End to end: `nvr web` (a real process on a fixed port) starts an export onto exportd's
    stick (the real Daemon over a real socket, its `write open` held), the page's script
    polls; `nvr web` is stopped (SIGTERM, as `systemctl restart` does) and started again; the
    same page, polling the new process, reloads and shows the Dutch message with the link
    back, and what the held write then leaves on the stick does not verify."""
    from test_browser import CHROMIUM, FLAGS, log_in, serving

    from playwright.sync_api import sync_playwright
    from stickutil import LUKS_PASSWORD, Desk, art9_site, exportd, stick_config, verify_cli
    (tmp_path / "site").mkdir()
    config = art9_site(tmp_path / "site")
    desk = Desk(config)
    req_id = desk.request()["id"]
    desk.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fixed = config.with_name("nvr-restart.toml")
    text = stick_config(config).read_text()
    assert "[web]\nport = 0\n" in text
    fixed.write_text(text.replace("[web]\nport = 0\n", f"[web]\nport = {port}\n"))
    with exportd(tmp_path) as (sock, daemon, runner):
        monkeypatch.setenv(protocol.SOCKET_ENV, str(sock))
        daemon.unlock("/dev/sdb", LUKS_PASSWORD)
        mount = daemon.sticks["/dev/sdb"].mountpoint
        reached, release, opened = threading.Event(), threading.Event(), threading.Event()
        write_open = daemon.write_open

        def held_open(*args):
            reached.set()
            release.wait(120)
            try:
                return write_open(*args)
            finally:
                opened.set()
        daemon.write_open = held_open
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                with serving(fixed, "web") as url:
                    _, page = log_in(browser, url, "b.beheerder")
                    page.goto(f"{url}/requests/{req_id}/export")
                    page.fill("#export-form input[name=reason]", "herstart van nvr web")
                    page.click("#export-form button:has-text('Exporteren')")
                    page.wait_for_url(f"{url}/requests/{req_id}/export/status")
                    assert page.locator("#export-progress").count() == 1
                    assert reached.wait(120)
                with serving(fixed, "web") as again:   # the restarted process
                    assert again == url
                    page.wait_for_selector("#export-interrupted", timeout=60_000)
                    assert page.inner_text("#export-interrupted") == INTERRUPTED_NL
                    page.click("#back")
                    page.wait_for_url(f"{url}/requests/{req_id}/export")
            finally:
                release.set()
                browser.close()
        assert opened.wait(60)
        left = list(mount.iterdir())
        assert all(p.name.startswith(".") for p in left), left
        assert all(verify_cli(config, p).returncode == 1 for p in left if p.is_dir())
    desk = Desk(config)
    try:             # the process that would have logged export-failed is gone; no row
        assert [e for e in desk.failures() if e["subject"] == f"request {req_id}"] == []
        assert [e for e in desk.exports() if e["request_id"] == req_id] == []
    finally:
        desk.close()
