"""Make an export for a registered art. 9 request (R-60..R-62).

The request must cover the camera and window (`Requests.authorize_export`, which checks the
permission and logs). The segments are decrypted one at a time into the package, never to a
plain file. The export is recorded with the SHA-256 of every file, so the declaration of careful
use (R-62) can be printed, pre-filled, whenever it is needed.
"""

from __future__ import annotations

import hashlib
import json
import time

from firmware.export.helpers import ExportError, ExportHelper
from firmware.governance.roles import Actor

SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    files       TEXT NOT NULL,          -- JSON: [{name, segment, start, end, sha256}]
    archive     TEXT NOT NULL,          -- JSON: {path, bytes, sha256}
    made_by     TEXT NOT NULL,
    made        REAL NOT NULL
);
"""


def make_export(gov, store, helper: ExportHelper, actor: Actor, *, request_id: int,
                camera: str, start: float, end: float, password: str,
                min_password: int = 12) -> dict:
    """Write the package for request `request_id`; return the recorded export."""
    if len(password) < min_password:
        raise ExportError(f"the archive password needs at least {min_password} characters "
                          "(R-61); give it to the recipient separately from the stick")
    reqs = gov.requests(store)
    req = reqs.authorize_export(actor, request_id, camera, start, end)
    segments = store.list_segments(camera, start, end)
    if not segments:
        raise ExportError(f"camera {camera} has no footage between the given times: nothing "
                          "to export")
    files: list[dict] = []

    def members():
        for s in segments:
            data = b"".join(store.read_segment(s["id"]))
            name = f"{camera}_{time.strftime('%Y%m%d-%H%M%S', time.localtime(s['start']))}" \
                   f"_{s['id'][:8]}.mp4"
            files.append({"name": name, "segment": s["id"], "start": s["start"],
                          "end": s["end"], "sha256": hashlib.sha256(data).hexdigest()})
            yield name, data
        sums = "".join(f"{f['sha256']}  {f['name']}\n" for f in files)
        yield "SHA256SUMS", sums.encode()
        yield "manifest.json", json.dumps({"request": request_id, "reference": req["reference"],
                                           "camera": camera, "start": start, "end": end,
                                           "files": files}, indent=1).encode()

    name = f"export-{request_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    archive = helper.write(name, members(), password)
    db = reqs.db
    db.executescript(SCHEMA)
    cur = db.execute("INSERT INTO exports (request_id, camera_id, start, end, files, archive, "
                     "made_by, made) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (request_id, camera, start, end, json.dumps(files), json.dumps(archive),
                      actor.name, time.time()))
    gov.logbook.append("inzien", actor.name, "export-written", subject=f"request {request_id}",
                       reason=req["reference"],
                       details={"export": cur.lastrowid, "files": len(files),
                                "archive_sha256": archive["sha256"], "bytes": archive["bytes"]})
    return show_export(db, cur.lastrowid)


def list_exports(db) -> list[dict]:
    db.executescript(SCHEMA)
    return [_decode(dict(r)) for r in db.execute("SELECT * FROM exports ORDER BY id")]


def show_export(db, export_id: int) -> dict:
    db.executescript(SCHEMA)
    row = db.execute("SELECT * FROM exports WHERE id = ?", (export_id,)).fetchone()
    if row is None:
        raise ExportError(f"there is no export {export_id}")
    return _decode(dict(row))


def _decode(row: dict) -> dict:
    row["files"] = json.loads(row["files"])
    row["archive"] = json.loads(row["archive"])
    return row
