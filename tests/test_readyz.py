"""Issue 12 item 3: /readyz names the failing check, checks the keys, and tells an anonymous
caller only the verdict and the names of the failing checks (system/readiness.py,
web/system.py). The recorder, the clock and the storage alarm: tests/test_home.py."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, staff, write_config
from test_home import _fake_timedatectl, _readyz
from test_metrics import token_for
from webutil import login

from firmware.config import load
from firmware.web import create_app


def test_readyz_is_not_ready_without_the_master_key_and_names_it(tmp_path, monkeypatch):
    """A key directory that lost the master key (a restore gone wrong): the running recorder
    still has the key in memory, but nothing could be restarted or re-read: not ready, and
    the missing file is named."""
    config = write_config(tmp_path)
    staff(config)
    monkeypatch.setenv("NVR_TIMEDATECTL", str(_fake_timedatectl(tmp_path, "yes")))
    app = create_app(load(config))
    recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run", "--no-web"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    try:
        status, body = _readyz(app, 200)
        assert status == 200 and body["checks"]["keys_present"] is True, body
        master = tmp_path / "keys" / "master.key"
        master.rename(tmp_path / "master.key.aside")
        status, body = _readyz(app, 503, seconds=5)
        assert status == 503, body
        assert body["checks"]["keys_present"] is False
        assert body["failing"] == ["keys_present"]
        assert any(str(master) in why and "ontbreekt" in why for why in body["reasons"]), body
        (tmp_path / "master.key.aside").rename(master)
        status, body = _readyz(app, 200, seconds=5)
        assert status == 200, body
    finally:
        recorder.terminate()
        recorder.wait(30)


def test_a_damaged_master_key_is_named(tmp_path):
    """A master key of the wrong size (a truncated copy). (A damaged logbook key is moved
    aside and replaced by the logbook itself, which records the break: R-50.)"""
    config = write_config(tmp_path)
    staff(config)
    app = create_app(load(config))
    token = token_for(config)
    master = tmp_path / "keys" / "master.key"
    key = master.read_bytes()
    master.write_bytes(key[:5])
    r = app.test_client().get("/readyz", headers={"Authorization": f"Bearer {token}"})
    master.write_bytes(key)
    body = r.get_json()
    assert r.status_code == 503 and body["checks"]["keys_present"] is False, body
    assert any("master.key" in why and "beschadigd" in why for why in body["reasons"]), body


def test_anonymous_callers_get_the_verdict_and_the_failing_checks_only(tmp_path):
    """/readyz stays public for systemd and load balancers, but without the reasons: they
    name cameras, key paths and alarms. A scrape token or a personal account gets them."""
    config = write_config(tmp_path)
    staff(config)
    app = create_app(load(config))
    r = app.test_client().get("/readyz")
    body = r.get_json()
    assert r.status_code == 503                     # no recorder runs here
    assert set(body) == {"ready", "checks", "failing"}, body
    assert "recorder_running" in body["failing"]
    assert '"cam"' not in r.get_data(as_text=True)          # the camera's id
    assert "keys" not in r.get_data(as_text=True).replace("keys_present", "")
    token = token_for(config)
    detail = app.test_client().get("/readyz", headers={"Authorization": f"Bearer {token}"})
    assert any("recorder" in why for why in detail.get_json()["reasons"]), detail.get_json()
    wrong = app.test_client().get("/readyz", headers={"Authorization": "Bearer nvrscrape_no"})
    assert "reasons" not in wrong.get_json()
    assert "reasons" in login(app, "t.admin").get("/readyz").get_json()


def test_a_hung_segment_commit_makes_readyz_not_ready_naming_writes_and_metrics_show_it_issue12_item3(
        tmp_path, monkeypatch):
    """The watchdog's test seam (tests/test_watchdog.py): another process holds the index's
    write lock, so the recorder's next segment commit hangs. Once it has run longer than the
    watchdog's WRITE_BOUND, /readyz fails the check `writes` with the reason, and /metrics says
    nvr_segment_writes_hung 1; when the lock goes, both recover. (After the index's busy
    timeout the commit fails instead and the segment is lost: a storage error, not a hang.)"""
    import sqlite3
    import time

    from test_metrics import scrape
    from test_sealing import hashes_stored
    config = write_config(tmp_path, storage="segment_seconds = 2")
    staff(config)
    token = token_for(config)
    monkeypatch.setenv("NVR_TIMEDATECTL", str(_fake_timedatectl(tmp_path, "yes")))
    app = create_app(load(config))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def readyz_until(test, what: str) -> dict:
        deadline = time.monotonic() + 90
        while True:
            body = client.get("/readyz", headers=headers).get_json()
            if test(body):
                return body
            assert recorder.poll() is None, recorder.communicate()[1][-3000:]
            assert time.monotonic() < deadline, f"{what}; last answer {body}"
            time.sleep(0.3)

    recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run", "--no-web"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    index = None
    try:
        body = readyz_until(lambda b: b["ready"] and hashes_stored(config) > 0,
                            "ready with a segment stored")
        assert body["checks"]["writes"] is True
        assert scrape(app, token)[("nvr_segment_writes_hung",)] == 0
        index = sqlite3.connect(tmp_path / "data" / "index.sqlite3", isolation_level=None)
        index.execute("BEGIN IMMEDIATE")             # the next commit waits on it
        body = readyz_until(lambda b: "writes" in b["failing"], "the check writes failing")
        assert body["ready"] is False and body["checks"]["writes"] is False
        assert any("schrijven" in why and "15 s" in why for why in body["reasons"]), body
        assert scrape(app, token)[("nvr_segment_writes_hung",)] == 1
        index.execute("ROLLBACK")
        index.close()
        index = None
        readyz_until(lambda b: b["checks"]["writes"] is True, "writes recovering")
        assert scrape(app, token)[("nvr_segment_writes_hung",)] == 0
    finally:
        if index is not None:
            index.close()
        recorder.terminate()
        recorder.wait(30)


def test_every_readyz_check_is_in_the_operations_table(tmp_path):
    """docs/operations.md tells the central room what each /readyz check means: every check
    /readyz answers has its row there (the table lacked `untampered`)."""
    config = write_config(tmp_path)
    staff(config)
    body = create_app(load(config)).test_client().get("/readyz").get_json()
    table = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines()
            if line.startswith("| `")}
    assert set(body["checks"]) - rows == set(), sorted(body["checks"])
