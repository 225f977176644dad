"""Red team of issue 13, the web's export jobs (firmware/web/export_jobs.py, web/exports.py):
a second person with the same rights (another beheerder) never reaches the first person's
export under way, its result or its generated password, by the page, the API's status or
result URL; and the person who started it gets the password exactly once, by either door.
Real SQLite, real files, the development folder as the stick (the 7z that takes a generated
password).

Finding 8 (web/exports.py; fixed by the lead): the format form sent again (the browser's
reload of the password page) formats the stick again, with another password.
"""

from __future__ import annotations

import time

import pytest
from conftest import recorded_site
from webutil import ROLE_USERS, api, csrf_of, login

from firmware.config import load
from firmware.governance.roles import Role
from test_web_export import _registered, stick_app  # noqa: F401 - the fixture


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from firmware.web import create_app
    accounts = {name: role for role, name in ROLE_USERS.items()}
    config = recorded_site(tmp_path_factory.mktemp("rt13web"),
                           {**accounts, "b.tweede": Role.BEHEERDER})
    app = create_app(load(config))
    app.config["TESTING"] = True
    return app, config


def _done(c, req_id: int) -> dict:
    deadline = time.monotonic() + 120
    while True:
        status = c.get(f"/api/requests/{req_id}/export/status").get_json()
        if status["state"] != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_another_beheerder_never_reaches_the_export_or_its_password_R61(site):
    app, _ = site
    first, second = login(app, "b.beheerder"), login(app, "b.tweede")
    req_id = _registered(first, "PL-RT13-WEB")
    r = first.post(f"/requests/{req_id}/export", data={
        "csrf": csrf_of(first), "reason": "art. 9 PL-RT13-WEB"})
    assert r.status_code == 303
    assert _done(first, req_id)["password_waiting"] is True
    # the second beheerder: no job, no result, no password, by any door
    assert second.get(f"/api/requests/{req_id}/export/status").status_code == 404
    other = second.get(f"/api/requests/{req_id}/export/result")
    assert other.status_code in (404, 409) and "password" not in (other.get_json() or {})
    page = second.get(f"/requests/{req_id}/export/status", follow_redirects=True)
    assert 'id="password"' not in page.get_data(True)
    assert api(second, "GET", f"/api/requests/{req_id}/export").get_json()["job"] is None
    # the one who started it: once, by the API; then neither door shows it again
    result = first.get(f"/api/requests/{req_id}/export/result").get_json()
    assert len(result["password"]) == 29
    assert "password" not in first.get(f"/api/requests/{req_id}/export/result").get_json()
    again = first.get(f"/requests/{req_id}/export/status").get_data(True)
    assert result["password"] not in again and 'id="password"' not in again


def test_the_format_form_sent_twice_formats_the_stick_only_once_R61(stick_app):  # noqa: F811
    import re
    app, daemon, runner, _ = stick_app
    c = login(app, "b.beheerder")
    req_id = _registered(c, "PL-RT13-FORMAT")
    form = {"csrf": csrf_of(c), "device": "/dev/sdc",
            "confirmation": "/dev/sdc datAshur PRO 8.0GB", "password_choice": "generate"}
    first = c.post(f"/requests/{req_id}/export/format", data=form)
    password = re.search(r'<code id="password" class="password">([^<]+)</code>',
                         first.get_data(True)).group(1)
    c.post(f"/requests/{req_id}/export/format", data=form)      # the browser's reload
    assert [a[:2] for a in runner.calls].count(["cryptsetup", "luksFormat"]) == 1
    assert runner.passwords["/dev/sdc"] == password
    # Seen the export page again, the person may format it anew on purpose.
    assert c.get(f"/requests/{req_id}/export").status_code == 200
    c.post(f"/requests/{req_id}/export/format", data={**form, "csrf": csrf_of(c)})
    assert [a[:2] for a in runner.calls].count(["cryptsetup", "luksFormat"]) == 2
