"""The inzage of an art. 10 request, inside the request (art. 10 lid 4-6, R-73), and its two
documents: the decision letter and the declaration.

Which segments may be shown, and the record of each one served, are governance.viewing's; the
letters are governance.letters'. The views read the request's blurring choices from the query
string and pass the footage through the blurring (firmware.playback.blur) in memory on its way
to the player: never stored.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, request, send_file, url_for

from firmware.governance import viewing
from firmware.governance.access import AccessRefused
from firmware.governance.bounds import when
from firmware.governance.letters import decision_letter_file
from firmware.governance.requests import RequestError
from firmware.i18n import _
from firmware.storage.store import KeyErased, SegmentMissing
from firmware.web.routes import Action, InputError, footage_client, gov, is_api, nvr, reply, rule

bp = Blueprint("viewing", __name__)


def _blur_choice() -> tuple[bool, list, str]:
    """Blurring asked for in the query: detect=1 and regions=x,y,b,h;..."""
    detect = request.args.get("detect") in ("1", "on", "yes")
    text = request.args.get("regions", "")
    try:
        return detect, viewing.parse_regions(text), text
    except viewing.RegionError as exc:
        raise InputError(str(exc)) from None


def _camera(camera_id: str):
    for c in nvr()["cfg"].cameras:
        if c.id == camera_id:
            return c
    return None


@bp.app_template_global()
def camera_label(camera_id: str) -> str:
    """A camera as people know it: 'name, location' (pages show no internal ids)."""
    c = _camera(camera_id)
    return f"{c.name}, {c.location}" if c else camera_id


@bp.route("/requests/<int:req_id>/inzage")
@bp.route("/api/requests/<int:req_id>/inzage", endpoint="api_inzage")
@rule(Action.IDENTIFY)
@footage_client
def inzage(req_id: int):
    """The footage of the request's camera and approved window, and nothing else; the
    blurring the decision requires is selected (toelichting art. 10)."""
    detect, regions, regions_text = _blur_choice()
    found = viewing.open_viewing(gov().requests(nvr()["store"]), nvr()["store"], g.actor,
                                 req_id)
    req, segments = found["request"], found["segments"]
    detect = detect or req["blur"] == "detect"
    tz = ZoneInfo(nvr()["cfg"].device.timezone)
    query = {k: v for k, v in (("detect", "1" if detect else ""), ("regions", regions_text))
             if v}
    rows = [{"id": s["id"], "start": s["start"], "end": s["end"],
             "from": when(s["start"], tz, "%H:%M:%S"), "to": when(s["end"], tz, "%H:%M:%S"),
             "url": url_for("viewing.video", req_id=req_id, segment_id=s["id"])
             + (f"?{urlencode(query)}" if query else "")} for s in segments]
    if is_api():
        return reply("", {"request": req_id, "camera": req["camera_id"], "start": req["start"],
                          "end": req["end"], "segments": rows,
                          "blur": viewing.blur_settings(detect, regions),
                          "required_blur": req["blur"]})
    for name in ("start", "end", "decided_at", "declaration_at"):
        req[f"{name}_local"] = when(req[name], tz, "%d-%m-%Y %H:%M:%S (%Z)")
    return reply("inzage.html", rows, r=req, camera=_camera(req["camera_id"]), tz=str(tz),
                 detect=detect, regions=regions_text, region_boxes=regions,
                 player=[{k: row[k] for k in ("id", "start", "end", "url")} for row in rows])


@bp.route("/requests/<int:req_id>/inzage/segments/<segment_id>/video")
@rule(Action.IDENTIFY)
@footage_client
def video(req_id: int, segment_id: str):
    """One segment of the request's window, checked and logged at every response, blurred in
    memory when asked."""
    store = nvr()["store"]
    try:                     # the player reads the answer: refusals as JSON, like playback's
        detect, regions, _text = _blur_choice()
        segment = viewing.show_request_segment(gov().requests(store), store, g.actor, req_id,
                                               segment_id,
                                               viewing.blur_settings(detect, regions))
    except AccessRefused as exc:
        return {"error": str(exc)}, 403
    except (RequestError, InputError) as exc:
        return {"error": str(exc)}, 400
    try:
        data = b"".join(store.read_segment(segment["id"]))   # in memory only, never on disk
    except KeyErased:
        abort(410, _("this footage is erased: its retention period has passed (R-40)"))
    except SegmentMissing:
        abort(410, _("the file of this segment is missing on the disk; have the technisch "
                     "beheerder run `nvr recordings verify`"))
    if detect or regions:
        # In a child process: the web process never loads PyAV and OpenCV (issue 11, memory).
        from firmware.playback.blur_process import BlurRefused, blur_in_child
        try:
            data = blur_in_child(data, regions=regions, detect=detect)
        except BlurRefused as exc:
            raise AccessRefused(exc.message) from None
        # Blurring costs a decode and an encode: answer the whole segment at once, so a
        # player's range requests do not blur it again and again.
        return send_file(io.BytesIO(data), mimetype="video/mp4", conditional=False,
                         download_name=f"inzage-{req_id}.mp4")
    return send_file(io.BytesIO(data), mimetype="video/mp4", conditional=True,
                     download_name=f"inzage-{req_id}.mp4")


@bp.route("/requests/<int:req_id>/besluit.pdf")
@rule(Action.REQUEST_READ)
def decision_letter(req_id: int):
    """The decision letter (art. 10 lid 3, toelichting art. 10), ready to sign and send."""
    with tempfile.TemporaryDirectory() as tmp:               # a letter, not footage
        out = Path(tmp) / "besluit.pdf"
        decision_letter_file(gov(), g.actor, nvr()["cfg"], nvr()["store"], req_id, out)
        pdf = out.read_bytes()
    return send_file(io.BytesIO(pdf), mimetype="application/pdf",
                     download_name=f"besluit-verzoek-{req_id}.pdf")
