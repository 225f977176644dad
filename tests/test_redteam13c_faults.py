"""Red team 13c: the faults of an export told apart (export/faults.py, service.py's except
path): an error of the device's own index is not the stick's.

Findings:
2. The device's own database refusing the export's record (a second process holding its write
   lock, the data disk full: SQLite's "database is locked" / "database or disk is full") is
   said as the stick's fault: "the evidence package could not be written to <stick> (database
   is locked) ... Check the target (removed? full? read-only?)". The beheerder swaps a good
   stick and tries again, while the fault is on the device.
3. The same index locked before the export began (authorize_export's logbook entry): a bare
   sqlite3.OperationalError came out of make_package; and in the except path the `DELETE FROM
   exports` of the aborted export raised the same error over the real one.
4. The logbooks' signed head cannot be written to the key directory (the device's disk full:
   ENOSPC; failing: EIO) at the `export-written` entry: said as the stick full ("Check the
   target"), with EIO as the stick pulled out.
5. EIO reading a segment from the recorder's disk: "the stick is not at fault" was wrapped in
   "could not be written to <stick> (...) ... Check the target".
6. The key directory full before the export: a bare OSError out of make_package.
7. exportd renamed the package into place and stopped before its answer to `finish`: the
   client deleted the export's row, so a package that verifies was on the stick without one.
9. A failed export's row was deleted, and its number (already in the logbooks when `finish`
   failed) given to the next export: `exports.id` has no AUTOINCREMENT.
11. `nvr export create --to DIR` with a folder that cannot be made: a bare OSError (a
   traceback on the CLI), no `export-failed`.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from stickutil import (LUKS_PASSWORD, Desk, art9_site, fresh_desk, exportd,  # noqa: F401 (desk)
                       index_file, nothing_verifies, verify_cli)

from firmware.export.helpers import DirectoryHelper, ExportdHelper, ExportError



def fill(path) -> None:
    """Write zeros into `path` until its file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass                                                # full
    finally:
        os.close(fd)

def test_the_devices_own_database_refusing_the_record_is_not_blamed_on_the_stick(desk, tmp_path):
    desk.export(DirectoryHelper(tmp_path / "stick0", package="files"))  # sealed: no seal now
    desk.reqs.db.execute("PRAGMA busy_timeout = 200")     # (30 s on the device)
    other = sqlite3.connect(index_file(desk.store), isolation_level=None)  # a second process

    def meanwhile(done: int, total: int) -> None:         # while the segments are read
        if not other.in_transaction:
            other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ExportError) as caught:
            desk.export(DirectoryHelper(tmp_path / "stick", package="files"),
                        progress=meanwhile)
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    said = str(caught.value)
    assert "locked" in said, said
    assert "Check the target" not in said and "stick is not at fault" in said, said
    assert nothing_verifies(desk.config, tmp_path / "stick") == []


def test_the_devices_own_database_locked_from_the_start_ends_as_an_export_error(desk, tmp_path):
    """3. Locked before the export begins (authorize_export logs first): a bare
    sqlite3.OperationalError came out of make_package, which promises ExportError."""
    desk.reqs.db.execute("PRAGMA busy_timeout = 200")     # (30 s on the device)
    other = sqlite3.connect(index_file(desk.store), isolation_level=None)  # a second process
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ExportError) as caught:
            desk.export(DirectoryHelper(tmp_path / "stick", package="files"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked" in str(caught.value) and "stick is not at fault" in str(caught.value)
    assert nothing_verifies(desk.config, tmp_path / "stick") == []


@pytest.fixture
def tiny_keys(tmp_path):
    """The site's key directory moved onto a 256 KiB tmpfs (the device's own disk, which
    fills), its files copied back."""
    (tmp_path / "site").mkdir()
    config = art9_site(tmp_path / "site")
    from firmware.config import load
    keys = Path(load(config).storage.key_dir)
    saved = tmp_path / "keys-saved"
    shutil.copytree(keys, saved)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=700", "tmpfs",
                              str(keys)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs for the key directory needs root: {mounted.stderr}")
    try:
        shutil.copytree(saved, keys, dirs_exist_ok=True)
        d = Desk(config)
        try:
            yield d, keys
        finally:
            d.close()
    finally:
        subprocess.run(["umount", str(keys)], check=True)


def test_the_devices_own_disk_full_at_the_logbooks_signed_head_is_not_blamed_on_the_stick(
        tiny_keys, tmp_path):
    """4. The signed head of the export's logbook entry cannot be written to the key
    directory (the device's disk full, or failing: ENOSPC, EIO): said as the stick being full
    ("Check the target"), or with EIO as the stick pulled out."""
    desk, keys = tiny_keys

    def meanwhile(done: int, total: int) -> None:          # the device's disk fills
        filler = keys / "filler"
        if not filler.exists():
            fill(filler)
    with pytest.raises(ExportError) as caught:
        desk.export(DirectoryHelper(tmp_path / "stick", package="files"), progress=meanwhile)
    said = str(caught.value)
    assert os.strerror(errno.ENOSPC) in said, said
    assert "Check the target" not in said and "stick is not at fault" in said, said
    assert nothing_verifies(desk.config, tmp_path / "stick") == []


def test_a_failing_disk_of_the_recorder_is_not_wrapped_in_check_the_target(desk, tmp_path):
    """5. EIO reading a segment from the recorder's own disk: `faults.reading` says "the stick
    is not at fault", but make_package wrapped that in "the evidence package could not be
    written to <stick> (...) ... Check the target (removed? full? read-only?)": the person is
    told both, and the first words send them to the stick."""
    real = desk.store.read_segment

    def failing(segment_id):            # the recorder's disk: EIO after the first block
        yield from list(real(segment_id))[:1]
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    desk.store.read_segment = failing
    medium = tmp_path / "stick"
    with pytest.raises(ExportError) as caught:
        desk.export(DirectoryHelper(medium, "files"))
    said = str(caught.value)
    assert "could not be read from the recorder's disk" in said, said
    assert "Check the target" not in said and "could not be written to" not in said, said
    assert nothing_verifies(desk.config, medium) == []


def test_the_devices_key_disk_full_before_the_export_ends_as_an_export_error(tiny_keys,
                                                                            tmp_path):
    """6. The key directory full before the export: the logbook entry of the authorisation
    (R-60) cannot be signed, and a bare OSError came out of make_package (a traceback on the
    CLI), which promises ExportError."""
    desk, keys = tiny_keys
    fill(keys / "filler")
    with pytest.raises(ExportError) as caught:
        desk.export(DirectoryHelper(tmp_path / "stick", package="files"))
    assert "stick is not at fault" in str(caught.value), caught.value
    assert nothing_verifies(desk.config, tmp_path / "stick") == []


def _relay(listen: Path, real: Path, stop: threading.Event, drop_step: str) -> None:
    """Pass each request to exportd at `real` and its answer (with its descriptors) back;
    for a `write` of step `drop_step` the answer is lost after exportd did the work: exportd
    stopped (restarted, killed) between its last step and its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(str(listen))
        srv.listen()
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                client, _ = srv.accept()
            except TimeoutError:
                continue
            with client:
                line = b""
                while not line.endswith(b"\n"):
                    line += client.recv(65536)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as up:
                    up.connect(str(real))
                    up.sendall(line)
                    answer, fds = b"", []
                    while not answer.endswith(b"\n"):
                        chunk, more, _f, _a = socket.recv_fds(up, 65536, 64)
                        fds += more
                        if not chunk:
                            break
                        answer += chunk
                if json.loads(line).get("step") == drop_step:
                    for fd in fds:
                        os.close(fd)
                    continue                            # no answer: the connection breaks
                socket.send_fds(client, [answer], fds) if fds else client.sendall(answer)
                for fd in fds:
                    os.close(fd)


def test_a_package_finished_by_exportd_whose_answer_is_lost_stays_in_exports_R62(desk,
                                                                                 tmp_path):
    """7. exportd renamed the package into place and stopped before it answered `finish`
    (restarted, killed): the client hears "the connection to exportd broke", aborts (exportd
    no longer has the write: nothing removed) and deletes the export's row, so a package that
    verifies is on the stick and `exports` does not have it (docs/export.md: "a package that
    verifies on the medium is always in exports")."""
    with exportd(tmp_path) as (sock, daemon, runner):
        relay, stop = tmp_path / "relay.sock", threading.Event()
        thread = threading.Thread(target=_relay, args=(relay, sock, stop, "finish"),
                                  daemon=True)
        thread.start()
        while not relay.exists():
            threading.Event().wait(0.01)
        try:
            helper = ExportdHelper(str(relay))
            helper.unlock("/dev/sdb", LUKS_PASSWORD)
            mount = daemon.sticks["/dev/sdb"].mountpoint
            before = len(desk.exports())
            try:
                desk.export(helper)
            except ExportError as exc:
                said = str(exc)
            else:
                said = ""
            valid = [p for p in mount.iterdir()
                     if p.is_dir() and verify_cli(desk.config, p).returncode == 0]
        finally:
            stop.set()
            thread.join(5)
    assert valid, f"exportd did not finish the package ({said})"
    assert len(desk.exports()) == before + 1, (
        f"{[p.name for p in valid]} verifies on the stick, exports has no row for it; "
        f"the person was told: {said}")
    assert "may be complete" in said and "nvr export verify" in said, said


def test_an_export_number_in_the_logbook_is_never_given_to_another_export_R51(desk, tmp_path):
    """9. The rename at `finish` fails after `export-written` was logged with the export's
    number (here the package's name taken meanwhile: ENOTEMPTY); the row is deleted, and the
    next export gets the same number (`exports.id` is reused: no AUTOINCREMENT). Both
    logbooks then hold `export-written` for export N twice, with different packages, and the
    handover and declaration of N name only the second."""
    medium = tmp_path / "stick"

    def taken(done: int, total: int) -> None:           # the name is taken before the rename
        for part in medium.glob(".*.part"):
            (medium / part.name[1:-len(".part")] / "other").mkdir(parents=True, exist_ok=True)
    with pytest.raises(ExportError):
        desk.export(DirectoryHelper(medium, package="files"), progress=taken)
    written = [json.loads(e["details"])["export"] for e in desk.gov.logbook.entries("inzien")
               if e["action"] == "export-written"]
    assert written, "the failure came before export-written: not this case"
    again = desk.export(DirectoryHelper(tmp_path / "stick2", package="files"))
    assert again["id"] not in written, (
        f"export {again['id']} was logged as written before, for a package that failed")


def test_an_export_folder_that_cannot_be_made_ends_as_an_export_error(desk, tmp_path):
    """11. `nvr export create --to DIR` (the folder stand-in, also a keypad stick mounted by
    hand) whose folder cannot be made (pulled, read-only, a file in the way: here ENOTDIR):
    the folder helper's `devices()` raised a bare OSError, a traceback on the CLI and no
    `export-failed` entry."""
    (tmp_path / "file").write_text("not a folder")
    logged = len(desk.failures())
    with pytest.raises(ExportError) as caught:
        desk.export(DirectoryHelper(tmp_path / "file" / "stick", package="files"))
    assert os.strerror(errno.ENOTDIR) in str(caught.value), caught.value
    assert len(desk.failures()) == logged + 1
