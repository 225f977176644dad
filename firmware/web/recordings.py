"""Cameras, the day timeline (server-drawn SVG) and playback decrypted into the response.

Playback needs a footage grant first: the viewer states a purpose and a reason per camera
(R-01), which is checked and logged by governance.access and kept in the session for
GRANT_SECONDS. Every segment served is logged under that grant (governance.viewing, art. 7
lid 2). Decrypted footage is held in memory for the response only, never on disk.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, request, send_file, url_for

from firmware.governance.access import ORDINARY_PURPOSES as PURPOSES
from firmware.governance.roles import decide
from firmware.governance.viewing import show_playback_segment
from firmware.storage.holds import list_holds
from firmware.storage.store import KeyErased, SegmentMissing
from firmware.web.routes import (Action, InputError, camera_or_404, done, fields, footage_client,
                                 footage_grant, gov, grant_entry, granted_until, is_api,
                                 local_target, nvr, reply, rule, text)

bp = Blueprint("recordings", __name__)
_SEGMENT_ID = re.compile(r"^[0-9a-f]{32}$")


def _tz() -> ZoneInfo:
    return ZoneInfo(nvr()["cfg"].device.timezone)


def _day_bounds(day: str) -> tuple[float, float]:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        abort(404, f"'{day}' is not a date like 2026-11-29")
    if not 2000 <= d.year < 2200:                # bounds.PLAUSIBLE: no footage outside these
        abort(404, f"there is no footage on {day}")
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
            raise InputError(f"'{name}' is a time like 14:05, not {value!r}") from None
        bounds.append(day_start + hh * 3600 + mm * 60)
    if bounds[1] <= bounds[0]:
        raise InputError("the window's end must lie after its start")
    return bounds[0], bounds[1]


def timeline_svg(segments: list[dict], holds: list[dict], start: float, end: float,
                 width: int = 960, height: int = 48) -> str:
    """Recorded footage (blue), held windows (orange), gaps (empty), hour ticks."""
    span = end - start

    def x(t: float) -> float:
        return round(max(0.0, min(1.0, (t - start) / span)) * width, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 16}" '
             f'role="img" aria-label="tijdlijn">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eee"/>']
    for h in holds:
        parts.append(f'<rect class="hold" x="{x(h["start"])}" y="0" '
                     f'width="{max(1, x(h["end"]) - x(h["start"]))}" height="{height}" '
                     f'fill="#f5a623" opacity="0.5"/>')
    for s in segments:
        parts.append(f'<a href="#seg-{s["id"]}"><rect class="segment" x="{x(s["start"])}" '
                     f'y="8" width="{max(1, x(s["end"]) - x(s["start"]))}" '
                     f'height="{height - 16}" fill="#2a6fdb"/></a>')
    for hour in range(25):
        hx = round(hour / 24 * width, 1)
        parts.append(f'<line x1="{hx}" y1="{height}" x2="{hx}" y2="{height + 4}" '
                     f'stroke="#333"/>')
        if hour % 3 == 0 and hour < 24:
            parts.append(f'<text x="{hx + 2}" y="{height + 14}" font-size="10">{hour:02d}</text>')
    parts.append("</svg>")
    return "".join(parts)


@bp.route("/cameras/<camera>/day/<day>")
@bp.route("/api/cameras/<camera>/segments/<day>", endpoint="api_timeline")
@rule(Action.PLAYBACK)
@footage_client
def timeline(camera: str, day: str):
    cam = camera_or_404(camera)
    store = nvr()["store"]
    start, end = _day_bounds(day)
    start, end = _window(start, end)
    segments = store.list_segments(camera, start, end)
    if g.actor.visit is not None:              # a visit sees only its window
        segments = [s for s in segments if decide(g.actor, Action.PLAYBACK, camera=camera,
                                                  at=s["start"])]
    tz = _tz()
    rows = [{"id": s["id"], "start": s["start"], "end": s["end"], "bytes": s["bytes"],
             "held": bool(s["held"]), "event": s["event_id"],
             "from": datetime.fromtimestamp(s["start"], tz).strftime("%H:%M:%S"),
             "to": datetime.fromtimestamp(s["end"], tz).strftime("%H:%M:%S")} for s in segments]
    if is_api():
        return reply("", rows)
    holds = [h for h in list_holds(store) if h["camera_id"] == camera and h["released"] is None
             and h["start"] < end and h["end"] > start]
    d = date.fromisoformat(day)
    player = [{"id": r["id"], "start": r["start"], "end": r["end"],
               "url": url_for("recordings.video", segment_id=r["id"])} for r in rows]
    return reply("timeline.html", rows, camera=cam, day=day, player=player,
                 tz=nvr()["cfg"].device.timezone,
                 granted=bool(granted_until(Action.PLAYBACK, camera)),
                 svg=timeline_svg(segments, holds, start, end), purposes=PURPOSES,
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
        raise InputError("'action' is 'playback' or 'live'") from None
    if action not in (Action.PLAYBACK, Action.LIVE):
        raise InputError("'action' is 'playback' or 'live'")
    footage_grant(action, camera, text(f, "purpose", required=False),
                  text(f, "reason", required=False))
    until = granted_until(action, camera)
    back = local_target(request.form.get("back"), url_for("home.index"))
    return done({"camera": camera, "action": action.value, "until": until},
                "Reden vastgelegd.", back)


@bp.route("/segments/<segment_id>/video")
@bp.route("/api/segments/<segment_id>/video", endpoint="api_video")
@rule("login")
@footage_client
def video(segment_id: str):
    if not _SEGMENT_ID.match(segment_id):
        abort(404, "no such segment")
    store = nvr()["store"]
    row = store.segment_row(segment_id)
    if row is None:
        abort(404, "no such segment")
    camera = row["camera_id"]
    decision = decide(g.actor, Action.PLAYBACK, camera=camera, at=row["start"])
    if not decision:
        return {"error": decision.reason}, 403
    entry = grant_entry(Action.PLAYBACK, camera)
    if entry is None:
        return {"error": "state a purpose and reason for this camera first (R-01)"}, 428
    try:
        data = b"".join(store.read_segment(segment_id))   # in memory only, never on disk
    except KeyErased:                                     # R-40, also before the next sweep
        abort(410, "deze beelden zijn gewist: de bewaartermijn van 28 dagen is voorbij (R-40)")
    except SegmentMissing:                                # removed after it was looked up
        abort(410, "het bestand van dit segment ontbreekt op de schijf (verwijderd nadat het "
                   "werd opgezocht); laat de technisch beheerder `nvr recordings verify` "
                   "draaien om de index bij te werken")
    # Art. 7 lid 2, R-51: what is served is on the record (once per showing, see viewing).
    show_playback_segment(gov().accounts.db, gov().logbook, g.actor, dict(row), entry)
    return send_file(io.BytesIO(data), mimetype="video/mp4", conditional=True,
                     download_name=f"{segment_id}.mp4")
