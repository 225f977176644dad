"""Red team of issue 10: each test is an attack on what issue 10 added (art. 9 handover, art. 10
inzage, art. 4 lid 1 workstations, art. 12 decisions, configuration logging, documents), with
the real parts: the Flask test client, real SQLite, the real encrypted store, real `nvr`
subprocesses and the real pdftotext. A failing test is a finding (see the red team report)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import PASSWORD, ROOT, recorded_site, write_config
from deviceday import footage_day, period
from webutil import api, client

from firmware.config import load
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore

WEIGHING = ("op de beelden staan ook voorbijgangers; het belang van de aanvrager weegt "
            "zwaarder, anderen worden vervaagd getoond")
QUESTION = "mag de camera tijdelijk anders hangen tijdens de verbouwing van de hal?"


def api_login(app, name):
    c = client(app)
    token = c.get("/api/session").get_json()["csrf"]
    r = c.post("/api/login", json={"name": name, "password": PASSWORD},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_json()
    return c


def iso(t: float) -> str:
    return datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


def entries(config, book: str) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [{**e, "details": json.loads(e["details"]) if e["details"] else {}}
                for e in gov.logbook.entries(book)]
    finally:
        gov.close()


def segments(config) -> list[dict]:
    store = EncryptedStore.from_config(load(config))
    try:
        return store.list_segments("cam")
    finally:
        store.close()


def art10(app, config, requester: str = "J. de Vries") -> dict:
    rows = segments(config)
    officer = api_login(app, "p.officer")
    r = api(officer, "POST", "/api/requests/art10", {
        "requester": requester, "requester_kind": "citizen",
        "motivation": "mijn fiets is gestolen bij de ingang", "camera": "cam",
        "start": iso(rows[1]["start"] + 1.5), "end": iso(rows[1]["end"] - 0.5)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def approve(app, req_id: int) -> None:
    r = api(api_login(app, "m.manager"), "POST", f"/api/requests/{req_id}/decision",
            {"approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
             "weighing": WEIGHING})
    assert r.status_code == 200, r.get_json()


# --- art. 12: who decides ----------------------------------------------------------------------

@pytest.mark.parametrize("on_behalf_of", ["p.officer", "d.dpo", "t.admin", "P.Officer "])
def test_art12_manager_records_no_decision_on_behalf_of_an_adviser_or_another_role(site,
                                                                                   on_behalf_of):
    """Art. 12: the gemeentesecretaris/algemeen directeur decides after the advice of the
    privacy officer and the FG. The manager may record on their behalf, naming them in free
    text (they may have no account); but the name may be one of the two advisers (the adviser
    then 'decides'), or the account of another role such as the technisch beheerder."""
    app, _ = site
    opened = api(api_login(app, "b.beheerder"), "POST", "/api/decisions", {"question": QUESTION})
    assert opened.status_code == 201, opened.get_json()
    n = opened.get_json()["id"]
    for name in ("p.officer", "d.dpo"):
        assert api(api_login(app, name), "POST", f"/api/decisions/{n}/advice",
                   {"advice": f"positief advies van {name}"}).status_code == 200
    recorded = api(api_login(app, "m.manager"), "POST", f"/api/decisions/{n}/decision",
                   {"decision": "akkoord voor de verbouwing", "on_behalf_of": on_behalf_of})
    assert recorded.status_code in (400, 403), recorded.get_json()


# --- art. 10 lid 4-5: identity and declaration of the requester ----------------------------------

def test_art10_lid5_declaration_signed_by_another_person_than_the_requester_is_refused(site):
    """Art. 9 lid 4 checks that the declaration is signed by the identified officer; the art. 10
    declaration accepts any name, so the footage is shown to whoever 'signed'."""
    app, config = site
    req = art10(app, config)
    approve(app, req["id"])
    b = api_login(app, "b.beheerder")
    assert api(b, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    signed = api(b, "POST", f"/api/requests/{req['id']}/declaration",
                 {"signed_by": "K. Anders, buurman"})
    assert signed.status_code == 400, signed.get_json()
    assert b.get(f"/api/requests/{req['id']}/inzage").status_code == 400


def test_art10_lid4_identity_is_not_replaced_after_the_declaration(site):
    """Once the requester identified and signed, the identity can be overwritten (another
    person, another document) and the signed declaration still counts for the inzage."""
    app, config = site
    req = art10(app, config)
    approve(app, req["id"])
    b = api_login(app, "b.beheerder")
    assert api(b, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(b, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    again = api(b, "POST", f"/api/requests/{req['id']}/identity",
                {"document_type": "rijbewijs", "last_digits": "9876"})
    assert again.status_code == 400, again.get_json()


# --- art. 9: the handover ------------------------------------------------------------------------

def test_art9_no_handover_once_the_request_is_closed(site):
    """The handover is recorded for an export of a request that was closed meanwhile: footage
    handed over for a request that is no longer open, with no new check."""
    from firmware.export.helpers import helper_for
    from firmware.export.service import hand_over, make_package
    from firmware.governance import handover
    _, config = site
    cfg = load(config)
    gov = Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    try:
        reqs = gov.requests(store)
        b = gov.login("b.beheerder", PASSWORD)
        rows = segments(config)
        req = reqs.add_article9(b, reference="PL0900-2026-7001",
                                requester="Politie Midden-Nederland", legal_basis="126nd",
                                camera="cam", start=rows[0]["start"], end=rows[-1]["end"])
        handover.record_identity(reqs, b, req["id"], officer="brigadier K. Bakker",
                                 document_type="dienstpas", last_digits="4411")
        reqs.record_declaration(b, req["id"], "brigadier K. Bakker")
        export = make_package(gov, store, b, request_id=req["id"], camera="cam",
                              start=req["start"], end=req["end"], helper=helper_for(cfg),
                              reason="verzoek politie")
        reqs.close(b, req["id"], "zaak afgehandeld door de politie")
        with pytest.raises(Exception, match="(?i)gesloten|closed"):
            hand_over(gov, store, b, export["id"], medium="USB-stick 0042")
    finally:
        store.close()
        gov.close()


# --- art. 4 lid 1: footage only on the workstation -------------------------------------------------

@pytest.fixture(scope="module")
def certified(tmp_path_factory):
    """A device that asks a client certificate for footage (footage_certificate_required),
    with an art. 10 request ready for its inzage."""
    from firmware.governance.roles import Role
    config = recorded_site(tmp_path_factory.mktemp("certified"),
                           {"d.dpo": Role.DPO})
    config.write_text(config.read_text().replace(
        "[web]\nport = 0", "[web]\nport = 0\nfootage_certificate_required = true"))
    cfg = load(config)
    assert cfg.web.footage_certificate_required
    gov = Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    rows = store.list_segments("cam")
    reqs = gov.requests(store)
    officer = gov.login("p.officer", PASSWORD)
    req = reqs.add_article10(officer, requester="J. de Vries", requester_kind="citizen",
                             motivation="mijn fiets is gestolen", received=rows[0]["start"],
                             camera="cam", start=rows[1]["start"] + 1, end=rows[1]["end"] - 1)
    reqs.decide(gov.login("m.manager", PASSWORD), req["id"], approve=True,
                reason="belang aangetoond", weighing=WEIGHING)
    b = gov.login("b.beheerder", PASSWORD)
    reqs.record_identity(b, req["id"], document_type="paspoort", last_digits="4567")
    reqs.record_declaration(b, req["id"], "J. de Vries")
    store.close()
    gov.close()
    return config, req["id"], rows[1]["id"]


def test_art4_lid1_cli_request_play_is_refused_off_the_workstation(certified):
    """With footage_certificate_required the web shows footage only to a certified workstation,
    but `nvr request play` (and `nvr segment play`) decrypt to any pipe: over `ssh device nvr
    request play ...` stdout is a pipe, so the plaintext MP4 lands on any computer."""
    config, req_id, segment = certified
    import os
    played = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "--config", str(config), "request", "play",
         str(req_id), segment, "--user", "b.beheerder"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "NVR_PASSWORD": PASSWORD}, cwd=ROOT,
        timeout=120)
    assert played.stdout[4:8] != b"ftyp", "plaintext footage left the device off the workstation"
    assert played.returncode != 0


# --- configuration changes (art. 7 lid 2) -------------------------------------------------------

def _web_until_started(config: Path) -> list[str]:
    web = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config), "web"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in web.stdout:
            lines.append(line)
            if line.startswith("footage") or len(lines) > 80:
                break
    finally:
        web.terminate()
        web.wait(30)
    return lines


def test_configured_decree_days_do_not_stop_nvr_web(tmp_path):
    """docs/configuration.md: the municipality adds decree days in [deadlines] equated_days.
    The configuration log keeps them as dates, which json cannot write: `nvr web` (and
    `nvr run`, the recorder) stop at start with a TypeError."""
    config = write_config(tmp_path, extra='[deadlines]\nequated_days = [{date = "2029-05-11", '
                                          'decree = "Besluit gelijkstelling 2029"}]')
    first = _web_until_started(config)
    assert first[-1].startswith("footage"), "".join(first)
    config.write_text(config.read_text().replace("2029-05-11", "2029-12-24"))
    second = _web_until_started(config)
    assert second[-1].startswith("footage"), "".join(second)
    changed = [e for e in entries(config, "usage") if e["action"] == "config-change"]
    assert [e["subject"] for e in changed] == ["deadlines.equated_days"]
    assert "2029-12-24" in json.dumps(changed[0]["details"])


def test_a_configuration_used_between_two_starts_is_logged(tmp_path):
    """The configuration is compared only when `nvr web` or `nvr run` starts. A change that a
    CLI command uses (here retention_days for `nvr retention run`) and that is reverted before
    the next start never reaches the usage logbook."""
    config = write_config(tmp_path)
    assert _web_until_started(config)[-1].startswith("footage")
    original = config.read_text()
    config.write_text(original.replace("[storage]\n", "[storage]\nretention_days = 1\n", 1))
    assert load(config).storage.retention_days == 1
    done = subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                           "retention", "run"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    config.write_text(original)
    assert _web_until_started(config)[-1].startswith("footage")
    changed = [e["subject"] for e in entries(config, "usage") if e["action"] == "config-change"]
    assert "storage.retention_days" in changed, changed


# --- documents ---------------------------------------------------------------------------------

def test_decision_letter_keeps_a_name_outside_latin1(site, tmp_path):
    """Every document goes through _latin1, which turns letters outside Latin-1 into '?': the
    decision letter is addressed to 'Ay?e Y?lmaz' (and the art. 9 declaration names officer
    '?ukasz Wi?niewski')."""
    app, config = site
    name = "Ayşe Yılmaz"
    req = art10(app, config, requester=name)
    approve(app, req["id"])
    pdf = api_login(app, "m.manager").get(f"/requests/{req['id']}/besluit.pdf")
    assert pdf.status_code == 200
    out = tmp_path / "besluit.pdf"
    out.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert f"Geachte {name}" in " ".join(text.split()), text[:600]


def test_logbook_csv_and_pdf_show_no_epoch_numbers_nor_internal_ids(site, tmp_path):
    """Issue 10: logbooks with readable times and zone, no epoch numbers, no internal ids.
    After an inzage (segments shown) and a configuration of the site, read both books back as
    the FG does: the Dutch columns (before the auditor's three) and the PDF."""
    import csv
    import re
    app, config = site
    req = art10(app, config)
    approve(app, req["id"])
    b = api_login(app, "b.beheerder")
    assert api(b, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(b, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    opened = b.get(f"/api/requests/{req['id']}/inzage").get_json()
    for s in opened["segments"]:
        assert b.get(s["url"]).status_code == 200
    dpo = api_login(app, "d.dpo")
    problems = []
    for book in ("inzien", "usage"):
        data = dpo.get(f"/logbooks/{book}/csv")
        assert data.status_code == 200
        rows = list(csv.reader(data.get_data(as_text=True).splitlines()))
        header = rows[0]
        for row in rows[1:]:
            if len(row) != len(header):
                continue
            readable = " | ".join(row[:8])
            if re.search(r"\b1[6-9]\d{8}(\.\d+)?\b", readable):
                problems.append(f"{book} csv epoch: {readable}")
            if re.search(r"\b[0-9a-f]{32}\b", readable):
                problems.append(f"{book} csv segment id: {readable}")
        pdf = dpo.get(f"/logbooks/{book}/pdf")
        out = tmp_path / f"{book}.pdf"
        out.write_bytes(pdf.data)
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                              check=True).stdout
        for m in re.finditer(r".{0,80}\b1[6-9]\d{8}(\.\d+)?\b.{0,40}", text):
            problems.append(f"{book} pdf epoch: {m.group(0)}")
    assert not problems, "\n".join(problems[:15])


def test_art10_blurring_the_decision_asks_for_cannot_be_dropped_from_the_url(site):
    """Toelichting art. 10: others in view are weighed in the decision, and the viewing can
    blur them. The blurring is a query parameter of each video request, chosen by whoever
    sits at the screen: the decision cannot make it binding, and the same segment is served
    unblurred by leaving `?detect=1` off the URL. The decision must fix the blurring (here:
    'detect') and the inzage must refuse anything less."""
    app, config = site
    req = art10(app, config)
    r = api(api_login(app, "m.manager"), "POST", f"/api/requests/{req['id']}/decision",
            {"approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
             "weighing": WEIGHING, "blur": "detect"})
    assert r.status_code == 200, r.get_json()
    b = api_login(app, "b.beheerder")
    assert api(b, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(b, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    segment = b.get(f"/api/requests/{req['id']}/inzage").get_json()["segments"][0]["id"]
    plain = b.get(f"/requests/{req['id']}/inzage/segments/{segment}/video")
    assert plain.status_code == 403, "unblurred footage of others shown against the decision"


def test_art4_lid1_a_revoked_certificate_stays_revoked_against_sqlite3(certified):
    """Someone with sqlite3 and the data directory (no keys) un-revokes a workstation
    certificate: the check reads only the `clients` table, which no chain or MAC covers, so
    the revoked computer shows footage again while the logbook still says 'ingetrokken' and
    verifies intact."""
    import sqlite3
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from firmware.system.clients import Clients, footage_workstation
    config, _, _ = certified
    cfg = load(config)
    gov = Governance.open(cfg)
    try:
        admin = gov.login("t.admin", PASSWORD)
        clients = Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)
        bundle, password, _ = clients.issue(admin, "gestolen-laptop")
        _, cert, _ = pkcs12.load_key_and_certificates(bundle, password.encode())
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        clients.revoke(admin, "gestolen-laptop")
        path = gov.accounts.db.execute("PRAGMA database_list").fetchone()[2]
    finally:
        gov.close()
    with sqlite3.connect(path) as attacker:            # no keys: only the data directory
        attacker.execute("UPDATE clients SET revoked = NULL, revoked_by = NULL "
                         "WHERE name = 'gestolen-laptop'")
    gov = Governance.open(cfg)
    try:
        clients = Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)
        place = footage_workstation(clients, cfg.web, address="10.0.9.9", verified=True,
                                    certificate=pem)
    finally:
        gov.close()
    assert not place, f"revoked certificate shows footage again: {place.reason}"


def test_art10_lid4_identity_keeps_no_full_document_number(site):
    """Art. 9 lid 3 keeps only the last digits of the officer's document ('never the full
    number: the logbook is kept for years'); the art. 10 identity is free text, so the full
    passport number of a citizen goes into the Logboek Inzien Beeldmateriaal (AVG art. 5 lid 1
    sub c, and art. 46 Uitvoeringswet AVG for the BSN)."""
    app, config = site
    req = art10(app, config)
    approve(app, req["id"])
    b = api_login(app, "b.beheerder")
    r = api(b, "POST", f"/api/requests/{req['id']}/identity",
            {"method": "paspoort NX1234567, BSN 123456782"})
    logged = json.dumps(entries(config, "inzien"), ensure_ascii=False)
    assert r.status_code == 400 or ("NX1234567" not in logged and "123456782" not in logged)


@pytest.mark.parametrize("requester,motivation", [
    ("mr. K. Jansen, raadsman", "beelden voor de verdediging van mijn cliënt, verdachte van "
                                "mishandeling in de hal"),
    ("Advocatuur Jansen & De Wit", "beelden voor de verdediging van onze cliënt in de "
                                   "strafzaak"),
    ("mr. A. Bakker, advokaat", "beelden voor de verdediging van een verdachte")])
def test_art10_lid2_a_defence_counsel_not_called_advocaat_still_says_what_they_act_for(
        site, requester, motivation):
    """Art. 10 lid 2: a lawyer for the defence of a suspect goes through the officier van
    justitie. The words that make a request a lawyer's are 'advocaat', 'advocate', 'lawyer':
    the Dutch 'raadsman' (Sv art. 28: the defence counsel), 'advocatuur' or a misspelling
    'advokaat' with kind 'other' are taken in with no question what the lawyer acts for."""
    app, config = site
    rows = segments(config)
    r = api(api_login(app, "p.officer"), "POST", "/api/requests/art10", {
        "requester": requester, "requester_kind": "other", "motivation": motivation,
        "camera": "cam", "start": iso(rows[1]["start"] + 1.5), "end": iso(rows[1]["end"] - 0.5)})
    assert r.status_code == 400 and "waarvoor de advocaat optreedt" in r.get_json()["error"], r.get_json()


def test_report_counts_the_art10_inzage_and_exports_as_access_to_footage(site, tmp_path):
    """The DPIA/FG report (R-83) lists the purpose 'art. 10 inzage' and the access per role;
    it counted only the usage entries 'live', 'playback', 'export': an inzage
    ('viewing-opened') and an export ('export-written') were never counted, so the report
    said 0 inzages and 'Geen' access while footage was shown in the period."""
    import re
    app, config = site
    req = art10(app, config)
    approve(app, req["id"])
    b = api_login(app, "b.beheerder")
    assert api(b, "POST", f"/api/requests/{req['id']}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(b, "POST", f"/api/requests/{req['id']}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    assert b.get(f"/api/requests/{req['id']}/inzage").status_code == 200
    first, last = period(footage_day(config), config=config)
    pdf = api_login(app, "d.dpo").get(f"/report?from={first}&to={last}")
    assert pdf.status_code == 200
    out = tmp_path / "rapportage.pdf"
    out.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    counted = re.search(r"art\. 10 inzage \(verzoek van een ander\)\s+(\d+)", text)
    assert counted and int(counted.group(1)) >= 1, text[:1500]
    section = text.split("Toegang tot beelden per rol", 1)[1].split("Exporten en ontvangers")[0]
    assert "beheerder" in section and "Geen." not in section, section
