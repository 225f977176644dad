"""Red team of issue 12: what an anonymous caller on the network can make /readyz do
(firmware/web/system.py, firmware/system/readiness.py).

/readyz is public (a load balancer, systemd). Each anonymous call used to start
`timedatectl` (a process, and a D-Bus call to systemd-timedated) and connect to the
recorder's socket: anyone on the network could make the device fork as fast as it could
send, on the board that records. Written first; it failed on that code."""

from __future__ import annotations

import time

from conftest import make_store, staff, write_config
from test_metrics import token_for
from webutil import login

from firmware.config import load
from firmware.web import create_app
from firmware.web import system

# how old an anonymous caller's verdict may be (5 s where the code before had none)
ANONYMOUS_MAX_AGE = getattr(system, "ANONYMOUS_MAX_AGE", 5.0)


def _counting_timedatectl(tmp_path):
    """The seam of system/clock.py: a `timedatectl` that answers "yes" and counts its runs."""
    runs = tmp_path / "timedatectl-runs"
    script = tmp_path / "timedatectl"
    script.write_text(f"#!/bin/sh\necho run >> {runs}\necho yes\n")
    script.chmod(0o755)
    return script, runs


def _runs(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_anonymous_readyz_flood_starts_no_process_per_request(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    staff(config)
    script, runs = _counting_timedatectl(tmp_path)
    monkeypatch.setenv("NVR_TIMEDATECTL", str(script))
    app = create_app(load(config))
    anonymous = app.test_client()
    n = 20
    started = time.monotonic()
    for _ in range(n):
        r = anonymous.get("/readyz")
        assert r.status_code == 503                        # the recorder is not running
        assert "reasons" not in r.get_json()               # the verdict only
    elapsed = time.monotonic() - started
    # at most one fresh answer per ANONYMOUS_MAX_AGE, however many requests came
    allowed = 1 + int(elapsed // ANONYMOUS_MAX_AGE) + 1
    assert _runs(runs) <= allowed, (
        f"{n} anonymous /readyz in {elapsed:.1f} s started timedatectl {_runs(runs)} times")


def test_a_scraper_and_a_signed_in_account_still_get_a_fresh_answer(tmp_path, monkeypatch):
    """The cache is for anonymous callers only: the central room's token and a person see an
    alarm raised a moment ago at once."""
    config = write_config(tmp_path)
    staff(config)
    script, runs = _counting_timedatectl(tmp_path)
    monkeypatch.setenv("NVR_TIMEDATECTL", str(script))
    app = create_app(load(config))
    anonymous = app.test_client()
    assert anonymous.get("/readyz").get_json()["checks"]["untampered"] is True
    make_store(tmp_path).raise_alarm("case-tamper", "opened")
    token = token_for(config)
    r = app.test_client().get("/readyz", headers={"Authorization": f"Bearer {token}"})
    assert r.get_json()["checks"]["untampered"] is False, r.get_json()
    assert login(app, "t.admin").get("/readyz").get_json()["checks"]["untampered"] is False
