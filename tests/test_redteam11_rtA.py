"""Red team of issue 11 (rtA): footage and names by a side door in what issue 11 added.

Real parts: the Flask app over its test client, a real recorded store (ingested by a real `nvr`
subprocess), real SQLite governance and logbooks."""

from __future__ import annotations

import hashlib

from conftest import PASSWORD
from deviceday import footage_day
from webutil import api, client, login

from firmware.config import load
from firmware.governance.service import Governance


def _entries(config, book: str, action: str) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [e for e in gov.logbook.entries(book) if e["action"] == action]
    finally:
        gov.close()


def _logs_in(app, name: str) -> bool:
    c = client(app)
    c.get("/login")
    r = api(c, "POST", "/api/login", {"name": name, "password": PASSWORD})
    return r.status_code == 200


def _tech_account(app, t, name: str) -> None:
    """A second technisch beheerder, its password set by its owner with the setup code."""
    made = api(t, "POST", "/api/users", {"name": name, "role": "technisch-beheerder"})
    assert made.status_code == 201, made.get_json()
    anon = client(app)
    anon.get("/login")
    r = api(anon, "POST", "/api/reset", {"name": name, "code": made.get_json()["setup_code"],
                                         "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    assert _logs_in(app, name)


def test_a_role_change_does_not_put_an_account_proposed_for_enabling_in_force_R10(site):
    """Four eyes on enabling again (issue 11 item 4): the technisch beheerder proposes, a
    manager approves, whatever the role. Side door: propose, then 'change' the account's role
    to technisch beheerder (the role it already had, or a new one): the role change set it
    approved at once, so the account was in force without any manager."""
    app, config = site
    t = login(app, "t.admin")
    _tech_account(app, t, "t.oud")
    assert api(t, "POST", "/api/users/t.oud/disable",
               {"reason": "uit dienst per 1 november"}).status_code == 200
    assert not _logs_in(app, "t.oud")
    assert api(t, "POST", "/api/users/t.oud/enable",
               {"reason": "toch weer in dienst"}).status_code == 200
    assert not _logs_in(app, "t.oud")                      # awaits a manager: right
    r = api(t, "POST", "/api/users/t.oud/role", {"role": "technisch-beheerder"})
    assert r.status_code in (200, 400), r.get_json()
    assert not _logs_in(app, "t.oud"), "in force without a manager's approval"
    m = login(app, "m.manager")
    pending = api(m, "GET", "/api/users/pending").get_json()
    assert "t.oud" in {u["name"] for u in pending}
    work = api(m, "GET", "/api/work").get_json()["items"]                                    # and on the manager's desk
    assert "account t.oud" in {i["subject"] for i in work if i["kind"] == "approve-account"}
    assert api(m, "POST", "/api/users/t.oud/approve",
               {"role": "technisch-beheerder"}).status_code == 200
    assert _logs_in(app, "t.oud")


def test_a_role_change_of_a_beheerder_proposed_for_enabling_keeps_four_eyes_R10(site):
    """The same side door from a footage role: a disabled beheerder proposed for enabling and
    moved to technisch beheerder must not come into force without the manager either."""
    app, config = site
    t = login(app, "t.admin")
    made = api(t, "POST", "/api/users", {"name": "b.oud", "role": "beheerder"})
    anon = client(app)
    anon.get("/login")
    assert api(anon, "POST", "/api/reset", {"name": "b.oud", "code": made.get_json()[
        "setup_code"], "password": PASSWORD}).status_code == 200
    m = login(app, "m.manager")
    assert api(m, "POST", "/api/users/b.oud/approve", {"role": "beheerder"}).status_code == 200
    assert _logs_in(app, "b.oud")
    assert api(t, "POST", "/api/users/b.oud/disable",
               {"reason": "onderzoek naar misbruik"}).status_code == 200
    assert api(t, "POST", "/api/users/b.oud/enable",
               {"reason": "onderzoek afgerond"}).status_code == 200
    api(t, "POST", "/api/users/b.oud/role", {"role": "technisch-beheerder"})
    assert not _logs_in(app, "b.oud"), "in force without a manager's approval"


def test_a_second_reason_is_logged_with_the_thumbnail_it_shows_art7_lid2(site):
    """A thumbnail is a showing, logged 'once per person, segment and grant within 10
    minutes' (docs/web.md). A second reason (another incident) stated within those minutes
    showed the same picture again with no entry naming that reason: the book said the
    picture was seen only for the first."""
    app, config = site
    c = login(app, "b.beheerder")
    day = c.get("/api/cameras/cam/segments/" + footage_day(config)).get_json()
    segment = day[0]["id"]
    reasons = ["fietsendiefstal bij de ingang", "vernieling aan de gevel, melding 4411"]
    for reason in reasons:
        assert api(c, "POST", "/api/cameras/cam/access", {
            "action": "playback", "purpose": "incident", "reason": reason}).status_code == 200
        r = c.get(f"/segments/{segment}/thumbnail")
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
    shown = [e for e in _entries(config, "inzien", "playback-segment-shown")
             if e["actor"] == "b.beheerder" and segment in e["details"]]
    assert [e["reason"] for e in shown][-2:] == reasons


def test_the_home_page_of_a_device_without_any_request_answers(tmp_path):
    """Found on the way: on a device where no request was ever registered (a new device) the
    start page of every role that reads requests, where login lands, and /api/work answered
    'De index van de opnames is even niet bereikbaar (no such table: requests)'."""
    from conftest import staff, write_config
    from firmware.web import create_app
    config = write_config(tmp_path)
    staff(config)
    app = create_app(load(config))
    app.config["TESTING"] = True
    for name in ("m.manager", "b.beheerder", "p.officer"):
        c = login(app, name)
        assert c.get("/").status_code == 200, name
        r = api(c, "GET", "/api/work")
        assert r.status_code == 200 and r.get_json()["requests"] == [], name


def test_reopening_a_live_stream_is_no_activity_R81(site):
    """'Polling is no activity': /live/status does not keep a session alive, but the grid's
    script also opens the MJPEG stream by itself, and tries again at every poll while a tile
    is 'Geen beeld ontvangen' (the 12 streams taken) or whenever the state turns live again:
    each of those requests counted as the person's activity, so a screen left open never
    idled out (R-81)."""
    from firmware.web.live import MAX_STREAMS, _streams
    app, config = site
    c = login(app, "b.beheerder")
    with c.session_transaction() as s:
        token, sid = s["csrf"], hashlib.sha256(s["sid"].encode()).hexdigest()
    assert c.post("/live/access", data={"csrf": token, "purpose": "safety",
                                        "reason": "toezicht op de ingang"}).status_code == 302
    gov = Governance.open(load(config))
    try:
        gov.accounts.db.execute("UPDATE sessions SET seen = seen - 600 WHERE id = ?",
                                (sid,))                                  # 10 min idle
        seen = gov.accounts.db.execute("SELECT seen FROM sessions WHERE id = ?",
                                       (sid,)).fetchone()[0]
        for _ in range(MAX_STREAMS):                   # twelve streams open elsewhere
            assert _streams.acquire(blocking=False)
        try:
            for _ in range(3):                         # the script's retries
                assert c.get("/cameras/cam/live.mjpeg").status_code == 503
        finally:
            for _ in range(MAX_STREAMS):
                _streams.release()
        assert gov.accounts.db.execute("SELECT seen FROM sessions WHERE id = ?", (
            sid,)).fetchone()[0] == seen, "the stream touched it"
    finally:
        gov.close()


def test_the_day_page_names_no_requester_to_whom_may_not_read_requests_R11(site):
    """The day page draws holds as bands, for everyone who may play back. The hold of an art. 10
    request taken in without a reference is labelled 'request N: <requester's name>', and that
    label went into the page (data-drawing, the band's title) of a designee (R-11: requests
    'no') while the page took care to draw the request band only for those who read
    requests."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    app, config = site
    tz = ZoneInfo(load(config).device.timezone)
    now = datetime.now(tz).replace(tzinfo=None)
    officer = login(app, "p.officer")
    taken = api(officer, "POST", "/api/requests/art10", {
        "requester": "Henk Zwartjes", "requester_kind": "citizen",
        "motivation": "mijn auto is beschadigd op het parkeerterrein", "camera": "cam",
        "start": (now - timedelta(minutes=25)).isoformat(timespec="seconds"),
        "end": (now - timedelta(minutes=15)).isoformat(timespec="seconds")})
    assert taken.status_code == 201, taken.get_json()
    b = login(app, "b.beheerder")
    assert api(b, "POST", "/api/delegations", {
        "grantee": "a.designee", "actions": ["playback"], "cameras": ["cam"],
        "reason": "vervanging tijdens vakantie",
        "expires": (now + timedelta(hours=2)).isoformat(timespec="minutes")}).status_code == 201
    day = (now - timedelta(minutes=25)).date().isoformat()     # where the request's band starts
    assert "Henk Zwartjes" in b.get(f"/cameras/cam/day/{day}").get_data(as_text=True)
    designee = login(app, "a.designee")
    page = designee.get(f"/cameras/cam/day/{day}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '"holds": [[' in html or '"holds":[[' in html           # the band is still drawn
    assert "Henk Zwartjes" not in html


def test_change_role_clicked_without_a_new_role_harms_nobody_issue11_item4(site):
    """/users shows each account's role change as a select set to its current role and a
    button 'Rol wijzigen'. One click on it without choosing (no confirmation, no reason) took
    the account out of force until a manager approved it again, ended its sessions and its
    delegations: disabling by one click, through a side door."""
    app, config = site
    t = login(app, "t.admin")
    made = api(t, "POST", "/api/users", {"name": "b.klik", "role": "beheerder"})
    anon = client(app)
    anon.get("/login")
    assert api(anon, "POST", "/api/reset", {"name": "b.klik", "code": made.get_json()[
        "setup_code"], "password": PASSWORD}).status_code == 200
    assert api(login(app, "m.manager"), "POST", "/api/users/b.klik/approve",
               {"role": "beheerder"}).status_code == 200
    b = login(app, "b.klik")
    users = t.get("/users").get_data(as_text=True)
    form = users.split('action="/users/b.klik/role"', 1)[1].split("</form>", 1)[0]
    assert '<option value="beheerder" selected>' in form         # what the click sends
    with t.session_transaction() as s:
        token = s["csrf"]
    r = t.post("/users/b.klik/role", data={"csrf": token, "role": "beheerder"})
    assert r.status_code == 400 and "niets gewijzigd" in r.get_data(as_text=True)
    assert api(b, "GET", "/api/session").get_json()["user"] == "b.klik"   # still logged in
    assert _logs_in(app, "b.klik")
