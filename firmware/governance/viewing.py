"""Which footage may be shown, and the record of every segment that was (art. 7 lid 2,
art. 10 lid 4-6, R-51, R-73).

- Art. 10 inzage happens inside the request: only its camera and approved window, only once it
  is approved, the requester identified in person and the declaration signed
  (`Requests.may_view`), shown by a beheerder (art. 10 lid 4: "melden bij de beheerder") who
  may play back that camera. The purpose is "art. 10 inzage" (access.ART10_PURPOSE), which an
  ordinary grant refuses (access.check_reason).
- Every segment served, inside a request or by ordinary playback, is written to the Logboek
  Inzien Beeldmateriaal when it is served, not when a page opens: who, which segment, camera,
  its window, purpose, reason, and for art. 10 the request, its window and the blurring. A
  player fetches one segment in several range requests; the segment_showings table makes
  those one showing (same person, segment, purpose, request and blurring within
  SHOWING_SECONDS), so the logbook says what was seen, not how the browser asked for it.
- The decision fixes the blurring of others in view (toelichting art. 10, weighing.BLUR_CHOICES);
  `show_request_segment` refuses a segment asked with less blurring than that, for the web and
  `nvr request play` alike, whatever the URL or the options say.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time

from firmware.governance import weighing as weighings
from firmware.governance.access import ART10_PURPOSE, ART10_OUTSIDE, AccessRefused
from firmware.governance.requests import RequestError
from firmware.governance.roles import Action, Actor, decide
from firmware.governance.wording import STATUSES, VALUES
from firmware.i18n import _, in_dutch

SHOWING_SECONDS = 10 * 60
MAX_REGIONS = 8
SCHEMA = """
CREATE TABLE IF NOT EXISTS segment_showings (
    id          INTEGER PRIMARY KEY,
    actor       TEXT NOT NULL,
    segment_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    request_id  INTEGER NOT NULL,        -- the art. 10 request; ordinary playback: minus
                                         -- the grant's entry (another reason, another showing)
    blur        TEXT NOT NULL,
    logged_at   REAL NOT NULL,           -- when the showing went into the logbook
    last_at     REAL NOT NULL,
    served      INTEGER NOT NULL,        -- responses (range requests) of this showing
    entry       INTEGER NOT NULL         -- its entry in the Logboek Inzien Beeldmateriaal
);
CREATE INDEX IF NOT EXISTS segment_showings_key
    ON segment_showings (actor, segment_id, purpose, request_id, blur, logged_at);
"""

Region = tuple[float, float, float, float]


class RegionError(ValueError):
    """A rectangle to blur that is no rectangle inside the frame; the message (Dutch) says
    how to write one."""


def parse_regions(text: str | None) -> list[Region]:
    """Rectangles the beheerder draws over others in view: 'x,y,b,h' as fractions of the frame
    (0 to 1, from the top left), several separated by ';' or new lines."""
    regions: list[Region] = []
    for part in (text or "").replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            x, y, w, h = (float(v.strip().replace("%", "")) for v in part.split(","))
        except ValueError:
            raise RegionError(_("area '%(area)s' is not a rectangle x,y,width,height in "
                                  "fractions of the frame, such as 0.1,0.2,0.3,0.4", area=part)) from None
        if not all(math.isfinite(v) for v in (x, y, w, h)) or not (
                0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
            raise RegionError(_("area '%(area)s' falls outside the frame: x and y from 0, width and "
                                  "height above 0, together no more than 1", area=part))
        regions.append((x, y, w, h))
    if len(regions) > MAX_REGIONS:
        raise RegionError(_("at most %(count)s areas; use larger rectangles", count=MAX_REGIONS))
    return regions


def blur_settings(detect: bool, regions: list[Region]) -> dict:
    return {"detect": bool(detect), "regions": [list(r) for r in regions]}


def required_blur(reqs, req_id: int) -> str:
    """The blurring the decision on request `req_id` requires (weighing.BLUR_CHOICES), as the
    decision's entry in the Logboek Inzien says it, checked against its hash and the device's
    MAC: the table `request_weighings` alone is open to sqlite3 on the data directory. An
    approval always records its weighing there; none found, or one that disagrees with the
    table, shows nothing (AccessRefused)."""
    from firmware.governance.logbook import _entry_hash
    table = weighings.blur_of(reqs.db, req_id)
    for r in reqs.db.execute("SELECT * FROM logbook WHERE book = 'inzien' AND action = "
                             "'request-weighing' AND subject = ? ORDER BY n DESC",
                             (f"request {req_id}",)):
        if _entry_hash(r["book"], r["n"], r["at"], r["actor"], r["action"], r["subject"],
                       r["reason"], r["details"], r["prev"]) != r["hash"] or \
                not reqs.logbook.signer.mac_ok(r["hash"], r["mac"]):
            continue
        logged = (json.loads(r["details"] or "{}") or {}).get("required_blur", "none")
        if logged == table:
            return logged
        break
    raise AccessRefused(_("the blurring the besluit on request %(number)s requires is not (or "
                          "differently) in the Logboek Inzien Beeldmateriaal: the data of the "
                          "besluit were changed outside the device. No footage is shown; let "
                          "the technisch beheerder run `nvr logbook verify` (toelichting "
                          "artikel 10, artikel 7 lid 2)", number=req_id))


def _require_blur(reqs, actor: Actor, req_id: int, blur: dict) -> None:
    """Toelichting art. 10: the inzage shows no less blurring than the decision requires."""
    required = required_blur(reqs, req_id)
    if weighings.satisfies(required, blur.get("detect", False), blur.get("regions", [])):
        return
    reqs.logbook.append("usage", actor.name, "refused", subject=f"request {req_id}",
                        details={"blur": blur, "required_blur": required,
                                 "why": "less blurring than the decision requires"})
    how = (_("switch on the automatic blurring of people") if required == "detect" else
           _("draw at least one area to blur, at least %(share)s of the frame wide and high",
             share=f"{weighings.MIN_REGION:.0%}"))
    raise AccessRefused(_("the besluit on request %(number)s requires: %(blur)s; this footage "
                          "is not shown with less blurring (toelichting artikel 10): %(how)s",
                          number=req_id, how=how,
                          blur=VALUES.said(required, weighings.blur_label(required))))


def _check_request(reqs, actor: Actor, req_id: int) -> dict:
    """The request, if `actor` may now show its footage. Raises AccessRefused when the
    account may not (a permission, 403 on the web), RequestError when the request is not
    ready for an inzage (a step of the procedure, 400)."""
    row = reqs.show(req_id)
    if row["article"] != 10:
        raise RequestError(_("request %(number)s is a request of police or justice (artikel 9): "
                              "it gets an export, not an inzage", number=req_id))
    for action, camera in ((Action.IDENTIFY, None), (Action.PLAYBACK, row["camera_id"])):
        decision = decide(actor, action, camera=camera)
        if not decision:
            reqs.logbook.append("usage", actor.name, "refused", subject=f"request {req_id}",
                                details={"camera": row["camera_id"], "why": in_dutch(
                                    lambda: decide(actor, action, camera=camera).reason)})
            raise AccessRefused(_("the inzage of a request (artikel 10 lid 4) is shown by a "
                                  "beheerder who may play back this camera: %(reason)s",
                                  reason=decision.reason))
    if row["status"] != "approved":
        raise RequestError(_not_ready(req_id, row["status"]))
    if row["identity_checked_by"] is None:
        raise RequestError(_("the requester's identity has not been checked in person yet "
                              "(artikel 10 lid 4); record it first on the page of the request"))
    if row["declaration_signed_by"] is None:
        raise RequestError(_("the requester has not signed the verklaring yet (artikel 10 lid 5); "
                              "record it first on the page of the request"))
    return row


def _not_ready(req_id: int, status: str) -> str:
    if status == "closed":
        return _("request %(number)s is closed: no more footage is shown for it; a new "
                 "inzage needs a new request", number=req_id)
    if status == "open":
        return _("request %(number)s is still being handled: footage is shown only once the "
                 "manager bedrijfsvoering has approved the request (artikel 10 lid 3, R-72)",
                 number=req_id)
    return _("request %(number)s is %(status)s: footage is shown only once the manager "
             "bedrijfsvoering has approved the request (artikel 10 lid 3, R-72)",
             number=req_id, status=STATUSES.said(status, status))


def request_segments(reqs, store, row: dict) -> list[dict]:
    """The segments of the request's camera that overlap its approved window, oldest first
    (the same list as the declaration's)."""
    return store.list_segments(row["camera_id"], row["start"], row["end"])


def open_viewing(reqs, store, actor: Actor, req_id: int) -> dict:
    """Open the inzage of request `req_id`: the request and the segments it may show. Logged
    (who, which request, which window); the segments are logged when served."""
    row = _check_request(reqs, actor, req_id)
    segments = request_segments(reqs, store, row)
    details = {"camera": row["camera_id"], "start": row["start"], "end": row["end"],
               "purpose": ART10_PURPOSE, "segments": len(segments),
               "required_blur": row["blur"]}
    reqs.logbook.append("inzien", actor.name, "viewing-opened", subject=f"request {req_id}",
                        reason=row["requester"], details=details)
    reqs.logbook.append("usage", actor.name, "viewing-opened", subject=f"request {req_id}",
                        details=details)
    return {"request": row, "segments": segments}


def show_request_segment(reqs, store, actor: Actor, req_id: int, segment_id: str,
                         blur: dict) -> dict:
    """May segment `segment_id` be served to the inzage of request `req_id` now? Checked again
    at every response (the request may have been closed meanwhile); the showing is logged.
    Returns the segment's index row."""
    row = _check_request(reqs, actor, req_id)
    _require_blur(reqs, actor, req_id, blur)
    segment = store.segment_row(segment_id)
    allowed = {s["id"] for s in request_segments(reqs, store, row)}
    if segment is None or segment_id not in allowed:
        reqs.logbook.append("usage", actor.name, "refused", subject=f"request {req_id}",
                            details={"segment": segment_id, "why": "outside the window"})
        raise AccessRefused(_("this segment lies outside the camera or the window of request "
                              "%(number)s: only the window of the besluit is shown (artikel 10 "
                              "lid 4)", number=req_id))
    _record(reqs.db, reqs.logbook, actor, segment, purpose=ART10_PURPOSE,
            reason=row["requester"], request=row, blur=blur)
    return segment


def show_playback_segment(db: sqlite3.Connection, logbook, actor: Actor, segment: dict,
                          grant: int | None) -> None:
    """Art. 7 lid 2: a segment served by ordinary playback, under the grant whose entry in the
    Logboek Inzien Beeldmateriaal is number `grant` (access.grant_footage): its purpose and
    reason come from that entry, which must be this person's playback grant for this camera.
    The art. 10 purpose is refused outside its request (R-73)."""
    found = None if grant is None else db.execute(
        "SELECT actor, action, reason, details FROM logbook WHERE book = 'inzien' AND n = ?",
        (grant,)).fetchone()
    details = json.loads(found["details"]) if found else {}
    if (found is None or found["actor"] != actor.name or found["action"] != "playback"
            or details.get("camera") != segment["camera_id"]):
        raise AccessRefused(_("first give a purpose and a reason for playing back this camera "
                              "(R-01)"))
    if details.get("purpose") == ART10_PURPOSE:
        raise AccessRefused(_(ART10_OUTSIDE))
    _record(db, logbook, actor, segment, purpose=details.get("purpose", ""),
            reason=found["reason"], grant=grant)


def _record(db: sqlite3.Connection, logbook, actor: Actor, segment: dict, *, purpose: str,
            reason: str, request: dict | None = None, blur: dict | None = None,
            grant: int | None = None) -> None:
    """One showing of `segment` in the Logboek Inzien Beeldmateriaal; repeated responses of the
    same showing within SHOWING_SECONDS are counted, not logged again."""
    db.executescript(SCHEMA)
    now = time.time()
    # Ordinary playback: the grant is part of the showing (docs/web.md: once per person,
    # segment and grant), so a second reason stated within SHOWING_SECONDS is logged with
    # what it shows; kept in request_id as minus the grant's entry (no new column).
    key = (actor.name, segment["id"], purpose,
           request["id"] if request else -(grant or 0), json.dumps(blur or {}, sort_keys=True))
    seen = db.execute("UPDATE segment_showings SET served = served + 1, last_at = ? "
                      "WHERE actor = ? AND segment_id = ? AND purpose = ? AND request_id = ? "
                      "AND blur = ? AND logged_at > ?", (now, *key, now - SHOWING_SECONDS))
    if seen.rowcount:
        return
    details = {"segment": segment["id"], "camera": segment["camera_id"],
               "start": segment["start"], "end": segment["end"], "purpose": purpose}
    if request is not None:
        details.update(request=request["id"], window_start=request["start"],
                       window_end=request["end"], blur=blur or {})
        action, subject = "viewing-segment-shown", f"request {request['id']}"
    else:
        details["grant"] = grant
        action, subject = "playback-segment-shown", f"segment {segment['id']}"
    entry = logbook.append("inzien", actor.name, action, subject=subject, reason=reason,
                           details=details)
    db.execute("INSERT INTO segment_showings (actor, segment_id, purpose, request_id, blur, "
               "logged_at, last_at, served, entry) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
               (*key, now, now, entry))
