"""Art. 9 lid 3-4: handing footage over to police or prosecutor (R-60..R-62, issue 10 item 1),
exports in both logbooks (art. 7 lid 2, item 7) and the art. 9 declaration, read back with the
real pdftotext and checked against the files the real 7z extracts from the package (and, for a
package inside a 7z, the archive's own SHA-256, exportfix item 3).

The order holds below the web and the CLI (firmware/governance/handover.py, with
firmware/export/service.py::make_package as the one export path): the officer's identity (document type,
last digits, checked by the logged-in beheerder), then the officer's signed declaration, then
the export, then the handover (medium, recipient, issuing beheerder, date and time).
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, nvr, recorded_site, recordings, staff
from webutil import login

from firmware.config import load
from firmware.export.helpers import ExportError, helper_for
from firmware.export.service import list_exports, make_package
from firmware.governance.requests import RequestError
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ARCHIVE_PASSWORD = "geheim wachtwoord 2026"
OFFICER = "brigadier K. Bakker"
MEDIUM = "USB-stick politie nr. 0042 (serienummer 4C530001)"
REFUSED = (ExportError, RequestError)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A device with 10 s of footage on camera 'cam' from 20 minutes ago and a directory that
    stands in for the USB stick; returns the configuration path."""
    return recorded_site(tmp_path_factory.mktemp("handover"), {})


class Desk:
    """The beheerder's desk: governance, the store as a reader, the requests."""

    def __init__(self, config: Path):
        self.cfg = load(config)
        self.gov = Governance.open(self.cfg)
        self.store = EncryptedStore.from_config(self.cfg)
        self.reqs = self.gov.requests(self.store)
        self.beheerder = self.gov.login("b.beheerder", PASSWORD)
        self.officer = self.gov.login("p.officer", PASSWORD)       # the privacy officer

    def register(self, reference: str) -> dict:
        start, end = window()
        return self.reqs.add_article9(self.beheerder, reference=reference,
                                      requester="Politie Midden-Nederland",
                                      legal_basis="126nd", camera="cam",
                                      start=start.timestamp(), end=end.timestamp())

    def export(self, req: dict) -> dict:
        return make_package(self.gov, self.store, self.beheerder, request_id=req["id"],
                            camera="cam", start=req["start"], end=req["end"],
                            helper=helper_for(self.cfg), reason="art. 9 verzoek",
                            password=ARCHIVE_PASSWORD, device="test-device")

    def packages(self, req: dict) -> list[Path]:
        return sorted(Path(self.cfg.export_directory).glob(f"export-{req['reference']}-*"))


def window() -> tuple[datetime, datetime]:
    now = datetime.now(AMSTERDAM)
    return now - timedelta(minutes=25), now - timedelta(minutes=15)


def test_art9_lid3_export_refused_before_identity_R62(site):
    desk = Desk(site)
    req = desk.register("PL0900-2026-1001")
    with pytest.raises(REFUSED, match=r"art\. 9 lid 3"):
        desk.export(req)
    assert desk.packages(req) == []                     # nothing reached the medium
    assert [e for e in list_exports(desk.reqs.db) if e["request_id"] == req["id"]] == []


def test_art9_lid3_identity_keeps_the_last_digits_and_who_checked_R62(site):
    from firmware.governance import handover
    desk = Desk(site)
    req = desk.register("PL0900-2026-1002")
    with pytest.raises(RequestError, match="last characters"):
        handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                                 document_type="dienstpas", last_digits="NX4C53001")
    with pytest.raises(RequestError, match="kind of proof of identity"):
        handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                                 document_type="bibliotheekpas", last_digits="4411")
    with pytest.raises(RequestError, match="identify\\)"):
        handover.record_identity(desk.reqs, desk.officer, req["id"], officer=OFFICER,
                                 document_type="dienstpas", last_digits="4411")
    handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                             document_type="dienstpas", last_digits="4411")
    record = handover.officer_record(desk.reqs.db, req["id"])
    assert (record["officer"], record["document_type"], record["last_digits"],
            record["checked_by"]) == (OFFICER, "dienstpas", "4411", "b.beheerder")
    row = desk.reqs.show(req["id"])
    assert row["identity_checked_by"] == "b.beheerder"      # no longer null (issue 10 item 1)
    entry = desk.gov.logbook.entries("inzien")[-1]
    assert entry["action"] == "identity-checked" and entry["actor"] == "b.beheerder"
    assert "4411" in entry["details"] and "NX4C53001" not in json.dumps(
        desk.gov.logbook.entries("inzien"))


def test_art9_lid4_export_refused_before_the_officers_declaration_R62(site):
    from firmware.governance import handover
    desk = Desk(site)
    req = desk.register("PL0900-2026-1003")
    with pytest.raises(RequestError, match=r"identity.*artikel 9 lid 3"):
        desk.reqs.record_declaration(desk.beheerder, req["id"], OFFICER)
    handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                             document_type="dienstpas", last_digits="4411")
    with pytest.raises(REFUSED, match=r"art\. 9 lid 4"):
        desk.export(req)
    assert desk.packages(req) == []
    with pytest.raises(RequestError, match="officer whose identity"):
        desk.reqs.record_declaration(desk.beheerder, req["id"], "iemand anders")
    desk.reqs.record_declaration(desk.beheerder, req["id"], OFFICER)
    export = desk.export(req)
    assert [Path(export["path"]).parent] == desk.packages(req)
    assert Path(export["path"]).name == desk.packages(req)[0].name + ".7z"
    assert "password" not in export                 # typed: never returned


def test_art9_handover_is_logged_in_the_logboek_inzien_R51_R62(site):
    from firmware.export.service import hand_over
    from firmware.governance import handover
    desk = Desk(site)
    req = desk.register("PL0900-2026-1004")
    handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                             document_type="paspoort", last_digits="81")
    desk.reqs.record_declaration(desk.beheerder, req["id"], OFFICER)
    export = desk.export(req)
    with pytest.raises(REFUSED, match="data carrier"):
        hand_over(desk.gov, desk.store, desk.beheerder, export["id"], medium="  ")
    with pytest.raises(REFUSED, match="export\\)"):
        hand_over(desk.gov, desk.store, desk.officer, export["id"], medium=MEDIUM)
    done = hand_over(desk.gov, desk.store, desk.beheerder, export["id"], medium=MEDIUM)
    assert (done["medium"], done["recipient"], done["handed_over_by"]) == (
        MEDIUM, OFFICER, "b.beheerder")
    entry = desk.gov.logbook.entries("inzien")[-1]
    assert entry["action"] == "export-handed-over" and entry["actor"] == "b.beheerder"
    details = json.loads(entry["details"])
    assert details["medium"] == MEDIUM and details["recipient"] == OFFICER
    assert details["archive_sha256"] == export["archive"]["sha256"]
    with pytest.raises(REFUSED, match="handed over already"):
        hand_over(desk.gov, desk.store, desk.beheerder, export["id"], medium=MEDIUM)


def test_art7_lid2_an_export_appears_in_both_logbooks_R50_R51(site):
    from firmware.governance import handover
    desk = Desk(site)
    req = desk.register("PL0900-2026-1005")
    handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                             document_type="dienstpas", last_digits="0007")
    desk.reqs.record_declaration(desk.beheerder, req["id"], OFFICER)
    export = desk.export(req)
    for book in ("usage", "inzien"):
        written = [e for e in desk.gov.logbook.entries(book) if e["action"] == "export-written"
                   and e["subject"] == f"request {req['id']}"]
        assert len(written) == 1, book
        details = json.loads(written[0]["details"])
        assert details["export"] == export["id"] and details["files"] == len(export["files"])
        assert details["manifest_sha256"] == export["manifest_sha256"]
        assert details["container"] == "7z" and ARCHIVE_PASSWORD not in written[0]["details"]


# --- the whole handover through the CLI, the document read back ---------------------------------

def cli(config, env, *args):
    result = nvr("--config", str(config), *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def test_art9_declaration_lists_what_the_recipient_gets_and_cli_and_web_print_the_same_R62(
        site, tmp_path):
    env = {**staff(site), "NVR_EXPORT_PASSWORD": ARCHIVE_PASSWORD}
    start, end = window()
    req = json.loads(cli(site, env, "request", "add", "--article", "9", "--reference",
                         "PL0900-2026-2001", "--requester", "Politie Midden-Nederland",
                         "--legal-basis", "126nd", "--camera", "cam", "--start",
                         start.isoformat(), "--end", end.isoformat(), "--user", "b.beheerder",
                         "--json").stdout)
    early = nvr("--config", str(site), "export", "create", "--request", str(req["id"]),
                "--user", "b.beheerder", env=env)
    assert early.returncode == 1 and "art. 9 lid 3" in early.stderr
    cli(site, env, "request", "identity", str(req["id"]), "--officer", OFFICER,
        "--document-type", "dienstpas", "--last-digits", "4411", "--user", "b.beheerder")
    cli(site, env, "request", "declaration", str(req["id"]), "--signed-by", OFFICER,
        "--user", "b.beheerder")
    export = json.loads(cli(site, env, "export", "create", "--request", str(req["id"]),
                            "--user", "b.beheerder", "--json").stdout)
    handed = json.loads(cli(site, env, "export", "handover", str(export["id"]), "--medium",
                            MEDIUM, "--user", "b.beheerder", "--json").stdout)
    assert handed["recipient"] == OFFICER
    cli_pdf = tmp_path / "cli.pdf"
    cli(site, env, "request", "declaration-pdf", str(req["id"]), "--out", str(cli_pdf),
        "--user", "b.beheerder")
    from firmware.web import create_app
    app = create_app(load(site))
    app.config["TESTING"] = True
    web = login(app, "b.beheerder").get(f"/exports/{export['id']}/declaration.pdf")
    assert web.status_code == 200 and web.mimetype == "application/pdf"
    web_pdf = tmp_path / "web.pdf"
    web_pdf.write_bytes(web.data)

    export_pdf = tmp_path / "export.pdf"
    cli(site, env, "export", "declaration", str(export["id"]), "--out", str(export_pdf),
        "--user", "b.beheerder")
    listed = json.loads(cli(site, env, "export", "list", "--user", "b.beheerder",
                            "--json").stdout)
    assert [e["handover"]["medium"] for e in listed if e["id"] == export["id"]] == [MEDIUM]

    text = pdf_text(cli_pdf)
    made = re.compile(r"^.*gemaakt \d.*$", re.M)         # the header's moment of printing
    assert made.sub("", text) == made.sub("", pdf_text(web_pdf))
    assert made.sub("", text) == made.sub("", pdf_text(export_pdf))

    # Every file the real 7z extracts is listed with its SHA-256 (the MP4, not the .seg): the
    # evidence package (issue 13) inside the archive, as a folder.
    archive = Path(export["path"])
    out = tmp_path / "uitgepakt"
    opened = subprocess.run(["7z", "x", f"-p{ARCHIVE_PASSWORD}", f"-o{out}", str(archive)],
                            capture_output=True, text=True)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    [folder] = out.iterdir()
    extracted = sorted(folder.iterdir())
    videos = [p for p in extracted if p.suffix == ".mp4"]
    assert len(videos) == len(export["files"]) - 6 == 1           # one MP4 per camera
    assert {p.name for p in extracted} - {p.name for p in videos} == {
        "manifest.json", "manifest.sig", "manifest.sha256", "device-pubkey.pem", "LEESMIJ.txt",
        "README.txt"}
    flat = " ".join(text.split())
    for video in videos:
        assert re.fullmatch(r"cam_\d{8}-\d{6}\.mp4", video.name), video.name
    for member in extracted:                      # every file the recipient gets
        assert member.name in flat and sha256sum(member) in flat, member.name
    # The archive itself (exportfix item 3): its name and SHA-256, to check before opening it,
    # beside the manifest's SHA-256 and the key's fingerprint; the same in all three PDFs.
    assert archive.name in flat and sha256sum(archive) in flat
    assert sha256sum(folder / "manifest.json") in flat
    assert [e["archive"]["fingerprint"] for e in listed if e["id"] == export["id"]][0] in flat
    assert f"sha256sum {archive.name} geeft SHA-256 {sha256sum(archive)}" in flat
    [row] = [e for e in listed if e["id"] == export["id"]]
    for f in row["files"]:                        # a file lasts seconds: its times have them
        first, last = (datetime.fromtimestamp(f[k], AMSTERDAM) for k in ("start", "end"))
        assert (f"{f['name']} {first:%d-%m-%Y %H:%M:%S} ({first.tzname()}) tot "
                f"{last:%d-%m-%Y %H:%M:%S} ({last.tzname()})") in flat, f["name"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["request"] == "PL0900-2026-2001"
    assert "password" not in export               # typed: never printed back
    for row in recordings(site):                  # neither the encrypted files nor their ids
        assert sha256sum(Path(row["path"])) not in flat and row["id"] not in flat

    # Dutch, the officer's identity and its check, medium, handover time with zone, both
    # signatures, camera and device by name and location; nothing cut off, no epoch numbers.
    when = datetime.fromtimestamp(handed["handed_over_at"], AMSTERDAM)
    for expected in ("Verklaring zorgvuldig gebruik camerabeelden", "artikel 9",
                     "PL0900-2026-2001", "Politie Midden-Nederland", "126nd", OFFICER,
                     "dienstpas", "eindigend op 4411", "b.beheerder", MEDIUM,
                     when.strftime("%d-%m-%Y %H:%M") + f" ({when.tzname()})",
                     "Testcamera", "Gemeentehuis Soest, testgang",
                     "Handtekening ontvanger", "Handtekening beheerder"):
        assert expected in flat, expected
    assert not re.search(r"(?<![0-9a-f.])\d{9,}(?:\.\d+)?(?![0-9a-f])", flat), flat


def test_art9_an_export_of_an_old_device_keeps_working_and_says_what_is_missing_R62(site,
                                                                                    tmp_path):
    """A device updated from firmware without the art. 9 tables: its exports were made without
    an identity check. They are listed, their declaration says that the identity was not
    recorded, and their handover waits for the identity and the declaration."""
    import sqlite3

    from firmware.export.service import hand_over, show_export
    from firmware.governance import handover
    from firmware.governance.paperwork import export_declaration_file
    desk = Desk(site)
    req = desk.register("PL0900-2026-3001")
    files = [{"name": "cam_20261129-101500_001.mp4", "segment": "0" * 32, "start": req["start"],
              "end": req["start"] + 4, "sha256": "ab" * 32}]
    archive = {"path": "/media/usb/export-3-20261129-101600.7z", "bytes": 1234,
               "sha256": "cd" * 32}
    db = sqlite3.connect(desk.cfg.storage.data_dir / "index.sqlite3")
    with db:                                   # as the old firmware left it: no art. 9 tables
        db.execute("DROP TABLE IF EXISTS art9_officers")
        db.execute("DROP TABLE IF EXISTS handovers")
        db.execute("INSERT INTO exports (request_id, camera_id, start, end, files, archive, "
                   "made_by, made) VALUES (?, 'cam', ?, ?, ?, ?, 'b.beheerder', ?)",
                   (req["id"], req["start"], req["end"], json.dumps(files), json.dumps(archive),
                    req["start"] + 600))
        old_id = db.execute("SELECT max(id) FROM exports").fetchone()[0]
    db.close()
    desk = Desk(site)
    export = show_export(desk.reqs.db, old_id)
    assert export["handover"] is None
    out = tmp_path / "oud.pdf"
    export_declaration_file(desk.gov, desk.beheerder, desk.store, export, "test-device", out)
    flat = " ".join(pdf_text(out).split())
    assert "De identiteit van de ontvanger is niet vastgelegd" in flat
    assert "Nog niet overgedragen" in flat and "ab" * 32 in flat
    with pytest.raises(REFUSED, match=r"art\. 9 lid 3"):
        hand_over(desk.gov, desk.store, desk.beheerder, old_id, medium=MEDIUM)
    handover.record_identity(desk.reqs, desk.beheerder, req["id"], officer=OFFICER,
                             document_type="rijbewijs", last_digits="12")
    desk.reqs.record_declaration(desk.beheerder, req["id"], OFFICER)
    assert hand_over(desk.gov, desk.store, desk.beheerder, old_id,
                     medium=MEDIUM)["recipient"] == OFFICER
