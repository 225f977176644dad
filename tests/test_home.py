"""Issue 11 items 5 and 7: the work that waits for each role (governance/worklist.py, the home
page, `nvr work`) and /readyz telling the truth (system/readiness.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PASSWORD, ROOT, make_store, nvr, staff, write_config
from homesite import APPROVED, FRESH, OVERDUE, PENDING, POLICE, waiting_site
from webutil import login

from firmware.config import load
from firmware.web import create_app

NAMES = (OVERDUE, FRESH, APPROVED, POLICE)


def _fake_timedatectl(tmp_path: Path, answer: str) -> Path:
    """The seam of system/clock.py: a `timedatectl` that answers NTPSynchronized=`answer`."""
    script = tmp_path / "timedatectl"
    script.write_text(f"#!/bin/sh\necho {answer}\n")
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    config, ids = waiting_site(tmp_path_factory.mktemp("home"))
    app = create_app(load(config))
    app.config["TESTING"] = True
    return app, config, ids


# --- item 7: /readyz ----------------------------------------------------------------------------

def test_readyz_is_not_ready_while_the_recorder_is_down_and_says_why(tmp_path):
    config = write_config(tmp_path)
    staff(config)
    app = create_app(load(config))
    r = login(app, "t.admin").get("/readyz")
    body = r.get_json()
    assert r.status_code == 503, body
    assert body["checks"]["recorder_running"] is False
    assert any("recorder" in why for why in body["reasons"]), body["reasons"]
    assert app.test_client().get("/healthz").status_code == 200        # liveness stays


def test_readyz_storage_alarm_is_true_when_there_is_an_alarm_R42(tmp_path):
    config = write_config(tmp_path)
    staff(config)
    app = create_app(load(config))
    assert app.test_client().get("/readyz").get_json()["checks"]["storage_alarm"] is False
    make_store(tmp_path).raise_alarm("storage-full", "test: the disk is full")
    body = login(app, "t.admin").get("/readyz").get_json()
    assert body["checks"]["storage_alarm"] is True, body
    assert [a["kind"] for a in body["alarms"]] == ["storage-full"]



def test_a_tamper_alarm_is_named_as_tamper_not_as_storage_R82(tmp_path):
    """A covered camera or an opened case is not a storage alarm: /readyz fails the check
    `untampered` with "sabotagealarm", the worklist says "Sabotagealarm sinds"."""
    config = write_config(tmp_path)
    staff(config)
    app = create_app(load(config))
    store = make_store(tmp_path)
    store.raise_alarm("camera-tamper:cam:dark", "mean luma 3, spread 1")
    store.raise_alarm("case-tamper", "opened")
    body = login(app, "t.admin").get("/readyz").get_json()
    assert body["checks"]["storage_alarm"] is False and body["checks"]["untampered"] is False
    tamper = [why for why in body["reasons"] if why.startswith("sabotagealarm: ")]
    assert len(tamper) == 2, body["reasons"]
    assert not any("opslagalarm" in why for why in body["reasons"]), body["reasons"]
    items = _work(app, "t.admin")
    assert sum(i["kind"] == "tamper-alarm" for i in items) == 2, items
    assert not any(i["kind"] == "storage-alarm" for i in items)
    assert all(i["text"].startswith("Sabotagealarm sinds ") for i in items
               if i["kind"] == "tamper-alarm")

def _readyz(app, want: int, seconds: float = 60) -> dict:
    """Ask /readyz until it answers `want` (the recorder needs a moment to start), as t.admin:
    the reasons are not for anonymous callers (issue 12)."""
    deadline = time.monotonic() + seconds
    c = login(app, "t.admin")
    while True:
        r = c.get("/readyz")
        if r.status_code == want or time.monotonic() > deadline:
            return r.status_code, r.get_json()
        time.sleep(0.5)


def test_readyz_follows_the_running_recorder_and_the_clock_state(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    staff(config)
    clock = _fake_timedatectl(tmp_path, "yes")
    monkeypatch.setenv("NVR_TIMEDATECTL", str(clock))
    app = create_app(load(config))
    recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run", "--no-web"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    try:
        status, body = _readyz(app, 200)
        assert status == 200, body
        assert body["checks"] == {"disk_below_high_water": True, "storage_alarm": False,
                                  "cameras_may_record": True, "recorder_running": True,
                                  "clock_synchronised": True, "keys_present": True,
                                  "untampered": True, "writes": True}
        assert body["clock_source"] == "timedatectl"
        _fake_timedatectl(tmp_path, "no")                 # NTP lost
        r = login(app, "t.admin").get("/readyz")
        assert r.status_code == 503 and r.get_json()["checks"]["clock_synchronised"] is False
        assert any("klok" in why for why in r.get_json()["reasons"]), r.get_json()
        _fake_timedatectl(tmp_path, "yes")
    finally:
        recorder.terminate()
        recorder.wait(30)
    status, body = _readyz(app, 503)
    assert status == 503 and body["checks"]["recorder_running"] is False, body


def test_a_stalled_or_stopped_camera_is_a_recorder_problem(tmp_path):
    """The recorder's own status (as `?status` on its socket answers it): a camera whose last
    frame is older than HEARTBEAT_SECONDS, or that stopped, makes the device not ready."""
    from firmware.system.readiness import HEARTBEAT_SECONDS, recorder_problems
    cfg = load(write_config(tmp_path))
    now = time.time()
    assert recorder_problems(cfg, {}, now, {"cam": {"state": "recording",
                                                    "last_frame": now - 1}}) == []
    stalled = recorder_problems(cfg, {}, now, {"cam": {
        "state": "recording", "last_frame": now - HEARTBEAT_SECONDS - 5}})
    assert len(stalled) == 1 and "cam" in stalled[0] and str(HEARTBEAT_SECONDS) in stalled[0]
    stopped = recorder_problems(cfg, {}, now, {"cam": {"state": "stopped",
                                                       "why": "camera unplugged"}})
    assert len(stopped) == 1 and "camera unplugged" in stopped[0]
    assert "does not answer" in recorder_problems(cfg, {}, now, None)[0]


def test_clock_state_falls_back_to_the_kernel_without_timedatectl(monkeypatch, tmp_path):
    from firmware.system.clock import clock_state, clock_synchronised
    monkeypatch.setenv("NVR_TIMEDATECTL", str(tmp_path / "absent"))
    state = clock_state()
    assert state.source in ("kernel", "systemd-timesyncd")
    if state.source == "kernel":
        assert state.synchronised == clock_synchronised()


# --- item 5: the work that waits ----------------------------------------------------------------

def _work(app, name: str) -> list[dict]:
    c = login(app, name)
    r = c.get("/api/work")
    assert r.status_code == 200, r.data
    return r.get_json()["items"]


def test_manager_decides_overdue_first_and_approves_the_pending_account_R72(work):
    app, _, ids = work
    items = _work(app, "m.manager")
    decide = [i for i in items if i["kind"] == "decide"]
    assert [i["subject"] for i in decide][:2] == [f"request {ids['overdue']}",
                                                  f"request {ids['fresh']}"], items
    assert decide[0]["overdue"] is True and decide[1]["overdue"] is False
    assert items[0]["overdue"] is True                     # overdue first of all work
    assert any(i["kind"] == "approve-account" and PENDING in i["text"] for i in items)
    assert all(i["link"].startswith("/") for i in items)


def test_beheerder_checks_identities_and_sees_the_lapsing_hold_and_the_alarm(work):
    app, _, ids = work
    items = _work(app, "b.beheerder")
    kinds = {(i["kind"], i["subject"]) for i in items}
    assert ("identity", f"request {ids['art9']}") in kinds            # art. 9 lid 3
    assert ("identity", f"request {ids['approved']}") in kinds        # art. 10 lid 4
    assert ("hold-lapses", f"hold {ids['hold']}") in kinds
    assert any(i["kind"] == "storage-alarm" for i in items)
    assert not any(i["kind"] == "decide" for i in items)               # the manager's


def test_privacy_officer_and_fg_are_asked_for_advice_art12(work):
    app, _, ids = work
    for name in ("p.officer", "d.dpo"):
        items = _work(app, name)
        assert ("advice", f"question {ids['question']}") in {(i["kind"], i["subject"])
                                                             for i in items}, (name, items)
    fg = _work(app, "d.dpo")
    assert any(i["kind"] == "overdue" and OVERDUE in i["text"] for i in fg)


def test_technisch_beheerder_sees_no_requester_and_no_footage_R11(work):
    app, _, _ = work
    items = _work(app, "t.admin")
    assert any(i["kind"] == "storage-alarm" for i in items)
    assert any(i["kind"] == "recorder-down" for i in items)
    text = json.dumps(items, ensure_ascii=False)
    c = login(app, "t.admin")
    page = c.get("/").get_data(as_text=True)
    for name in NAMES:
        assert name not in text and name not in page, name
    assert 'href="/cameras/' not in page and 'href="/live' not in page   # no footage links


def test_every_item_links_to_a_page_of_the_web(work):
    app, _, _ = work
    routes = app.url_map.bind("localhost")
    for name in ("b.beheerder", "p.officer", "m.manager", "d.dpo", "t.admin"):
        work_of = login(app, name).get("/api/work").get_json()
        for item in work_of["items"] + work_of["requests"]:
            endpoint, _args = routes.match(item["link"], method="GET")   # raises if none
            assert not endpoint.split(".")[-1].startswith("api"), item


def test_home_page_keeps_the_cameras_for_roles_that_may_watch(work):
    app, _, _ = work
    page = login(app, "b.beheerder").get("/").get_data(as_text=True)
    assert "/cameras/cam/live" in page and "Testcamera" in page
    assert "Wat op u wacht" in page


def test_a_visit_sees_its_cameras_and_no_work_art5_lid4(work):
    from webutil import api

    from firmware.governance.service import Governance
    app, config, _ = work
    gov = Governance.open(load(config))
    now = time.time()
    visit = gov.grants.open_visit(gov.login("b.beheerder", PASSWORD), visitor="R. Agent",
                                  organisation="Politie", identity="dienstpas, eindigend op 12",
                                  legal_basis="126nda", reason="aangifte vernieling",
                                  cameras={"cam"}, start=now - 3600, end=now - 600, minutes=30)
    gov.close()
    c = login(app, "b.beheerder")
    assert api(c, "POST", f"/api/visits/{visit}/start").status_code == 200
    assert c.get("/api/work").get_json() == {"items": [], "requests": []}
    page = c.get("/").get_data(as_text=True)
    assert "Testcamera" in page and "Wat op u wacht" not in page
    for name in NAMES:
        assert name not in page


def test_cli_work_lists_the_same_items_overdue_first(work):
    _, config, ids = work
    env = {**os.environ, "NVR_PASSWORD": PASSWORD}
    result = nvr("--config", str(config), "work", "--user", "m.manager", "--json", env=env)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert items[0]["subject"] == f"request {ids['overdue']}" and items[0]["overdue"] is True
    text = nvr("--config", str(config), "work", "--user", "t.admin", env=env)
    assert text.returncode == 0, text.stderr
    assert "storage" in text.stdout.lower()
    for name in NAMES:
        assert name not in text.stdout


def test_a_hung_segment_write_is_work_for_the_technisch_beheerder_issue12():
    """/readyz's check `writes` (a segment write or index commit hanging) reaches the work
    list as its own item, linked to the system page."""
    from types import SimpleNamespace

    from firmware.governance.worklist import _system
    why = "camera hal: een segment wordt al 40 s niet weggeschreven"
    desk = SimpleNamespace(readiness=SimpleNamespace(problems={"writes": [why]}))
    [item] = _system(desk)
    assert (item.kind, item.text, item.link) == ("writes-hung", why, "/system")
