"""Red team 13c: an export that a process did not live to finish, seen in the web.

Findings:
8. An export process killed mid-write (the web interface restarted, a power cut, `nvr export
   create` killed) after the export's row was inserted and before the package was recorded
   leaves that row with no files and no package (`archive` {}). The list of exports ("Export")
   then fails for everyone (500: the template reads the package's SHA-256 from every row),
   and the export can be handed over (its declaration printed) although no package exists.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, staff
from stickutil import art9_site
from webutil import login

from firmware.config import load


def _has_row(index: sqlite3.Connection) -> bool:
    try:
        return index.execute("SELECT 1 FROM exports").fetchone() is not None
    except sqlite3.OperationalError:            # the first export makes the table
        return False


@pytest.fixture
def killed_mid_write(tmp_path):
    """An art. 9 site whose `nvr export create` was killed (SIGKILL) while it read the first
    segment of the window: that segment's file replaced by a FIFO that nobody writes, so the
    export stops there, after its row was inserted and before its package was recorded."""
    (tmp_path / "site").mkdir()
    config = art9_site(tmp_path / "site")
    cfg = load(config)
    index = sqlite3.connect(Path(cfg.storage.data_dir) / "index.sqlite3")
    (path,) = index.execute("SELECT path FROM segments ORDER BY start LIMIT 1").fetchone()
    first = Path(cfg.storage.data_dir) / path
    saved = first.read_bytes()
    first.unlink()
    os.mkfifo(first)
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware.cli", "--config", str(config), "export", "create",
         "--request", "PL-STICK-1", "--to", str(tmp_path / "stick"), "--user", "b.beheerder",
         "--reason", "art. 9"], env=staff(config), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not _has_row(index):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the export never inserted its row"
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        first.unlink()
        first.write_bytes(saved)
        index.close()
    return config


def test_the_list_of_exports_still_opens_after_an_export_was_killed_mid_write_R62(
        killed_mid_write):
    from firmware.web import create_app
    app = create_app(load(killed_mid_write))
    app.config["TESTING"] = True
    c = login(app, "b.beheerder")
    page = c.get("/exports")
    assert page.status_code == 200, page.data[-600:]
    listed = c.get("/api/exports")
    assert listed.status_code == 200 and listed.get_json() == [], listed.get_json()
    with c.session_transaction() as session:
        token = session["csrf"]
    handed = c.post("/exports/1/handover", data={"csrf": token, "medium": "USB-1"})
    assert handed.status_code in (200, 400) and b"niet voltooid" in handed.data, handed.data
    printed = c.get("/exports/1/declaration.pdf")
    assert printed.status_code in (200, 400) and b"niet voltooid" in printed.data
