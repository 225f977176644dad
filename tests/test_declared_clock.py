"""Erasing by a clock declared right by hand (R-40, R-50; red team 14c, adminfix).

`nvr retention run --clock-checked` erases by a clock far ahead of the index and not
synchronised. What that destroys cannot come back, so the usage logbook gets who declared the
clock right, the clock, the index's time and the slots whose keys go, before any key is
destroyed (firmware/governance/clockcheck.py); with --user the account must hold R-11's system
configuration (the technisch beheerder). Real `nvr` subprocesses under faketime, real SQLite.
"""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import staff
from test_store import ROOT, busy_video, device, ingest, now_utc  # noqa: F401 (fixture)

from firmware.config import load
from firmware.storage.sharing import both_write
from firmware.system.clock import clock_synchronised

pytestmark = pytest.mark.skipif(
    clock_synchronised(), reason="this host's clock is synchronised (adjtimex): the store "
    "trusts it however far ahead it is, so a clock declared right cannot be shown")


def _usage(config: Path) -> list[dict]:
    db = sqlite3.connect(load(config).storage.data_dir / "index.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(
            "SELECT actor, action, subject, details FROM logbook WHERE book = 'usage' "
            "ORDER BY n")]
    finally:
        db.close()


def _slot_keys(config: Path) -> int:
    db = sqlite3.connect(load(config).storage.data_dir / "index.sqlite3")
    try:
        return db.execute("SELECT count(*) FROM slot_keys WHERE wrapped IS NOT NULL").fetchone()[0]
    finally:
        db.close()


def _run_ahead(config: Path, *args: str, env: dict | None = None):
    """`nvr retention run --json ARGS` in a process whose clock is 10 days ahead."""
    return subprocess.run(["faketime", "-f", "+10d", sys.executable, "-m", "firmware.cli",
                           "--config", str(config), "retention", "run", "--json", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)


@pytest.fixture
def old_footage(tmp_path, busy_video):  # noqa: F811
    """Footage recorded 20 days ago: 30 days old by a clock 10 days ahead."""
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(days=20), clock="-20d")
    return config, staff(config)


def test_the_technisch_beheerder_declares_the_clock_logged_before_the_keys_go_R40_R50(
        old_footage):
    config, env = old_footage
    keys = _slot_keys(config)
    assert keys >= 1
    refused = _run_ahead(config, env=env)              # undeclared: the index's time rules
    assert json.loads(refused.stdout)["segments_erased"] == [], refused.stdout
    assert "--clock-checked --user NAME" in refused.stderr
    ran = _run_ahead(config, "--clock-checked", "--user", "t.admin", env=env)
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["segments_erased"] and len(report["slots_destroyed"]) == keys
    entry = [e for e in _usage(config) if e["action"] == "retention-clock-checked"]
    assert len(entry) == 1 and entry[0]["actor"] == "t.admin", entry
    details = json.loads(entry[0]["details"])
    assert details["slots"] == report["slots_destroyed"]
    assert details["personal_account"] is True and details["clock_synchronised"] is False
    assert "ahead" in details["distrusted"]
    assert details["clock"] > details["index_time"]          # both ISO 8601 UTC


def test_a_role_without_system_configuration_may_not_declare_the_clock_R11(old_footage):
    config, env = old_footage
    keys = _slot_keys(config)
    for name in ("b.beheerder", "m.manager"):
        ran = _run_ahead(config, "--clock-checked", "--user", name, env=env)
        assert ran.returncode == 1 and "R-11" in ran.stderr, ran.stderr
        assert "Traceback" not in ran.stderr
    assert _slot_keys(config) == keys
    usage = _usage(config)
    assert not any(e["action"] == "retention-clock-checked" for e in usage)
    assert [e["actor"] for e in usage if e["action"] == "refused"] == ["b.beheerder",
                                                                     "m.manager"]


def test_an_empty_user_is_no_account_and_erases_nothing(old_footage):
    """nvr-admin's has_user passes `--user ''`; nvr takes it for no account at all."""
    config, env = old_footage
    keys = _slot_keys(config)
    ran = _run_ahead(config, "--clock-checked", "--user", "", env=env)
    assert ran.returncode == 1 and "--user NAME" in ran.stderr, ran.stderr
    assert _slot_keys(config) == keys


def test_root_without_an_account_is_logged_by_its_os_account(old_footage):
    config, _env = old_footage
    ran = _run_ahead(config, "--clock-checked")
    assert ran.returncode == 0, ran.stderr
    entry = [e for e in _usage(config) if e["action"] == "retention-clock-checked"]
    assert [e["actor"] for e in entry] == [pwd.getpwuid(os.geteuid()).pw_name]
    assert json.loads(entry[0]["details"])["personal_account"] is False


def test_a_logbook_that_takes_no_entry_erases_nothing_R50(old_footage):
    """The declaration is written before any key is destroyed: when the usage logbook's signed
    head cannot be written, the sweep stops with a message and every key is still there."""
    config, env = old_footage
    keys = _slot_keys(config)
    head = both_write(load(config).storage.key_dir) / "logbook-usage.signed-head"
    head.unlink(missing_ok=True)
    head.mkdir()                                       # root writes anywhere: not a file
    try:
        ran = _run_ahead(config, "--clock-checked", env=env)
    finally:
        head.rmdir()
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "did not take the declaration" in ran.stderr and "Traceback" not in ran.stderr
    assert _slot_keys(config) == keys


def test_user_goes_only_with_clock_checked(old_footage):
    config, env = old_footage
    ran = _run_ahead(config, "--user", "t.admin", env=env)
    assert ran.returncode == 1 and "--clock-checked" in ran.stderr, ran.stderr
