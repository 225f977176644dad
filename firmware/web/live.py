"""Live view: a grid of every camera the viewer may watch, or one camera, as MJPEG from the
recorder's live socket.

The viewer states a purpose and reason once for the whole grid (R-01, logged once by
governance.access.grant_live_view); the stream then runs until the grant expires, the viewer
leaves, or the session ends on the server (logged out, idled out, account or delegation
changed): the stream asks every RECHECK_SECONDS. The recorder encodes JPEGs only while at least
one stream is open (firmware.live.tap). The page polls `/live/status` (static/live.js) and shows
on each tile why there is no picture (firmware.live.state) instead of a frozen frame.
"""

from __future__ import annotations

import threading
import time

from flask import (Blueprint, Response, g, jsonify, redirect, render_template, request, session,
                   url_for)

from firmware.governance.access import ORDINARY_PURPOSES as PURPOSES
from firmware.governance.roles import decide
from firmware.governance.service import Governance
from firmware.i18n import _
from firmware.live.client import LiveUnavailable, live_frames, recorder_status
from firmware.live.state import tile_state
from firmware.web.routes import (GRANT_SECONDS, Action, camera_or_404, footage_client,
                                 footage_grant_live, granted_until, local_target, nvr, rule, text,
                                 workstation)

bp = Blueprint("live", __name__)
MAX_STREAMS = 12                 # keeps server threads free for pages and playback
RECHECK_SECONDS = 5              # an ended session or revoked delegation stops the stream
POLL_SECONDS = 2                 # how often the page asks /live/status
LAYOUTS = (1, 2, 4, 6, 9)        # tiles per screen the grid offers
_streams = threading.BoundedSemaphore(MAX_STREAMS)


def live_cameras() -> list:
    """The configured cameras the current actor may watch live."""
    return [c for c in nvr()["cfg"].cameras if decide(g.actor, Action.LIVE, camera=c.id)]


def grid_layout(count: int, asked: str | None) -> int:
    """The tiles per screen: the one asked for (?layout=N) if offered, else the smallest
    layout that shows every camera at once."""
    if asked and asked.isdigit() and int(asked) in LAYOUTS:
        return int(asked)
    return next((n for n in LAYOUTS if n >= count), LAYOUTS[-1])


def _page(cameras: list, *, single: bool, action: str):
    granted = all(granted_until(Action.LIVE, c.id) for c in cameras)
    layout = 1 if single else grid_layout(len(cameras), request.args.get("layout"))
    return render_template("live.html", cameras=cameras, granted=granted, purposes=PURPOSES,
                           action=action, single=single, layout=layout, layouts=LAYOUTS,
                           poll=POLL_SECONDS, grant_minutes=GRANT_SECONDS // 60)


@bp.route("/live")
@rule("login")
@footage_client
def grid():
    cameras = live_cameras()
    if not cameras:
        return render_template("error.html",
                               message=_("You may not watch any camera live (R-11).")), 403
    return _page(cameras, single=False, action=url_for("live.grid_access"))


@bp.route("/live/access", methods=["POST"])
@rule("login")
@footage_client
def grid_access():
    """One purpose and reason for every camera of the grid, logged once (R-01)."""
    cameras = live_cameras()
    footage_grant_live([c.id for c in cameras], text(request.form, "purpose", required=False),
                       text(request.form, "reason", required=False))
    return redirect(local_target(request.form.get("back"), url_for("live.grid")))


@bp.route("/live/status")
@rule("login", touch=False)          # polling is no activity: an idle session still ends
def status():
    """Per camera (?camera=ID, repeated; default every camera the viewer may watch) the state
    of its tile: live, expired, recorder-down or camera-lost (firmware.live.state). An ended
    session gets the login redirect of `rule`, which the page reads as access ended."""
    known = {c.id for c in nvr()["cfg"].cameras}
    asked = [c for c in request.args.getlist("camera") if c in known]
    cameras = asked or [c.id for c in live_cameras()]
    recorder = recorder_status(nvr()["cfg"].live_socket)
    now = time.time()
    states = {}
    for camera in cameras:
        allowed = bool(decide(g.actor, Action.LIVE, camera=camera)) and bool(
            granted_until(Action.LIVE, camera))
        states[camera] = {"state": tile_state(camera, allowed=allowed, recorder=recorder,
                                              now=now),
                          "until": granted_until(Action.LIVE, camera) or None}
    return jsonify({"cameras": states, "poll": POLL_SECONDS})


@bp.route("/cameras/<camera>/live")
@rule(Action.LIVE)
@footage_client
def camera_page(camera: str):
    cam = camera_or_404(camera)
    return _page([cam], single=True, action=url_for("recordings.access", camera=camera))


@bp.route("/cameras/<camera>/live.mjpeg")
@rule(Action.LIVE, touch=False)      # opened and reopened by the page's script: no activity
@footage_client
def stream(camera: str):
    camera_or_404(camera)
    until = granted_until(Action.LIVE, camera)
    if not until:
        return {"error": _("state a purpose and reason for this camera first (R-01)")}, 428
    if not _streams.acquire(blocking=False):
        return {"error": _("%(count)s live streams are open already; close one",
                          count=MAX_STREAMS)}, 503
    try:
        frames = live_frames(nvr()["cfg"].live_socket, camera)
        first = next(frames)                 # fails here, with a status, if there is no picture
    except (LiveUnavailable, StopIteration, OSError) as exc:
        _streams.release()
        return {"error": _("no live picture: %(why)s", why=str(exc))}, 503

    token = session.get("sid", "")
    cfg = nvr()["cfg"]
    address = request.remote_addr
    tls = {k: request.environ.get(k) for k in ("SSL_CLIENT_VERIFY", "SSL_CLIENT_CERT")}

    def still_allowed() -> bool:
        """The session still lives (not ended, not idle: watching is not activity), its
        viewer may still watch this camera (R-12, R-81) and the computer is still a
        workstation (a revoked certificate ends the stream, art. 4 lid 1)."""
        gov = Governance.open(cfg)
        try:
            actor = gov.session_actor(token, touch=False)
            return (actor is not None and bool(decide(actor, Action.LIVE, camera=camera))
                    and bool(workstation(gov, cfg, address, tls)))
        finally:
            gov.close()

    def parts():
        checked = time.monotonic()
        try:
            frame = first
            while time.time() < until:
                if time.monotonic() - checked > RECHECK_SECONDS:
                    if not still_allowed():
                        return
                    checked = time.monotonic()
                jpeg = frame[1]
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nX-Capture-Time: %.3f\r\n"
                       b"Content-Length: %d\r\n\r\n" % (frame[0], len(jpeg)) + jpeg + b"\r\n")
                frame = next(frames)
        except (LiveUnavailable, OSError):
            return

    def release() -> None:
        frames.close()                       # the recorder stops encoding for this viewer
        _streams.release()

    response = Response(parts(), mimetype="multipart/x-mixed-replace; boundary=frame",
                        headers={"X-Accel-Buffering": "no"})
    # On close, also when the server closes the response before its first part.
    response.call_on_close(release)
    return response
