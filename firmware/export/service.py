"""Make an export for a registered art. 9 request (R-60..R-62).

The request must cover the camera and window, and the officer must have identified and signed
the declaration (`Requests.authorize_export`, which checks the permission, art. 9 lid 3-4 and
logs): `make_package` is the one export path, for the web's page, its API and the CLI alike
(the evidence package onto the medium a helper offers). The segments are decrypted one at a time into the package, never to a plain
file on the device's disk. The export is recorded with the SHA-256 of every file the recipient
gets, so the art. 9 declaration (R-62) can be printed, pre-filled, whenever it is needed;
`hand_over` records the handover.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from firmware.export.faults import (DiskReadError, reading, stick_gone, stick_gone_error,
                                    unwrapped)
from firmware.export.helpers import AnswerLost, ExportError, ExportHelper
from firmware.export.manifest import PackageError, build_package
from firmware.export.remux import RemuxError
from firmware.governance.roles import Actor
from firmware.i18n import _
from firmware.storage.segcrypt import SegmentError
from firmware.storage.sink import StorageError

log = logging.getLogger("nvr.export")
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 0.25                   # seconds between progress reports
PACKAGE_SLACK = 1 << 20                 # bytes beyond the segments: manifest, texts, MP4 boxes

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    files       TEXT NOT NULL,          -- JSON: [{name, segments, start, end, sha256 of the MP4}]
    archive     TEXT NOT NULL,          -- JSON: {path, bytes, sha256 (of manifest.json), kind,
                                        --  container, fingerprint, other_files, archive_sha256}
    made_by     TEXT NOT NULL,
    made        REAL NOT NULL
);
"""


def make_package(gov, store, actor: Actor, *, request_id: int, camera: str, start: float,
                 end: float, helper: ExportHelper, reason: str = "",
                 password: str | None = None, progress: Progress | None = None,
                 device: str = "", zone: str = "Europe/Amsterdam") -> dict:
    """Write the evidence package (export/manifest.py) for request `request_id` onto the
    medium `helper` offers (its one unlocked stick, or the development folder), through the
    same gate as the web (`Requests.authorize_export`, R-60..R-62); recorded in `exports` and
    logged in both logbooks. A medium that takes a 7z gets the package inside one, with
    `password` (typed: at least 16 characters) or one the device generates, returned once as
    `password` and never stored or logged. `progress(done, total)` follows the bytes read.
    `device` is the device's name in the package. Returns the recorded export plus `path`,
    `files`, `bytes` (and `password`). Any fault ends with ExportError (or RequestError):
    nothing that verifies on the medium, no row in exports, an `export-failed` entry in the
    usage logbook."""
    from firmware.governance.requests import RequestError
    try:
        return _make_package(gov, store, actor, request_id=request_id, camera=camera,
                             start=start, end=end, helper=helper, reason=reason,
                             password=password, progress=progress, device=device, zone=zone)
    except (ExportError, RequestError) as exc:
        _log_failure(gov, actor, request_id, camera, start, end, exc)
        raise
    except sqlite3.Error as exc:            # the device's own index, before the write began
        err = _database_refused(exc)
        _log_failure(gov, actor, request_id, camera, start, end, err)
        raise err from None


def _database_refused(exc: sqlite3.Error | OSError) -> ExportError:
    """The device's own index (requests, exports, logbooks) or its key directory (the
    logbooks' signed heads) refused a read or write: said as the device's fault, never the
    stick's (redteam13c)."""
    return ExportError(_("the device could not record the export in its own database or "
                         "logbook (%(problem)s); the stick is not at fault and nothing that "
                         "verifies was left on it. Try again in a minute; when it happens "
                         "again, tell the technisch beheerder (is the device's disk full?)",
                         problem=getattr(exc, "strerror", None) or exc))


def _log_failure(gov, actor: Actor, request_id: int, camera: str, start: float, end: float,
                 exc: Exception) -> None:
    """The usage logbook records every export that did not happen, with its reason (the
    message, which names no footage and holds no password)."""
    try:
        gov.logbook.append("usage", actor.name, "export-failed", subject=f"request {request_id}",
                           reason=str(exc)[:1000],
                           details={"camera": camera, "start": start, "end": end})
    except Exception:                    # the disk full too: the error itself is what counts
        log.exception("export-failed could not be logged")


def _make_package(gov, store, actor: Actor, *, request_id: int, camera: str, start: float,
                  end: float, helper: ExportHelper, reason: str, password: str | None,
                  progress: Progress | None, device: str, zone: str) -> dict:
    from firmware.export.helpers import ArchiveTarget, memory_available
    from firmware.export.manifest import package_files, video_name
    from firmware.export.passwords import PasswordError, check_typed, generate
    from firmware.governance.handover import officer_record
    from firmware.storage.hashes import export_problems, hashes_of, seal
    reqs = gov.requests(store)
    try:
        req = reqs.authorize_export(actor, request_id, camera, start, end)
    except OSError as exc:              # its logbook entry's signed head: the key directory
        raise _database_refused(exc) from None
    segments = store.list_segments(camera, start, end)
    if not segments:
        raise ExportError(_("camera %(camera)s has no recordings in the given window: there is "
                            "nothing to export; choose a window within the retention period or "
                            "a hold (R-40, R-41)", camera=camera))
    stick = helper.stick()                  # one unlocked stick, or ExportError
    archived = stick["package"] == "7z"
    need = sum(s["bytes"] for s in segments) + PACKAGE_SLACK
    generated = None
    if archived:
        try:
            password = check_typed(password) if password else None
        except PasswordError as exc:
            raise ExportError(str(exc)) from None
        if password is None:
            password = generated = generate()
        if need > memory_available() // 2:
            raise ExportError(_("the window is too long for a stick that takes a 7z archive "
                                "(%(need)s bytes; the archive is built in memory): export a "
                                "shorter window, or use a LUKS2 stick", need=need))
    try:
        sealed = seal(store, gov.logbook, actor.name)     # the hashes listed are under it
    except OSError as exc:              # the signed head in the device's key directory
        raise _database_refused(exc) from None
    with store.lock:
        recorded = hashes_of(store.db, [s["id"] for s in segments])
        # only the logbook's own entries explain a chain that starts after a prune
        broken = export_problems(store.db, [s["id"] for s in segments],
                                 vouched=lambda n: gov.logbook.genuine("usage", n))
        cam = store.db.execute("SELECT name, location FROM cameras WHERE id = ?",
                               (camera,)).fetchone()
    if broken:                      # the proof back to recording time does not hold
        raise ExportError(_("the recording-time hashes of this window do not hold (segment "
                            "%(segment)s: %(problem)s); nothing was exported; report this to "
                            "the privacy officer", segment=broken[0]["segment"],
                            problem=broken[0]["error"]))
    db = reqs.db
    db.executescript(SCHEMA)
    name = f"export-{_safe(req['reference'])}-{_stamp(time.time())}"
    video = video_name(camera, segments[0]["start"], zone)
    files = package_files(video)
    target = helper.target(stick, name, [f"{name}.7z"] if archived else files, need)
    if archived:
        target = ArchiveTarget(target, name, password)
    export_id, finishing = None, False
    try:
        cur = db.execute("INSERT INTO exports (request_id, camera_id, start, end, files, "
                         "archive, made_by, made) VALUES (?, ?, ?, ?, '[]', '{}', ?, ?)",
                         (request_id, camera, start, end, actor.name, time.time()))
        export_id = cur.lastrowid
        info = {"export": export_id, "reference": req["reference"], "operator": actor.name,
                "recipient": _recipient(officer_record(db, request_id), req),
                "device": device, "camera": camera,
                "camera_name": cam["name"] if cam else camera,
                "location": cam["location"] if cam else segments[0]["location"],
                "start": start, "end": end}
        written = build_package(target.open, store=store, signer=gov.logbook.signer,
                                segments=segments, recorded=recorded, info=info, zone=zone,
                                read=reading(_counting(store.read_segment, need, progress)))
        # Recorded and logged BEFORE the package is renamed into place (redteam13): a package
        # that verifies on the medium is always in the exports table and both logbooks, even
        # when the process is killed at `finish` or the database refuses writes after it.
        entry = {"name": video, "segments": [s["id"] for s in segments],
                 "start": segments[0]["start"], "end": segments[-1]["end"],
                 "sha256": written["sha256"][video]}
        archive = {"path": f"{stick['device']}:{name}", "bytes": written["bytes"],
                   "sha256": written["manifest_sha256"], "kind": "package",
                   "container": "7z" if archived else "folder",
                   "fingerprint": gov.logbook.signer.fingerprint,
                   "other_files": [{"name": n, "sha256": written["sha256"][n]}
                                   for n in written["files"] if n != video]}
        db.execute("UPDATE exports SET files = ?, archive = ? WHERE id = ?",
                   (json.dumps([entry]), json.dumps(archive), export_id))
        details = {"export": export_id, "files": len(written["files"]), "camera": camera,
                   "manifest_sha256": written["manifest_sha256"], "bytes": written["bytes"],
                   "container": archive["container"], "hashes_sealed": sealed["n"],
                   "reason_text": reason}
        try:
            for book in ("usage", "inzien"):    # art. 7 lid 2 and R-51: both logbooks
                gov.logbook.append(book, actor.name, "export-written",
                                   subject=f"request {request_id}", reason=req["reference"],
                                   details=details)
        except OSError as exc:          # the signed head in the device's key directory
            raise _database_refused(exc) from None
        finishing = True
        done = target.finish()
    except BaseException as exc:
        target.abort()
        if finishing and isinstance(exc, AnswerLost):
            # exportd may have renamed the package into place before it stopped: the row and
            # the export-written entries stay, so a package that verifies is never unrecorded.
            raise ExportError(_("exportd stopped before it confirmed the package on "
                                "%(device)s (%(problem)s): it may be complete. Export "
                                "%(number)s stays recorded; check the stick with nvr export "
                                "verify before handing it over, and export again when it "
                                "does not verify", device=stick["device"], problem=exc,
                                number=export_id)) from None
        if export_id is not None:
            # The row loses its package (no export: RECORDED) but stays, so its number, which
            # the logbooks may name already (export-written before finish), is never given to
            # another export (no AUTOINCREMENT; redteam13c).
            try:
                db.execute("UPDATE exports SET files = '[]', archive = '{}' WHERE id = ?",
                           (export_id,))
            except sqlite3.Error:       # the index refuses writes: the fault below is said
                log.exception("export %s: its row (no package) could not be cleared",
                              export_id)
        if isinstance(exc, ExportError):
            raise
        if isinstance(exc, sqlite3.Error):
            raise _database_refused(exc) from None
        if isinstance(exc, DiskReadError):      # the recorder's disk: says so, whole
            raise ExportError(str(exc)) from None
        exc = unwrapped(exc)            # an OSError of a write inside PyAV's muxer
        if stick_gone(exc):             # EIO, ENODEV, ...: the stick pulled or failing
            raise stick_gone_error(stick["device"]) from None
        if not isinstance(exc, (OSError, PackageError, RemuxError, StorageError, SegmentError,
                                sqlite3.Error)):
            raise
        raise ExportError(_("the evidence package could not be written to %(folder)s "
                            "(%(problem)s); nothing that verifies was left there. Check the "
                            "target (removed? full? read-only?) and export again.",
                            folder=stick["device"],
                            problem=getattr(exc, "strerror", None) or exc)) from None
    if progress is not None:
        progress(need, need)
    archive.update(path=done["path"], bytes=done["bytes"])
    if archived:
        archive["archive_sha256"] = done["archive_sha256"]
    try:
        db.execute("UPDATE exports SET archive = ? WHERE id = ?",
                   (json.dumps(archive), export_id))
    except sqlite3.Error:           # the package and its record stand; only the details wait
        log.exception("export %s: its final path and size could not be recorded", export_id)
    result = {**show_export(db, export_id), "path": done["path"], "files": written["files"],
              "bytes": done["bytes"], "manifest_sha256": written["manifest_sha256"]}
    if generated is not None:
        result["password"] = generated          # shown once; never stored, never logged
    return result


def _counting(read: Callable[[str], Iterable[bytes]], total: int,
              progress: Progress | None) -> Callable[[str], Iterable[bytes]]:
    """`read`, reporting the bytes read so far to `progress` at most every PROGRESS_EVERY
    seconds (per block, not per frame)."""
    if progress is None:
        return read
    state = {"done": 0, "last": 0.0}

    def counted(segment_id: str) -> Iterable[bytes]:
        for block in read(segment_id):
            state["done"] += len(block)
            now = time.monotonic()
            if now - state["last"] >= PROGRESS_EVERY:
                state["last"] = now
                progress(min(state["done"], total), total)
            yield block
    return counted


def _recipient(officer: dict | None, req: dict) -> str:
    """Who receives the package: the identified officer, of the requesting organisation."""
    who = (officer or {}).get("officer") or ""
    return f"{who}, {req['requester']}" if who else req["requester"]


def hand_over(gov, store, actor: Actor, export_id: int, *, medium: str) -> dict:
    """Art. 9 lid 2-4: the export on medium `medium` (the stick's label or serial) is given to
    the officer who identified and signed; recorded and logged in the Logboek Inzien (R-51)."""
    from firmware.governance.handover import record_handover
    reqs = gov.requests(store)
    return record_handover(reqs, actor, show_export(reqs.db, export_id), medium)


def _stamp(t: float) -> str:
    """A time in file names: Dutch local time (the times the declaration shows)."""
    return datetime.fromtimestamp(t, AMSTERDAM).strftime("%Y%m%d-%H%M%S")


def _safe(reference: str) -> str:
    """The request's reference as part of a file name: what the recipient knows it by."""
    return re.sub(r"[^0-9A-Za-z.-]+", "_", reference).strip("._-")[:40] or "verzoek"


def list_exports(db) -> list[dict]:
    db.executescript(SCHEMA)
    return [_decode(db, dict(r)) for r in db.execute(
        f"SELECT * FROM exports WHERE {RECORDED} ORDER BY id")]


# A row is inserted when the write begins (the manifest names its id) and gets its package when
# the package is complete; a row without one is an export whose process stopped mid-write
# (killed, a power cut, the web restarted): no export, not listed, handed over or declared
# (redteam13c; the row stays in the table as it was).
RECORDED = "json_extract(archive, '$.sha256') IS NOT NULL"


def show_export(db, export_id: int) -> dict:
    db.executescript(SCHEMA)
    row = db.execute("SELECT * FROM exports WHERE id = ?", (export_id,)).fetchone()
    if row is None:
        raise ExportError(_("there is no export %(number)s: see the list of exports",
                            number=export_id))
    if json.loads(row["archive"]).get("sha256") is None:
        raise ExportError(_("export %(number)s was not completed (the process writing it "
                            "stopped before its package was recorded): there is no package "
                            "to hand over or declare; export again", number=export_id))
    return _decode(db, dict(row))


def _decode(db, row: dict) -> dict:
    from firmware.governance.handover import handover_of
    row["files"] = json.loads(row["files"])
    row["archive"] = json.loads(row["archive"])
    row["handover"] = handover_of(db, row["id"])          # None until handed over
    return row
