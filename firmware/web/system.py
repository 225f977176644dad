"""Health for the central room's monitoring (/healthz, /readyz, /metrics) and the system page:
cameras and their state, storage and the retention horizon reached, time sync.

/healthz and /readyz's verdict are public: a load balancer or systemd may ask them. Who is not
known gets from /readyz only the verdict and the names of the checks that fail; the reasons
(which name cameras, key paths and alarms) go to a scrape token (system/scrape.py) or a signed-in
personal account. /metrics answers a scrape token only: 401 for everyone else, also a session.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time

from flask import Blueprint, Response, current_app, request, session
from prometheus_client import exposition

from firmware.config import MAX_RETENTION_DAYS
from firmware.i18n import _
from firmware.governance.wording import ALARMS
from firmware.governance.introduction import refusals
from firmware.live.client import recorder_status
from firmware.system.clock import clock_synchronised
from firmware.system.metrics import registry
from firmware.system.readiness import readiness
from firmware.system.scrape import ScrapeTokens, bearer
from firmware.web.routes import PUBLIC, current_actor, gov, local_time, nvr, reply, rule

bp = Blueprint("system", __name__)
# The text format every Prometheus 2.x reads (Debian bookworm ships 2.42); newer clients
# default to 1.0.0, older ones have only this one.
METRICS_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)
STALE_SECONDS = 10              # a camera without frames for this long is reported as stalled
# How old the verdict an anonymous caller of /readyz gets may be. Each fresh answer starts
# `timedatectl` and asks the recorder's socket: without this, anyone on the network could make
# the recording board fork as fast as they can send. A scrape token or a person gets it fresh.
ANONYMOUS_MAX_AGE = 5.0

# The alarms in Dutch for the page: one wording with the report (governance/wording.py).
ALARMS_NL = ALARMS


@bp.route("/healthz")
@rule(PUBLIC)
def healthz():
    return {"status": "alive"}


def _scraper() -> str | None:
    """The scraper's name when the request carries an active scrape token."""
    token = bearer(request.headers.get("Authorization"))
    if token is None:                   # no database opened for a request without a token
        return None
    return ScrapeTokens(gov().accounts.db).valid(token)


def _anonymous_readiness():
    """The verdict for an anonymous caller: computed at most once per ANONYMOUS_MAX_AGE
    seconds, however many ask (one at a time; the others wait and get the same answer)."""
    cache = current_app.extensions.setdefault(
        "nvr-readyz-anonymous", {"lock": threading.Lock(), "at": None, "found": None})
    with cache["lock"]:
        if cache["at"] is None or time.monotonic() - cache["at"] > ANONYMOUS_MAX_AGE:
            cache["found"] = readiness(nvr()["cfg"], nvr()["store"])
            cache["at"] = time.monotonic()
        return cache["found"]


def scrape_token(view):
    """Only a scrape token opens the view (no session, no footage); 401 otherwise. No cookie
    is set either: the CSRF token every request gets is dropped here."""
    @functools.wraps(view)
    def inner(*args, **kwargs):
        session.modified = False
        if _scraper() is None:
            return Response(_("a scrape token is needed: Authorization: Bearer <token> (make "
                              "one with `nvr scrape-token issue NAME`)") + "\n", 401,
                            {"WWW-Authenticate": 'Bearer realm="nvr-metrics"',
                             "Content-Type": "text/plain; charset=utf-8"})
        return view(*args, **kwargs)
    inner.nvr_access = "scrape-token"
    return inner


@bp.route("/readyz")
@rule(PUBLIC)
def readyz():
    """Ready: disk, no storage alarm, cameras allowed, the recorder recording, the clock
    synchronised, the keys present (system/readiness.py). `storage_alarm` is true when there
    is one. The reasons only for a scrape token or a personal account (see the module),
    which get a fresh answer; an anonymous caller's may be ANONYMOUS_MAX_AGE seconds old."""
    detail = _scraper() is not None
    if not detail:
        actor = current_actor(touch=False)
        detail = actor is not None and actor.visit is None
    found = (readiness(nvr()["cfg"], nvr()["store"]) if detail else _anonymous_readiness())
    body = {"ready": found.ready, "checks": found.checks,
            "failing": [name for name in found.problems]}
    if detail:
        body |= {"reasons": found.reasons, "clock_source": found.clock_source,
                 "alarms": found.alarms, "refused": found.refused}
    return body, 200 if found.ready else 503


@bp.route("/metrics")
@scrape_token
def metrics():
    """The device's figures in Prometheus' text format (system/metrics.py)."""
    found = current_app.extensions.get("nvr-metrics")
    if found is None:            # one per app: its collector keeps the login-failure count
        found = current_app.extensions.setdefault(
            "nvr-metrics", registry(nvr()["cfg"], nvr()["store"]))
    return Response(exposition.generate_latest(found), 200, {"Content-Type": METRICS_TYPE})


def system_state() -> dict:
    cfg, store = nvr()["cfg"], nvr()["store"]
    now = time.time()
    recorder = recorder_status(cfg.live_socket)
    refused = refusals(cfg)                    # said in Dutch here, whatever the recorder says
    cameras = []
    for c in cfg.cameras:
        seen = (recorder or {}).get(c.id, {})
        state = seen.get("state", "unknown" if recorder is None else "not started")
        last = seen.get("last_frame")
        if state == "recording" and (last is None or now - last > STALE_SECONDS):
            state = "stalled"
        segments = store.list_segments(c.id, now - 3600, now + 60)
        cameras.append({"id": c.id, "name": c.name, "location": c.location, "source": c.source,
                        "size": f"{c.width}x{c.height}@{c.fps}", "state": state,
                        "why": refused[c.id].dutch if c.id in refused else seen.get("why", ""),
                        "viewers": seen.get("viewers", 0),
                        "last_frame": local_time(last) if last else "",
                        "segments_last_hour": len(segments)})
    disk = shutil.disk_usage(store.data_dir)
    horizon = store.horizon(now)
    return {
        "device": {"id": cfg.device.id, "name": cfg.device.name, "time": local_time(now),
                   "clock_synchronised": clock_synchronised()},
        "recorder": "running" if recorder is not None else "not answering",
        "cameras": cameras,
        "storage": {"used_percent": round(100 * (disk.total - disk.free) / disk.total, 1),
                    "high_water_percent": cfg.storage.high_water_percent,
                    "free_gb": round(disk.free / 1e9, 1),
                    "alarms": [{"kind": a["kind"], "since": local_time(a["since"]),
                                "text": ALARMS_NL.get(a["kind"], a["detail"])}
                               for a in store.alarms()],
                    "retention_days": cfg.storage.retention_days,
                    "horizon_days": None if horizon is None else round(horizon / 86400, 2),
                    "max_days": MAX_RETENTION_DAYS},
    }


@bp.route("/system")
@bp.route("/api/system", endpoint="api_page")
@rule("account")
def page():
    return reply("system.html", system_state())
