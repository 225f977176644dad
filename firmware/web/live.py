"""Live view: one camera or a grid of all, as MJPEG from the recorder's live socket.

The viewer states a purpose and reason first (R-01, logged by governance); the stream then runs
until the grant expires, the viewer leaves, or the session ends on the server (logged out,
idled out, account or delegation changed): the stream asks every RECHECK_SECONDS. The
recorder encodes JPEGs only while at least one stream is open (firmware.live.tap).
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for

from firmware.governance.access import ORDINARY_PURPOSES as PURPOSES
from firmware.governance.roles import decide
from firmware.governance.service import Governance
from firmware.live.client import LiveUnavailable, live_frames
from firmware.web.routes import (Action, camera_or_404, footage_client, footage_grant,
                                 granted_until, nvr, rule, workstation)

bp = Blueprint("live", __name__)
MAX_STREAMS = 12                 # keeps server threads free for pages and playback
RECHECK_SECONDS = 5              # an ended session or revoked delegation stops the stream
_streams = threading.BoundedSemaphore(MAX_STREAMS)


def live_cameras() -> list:
    """The configured cameras the current actor may watch live."""
    return [c for c in nvr()["cfg"].cameras if decide(g.actor, Action.LIVE, camera=c.id)]


@bp.route("/live")
@rule("login")
@footage_client
def grid():
    cameras = live_cameras()
    if not cameras:
        return render_template("error.html", message="U mag geen camera live bekijken (R-11)."), 403
    granted = all(granted_until(Action.LIVE, c.id) for c in cameras)
    return render_template("live.html", cameras=cameras, granted=granted, purposes=PURPOSES,
                           action=url_for("live.grid_access"), single=False)


@bp.route("/live/access", methods=["POST"])
@rule("login")
@footage_client
def grid_access():
    cameras = live_cameras()
    for c in cameras:
        footage_grant(Action.LIVE, c.id, request.form.get("purpose"), request.form.get("reason"))
    return redirect(url_for("live.grid"))


@bp.route("/cameras/<camera>/live")
@rule(Action.LIVE)
@footage_client
def camera_page(camera: str):
    cam = camera_or_404(camera)
    return render_template("live.html", cameras=[cam], purposes=PURPOSES, single=True,
                           granted=bool(granted_until(Action.LIVE, camera)),
                           action=url_for("recordings.access", camera=camera))


@bp.route("/cameras/<camera>/live.mjpeg")
@rule(Action.LIVE)
@footage_client
def stream(camera: str):
    camera_or_404(camera)
    until = granted_until(Action.LIVE, camera)
    if not until:
        return {"error": "state a purpose and reason for this camera first (R-01)"}, 428
    if not _streams.acquire(blocking=False):
        return {"error": f"{MAX_STREAMS} live streams are open already; close one"}, 503
    try:
        frames = live_frames(nvr()["cfg"].live_socket, camera)
        first = next(frames)                 # fails here, with a status, if there is no picture
    except (LiveUnavailable, StopIteration, OSError) as exc:
        _streams.release()
        return {"error": f"no live picture: {exc}"}, 503

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
