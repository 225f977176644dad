"""Live for a control room (issue 11 item 2), at the server: the grid's reason is asked once
and logged once (R-01, R-51), and /live/status tells each tile why it has no picture: access
expired, recorder not reachable, camera gives no picture. Against a real recorder process
(`nvr run --no-web`) with two cameras: a synthetic one and a file camera whose clip ends."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import ROOT, render_scene, staff, write_config

from firmware.capture.synthetic import Mover, Scene
from firmware.config import load
from firmware.governance.service import Governance

# A second camera: a two-second clip that does not loop, so it stops giving a picture.
DOOR = """
[[cameras]]
id = "door"
name = "Deur"
location = "Gemeentehuis Soest, achterdeur"
source = "file"
path = "{path}"
loop = false
width = 320
height = 240
fps = 25
lores_width = 320
lores_height = 240
staff_in_view = false
"""


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


@pytest.fixture(scope="module")
def recorder(tmp_path_factory):
    """`nvr run --no-web` with cameras cam (synthetic) and door (a clip that ends), and the web
    app in this process; yields (app, config, process)."""
    from firmware.web import create_app
    tmp = tmp_path_factory.mktemp("livestatus")
    scene = Scene(320, 240, 25, [Mover(1, 7, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2,
                  clock=False)
    render_scene(scene, 25 * 2, tmp / "door.mp4")
    config = write_config(tmp, extra=DOOR.format(path=tmp / "door.mp4"))
    staff(config)
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "run", "--no-web"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    cfg = load(config)
    assert wait_for(lambda: cfg.live_socket.is_socket()), "the recorder made no live socket"
    app = create_app(cfg)
    app.config["TESTING"] = True
    yield app, config, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(20)


def grid_client(app, reason="controle centrale ruimte"):
    from webutil import login
    c = login(app, "b.beheerder")
    with c.session_transaction() as s:
        csrf = s["csrf"]
    r = c.post("/live/access", data={"csrf": csrf, "purpose": "safety", "reason": reason,
                                     "back": "/live"})
    assert r.status_code == 302, r.data
    return c


def states(c, *cameras):
    query = "&".join(f"camera={cam}" for cam in cameras)
    r = c.get(f"/live/status?{query}")
    assert r.status_code == 200, (r.status_code, r.data[:200])
    return {cam: v["state"] for cam, v in r.get_json()["cameras"].items()}


def live_entries(config, reason):
    gov = Governance.open(load(config))
    try:
        return [e for e in gov.logbook.entries("inzien")
                if e["action"] == "live" and e["reason"] == reason]
    finally:
        gov.close()


def test_one_reason_for_the_grid_is_one_logbook_entry_naming_every_camera_R01_R51(recorder):
    app, config, _ = recorder
    c = grid_client(app, "een reden voor het hele overzicht")
    entries = live_entries(config, "een reden voor het hele overzicht")
    assert len(entries) == 1, entries
    page = c.get("/live")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="reason"' not in html                           # not asked per tile
    assert html.count('class="tile"') == 2
    c.get("/live")                                               # a reload asks nothing
    assert 'name="reason"' not in c.get("/cameras/door/live").get_data(as_text=True)
    assert len(live_entries(config, "een reden voor het hele overzicht")) == 1
    details = entries[0]["details"]
    details = details if isinstance(details, dict) else __import__("json").loads(details)
    assert details["cameras"] == ["cam", "door"]


def test_status_says_live_for_a_camera_with_frames_and_lost_for_one_without(recorder):
    app, _, _ = recorder
    c = grid_client(app)
    assert wait_for(lambda: states(c, "cam", "door")["cam"] == "live")
    # door's two-second clip has ended: its worker stopped, the recorder still answers
    assert wait_for(lambda: states(c, "cam", "door") == {"cam": "live",
                                                          "door": "camera-lost"})


def test_status_says_expired_when_the_grant_lapses_R01(recorder):
    app, _, _ = recorder
    c = grid_client(app)
    assert wait_for(lambda: states(c, "cam")["cam"] == "live")
    with c.session_transaction() as s:                  # the 30 minutes have passed
        s["grants"] = {k: time.time() - 1 for k in s["grants"]}
    assert states(c, "cam", "door") == {"cam": "expired", "door": "expired"}
    assert c.get("/cameras/cam/live.mjpeg").status_code == 428      # and no stream
    assert 'name="reason"' in c.get("/live").get_data(as_text=True)  # the grid asks again


def test_the_page_carries_each_state_in_dutch_for_the_script(recorder):
    app, _, _ = recorder
    html = grid_client(app).get("/live").get_data(as_text=True)
    for state, words in (("expired", "Toegang verlopen"), ("session-ended", "Opnieuw aanmelden"),
                         ("recorder-down", "Recorder niet bereikbaar"),
                         ("camera-lost", "Camera geeft geen beeld")):
        block = html.split(f'data-state="{state}">', 1)[1].split("</div>", 1)[0]
        assert words in block, state
    assert "<script>" not in html and 'src="/static/live.js"' in html          # CSP 'self'


def test_status_of_an_ended_session_is_the_login_redirect_and_polling_is_no_activity_R81(
        recorder):
    app, config, _ = recorder
    c = grid_client(app)
    gov = Governance.open(load(config))
    gov.accounts.db.execute("UPDATE sessions SET seen = seen - 600")     # 10 min idle
    seen = gov.accounts.db.execute("SELECT max(seen) FROM sessions").fetchone()[0]
    for _ in range(3):
        assert c.get("/live/status").status_code == 200
    assert gov.accounts.db.execute("SELECT max(seen) FROM sessions").fetchone()[0] == seen
    gov.accounts.db.execute("UPDATE sessions SET seen = seen - 600")     # 20 min: idled out
    gov.close()
    r = c.get("/live/status")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_status_says_recorder_down_when_the_recorder_stops(recorder):
    """Last in this module: it stops the recorder."""
    app, _, proc = recorder
    c = grid_client(app)
    assert wait_for(lambda: states(c, "cam")["cam"] == "live")
    proc.terminate()
    proc.wait(20)
    assert states(c, "cam", "door") == {"cam": "recorder-down", "door": "recorder-down"}
    assert c.get("/cameras/cam/live.mjpeg").status_code == 503
