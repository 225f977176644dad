"""Cameras, the day timeline (server-drawn SVG) and playback decrypted into the response.

Playback needs a footage grant first: the viewer states a purpose and a reason per camera
(R-01), which is checked and logged by governance.access and kept in the session for
GRANT_SECONDS. Every segment served is logged under that grant (governance.viewing, art. 7
lid 2). Decrypted footage is held in memory for the response only, never on disk.
"""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, g, request, send_file, url_for

from firmware.governance.access import ORDINARY_PURPOSES as PURPOSES
from firmware.governance.roles import decide
from firmware.governance.viewing import show_playback_segment
from firmware.i18n import _
from firmware.playback.thumbnail import NoPicture, ThumbnailCache
from firmware.playback.thumbnail_process import ThumbnailFailed, ThumbnailWorker
from firmware.storage.events import covering, group_events
from firmware.storage.holds import list_holds
from firmware.storage.store import KeyErased, SegmentMissing
from firmware.web.routes import (Action, InputError, camera_or_404, done, fields, footage_client,
                                 footage_grant, gov, grant_entry, granted_until, is_api,
                                 local_target, may, nvr, reply, rule, text)

bp = Blueprint("recordings", __name__)
_SEGMENT_ID = re.compile(r"^[0-9a-f]{32}$")


def _tz() -> ZoneInfo:
    return ZoneInfo(nvr()["cfg"].device.timezone)


def _day_bounds(day: str) -> tuple[float, float]:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        abort(404, _("'%(day)s' is not a date like 2026-11-29", day=day))
    if not 2000 <= d.year < 2200:                # bounds.PLAUSIBLE: no footage outside these
        abort(404, _("there is no footage on %(day)s", day=day))
    start = datetime(d.year, d.month, d.day, tzinfo=_tz())
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def _window(day_start: float, day_end: float) -> tuple[float, float]:
    """Narrow the day to ?from=HH:MM&to=HH:MM (local time), if given."""
    bounds = []
    for name, default in (("from", day_start), ("to", day_end)):
        value = request.args.get(name, "")
        if not value:
            bounds.append(default)
            continue
        try:
            hh, mm = (int(x) for x in value.split(":"))
            if not (0 <= hh <= 24 and 0 <= mm < 60):
                raise ValueError
        except ValueError:
            raise InputError(_("'%(name)s' is a time like 14:05, not %(value)r", name=name,
                                     value=value)) from None
        bounds.append(day_start + hh * 3600 + mm * 60)
    if bounds[1] <= bounds[0]:
        raise InputError(_("the window's end must lie after its start"))
    return bounds[0], bounds[1]


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _day_segments(camera: str, start: float, end: float) -> list[dict]:
    """The camera's readable segments overlapping [start, end); a visit sees only its window
    (R-11)."""
    segments = nvr()["store"].list_segments(camera, start, end)
    if g.actor.visit is not None:
        segments = [s for s in segments if decide(g.actor, Action.PLAYBACK, camera=camera,
                                                  at=s["start"])]
    return segments


def _requests_of(camera: str, start: float, end: float) -> list[dict]:
    """Requests (art. 9 and 10) on this camera overlapping the window, for those who may read
    requests; others see none."""
    if not decide(g.actor, Action.REQUEST_READ):
        return []
    return [r for r in gov().requests(nvr()["store"]).list() if r["camera_id"] == camera
            and r["start"] < end and r["end"] > start and r["status"] != "refused"]


_ANY_SEGMENT = "0" * 32


def _segment_urls(endpoint: str):
    """url_for once, then the id put in: a day of 1,500 segments would spend a third of its
    time building URLs one by one."""
    template = url_for(endpoint, segment_id=_ANY_SEGMENT)
    return lambda segment_id: template.replace(_ANY_SEGMENT, segment_id)


def _event_rows(events: list[dict], requests: list[dict], camera_name: str) -> list[dict]:
    tz = _tz()
    thumbnail = _segment_urls("recordings.thumbnail")
    # Translated once per page, not once per row (the catalogue lookup is not free).
    label = _("Event at %(time)s, %(length)s", time="{time}", length="{length}")
    alt = _("Picture of the event at %(time)s", time="{time}")
    rows = []
    for e in events:
        found = covering(requests, e["camera"], e["start"], e["end"])
        start = datetime.fromtimestamp(e["start"], tz).strftime("%H:%M:%S")
        length = _duration(e["end"] - e["start"])
        rows.append({**e, "camera_name": camera_name, "duration": round(e["end"] - e["start"], 1),
                     "from": start, "length": length,
                     "label": label.replace("{time}", start).replace("{length}", length),
                     "alt": alt.replace("{time}", start),
                     "request": None if found is None else {
                         "id": found["id"], "article": found["article"],
                         "reference": found["reference"]},
                     "thumbnail": thumbnail(e["segments"][0]["id"])})
    return rows


@bp.route("/api/cameras/<camera>/segments/<day>", endpoint="api_timeline")
@rule(Action.PLAYBACK)
@footage_client
def segments(camera: str, day: str):
    """The day's 10-second segments as JSON (the events are at .../events/<day>)."""
    camera_or_404(camera)
    start, end = _window(*_day_bounds(day))
    tz = _tz()
    return reply("", [{"id": s["id"], "start": s["start"], "end": s["end"], "bytes": s["bytes"],
                       "held": bool(s["held"]), "event": s["event_id"],
                       "from": datetime.fromtimestamp(s["start"], tz).strftime("%H:%M:%S"),
                       "to": datetime.fromtimestamp(s["end"], tz).strftime("%H:%M:%S")}
                      for s in _day_segments(camera, start, end)])


@bp.route("/cameras/<camera>/day/<day>")
@bp.route("/api/cameras/<camera>/events/<day>", endpoint="api_events")
@rule(Action.PLAYBACK)
@footage_client
def timeline(camera: str, day: str):
    """The day page: its events (one row each, with a thumbnail once a reason is given), a
    timeline that zooms (static/timeline.js) and a player that plays segments as one."""
    cam = camera_or_404(camera)
    day_start, day_end = _day_bounds(day)
    start, end = _window(day_start, day_end)
    segments = _day_segments(camera, start, end)
    requests = _requests_of(camera, start, end)
    rows = _event_rows(group_events(segments), requests, cam.name)
    if is_api():
        return reply("", rows)
    holds = [h for h in list_holds(nvr()["store"]) if h["camera_id"] == camera
             and h["released"] is None and h["start"] < end and h["end"] > start]
    tz = _tz()
    d = date.fromisoformat(day)
    # A hold's reference may name a request and its requester ("request 3: <name>", the hold
    # of an art. 10 request taken in without a reference): only for who may read requests
    # a designee or a visit sees the band without it.
    held = None if decide(g.actor, Action.REQUEST_READ) else _("held (hold)")
    drawing = {"start": start, "end": end, "now": time.time(), "tz": nvr()["cfg"].device.timezone,
               "events": [[r["id"], r["start"], r["end"], int(r["held"]), r["label"]]
                          for r in rows],
               "holds": [[h["start"], h["end"], held or h["reference"]] for h in holds],
               "requests": [[r["start"], r["end"], r["reference"]] for r in requests]}
    player = [{"id": s["id"], "event": s["event_id"], "start": s["start"], "end": s["end"]}
              for s in segments]                 # the url from data-video (player.js)
    local = "%Y-%m-%dT%H:%M"                  # an <input type=datetime-local>'s value
    hold_links = {r["id"]: url_for(                      # the hold form, this event filled in
        "casework.holds", camera=camera,
        start=datetime.fromtimestamp(r["start"], tz).strftime(local),
        end=datetime.fromtimestamp(r["end"] + 59, tz).strftime(local),
        _anchor="new-hold") for r in rows} if may(Action.HOLD) else {}
    return reply("timeline.html", rows, camera=cam, day=day, player=player, drawing=drawing,
                 hold_links=hold_links,
                 video_url=url_for("recordings.video", segment_id=_ANY_SEGMENT).replace(
                     _ANY_SEGMENT, "{id}"),
                 tz=nvr()["cfg"].device.timezone,
                 zone=datetime.fromtimestamp(start, tz).strftime("%Z"),
                 granted=bool(granted_until(Action.PLAYBACK, camera)), purposes=PURPOSES,
                 previous=(d - timedelta(days=1)).isoformat(),
                 following=(d + timedelta(days=1)).isoformat())


@bp.route("/cameras/<camera>/access", methods=["POST"])
@bp.route("/api/cameras/<camera>/access", methods=["POST"], endpoint="api_access")
@rule("login")
@footage_client
def access(camera: str):
    """R-01: purpose and reason before footage is shown, live or recorded; logged by
    governance. The grant holds for this camera and action in this session."""
    camera_or_404(camera)
    f = fields()
    try:
        action = Action(text(f, "action", required=False, default="playback"))
    except ValueError:
        raise InputError(_("'action' is 'playback' or 'live'")) from None
    if action not in (Action.PLAYBACK, Action.LIVE):
        raise InputError(_("'action' is 'playback' or 'live'"))
    footage_grant(action, camera, text(f, "purpose", required=False),
                  text(f, "reason", required=False))
    until = granted_until(action, camera)
    back = local_target(request.form.get("back"), url_for("home.index"))
    return done({"camera": camera, "action": action.value, "until": until},
                _("Reason recorded."), back)


def _gone() -> str:
    return _("this footage is erased: the retention period of 28 days is over (R-40)")


def _missing() -> str:
    return _("the file of this segment is missing on the disk (removed after it was looked "
             "up); ask the technisch beheerder to run `nvr recordings verify` to update the "
             "index")
THUMBNAILS = ThumbnailCache(entries=200, max_bytes=4 << 20)   # this process's memory only
THUMBNAIL_WORKER = ThumbnailWorker()      # PyAV and OpenCV in a child, never in the web process
# At most this many server threads wait for the (serial) worker: the other threads stay free for
# the player and the pages, so a day of 40 events does not hold up playing one of them. A
# thumbnail asked for beyond that is answered 503 with Retry-After; timeline.js asks again.
MAKING = threading.BoundedSemaphore(2)


def _showable(segment_id: str):
    """The segment's index row and the grant it is shown under, or the refusal to return:
    the same checks for the video and its thumbnail (R-01, R-11, a visit's window)."""
    if not _SEGMENT_ID.match(segment_id):
        abort(404, _("no such segment"))
    row = nvr()["store"].segment_row(segment_id)
    if row is None:
        THUMBNAILS.drop(segment_id)                       # erased: its picture goes too
        abort(404, _("no such segment"))
    camera = row["camera_id"]
    decision = decide(g.actor, Action.PLAYBACK, camera=camera, at=row["start"])
    if not decision:
        return None, ({"error": decision.reason}, 403)
    entry = grant_entry(Action.PLAYBACK, camera)
    if entry is None:
        return None, ({"error": "state a purpose and reason for this camera first (R-01)"}, 428)
    return (row, entry), None


def _plaintext(segment_id: str) -> bytes:
    """The decrypted segment, in memory only, never on disk."""
    try:
        return b"".join(nvr()["store"].read_segment(segment_id))
    except KeyErased:                                     # R-40, also before the next sweep
        THUMBNAILS.drop(segment_id)
        abort(410, _gone())
    except SegmentMissing:                                # removed after it was looked up
        THUMBNAILS.drop(segment_id)
        abort(410, _missing())


@bp.route("/segments/<segment_id>/video")
@bp.route("/api/segments/<segment_id>/video", endpoint="api_video")
@rule("login")
@footage_client
def video(segment_id: str):
    found, refusal = _showable(segment_id)
    if refusal:
        return refusal
    row, entry = found
    data = _plaintext(segment_id)
    # Art. 7 lid 2, R-51: what is served is on the record (once per showing, see viewing).
    show_playback_segment(gov().accounts.db, gov().logbook, g.actor, dict(row), entry)
    return send_file(io.BytesIO(data), mimetype="video/mp4", conditional=True,
                     download_name=f"{segment_id}.mp4")


@bp.route("/segments/<segment_id>/thumbnail")
@bp.route("/api/segments/<segment_id>/thumbnail", endpoint="api_thumbnail")
@rule("login")
@footage_client
def thumbnail(segment_id: str):
    """A JPEG of the motion in an event's first segment (playback/thumbnail.py): the same rules
    as the video. It is a showing of that segment, logged as one (art. 7 lid 2), so a list
    of 40 events is 40 showings, each once per SHOWING_SECONDS. Made in memory from the
    decrypted segment by THUMBNAIL_WORKER (a child process) and kept only in THUMBNAILS; the key is checked on every request, so
    an erased segment's picture is never served (R-40)."""
    found, refusal = _showable(segment_id)
    if refusal:
        return refusal
    row, entry = found
    jpeg = THUMBNAILS.get(segment_id)
    if jpeg is None:
        if not MAKING.acquire(blocking=False):
            busy = _("the pictures of the events are still being made; a moment please")
            if is_api():
                return {"error": busy}, 503, {"Retry-After": "2"}
            return Response(busy, status=503, mimetype="text/plain",
                            headers={"Retry-After": "2"})
        try:
            jpeg = THUMBNAIL_WORKER.make(_plaintext(segment_id))
        except NoPicture:
            abort(404, _("this segment holds no picture"))
        except ThumbnailFailed as exc:
            abort(503, _("the picture of this event could not be made (%(detail)s); reload "
                         "the page, or ask the technisch beheerder to check the device",
                         detail=str(exc)))
        finally:
            MAKING.release()
        THUMBNAILS.put(segment_id, jpeg)
    else:
        try:
            nvr()["store"].data_key(segment_id)          # still readable?
        except KeyErased:
            THUMBNAILS.drop(segment_id)
            abort(410, _gone())
    show_playback_segment(gov().accounts.db, gov().logbook, g.actor, dict(row), entry)
    return send_file(io.BytesIO(jpeg), mimetype="image/jpeg")
