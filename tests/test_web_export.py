"""The export page of an art. 9 request (issue 13 items 1-4, the web side; R-11, R-60..R-62):
who may reach it, CSRF on every form, no-store, the export in a background thread with a JSON
status, its result, and the faults in Dutch with the form filled in again. Real SQLite, real
files, the real exportd daemon (with its runner twin) over a real Unix socket."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from webutil import api, client, csrf_of, login

from firmware.config import load
from firmware.governance.service import Governance

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OFFICER = "brigadier K. Bakker"


def _local(minutes_ago: int) -> str:
    t = datetime.now(AMSTERDAM).replace(tzinfo=None) - timedelta(minutes=minutes_ago)
    return t.isoformat(timespec="minutes")


def _registered(c, reference: str, *, ready: bool = True) -> int:
    """An art. 9 request over the site's footage, with identity and declaration when ready."""
    req = api(c, "POST", "/api/requests/art9", {
        "reference": reference, "requester": "Politie Midden-Nederland",
        "legal_basis": "126nd", "camera": "cam", "start": _local(30),
        "end": _local(10)}).get_json()
    if ready:
        assert api(c, "POST", f"/api/requests/{req['id']}/identity", {
            "officer": OFFICER, "document_type": "dienstpas",
            "last_digits": "4411"}).status_code == 200
        assert api(c, "POST", f"/api/requests/{req['id']}/declaration",
                   {"signed_by": OFFICER}).status_code == 200
    return req["id"]


def _wait(c, req_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = c.get(f"/api/requests/{req_id}/export/status").get_json()
        if status["state"] != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@pytest.fixture(scope="module")
def beheerder(site):
    app, _ = site
    return login(app, "b.beheerder")


def test_export_page_only_for_the_roles_that_may_export_R11(site, beheerder):
    app, _ = site
    req_id = _registered(beheerder, "PL-R11-1", ready=False)
    page = beheerder.get(f"/requests/{req_id}/export")
    assert page.status_code == 200
    body = page.get_data(True)
    assert "Export van verzoek" in body and "PL-R11-1" in body
    assert "eerst" in body and 'name="reason"' not in body      # identity and declaration first
    for name in ("p.officer", "t.admin", "m.manager", "d.dpo"):
        other = login(app, name)
        for url in (f"/requests/{req_id}/export", f"/api/requests/{req_id}/export",
                    f"/requests/{req_id}/export/status"):
            assert other.get(url).status_code == 403, (name, url)
        token = csrf_of(other)
        for action in ("", "/format", "/unlock", "/eject"):
            r = other.post(f"/requests/{req_id}/export{action}",
                           data={"csrf": token, "device": "x", "reason": "onderzoek"})
            assert r.status_code == 403, (name, action)


def test_every_export_form_needs_the_csrf_token(site, beheerder):
    req_id = _registered(beheerder, "PL-CSRF-1")
    for action in ("", "/format", "/unlock", "/eject"):
        r = beheerder.post(f"/requests/{req_id}/export{action}",
                           data={"device": "x", "reason": "zonder token", "confirmation": "x"})
        assert r.status_code == 400 and "beveiligingscode" in r.get_data(True), action
        with_token = beheerder.post(f"/requests/{req_id}/export{action}", data={
            "csrf": csrf_of(beheerder), "device": "x", "confirmation": "x"})
        assert with_token.status_code not in (404, 405), action     # the form exists
    assert api(beheerder, "GET", f"/api/requests/{req_id}/export/status").status_code == 404


def test_export_pages_are_never_cached(site, beheerder):
    req_id = _registered(beheerder, "PL-CACHE-1")
    for url in (f"/requests/{req_id}/export", f"/api/requests/{req_id}/export", "/exports"):
        r = beheerder.get(url)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", url


def test_the_page_lists_the_development_folder_as_the_stick(site, beheerder):
    app, config = site
    req_id = _registered(beheerder, "PL-LIST-1")
    data = beheerder.get(f"/api/requests/{req_id}/export").get_json()
    assert data["ready"] and data["problem"] == ""
    assert [s["device"] for s in data["sticks"]] == [str(load(config).export_directory)]
    assert data["sticks"][0]["state"] == "unlocked"


def test_export_runs_in_the_background_and_ends_with_a_verified_package_R62(site, beheerder):
    """Item 4 (web): the start answers at once with the status page; the JSON status reaches
    done with bytes done equal to the total; the result names the package, the manifest's
    SHA-256, the device key's fingerprint and links the art. 9 declaration; the package on
    the medium verifies with sha256sum -c and openssl alone."""
    app, config = site
    req_id = _registered(beheerder, "PL-RUN-1")
    r = beheerder.post(f"/requests/{req_id}/export", data={
        "csrf": csrf_of(beheerder), "reason": "aangifte fietsendiefstal PL-RUN-1"})
    assert r.status_code == 303 and r.headers["Location"].endswith(
        f"/requests/{req_id}/export/status")
    status = _wait(beheerder, req_id)
    assert status["state"] == "done", status
    assert status["done_bytes"] == status["total_bytes"] > 0 and "password" not in status
    page = beheerder.get(f"/requests/{req_id}/export/status")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    body = page.get_data(True)
    gov = Governance.open(load(config))
    export = [e for e in __import__("firmware.export.service", fromlist=["x"]).list_exports(
        gov.accounts.db) if e["request_id"] == req_id][-1]
    assert export["archive"]["sha256"] in body and export["archive"]["fingerprint"] in body
    assert f"/exports/{export['id']}/declaration.pdf" in body
    folder = _package_folder(export["archive"]["path"], body)
    assert subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=folder,
                          capture_output=True).returncode == 0
    verified = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                               "device-pubkey.pem", "-rawin", "-in", "manifest.json",
                               "-sigfile", "manifest.sig"], cwd=folder, capture_output=True,
                              text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    written = [e for e in gov.logbook.entries("usage") if e["action"] == "export-written"
               and e["subject"] == f"request {req_id}"]
    assert written and "aangifte fietsendiefstal PL-RUN-1" in str(written[-1]["details"])
    gov.close()


def _package_folder(path: str, page: str) -> Path:
    """The package folder itself, or (a 7z on the directory stand-in) opened with the
    password the page showed once."""
    path = Path(path)
    if path.is_dir():
        return path
    import re
    password = re.search(r'<code id="password" class="password">([^<]+)</code>', page).group(1)
    out = path.parent / (path.name + ".opened")
    subprocess.run(["7z", "x", f"-p{password}", f"-o{out}", str(path)], check=True,
                   capture_output=True)
    return next(p for p in out.rglob("manifest.sha256")).parent


def test_a_second_export_on_the_same_stick_is_refused_and_the_form_kept(site, beheerder):
    """One export at a time per stick: while one writes, a second start is refused in Dutch,
    the page comes back with what was typed."""
    from firmware.web.exports import jobs
    app, config = site
    req_id = _registered(beheerder, "PL-BUSY-1")
    release = threading.Event()
    with app.app_context():
        registry = jobs()
    registry.start(request_id=req_id, device=str(load(config).export_directory),
                   user="someone.else", form={},
                   work=lambda progress: (progress(1, 2), release.wait(30), {"id": 0})[-1])
    try:
        r = beheerder.post(f"/requests/{req_id}/export", data={
            "csrf": csrf_of(beheerder), "reason": "tweede export tegelijk"})
        body = r.get_data(True)
        assert r.status_code == 400
        assert "wordt beschreven door een andere export" in body
        assert 'value="tweede export tegelijk"' in body
    finally:
        release.set()


def test_progress_is_polled_as_json_without_the_password(site, beheerder):
    """The status the page polls: bytes done and total while running; a generated password is
    shown once on the result page and never in the JSON."""
    from firmware.web.exports import jobs
    app, _ = site
    req_id = _registered(beheerder, "PL-PROG-1")
    step, release = threading.Event(), threading.Event()

    def work(progress):
        progress(3_000_000, 12_000_000)
        step.set()
        release.wait(30)
        return {"id": 99, "bytes": 12_000_000, "password": "geheim-eenmalig-0042",
                "archive": {"path": "/x", "sha256": "ab" * 32, "fingerprint": "cd" * 32}}
    with app.app_context():
        registry = jobs()
    registry.start(request_id=req_id, device="/dev/test-prog", user="b.beheerder", form={},
                   work=work)
    assert step.wait(10)
    running = beheerder.get(f"/api/requests/{req_id}/export/status").get_json()
    assert (running["state"], running["done_bytes"], running["total_bytes"]) == (
        "running", 3_000_000, 12_000_000)
    page = beheerder.get(f"/requests/{req_id}/export/status").get_data(True)
    assert '<progress id="export-bar" max="12000000" value="3000000">' in page
    assert '<meta http-equiv="refresh" content="2">' in page and "export-progress.js" in page
    release.set()
    done = _wait(beheerder, req_id)
    assert done["state"] == "done" and "geheim-eenmalig-0042" not in str(done)
    first = beheerder.get(f"/requests/{req_id}/export/status").get_data(True)
    assert "geheim-eenmalig-0042" in first and "Schrijf het nu op" in first
    again = beheerder.get(f"/requests/{req_id}/export/status").get_data(True)
    assert "geheim-eenmalig-0042" not in again              # once


def test_a_failed_export_shows_the_form_again_with_the_dutch_message(site, beheerder):
    """A window outside the request is refused by the rule (authorize_export) inside the
    background export: the page comes back with the form filled in and the message in Dutch."""
    req_id = _registered(beheerder, "PL-FAIL-1")
    r = beheerder.post(f"/requests/{req_id}/export", data={
        "csrf": csrf_of(beheerder), "reason": "buiten het venster", "start": _local(300),
        "end": _local(290)})
    assert r.status_code == 303
    assert _wait(beheerder, req_id)["state"] == "failed"
    body = beheerder.get(f"/requests/{req_id}/export/status").get_data(True)
    assert 'value="buiten het venster"' in body and f'value="{_local(300)}"' in body
    assert 'role="alert"' in body and "verzoek" in body


def test_an_article10_request_is_never_exported_R60(site, beheerder):
    app, _ = site
    officer = login(app, "p.officer")
    req = api(officer, "POST", "/api/requests/art10", {
        "requester": "J. de Vries", "requester_kind": "citizen",
        "motivation": "mijn fiets is gestolen bij de ingang", "camera": "cam",
        "start": _local(30), "end": _local(10)}).get_json()
    r = beheerder.get(f"/requests/{req['id']}/export")
    assert r.status_code == 400 and "artikel 10" in r.get_data(True).lower()


# --- the stick through exportd (its runner twin, a real socket) --------------------------------

@pytest.fixture
def stick_app(site, tmp_path, monkeypatch):
    """The site's app without the development folder: the sticks come from a real exportd
    daemon (runner twin) serving a real Unix socket."""
    from test_exportd import KEYPAD, STICK, TwinRunner, _add

    from firmware.export import protocol
    from firmware.export.daemon import Daemon, serve
    from firmware.web import create_app
    app, config = site
    cfg = load(config)
    cfg = dataclasses.replace(cfg, export=dataclasses.replace(cfg.export, directory=""))
    runner = TwinRunner(tmp_path, {"/dev/sdb": 16_008_609_792, "/dev/sdc": 8_000_000_000})
    daemon = Daemon(runner, system_disks={"8:0"}, runtime_dir=tmp_path / "run")
    (tmp_path / "run").mkdir(exist_ok=True)
    for props in (STICK, KEYPAD):
        daemon.handle_event(_add(props))
    path = tmp_path / "exportd.sock"
    monkeypatch.setenv(protocol.SOCKET_ENV, str(path))
    stop = threading.Event()
    policy = protocol.PeerPolicy(uids=frozenset({os.getuid()}))
    thread = threading.Thread(target=serve, args=(daemon, path, policy, stop), daemon=True)
    thread.start()
    for _ in range(200):
        if path.exists():
            break
        time.sleep(0.01)
    new = create_app(cfg, app.extensions["nvr"]["store"])
    new.config["TESTING"] = True
    yield new, daemon, runner, path
    stop.set()
    thread.join(5)


def test_exportd_not_running_is_said_in_dutch(stick_app, monkeypatch, tmp_path):
    from firmware.export import protocol
    app, *_ = stick_app
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-NOEXPORTD")
    monkeypatch.setenv(protocol.SOCKET_ENV, str(tmp_path / "absent.sock"))
    data = c.get(f"/api/requests/{req_id}/export").get_json()
    assert data["sticks"] == [] and "exportd" in data["problem"]
    body = c.get(f"/requests/{req_id}/export").get_data(True)
    assert 'id="stick-problem"' in body
    r = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                   "reason": "zonder exportd"})
    assert r.status_code == 400 and 'value="zonder exportd"' in r.get_data(True)


def test_sticks_with_model_size_kind_and_state_and_unlock_with_a_wrong_password(stick_app):
    app, daemon, runner, _ = stick_app
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-STICKS")
    body = c.get(f"/requests/{req_id}/export").get_data(True)
    for expected in ("/dev/sdb", "Cruzer Blade", "16.0GB", "LUKS2", "vergrendeld",
                     "/dev/sdc", "datAshur PRO", "toetsenblok"):
        assert expected in body, expected
    r = c.post(f"/requests/{req_id}/export/unlock", data={
        "csrf": csrf_of(c), "device": "/dev/sdb", "password": "niet het wachtwoord!!"})
    text = r.get_data(True)
    assert r.status_code == 400 and 'aria-invalid="true"' in text
    assert "niet het wachtwoord!!" not in text                  # a password is never echoed
    assert daemon.sticks["/dev/sdb"].state == "locked"


def test_format_asks_the_exact_confirmation_and_shows_the_password_once_R61(stick_app, site,
                                                                          caplog):
    """Formatteren: a confirmation that is not exactly device, model and size is refused with
    the form kept; the right one formats, and the generated password is on the answer to the
    POST only: no-store, never in a URL, a logbook, the index or the governance database."""
    import logging
    caplog.set_level(logging.DEBUG)
    app, daemon, runner, _ = stick_app
    _, config = site
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-FORMAT")
    wrong = c.post(f"/requests/{req_id}/export/format", data={
        "csrf": csrf_of(c), "device": "/dev/sdc", "confirmation": "/dev/sdc ja"})
    assert wrong.status_code == 400
    text = wrong.get_data(True)
    assert "/dev/sdc datAshur PRO 8.0GB" in text and 'value="/dev/sdc ja"' in text
    assert not any(a[:2] == ["cryptsetup", "luksFormat"] for a in runner.calls)
    r = c.post(f"/requests/{req_id}/export/format", data={
        "csrf": csrf_of(c), "device": "/dev/sdc",
        "confirmation": "/dev/sdc datAshur PRO 8.0GB", "password_choice": "generate"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    import re
    password = re.search(r'<code id="password" class="password">([^<]+)</code>',
                         r.get_data(True)).group(1)
    assert len(password) >= 16 and runner.passwords["/dev/sdc"] == password
    assert password not in caplog.text                  # web and exportd log lines
    assert daemon.sticks["/dev/sdc"].kind == "luks2"
    cfg = load(config)
    for path in list(Path(cfg.storage.data_dir).rglob("*")) + list(
            Path(cfg.storage.key_dir).rglob("*")):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    unlocked = c.post(f"/requests/{req_id}/export/unlock", data={
        "csrf": csrf_of(c), "device": "/dev/sdc", "password": password})
    assert unlocked.status_code == 302 and daemon.sticks["/dev/sdc"].state == "unlocked"
    ejected = c.post(f"/requests/{req_id}/export/eject", data={
        "csrf": csrf_of(c), "device": "/dev/sdc"})
    assert ejected.status_code == 302 and daemon.sticks["/dev/sdc"].state == "locked"


def test_no_stick_and_two_sticks_are_refused_with_the_form_kept(stick_app):
    from test_exportd import PASSWORD
    app, daemon, runner, _ = stick_app
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-TWO")
    none = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                      "reason": "geen stick open"})
    assert none.status_code == 400 and "geen ontgrendelde USB-stick" in none.get_data(True)
    assert 'value="geen stick open"' in none.get_data(True)
    daemon.unlock("/dev/sdb", PASSWORD)
    daemon.unlock("/dev/sdc", "")
    two = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                     "reason": "twee sticks open"})
    assert two.status_code == 400 and "meer dan één USB-stick" in two.get_data(True)
    assert 'value="twee sticks open"' in two.get_data(True)


def _unlocked_luks(c, req_id: int, daemon) -> None:
    from test_exportd import PASSWORD
    r = c.post(f"/requests/{req_id}/export/unlock", data={
        "csrf": csrf_of(c), "device": "/dev/sdb", "password": PASSWORD})
    assert r.status_code == 302, r.get_data(True)
    assert daemon.sticks["/dev/sdb"].state == "unlocked"


def _nothing_that_verifies(daemon) -> None:
    """No package folder on any stick: only names that begin with a dot (none left either)."""
    for stick in daemon.sticks.values():
        if stick.mountpoint:
            assert list(Path(stick.mountpoint).iterdir()) == [], stick.devname


def test_a_stick_pulled_mid_write_fails_in_dutch_and_leaves_nothing(stick_app):
    """The stick is pulled (udev remove) after the package's bytes are written and before
    exportd renames and syncs it: the export fails, the page says so in Dutch with the form
    filled in, and no package is left."""
    from test_exportd import STICK

    from firmware.export.udev import DeviceEvent
    app, daemon, runner, _ = stick_app
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-PULLED")
    _unlocked_luks(c, req_id, daemon)
    finish = daemon.write_finish

    def pulled_then_finish(device, name):
        daemon.handle_event(DeviceEvent("remove", STICK))
        return finish(device, name)
    daemon.write_finish = pulled_then_finish
    r = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                   "reason": "stick eruit tijdens schrijven"})
    assert r.status_code == 303
    status = _wait(c, req_id)
    assert status["state"] == "failed" and "uitgetrokken" in status["error"]
    body = c.get(f"/requests/{req_id}/export/status").get_data(True)
    assert "uitgetrokken" in body and 'value="stick eruit tijdens schrijven"' in body
    assert not any(p.name.startswith("export-") for p in (runner.tmp / "media").rglob("*"))
    _nothing_that_verifies(daemon)


def test_a_read_only_stick_is_refused_at_unlock_in_dutch(stick_app):
    app, daemon, runner, _ = stick_app
    runner.fail["mount"] = "mount: /run/x: cannot mount /dev/mapper/x read-only."
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-READONLY")
    from test_exportd import PASSWORD
    r = c.post(f"/requests/{req_id}/export/unlock", data={
        "csrf": csrf_of(c), "device": "/dev/sdb", "password": PASSWORD})
    text = r.get_data(True)
    assert r.status_code == 400 and "alleen-lezen" in text and 'role="alert"' in text
    assert daemon.sticks["/dev/sdb"].state == "locked"


@pytest.fixture
def tiny_run(tmp_path):
    """A 1 MB tmpfs under exportd's runtime directory, so an unlocked stick has 1 MB free."""
    run = tmp_path / "run"
    run.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(run)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a 1 MB tmpfs for the too-small stick needs root: {mounted.stderr}")
    yield run
    subprocess.run(["umount", str(run)], check=True)


def test_a_stick_too_small_is_refused_before_writing_in_dutch(tiny_run, stick_app):
    app, daemon, runner, _ = stick_app
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-SMALL")
    _unlocked_luks(c, req_id, daemon)
    r = c.post(f"/requests/{req_id}/export", data={"csrf": csrf_of(c),
                                                   "reason": "te kleine stick"})
    assert r.status_code == 303
    status = _wait(c, req_id)
    assert status["state"] == "failed" and "te klein" in status["error"]
    body = c.get(f"/requests/{req_id}/export/status").get_data(True)
    assert "te klein" in body and 'value="te kleine stick"' in body
    _nothing_that_verifies(daemon)


def test_the_api_starts_an_export_and_answers_its_status(site, beheerder):
    req_id = _registered(beheerder, "PL-API-1")
    r = api(beheerder, "POST", f"/api/requests/{req_id}/export/start",
            {"reason": "export via de API"})
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status_url"] == f"/api/requests/{req_id}/export/status"
    done = _wait(beheerder, req_id)
    assert done["state"] == "done" and done["export"] and done["password_waiting"]
    result = beheerder.get(f"/api/requests/{req_id}/export/result").get_json()
    assert len(result["password"]) >= 16 and len(result["manifest_sha256"]) == 64
    assert "password" not in beheerder.get(f"/api/requests/{req_id}/export/result").get_json()
    refused = api(beheerder, "POST", f"/api/requests/{req_id}/export/start", {})
    assert refused.status_code == 400 and "reden" in refused.get_json()["error"]


def test_ejecting_the_development_folder_says_it_stays(site, beheerder):
    req_id = _registered(beheerder, "PL-EJECT-DEV")
    gov = Governance.open(load(site[1]))
    since = len(gov.logbook.entries("usage"))
    gov.close()
    r = beheerder.post(f"/requests/{req_id}/export/eject", data={
        "csrf": csrf_of(beheerder), "device": str(load(site[1]).export_directory)},
        follow_redirects=True)
    assert r.status_code == 200 and "nooit wordt uitgeworpen" in r.get_data(True)
    assert _stick_entries(site[1], since) == []          # nothing ejected, nothing logged


# --- the sticks in the usage logbook (art. 7 lid 2, R-50; exportfix item 2) --------------------

def _stick_entries(config, since: int) -> list[dict]:
    import json
    gov = Governance.open(load(config))
    try:
        entries = gov.logbook.entries("usage")[since:]
    finally:
        gov.close()
    return [{**e, "details": json.loads(e["details"] or "{}")} for e in entries
            if e["action"].startswith("usb-")]


def test_art7_lid2_formatting_unlocking_and_ejecting_a_stick_are_logged_by_who_did_it_R50(
        stick_app, site):
    """Formatteren, a refused Ontgrendelen (wrong password), Ontgrendelen and Uitwerpen on the
    web page: each in the usage logbook by the logged-in beheerder, with the stick's device,
    model and size, never a password; the actions have their Dutch wording."""
    from test_exportd import PASSWORD

    from firmware.governance.wording import ACTIONS
    app, daemon, runner, _ = stick_app
    _, config = site
    gov = Governance.open(load(config))
    since = len(gov.logbook.entries("usage"))
    gov.close()
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-STICKLOG")
    formatted = c.post(f"/requests/{req_id}/export/format", data={
        "csrf": csrf_of(c), "device": "/dev/sdc",
        "confirmation": "/dev/sdc datAshur PRO 8.0GB", "password_choice": "generate"})
    assert formatted.status_code == 200
    import re
    generated = re.search(r'<code id="password" class="password">([^<]+)</code>',
                          formatted.get_data(True)).group(1)
    wrong = c.post(f"/requests/{req_id}/export/unlock", data={
        "csrf": csrf_of(c), "device": "/dev/sdb", "password": "niet het wachtwoord!!"})
    assert wrong.status_code == 400
    right = c.post(f"/requests/{req_id}/export/unlock", data={
        "csrf": csrf_of(c), "device": "/dev/sdb", "password": PASSWORD})
    assert right.status_code == 302 and daemon.sticks["/dev/sdb"].state == "unlocked"
    ejected = c.post(f"/requests/{req_id}/export/eject", data={
        "csrf": csrf_of(c), "device": "/dev/sdb"}, follow_redirects=True)
    assert ejected.status_code == 200 and daemon.sticks["/dev/sdb"].state == "locked"
    assert "uitgeworpen" in ejected.get_data(True)          # Dutch, not exportd's English
    logged = _stick_entries(config, since)
    assert [(e["action"], e["actor"], e["subject"]) for e in logged] == [
        ("usb-format", "b.beheerder", "/dev/sdc"),
        ("usb-unlock-refused", "b.beheerder", "/dev/sdb"),
        ("usb-unlock", "b.beheerder", "/dev/sdb"),
        ("usb-eject", "b.beheerder", "/dev/sdb")]
    assert logged[0]["details"] == {"device": "/dev/sdc", "model": "datAshur PRO",
                                    "size": 8_000_000_000}
    assert logged[2]["details"] == {"device": "/dev/sdb", "model": "Cruzer Blade",
                                    "size": 16_008_609_792}
    assert "wachtwoord" in logged[1]["reason"]              # why it was refused
    text = str(logged)
    for secret in (generated, PASSWORD, "niet het wachtwoord!!"):
        assert secret not in text
    from firmware.governance.wording import DETAIL_KEYS
    for action in ("usb-format", "usb-unlock", "usb-unlock-refused", "usb-eject"):
        assert action in ACTIONS
    assert all(set(e["details"]) <= set(DETAIL_KEYS) for e in logged)   # Dutch labels
