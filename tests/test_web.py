"""The web interface: every endpoint has a rule, roles and sessions are enforced, footage needs a
reason, nothing is served without TLS (R-01, R-11, R-20, R-81)."""

from __future__ import annotations

import io
import json
import ssl
import urllib.request

import av
import pytest
from conftest import PASSWORD, nvr
from deviceday import footage_day
from webutil import ROLE_USERS, client, csrf_of, login, url_of

from firmware.config import load
from firmware.governance.roles import Action, Actor, Role, decide
from firmware.governance.service import Governance
from firmware.web.server import WebServer


def endpoints(app):
    for r in app.url_map.iter_rules():
        if r.endpoint != "static":
            yield r, app.view_functions[r.endpoint]


def test_every_endpoint_declares_who_may_reach_it_R20(site):
    app, _ = site
    missing = [r.rule for r, view in endpoints(app) if not hasattr(view, "nvr_access")]
    assert missing == []


def test_anonymous_users_reach_only_public_endpoints_R20(site):
    app, _ = site
    c = client(app)
    for r, view in endpoints(app):
        url = url_of(r.rule)
        response = c.get(url) if "GET" in r.methods else c.post(url, data={
            "csrf": csrf_of(c)})
        if r.endpoint == "enrollment.first_account":     # gone once the first accounts exist
            assert response.status_code == 404, url
        elif view.nvr_access == "public":
            assert response.status_code in (200, 400, 503), url     # 400: no login body
        else:
            assert response.status_code in (302, 401), (url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_gets_exactly_its_endpoints_R11(site, role):
    app, _ = site
    c = login(app, ROLE_USERS[role])
    actor = Actor(ROLE_USERS[role], role)
    for r, view in endpoints(app):
        if not isinstance(view.nvr_access, Action) or "GET" not in r.methods:
            continue
        url = url_of(r.rule)
        allowed = bool(decide(actor, view.nvr_access, camera="cam"))
        status = c.get(url).status_code
        assert (status != 403) == allowed, (role, url, status)


def test_csrf_is_required_on_every_post(site):
    app, _ = site
    c = client(app)
    assert c.post("/login", data={"name": "b.beheerder", "password": PASSWORD}).status_code == 400
    b = login(app, "b.beheerder")
    assert b.post("/cameras/cam/access", data={"purpose": "incident",
                                               "reason": "a long enough reason"}).status_code == 400
    assert b.post("/logout").status_code == 400


def test_login_starts_a_fresh_session_and_wrong_passwords_are_refused(site):
    app, _ = site
    c = client(app)
    token = csrf_of(c)
    with c.session_transaction() as s:
        s["planted"] = "by an attacker"
    r = c.post("/login", data={"name": "b.beheerder", "password": "wrong password!!",
                               "csrf": token})
    assert r.status_code == 200 and "Aanmelden mislukt" in r.get_data(True)
    c.post("/login", data={"name": "b.beheerder", "password": PASSWORD, "csrf": token})
    with c.session_transaction() as s:
        assert "planted" not in s and s["sid"]
    assert c.get("/api/session").get_json()["user"] == "b.beheerder"


def test_idle_session_expires_R81(site):
    app, config = site
    c = login(app, "b.beheerder")
    assert c.get("/").status_code == 200
    gov = Governance.open(load(config))                  # the session lives on the server
    gov.accounts.db.execute("UPDATE sessions SET seen = seen - 16 * 60")
    gov.close()
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_login_attempts_are_rate_limited(site):
    app, _ = site
    c = client(app)
    token = csrf_of(c)
    codes = [c.post("/login", data={"name": "nobody", "password": "x" * 12, "csrf": token},
                    environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code for _ in range(12)]
    assert codes[:10] == [200] * 10 and codes[-1] == 429


def test_path_traversal_is_refused(site):
    app, _ = site
    c = login(app, "b.beheerder")
    for url in ("/segments/..%2F..%2Fetc%2Fpasswd/video", "/segments/../../etc/passwd/video",
                "/cameras/..%2Fkeys/day/2026-04-24", "/cameras/cam/day/..%2F..%2Fx"):
        assert c.get(url).status_code == 404, url


def test_playback_needs_a_reason_then_streams_decrypted_mp4_with_seeking_R01(site):
    app, config = site
    c = login(app, "b.beheerder")
    day = footage_day(config)
    page = c.get(f"/cameras/cam/day/{day}").get_data(True)
    assert 'id="timeline"' in page and 'class="events"' in page and "Waarom" in page
    seg = json.loads(nvr("--config", str(config), "recordings", "list", "--json").stdout)[0]
    url = f"/segments/{seg['id']}/video"
    assert c.get(url).status_code == 428                     # no reason given yet
    with c.session_transaction() as s:
        token = s["csrf"]
    refused = c.post("/cameras/cam/access", data={"purpose": "incident", "reason": "x",
                                                  "csrf": token})
    assert refused.status_code == 403
    ok = c.post("/cameras/cam/access", data={"purpose": "incident", "csrf": token,
                                             "reason": "fietsendiefstal bij de ingang"})
    assert ok.status_code == 302
    full = c.get(url)
    assert full.status_code == 200 and full.mimetype == "video/mp4"
    with av.open(io.BytesIO(full.data)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert len(container.streams.audio) == 0
    part = c.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == full.data[100:200]
    inzien = Governance.open(load(config)).logbook.entries("inzien")
    assert inzien[-2]["actor"] == "b.beheerder" and inzien[-2]["action"] == "playback"
    assert inzien[-1]["action"] == "playback-segment-shown"   # what was served (art. 7.2)


def test_privacy_officer_may_view_but_technical_admin_may_not_R11(site):
    app, config = site
    day = footage_day(config)
    assert login(app, "p.officer").get(f"/cameras/cam/day/{day}").status_code == 200
    assert login(app, "t.admin").get(f"/cameras/cam/day/{day}").status_code == 403


def test_served_over_tls_with_hsts_R20(site, tmp_path):
    app, config = site
    cfg = load(config)
    server = WebServer(app, "127.0.0.1", 0, cfg.storage.key_dir)
    url = server.start()
    try:
        ctx = ssl.create_default_context(cafile=str(server.cert))
        ctx.check_hostname = False
        with urllib.request.urlopen(f"{url}/healthz", context=ctx, timeout=10) as r:
            assert r.status == 200 and json.loads(r.read()) == {"status": "alive"}
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        with pytest.raises(Exception):
            urllib.request.urlopen(url.replace("https", "http") + "/healthz", timeout=5).read()
    finally:
        server.stop()
