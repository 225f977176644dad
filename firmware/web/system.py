"""Health for the central room's monitoring (/healthz, /readyz) and the system page: cameras
and their state, storage and the retention horizon reached, time sync."""

from __future__ import annotations

import shutil
import time

from flask import Blueprint

from firmware.config import MAX_RETENTION_DAYS
from firmware.governance.wording import ALARMS
from firmware.live.client import recorder_status
from firmware.system.clock import clock_synchronised
from firmware.web.routes import PUBLIC, local_time, nvr, reply, rule

bp = Blueprint("system", __name__)
STALE_SECONDS = 10              # a camera without frames for this long is reported as stalled

# The alarms in Dutch for the page: one wording with the report (governance/wording.py).
ALARMS_NL = ALARMS


@bp.route("/healthz")
@rule(PUBLIC)
def healthz():
    return {"status": "alive"}


@bp.route("/readyz")
@rule(PUBLIC)
def readyz():
    store = nvr()["store"]
    alarms = store.alarms()                    # kept in the index: the owner's, seen here too
    checks = {"disk_below_high_water": store.disk_used() <= store.high_water,
              "storage_alarm": not alarms,
              "clock_synchronised": clock_synchronised()}
    ready = checks["disk_below_high_water"] and checks["storage_alarm"]
    return ({"ready": ready, "checks": checks,
             "alarms": [{"kind": a["kind"], "detail": a["detail"]} for a in alarms]},
            200 if ready else 503)


def system_state() -> dict:
    cfg, store = nvr()["cfg"], nvr()["store"]
    now = time.time()
    recorder = recorder_status(cfg.live_socket)
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
                        "why": seen.get("why", "") or c.recording_blocked_reason() or "",
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
