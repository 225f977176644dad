"""Issue 10, procedures item 5 and item 7 (configuration): the introduction's DPIA, the works
council of art. 11, the signs of art. 6 lid 3, and every configuration change in the usage
logbook with its old and new value (art. 7 lid 2, R-50)."""

from __future__ import annotations

import signal
import subprocess
import sys
import tomllib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from firmware.config import load
from firmware.governance.roles import Role
from firmware.governance.service import Governance

from conftest import INTRODUCTION, PASSWORD, ROOT, add_accounts, nvr, staff, write_config
from test_documents import pdf_text

TODAY = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
LATER = (TODAY + timedelta(days=30)).isoformat()


def no_footage(tmp_path) -> bool:
    return not any((tmp_path / "data").rglob("*.seg"))


def run_refused(config) -> subprocess.CompletedProcess:
    result = nvr("--config", str(config), "run", "--no-web", timeout=60)
    assert result.returncode == 1, (result.stdout, result.stderr)
    return result


# --- recording waits for the DPIA (introduction) and the works council (art. 11) ------------

def test_introduction_run_refused_without_dpia(tmp_path):
    config = write_config(tmp_path, introduction="")
    result = run_refused(config)
    assert "no camera may record" in result.stderr
    assert "names no DPIA" in result.stderr and "[introduction] dpia_reference" in result.stderr
    assert no_footage(tmp_path)


def test_introduction_run_refused_with_dpia_dated_in_the_future(tmp_path):
    config = write_config(tmp_path, introduction=INTRODUCTION.replace("2026-03-02", LATER))
    result = run_refused(config)
    assert f"DPIA is dated {LATER}" in result.stderr and "in the future" in result.stderr
    assert no_footage(tmp_path)


def test_introduction_ingest_refused_without_dpia(tmp_path):
    config = write_config(tmp_path, introduction="")
    result = nvr("--config", str(config), "ingest", str(config), "--camera", "cam")
    assert result.returncode == 2
    assert "names no DPIA" in result.stderr
    assert no_footage(tmp_path)


def test_art11_run_refused_with_staff_in_view_and_no_works_council(tmp_path):
    config = write_config(tmp_path, camera_extra="staff_in_view = true")
    result = run_refused(config)
    assert "staff in view and no works-council" in result.stderr
    assert "art. 11" in result.stderr and "works_council_reference" in result.stderr
    assert no_footage(tmp_path)


def test_art11_run_refused_with_works_council_dated_in_the_future(tmp_path):
    config = write_config(tmp_path, camera_extra=(
        f"staff_in_view = true\nworks_council_reference = 'OR-2026-04'\n"
        f"works_council_date = '{LATER}'"))
    result = run_refused(config)
    assert f"works-council approval is dated {LATER}" in result.stderr
    assert no_footage(tmp_path)


def test_art11_staff_in_view_has_no_silent_default(tmp_path):
    config = write_config(tmp_path)
    text = config.read_text().replace("staff_in_view = false\n", "")
    config.write_text(text)
    result = nvr("--config", str(config), "config", "check")
    assert result.returncode == 2
    assert "cameras[0].staff_in_view: missing" in result.stderr
    assert "works council" in result.stderr


def test_introduction_readyz_and_system_page_say_why_nothing_records(tmp_path):
    from webutil import login

    from firmware.web import create_app
    config = write_config(tmp_path, introduction="")
    staff(config)
    app = create_app(load(config))
    ready = login(app, "t.admin").get("/readyz")      # the reasons: not for anonymous callers
    body = ready.get_json()
    assert ready.status_code == 503, body
    assert body["checks"]["cameras_may_record"] is False
    assert "geen DPIA" in body["refused"]["cam"]
    page = login(app, "t.admin").get("/system").get_data(as_text=True)
    assert "geen DPIA vastgelegd" in page and "voordat de camera" in page


def test_introduction_config_check_warns_when_no_sign_is_recorded(tmp_path):
    config = write_config(tmp_path, introduction=INTRODUCTION.replace(
        'signage = ["hoofdingang", "ingang Raadhuisplein"]', "signage = []"))
    result = nvr("--config", str(config), "config", "check")
    assert result.returncode == 0, result.stderr
    assert "signage" in result.stdout and "art. 6 lid 3" in result.stdout


# --- nvr init asks -----------------------------------------------------------------------------

def _init(target, *flags, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", "init", str(target), *flags],
                          input=stdin if stdin is not None else "", capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_init_non_interactive_takes_staff_in_view_and_dpia_from_flags(tmp_path):
    result = _init(tmp_path / "dev", "--staff-in-view", "no", "--dpia-reference", "DPIA-2026-07",
                   "--dpia-date", "2026-03-02", "--signage", "hoofdingang",
                   "--signage", "ingang Raadhuisplein")
    assert result.returncode == 0, result.stderr
    assert "?" not in result.stdout                       # nothing was asked
    raw = tomllib.loads((tmp_path / "dev" / "nvr.toml").read_text())
    assert raw["cameras"][0]["staff_in_view"] is False
    assert raw["introduction"] == {"dpia_reference": "DPIA-2026-07", "dpia_date": "2026-03-02",
                                   "signage": ["hoofdingang", "ingang Raadhuisplein"]}
    assert nvr("--config", str(tmp_path / "dev" / "nvr.toml"), "config", "check").returncode == 0


def test_init_interactive_asks_for_staff_in_view_and_the_works_council(tmp_path):
    answers = ("DPIA-2026-07\n2026-03-02\nhoofdingang, ingang Raadhuisplein\n"
               "ja\nOR-2026-04\n2026-03-31\n")
    result = _init(tmp_path / "dev", stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "staff at work in view" in result.stdout and "works council" in result.stdout
    raw = tomllib.loads((tmp_path / "dev" / "nvr.toml").read_text())
    cam = raw["cameras"][0]
    assert cam["staff_in_view"] is True
    assert (cam["works_council_reference"], cam["works_council_date"]) == ("OR-2026-04",
                                                                          "2026-03-31")
    assert raw["introduction"]["signage"] == ["hoofdingang", "ingang Raadhuisplein"]


def test_init_without_an_answer_for_staff_in_view_writes_nothing(tmp_path):
    result = _init(tmp_path / "dev", "--dpia-reference", "DPIA-1", "--dpia-date", "2026-03-02",
                   "--signage", "hoofdingang", stdin="")
    assert result.returncode == 2
    assert "--staff-in-view" in result.stderr
    assert not (tmp_path / "dev" / "nvr.toml").exists()


# --- art. 7 lid 2: configuration changes in the usage logbook ---------------------------------

def _start_web(config) -> list[str]:
    """One real start of `nvr web` (it compares the configuration at start), then stop it."""
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "web"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    lines = []
    try:
        while not (lines and lines[-1].startswith("web interface:")):
            lines.append(proc.stdout.readline())
            if not lines[-1]:                               # it ended
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert lines[-1].startswith("web interface:"), (lines, proc.stderr.read())
    return lines


def _config_entries(config) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [e for e in gov.logbook.entries("usage")
                if e["action"] in ("config-recorded", "config-change")]
    finally:
        gov.close()


def test_art7_lid2_config_change_between_two_starts_is_logged_with_old_and_new(tmp_path):
    import json
    config = write_config(tmp_path)
    _start_web(config)
    first = _config_entries(config)
    assert [e["action"] for e in first] == ["config-recorded"]
    _start_web(config)                                     # nothing changed: nothing new
    assert len(_config_entries(config)) == 1
    text = config.read_text()
    text = text.replace('key_dir = "keys"', 'key_dir = "keys"\nretention_days = 14')
    text = text.replace("staff_in_view = false", "staff_in_view = false\n"
                        "privacy_masks = [[[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]]")
    text = text.replace("DPIA-2026-07", "DPIA-2026-07 v2")
    config.write_text(text)
    said = _start_web(config)
    assert "configuration changed since the last start" in said[0]
    changes = {e["subject"]: json.loads(e["details"]) for e in _config_entries(config)
               if e["action"] == "config-change"}
    assert set(changes) == {"storage.retention_days", "cameras.cam.privacy_masks",
                            "introduction.dpia_reference"}, changes
    assert (changes["storage.retention_days"]["old"],
            changes["storage.retention_days"]["new"]) == (28, 14)
    assert changes["cameras.cam.privacy_masks"]["old"] == []
    assert changes["cameras.cam.privacy_masks"]["new"] == [[[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]]
    assert changes["introduction.dpia_reference"] == {
        **changes["introduction.dpia_reference"], "old": "DPIA-2026-07",
        "new": "DPIA-2026-07 v2"}
    detail = changes["storage.retention_days"]
    assert detail["file"] == str(config) and detail["noticed_by"] == "nvr web"
    assert detail["file_owner"] and detail["os_user"]
    assert detail["file_modified"].endswith(("+01:00", "+02:00"))      # local, with the zone


def test_art7_lid2_secrets_never_reach_the_log(tmp_path):
    """A key that names a secret is kept as a keyed hash (key in the key directory), so its
    change is noticed and logged without its value."""
    from firmware.governance.configlog import changes, public_values
    gov = Governance.open(load(write_config(tmp_path)))
    mac = gov.logbook.signer.mac                        # the logbook key, in the key directory
    old = public_values({"web": {"client_password": "hunter2 hunter2", "port": 0}}, mac)
    new = public_values({"web": {"client_password": "correct horse", "port": 0}}, mac)
    gov.close()
    assert "hunter2" not in str(old) and "correct horse" not in str(new)
    found = changes(old, new)
    assert [c["key"] for c in found] == ["web.client_password"]
    assert (found[0]["old"], found[0]["new"]) == ("(geheim)", "(geheim, gewijzigd)")


def test_art7_lid2_account_changes_log_old_and_new_value(tmp_path):
    import json
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        manager = gov.accounts.authenticate("m.manager", PASSWORD).actor()
        add_accounts(gov, {"x.user": Role.BEHEERDER})
        gov.accounts.set_role("x.user", Role.PRIVACY_OFFICER, by=admin)
        gov.accounts.approve("x.user", role=Role.PRIVACY_OFFICER, by=manager)
        code = gov.accounts.issue_reset_code("x.user", by=admin)
        gov.accounts.reset_password("x.user", code, "another long pass phrase 7")
        gov.accounts.disable("x.user", by=admin, reason="uit dienst getreden")
        found = {e["action"]: json.loads(e["details"]) for e in gov.logbook.entries("usage")
                 if e["subject"] == "x.user"}
    finally:
        gov.close()
    assert (found["user-role"]["old"], found["user-role"]["new"]) == (
        {"role": "beheerder", "status": "actief"},
        {"role": "privacy-officer", "status": "wacht op goedkeuring"})
    assert (found["user-approve"]["old"], found["user-approve"]["new"]) == (
        {"status": "wacht op goedkeuring"}, {"status": "actief"})
    assert (found["user-reset"]["old"], found["user-reset"]["new"]) == (
        {"status": "actief"}, {"status": "wacht op goedkeuring"})
    assert (found["user-disable"]["old"], found["user-disable"]["new"]) == (
        {"status": "wacht op goedkeuring"}, {"status": "uitgeschakeld"})


# --- the report (R-83) lists DPIA, works council and signs ------------------------------------

def test_report_lists_dpia_works_council_and_signage_R83(tmp_path):
    config = write_config(tmp_path, camera_extra=(
        "staff_in_view = true\nworks_council_reference = 'OR-2026-04'\n"
        "works_council_date = '2026-03-31'"))
    env = staff(config)
    gov = Governance.open(load(config))
    add_accounts(gov, {"d.dpo": Role.DPO})
    gov.close()
    out = tmp_path / "rapport.pdf"
    result = nvr("--config", str(config), "report", "--from",
                 (TODAY - timedelta(days=1)).isoformat(), "--to", TODAY.isoformat(),
                 "--out", str(out), "--user", "d.dpo", env=env)
    assert result.returncode == 0, result.stderr
    text = " ".join(pdf_text(out).split())
    for expected in ("Invoering", "DPIA", "DPIA-2026-07", "02-03-2026",
                     "Ondernemingsraad (artikel 11)", "OR-2026-04", "31-03-2026",
                     "Borden cameratoezicht (artikel 6 lid 3)", "hoofdingang",
                     "ingang Raadhuisplein"):
        assert expected in text, (expected, text)


def test_report_data_keys_for_the_paperwork(tmp_path):
    from firmware.governance.report import report_data
    from conftest import make_store
    config = write_config(tmp_path, camera_extra="staff_in_view = true")
    cfg = load(config)
    gov = Governance.open(cfg)
    try:
        data = report_data(cfg, make_store(tmp_path), gov, 0, 1)
    finally:
        gov.close()
    assert data["dpia"] == {"reference": "DPIA-2026-07", "date": "2026-03-02",
                            "date_text": "02-03-2026", "refused": ""}
    assert data["works_council"] == [{"camera": "cam", "name": "Testcamera",
                                      "location": "Gemeentehuis Soest, testgang",
                                      "reference": "", "date": "", "date_text": "",
                                      "refused": data["works_council"][0]["refused"]}]
    assert "ondernemingsraad" in data["works_council"][0]["refused"]
    assert data["signage"] == ["hoofdingang", "ingang Raadhuisplein"]


def test_art7_lid2_a_device_from_before_the_configlog_gets_its_table_and_one_record(tmp_path):
    """An index made before configlog (accounts, logbook entries, no config_snapshots): the
    first start records the configuration once, after the entries already there."""
    import sqlite3
    from contextlib import closing

    from firmware.governance.configlog import record_changes
    config = write_config(tmp_path)
    staff(config)                                   # an existing device's index and logbook
    with closing(sqlite3.connect(tmp_path / "data" / "index.sqlite3")) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'config_snapshots'"
                          ).fetchone() is None
    cfg = load(config)
    gov = Governance.open(cfg)
    try:
        before = len(gov.logbook.entries("usage"))
        assert record_changes(gov, cfg, "nvr run") == []
        entries = gov.logbook.entries("usage")
        assert [e["action"] for e in entries[before:]] == ["config-recorded"]
        assert record_changes(gov, cfg, "nvr web") == []          # the same: nothing new
        assert len(gov.logbook.entries("usage")) == before + 1
        assert gov.logbook.verify().ok
    finally:
        gov.close()
