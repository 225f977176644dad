"""Make an export for a registered art. 9 request (R-60..R-62).

The request must cover the camera and window, and the officer must have identified and signed
the declaration (`Requests.authorize_export`, which checks the permission, art. 9 lid 3-4 and
logs): `make_export` is the one gate for the CLI and the web. The segments are decrypted one at
a time into the package, never to a plain file. The export is recorded with the SHA-256 of every
MP4 as the recipient extracts it, so the art. 9 declaration (R-62) can be printed, pre-filled,
whenever it is needed; `hand_over` records the handover.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from firmware.export.helpers import ExportError, ExportHelper
from firmware.governance.roles import Actor
from firmware.i18n import _

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    files       TEXT NOT NULL,          -- JSON: [{name, segment, start, end, sha256 of the MP4}]
    archive     TEXT NOT NULL,          -- JSON: {path, bytes, sha256, other_files: [{name, sha256}]}
    made_by     TEXT NOT NULL,
    made        REAL NOT NULL
);
"""


def make_export(gov, store, helper: ExportHelper, actor: Actor, *, request_id: int,
                camera: str, start: float, end: float, password: str,
                min_password: int = 12) -> dict:
    """Write the package for request `request_id`; return the recorded export."""
    if len(password) < min_password:
        raise ExportError(_("the archive's password has at least %(count)s characters (R-61); "
                            "give it to the recipient apart from the USB stick (artikel 9 lid 2)",
                            count=min_password))
    reqs = gov.requests(store)
    req = reqs.authorize_export(actor, request_id, camera, start, end)
    segments = store.list_segments(camera, start, end)
    if not segments:
        raise ExportError(_("camera %(camera)s has no recordings in the given window: there is "
                            "nothing to export; choose a window within the retention period or "
                            "a hold (R-40, R-41)", camera=camera))
    files: list[dict] = []
    extras: list[dict] = []             # SHA256SUMS and manifest.json, as the recipient gets them

    def members():
        for n, s in enumerate(segments, 1):
            data = b"".join(store.read_segment(s["id"]))
            name = f"{camera}_{_stamp(s['start'])}_{n:03d}.mp4"
            files.append({"name": name, "segment": s["id"], "start": s["start"],
                          "end": s["end"], "sha256": hashlib.sha256(data).hexdigest()})
            yield name, data
        sums = "".join(f"{f['sha256']}  {f['name']}\n" for f in files).encode()
        manifest = json.dumps({
            "kenmerk": req["reference"], "camera": camera, "van": _iso(start),
            "tot": _iso(end), "bestanden": [{"naam": f["name"], "van": _iso(f["start"]),
                                             "tot": _iso(f["end"]), "sha256": f["sha256"]}
                                            for f in files]}, indent=1).encode()
        for extra, data in (("SHA256SUMS", sums), ("manifest.json", manifest)):
            extras.append({"name": extra, "sha256": hashlib.sha256(data).hexdigest()})
            yield extra, data

    name = f"export-{_safe(req['reference'])}-{_stamp(time.time())}"
    archive = {**helper.write(name, members(), password), "other_files": extras}
    db = reqs.db
    db.executescript(SCHEMA)
    cur = db.execute("INSERT INTO exports (request_id, camera_id, start, end, files, archive, "
                     "made_by, made) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (request_id, camera, start, end, json.dumps(files), json.dumps(archive),
                      actor.name, time.time()))
    details = {"export": cur.lastrowid, "files": len(files), "camera": camera,
               "archive_sha256": archive["sha256"], "bytes": archive["bytes"]}
    for book in ("usage", "inzien"):            # art. 7 lid 2 and R-51: both logbooks
        gov.logbook.append(book, actor.name, "export-written", subject=f"request {request_id}",
                           reason=req["reference"], details=details)
    return show_export(db, cur.lastrowid)


def make_package(gov, store, actor: Actor, *, request_id: int, camera: str, start: float,
                 end: float, to, device: str, reason: str = "",
                 zone: str = "Europe/Amsterdam") -> dict:
    """Write the evidence package (export/manifest.py) for request `request_id` into the folder
    `to`, through the same gate as `make_export` (R-60..R-62); recorded and logged like it."""
    from pathlib import Path

    from firmware.governance.handover import officer_record
    from firmware.export.manifest import PackageError, write_package
    from firmware.storage.hashes import hashes_of, seal
    reqs = gov.requests(store)
    req = reqs.authorize_export(actor, request_id, camera, start, end)
    segments = store.list_segments(camera, start, end)
    if not segments:
        raise ExportError(_("camera %(camera)s has no recordings in the given window: there is "
                            "nothing to export; choose a window within the retention period or "
                            "a hold (R-40, R-41)", camera=camera))
    sealed = seal(store, gov.logbook, actor.name)     # the hashes listed are under the logbook
    with store.lock:
        recorded = hashes_of(store.db, [s["id"] for s in segments])
        cam = store.db.execute("SELECT name, location FROM cameras WHERE id = ?",
                               (camera,)).fetchone()
    db = reqs.db
    db.executescript(SCHEMA)
    cur = db.execute("INSERT INTO exports (request_id, camera_id, start, end, files, archive, "
                     "made_by, made) VALUES (?, ?, ?, ?, '[]', '{}', ?, ?)",
                     (request_id, camera, start, end, actor.name, time.time()))
    export_id = cur.lastrowid
    info = {"export": export_id, "reference": req["reference"], "operator": actor.name,
            "recipient": _recipient(officer_record(db, request_id), req), "device": device, "camera": camera,
            "camera_name": cam["name"] if cam else camera,
            "location": cam["location"] if cam else segments[0]["location"],
            "start": start, "end": end}
    name = f"export-{_safe(req['reference'])}-{_stamp(time.time())}"
    try:
        written = write_package(Path(to), name, store=store, signer=gov.logbook.signer,
                                segments=segments, recorded=recorded, info=info, zone=zone)
    except (OSError, PackageError) as exc:
        db.execute("DELETE FROM exports WHERE id = ?", (export_id,))
        raise ExportError(_("the evidence package could not be written to %(folder)s "
                            "(%(problem)s); nothing that verifies was left there. Check the "
                            "target (removed? full? read-only?) and export again.", folder=to,
                            problem=getattr(exc, "strerror", None) or exc)) from None
    digests = written["sha256"]                 # as written: the video is not read again
    files = [{"name": written["video"], "segments": [s["id"] for s in segments],
              "start": segments[0]["start"], "end": segments[-1]["end"],
              "sha256": digests[written["video"]]}]
    archive = {"path": written["path"], "bytes": written["bytes"],
               "sha256": written["manifest_sha256"], "kind": "package",
               "fingerprint": gov.logbook.signer.fingerprint,
               "other_files": [{"name": n, "sha256": digests[n]}
                               for n in written["files"] if n != written["video"]]}
    db.execute("UPDATE exports SET files = ?, archive = ? WHERE id = ?",
               (json.dumps(files), json.dumps(archive), export_id))
    details = {"export": export_id, "files": len(written["files"]), "camera": camera,
               "manifest_sha256": written["manifest_sha256"], "bytes": written["bytes"],
               "hashes_sealed": sealed["n"], "reason_text": reason}
    for book in ("usage", "inzien"):            # art. 7 lid 2 and R-51: both logbooks
        gov.logbook.append(book, actor.name, "export-written", subject=f"request {request_id}",
                           reason=req["reference"], details=details)
    return {**show_export(db, export_id), "path": written["path"], "package": written}


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


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, AMSTERDAM).isoformat(timespec="seconds")


def _safe(reference: str) -> str:
    """The request's reference as part of a file name: what the recipient knows it by."""
    return re.sub(r"[^0-9A-Za-z.-]+", "_", reference).strip("._-")[:40] or "verzoek"


def list_exports(db) -> list[dict]:
    db.executescript(SCHEMA)
    return [_decode(db, dict(r)) for r in db.execute("SELECT * FROM exports ORDER BY id")]


def show_export(db, export_id: int) -> dict:
    db.executescript(SCHEMA)
    row = db.execute("SELECT * FROM exports WHERE id = ?", (export_id,)).fetchone()
    if row is None:
        raise ExportError(_("there is no export %(number)s: see the list of exports",
                            number=export_id))
    return _decode(db, dict(row))


def _decode(db, row: dict) -> dict:
    from firmware.governance.handover import handover_of
    row["files"] = json.loads(row["files"])
    row["archive"] = json.loads(row["archive"])
    row["handover"] = handover_of(db, row["id"])          # None until handed over
    return row
