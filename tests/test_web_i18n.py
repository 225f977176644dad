"""Dutch on every page (issue 11 item 3): refusals, aborts and the login lock read in Dutch from
the one catalogue, with times in the device's time zone."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import PASSWORD, staff, write_config
from webutil import client, csrf_of, login

from firmware.config import load

ALLOWLIST = Path(__file__).with_name("catalogue_allowlist.txt")
# English words that are no Dutch words ("is", "open" and "account" are both, so they are not
# in the list): one of these in a page's visible text is an English message left over.
ENGLISH = ("the", "not", "wrong", "password", "request", "approved", "must", "cannot", "there",
           "please", "found", "missing", "token", "reload", "again", "first", "allowed",
           "method", "give", "period", "like", "logbook", "exported", "requested", "server")


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_words(html: str) -> list[str]:
    words = re.findall(r"[^\W\d_]+", visible_text(html).lower())
    return sorted(set(words) & set(ENGLISH))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A device with the staff accounts and no footage: enough for refusals."""
    from firmware.web import create_app
    config = write_config(tmp_path_factory.mktemp("dutch"))
    staff(config)
    app = create_app(load(config))
    app.config["TESTING"] = True
    return app


def _anonymous_post_without_csrf(app):
    return client(app).post("/login", data={"name": "x", "password": "y"})


def _unknown_page(app):
    return client(app).get("/nowhere-at-all")


def _wrong_method(app):
    return client(app).get("/logout")


def _no_such_logbook(app):
    return login(app, "p.officer").get("/logbooks/nobook")


def _no_such_logbook_format(app):
    return login(app, "p.officer").get("/logbooks/inzien/xml")


def _report_period_not_dates(app):
    return login(app, "p.officer").get("/report?from=gisteren&to=vandaag")


def _login_refused(app):
    c = client(app)
    return c.post("/login", data={"name": "b.beheerder", "password": "not the password",
                                  "csrf": csrf_of(c)})


def _role_may_not(app):
    return login(app, "b.beheerder").get("/users")


def _empty_question(app):
    c = login(app, "p.officer")
    return c.post("/decisions", data={"question": " ", "csrf": csrf_of(c)})


def _no_such_decision(app):
    c = login(app, "p.officer")
    return c.post("/decisions/999/advice", data={"advice": "een advies van tien tekens",
                                                 "csrf": csrf_of(c)})


def _no_such_request(app):
    return login(app, "p.officer").get("/requests/999")


def _no_such_account(app):
    c = login(app, "t.admin")
    return c.post("/users/nobody/reset-code", data={"csrf": csrf_of(c)})


REFUSALS = {f.__name__.strip("_"): f for f in (
    _anonymous_post_without_csrf, _unknown_page, _wrong_method, _no_such_logbook,
    _no_such_logbook_format, _report_period_not_dates, _login_refused, _role_may_not,
    _empty_question, _no_such_decision, _no_such_request, _no_such_account)}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_pages_speak_dutch(app, case):
    """(b) A sample of refusals, rendered as a person sees them: no English word in the page.
    A refusal whose words come from a module another engineer still converts is listed as
    `page NAME` in tests/catalogue_allowlist.txt (the lead empties it at merge)."""
    response = REFUSALS[case](app)
    assert response.status_code in (200, 400, 403, 404, 405), response.status_code
    html = response.get_data(as_text=True)
    assert "<html" in html, html[:200]                     # a page, not a bare text
    leftover = english_words(html)
    waiting = any(line.split("#")[0].split() == ["page", case]
                  for line in ALLOWLIST.read_text().splitlines())
    if waiting:
        pytest.xfail(f"{case}: its message is still being converted (allowlist): {leftover}")
    assert not leftover, (leftover, visible_text(html)[-400:])


def test_the_login_lock_says_until_when_in_the_device_time_zone(app):
    """The lock after PER_MINUTE failed logins from one address names the moment it ends in
    the device's time zone with the zone (Europe/Amsterdam: CET or CEST), not in UTC."""
    from firmware.web.auth import PER_MINUTE
    c = client(app)
    token = csrf_of(c)
    pages = [c.post("/login", data={"name": "nobody", "password": "x" * 12, "csrf": token},
                    environ_base={"REMOTE_ADDR": "10.8.8.8"}) for _ in range(PER_MINUTE + 1)]
    locked = pages[-1]
    assert locked.status_code == 429
    text = visible_text(locked.get_data(as_text=True))
    assert re.search(r"tot \d\d:\d\d \((CET|CEST)\)", text), text
    assert "UTC" not in text and not english_words(locked.get_data(as_text=True))


def test_api_errors_come_from_the_catalogue_and_values_stay_english(app):
    """Under /api the error text is the catalogue's Dutch; the values (roles) stay English."""
    c = client(app)
    assert c.get("/api/cameras").get_json() == {"error": "meld u eerst aan"}
    token = csrf_of(c)
    body = c.post("/api/login", json={"name": "b.beheerder", "password": PASSWORD},
                  headers={"X-CSRF-Token": token}).get_json()
    assert body["role"] == "beheerder"
