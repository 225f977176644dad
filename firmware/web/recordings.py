"""Cameras, the day timeline (server-drawn SVG) and playback decrypted into the response.

Playback needs a footage grant first: the viewer states a purpose and a reason per camera
(R-01), which is checked and logged by governance.access and kept in the session for
GRANT_SECONDS. Decrypted footage is held in memory for the response only, never on disk.
"""

from __future__ import annotations

import io
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (Blueprint, abort, g, redirect, render_template, request, send_file, session,
                   url_for)

from firmware.governance.access import PURPOSES, AccessRefused, grant_footage
from firmware.governance.roles import decide
from firmware.storage.holds import list_holds
from firmware.web.routes import Action, nvr, rule

bp = Blueprint("recordings", __name__)
GRANT_SECONDS = 30 * 60
_SEGMENT_ID = re.compile(r"^[0-9a-f]{32}$")


def _tz() -> ZoneInfo:
    return ZoneInfo(nvr()["cfg"].device.timezone)


@bp.route("/")
@rule("login")
def index():
    cfg = nvr()["cfg"]
    today = datetime.now(_tz()).date().isoformat()
    return render_template("index.html", cameras=cfg.cameras, today=today, actor=g.actor)


def _day_bounds(day: str) -> tuple[float, float]:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        abort(404)
    start = datetime(d.year, d.month, d.day, tzinfo=_tz())
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


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
@rule(Action.PLAYBACK)
def timeline(camera: str, day: str):
    cfg, store = nvr()["cfg"], nvr()["store"]
    if camera not in {c.id for c in cfg.cameras}:
        abort(404)
    start, end = _day_bounds(day)
    segments = [s for s in store.list_segments(camera) if s["start"] < end and s["end"] > start]
    holds = [h for h in list_holds(store) if h["camera_id"] == camera and h["released"] is None
             and h["start"] < end and h["end"] > start]
    granted = session.get("grants", {}).get(camera, 0) > time.time()
    tz = _tz()
    return render_template(
        "timeline.html", camera=cfg.camera(camera), day=day, granted=granted,
        svg=timeline_svg(segments, holds, start, end), purposes=PURPOSES,
        segments=[{**s, "from": datetime.fromtimestamp(s["start"], tz).strftime("%H:%M:%S"),
                   "to": datetime.fromtimestamp(s["end"], tz).strftime("%H:%M:%S")}
                  for s in segments])


@bp.route("/cameras/<camera>/access", methods=["POST"])
@rule(Action.PLAYBACK)
def access(camera: str):
    """R-01: purpose and reason before footage is shown; logged by governance."""
    try:
        grant_footage(nvr()["gov"], g.actor, Action.PLAYBACK, camera=camera,
                      purpose=request.form.get("purpose"), reason=request.form.get("reason"),
                      subject=f"camera {camera}")
    except AccessRefused as exc:
        return render_template("error.html", message=str(exc)), 403
    grants = session.get("grants", {})
    grants[camera] = time.time() + GRANT_SECONDS
    session["grants"] = grants
    return redirect(request.form.get("back") or url_for("recordings.index"))


@bp.route("/segments/<segment_id>/video")
@rule("login")
def video(segment_id: str):
    if not _SEGMENT_ID.match(segment_id):
        abort(404)
    store = nvr()["store"]
    row = store.segment_row(segment_id)
    if row is None:
        abort(404)
    camera = row["camera_id"]
    decision = decide(g.actor, Action.PLAYBACK, camera=camera, at=row["start"])
    if not decision:
        return {"error": decision.reason}, 403
    if session.get("grants", {}).get(camera, 0) <= time.time():
        return {"error": "state a purpose and reason for this camera first (R-01)"}, 403
    data = b"".join(store.read_segment(segment_id))       # in memory only, never on disk
    return send_file(io.BytesIO(data), mimetype="video/mp4", conditional=True,
                     download_name=f"{segment_id}.mp4")
