"""Red team 13c: an export that a process did not live to finish, seen in the web.

Findings:
8. An export process killed mid-write (the web interface restarted, a power cut, `nvr export
   create` killed) after the export's row was inserted and before the package was recorded
   leaves that row with no files and no package (`archive` {}). The list of exports ("Export")
   then fails for everyone (500: the template reads the package's SHA-256 from every row),
   and the export can be handed over (its declaration printed) although no package exists.
10. The session ends while the status page polls (signed out in another tab, idle 15 minutes
   during a long export): `export-progress.js` polled for ever with the bar frozen.
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


def test_the_progress_page_goes_to_the_login_when_its_session_ends_mid_export(tmp_path,
                                                                           monkeypatch):
    """10. The session ends while the status page polls (signed out in another tab; idle for
    15 minutes, R-81, which the polling does not count as activity, during a long export):
    the status answers 401, and `export-progress.js` then polled every 3 s for ever, the bar
    frozen, instead of loading the page again (which asks to log in). A real `nvr web`, its
    export held at exportd's `write open`, in Chromium."""
    import threading

    from playwright.sync_api import sync_playwright
    from stickutil import LUKS_PASSWORD, Desk, exportd, stick_config
    from test_browser import CHROMIUM, FLAGS, log_in, serving

    from firmware.export import protocol
    (tmp_path / "site").mkdir()
    config = art9_site(tmp_path / "site")
    desk = Desk(config)
    req_id = desk.request()["id"]
    desk.close()
    with exportd(tmp_path) as (sock, daemon, runner):
        monkeypatch.setenv(protocol.SOCKET_ENV, str(sock))
        daemon.unlock("/dev/sdb", LUKS_PASSWORD)
        reached, release = threading.Event(), threading.Event()
        write_open = daemon.write_open

        def held_open(*args):
            reached.set()
            release.wait(120)
            return write_open(*args)
        daemon.write_open = held_open
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                with serving(stick_config(config), "web") as url:
                    context, page = log_in(browser, url, "b.beheerder")
                    page.goto(f"{url}/requests/{req_id}/export")
                    page.fill("#export-form input[name=reason]", "sessie verloopt")
                    page.click("#export-form button:has-text('Exporteren')")
                    page.wait_for_url(f"{url}/requests/{req_id}/export/status")
                    assert reached.wait(120)
                    other = context.new_page()                  # another tab: sign out
                    other.goto(f"{url}/")
                    other.click("form.account button")
                    other.wait_for_url(f"{url}/login*")
                    page.wait_for_url(f"{url}/login**", timeout=30_000)
            finally:
                release.set()
                browser.close()
