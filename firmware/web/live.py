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

from flask import (Blueprint, Response, current_app, g, jsonify, redirect, render_template, request,
                   session, url_for)

from firmware.governance.access import ORDINARY_PURPOSES as PURPOSES
from firmware.governance.roles import decide
from firmware.governance.service import Governance
from firmware.i18n import _
from firmware.live.client import LiveUnavailable, live_frames, recorder_status
from firmware.live.state import STALL_SECONDS, tile_state
from firmware.web.routes import (GRANT_SECONDS, Action, camera_or_404, footage_client,
                                 footage_grant_live, granted_until, local_target, nvr, rule, text,
                                 workstation)

bp = Blueprint("live", __name__)
MAX_STREAMS = 12                 # keeps server threads free for pages and playback
RECHECK_SECONDS = 5              # an ended session or revoked delegation stops the stream
POLL_SECONDS = 2                 # how often the page asks /live/status
LAYOUTS = (1, 2, 4, 6, 9)        # tiles per screen the grid offers
_streams = threading.BoundedSemaphore(MAX_STREAMS)
_per_viewer: dict[str, int] = {}    # open streams per account: one viewer cannot take them all
_per_viewer_lock = threading.Lock()


def viewer_limit(cameras: int) -> int:
    """How many streams one account may have open at once: two per camera it may watch (a grid
    and a reload or a second window), never so many that nobody else gets a picture."""
    return max(1, min(2 * cameras, MAX_STREAMS - 2))


def _take(viewer: str, limit: int) -> str | None:
    """Take a stream slot for `viewer`; None, or the refusal in words."""
    with _per_viewer_lock:
        if _per_viewer.get(viewer, 0) >= limit:
            return _("you have %(count)s live pictures open already; close one (the other "
                     "viewers need theirs)", count=limit)
        if not _streams.acquire(blocking=False):
            return _("%(count)s live streams are open already; close one", count=MAX_STREAMS)
        _per_viewer[viewer] = _per_viewer.get(viewer, 0) + 1
    return None


def _give_back(viewer: str) -> None:
    with _per_viewer_lock:
        left = _per_viewer.get(viewer, 1) - 1
        if left > 0:
            _per_viewer[viewer] = left
        else:
            _per_viewer.pop(viewer, None)
        _streams.release()


def end_streams(app) -> None:
    """On shutdown, end every open stream at its next frame or keep-alive (2 s at most): a
    stream's thread plays until its grant ends, and the server waits for its threads, so
    without this `nvr web` took 50 s to stop with four tiles open, longer than systemd's
    TimeoutStopSec. The tiles then say the recorder is not reachable and try again."""
    _stopping(app).set()


def _stopping(app) -> threading.Event:
    return app.extensions.setdefault("nvr-live-stopping", threading.Event())


def _next_picture(frames, deadline: float, until: float | None = None,
                  allowed=None) -> tuple[float, bytes] | None:
    """The next frame with a picture, or None when none came before `deadline` (monotonic),
    the grant's `until` (wall clock) passed, or `allowed()` says access has ended; asked at
    every keep-alive too (the recorder sends one every 2 s without a frame)."""
    while True:
        frame = next(frames)
        if frame[1]:
            return frame
        if time.monotonic() >= deadline or (until is not None and time.time() >= until):
            return None
        if allowed is not None and not allowed():
            return None


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
    viewer = g.actor.name
    refusal = _take(viewer, viewer_limit(len(live_cameras())))
    if refusal:
        return {"error": refusal}, 503
    try:
        # Keep-alives come through (every 2 s without a frame), so neither the first picture
        # nor a later one is waited for longer than STALL_SECONDS: a camera that gives no
        # picture ends the stream (the tile says so) instead of holding a slot and a thread.
        frames = live_frames(nvr()["cfg"].live_socket, camera, keepalive=True)
        first = _next_picture(frames, time.monotonic() + STALL_SECONDS)
        if first is None:
            frames.close()
            raise LiveUnavailable(_("the camera gives no picture"))
    except (LiveUnavailable, StopIteration, OSError) as exc:
        _give_back(viewer)
        return {"error": _("no live picture: %(why)s", why=str(exc))}, 503

    token = session.get("sid", "")
    cfg = nvr()["cfg"]
    stopping = _stopping(current_app)
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
            while time.time() < until and not stopping.is_set():
                if time.monotonic() - checked > RECHECK_SECONDS:
                    if not still_allowed():
                        return
                    checked = time.monotonic()
                jpeg = frame[1]
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nX-Capture-Time: %.3f\r\n"
                       b"Content-Length: %d\r\n\r\n" % (frame[0], len(jpeg)) + jpeg + b"\r\n")
                frame = _next_picture(frames, time.monotonic() + STALL_SECONDS, until=until,
                                      allowed=lambda: not stopping.is_set() and (
                                          time.monotonic() - checked <= RECHECK_SECONDS
                                          or still_allowed()))
                if frame is None:            # stalled, access lapsed or ended: end the stream
                    return
        except (LiveUnavailable, OSError, StopIteration):
            return

    def release() -> None:
        frames.close()                       # the recorder stops encoding for this viewer
        _give_back(viewer)

    response = Response(parts(), mimetype="multipart/x-mixed-replace; boundary=frame",
                        headers={"X-Accel-Buffering": "no"})
    # On close, also when the server closes the response before its first part.
    response.call_on_close(release)
    return response
