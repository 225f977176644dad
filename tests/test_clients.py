"""Art. 4 lid 1 (issue 10, item 4): footage is seen only on the special computer in the secured
room. Footage routes answer only a listed workstation: a client certificate the device issued
(`nvr client issue`, mutual TLS) or an address in `[web] footage_addresses`; administration
pages stay reachable from elsewhere. Issuing and revoking a certificate is in the usage logbook
with old and new value (item 7, art. 7 lid 2). Checked against the real cheroot server with
real TLS, the real `nvr` CLI and the real `openssl pkcs12`."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from conftest import PASSWORD, ROOT, recorded_site
from deviceday import footage_day
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_live import running, wait_for  # noqa: F401 (a fixture)
from webutil import client, csrf_of

from firmware.config import load
from firmware.governance.service import Governance
from firmware.system.clients import Clients
from firmware.web import create_app
from firmware.web.server import WebServer

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
    app, config = site
    c = login_from(app, "b.beheerder", ELSEWHERE)
    day = footage_day(config)
    footage = [("GET", "/live"), ("GET", "/cameras/cam/live"), ("GET", "/cameras/cam/live.mjpeg"),
               ("GET", f"/cameras/cam/day/{day}"), ("GET", f"/api/cameras/cam/segments/{day}"),
               ("GET", "/segments/" + "0" * 32 + "/video"),
               ("POST", "/cameras/cam/access"), ("POST", "/requests/1/export")]
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



def test_art4_lid1_address_list_networks_and_certificate_required_R20(tmp_path):
    """The rule below the web (system.clients.footage_workstation): listed addresses and
    networks, IPv4 seen through a dual-stack socket, and `footage_certificate_required`, which
    makes a listed address not enough."""
    import dataclasses
    from conftest import staff, write_config
    from firmware.system.clients import footage_workstation
    config = write_config(tmp_path)
    staff(config)
    cfg = load(config)
    gov = Governance.open(cfg)
    clients = Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)
    web = dataclasses.replace(cfg.web, footage_addresses=("10.0.4.17", "10.0.5.0/28"))

    def allowed(address, web=web, pem=None):
        return bool(footage_workstation(clients, web, address=address, verified=pem is not None,
                                        certificate=pem))
    assert allowed("10.0.4.17") and allowed("10.0.5.14") and allowed("::ffff:10.0.4.17")
    assert not allowed("10.0.4.18") and not allowed("10.0.5.16") and not allowed("127.0.0.1")
    assert not allowed(None) and not allowed("not an address")
    strict = dataclasses.replace(web, footage_certificate_required=True)
    assert not allowed("10.0.4.17", strict)
    bundle, password, _ = clients.issue(gov.login("t.admin", PASSWORD), "centrale-ruimte")
    _, cert, _ = pkcs12.load_key_and_certificates(bundle, password.encode())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert allowed("10.9.9.9", strict, pem)
    refused = footage_workstation(clients, strict, address="10.0.4.17", verified=False,
                                  certificate=pem)       # not verified by the handshake
    assert not refused and ART4 in refused.reason
    gov.close()


# Endpoints that show or hand out footage (art. 4 lid 1): the check must sit on each of them.
FOOTAGE_ENDPOINTS = {"live.grid", "live.grid_access", "live.camera_page", "live.stream",
                     "recordings.timeline", "recordings.api_timeline", "recordings.access",
                     "recordings.api_access", "recordings.video", "recordings.api_video",
                     "recordings.api_events", "recordings.thumbnail",
                     "recordings.api_thumbnail",
                     "exports.api_create", "exports.start",
                     "exports.api_start"}


def test_art4_lid1_every_footage_endpoint_checks_the_workstation_R20(site):
    """The check is `routes.footage_client`: on the endpoints above, on every endpoint whose
    rule is live or playback, and on every art. 10 inzage route (/requests/<id>/inzage...)."""
    from firmware.governance.roles import Action
    app, _ = site
    marked, must = set(), set(FOOTAGE_ENDPOINTS)
    for r in app.url_map.iter_rules():
        view = app.view_functions[r.endpoint]
        if getattr(view, "nvr_footage", False):
            marked.add(r.endpoint)
        if getattr(view, "nvr_access", None) in (Action.LIVE, Action.PLAYBACK) \
                or "/inzage" in r.rule:
            must.add(r.endpoint)
    assert must - marked == set()
    assert marked - must == set()          # nothing else (paperwork stays reachable)


# --- real TLS: the cheroot server, `nvr client issue`, openssl, requests ----------------------

SEARCH = """
import sys
from pathlib import Path
forms = [bytes.fromhex(h) for h in sys.argv[3:]]
for root in sys.argv[1:3]:
    for path in Path(root).rglob("*"):
        if path.is_file() and any(f in path.read_bytes() for f in forms):
            print(path)
"""
REASON = {"purpose": "incident", "reason": "aanrijding bij de ingang, melding 2026-118"}


@pytest.fixture(scope="module")
def secured_room(tmp_path_factory):
    """A device whose address list excludes this machine (127.0.0.1 stands for a computer
    outside the secured room), served by the real WebServer over TLS on a free port."""
    tmp = tmp_path_factory.mktemp("clients")
    config = recorded_site(tmp, {})
    text = config.read_text().replace("[web]\nport = 0", '[web]\nport = 0\n'
                                      'footage_addresses = ["192.0.2.1", "10.20.30.0/24"]')
    config.write_text(text)
    cfg = load(config)
    server = WebServer(create_app(cfg), "127.0.0.1", 0, cfg.storage.key_dir, cfg.device.id)
    url = server.start()
    yield {"config": config, "cfg": cfg, "url": url, "tmp": tmp}
    server.stop()


def cli(config: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "NVR_PASSWORD": PASSWORD, **(env or {})})


def issue(room, name: str) -> tuple[Path, Path]:
    """`nvr client issue` as the technisch beheerder; the bundle opened with the real
    `openssl pkcs12` into the PEM a client sends. Returns (client PEM, server certificate)."""
    out = room["tmp"] / f"bundle-{name}"
    done = cli(room["config"], "client", "issue", name, "--out", str(out), "--user", "t.admin")
    assert done.returncode == 0, done.stderr
    password = re.search(r"password of the bundle \(shown once[^)]*\): (\S+)", done.stdout)[1]
    bundle = out / f"{name}.p12"
    assert bundle.stat().st_mode & 0o077 == 0                      # the key: owner only
    pem = out / "client.pem"
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(bundle), "-passin",
                             f"pass:{password}", "-nodes", "-out", str(pem)],
                            capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr
    opened_text = pem.read_text()
    assert "BEGIN PRIVATE KEY" in opened_text
    assert re.search(rf"subject=.*CN ?= ?{name}", opened_text), opened_text[:300]
    wrong = subprocess.run(["openssl", "pkcs12", "-in", str(bundle), "-passin",
                            "pass:not-the-password", "-nodes"], capture_output=True)
    assert wrong.returncode != 0
    return pem, out / "nvr-apparaat.crt"


def device_certificate(room) -> Path:
    return room["cfg"].storage.key_dir / "web-cert.pem"


def browser(room, cert: Path | None, trust: Path | None = None, user="b.beheerder"):
    """A logged-in API session over real TLS, with or without a client certificate."""
    s = requests.Session()
    s.trust_env = False                 # REQUESTS_CA_BUNDLE would override `verify`
    s.verify = str(trust or device_certificate(room))
    if cert is not None:
        s.cert = str(cert)
    token = s.get(room["url"] + "/api/session", timeout=10).json()["csrf"]
    r = s.post(room["url"] + "/api/login", json={"name": user, "password": PASSWORD},
               headers={"X-CSRF-Token": token}, timeout=10)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = s.get(room["url"] + "/api/session", timeout=10).json()["csrf"]
    return s


def play_first_segment(room, s) -> requests.Response:
    """State the reason, list today's segments, fetch the first one's video."""
    r = s.post(room["url"] + "/api/cameras/cam/access", json={**REASON, "action": "playback"},
               timeout=10)
    if r.status_code != 200:
        return r
    day = footage_day(room["config"])
    rows = s.get(room["url"] + f"/api/cameras/cam/segments/{day}", timeout=10).json()
    assert rows, "no footage recorded"
    return s.get(room["url"] + f"/api/segments/{rows[0]['id']}/video", timeout=30)


def usage_entries(room, action: str) -> list[dict]:
    gov = Governance.open(room["cfg"])
    try:
        return [e for e in gov.logbook.entries("usage") if e["action"] == action]
    finally:
        gov.close()


def test_art4_lid1_footage_only_with_the_devices_client_certificate_over_mtls_R20(secured_room):
    room = secured_room
    pem, server_cert = issue(room, "centrale-ruimte")
    # The workstation trusts the device by the server certificate from the bundle.
    key = serialization.load_pem_private_key(pem.read_bytes(), None)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    forms = (key.private_numbers().private_value.to_bytes(32, "big"), pkcs8,
             key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).splitlines()[1])
    # The device keeps no copy of the workstation's key. Searched from another process: closing
    # a descriptor of the index in this one would drop the locks of the server's connections.
    search = subprocess.run([sys.executable, "-c", SEARCH, str(room["cfg"].storage.key_dir),
                             str(room["cfg"].storage.data_dir), *(f.hex() for f in forms)],
                            capture_output=True, text=True, timeout=60)
    assert search.returncode == 0 and search.stdout.strip() == "", search.stdout + search.stderr
    s = browser(room, pem, trust=server_cert)
    video = play_first_segment(room, s)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert s.get(room["url"] + "/cameras/cam/live", timeout=10).status_code == 200
    # The same account from a computer without a certificate: no footage, paperwork works.
    other = browser(room, None)
    for method, path in (("POST", "/api/cameras/cam/access"), ("GET", "/cameras/cam/live"),
                         ("GET", "/live"), ("GET", "/cameras/cam/live.mjpeg"),
                         ("POST", "/api/exports")):
        r = other.request(method, room["url"] + path, json={**REASON, "request": 1},
                          timeout=10)
        assert r.status_code == 403, (path, r.status_code)
        assert ART4 in r.text, path
    assert play_first_segment(room, other).status_code == 403
    for path in ("/login", "/requests", "/logbooks", "/exports", "/api/requests"):
        assert other.get(room["url"] + path, timeout=10).status_code == 200, path
    anonymous = requests.Session()
    anonymous.trust_env = False
    assert anonymous.get(room["url"] + "/login", verify=str(device_certificate(room)),
                         timeout=10).status_code == 200
    refused = usage_entries(room, "refused")
    assert any(ART4 in json_details(e)["why"] for e in refused)


def json_details(entry: dict) -> dict:
    details = entry["details"]
    return json.loads(details) if isinstance(details, str) else details


def test_art4_lid1_revoked_certificate_counts_as_none_and_both_steps_are_logged_R20(
        secured_room):
    room = secured_room
    pem, _ = issue(room, "reserve-werkplek")
    s = browser(room, pem)
    assert play_first_segment(room, s).status_code == 200
    again = cli(room["config"], "client", "issue", "reserve-werkplek", "--out",
                str(room["tmp"] / "again"), "--user", "t.admin")
    assert again.returncode == 1 and "revoke that first" in again.stderr
    done = cli(room["config"], "client", "revoke", "reserve-werkplek", "--user", "t.admin")
    assert done.returncode == 0, done.stderr
    r = s.post(room["url"] + "/api/cameras/cam/access", json={**REASON, "action": "playback"},
               timeout=10)
    assert r.status_code == 403 and "ingetrokken" in r.json()["error"]
    assert s.get(room["url"] + "/logbooks", timeout=10).status_code == 200
    listed = cli(room["config"], "client", "list", "--json", "--user", "t.admin")
    states = {r["name"]: r["state"] for r in json.loads(listed.stdout)}
    assert states["reserve-werkplek"] == "revoked"
    # Item 7 (art. 7 lid 2): issuing and revoking in the usage logbook, old and new value.
    issued = [e for e in usage_entries(room, "client-issue")
              if e["subject"] == "werkplek reserve-werkplek"]
    revoked = [e for e in usage_entries(room, "client-revoke")
               if e["subject"] == "werkplek reserve-werkplek"]
    assert len(issued) == 1 and issued[0]["actor"] == "t.admin"
    assert json_details(issued[0])["old"] is None
    assert json_details(issued[0])["new"]["certificate"]
    assert len(revoked) == 1
    assert json_details(revoked[0])["old"][0]["state"] == "valid"
    assert json_details(revoked[0])["new"][0]["state"] == "revoked"


def test_art4_lid1_only_the_technisch_beheerder_issues_revokes_and_lists(secured_room):
    room = secured_room
    for args in (("issue", "x-werkplek", "--out", str(room["tmp"] / "nope")),
                 ("revoke", "centrale-ruimte"), ("list",)):
        done = cli(room["config"], "client", *args, "--user", "b.beheerder")
        assert done.returncode == 1 and "config)" in done.stderr, (args, done.stderr)
    assert not (room["tmp"] / "nope").exists()


def test_client_issue_out_dash_writes_the_bundle_to_stdout_for_the_callers_shell(secured_room):
    """`--out -`, the form `sudo nvr-admin client issue` takes (tests/test_nvr_admin_paths.py,
    R-11): the PKCS#12 bundle alone on standard output, into a file the caller's shell made;
    what is said, the password too, on standard error; the real `openssl pkcs12` opens it."""
    room = secured_room
    bundle = room["tmp"] / "stdout-werkplek.p12"
    with open(bundle, "wb") as out:
        done = subprocess.run([sys.executable, "-m", "firmware.cli", "--config",
                               str(room["config"]), "client", "issue", "stdout-werkplek",
                               "--out", "-", "--user", "t.admin"], stdout=out,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
                              env={**os.environ, "NVR_PASSWORD": PASSWORD})
    assert done.returncode == 0, done.stderr
    password = re.search(r"password of the bundle \(shown once[^)]*\): (\S+)", done.stderr)[1]
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(bundle), "-passin",
                             f"pass:{password}", "-nodes"], capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr
    assert "BEGIN PRIVATE KEY" in opened.stdout
    assert re.search(r"subject=.*CN ?= ?stdout-werkplek", opened.stdout), opened.stdout[:300]


def test_art4_lid1_expired_certificate_counts_as_none_admin_pages_stay_R20(secured_room):
    room = secured_room
    gov = Governance.open(room["cfg"])
    admin = gov.login("t.admin", PASSWORD)
    clients = Clients(gov.accounts.db, gov.logbook, room["cfg"].storage.key_dir,
                      room["cfg"].device.id)
    bundle, password, _ = clients.issue(admin, "verlopen-werkplek", days=1,
                                        now=time.time() - 3 * 86400)
    gov.close()
    key, cert, _ = pkcs12.load_key_and_certificates(bundle, password.encode())
    assert cert.not_valid_after_utc < datetime.now(ZoneInfo("UTC"))
    pem = room["tmp"] / "expired.pem"
    pem.write_bytes(_pem(key, cert))
    s = browser(room, pem)                          # the handshake works: it counts as none
    r = s.post(room["url"] + "/api/cameras/cam/access", json={**REASON, "action": "playback"},
               timeout=10)
    assert r.status_code == 403 and "verlopen" in r.json()["error"]
    assert s.get(room["url"] + "/requests", timeout=10).status_code == 200


def _pem(key, cert) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) \
        + cert.public_bytes(serialization.Encoding.PEM)


def test_art4_lid1_certificate_of_another_ca_is_refused_R20(secured_room):
    """A certificate made by another CA (another device, anyone) for the same workstation name
    never reaches the application: the TLS handshake refuses it."""
    room = secured_room
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nvr other werkplekken")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "centrale-ruimte")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    pem = room["tmp"] / "foreign.pem"
    pem.write_bytes(_pem(key, cert))
    s = requests.Session()
    s.trust_env = False
    s.verify = str(device_certificate(room))
    with pytest.raises(requests.exceptions.SSLError):   # the server ends the handshake
        s.get(room["url"] + "/api/session", cert=str(pem), timeout=10)
    assert s.get(room["url"] + "/api/session", timeout=10).status_code == 200


def test_art4_lid1_revoking_the_certificate_ends_a_running_live_stream_R20(running, monkeypatch):
    """The live stream re-checks the workstation with the session: a revoked certificate stops
    the picture within RECHECK_SECONDS. The certificate reaches the app as cheroot puts a
    verified one in the environ (SSL_CLIENT_VERIFY, SSL_CLIENT_CERT; the handshake itself is
    proven above)."""
    from conftest import staff
    from firmware.web import live
    cfg, tap = running
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.2)
    staff(cfg.source)
    gov = Governance.open(cfg)
    admin = gov.login("t.admin", PASSWORD)
    clients = Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)
    bundle, password, _ = clients.issue(admin, "centrale-ruimte")
    _, cert, _ = pkcs12.load_key_and_certificates(bundle, password.encode())
    app = create_app(cfg)
    c = client(app)
    c.environ_base.update({"REMOTE_ADDR": ELSEWHERE, "SSL_CLIENT_VERIFY": "SUCCESS",
                           "SSL_CLIENT_CERT": cert.public_bytes(
                               serialization.Encoding.PEM).decode()})
    assert c.post("/login", data={"name": "b.beheerder", "password": PASSWORD,
                                  "csrf": csrf_of(c)}).status_code == 302
    assert c.post("/cameras/cam/access", data={
        "csrf": csrf_of(c), "action": "live", "purpose": "safety",
        "reason": "ronde nachtdienst"}).status_code == 302
    response = c.get("/cameras/cam/live.mjpeg", buffered=False)
    assert response.status_code == 200
    parts = iter(response.response)
    for _ in range(3):
        assert next(parts).startswith(b"--frame")
    clients.revoke(admin, "centrale-ruimte")
    gov.close()
    rest = 0
    for _ in parts:                                  # ends by itself once the check sees it
        rest += 1
        if rest == 100:
            break
    assert rest < 50                                 # 10 fps: a few seconds at most
    response.close()
    assert wait_for(lambda: tap.viewers == 0)
    again = c.get("/cameras/cam/live.mjpeg")
    assert again.status_code == 403 and ART4 in again.get_data(True)


def test_art4_lid1_a_resumed_tls_session_keeps_the_client_certificate_R20(tmp_path):
    """Browsers resume TLS sessions; cheroot must still see the workstation's certificate on a
    resumed connection (TLS 1.2 and 1.3), or footage would come and go."""
    import socket
    import ssl
    from conftest import staff, write_config
    config = write_config(tmp_path)
    staff(config)
    cfg = load(config)
    gov = Governance.open(cfg)
    clients = Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)
    bundle, password, _ = clients.issue(gov.login("t.admin", PASSWORD), "centrale-ruimte")
    gov.close()
    key, cert, _ = pkcs12.load_key_and_certificates(bundle, password.encode())
    pem = tmp_path / "client.pem"
    pem.write_bytes(_pem(key, cert))

    def echo(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("SSL_CLIENT_VERIFY", "").encode(), b" ",
                b"cert" if environ.get("SSL_CLIENT_CERT") else b"none"]
    web = WebServer(echo, "127.0.0.1", 0, cfg.storage.key_dir, cfg.device.id)
    web.start()
    try:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = ssl.create_default_context(cafile=str(cfg.storage.key_dir / "web-cert.pem"))
            ctx.minimum_version = ctx.maximum_version = version
            ctx.load_cert_chain(str(pem))
            session, seen = None, []
            for _ in range(3):
                with socket.create_connection(web.server.bind_addr[:2], timeout=10) as raw, \
                        ctx.wrap_socket(raw, server_hostname="127.0.0.1",
                                        session=session) as tls:
                    tls.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := tls.recv(4096):
                        data += chunk
                    seen.append((tls.session_reused, b"SUCCESS" in data and b"cert" in data))
                    session = tls.session
            assert seen[1:] == [(True, True), (True, True)] and seen[0][1], (version, seen)
    finally:
        web.stop()


def test_art4_lid1_nvr_web_says_where_footage_is_shown(tmp_path):
    """The real `nvr web` makes the client CA at start and prints which computers show
    footage."""
    from conftest import write_config
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace(
        "[web]\nport = 0", '[web]\nport = 0\nfootage_addresses = ["10.0.4.17"]'))
    web = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config), "web"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in web.stdout:
            lines.append(line)
            if line.startswith("footage") or len(lines) > 50:
                break
        assert lines[-1].strip() == ("footage (art. 4 lid 1) only on workstations with a "
                                     "certificate from `nvr client issue` or at 10.0.4.17"), lines
        assert (tmp_path / "keys" / "client-ca.pem").stat().st_mode & 0o077 == 0
    finally:
        web.terminate()
        web.wait(30)


def test_art4_lid1_the_address_list_is_validated_naming_the_key(tmp_path):
    from conftest import write_config
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace(
        "[web]\nport = 0", '[web]\nport = 0\nfootage_addresses = ["10.0.4.300", 7, "10.0.5.0/28"]'
                           '\nfootage_certificate_required = "yes"'))
    done = cli(config, "config", "check")
    assert done.returncode == 2
    assert "web.footage_addresses[0]: '10.0.4.300' is not an IP address or network" in done.stderr
    assert "web.footage_addresses[1]: 7 is not an IP address" in done.stderr
    assert "footage_addresses[2]" not in done.stderr
    assert "web.footage_certificate_required: 'yes' is not true or false" in done.stderr


# --- art. 4 lid 1 on the command line: `nvr segment play`, `nvr request play` -------------------

SSH_ELSEWHERE = f"{ELSEWHERE} 50022 10.0.0.2 22"       # SSH_CONNECTION of a computer outside
SSH_LOCAL = "10.0.4.17 50022 10.0.0.2 22"              # the listed workstation of the room
SSH_TUNNEL = "127.0.0.1 50022 127.0.0.1 22"             # through a tunnel or hop on the device


@pytest.fixture(scope="module")
def command_line(tmp_path_factory):
    """A device whose address list names the room's workstation 10.0.4.17 (beside the
    default 127.0.0.1, ::1), the console turned on, and an art. 10 request ready
    for its inzage: (configuration, request id, a segment in its window)."""
    from firmware.storage.store import EncryptedStore
    config = recorded_site(tmp_path_factory.mktemp("command-line"), {})
    config.write_text(config.read_text().replace(
        "[web]\n", '[web]\nfootage_addresses = ["127.0.0.1", "::1", "10.0.4.17"]\n', 1))
    cfg = load(config)
    gov = Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    rows = store.list_segments("cam")
    reqs = gov.requests(store)
    req = reqs.add_article10(gov.login("p.officer", PASSWORD), requester="J. de Vries",
                             requester_kind="citizen", motivation="mijn fiets is gestolen",
                             received=rows[0]["start"], camera="cam",
                             start=rows[1]["start"] + 1, end=rows[1]["end"] - 1)
    reqs.decide(gov.login("m.manager", PASSWORD), req["id"], approve=True,
                reason="belang aangetoond", weighing="voorbijgangers worden vervaagd getoond")
    b = gov.login("b.beheerder", PASSWORD)
    reqs.record_identity(b, req["id"], document_type="paspoort", last_digits="4567")
    reqs.record_declaration(b, req["id"], "J. de Vries")
    store.close()
    gov.close()
    return config, req["id"], rows[1]["id"]


def no_ssh_environ(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "SSH_CLIENT")}
    return {**env, "NVR_PASSWORD": PASSWORD, **extra}


def under(shell: str, parent_env: dict, inner: str) -> subprocess.CompletedProcess:
    """Run `inner` in a `shell -c` parent with its own environment `parent_env` (the process
    an sshd starts); `; exit $?` keeps the shell as the parent instead of exec'ing."""
    return subprocess.run([shell, "-c", inner + "; exit $?"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=ROOT, timeout=120,
                          env=no_ssh_environ(**parent_env))


def play_commands(fixture) -> list[list[str]]:
    config, req_id, segment = fixture
    base = [sys.executable, "-m", "firmware.cli", "--config", str(config)]
    return [base + ["segment", "play", segment, "--user", "b.beheerder",
                    "--purpose", "incident", "--reason", "aanrijding bij de ingang"],
            base + ["request", "play", str(req_id), segment, "--user", "b.beheerder"]]


def like_sudo(command: list[str]) -> str:
    """sudo drops SSH_CONNECTION and SSH_CLIENT from the command it starts."""
    return shlex.join(["env", "-u", "SSH_CONNECTION", "-u", "SSH_CLIENT", *command])


def test_art4_lid1_cli_play_over_ssh_only_from_a_listed_address_also_under_sudo_R20(
        command_line):
    """Both CLI playback commands, started like sudo starts them (no SSH_* of their own) under
    a parent whose environment has SSH_CONNECTION: refused from an unlisted computer, before
    anything is decrypted, logged in the usage logbook, saying what to do; played from a
    listed address. A process that sets a listed SSH_CONNECTION itself does not hide the
    parent's."""
    config = command_line[0]
    for command in play_commands(command_line):
        refused = under("sh", {"SSH_CONNECTION": SSH_ELSEWHERE}, like_sudo(command))
        assert refused.returncode == 1 and refused.stdout == b"", command
        message = refused.stderr.decode()
        assert ART4 in message and f"via SSH van {ELSEWHERE}" in message, message
        assert "Bekijk de beelden op de computer in de beveiligde ruimte" in message
        own = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                             timeout=120, env=no_ssh_environ(SSH_CLIENT=f"{ELSEWHERE} 50022 22"))
        assert own.returncode == 1 and own.stdout == b"" and ART4 in own.stderr.decode()
        spoofed = under("sh", {"SSH_CONNECTION": SSH_ELSEWHERE}, shlex.join(
            ["env", "-u", "SSH_CLIENT", f"SSH_CONNECTION={SSH_LOCAL}", *command]))
        assert spoofed.returncode == 1 and spoofed.stdout == b""
        assert f"via SSH van {ELSEWHERE}" in spoofed.stderr.decode()
        played = under("sh", {"SSH_CONNECTION": SSH_LOCAL}, like_sudo(command))
        assert played.returncode == 0, played.stderr.decode()
        assert played.stdout[4:8] == b"ftyp"
        # 127.0.0.1 is listed (for the browser on the device), but an SSH session from the
        # device itself came through a tunnel or a hop: never the workstation.
        tunnel = under("sh", {"SSH_CONNECTION": SSH_TUNNEL}, like_sudo(command))
        assert tunnel.returncode == 1 and tunnel.stdout == b""
        assert "een tunnel of tussenstap" in tunnel.stderr.decode()
    gov = Governance.open(load(config))
    try:
        refused = [e for e in gov.logbook.entries("usage") if e["action"] == "refused"
                   and json_details(e).get("via") == "opdrachtregel"]
    finally:
        gov.close()
    assert {e["subject"] for e in refused} == {f"segment {command_line[2]}",
                                                f"request {command_line[1]}"}
    assert all(e["actor"] == "b.beheerder" for e in refused)
    assert {("tunnel" in json_details(e)["why"], ELSEWHERE in json_details(e)["why"])
            for e in refused} == {(False, True), (True, False)}


def test_art4_lid1_cli_play_under_an_sshd_that_shows_no_address_is_refused_R20(
        command_line, tmp_path):
    """An ancestor named sshd whose session carries no SSH address (`ssh device env -u
    SSH_CONNECTION nvr ...`, or sudo to another user that cannot read the environment): the
    origin is unknown, so no footage. The session's first process with a listed address
    plays. The sshd here is a copy of the shell under that name (its /proc comm)."""
    import shutil
    sshd = tmp_path / "sshd"
    shutil.copy(shutil.which("sh"), sshd)
    segment_play = play_commands(command_line)[0]
    refused = under(str(sshd), {}, like_sudo(segment_play))
    assert refused.returncode == 1 and refused.stdout == b""
    assert "de sessie komt via SSH (sshd" in refused.stderr.decode(), refused.stderr.decode()
    session = shlex.join(["sh", "-c", like_sudo(segment_play) + "; exit $?"])
    played = under(str(sshd), {}, f"SSH_CONNECTION='{SSH_LOCAL}' {session}")
    assert played.returncode == 0, played.stderr.decode()
    assert played.stdout[4:8] == b"ftyp"


def test_art4_lid1_cli_play_never_with_certificate_required_console_counts_as_the_room_R20(
        tmp_path):
    """The rule below the CLI (system.clients.footage_command_line): with
    footage_certificate_required the command line never shows footage; without it, a session
    with no SSH anywhere in its ancestry is the device's console in the secured room (art. 4
    lid 2), checked on a real child process of this one."""
    import dataclasses
    from conftest import write_config
    from firmware.system.clients import footage_command_line, session_origin
    cfg = load(write_config(tmp_path))
    strict = dataclasses.replace(cfg.web, footage_certificate_required=True)
    refused = footage_command_line(strict, environ={}, pid=os.getpid())
    assert not refused and ART4 in refused.reason
    assert "footage_certificate_required" in refused.reason
    child = subprocess.Popen(["sh", "-c", "sleep 30; exit 0"], env=no_ssh_environ())
    try:
        time.sleep(0.2)
        here = session_origin({}, child.pid)
        assert here.unknown is None and here.addresses == (), here
        assert footage_command_line(cfg.web, environ={}, pid=child.pid).name == "console"
        outside = footage_command_line(cfg.web, environ={"SSH_CLIENT": f"{ELSEWHERE} 1 22"},
                                       pid=child.pid)
        assert not outside and ELSEWHERE in outside.reason
    finally:
        child.kill()
        child.wait()


# --- a revocation stays, whatever sqlite3 does to the data directory (R-82) -------------------

def test_art4_lid1_a_revocation_is_kept_in_the_key_directory_R20_R82(tmp_path):
    """Someone with the data directory but not the key directory un-revokes a certificate in
    the `clients` table, restores a copy of the database from before the revocation, or moves
    an expired certificate's end date: the certificate still counts as none. A revocation the
    table alone knew (made before the list existed) goes into the list at the next start."""
    import sqlite3
    from conftest import staff, write_config
    from firmware.system.clients import REVOKED_FILE, footage_workstation
    config = write_config(tmp_path)
    staff(config)
    cfg = load(config)
    key_dir = cfg.storage.key_dir
    gov = Governance.open(cfg)
    admin = gov.login("t.admin", PASSWORD)
    clients = Clients(gov.accounts.db, gov.logbook, key_dir, cfg.device.id)
    path = gov.accounts.db.execute("PRAGMA database_list").fetchone()[2]

    def pem_of(name: str, **kwargs) -> str:
        bundle, password, _ = clients.issue(admin, name, **kwargs)
        cert = pkcs12.load_key_and_certificates(bundle, password.encode())[1]
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def state(pem: str) -> str:
        gov = Governance.open(cfg)
        try:
            c = Clients(gov.accounts.db, gov.logbook, key_dir, cfg.device.id)
            return footage_workstation(c, cfg.web, address=ELSEWHERE, verified=True,
                                       certificate=pem).reason
        finally:
            gov.close()

    laptop, old, expired = (pem_of("laptop"), pem_of("oude-werkplek"),
                            pem_of("verlopen", days=1, now=time.time() - 3 * 86400))
    before = tmp_path / "before.sqlite"
    with sqlite3.connect(before) as copy:
        gov.accounts.db.backup(copy)                 # the attacker's copy, not revoked yet
    clients.revoke(admin, "laptop")
    gov.close()
    revoked = key_dir / REVOKED_FILE
    assert revoked.stat().st_mode & 0o777 == 0o600
    assert "laptop" in revoked.read_text()
    assert "werkplek 'laptop' is ingetrokken" in state(laptop)
    with sqlite3.connect(path) as attacker:
        attacker.execute("UPDATE clients SET revoked = NULL, revoked_by = NULL")
        attacker.execute("UPDATE clients SET not_after = ? WHERE name = 'verlopen'",
                         (time.time() + 365 * 86400,))
    assert "ingetrokken" in state(laptop) and "verlopen" in state(expired)
    gov = Governance.open(cfg)
    listed = {r["name"]: r["state"] for r in Clients(gov.accounts.db, gov.logbook, key_dir,
                                                     cfg.device.id).list()}
    assert listed["laptop"] == "revoked"
    gov.close()
    with sqlite3.connect(before) as copy, sqlite3.connect(path) as live:
        copy.backup(live)                            # the older database back in place
    assert "ingetrokken" in state(laptop)
    # A revocation in the table only (before this list existed) is taken into the list.
    with sqlite3.connect(path) as old_device:
        old_device.execute("UPDATE clients SET revoked = 1, revoked_by = 't.admin' "
                           "WHERE name = 'oude-werkplek'")
    assert "ingetrokken" in state(old)
    assert "oude-werkplek" in revoked.read_text()
    with sqlite3.connect(path) as attacker:
        attacker.execute("UPDATE clients SET revoked = NULL WHERE name = 'oude-werkplek'")
    assert "ingetrokken" in state(old)
