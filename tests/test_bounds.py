"""Input at the edges (issue 9, item 12): every time a person types is bounded below the web,
a stored date that cannot be shown never breaks a page or a document, the logbook's CSV export
carries no formulas, lone surrogates are refused as bad input, and a reason counts only its
visible characters. Through the real web app and the real `nvr` command."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import nvr, recorded_site, staff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webutil import PARAMS, ROLE_USERS, api, login

from firmware.config import load
from firmware.web import create_app

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FAR = {"start": "0001-01-01T00:00", "end": "9999-12-31T23:59"}
PAGES = ("/holds", "/api/holds", "/requests", "/api/requests", "/exports", "/api/exports",
         "/visits", "/api/visits", "/delegations", "/api/delegations")
INVISIBLE = ("\u200b" * 12, "\u200b\u200c\u200d\u2060\ufeff" * 3, "\u00a0\u2003\u3000" * 4,
             "\u0007\u001b\u007f" * 4, "\u2800\u3164\u115f" * 4, "\u0301\u20dd" * 6,
             "\U000e0041\U000e0042" * 5)


def local(dt: datetime) -> str:
    return dt.astimezone(AMSTERDAM).replace(tzinfo=None).isoformat(timespec="minutes")


def recent() -> dict:
    now = datetime.now(AMSTERDAM)
    return {"start": local(now - timedelta(minutes=25)), "end": local(now - timedelta(minutes=15))}


def site_app(tmp):
    config = recorded_site(tmp, {name: role for role, name in ROLE_USERS.items()})
    app = create_app(load(config))
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)     # a fault is a 500 here
    return app, config


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    return site_app(tmp_path_factory.mktemp("edges"))


def every_page_answers(app) -> None:
    for name in ("b.beheerder", "p.officer", "m.manager", "d.dpo"):
        c = login(app, name)
        for url in PAGES:
            status = c.get(url).status_code
            assert status in (200, 403), (name, url, status)


def test_years_0001_and_9999_are_refused_and_every_page_still_answers_R41_R60_R70_R12(edge):
    app, config = edge
    b, p = login(app, "b.beheerder"), login(app, "p.officer")
    tries = {
        "hold": api(b, "POST", "/api/holds", {"camera": "cam", **FAR, "reason": "vernieling",
                                               "reference": "incident 1"}),
        "art9": api(b, "POST", "/api/requests/art9", {"camera": "cam", **FAR,
                                                       "reference": "PL-1", "requester": "Politie",
                                                       "legal_basis": "126nd"}),
        "art10 window": api(p, "POST", "/api/requests/art10", {
            "camera": "cam", **FAR, "requester": "J. de Vries", "requester_kind": "citizen",
            "motivation": "fiets gestolen bij de ingang"}),
        "art10 received": api(p, "POST", "/api/requests/art10", {
            "camera": "cam", **recent(), "requester": "J. de Vries", "requester_kind": "citizen",
            "motivation": "fiets gestolen bij de ingang", "received": "9999-12-31T23:59"}),
        "delegation": api(b, "POST", "/api/delegations", {
            "grantee": "a.designee", "actions": ["live"], "cameras": ["cam"],
            "reason": "vakantie", "expires": "9999-12-31T23:59"}),
        "visit": api(b, "POST", "/api/visits", {
            "visitor": "agent K. Bakker", "organisation": "politie", "identity": "dienstpas",
            "legal_basis": "126nd", "reason": "aangifte", "cameras": ["cam"], **FAR,
            "minutes": 30}),
    }
    for what, r in tries.items():
        assert r.status_code == 400, (what, r.status_code, r.get_json())
        assert "R-" in r.get_json()["error"] or "jaar" in r.get_json()["error"], what
    every_page_answers(app)
    env = staff(config)
    out = config.parent / "rapport.pdf"
    today = datetime.now(AMSTERDAM).date()
    report = nvr("--config", str(config), "report", "--from", str(today - timedelta(days=30)),
                 "--to", str(today), "--out", str(out), "--user", "b.beheerder", env=env)
    assert report.returncode == 0, report.stderr
    far = nvr("--config", str(config), "report", "--from", "0001-01-01", "--to", "9999-12-31",
              "--out", str(out), "--user", "b.beheerder", env=env)
    assert far.returncode == 1 and "Traceback" not in far.stderr, far.stderr


def test_the_cli_refuses_the_same_times_as_the_web(edge):
    app, config = edge
    env = staff(config)
    base = ("--config", str(config))
    user = ("--user", "b.beheerder")
    hold = nvr(*base, "hold", "add", "--camera", "cam", "--start", "0001-01-01T00:00:00Z",
               "--end", "9999-12-31T23:59:00Z", "--reason", "vernieling", "--reference", "x",
               *user, env=env)
    assert hold.returncode == 1 and "future" in hold.stderr, hold.stderr
    request = nvr(*base, "request", "add", "--article", "10", "--requester", "J. de Vries",
                  "--motivation", "fiets gestolen bij de ingang", "--received",
                  "9999-12-31T23:59:00Z", "--camera", "cam",
                  "--start", (datetime.now(AMSTERDAM) - timedelta(hours=1)).isoformat(),
                  "--end", datetime.now(AMSTERDAM).isoformat(), "--user", "p.officer", env=env)
    assert request.returncode == 1 and "future" in request.stderr, request.stderr
    delegation = nvr(*base, "delegation", "add", "--grantee", "a.designee", "--actions", "live",
                     "--cameras", "cam", "--reason", "vakantie", "--expires",
                     "2099-01-01T00:00:00Z", *user, env=env)
    assert delegation.returncode == 1 and "a year" in delegation.stderr, delegation.stderr
    listed = nvr(*base, "request", "list", "--json", *user, env=env)
    assert listed.returncode == 0, listed.stderr


def test_a_window_lies_in_the_retention_period_or_inside_a_hold_R40_R41(edge):
    app, config = edge
    b = login(app, "b.beheerder")
    now = datetime.now(AMSTERDAM)
    old = {"start": local(now - timedelta(days=30)), "end": local(now - timedelta(days=29))}
    refused = api(b, "POST", "/api/holds", {"camera": "cam", **old, "reason": "vernieling",
                                             "reference": "incident 2"})
    assert refused.status_code == 400 and "28 dagen" in refused.get_json()["error"]
    future = {"start": local(now - timedelta(hours=1)), "end": local(now + timedelta(hours=2))}
    assert api(b, "POST", "/api/holds", {"camera": "cam", **future, "reason": "vernieling",
                                          "reference": "incident 3"}).status_code == 400
    # Footage older than 28 days exists only inside a hold: a request for it is accepted
    # when an active hold covers it (the hold is written as an earlier firmware kept it).
    db = sqlite3.connect(config.parent / "data" / "index.sqlite3")
    t0, t1 = (now - timedelta(days=31)).timestamp(), (now - timedelta(days=29)).timestamp()
    db.execute("INSERT INTO holds (camera_id, start, end, reason, reference, created, "
               "wrapped_key) VALUES ('cam', ?, ?, 'incident', 'PL-old', ?, x'00')",
               (t0, t1, t0 + 3600))
    db.commit()
    db.close()
    held = {"start": local(now - timedelta(days=30)), "end": local(now - timedelta(days=29, hours=12))}
    inside = api(b, "POST", "/api/requests/art9", {"camera": "cam", **held, "reference": "PL-2",
                                                    "requester": "Politie",
                                                    "legal_basis": "126nd"})
    assert inside.status_code == 201, inside.get_json()
    older = {"start": local(now - timedelta(days=40)), "end": local(now - timedelta(days=39))}
    outside = api(b, "POST", "/api/requests/art9", {"camera": "cam", **older, "reference": "PL-3",
                                                     "requester": "Politie",
                                                     "legal_basis": "126nd"})
    assert outside.status_code == 400


def test_a_delegation_lasts_at_most_a_year_and_a_received_date_is_not_ahead_R12_R72(edge):
    app, _ = edge
    b, p = login(app, "b.beheerder"), login(app, "p.officer")
    now = datetime.now(AMSTERDAM)
    body = {"grantee": "a.designee", "actions": ["live"], "cameras": ["cam"],
            "reason": "vakantievervanging"}
    assert api(b, "POST", "/api/delegations",
               {**body, "expires": local(now + timedelta(days=400))}).status_code == 400
    assert api(b, "POST", "/api/delegations",
               {**body, "expires": local(now + timedelta(days=300))}).status_code == 201
    art10 = {"camera": "cam", **recent(), "requester": "J. de Vries", "requester_kind": "citizen",
             "motivation": "fiets gestolen bij de ingang"}
    ahead = api(p, "POST", "/api/requests/art10",
                {**art10, "received": local(now + timedelta(days=2))})
    assert ahead.status_code == 400 and "toekomst" in ahead.get_json()["error"]
    assert api(p, "POST", "/api/requests/art10",
               {**art10, "received": local(now - timedelta(hours=1))}).status_code == 201


def test_a_bad_stored_date_never_breaks_a_page_or_a_document(tmp_path):
    """Rows as earlier firmware stored them, with years 0001 and 9999 and beyond: pages, API,
    the report, the CLI's lists show them as unreadable instead of failing."""
    app, config = site_app(tmp_path)
    from firmware.governance.service import Governance
    env = staff(config)
    gov = Governance.open(load(config))
    gov.requests(app.extensions["nvr"]["store"])      # the requests table exists
    gov.close()
    db = sqlite3.connect(config.parent / "data" / "index.sqlite3")
    low, high, huge = -62135596800.0, 253402300799.0, 1e300
    db.execute("INSERT INTO holds (camera_id, start, end, reason, reference, created, "
               "wrapped_key) VALUES ('cam', ?, ?, 'r', 'ref', ?, x'00')", (low, high, huge))
    db.execute("INSERT INTO requests (article, reference, requester, requester_kind, camera_id, "
               "start, end, received, decision_due, status, created_by, created) VALUES "
               "(10, 'x', 'J', 'citizen', 'cam', ?, ?, ?, ?, 'open', 'p.officer', ?)",
               (low, high, high, huge, time.time()))
    db.execute("INSERT INTO requests (article, reference, requester, requester_kind, camera_id, "
               "start, end, received, status, created_by, created) VALUES "
               "(9, 'PL', 'Politie', 'police-or-prosecutor', 'cam', ?, ?, ?, 'registered', "
               "'b.beheerder', ?)", (low, high, time.time(), time.time()))
    db.execute("INSERT INTO visits (visitor, organisation, identity, legal_basis, reason, "
               "cameras, start, end, expires, opened_by, opened) VALUES ('K', 'politie', "
               "'pas', '126nd', 'aangifte', '[\"cam\"]', ?, ?, ?, 'b.beheerder', ?)",
               (low, high, huge, time.time()))
    db.execute("INSERT INTO delegations (grantee, actions, cameras, reason, expires, "
               "granted_by, granted) VALUES ('a.designee', '[\"live\"]', '[\"cam\"]', "
               "'vakantie', ?, 'b.beheerder', ?)", (-huge, time.time()))
    db.commit()
    db.close()
    every_page_answers(app)
    b = login(app, "b.beheerder")
    assert b.get("/requests/1").status_code == 200
    assert b.get("/requests/2").status_code == 200
    shown = b.get("/api/requests").get_json()
    assert "ongeldig" in shown[0]["decision_due_local"]
    out = tmp_path / "rapport.pdf"
    today = datetime.now(AMSTERDAM).date()
    for args in (("report", "--from", str(today - timedelta(days=1)), "--to", str(today),
                  "--out", str(out)), ("request", "list", "--json"),
                 ("request", "show", "1", "--json"), ("hold", "list", "--json"),
                 ("request", "declaration-pdf", "2", "--out", str(tmp_path / "v.pdf"))):
        result = nvr("--config", str(config), *args, "--user", "b.beheerder", env=env)
        assert result.returncode == 0, (args, result.stderr)
    assert b.get(f"/report?from={today}&to={today}").status_code == 200


def test_when_never_raises():
    from firmware.governance.bounds import when
    tz = ZoneInfo("Europe/Amsterdam")
    assert when(None, tz) == ""
    assert when(1_800_000_000.0, tz) == "2027-01-15 09:00"
    assert when(1_800_000_000.0, tz, iso=True) == "2027-01-15T09:00:00+01:00"
    for bad in (-62135596800.0, 253402300799.0, 1e300, -1e300, float("nan"), float("inf"),
                "2026-01-01", b"\x00", 10**400):
        assert "ongeldig" in when(bad, tz)
        assert "ongeldig" in when(bad, tz, iso=True)


# --- formulas in the CSV export --------------------------------------------------------------

FORMULAS = ("=HYPERLINK(\"http://evil.example\",\"klik\")", "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(A1:A9)")
LEADING = ("\t=1+1", "  -1", "\r@SUM(A1)", " \t +1")     # the web strips these; the CLI not


def test_csv_logbook_export_carries_no_formulas_R50(edge, tmp_path):
    app, config = edge
    b = login(app, "b.beheerder")
    env = staff(config)
    now = datetime.now(AMSTERDAM)
    for i, formula in enumerate(FORMULAS):
        r = api(b, "POST", "/api/holds", {"camera": "cam", **recent(), "reason": formula,
                                           "reference": f"{formula} {i}"})
        assert r.status_code == 201, r.get_json()
    for formula in LEADING:
        r = nvr("--config", str(config), "hold", "add", "--camera", "cam", "--start",
                (now - timedelta(minutes=30)).isoformat(), "--end",
                (now - timedelta(minutes=10)).isoformat(), "--reason", formula,
                "--reference", formula, "--user", "b.beheerder", env=env)
        assert r.returncode == 0, r.stderr
    got = b.get("/logbooks/usage/csv")
    assert got.status_code == 200
    out = tmp_path / "usage.csv"
    cli = nvr("--config", str(config), "logbook", "export", "--book", "usage", "--format", "csv",
              "--out", str(out), "--user", "b.beheerder", env=env)
    assert cli.returncode == 0, cli.stderr
    for text in (got.data.decode("utf-8"), out.read_bytes().decode("utf-8")):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        entries = rows[1:rows.index([])]             # the signed head statement follows
        reasons = [r[6] for r in entries]
        for formula in FORMULAS + LEADING:
            assert "'" + formula in reasons, formula          # kept, but inert
        for row in rows:
            for cell in row:
                bare = cell.lstrip(" \t\r\n")
                assert not bare or bare[0] not in "=+-@" or cell.startswith("'"), cell
                assert not cell.startswith(("\t", "\r")), cell


# --- lone surrogates ------------------------------------------------------------------------

SURROGATE = "\ud800"


def json_with_surrogates(body) -> bytes:
    """JSON text with lone surrogates as \\ud800 escapes: valid JSON syntax, not valid text."""
    return json.dumps(body).encode()


def test_lone_surrogates_are_bad_input_never_a_server_error(edge):
    app, _ = edge
    b = login(app, "b.beheerder")
    with b.session_transaction() as s:
        token = s["csrf"]
    body = {"camera": "cam", **recent(), "reason": f"reden {SURROGATE} vernieling",
            "reference": "x"}
    r = b.post("/api/holds", data=json_with_surrogates(body),
               content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and "surrogate" in r.get_json()["error"]
    r = b.post("/api/holds", data=json_with_surrogates({**body, "reason": "vernieling",
                                                        SURROGATE: "x"}),
               content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 400
    r = b.post("/api/visits", data=json_with_surrogates({
        "visitor": "K", "organisation": "politie", "identity": "pas", "legal_basis": "126nd",
        "reason": "aangifte", "cameras": ["cam", SURROGATE], **recent(), "minutes": 30}),
        content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 400
    # Forms, query strings and paths carry bytes: undecodable ones never become surrogates.
    for url in ("/holds", "/logbooks/usage?before=%ED%A0%80", "/cameras/%ED%A0%80/day/2026-11-01",
                "/cameras/cam/day/%ED%A0%80", "/cameras/cam/day/2026-11-01?from=%ED%A0%80",
                "/report?from=%ED%A0%80&to=%ED%B0%80", "/requests/%ED%A0%80"):
        assert b.get(url).status_code < 500, url
    r = b.post("/holds", data=b"csrf=" + token.encode() + b"&camera=cam&start=%ED%A0%80"
               b"&end=%ED%A0%80&reason=%ED%A0%80%ED%B0%80&reference=x",
               content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400


def operations(app) -> list[tuple[str, str, dict]]:
    """Every operation of /api/openapi.json: method, path (parameters filled) and the
    properties of its JSON body."""
    doc = app.test_client().get("/api/openapi.json").get_json()
    ops = []
    for path, methods in doc["paths"].items():
        url = path
        for name, value in PARAMS.items():
            url = url.replace("{" + name + "}", value)
        for method, op in methods.items():
            if method not in ("get", "post"):
                continue
            schema = (op.get("requestBody", {}).get("content", {})
                      .get("application/json", {}).get("schema", {}))
            ops.append((method.upper(), url, schema.get("properties", {})))
    return ops


SURROGATE_TEXT = st.tuples(st.text(max_size=6), st.sampled_from(["\ud800", "\udfff", "\udc80"]),
                           st.text(max_size=6)).map("".join)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """A site of its own: the fuzz calls every operation, also those that change accounts."""
    return site_app(tmp_path_factory.mktemp("fuzzed"))


@pytest.mark.parametrize("user", ["b.beheerder", "p.officer", "m.manager"])
def test_generated_bodies_with_lone_surrogates_never_cause_a_server_error(fuzzed, user):
    """The schemathesis-style fuzz, with the text schemathesis does not generate: every JSON
    member of every API operation gets strings with lone surrogates."""
    app, _ = fuzzed
    c = login(app, user)
    with c.session_transaction() as s:
        token = s["csrf"]
    ops = operations(app)
    assert len(ops) >= 35

    for method, url, props in ops:
        if method == "GET":
            bad = "%ED%A0%80"                   # the UTF-8 form of a surrogate: undecodable
            r = c.get(f"{url}?from={bad}&to={bad}&before={bad}&next={bad}")
            assert r.status_code < 500, (url, r.status_code)
            continue
        if url in ("/api/logout",):
            continue

        @settings(max_examples=6, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(values=st.fixed_dictionaries({name: st.one_of(SURROGATE_TEXT,
                                                              st.lists(SURROGATE_TEXT,
                                                                       max_size=2))
                                             for name in props}))
        def check_body(values):
            r = c.open(url, method=method, data=json_with_surrogates(values),
                       content_type="application/json", headers={"X-CSRF-Token": token})
            assert r.status_code < 500, (method, url, values, r.status_code)
        check_body()


# --- reasons of invisible characters (R-01) ----------------------------------------------------

@pytest.mark.parametrize("blank", INVISIBLE)
def test_a_reason_counts_only_its_visible_characters_R01(edge, blank):
    app, _ = edge
    b, p = login(app, "b.beheerder"), login(app, "p.officer")
    access = api(b, "POST", "/api/cameras/cam/access",
                 {"action": "playback", "purpose": "incident", "reason": blank})
    assert access.status_code in (400, 403, 428), access.status_code
    assert "reden" in access.get_json()["error"]
    hold = api(b, "POST", "/api/holds", {"camera": "cam", **recent(), "reason": blank,
                                          "reference": "incident 9"})
    assert hold.status_code == 400
    art10 = api(p, "POST", "/api/requests/art10", {
        "camera": "cam", **recent(), "requester": "J. de Vries", "requester_kind": "citizen",
        "motivation": blank})
    assert art10.status_code == 400
    delegation = api(b, "POST", "/api/delegations", {
        "grantee": "a.designee", "actions": ["live"], "cameras": ["cam"], "reason": blank,
        "expires": local(datetime.now(AMSTERDAM) + timedelta(days=1))})
    assert delegation.status_code == 400
    visit = api(b, "POST", "/api/visits", {
        "visitor": "agent K. Bakker", "organisation": "politie", "identity": "dienstpas",
        "legal_basis": "126nd", "reason": blank, "cameras": ["cam"], **recent(), "minutes": 30})
    assert visit.status_code == 400
    decision = api(b, "POST", "/api/decisions", {"decided_by": "gemeentesecretaris",
                                                  "text": blank, "advice": "positief"})
    assert decision.status_code == 400


def test_a_reason_with_accents_and_marks_still_counts_R01():
    from firmware.governance.access import check_reason, visible_length
    assert visible_length("e\u0301e\u0301n incident") == 11
    check_reason("incident", "  fiets\u200b gestolen  ")
    check_reason("incident", "\u5e8a\u9418\u5e8a\u9418\u5e8a\u9418\u5e8a\u9418")


# --- numbers and days out of range -------------------------------------------------------------

def test_huge_numbers_and_far_days_are_bad_input_never_a_server_error(edge):
    app, _ = edge
    b = login(app, "b.beheerder")
    for url in ("/cameras/cam/day/0001-01-01", "/cameras/cam/day/9999-12-31",
                "/api/cameras/cam/segments/9999-12-31", "/api/requests/99999999999999999999",
                "/requests/99999999999999999999/declaration.pdf",
                "/report?from=0001-01-01&to=9999-12-31"):
        r = b.get(url)
        assert r.status_code in (400, 404), (url, r.status_code)
    with b.session_transaction() as s:
        token = s["csrf"]
    for url, body in (("/api/exports", '{"request": Infinity, "password": "x"}'),
                      ("/api/exports", '{"request": 1e400, "password": "x"}'),
                      ("/api/holds/99999999999999999999999/release", "{}"),
                      ("/api/visits", '{"visitor": "a", "organisation": "politie", "identity": '
                                      '"pas", "legal_basis": "126nd", "reason": "aangifte", '
                                      '"cameras": ["cam"], "start": "2026-11-29T08:00", '
                                      '"end": "2026-11-29T08:30", "minutes": Infinity}')):
        r = b.post(url, data=body, content_type="application/json",
                   headers={"X-CSRF-Token": token})
        assert r.status_code in (400, 404), (url, r.status_code)


def test_the_bounds_at_their_edges(tmp_path):
    """bounds.py on its own, on a real index: the exact limits the docs name."""
    from datetime import date

    from firmware.governance import bounds
    from firmware.storage import index
    db = index.connect(tmp_path / "index.sqlite3")
    now, day = 1_800_000_000.0, bounds.DAY

    def window(start, end):
        bounds.footage_window(db, "cam", start, end, retention_days=28, error=ValueError,
                              now=now)

    window(now - 28 * day + 1, now + 299)                      # inside, five minutes' slack
    for start, end in ((now - 28 * day - 1, now), (now - 60, now + 301), (now, now - 1),
                       (float("nan"), now), (now - 60, float("inf"))):
        with pytest.raises(ValueError):
            window(start, end)
    db.execute("INSERT INTO holds (camera_id, start, end, reason, reference, created, "
               "wrapped_key) VALUES ('cam', ?, ?, 'r', 'ref', ?, x'00')",
               (now - 40 * day, now - 30 * day, now - 39 * day))
    window(now - 40 * day, now - 30 * day)                     # inside an active hold
    with pytest.raises(ValueError, match="hold of camera hal"):
        bounds.footage_window(db, ["cam", "hal"], now - 40 * day, now - 30 * day,
                              retention_days=28, error=ValueError, now=now)
    db.execute("UPDATE holds SET released = ?", (now - day,))
    with pytest.raises(ValueError, match="28 days"):
        window(now - 40 * day, now - 30 * day)                 # released: erased
    bounds.delegation_expiry(now + 366 * day, error=ValueError, now=now)
    for expires in (now, now + 366 * day + 1):
        with pytest.raises(ValueError):
            bounds.delegation_expiry(expires, error=ValueError, now=now)
    bounds.received_date(now - 366 * day, error=ValueError, now=now)
    for received in (now + 301, now - 366 * day - 1):
        with pytest.raises(ValueError):
            bounds.received_date(received, error=ValueError, now=now)
    for minutes in (0, 241, True, 1.5):
        with pytest.raises(ValueError):
            bounds.visit_minutes(minutes, error=ValueError)
    today = date(2026, 11, 29)
    bounds.report_period(date(2016, 12, 1), today, today, error=ValueError)
    for first, last in ((today, date(2026, 11, 30)), (date(2016, 11, 1), today),
                        (today, date(2026, 11, 28))):
        with pytest.raises(ValueError):
            bounds.report_period(first, last, today, error=ValueError)


def test_an_argument_that_is_not_utf8_is_a_usage_error_not_a_traceback(edge):
    import subprocess
    import sys

    from conftest import ROOT
    _, config = edge
    now = datetime.now(AMSTERDAM)
    args = [sys.executable, "-m", "firmware.cli", "--config", str(config), "hold", "add",
            "--camera", "cam", "--start", (now - timedelta(hours=1)).isoformat(), "--end",
            now.isoformat(), "--reason", "vernieling \udcff bij de ingang", "--reference", "x",
            "--user", "b.beheerder"]
    result = subprocess.run([a.encode("utf-8", "surrogateescape") for a in args],
                            capture_output=True, env=staff(config), cwd=ROOT)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2 and "not UTF-8" in err and "Traceback" not in err, err


def test_bounds_refusals_are_dutch_with_rule_and_local_time_R12_R40_R41_R83(tmp_path):
    """What a person reads when a time is refused (web page, API; the CLI with NVR_LANG=nl) is
    Dutch from the catalogue, names the rule (R-id, article and lid) and shows a time as a Dutch
    date with its zone."""
    from datetime import date

    from firmware import i18n
    from firmware.governance import bounds
    from firmware.storage import index
    db = index.connect(tmp_path / "index.sqlite3")
    now, day = 1_800_000_000.0, bounds.DAY              # 15-01-2027 08:00 UTC: 09:00 (CET)

    def refusal(call) -> str:
        i18n.set_cli_locale("nl")
        try:
            with pytest.raises(ValueError) as raised:
                call()
        finally:
            i18n.set_cli_locale(None)
        return str(raised.value)

    window = (lambda s, e: lambda: bounds.footage_window(db, "cam", s, e, retention_days=28,
                                                         error=ValueError, now=now))
    future = refusal(window(now - 60, now + 3600))
    assert "toekomst" in future and "15-01-2027 10:00 (CET)" in future and "R-41" in future
    old = refusal(window(now - 40 * day, now - 30 * day))
    assert "bewaartermijn van 28 dagen" in old and "(vanaf 18-12-2026 09:00 (CET))" in old
    assert "bewaaropdracht van camera cam" in old and "R-40, R-41" in old
    assert "einde van het tijdvak" in refusal(window(now, now - 1))
    assert "het begin is geen tijd" in refusal(window(float("nan"), now))
    year = refusal(lambda: bounds.delegation_expiry(now + 400 * day, error=ValueError, now=now))
    assert "hoogstens een jaar" in year and "(CET)" in year and "R-12" in year
    assert "artikel 5 lid 4" in refusal(lambda: bounds.visit_minutes(0, error=ValueError))
    later = refusal(lambda: bounds.report_period(date(2027, 1, 1), date(2027, 2, 1),
                                                 date(2027, 1, 15), error=ValueError))
    assert "na vandaag (15-01-2027)" in later and "R-83" in later
