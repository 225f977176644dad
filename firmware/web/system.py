"""Health for the central room's monitoring (/healthz, /readyz) and the system page: cameras
and their state, storage and the retention horizon reached, time sync."""

from __future__ import annotations

import shutil
import time

from flask import Blueprint

from firmware.config import MAX_RETENTION_DAYS
from firmware.governance.wording import ALARMS
from firmware.governance.introduction import refusals
from firmware.live.client import recorder_status
from firmware.system.clock import clock_synchronised
from firmware.system.readiness import readiness
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
    """Ready: disk, no storage alarm, cameras allowed, the recorder recording, the clock
    synchronised (system/readiness.py, issue 11 item 7). `storage_alarm` is true when there
    is one."""
    found = readiness(nvr()["cfg"], nvr()["store"])
    return ({"ready": found.ready, "checks": found.checks, "reasons": found.reasons,
             "clock_source": found.clock_source, "alarms": found.alarms,
             "refused": found.refused},
            200 if found.ready else 503)


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
