"""The home page ("/"): the work waiting for the role (governance/worklist.py, issue 11 item 5),
the next step of every open request for the roles that may read requests, and the cameras for
the roles that may watch. Also under /api/work and /api/cameras as JSON."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify

from firmware.governance.roles import decide
from firmware.governance.worklist import Desk, desk_for, request_steps, work_for
from firmware.web.routes import Action, gov, is_api, nvr, reply, rule

bp = Blueprint("home", __name__)


def _camera_json(c) -> dict:
    return {"id": c.id, "name": c.name, "location": c.location,
            "live": bool(decide(g.actor, Action.LIVE, camera=c.id)),
            "playback": bool(decide(g.actor, Action.PLAYBACK, camera=c.id))}


def _cameras() -> list[dict]:
    cameras = [_camera_json(c) for c in nvr()["cfg"].cameras]
    if g.actor.visit is not None:
        cameras = [c for c in cameras if c["id"] in g.actor.visit.cameras]
    return cameras


def _desk() -> Desk:
    return desk_for(g.actor, nvr()["cfg"], nvr()["store"], gov().accounts.db)


def _work() -> dict:
    desk = _desk()
    steps = []
    if g.actor.visit is None and decide(g.actor, Action.REQUEST_READ):   # who reads them
        steps = [{"request": s.request, "article": s.article, "requester": s.requester,
                  "kind": s.kind, "role": s.role.value, "role_name": s.role_name,
                  "text": s.text, "link": s.link, "overdue": s.overdue}
                 for s in request_steps(desk)]
    return {"items": [i.as_dict() for i in work_for(g.actor, desk)], "requests": steps}


@bp.route("/api/work")
@rule("login")
def api_work():
    return jsonify(_work())


@bp.route("/")
@bp.route("/api/cameras", endpoint="api_index")
@rule("login")
def index():
    cameras = _cameras()
    if is_api():
        return jsonify(cameras)
    watch = [c for c in cameras if c["live"] or c["playback"]]
    today = datetime.now(ZoneInfo(nvr()["cfg"].device.timezone)).date().isoformat()
    return reply("index.html", watch, today=today, actor=g.actor, work=_work())
