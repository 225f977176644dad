"""No harm by one click (issue 11 item 4), the pages: a confirmation page with a reason before
a hold is released, a request closed, an account disabled or enabled again, a delegation
revoked or a visit ended; and a form a rule refused comes back filled in, the message next to
its field (aria-invalid, aria-describedby), status 400."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from webutil import api, client, login

from firmware.config import load
from firmware.governance.service import Governance

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(minutes: float) -> str:
    """A local time `minutes` from now, as a datetime-local field sends it."""
    return (datetime.now(AMSTERDAM) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def csrf(c) -> str:
    with c.session_transaction() as s:
        return s["csrf"]


def post(c, url: str, **form):
    return c.post(url, data={"csrf": csrf(c), **form})


def page(r) -> str:
    return r.get_data(as_text=True)


def field(html: str, name: str) -> str:
    """The opening tag of the form field `name` (the first on the page)."""
    found = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', html)
    assert found, f"no field {name}"
    return found.group(0)


def entries(config, book: str, action: str) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [e for e in gov.logbook.entries(book) if e["action"] == action]
    finally:
        gov.close()


def place_hold(c) -> int:
    r = post(c, "/holds", camera="cam", start=local(-30), end=local(-10),
             reason="vernieling fietsenstalling", reference="INC-2026-118")
    assert r.status_code == 302, page(r)
    return max(h["id"] for h in c.get("/api/holds").get_json())


def test_releasing_a_hold_is_confirmed_with_a_reason_R41(site):
    app, config = site
    b = login(app, "b.beheerder")
    hold = place_hold(b)
    first = post(b, f"/holds/{hold}/release")                    # the list's button
    assert first.status_code == 200
    html = page(first)
    assert "Bewaren %d opheffen" % hold in html and 'name="confirm" value="yes"' in html
    assert "required" in field(html, "reason")
    assert next(h for h in b.get("/api/holds").get_json() if h["id"] == hold)["released"] is None
    short = post(b, f"/holds/{hold}/release", confirm="yes", reason="ok")
    assert short.status_code == 400
    html = page(short)
    tag = field(html, "reason")
    assert 'value="ok"' in tag and 'aria-invalid="true"' in tag
    assert 'aria-describedby="error-reason"' in tag and 'id="error-reason"' in html
    assert "vraagt een reden in woorden, minstens 5 zichtbare tekens" in html
    done = post(b, f"/holds/{hold}/release", confirm="yes", reason="incident afgehandeld")
    assert done.status_code == 302
    assert next(h for h in b.get("/api/holds").get_json() if h["id"] == hold)["released"]
    assert entries(config, "usage", "hold-release")[-1]["reason"] == "incident afgehandeld"


def test_the_hold_of_an_open_request_is_not_released_by_hand_R41_R74(site):
    app, _ = site
    b = login(app, "b.beheerder")
    r = post(b, "/requests/art9", reference="PL0900-2026-5", requester="Politie",
             legal_basis="126nd", camera="cam", start=local(-30), end=local(-10))
    assert r.status_code == 302, page(r)
    req = max(q["id"] for q in b.get("/api/requests").get_json())
    hold = b.get(f"/api/requests/{req}").get_json()["hold_id"]
    refused = post(b, f"/holds/{hold}/release", confirm="yes", reason="niet meer nodig")
    assert refused.status_code == 400
    assert f"verzoek {req}, dat nog niet is afgesloten" in page(refused)
    closed = post(b, f"/requests/{req}/close", confirm="yes", reason="beelden overgedragen")
    assert closed.status_code == 302
    assert next(h for h in b.get("/api/holds").get_json() if h["id"] == hold)["released"]


def test_a_refused_form_comes_back_filled_in_with_the_field_marked(site):
    app, _ = site
    p = login(app, "p.officer")
    r = post(p, "/requests/art10", requester="J. de Vries", requester_kind="citizen",
             motivation="mijn fiets is gestolen bij de ingang", camera="cam",
             start="gisteren", end=local(-10))
    assert r.status_code == 400
    html = page(r)
    assert 'value="mijn fiets is gestolen bij de ingang"' in field(html, "motivation")
    assert 'value="J. de Vries"' in field(html, "requester")
    start = field(html, "start")
    assert 'value="gisteren"' in start and 'aria-invalid="true"' in start
    assert "is een datum en tijd zoals" in html
    assert "aria-invalid" not in field(html, "motivation")
    # a rule below the web names its field too: a window that ends in the future
    r = post(p, "/requests/art10", requester="J. de Vries", requester_kind="citizen",
             motivation="mijn fiets is gestolen bij de ingang", camera="cam",
             start=local(-10), end=local(60))
    assert r.status_code == 400 and 'aria-invalid="true"' in field(page(r), "end")


def test_hold_delegation_visit_and_account_forms_keep_their_input(site):
    app, _ = site
    b = login(app, "b.beheerder")
    r = post(b, "/holds", camera="cam", start=local(-10), end=local(90),
             reason="ruzie bij de balie", reference="INC-9")
    html = page(r)
    assert r.status_code == 400 and 'value="ruzie bij de balie"' in field(html, "reason")
    assert 'aria-invalid="true"' in field(html, "end")
    r = post(b, "/delegations", grantee="a.designee", actions="playback", cameras="cam",
             reason="vakantie van de beheerder", expires=local(-60))
    html = page(r)
    assert r.status_code == 400 and 'value="vakantie van de beheerder"' in field(html, "reason")
    assert 'aria-invalid="true"' in field(html, "expires")
    assert re.search(r'name="actions" value="playback" checked', html)
    r = post(b, "/visits", visitor="agent K. Bakker", organisation="politie",
             identity="dienstpas 1234", legal_basis="126nd", reason="aangifte",
             start=local(-30), end=local(-10), minutes="30")
    html = page(r)
    assert r.status_code == 400 and 'value="agent K. Bakker"' in field(html, "visitor")
    assert "kies een of meer camera" in html
    t = login(app, "t.admin")
    r = post(t, "/users", name="j jansen!", role="beheerder")
    html = page(r)
    assert r.status_code == 400 and 'value="j jansen!"' in field(html, "name")
    assert 'aria-invalid="true"' in field(html, "name")


def test_disable_and_enable_again_are_confirmed_and_four_eyes_R10(site):
    app, config = site
    t = login(app, "t.admin")
    first = post(t, "/users/d.dpo/disable")
    assert first.status_code == 200 and "Account d.dpo uitschakelen" in page(first)
    assert post(t, "/users/d.dpo/disable", confirm="yes",
                reason="tijdelijk andere functie").status_code == 302
    users = page(t.get("/users"))
    assert "/users/d.dpo/enable" in users and "Weer inschakelen" in users
    last = post(t, "/users/t.admin/disable", confirm="yes", reason="ik vertrek vandaag")
    assert last.status_code == 400 and "laatste technisch beheerder in functie" in page(last)
    assert post(t, "/users/d.dpo/enable", confirm="yes",
                reason="terug in de oude functie").status_code == 302
    assert entries(config, "usage", "user-enable")[-1]["reason"] == "terug in de oude functie"
    m = login(app, "m.manager")
    assert "d.dpo" in page(m.get("/users/pending"))
    assert post(m, "/users/d.dpo/approve",
                role="functionaris-gegevensbescherming").status_code == 302
    login(app, "d.dpo")                                          # in force again


def test_revoking_a_delegation_and_ending_a_visit_are_confirmed_R12_art5_4(site):
    app, config = site
    b = login(app, "b.beheerder")
    r = post(b, "/delegations", grantee="a.designee", actions="playback", cameras="cam",
             reason="vakantie van de beheerder", expires=local(600))
    assert r.status_code == 302, page(r)
    did = max(d["id"] for d in b.get("/api/delegations").get_json())
    assert "Delegatie %d intrekken" % did in page(post(b, f"/delegations/{did}/revoke"))
    assert post(b, f"/delegations/{did}/revoke", confirm="yes",
                reason="beheerder weer terug").status_code == 302
    assert entries(config, "usage", "delegation-revoke")[-1]["reason"] == "beheerder weer terug"
    r = post(b, "/visits", visitor="agent K. Bakker", organisation="politie",
             identity="dienstpas 1234", legal_basis="126nd", reason="aangifte",
             cameras="cam", start=local(-30), end=local(-10), minutes="30")
    assert r.status_code == 302, page(r)
    vid = max(v["id"] for v in b.get("/api/visits").get_json())
    assert "Bezoek %d beëindigen" % vid in page(post(b, f"/visits/{vid}/close"))
    assert post(b, f"/visits/{vid}/close", confirm="yes",
                reason="bezoekers vertrokken").status_code == 302
    assert entries(config, "inzien", "visit-closed")[-1]["reason"] == "bezoekers vertrokken"
    # the API takes the reason in its body, without a page
    assert api(b, "POST", f"/api/visits/{vid}/close", {}).status_code == 400


def test_the_decision_form_of_a_request_keeps_its_input_R70(site):
    app, _ = site
    p = login(app, "p.officer")
    r = post(p, "/requests/art10", requester="A. Jansen", requester_kind="citizen",
             motivation="mijn auto is beschadigd op het plein", camera="cam",
             start=local(-30), end=local(-10))
    assert r.status_code == 302, page(r)
    req = max(q["id"] for q in p.get("/api/requests").get_json())
    m = login(app, "m.manager")
    r = post(m, f"/requests/{req}/decision", approve="yes", reason="belang aangetoond",
             weighing="", blur="none")
    html = page(r)
    assert r.status_code == 400 and 'value="belang aangetoond"' in field(html, "reason")
    assert re.search(r'name="approve" value="yes" required checked', html)
    assert 'class="error field-error"' in html


def test_a_refused_form_of_a_missing_request_is_an_error_page_not_a_crash(site):
    app, _ = site
    m = login(app, "m.manager")
    r = post(m, "/requests/99999/decision", approve="yes", reason="belang aangetoond",
             weighing="", blur="none")
    assert r.status_code == 400 and "er is geen verzoek 99999" in page(r)
