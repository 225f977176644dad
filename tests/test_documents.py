"""Logbook exports, declarations with file hashes and the DPIA report, read back with pdftotext
(R-50, R-51, R-62, R-73, R-80, R-83)."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest

from firmware.capture.synthetic import Mover, Scene
from firmware.config import load
from firmware.governance.roles import Role
from firmware.governance.service import Governance

from conftest import add_accounts, nvr, recordings, render_scene, staff, write_config
from deviceday import device_date, period


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    config = write_config(tmp, storage="segment_seconds = 4")
    env = staff(config)
    gov = Governance.open(load(config))
    add_accounts(gov, {"m.manager": Role.MANAGER, "d.dpo": Role.DPO})
    scene = Scene(320, 240, 25, [Mover(1, 9, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2,
                  clock=False)
    video = render_scene(scene, 25 * 14, tmp / "clip.mp4")
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    result = nvr("--config", str(config), "ingest", str(video), "--camera", "cam", "--start",
                 start.isoformat())
    assert result.returncode == 0, result.stderr
    return tmp, config, env, start


def run(config, env, *args):
    result = nvr("--config", str(config), *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_art9_declaration_before_the_export_lists_no_encrypted_file_R62(site):
    """Before the export the art. 9 declaration names the request and says that the files
    follow; never the hashes of the encrypted .seg files, which the recipient never gets (the
    files of an export: tests/test_handover.py)."""
    tmp, config, env, start = site
    add = run(config, env, "request", "add", "--article", "9", "--reference", "PL0900-2026-42",
              "--requester", "Politie Midden-Nederland", "--legal-basis", "126nd", "--camera",
              "cam", "--start", start.isoformat(),
              "--end", (start + timedelta(minutes=5)).isoformat(), "--user", "b.beheerder",
              "--json")
    req = json.loads(add.stdout)
    out = tmp / "verklaring.pdf"
    run(config, env, "request", "declaration-pdf", str(req["id"]), "--out", str(out),
        "--user", "b.beheerder")
    text = pdf_text(out)
    assert "Verklaring zorgvuldig gebruik camerabeelden" in text
    assert "Politie Midden-Nederland" in text and "126nd" in text and "PL0900-2026-42" in text
    assert "nog geen export geschreven" in text
    files = recordings(config)
    assert files
    for row in files:
        digest = hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest()
        assert digest not in text.replace("\n", " ")


def test_logbook_exports_are_complete_and_need_the_role_R50_R51(site):
    tmp, config, env, _ = site
    out = tmp / "usage.csv"
    run(config, env, "logbook", "export", "--book", "usage", "--format", "csv", "--out",
        str(out), "--user", "d.dpo")
    rows = list(csv.reader(out.open(encoding="utf-8")))
    rows = rows[:rows.index([])]            # the signed head statement follows the entries
    gov = Governance.open(load(config))
    assert rows[0][:5] == ["logboek", "nr", "tijd", "wie", "handeling"]
    assert [int(r[1]) for r in rows[1:]] == list(range(1, len(rows)))
    assert len(rows) - 1 <= len(gov.logbook.entries("usage"))
    pdf = tmp / "inzien.pdf"
    run(config, env, "logbook", "export", "--book", "inzien", "--format", "pdf", "--out",
        str(pdf), "--user", "b.beheerder")
    text = pdf_text(pdf)
    assert "Logboek Inzien Beeldmateriaal (vertrouwelijk)" in text and "intact" in text
    refused = nvr("--config", str(config), "logbook", "export", "--book", "usage", "--format",
                  "csv", "--out", str(tmp / "x.csv"), "--user", "t.admin", env=env)
    assert refused.returncode == 1 and "logbook-read)" in refused.stderr
    assert not (tmp / "x.csv").exists()


def test_report_for_the_dpia_and_the_dpo_R83(site):
    tmp, config, env, start = site
    run(config, env, "request", "add", "--article", "10", "--requester", "J. de Vries",
        "--motivation", "fiets gestolen bij de ingang", "--received", start.isoformat(),
        "--camera", "cam", "--start", start.isoformat(),
        "--end", (start + timedelta(minutes=2)).isoformat(), "--user", "p.officer")
    out = tmp / "rapport.pdf"
    first, last = period(device_date(start, config), config=config)
    run(config, env, "report", "--from", first, "--to", last, "--out", str(out), "--user",
        "d.dpo")
    text = pdf_text(out)
    for expected in ("Rapportage camerasysteem voor DPIA en FG", "Gemeentehuis Soest, testgang",
                     "Ingestelde bewaartermijn: 28 dagen", "PL0900-2026-42", "in behandeling",
                     "intact",
                     "Toegang tot beelden per rol"):
        assert expected in text, expected


# --- fonts: every name as written (issue 10, documents) -----------------------------------------

NAMES_OUTSIDE_LATIN1 = ("Ayşe Yılmaz", "Łukasz Wiśniewski", "Dvořák", "Ørsted-Ñúñez")


def test_issue10_every_document_prints_names_outside_latin1_as_written(tmp_path):
    """Issue 10 (documents a privacy officer signs): the logbook PDF (blocks and the signed
    head in the fixed-width font) and a table (the report's) print every name as written, read
    back with the real pdftotext; no '?' in its place."""
    import time as clock
    from firmware.governance.documents import _Document, logbook_pdf
    entries = [{"book": "inzien", "n": n, "at": clock.time(), "actor": "b.beheerder",
                "action": "identity-checked", "subject": f"request {n}", "reason": name,
                "details": json.dumps({"requester": name})}
               for n, name in enumerate(NAMES_OUTSIDE_LATIN1, 1)]
    head = {"message": "book: inzien\nactor: Łukasz Wiśniewski", "signature": "ab" * 64,
            "public_key": "cd" * 22, "fingerprint": "ef" * 32}
    text = pdf_text(logbook_pdf(entries, "inzien", "Gemeentehuis Sœst", True,
                                tmp_path / "inzien.pdf", head=head))
    doc = _Document("Tabel", "Gemeentehuis")
    doc.table(["naam"], [[name] for name in NAMES_OUTSIDE_LATIN1], [80])
    table = pdf_text(doc.save(tmp_path / "tabel.pdf"))
    for name in NAMES_OUTSIDE_LATIN1:
        assert name in text and name in table, (name, text[:800])
    assert "actor: Łukasz Wiśniewski" in text and "Sœst" in text
    assert "?" not in text.replace("'nvr logbook verify'", "") and "?" not in table


def test_issue10_documents_refuse_to_print_without_the_font_package(tmp_path):
    """No silent fallback to a font that turns a name into '?': without the DejaVu files the
    document is not made and the message names the Debian package to install."""
    from firmware.governance.documents import FONT_PACKAGE, FontsMissing, _Document

    class Elsewhere(_Document):
        font_dir = tmp_path
    with pytest.raises(FontsMissing) as refused:
        Elsewhere("Besluit", "Gemeentehuis")
    assert FONT_PACKAGE == "fonts-dejavu-core" and FONT_PACKAGE in str(refused.value)
    assert str(tmp_path / "DejaVuSans.ttf") in str(refused.value)
