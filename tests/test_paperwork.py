"""Issue 10, "Documents a privacy officer signs": the logbooks (CSV, PDF and the web page) in
Dutch with local times and every detail, the DPIA/FG report, the scans of a request's paper
file, and the compliance matrix citing article and lid. Every document is read back with the
real pdftotext."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from firmware.cli import _store
from firmware.config import load
from firmware.export.helpers import helper_for
from firmware.export.service import hand_over, make_package
from firmware.governance.roles import Action, Role
from firmware.governance.service import Governance

from conftest import PASSWORD, ROOT, nvr, recorded_site
from deviceday import device_date, footage_day, period
from webutil import login

FIRMWARE = ROOT / "firmware"
LONG_REASON = ("camera tijdelijk verplaatst naar de publiekshal wegens verbouwing van de "
               "centrale ingang; besloten na advies van de privacy officer en de functionaris "
               "gegevensbescherming, geldig tot de oplevering van de nieuwe balie, daarna "
               "terug naar de oude plek en opnieuw beoordeeld in de DPIA slotwoord-zebra")
EPOCH = re.compile(r"\b1[6-9]\d{8}(\.\d+)?\b")             # a stored time, unformatted
ZONED = re.compile(r"\d\d-\d\d-\d{4} \d\d:\d\d(:\d\d)? \((CET|CEST)\)")


def pdf_text(path, mode: str = "-layout") -> str:
    """The PDF's text by the real pdftotext: `-layout` as it looks, `-raw` in the order it
    was written (a table cell's wrapped lines stay together)."""
    return subprocess.run(["pdftotext", mode, str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def flat(text: str) -> str:
    return " ".join(text.split())


def run(config, *args):
    result = nvr("--config", str(config), *args, env={**os.environ, "NVR_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A recorded device named "Gemeentehuis Soest", every role, an art. 9 request with an
    export, a visit, a delegation, an open art. 10 request received a week ago (overdue) and a
    decision outside the rules with a long text."""
    tmp = tmp_path_factory.mktemp("paperwork")
    config = recorded_site(tmp, {"d.dpo": Role.DPO, "a.designee": Role.DESIGNEE})
    config.write_text(config.read_text().replace('id = "test-device"',
                                                 'id = "test-device"\nname = "Gemeentehuis Soest"'))
    cfg = load(config)
    now = datetime.now(timezone.utc)
    start, end = now - timedelta(minutes=25), now - timedelta(minutes=5)
    art9 = json.loads(run(config, "request", "add", "--article", "9", "--reference",
                          "PL0900-2026-77", "--requester", "Politie Midden-Nederland",
                          "--legal-basis", "126nda", "--camera", "cam", "--start",
                          start.isoformat(), "--end", end.isoformat(), "--user", "b.beheerder",
                          "--json").stdout)
    run(config, "request", "add", "--article", "10", "--requester", "J. de Vries",
        "--motivation", "fiets gestolen bij de ingang", "--received",
        (now - timedelta(days=8)).isoformat(), "--camera", "cam", "--start", start.isoformat(),
        "--end", end.isoformat(), "--user", "p.officer")
    run(config, "visit", "open", "--visitor", "agent H. Jansen", "--organisation",
        "Politie Midden-Nederland", "--identity", "dienstpas gezien", "--legal-basis", "126nda",
        "--reason", "onderzoek naar een vernieling", "--camera", "cam", "--start",
        start.isoformat(), "--end", end.isoformat(), "--minutes", "30", "--user", "b.beheerder")
    run(config, "delegation", "add", "--grantee", "a.designee", "--actions", "playback",
        "--cameras", "cam", "--reason", "vervanging tijdens vakantie beheerder", "--expires",
        (now + timedelta(days=14)).isoformat(), "--user", "b.beheerder")
    question = json.loads(run(config, "decision", "open", "--question", LONG_REASON, "--json",
                              "--user", "b.beheerder").stdout)["id"]
    run(config, "decision", "advise", str(question), "--advice", "positief advies PO",
        "--user", "p.officer")
    run(config, "decision", "advise", str(question), "--advice", "positief advies FG",
        "--user", "d.dpo")
    run(config, "decision", "record", str(question), "--decision", LONG_REASON,
        "--on-behalf-of", "gemeentesecretaris", "--user", "m.manager")
    officer = "brigadier A. Jansen"                  # art. 9 lid 3-4 before the export
    run(config, "request", "identity", str(art9["id"]), "--officer", officer, "--document-type",
        "dienstpas", "--last-digits", "4411", "--user", "b.beheerder")
    run(config, "request", "declaration", str(art9["id"]), "--signed-by", officer,
        "--user", "b.beheerder")
    gov = Governance.open(cfg)
    store = _store(cfg)
    beheerder = gov.login("b.beheerder", PASSWORD)
    export = make_package(gov, store, beheerder, request_id=art9["id"], camera="cam",
                          start=start.timestamp(), end=end.timestamp(),
                          helper=helper_for(cfg), reason="verzoek politie",
                          device="Gemeentehuis Soest")
    hand_over(gov, store, beheerder, export["id"], medium="USB-stick GEM-0042")
    gov.close()
    return tmp, config


# --- the wording of the logbooks (R-50, R-51) --------------------------------------------------

def _appended_actions() -> tuple[set[str], set[str], set[str]]:
    """Every action the firmware appends to a logbook: the literal ones, the expressions of
    the others (which the test expands by hand below), and the keys of literal details."""
    literal, dynamic, keys = set(), set(), set()
    for path in FIRMWARE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("append", "_insert") and len(node.args) >= 3):
                continue
            book = node.args[0]
            if node.func.attr == "append" and not (isinstance(book, ast.Constant)
                                                   and book.value in ("usage", "inzien")):
                continue
            action = node.args[2] if node.func.attr == "append" else node.args[3]
            if node.func.attr == "_insert" and path.name != "logbook.py":
                continue
            if isinstance(action, ast.Constant) and isinstance(action.value, str):
                literal.add(action.value)
            else:
                dynamic.add(ast.unparse(action))
            details = [k.value for k in node.keywords if k.arg == "details"]
            details += [a for a in node.args[5:] if node.func.attr == "_insert"]
            for d in details:
                if isinstance(d, ast.Dict):
                    keys.update(k.value for k in d.keys if isinstance(k, ast.Constant))
    return literal, dynamic, keys


def test_every_logbook_action_in_the_code_has_a_dutch_wording_art7_lid2_art10_lid6_R50_R51():
    from firmware.governance.clockcheck import LOGGED
    from firmware.governance.logbook import BREAK
    from firmware.governance.roles import FOOTAGE
    from firmware.governance.wording import ACTIONS
    from firmware.governance.wording import DETAIL_KEYS
    literal, dynamic, keys = _appended_actions()
    assert len(literal) > 30, literal
    expansions = {"action.value": {a.value for a in FOOTAGE},
                  "f'request-{status}'": {"request-approved", "request-refused"},
                  "BREAK": {BREAK}, "action": set(),     # logbook.py's own parameter
                  "LOGGED": {LOGGED}}                    # governance/clockcheck.py
    unknown = dynamic - set(expansions)
    assert not unknown, f"expand these actions in the test: {unknown}"
    needed = literal | set().union(*(expansions[d] for d in dynamic))
    missing = sorted(a for a in needed if a not in ACTIONS)
    assert not missing, f"no Dutch wording in governance/wording.py for {missing}"
    for action, words in ACTIONS.items():
        assert words and words != action and not re.search(r"\b(request|user|hold)\b", words)
    assert len(keys) > 20, keys
    unlabelled = sorted(keys - set(DETAIL_KEYS))
    assert not unlabelled, f"details without a Dutch label in governance/wording.py: {unlabelled}"


def test_logbook_pdf_is_dutch_with_zone_names_and_every_detail_art7_lid2_art10_lid6_R50_R51(
        site):
    tmp, config = site
    out = tmp / "inzien.pdf"
    run(config, "logbook", "export", "--book", "inzien", "--format", "pdf", "--out", str(out),
        "--user", "d.dpo")
    text = pdf_text(out)
    first_page = text.split("\f")[0]
    assert "Logboek Inzien Beeldmateriaal (vertrouwelijk)" in first_page
    assert re.search(r"Controle van de hashketen en de ondertekende kop: intact", flat(first_page))
    assert "Gemeentehuis Soest" in first_page                      # the device by its name
    body = flat(text)
    for words in ("schriftelijk verzoek politie/OM geregistreerd (art. 9)",
                  "verzoek om inzage ontvangen (art. 10)", "bezoek politie/OM geregistreerd",
                  "overdrachtspakket geschreven", "besluit buiten de regeling vastgelegd",
                  "Testcamera (Gemeentehuis Soest, testgang)", "grondslag: 126nda",
                  "verzoeker: Politie Midden-Nederland", "organisatie: Politie Midden-Nederland",
                  "Handeling", "Onderwerp", "Reden", "Details", "verzoek 1"):
        assert words in body, words
    assert flat(LONG_REASON) in body                                   # wrapped, not cut off
    assert ZONED.search(text), "no local time with its zone"
    assert not EPOCH.search(text), EPOCH.search(text).group(0)
    for raw in ("{", "}", '":', "request-art9-registered", "request 1", "camera cam"):
        assert raw not in text, raw


def test_logbook_csv_has_dutch_headers_and_readable_details_art7_lid2_R50(site):
    tmp, config = site
    out = tmp / "usage.csv"
    run(config, "logbook", "export", "--book", "usage", "--format", "csv", "--out", str(out),
        "--user", "d.dpo")
    rows = list(csv.reader(out.open(encoding="utf-8")))
    rows = rows[:rows.index([])]
    header = rows[0]
    assert header[:7] == ["logboek", "nr", "tijd", "wie", "handeling", "onderwerp", "reden"]
    assert "details" in header and "hash" in header
    col = {name: header.index(name) for name in header}
    texts = [r[col["handeling"]] for r in rows[1:]]
    assert "ingelogd" in texts and "aanwijzing door de beheerder verleend" in texts
    grant = rows[1:][texts.index("aanwijzing door de beheerder verleend")]
    assert "camera's: Testcamera (Gemeentehuis Soest, testgang)" in grant[col["details"]]
    assert "handelingen: terugkijken" in grant[col["details"]]
    assert ZONED.fullmatch(grant[col["tijd"]])
    assert all(r[col["code handeling"]] for r in rows[1:])            # for the auditor
    everything = "\n".join(",".join(r) for r in rows)
    assert not EPOCH.search(everything) and "{" not in everything


def test_every_stored_detail_and_subject_of_both_logbooks_has_a_dutch_label_art7_lid2_art12(
        site):
    """The static check above sees only literal details; this one reads every entry the
    paperwork fixture left in both books (an art. 12 decision builds its details in code)."""
    from firmware.governance.wording import DETAIL_KEYS, SUBJECTS, Names
    tmp, config = site
    gov = Governance.open(load(config))
    try:
        entries = [e for book in ("usage", "inzien") for e in gov.logbook.entries(book)]
    finally:
        gov.close()
    assert any(e["action"] == "decision-outside-rules" for e in entries)
    names = Names()
    for e in entries:
        details = json.loads(e["details"]) if isinstance(e["details"], str) else e["details"]
        unlabelled = sorted(set(details or {}) - set(DETAIL_KEYS))
        assert not unlabelled, f"{e['action']}: no Dutch label for {unlabelled}"
        kind = (e["subject"] or "").partition(" ")[0]
        assert kind not in ("decision", "request", "segment") or kind in SUBJECTS, e["subject"]
        assert not names.subject(e["subject"] or "").startswith(("decision ", "segment ")), e
        assert "lawyer" not in (e["reason"] or "")


def test_web_refusal_pages_are_dutch_R11(site):
    """A page the role may not open says so in Dutch, by the role's name and the action's
    wording (the API keeps the reason of decide); every action has a wording."""
    from firmware.governance.roles import Action
    from firmware.governance.wording import VALUES
    from firmware.web import create_app
    assert not [a.value for a in Action if a.value not in VALUES]
    tmp, config = site
    app = create_app(load(config))
    app.config["TESTING"] = True
    page = login(app, "t.admin").get("/requests")
    text = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "de rol technisch beheerder mag dit niet: verzoeken lezen" in text, text
    assert "may not" not in text


def test_every_role_has_the_regulations_name_art2():
    """Art. 2 and 3 lid 1: the roles by the regulation's names, the eindverantwoordelijke as
    the gemeentesecretaris/algemeen directeur."""
    from firmware.governance.wording import ROLES, Names
    assert {r.value for r in Role} <= set(ROLES)
    assert "gemeentesecretaris/algemeen directeur" in Names().details(
        {"role": Role.EINDVERANTWOORDELIJKE.value})


def test_web_logbook_page_shows_dutch_actions_and_readable_details_R50_R51(site):
    from firmware.web import create_app
    _, config = site
    app = create_app(load(config))
    app.config["TESTING"] = True
    page = login(app, "d.dpo").get("/logbooks/inzien").get_data(True)
    assert "schriftelijk verzoek politie/OM geregistreerd (art. 9)" in page
    assert "grondslag: 126nda" in page and "Testcamera (Gemeentehuis Soest, testgang)" in page
    assert ZONED.search(page)
    assert "request-art9-registered" not in page and "&#34;" not in page and "{&" not in page


# --- the DPIA/FG report (R-83) ------------------------------------------------------------------

def test_report_lists_exports_visits_delegations_bases_purposes_and_overdue_R83(site):
    tmp, config = site
    out = tmp / "rapport.pdf"
    nine_days_ago = device_date(datetime.now(timezone.utc) - timedelta(days=9), config)
    first, last = period(nine_days_ago, footage_day(config), config=config)
    run(config, "report", "--from", first, "--to", last, "--out", str(out), "--user", "d.dpo")
    text = pdf_text(out)
    body = flat(pdf_text(out, "-raw"))
    for words in (
            "Rapportage camerasysteem voor DPIA en FG", "Gemeentehuis Soest",
            "Doelen van het cameratoezicht (art. 1)", "veiligheid van personen",
            "Grondslagen", "art. 6 lid 1 sub e AVG", "126nda Sv",
            "Exporten en ontvangers (art. 9)", "PL0900-2026-77", "Politie Midden-Nederland",
            "brigadier A. Jansen", "USB-stick GEM-0042",
            "Bezoeken van politie en OM (art. 5 lid 4)", "agent H. Jansen",
            "Aanwijzingen door de beheerder (art. 5 lid 1)", "a.designee",
            "vervanging tijdens vakantie beheerder", "Testcamera", "Gemeentehuis Soest, testgang",
            "Verzoeken", "in behandeling", "geregistreerd", "Te late verzoeken", "J. de Vries",
            "Opslagalarmen", "Geen.", "intact", "verzoek 1: PL0900-2026-77"):
        assert words in body, words
    assert ZONED.search(text)
    assert not EPOCH.search(text)
    statuses = re.findall(r"\b(open|registered|approved|refused|closed)\b", text)
    assert not statuses, statuses
    assert "request" not in body and "0.0 dagen" not in body


def test_report_renders_dpia_works_council_and_signage_when_given_art6_lid3_art11_R83(
        site, tmp_path):
    from firmware.governance.documents import report_pdf
    from firmware.governance.report import report_data
    _, config = site
    cfg = load(config)
    gov = Governance.open(cfg)
    now = datetime.now(timezone.utc).timestamp()
    data = report_data(cfg, _store(cfg), gov, now - 86400, now)
    data.update({"from": "2026-11-01", "to": "2026-11-28",
                 "dpia": {"reference": "DPIA-2026-003", "date": "2026-06-01",
                          "date_text": "01-06-2026", "refused": ""},
                 "works_council": [{"camera": "cam", "name": "Testcamera",
                                    "location": "testgang", "reference": "OR-2026-12",
                                    "date": "2026-05-20", "date_text": "20-05-2026",
                                    "refused": ""}],
                 "signage": ["hoofdingang Steenhoffstraat", "personeelsingang achterzijde"],
                 "alarms": [{"kind": "storage-full", "since": now - 3600, "detail": "x"}]})
    out = report_pdf(data, cfg, tmp_path / "r.pdf")
    body = flat(pdf_text(out, "-raw"))
    for words in ("DPIA-2026-003", "01-06-2026", "OR-2026-12", "20-05-2026",
                  "hoofdingang Steenhoffstraat", "personeelsingang achterzijde",
                  "Borden cameratoezicht (artikel 6 lid 3)", "de schijf is vol"):
        assert words in body, words


# --- scans of the paper file (art. 9 lid 1 and 4, art. 10 lid 1, 3, 5 and 6) ---------------------

def _pdf_scan(tmp: Path) -> bytes:
    from fpdf import FPDF
    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", "", 12)
    doc.cell(0, 10, "Schriftelijk verzoek van J. de Vries om inzage, geheim-merkteken-4711")
    path = tmp / "verzoek.pdf"
    doc.output(str(path))
    return path.read_bytes()


def test_scan_type_is_found_from_the_content_not_the_name_art10_lid6(tmp_path):
    import cv2
    import numpy as np
    from firmware.governance.scans import media_type
    page = np.full((200, 140, 3), 255, np.uint8)
    cv2.putText(page, "verklaring", (5, 100), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    png = cv2.imencode(".png", page)[1].tobytes()
    jpeg = cv2.imencode(".jpg", page)[1].tobytes()
    assert media_type(png) == "image/png" and media_type(jpeg) == "image/jpeg"
    assert media_type(_pdf_scan(tmp_path)) == "application/pdf"
    for cut in (png[:len(png) // 2], jpeg[:len(jpeg) // 2], b"%PDF-1.7\n1 0 obj",
                b"GIF89a", b"PK\x03\x04 a zip", b"<html>%PDF-</html>"):
        assert media_type(cut) is None, cut[:12]


def test_art10_lid6_scan_is_sealed_on_disk_and_useless_without_the_key_dir_R82(site):
    from firmware.governance.scans import SCAN_DIR, ScanError, Scans
    from firmware.storage.keys import KeyProblem
    tmp, config = site
    data = _pdf_scan(tmp)
    scan = tmp / "verzoek.pdf"
    attached = json.loads(run(config, "request", "attach", "2", str(scan), "--kind",
                              "written-request", "--user", "p.officer", "--json").stdout)
    listed = json.loads(run(config, "request", "scans", "2", "--user", "d.dpo",
                            "--json").stdout)
    assert [s["id"] for s in listed] == [attached["id"]]
    assert listed[0]["kind"] == "written-request" and listed[0]["size"] == len(data)
    plain = run(config, "request", "scans", "2", "--user", "d.dpo").stdout
    assert "schriftelijk verzoek" in plain and "verzoek.pdf" in plain
    cfg = load(config)
    files = list((cfg.storage.data_dir / SCAN_DIR).iterdir())
    assert len(files) == 1
    sealed = files[0].read_bytes()
    assert not sealed.startswith(b"%PDF") and b"%PDF" not in sealed
    assert b"geheim-merkteken" not in sealed and data[100:132] not in sealed
    # A thief with a copy of the data disk and a key directory of their own reads nothing.
    thief = tmp / "thief"
    shutil.copytree(cfg.storage.data_dir, thief / "data")
    (thief / "keys").mkdir(mode=0o700)
    from firmware.storage.keys import FileKeyProvider
    FileKeyProvider(thief / "keys").create()
    gov = Governance.open(cfg)
    actor = gov.login("d.dpo", PASSWORD)
    stolen = Scans(gov.accounts.db, gov.logbook, thief / "data",
                   FileKeyProvider(thief / "keys").load)
    with pytest.raises((KeyProblem, ScanError)):
        stolen.read(actor, 2, attached["id"])
    scans = Scans.open(gov, cfg)
    meta, back = scans.read(actor, 2, attached["id"])
    assert back == data and meta["sha256"] == attached["sha256"]
    # A sealed scan moved onto another request's scan does not open there.
    officer = gov.login("p.officer", PASSWORD)
    other = scans.attach(officer, 1, "written-request", data, "politie.pdf")
    token = gov.accounts.db.execute("SELECT token FROM request_scans WHERE id = ?",
                                    (other["id"],)).fetchone()[0]
    (cfg.storage.data_dir / SCAN_DIR / f"{token}.scan").write_bytes(sealed)
    with pytest.raises(ScanError, match="damaged or swapped"):
        scans.read(actor, 1, other["id"])
    gov.close()
    # Kept as long as the request's record: nothing in the firmware deletes either.
    for path in FIRMWARE.rglob("*.py"):
        assert not re.search(r"DELETE\s+FROM\s+(requests|request_scans)\b",
                             path.read_text(), re.I), path


def test_request_attach_stdin_reads_the_scan_the_callers_shell_opened_R11(site):
    """`sudo nvr-admin request attach ID FILE --stdin < FILE` (tests/test_nvr_admin_paths.py):
    nvr reads the scan from standard input, FILE only names it; more than MAX_BYTES is
    refused without attaching anything."""
    import hashlib
    import sys
    from firmware.governance.scans import MAX_BYTES
    tmp, config = site
    data = _pdf_scan(tmp)
    env = {**os.environ, "NVR_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "firmware.cli", "--config", str(config), "request",
               "attach", "1", "/nonexistent/brief.pdf", "--stdin", "--kind", "written-request",
               "--user", "p.officer", "--json"]
    with open(tmp / "verzoek.pdf", "rb") as scan:
        done = subprocess.run(command, stdin=scan, capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    attached = json.loads(done.stdout)
    assert attached["filename"] == "brief.pdf" and attached["size"] == len(data)
    assert attached["sha256"] == hashlib.sha256(data).hexdigest()
    big = tmp / "groot.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * MAX_BYTES + b"\n%%EOF\n")
    with open(big, "rb") as scan:
        done = subprocess.run(command, stdin=scan, capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=300)
    assert done.returncode != 0 and "larger than" in done.stderr
    listed = json.loads(run(config, "request", "scans", "1", "--user", "d.dpo",
                            "--json").stdout)
    assert [s["filename"] for s in listed].count("brief.pdf") == 1


def test_scans_upload_list_download_and_refusals_on_the_request_page_R11_R51(site, monkeypatch):
    from firmware.governance.scans import MAX_BYTES
    from firmware.web import create_app
    from webutil import csrf_of
    tmp, config = site
    app = create_app(load(config))
    app.config["TESTING"] = True
    data = _pdf_scan(tmp)
    officer = login(app, "p.officer")
    token = csrf_of(officer)

    def upload(c, content, name, kind="declaration"):
        return c.post("/requests/2/scans", data={
            "csrf": token, "kind": kind, "file": (io.BytesIO(content), name)},
            content_type="multipart/form-data")

    # The upload stays in memory: werkzeug's temporary files are not there to be used.
    import werkzeug.formparser

    def no_temporary_file(*args, **kwargs):
        raise AssertionError("a scan upload went to a temporary file")
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_temporary_file)
    monkeypatch.setattr(werkzeug.formparser, "TemporaryFile", no_temporary_file, raising=False)
    padded = data.replace(b"%%EOF", b" " * 1_000_000 + b"\n%%EOF")          # 1 MB
    r = upload(officer, padded, "verklaring getekend.pdf")
    assert r.status_code == 302, r.get_data(True)
    page = officer.get("/requests/2").get_data(True)
    assert "Scans van het dossier" in page and "verklaring getekend.pdf" in page
    assert "ondertekende verklaring" in page
    link = re.search(r'href="(/requests/2/scans/(\d+))">verklaring getekend\.pdf<', page)
    assert link, page
    dpo = login(app, "d.dpo")
    got = dpo.get(link.group(1))
    assert got.status_code == 200 and got.data == padded
    assert got.mimetype == "application/pdf"
    # Not a role that reads requests: refused, and the technisch beheerder cannot upload.
    assert login(app, "t.admin").get(link.group(1)).status_code == 403
    admin = login(app, "t.admin")
    token = csrf_of(admin)
    assert upload(admin, data, "x.pdf").status_code == 403
    # Wrong type (by content, whatever the name) and too large: a clear Dutch error.
    token = csrf_of(officer)
    empty = upload(officer, b"", "leeg.pdf")
    assert empty.status_code == 400 and "Het bestand is leeg" in empty.get_data(True)
    wrong = upload(officer, b"MZ\x90\x00 not a scan at all", "verklaring.pdf")
    assert wrong.status_code == 400
    assert "geen PDF, PNG of JPEG" in wrong.get_data(True)
    big = upload(officer, b"%PDF-1.7\n" + b"0" * MAX_BYTES + b"\n%%EOF\n", "groot.pdf")
    assert big.status_code in (400, 413)
    assert "te groot" in big.get_data(True)
    huge = upload(officer, b"%PDF-1.7\n" + b"0" * (3 * MAX_BYTES), "enorm.pdf")
    assert huge.status_code in (400, 413) and "te groot" in huge.get_data(True)
    gov = Governance.open(load(config))
    reads = [e for e in gov.logbook.entries("inzien") if e["action"] == "scan-read"]
    assert reads and reads[-1]["actor"] == "d.dpo" and reads[-1]["subject"] == "request 2"
    refused = [e for e in gov.logbook.entries("usage")
               if e["action"] == "refused" and e["actor"] == "t.admin"]
    assert {e["subject"] for e in refused} >= {"request-read", "scan-attach"}
    gov.close()


# --- the regulation inside the project -----------------------------------------------------------

def test_compliance_matrix_cites_article_and_lid_for_every_rule():
    requirements = (ROOT / "docs/regulation/REQUIREMENTS.md").read_text()
    matrix = (ROOT / "docs/compliance.md").read_text()
    rules = sorted(set(re.findall(r"\*\*(R-\d\d)\*\*", requirements)))
    assert len(rules) >= 25, rules
    rows = {}
    for line in matrix.splitlines():
        m = re.match(r"\|\s*(R-\d\d)\b", line)
        if m:
            rows.setdefault(m.group(1), []).append(line)
    missing = [r for r in rules if r not in rows]
    assert not missing, f"rules without a row in docs/compliance.md: {missing}"
    uncited = [r for r in rules if not any(re.search(r"\bart\. \d+", line) for line in rows[r])]
    assert not uncited, f"rows without an article: {uncited}"
    regulation = (ROOT / "docs/regulation/regeling-cameratoezicht-gemeentehuis-soest.txt"
                  ).read_text()
    for article in {int(a) for line in sum(rows.values(), [])
                    for a in re.findall(r"\bart\. (\d+)", line.split("|")[2])}:
        if article <= 13:
            assert f"Artikel {article} " in regulation, article


# --- no internal ids in what a person reads (issue 10, documents) ---------------------------------

SEGMENT_ID = "01a227427ae87de08a5925314cc74457"


def test_issue10_a_segment_reads_as_its_camera_and_times_never_its_id_art10_lid6_R51():
    """Issue 10: the logbooks show no internal ids. A segment shown at an inzage (art. 10 lid 6)
    or in playback (art. 7 lid 2) reads as its camera by name and location and its start and
    end with the zone; the subject 'segment <id>' of `nvr segment play` and a refused segment
    known only by its id show no id either. Request, export and grant numbers stay: they are
    the file's numbers."""
    from firmware.governance.wording import Names
    names = Names({"cam": "Hal (Gemeentehuis Soest, hal)"}, "Europe/Amsterdam")
    shown = names.details({"segment": SEGMENT_ID, "camera": "cam", "start": 1780000000.0,
                           "end": 1780000004.0, "purpose": "art10", "request": 7,
                           "window_start": 1780000001.5, "window_end": 1780000003.5,
                           "grant": 17})
    assert SEGMENT_ID not in shown and not EPOCH.search(shown), shown
    assert "camera: Hal (Gemeentehuis Soest, hal)" in shown and "verzoek: 7" in shown
    assert len(ZONED.findall(shown)) == 4 and "op grond van logboekregel: 17" in shown, shown
    refused = names.details({"segment": SEGMENT_ID, "why": "outside the window"})
    assert SEGMENT_ID not in refused and "buiten de camera of het tijdvak" in refused, refused
    subject = names.subject(f"segment {SEGMENT_ID}")
    assert SEGMENT_ID not in subject and subject.startswith("opname"), subject
    assert names.subject("request 12") == "verzoek 12" and names.subject("export 3") == "export 3"


def test_issue10_web_logbook_page_shows_no_segment_id_after_playback_art7_lid2_R51(site):
    """The web page Logboeken uses the same wording (docs/web.md): a segment played back under
    a grant whose subject is the segment (as `nvr segment play` states it) and then served
    (governance/access.py, governance/viewing.py, the real calls) reads on the page as its
    camera and zoned times; no segment id on the page."""
    from firmware.governance.access import grant_footage
    from firmware.governance.viewing import show_playback_segment
    from firmware.web import create_app
    _, config = site
    cfg = load(config)
    store, gov = _store(cfg), Governance.open(cfg)
    try:
        segment = store.list_segments("cam")[0]
        beheerder = gov.login("b.beheerder", PASSWORD)
        grant = grant_footage(gov, beheerder, Action.PLAYBACK, camera="cam", purpose="incident",
                              reason="vernieling bij de ingang nagekeken",
                              subject=f"segment {segment['id']}")
        show_playback_segment(gov.accounts.db, gov.logbook, beheerder, segment, grant)
        ids = [s["id"] for s in store.list_segments("cam")]
    finally:
        gov.close()
        store.close()
    app = create_app(cfg)
    app.config["TESTING"] = True
    page = login(app, "d.dpo").get("/logbooks/inzien").get_data(True)
    assert "opname getoond bij terugkijken" in page and "vernieling bij de ingang" in page
    assert not [i for i in ids if i in page] and not re.search(r"\b[0-9a-f]{32}\b", page)


def _on_a_terminal(argv: list[str], stdin_file: Path, answer: str, env: dict) -> tuple[int, str]:
    """Run argv with stdin from a file and a real pty as its controlling terminal; type
    `answer` once it asks for a password. Returns the exit code and what the terminal showed."""
    import fcntl
    import pty
    import select
    import termios
    import time
    master, slave = pty.openpty()

    def take_the_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    with open(stdin_file, "rb") as stdin:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                                preexec_fn=take_the_terminal)
    os.close(slave)
    shown, typed, deadline = b"", False, time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:                     # the other end closed: the program ended
                break
            if not chunk:
                break
            shown += chunk
            if not typed and b"password of" in shown:
                os.write(master, answer.encode() + b"\n")
                typed = True
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(60), shown.decode(errors="replace")


def test_a_scan_on_stdin_asks_the_password_on_the_terminal_R11(site):
    """Reviewer B: with the scan on standard input (`--stdin < FILE`, the form under sudo,
    docs/units.md) nvr asked no password, since stdin was no terminal, and refused though the
    person sat at one. It asks on the terminal now (/dev/tty, a real pty); with no terminal at
    all it still says to set NVR_PASSWORD."""
    import sys
    tmp, config = site
    _pdf_scan(tmp)
    argv = [sys.executable, "-m", "firmware.cli", "--config", str(config), "request", "attach",
            "1", "verzoek.pdf", "--stdin", "--kind", "written-request", "--user", "p.officer",
            "--json"]
    env = {k: v for k, v in os.environ.items() if k != "NVR_PASSWORD"}
    code, shown = _on_a_terminal(argv, tmp / "verzoek.pdf", PASSWORD, env)
    assert code == 0, shown
    assert "password of p.officer" in shown and '"kind": "written-request"' in shown, shown
    with open(tmp / "verzoek.pdf", "rb") as scan:              # no terminal: the clear refusal
        alone = subprocess.run(["setsid", *argv], stdin=scan, capture_output=True, text=True,
                               env=env, cwd=ROOT, timeout=300)
    assert alone.returncode != 0 and "no password: set NVR_PASSWORD" in alone.stderr, alone.stderr
