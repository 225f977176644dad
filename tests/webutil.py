"""Shared by the web tests: clients over https, logins per role, JSON API calls."""

from __future__ import annotations

import re

from conftest import PASSWORD
from flask.testing import FlaskClient

from firmware.governance.roles import Role

ROLE_USERS = {Role.BEHEERDER: "b.beheerder", Role.PRIVACY_OFFICER: "p.officer",
              Role.TECHNICAL: "t.admin", Role.MANAGER: "m.manager", Role.DPO: "d.dpo",
              Role.DESIGNEE: "a.designee"}


class HttpsClient(FlaskClient):
    """Requests over https, so the Secure session cookie is sent as a browser would."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", "https://localhost")
        return super().open(*args, **kwargs)


def client(app):
    app.test_client_class = HttpsClient
    return app.test_client()


def replay(app, c):
    """A second client carrying a copy of `c`'s session cookie, as a thief would."""
    copy = client(app)
    copy.set_cookie("nvr_session", c.get_cookie("nvr_session").value, domain="localhost")
    return copy


def csrf_of(c) -> str:
    c.get("/login")
    with c.session_transaction() as s:
        return s["csrf"]


def login(app, name):
    c = client(app)
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(c)})
    assert r.status_code == 302, r.data
    return c


PARAMS = {"camera": "cam", "day": "2026-04-24", "segment_id": "0" * 32, "hold_id": "1",
          "visit_id": "1", "req_id": "1", "name": "nobody", "delegation_id": "1",
          "export_id": "1", "book": "inzien", "fmt": "csv", "scan_id": "1"}


def url_of(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PARAMS[m.group(1)], rule)


def api(c, method: str, url: str, body: dict | None = None):
    """A JSON API call with the session's CSRF token."""
    with c.session_transaction() as s:
        token = s.get("csrf", "")
    return c.open(url, method=method, json=body, headers={"X-CSRF-Token": token})
