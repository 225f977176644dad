"""Second red team on issue 10: each test is a finding (fails on the code it was written
against, passes once fixed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PASSWORD, write_config
from test_redteam10 import WEIGHING, api_login, art10, entries, segments
from webutil import api

from firmware.config import load
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore


# --- 1. art. 4 lid 1 on the command line: "no sshd among the ancestors" is not the console --

def _fake_proc(root: Path, chain: list[tuple[int, str, int]]) -> Path:
    """A /proc with processes (pid, comm, parent), no SSH variable in any environment."""
    for pid, comm, parent in chain:
        d = root / str(pid)
        d.mkdir(parents=True)
        # pid (comm) state ppid pgrp session tty_nr ...: no controlling terminal (tty_nr 0)
        (d / "stat").write_text(f"{pid} ({comm}) S {parent} {pid} {pid} 0 -1 0\n")
        (d / "environ").write_bytes(b"HOME=/root\0")
    return root


@pytest.mark.parametrize("chain", [
    # `ssh device`, then `tmux attach` to a server started earlier: the nvr under the tmux
    # server has no sshd among its ancestors (the tmux client under sshd does).
    [(400, "python3", 300), (300, "bash", 200), (200, "tmux: server", 1), (1, "systemd", 0)],
    # `ssh device 'env -u SSH_CONNECTION -u SSH_CLIENT setsid -f nvr segment play ... | nc'`,
    # `at now`, `systemd-run`, `nohup ... &` after logout: reparented to init.
    [(400, "python3", 1), (1, "systemd", 0)],
    [(400, "python3", 390), (390, "atd", 1), (1, "systemd", 0)],
    # A terminal on the device's desktop, which Raspberry Pi OS serves over VNC (wayvnc,
    # RealVNC): the remote viewer's keyboard is nowhere in the ancestry.
    [(400, "python3", 380), (380, "bash", 370), (370, "lxterminal", 360), (360, "labwc", 1),
     (1, "systemd", 0)],
])
def test_art4_lid1_a_session_detached_from_its_sshd_is_not_the_console(tmp_path, chain):
    """footage_command_line counts every process with no sshd and no SSH variable in its
    ancestry as the device's console in the secured room. A remote user leaves the sshd's
    tree (tmux server, setsid -f, at, systemd-run, nohup) and plays footage to any pipe. The
    device cannot tell such a process from its console, so the command line shows no footage
    unless the configuration turns the console on ([web] footage_console, off by default)."""
    import dataclasses

    from firmware.system.clients import footage_command_line
    cfg = load(write_config(tmp_path))
    web = dataclasses.replace(cfg.web, footage_certificate_required=False,
                              footage_console=False)       # the default of a device
    proc = _fake_proc(tmp_path / "proc", chain)
    place = footage_command_line(web, environ={}, pid=chain[0][0], proc=proc)
    assert not place, f"footage on the command line of a detached session: {place.reason}"
    assert "footage_console" in place.reason
    # A device that turns the console on trusts every process without SSH as the console
    # (docs/web.md says so): that is the municipality's choice, not a default.
    console = dataclasses.replace(web, footage_console=True)
    assert footage_command_line(console, environ={}, pid=chain[0][0], proc=proc)


def test_art4_lid1_an_ssh_session_through_a_tunnel_is_not_the_workstation(tmp_path):
    """The default list of workstation addresses is 127.0.0.1 and ::1, and an SSH session
    whose client address is listed plays footage. Every SSH session from 127.0.0.1 came
    through the device itself: `ssh -L 2222:127.0.0.1:22 device` from home, then
    `ssh -p 2222 127.0.0.1 nvr segment play ... | cat > clip.mp4` at home, or any hop; the footage
    leaves through the tunnel. The same holds for the web with certificates not required
    (`ssh -L 8443:127.0.0.1:8443 device`: every request comes from 127.0.0.1)."""
    from firmware.system.clients import footage_command_line
    cfg = load(write_config(tmp_path))
    assert "127.0.0.1" in cfg.web.footage_addresses          # the default list
    proc = tmp_path / "proc"
    _fake_proc(proc, [(400, "python3", 300), (300, "bash", 200),
                      (200, "sshd-session", 100), (100, "sshd", 1), (1, "systemd", 0)])
    (proc / "300" / "environ").write_bytes(b"SSH_CONNECTION=127.0.0.1 50022 127.0.0.1 22\0")
    place = footage_command_line(cfg.web, pid=400, proc=proc,
                                 environ={"SSH_CONNECTION": "127.0.0.1 50022 127.0.0.1 22"})
    assert not place, f"an SSH session through a tunnel plays footage: {place.reason}"


# --- 2. the blurring the decision requires: a speck is not "drawn regions" ----------------------

def _ready_inzage(app, config, blur: str) -> tuple:
    req = art10(app, config)
    r = api(api_login(app, "m.manager"), "POST", f"/api/requests/{req['id']}/decision",
            {"approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
             "weighing": WEIGHING, "blur": blur})
    assert r.status_code == 200, r.get_json()
    b = api_login(app, "b.beheerder")
    assert api(b, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(b, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    segment = b.get(f"/api/requests/{req['id']}/inzage").get_json()["segments"][0]["id"]
    return b, req["id"], segment


@pytest.mark.parametrize("regions", ["0.999,0.999,0.000001,0.000001",
                                     "0,0,0.001,0.001"])
def test_art10_a_decision_asking_drawn_regions_is_not_met_by_a_speck(site, regions):
    """The decision requires 'regions' (others in view blurred by rectangles the beheerder
    draws); weighing.satisfies counts any region, so a rectangle of a millionth of the frame
    in a corner serves the segment with everyone visible, logged as shown 'with blurring'."""
    app, config = site
    b, req_id, segment = _ready_inzage(app, config, "regions")
    r = b.get(f"/requests/{req_id}/inzage/segments/{segment}/video",
              query_string={"regions": regions})
    assert r.status_code in (400, 403), "a speck of blurring served as the decision's regions"


# --- 3. art. 9 lid 3: the full document number goes in through the officer's name ------------

@pytest.mark.parametrize("officer", ["brigadier K. Bakker, paspoort NX1234567",
                                     "K. Bakker dienstnummer 12-34-567",
                                     "K. Bakker (bsn 1234 56 782)"])
def test_art9_lid3_the_officer_field_keeps_no_full_document_number(site, officer):
    """The document type and last 2-4 characters are checked, but the officer's name is free
    text: a full passport number or BSN typed there is kept for years in the Logboek Inzien
    (the same data minimisation the art. 10 identity was fixed for)."""
    from firmware.governance import handover
    from firmware.governance.requests import RequestError
    _, config = site
    cfg = load(config)
    gov = Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    try:
        reqs = gov.requests(store)
        b = gov.login("b.beheerder", PASSWORD)
        rows = segments(config)
        req = reqs.add_article9(b, reference="PL0900-2026-7002",
                                requester="Politie Midden-Nederland", legal_basis="126nd",
                                camera="cam", start=rows[0]["start"], end=rows[-1]["end"])
        try:
            handover.record_identity(reqs, b, req["id"], officer=officer,
                                     document_type="dienstpas", last_digits="4411")
        except RequestError:
            return
    finally:
        store.close()
        gov.close()
    logged = json.dumps(entries(config, "inzien"), ensure_ascii=False)
    assert officer not in logged, "a full document number is in the Logboek Inzien"


# --- 4. art. 7 lid 2: the configuration snapshot is in the data directory, open to sqlite3 ----

def test_art7_lid2_a_snapshot_written_with_sqlite3_hides_a_configuration_change(tmp_path):
    """Whether a change is logged is decided against the newest row of `config_snapshots`, a
    table in the data directory that no MAC covers. With sqlite3 (no keys) one copies the last
    snapshot with the new value in it; the next command then uses the changed configuration
    (here retention_days = 1) and the usage logbook says nothing, its chain intact."""
    import sqlite3

    from firmware.governance.configlog import record_changes
    config = write_config(tmp_path)
    gov = Governance.open(load(config))
    try:
        record_changes(gov, load(config), "nvr web")
        path = gov.accounts.db.execute("PRAGMA database_list").fetchone()[2]
    finally:
        gov.close()
    config.write_text(config.read_text().replace("[storage]\n",
                                                 "[storage]\nretention_days = 1\n", 1))
    with sqlite3.connect(path) as attacker:
        at, source, settings = attacker.execute(
            "SELECT at, source, settings FROM config_snapshots ORDER BY n DESC").fetchone()
        forged = json.loads(settings)
        forged["storage"]["retention_days"] = 1
        attacker.execute("INSERT INTO config_snapshots (at, source, settings) VALUES (?, ?, ?)",
                         (at + 1, source, json.dumps(forged, sort_keys=True)))
    cfg = load(config)
    assert cfg.storage.retention_days == 1
    gov = Governance.open(cfg)
    try:
        record_changes(gov, cfg, "nvr retention run")
    finally:
        gov.close()
    changed = [e["subject"] for e in entries(config, "usage") if e["action"] == "config-change"]
    assert "storage.retention_days" in changed, "a configuration change left no entry"


# --- 5. documents without the DejaVu fonts: a Dutch page, not a 500 ---------------------------

def test_a_missing_dejavu_font_is_a_dutch_error_page_not_a_500(site, monkeypatch, tmp_path):
    """documents.font_paths raises FontsMissing (a RuntimeError, in English) when
    fonts-dejavu-core is absent; no web handler knows it, so the decision letter (and every
    other PDF route) answers 500 with Flask's English 'Internal Server Error'."""
    from test_redteam10 import approve

    from firmware.governance import documents
    app, config = site
    req = art10(app, config)
    approve(app, req["id"])
    monkeypatch.setattr(documents._Document, "font_dir", tmp_path / "geen-fonts")
    manager = api_login(app, "m.manager")
    r = manager.get(f"/requests/{req['id']}/besluit.pdf")
    assert r.status_code != 500, "a missing font answers 500 Internal Server Error"
    text = r.get_data(as_text=True)
    assert "fonts-dejavu-core" in text and "lettertype" in text.lower(), text[:300]


# --- 6. nothing cut off: a very long word, a right-to-left name -------------------------------

LONG = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessenschafewaren"


@pytest.mark.parametrize("requester", [f"J. {LONG}{LONG}", "محمد عبد الله"])
def test_decision_letter_prints_a_long_or_right_to_left_name_whole(site, tmp_path, requester):
    """The decision letter (art. 10 lid 3) names the requester; read back with pdftotext, the
    whole name is there (hyphenless wrapping keeps all letters; a right-to-left name keeps its
    letters, in order). fpdf2 without text shaping draws an Arabic name's letters left to
    right, unjoined: the letter reads 'هللا دبع دمحم', the name backwards."""
    import subprocess

    from test_redteam10 import approve
    app, config = site
    req = art10(app, config, requester=requester)
    approve(app, req["id"])
    pdf = api_login(app, "m.manager").get(f"/requests/{req['id']}/besluit.pdf")
    assert pdf.status_code == 200
    (tmp_path / "b.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "b.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    assert "".join(requester.split()) in flat, text[:1500]


# --- 7. refusals in Dutch: what still answers in English --------------------------------------

def test_refusals_of_exports_and_decisions_are_dutch(site):
    """Issue 10's web features refuse in Dutch at their source; these two still answer in
    English: the handover of an export that does not exist ('there is no export 999',
    export/service.show_export), and a decision whose 'approve' is no yes/no ("'approve' is
    yes or no (true or false in JSON)", web/casework._yes)."""
    app, config = site
    b = api_login(app, "b.beheerder")
    r = api(b, "POST", "/api/exports/999/handover", {"medium": "USB-stick 0042"})
    assert r.status_code in (400, 404), r.get_json()
    assert "there is no" not in r.get_json()["error"], r.get_json()["error"]
    req = art10(app, config)
    r = api(api_login(app, "m.manager"), "POST", f"/api/requests/{req['id']}/decision",
            {"approve": "misschien", "reason": "belang aangetoond", "weighing": WEIGHING})
    assert r.status_code == 400, r.get_json()
    assert "yes or no" not in r.get_json()["error"], r.get_json()["error"]


# --- 8. the decision's blurring lives in a table sqlite3 can change ---------------------------

def test_art10_the_required_blurring_cannot_be_lowered_with_sqlite3(site):
    """The decision requires 'detect'; the requirement is read from `request_weighings` in the
    data directory, which no MAC covers (the Logboek Inzien entry 'request-weighing' that says
    'detect' is not consulted). One UPDATE with sqlite3, no keys, and the next inzage serves
    the segment unblurred while the logbook still says the decision required blurring."""
    import sqlite3
    app, config = site
    b, req_id, segment = _ready_inzage(app, config, "detect")
    assert b.get(f"/requests/{req_id}/inzage/segments/{segment}/video").status_code == 403
    gov = Governance.open(load(config))
    try:
        path = gov.accounts.db.execute("PRAGMA database_list").fetchone()[2]
    finally:
        gov.close()
    with sqlite3.connect(path) as attacker:
        attacker.execute("UPDATE request_weighings SET blur = 'none' WHERE request_id = ?",
                         (req_id,))
    r = b.get(f"/requests/{req_id}/inzage/segments/{segment}/video")
    assert r.status_code in (400, 403), "the decision's blurring was dropped with sqlite3"


def test_the_decision_form_without_a_reason_answers_in_dutch(site):
    """The web's shared field checks (web/routes.text, integer, moment, camera_id) still say
    "'reason' is required", "'start' must be a date and time like ...", "there is no camera"
    on the Dutch pages of issue 10's forms (decision, identity, art. 9/10 requests)."""
    from webutil import csrf_of, login
    app, config = site
    req = art10(app, config)
    manager = login(app, "m.manager")
    r = manager.post(f"/requests/{req['id']}/decision",
                     data={"approve": "yes", "reason": "", "weighing": WEIGHING,
                           "csrf": csrf_of(manager)})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "is required" not in page and "&#39;reason&#39;" not in page, page[-800:]
    assert "&#39;reden&#39;" in page


def test_logbook_pdf_prints_a_very_long_word_whole(site, tmp_path):
    """The Logboek Inzien PDF (issue 10: 'every detail shown, wrapped, never truncated') with
    a requester whose name is one very long word: read back with pdftotext, all of it."""
    import subprocess
    app, config = site
    name = f"J. {LONG}{LONG}{LONG}"
    art10(app, config, requester=name)
    pdf = api_login(app, "d.dpo").get("/logbooks/inzien/pdf")
    assert pdf.status_code == 200, pdf.status_code
    (tmp_path / "l.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "l.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "".join(name.split()) in "".join(text.split()), "the long name is cut off"


# --- 9. the revocation list in the key directory: unreadable is a refusal, not a crash --------

def test_art4_lid1_an_unreadable_revocation_list_refuses_footage_in_dutch(site):
    """revoked_certificates raises on a list it cannot read (here: bytes that are no UTF-8,
    as a torn write or a damaged card leaves them), and the web's footage check does not
    catch it: every footage route, also for a listed address that needs no certificate,
    ends in a 500 instead of the Dutch refusal of art. 4 lid 1 (fail closed, but unexplained
    and not in the usage logbook)."""
    from firmware.system.clients import REVOKED_FILE
    app, config = site
    path = load(config).storage.key_dir / REVOKED_FILE
    before = path.read_bytes() if path.exists() else None
    path.write_bytes(b"\xff\xfe\x00 niet te lezen\n")
    try:
        r = login_web(app).get("/live")
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_bytes(before)
    assert r.status_code in (403, 503), r.status_code
    page = r.get_data(as_text=True)
    assert "art. 4 lid 1" in page and "ingetrokken" in page, page[-600:]


def login_web(app):
    from webutil import login
    return login(app, "b.beheerder")


# --- 10. two decisions at the same time: the later one silently replaces the blurring ------------

def test_art10_two_concurrent_decisions_do_not_both_count(site):
    """decide() reads the status ('open'), checks, then UPDATEs without 'AND status = open':
    two managers (or two tabs, or the web and the CLI) deciding the same request at once both
    pass the check. The second replaces the first's weighing and blurring (INSERT OR
    REPLACE) and a refusal after an approval writes both in the logbook. Here the second
    process read the row before the first committed (its read is replayed)."""
    from firmware.governance.requests import RequestError, Requests
    app, config = site
    req = art10(app, config)
    cfg = load(config)
    first, second = Governance.open(cfg), Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    try:
        a, b = first.requests(store), second.requests(store)
        stale = b._row(req["id"])                        # process 2 reads: open
        a.decide(first.login("m.manager", PASSWORD), req["id"], approve=True,
                 reason="belang aangetoond", weighing=WEIGHING, blur="detect")
        b._row = lambda req_id, _real=b._row: stale if req_id == req["id"] else _real(req_id)
        try:
            b.decide(second.login("m.manager", PASSWORD), req["id"], approve=True,
                     reason="belang aangetoond", weighing=WEIGHING, blur="none")
        except RequestError:
            pass
        assert Requests.show(a, req["id"])["blur"] == "detect", \
            "a second decision at the same time replaced the blurring of the first"
    finally:
        store.close()
        first.close()
        second.close()


def test_a_permission_refusal_on_issue_10_pages_is_dutch(site):
    """The role check (roles.decide) gives its reason in English: the technisch beheerder who
    opens an inzage, the privacy officer who records a decision, read 'technisch-beheerder may
    not identify (R-11)' on a Dutch page."""
    app, config = site
    req = art10(app, config)
    refused = [api_login(app, "t.admin").get(f"/api/requests/{req['id']}/inzage"),
               api(api_login(app, "p.officer"), "POST", f"/api/requests/{req['id']}/decision",
                   {"approve": True, "reason": "belang aangetoond", "weighing": WEIGHING})]
    for r in refused:
        assert r.status_code == 403, r.get_json()
        assert "may not" not in r.get_json()["error"], r.get_json()["error"]


def test_hold_and_visit_refusals_are_dutch_R41_R12(site):
    """The beheerder's other casework refuses in Dutch too, at its source (storage/holds.py,
    governance/delegation.py): releasing a hold that does not exist, a visit without its
    legal basis, a delegation to an account that is no designee."""
    app, _ = site
    b = api_login(app, "b.beheerder")
    r = api(b, "POST", "/api/holds/999/release", {})
    assert r.status_code in (400, 404) and "bewaaropdracht" in r.get_json()["error"], r.get_json()
    r = api(b, "POST", "/api/visits", {"visitor": "agent H. Jansen", "organisation": "Politie",
                                       "identity": "dienstpas gezien", "legal_basis": "geen",
                                       "reason": "onderzoek naar een vernieling",
                                       "cameras": ["cam"], "minutes": 30,
                                       "start": _ago(30), "end": _ago(10)})
    assert r.status_code == 400 and "grondslag" in r.get_json()["error"], r.get_json()
    r = api(b, "POST", "/api/delegations", {"grantee": "p.officer", "actions": ["playback"],
                                            "cameras": ["cam"], "reason": "vervanging",
                                            "expires": "2099-01-01T00:00:00+01:00"})
    assert r.status_code in (400, 403), r.get_json()
    assert "aangewezen persoon" in r.get_json()["error"] or "artikel" in r.get_json()["error"], \
        r.get_json()


def _ago(minutes: int) -> str:
    from datetime import datetime, timedelta, timezone
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat()
