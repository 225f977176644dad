"""Health for the central room's monitoring: /healthz (alive) and /readyz (can record)."""

from __future__ import annotations

from flask import Blueprint

from firmware.system.clock import clock_synchronised
from firmware.web.routes import PUBLIC, nvr, rule

bp = Blueprint("system", __name__)


@bp.route("/healthz")
@rule(PUBLIC)
def healthz():
    return {"status": "alive"}


@bp.route("/readyz")
@rule(PUBLIC)
def readyz():
    store = nvr()["store"]
    checks = {"disk_below_high_water": store.disk_used() <= store.high_water,
              "storage_alarm": store.alarm is None,
              "clock_synchronised": clock_synchronised()}
    ready = checks["disk_below_high_water"] and checks["storage_alarm"]
    return {"ready": ready, "checks": checks}, 200 if ready else 503
