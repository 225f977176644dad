"""Every workflow through the JSON API, with the same rules as the pages: holds, art. 9 and
art. 10 requests, exports checked with the real 7z, visits, delegations, accounts, logbooks,
the system page, and an OpenAPI document that lists exactly the API's routes."""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, ffprobe
from deviceday import footage_day, footage_span, local_iso, period
from webutil import api, client, login

from firmware.config import load
from firmware.governance.service import Governance

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def window(config):
    """An ISO window in the device's local time, 5 minutes either side of the site's recorded
    footage (10 s long): from the footage, not from the clock, so a module that runs long or
    across midnight still asks for it."""
    first, last = footage_span(config)
    return local_iso(first - 300, config), local_iso(last + 300, config)


def api_login(app, name):
    c = client(app)
    token = c.get("/api/session").get_json()["csrf"]
    r = c.post("/api/login", json={"name": name, "password": PASSWORD},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_json()
    return c


def test_api_login_needs_the_csrf_token_and_the_right_password_R81(site):
    app, _ = site
    c = client(app)
    session = c.get("/api/session").get_json()
    assert session["user"] is None and session["csrf"]
    assert c.post("/api/login", json={"name": "b.beheerder",
                                      "password": PASSWORD}).status_code == 400
    wrong = c.post("/api/login", json={"name": "b.beheerder", "password": "not it at all"},
                   headers={"X-CSRF-Token": session["csrf"]})
    assert wrong.status_code == 401
    assert c.get("/api/cameras").status_code == 401
    c = api_login(app, "b.beheerder")
    cams = c.get("/api/cameras").get_json()
    assert cams == [{"id": "cam", "name": "Testcamera", "location": "Gemeentehuis Soest, testgang",
                     "live": True, "playback": True}]


def test_hold_placed_and_released_through_the_api_R41(site):
    app, config = site
    c = api_login(app, "b.beheerder")
    start, end = window(config)
    placed = api(c, "POST", "/api/holds", {"camera": "cam", "start": start, "end": end,
                                            "reason": "vernieling fietsenstalling",
                                            "reference": "incident 2026-118"})
    assert placed.status_code == 201 and placed.get_json()["segments"] >= 2
    hold_id = placed.get_json()["id"]
    listed = {h["id"]: h for h in c.get("/api/holds").get_json()}
    assert listed[hold_id]["released"] is None
    assert api(c, "POST", f"/api/holds/{hold_id}/release", {"reason": "incident afgehandeld"}).status_code == 200
    again = api(c, "POST", f"/api/holds/{hold_id}/release", {"reason": "incident afgehandeld"})
    assert again.status_code == 400 and "al opgeheven" in again.get_json()["error"]
    bad = api(c, "POST", "/api/holds", {"camera": "cam", "start": "yesterday", "end": end,
                                         "reason": "x", "reference": "y"})
    assert bad.status_code == 400 and "2026-11-29T14:05" in bad.get_json()["error"]
    assert api(login(app, "p.officer"), "POST", "/api/holds", {}).status_code == 403


def test_article10_request_from_intake_to_viewing_R70_R72_R73(site):
    app, config = site
    start, end = window(config)
    officer = api_login(app, "p.officer")
    lawyer = api(officer, "POST", "/api/requests/art10", {
        "requester": "mr. A. Advocaat", "requester_kind": "lawyer",
        "motivation": "verdediging van een verdachte", "camera": "cam", "start": start,
        "end": end})
    assert lawyer.status_code == 400 and "R-71" in lawyer.get_json()["error"]
    taken = api(officer, "POST", "/api/requests/art10", {
        "requester": "J. de Vries", "requester_kind": "citizen",
        "motivation": "mijn fiets is gestolen bij de ingang", "camera": "cam",
        "start": start, "end": end})
    assert taken.status_code == 201
    req = taken.get_json()
    assert req["status"] == "open" and req["decision_due"] > req["received"]
    assert req["hold_id"] is not None                                   # R-41 while handled
    assert api(officer, "POST", f"/api/requests/{req['id']}/decision",
               {"approve": True, "reason": "gegrond"}).status_code == 403  # not the manager
    manager = api_login(app, "m.manager")
    decided = api(manager, "POST", f"/api/requests/{req['id']}/decision",
                  {"approve": True, "reason": "belang aangetoond, beelden beperkt tot fiets",
                   "weighing": "geen anderen herkenbaar in beeld bij de fietsenstalling"})
    assert decided.status_code == 200 and decided.get_json()["status"] == "approved"
    beheerder = api_login(app, "b.beheerder")
    early = api(beheerder, "POST", f"/api/requests/{req['id']}/declaration",
                {"signed_by": "J. de Vries"})
    assert early.status_code == 400 and "identiteit" in early.get_json()["error"]
    assert api(beheerder, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(beheerder, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    shown = beheerder.get(f"/api/requests/{req['id']}").get_json()
    assert shown["viewing"] == {"ready": True, "why": "ready"}
    pdf = beheerder.get(f"/requests/{req['id']}/declaration.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True).stdout
    assert b"J. de Vries" in text and b"Verklaring inzage camerabeelden" in text
    actions = [e["action"] for e in Governance.open(load(config)).logbook.entries("inzien")]
    for expected in ("request-art10-intake", "request-approved", "identity-checked",
                     "declaration-signed"):
        assert expected in actions


def test_article9_api_export_is_the_evidence_package_in_a_7z_the_real_7z_opens_R60_R61_R62(
        site, tmp_path):
    """POST /api/exports writes the one package (make_package, as the page and the CLI do):
    on the development folder (a stick that takes a 7z) the evidence package inside an AES-256
    archive with encrypted headers, the device's generated password answered once, checked with
    the real 7z, sha256sum and openssl (issue 13 exportfix item 1)."""
    import json as jsonlib
    app, config = site
    start, end = window(config)
    c = api_login(app, "b.beheerder")
    refused = api(c, "POST", "/api/exports", {"request": 999, "reason": "art. 9 verzoek"})
    assert refused.status_code == 400 and "geen verzoek 999" in refused.get_json()["error"]
    req = api(c, "POST", "/api/requests/art9", {
        "reference": "PL0900-2026-4411", "requester": "brigadier K. Bakker",
        "legal_basis": "126nd", "camera": "cam", "start": start, "end": end}).get_json()
    short = api(c, "POST", "/api/exports", {"request": req["id"], "reason": "art. 9 verzoek",
                                            "password": "kort"})
    assert short.status_code == 400 and "16" in short.get_json()["error"]
    early = api(c, "POST", "/api/exports", {"request": req["id"], "reason": "art. 9 verzoek"})
    assert early.status_code == 400 and "art. 9 lid 3" in early.get_json()["error"]
    # Art. 9 lid 3-4: the officer identifies to the beheerder and signs, then the export.
    assert api(c, "POST", f"/api/requests/{req['id']}/identity", {
        "officer": "brigadier K. Bakker", "document_type": "dienstpas",
        "last_digits": "4411"}).status_code == 200
    assert api(c, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "brigadier K. Bakker"}).status_code == 200
    made = api(c, "POST", "/api/exports", {"request": req["id"], "reason": "art. 9 verzoek"})
    assert made.status_code == 201, made.get_json()
    export = made.get_json()
    assert {"id", "path", "files", "bytes", "manifest_sha256", "fingerprint", "archive_sha256",
            "password"} <= set(export)
    password = export["password"]                       # generated by the device, shown once
    assert len(password) == 29
    archive = export["path"]
    assert archive.startswith(str(load(config).export_directory)) and archive.endswith(".7z")
    raw = open(archive, "rb").read()
    assert hashlib.sha256(raw).hexdigest() == export["archive_sha256"]
    assert len(raw) == export["bytes"]
    assert b"manifest.json" not in raw and b"LEESMIJ" not in raw        # names hidden
    wrong = subprocess.run(["7z", "t", "-pnot-the-password", archive], capture_output=True)
    assert wrong.returncode != 0
    out = tmp_path / "opened"
    opened = subprocess.run(["7z", "x", f"-p{password}", f"-o{out}", archive],
                            capture_output=True, text=True)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    [folder] = out.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(export["files"])
    sums = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=folder,
                          capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    sig = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                          "device-pubkey.pem", "-rawin", "-in", "manifest.json", "-sigfile",
                          "manifest.sig"], cwd=folder, capture_output=True, text=True)
    assert sig.returncode == 0 and "Signature Verified Successfully" in sig.stdout, sig.stderr
    assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() == \
        export["manifest_sha256"]
    [video] = folder.glob("*.mp4")
    data = video.read_bytes()
    # Contents hidden: no 32-byte run of the MP4 is in the archive. (A 4-byte b"ftyp" turns up
    # in megabytes of ciphertext by chance, about once in a thousand runs.)
    assert data[:32] not in raw and data[len(data) // 2:len(data) // 2 + 32] not in raw
    probe = ffprobe(video)
    assert [s["codec_type"] for s in probe["streams"]] == ["video"]       # never audio
    # The password once: the list of exports and both logbooks do not hold it.
    assert password not in c.get("/api/exports").get_data(True)
    gov = Governance.open(load(config))
    try:
        assert password not in jsonlib.dumps([gov.logbook.entries(b) for b in ("usage",
                                                                              "inzien")])
    finally:
        gov.close()
    handed = api(c, "POST", f"/api/exports/{export['id']}/handover",
                 {"medium": "USB-stick PL-0042"})
    assert handed.status_code == 200 and handed.get_json()["recipient"] == "brigadier K. Bakker"
    pdf = c.get(f"/exports/{export['id']}/declaration.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    (tmp_path / "v.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "v.pdf"), "-"], capture_output=True,
                          text=True).stdout
    assert export["manifest_sha256"] in text and "PL0900-2026-4411" in text
    assert export["archive_sha256"] in text and Path(archive).name in text      # item 3
    assert hashlib.sha256(data).hexdigest() in text and "USB-stick PL-0042" in text
    officer = api_login(app, "p.officer")
    assert api(officer, "POST", "/api/exports", {"request": req["id"],
                                                 "reason": "art. 9 verzoek"}).status_code == 403


def test_one_export_path_make_export_and_the_helpers_write_are_gone(site):
    """Issue 13 exportfix item 1: the old 7z of separate MP4 files has no code left to call,
    and no page form posts an export that would lose a generated password in a redirect (the
    page exports through /requests/<n>/export and its status page)."""
    from firmware.export import helpers, service
    assert not hasattr(service, "make_export")
    assert not hasattr(helpers.DirectoryHelper, "write")
    assert not hasattr(helpers.ExportdHelper, "write")
    app, _ = site
    c = login(app, "b.beheerder")
    with c.session_transaction() as s:
        token = s["csrf"]
    assert c.post("/exports", data={"csrf": token, "request": "1"}).status_code == 405


def test_a_visit_sees_only_its_cameras_and_window_R11(site):
    app, config = site
    start, end = window(config)
    c = api_login(app, "b.beheerder")
    opened = api(c, "POST", "/api/visits", {
        "visitor": "rechercheur P. Smit", "organisation": "politie",
        "identity": "dienstpas 55123", "legal_basis": "126nd",
        "reason": "onderzoek inbraak", "cameras": ["cam"], "start": start, "end": end,
        "minutes": 30})
    assert opened.status_code == 201
    visit_id = opened.get_json()["id"]
    assert api(c, "POST", f"/api/visits/{visit_id}/start").status_code == 200
    assert c.get("/api/session").get_json()["visit"] == visit_id
    assert c.get("/api/holds").status_code == 403        # the beheerder's own rights are gone
    assert c.get("/api/system").status_code == 403 and c.get("/api/account").status_code == 403
    assert [cam["id"] for cam in c.get("/api/cameras").get_json()] == ["cam"]
    day = footage_day(config)
    segments = c.get(f"/api/cameras/cam/segments/{day}").get_json()
    lo, hi = (datetime.fromisoformat(t).replace(tzinfo=AMSTERDAM).timestamp()
              for t in (start, end))
    assert segments and all(lo <= s["start"] <= hi for s in segments)
    video = f"/api/segments/{segments[0]['id']}/video"
    assert c.get(video).status_code == 428
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "playback", "purpose": "incident",
        "reason": "inbraak onderzoek politie"}).status_code == 200
    assert c.get(video).status_code == 200
    assert api(c, "POST", "/api/logout").status_code == 200
    inzien = Governance.open(load(config)).logbook.entries("inzien")
    assert any(e["actor"].startswith(f"visit {visit_id}:") and e["action"] == "playback"
               for e in inzien)
    c = api_login(app, "b.beheerder")
    assert api(c, "POST", f"/api/visits/{visit_id}/close", {"reason": "bezoekers vertrokken"}).status_code == 200


def test_delegation_lets_a_designee_play_back_until_revoked_R12(site):
    app, config = site
    day = footage_day(config)
    designee = api_login(app, "a.designee")
    assert designee.get(f"/api/cameras/cam/segments/{day}").status_code == 403
    b = api_login(app, "b.beheerder")
    expires = (datetime.now(AMSTERDAM) + timedelta(hours=2)).replace(tzinfo=None).isoformat(
        timespec="minutes")                                 # the device's wall clock
    made = api(b, "POST", "/api/delegations", {"grantee": "a.designee", "actions": ["playback"],
                                               "cameras": ["cam"], "reason": "vakantie",
                                               "expires": expires})
    assert made.status_code == 201
    assert designee.get(f"/api/cameras/cam/segments/{day}").status_code == 200
    assert api(b, "POST", f"/api/delegations/{made.get_json()['id']}/revoke",
               {"reason": "vakantie voorbij"}).status_code == 200
    assert designee.get(f"/api/cameras/cam/segments/{day}").status_code == 401   # session ended
    designee = api_login(app, "a.designee")
    assert designee.get(f"/api/cameras/cam/segments/{day}").status_code == 403
    wrong = api(b, "POST", "/api/delegations", {"grantee": "p.officer", "actions": ["playback"],
                                                "cameras": ["cam"], "reason": "vakantie",
                                                "expires": expires})
    assert wrong.status_code == 400 and "aangewezen persoon" in wrong.get_json()["error"]


def test_accounts_are_added_and_disabled_by_the_technical_administrator_R10(site):
    app, _ = site
    t = api_login(app, "t.admin")
    made = api(t, "POST", "/api/users", {"name": "k.klaassen", "role": "beheerder"})
    assert made.status_code == 201 and made.get_json()["awaits_approval"]
    owner = client(app)                     # the owner sets the password with the setup code
    token = owner.get("/api/session").get_json()["csrf"]
    for password, status in (("short", 400), (PASSWORD, 200)):
        assert owner.post("/api/reset", json={"name": "k.klaassen", "password": password,
                                              "code": made.get_json()["setup_code"]},
                          headers={"X-CSRF-Token": token}).status_code == status
    assert api(api_login(app, "m.manager"), "POST", "/api/users/k.klaassen/approve",
               {"role": "beheerder"}).status_code == 200                # art. 2, art. 3.1
    api_login(app, "k.klaassen")
    assert api(t, "POST", "/api/users/k.klaassen/disable", {"reason": "uit dienst getreden"}).status_code == 200
    c = client(app)
    token = c.get("/api/session").get_json()["csrf"]
    assert c.post("/api/login", json={"name": "k.klaassen", "password": PASSWORD},
                  headers={"X-CSRF-Token": token}).status_code == 401
    names = {u["name"]: u for u in t.get("/api/users").get_json()}
    assert names["k.klaassen"]["disabled"] is not None
    assert "password_hash" not in names["k.klaassen"]


def test_logbooks_are_read_verified_and_exported_R50_R51(site):
    app, _ = site
    dpo = api_login(app, "d.dpo")
    result = dpo.get("/api/logbooks/verify").get_json()
    assert result["ok"] is True and result["entries"]["usage"] > 0
    entries = dpo.get("/api/logbooks/usage").get_json()
    assert [e["n"] for e in entries] == sorted((e["n"] for e in entries), reverse=True)
    csv = dpo.get("/logbooks/usage/csv")
    assert csv.status_code == 200 and csv.get_data(True).startswith("logboek,nr,tijd,")
    assert dpo.get("/logbooks/usage/pdf").data.startswith(b"%PDF")
    assert api_login(app, "m.manager").get("/api/logbooks/verify").status_code == 403
    assert api_login(app, "t.admin").get("/api/logbooks/inzien").status_code == 403


def test_system_page_reports_cameras_storage_and_retention_horizon(site):
    app, _ = site
    state = api_login(app, "t.admin").get("/api/system").get_json()
    assert state["recorder"] == "not answering"           # no recorder runs in this test
    assert state["cameras"][0]["id"] == "cam" and state["cameras"][0]["segments_last_hour"] > 0
    assert 0 < state["storage"]["horizon_days"] < 1 and state["storage"]["max_days"] == 28
    assert "Systeem" in login(app, "t.admin").get("/system").get_data(True)


def test_openapi_document_lists_exactly_the_api_routes(site):
    app, _ = site
    doc = client(app).get("/api/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in doc["paths"].items()
                  for method in item if method != "parameters"}
    served = set()
    for r in app.url_map.iter_rules():
        if r.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
            served |= {(path, m) for m in r.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


@pytest.mark.parametrize("url", ["/api/holds", "/api/requests/art10", "/api/users"])
def test_malformed_json_bodies_get_a_clear_400(site, url):
    app, _ = site
    c = api_login(app, "t.admin" if "users" in url else "b.beheerder")
    for body in ([], "text", {"camera": 5}, {"name": ["x"], "role": {}, "password": None}):
        r = api(c, "POST", url, body)
        assert r.status_code in (400, 403) and r.get_json()["error"], (url, body)


def test_a_playback_window_is_narrowed_by_from_and_to(site):
    app, config = site
    c = api_login(app, "b.beheerder")
    day = footage_day(config)
    whole = c.get(f"/api/cameras/cam/segments/{day}").get_json()
    assert whole
    # a minute 12 hours away from the footage, which can lie anywhere in the day
    empty = (datetime.fromtimestamp(footage_span(config)[0], AMSTERDAM).hour + 12) % 24
    assert c.get(f"/api/cameras/cam/segments/{day}?from={empty:02d}:00&to={empty:02d}:01"
                 ).get_json() == []
    bad = c.get(f"/api/cameras/cam/segments/{day}?from=25:00")
    assert bad.status_code == 400 and "14:05" in bad.get_json()["error"]
    assert c.get(f"/api/cameras/cam/segments/{day}?from=10:00&to=09:00").status_code == 400


def test_dpo_makes_the_report_R83(site, tmp_path):
    app, config = site
    dpo = api_login(app, "d.dpo")
    assert dpo.get("/report").status_code == 200
    first, today = period(footage_day(config), config=config)
    pdf = dpo.get(f"/report?from={first}&to={today}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True,
                          text=False).stdout.decode()
    assert "Rapportage camerasysteem" in text and "cam" in text
    assert dpo.get(f"/report?from={today}&to=2020-01-01").status_code == 400
    # Decisions outside the rules (art. 12, R-80): tests/test_decisions.py.
