"""Logbook exports, declarations with file hashes and the DPIA report, read back with pdftotext
(R-50, R-51, R-62, R-73, R-80, R-83)."""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from firmware.capture.synthetic import Mover, Scene
from firmware.config import load
from firmware.governance.documents import file_sha256
from firmware.governance.roles import Role
from firmware.governance.service import Governance

from conftest import add_accounts, nvr, recordings, render_scene, staff, write_config


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


def test_art9_declaration_lists_every_file_with_its_hash_R62(site):
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
    files = recordings(config)
    assert files
    for row in files:
        assert file_sha256(row["path"]) in text.replace("\n", " ")


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
    assert refused.returncode == 1 and "may not logbook-read" in refused.stderr
    assert not (tmp / "x.csv").exists()


def test_decision_outside_the_rules_is_on_the_record_R80(site):
    _, config, env, _ = site
    run(config, env, "decision", "record", "--text", "camera tijdelijk verplaatst naar de hal",
        "--decided-by", "gemeentesecretaris", "--advice", "positief advies PO en FG",
        "--user", "p.officer")
    last = Governance.open(load(config)).logbook.entries("inzien")[-1]
    assert last["action"] == "decision-outside-rules" and last["subject"] == "gemeentesecretaris"


def test_report_for_the_dpia_and_the_dpo_R83(site):
    tmp, config, env, start = site
    run(config, env, "request", "add", "--article", "10", "--requester", "J. de Vries",
        "--motivation", "fiets gestolen bij de ingang", "--received", start.isoformat(),
        "--camera", "cam", "--start", start.isoformat(),
        "--end", (start + timedelta(minutes=2)).isoformat(), "--user", "p.officer")
    out = tmp / "rapport.pdf"
    day = datetime.now().date()
    run(config, env, "report", "--from", (day - timedelta(days=1)).isoformat(), "--to",
        day.isoformat(), "--out", str(out), "--user", "d.dpo")
    text = pdf_text(out)
    for expected in ("Rapportage camerasysteem voor DPIA en FG", "Gemeentehuis Soest, testgang",
                     "Ingestelde bewaartermijn: 28 dagen", "PL0900-2026-42", "in behandeling",
                     "intact",
                     "Toegang tot beelden per rol"):
        assert expected in text, expected
