"""Documents the regulation asks for: logbook exports, declarations, the DPIA/DPO report.

PDFs are made with fpdf2 in the DejaVu fonts of the Debian package fonts-dejavu-core, embedded
(subset) in every PDF, so that every name prints as written ("Ayşe Yılmaz",
"Łukasz Wiśniewski"): issue 10, documents. Their text is Dutch, like the interface.
"""

from __future__ import annotations

import csv
import time
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import WrapMode

from firmware.governance.bounds import when
from firmware.governance.wording import (ALARMS, DETAIL_KEYS, ROLES, STATUSES, VALUES, Names,
                                         action_text, actor_text, device_label, moment)
from firmware.i18n import _, dutch

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run: text that starts with = + - @ (also after leading
    whitespace), or with a tab or carriage return, gets a leading apostrophe (CWE-1236)."""
    text = "" if value is None else str(value)
    if text.startswith(("\t", "\r")) or text.lstrip(" \t\r\n")[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


FONT_PACKAGE = "fonts-dejavu-core"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# (family, style) -> file in FONT_DIR: a Unicode TrueType font for text and one fixed-width.
FONT_FILES: dict[tuple[str, str], str] = {
    ("DejaVuSans", ""): "DejaVuSans.ttf", ("DejaVuSans", "B"): "DejaVuSans-Bold.ttf",
    ("DejaVuSansMono", ""): "DejaVuSansMono.ttf",
}


class FontsMissing(RuntimeError):
    """The font files the documents are printed in are not on this machine."""


def font_paths(font_dir: Path | None = None) -> dict[tuple[str, str], Path]:
    """The font files of FONT_FILES in `font_dir`; FontsMissing naming the package when one is
    missing: a document never falls back to a font that prints '?' for a name (issue 10)."""
    folder = Path(font_dir or FONT_DIR)
    paths = {key: folder / name for key, name in FONT_FILES.items()}
    missing = sorted(str(p) for p in paths.values() if not p.is_file())
    if missing:
        raise FontsMissing(_("documents are printed in the DejaVu typeface, and it is missing on "
                             "this device (%(missing)s not found): let the technisch beheerder "
                             "install the Debian package %(package)s (apt-get install "
                             "%(package)s)", missing=", ".join(missing), package=FONT_PACKAGE))
    return paths


def _text(text: object) -> str:
    """Text as it is printed: Unicode, composed (NFC), no letter replaced."""
    return unicodedata.normalize("NFC", str(text))


class _Document(FPDF):
    """Every PDF the firmware makes: A4, the DejaVu fonts embedded (subset), Dutch headers.
    `text_font` and `mono_font` (not FPDF's own font_family) are the fonts every set_font uses
    (documents.py and letters.py)."""
    text_font = "DejaVuSans"
    mono_font = "DejaVuSansMono"
    font_dir: Path | None = None

    def __init__(self, title: str, device: str):
        super().__init__(format="A4")
        for (family, style), path in font_paths(self.font_dir).items():
            self.add_font(family, style, str(path))
        # HarfBuzz shaping: a right-to-left name (Arabic, Hebrew) in its order and with its
        # letters joined; ligatures off, so pdftotext and a search find "fi" as two letters.
        self.set_text_shaping(use_shaping_engine=True, features={"liga": False, "clig": False})
        self.title_text, self.device = title, device
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)
        self.add_page()

    def header(self) -> None:
        self.set_font(self.text_font, "B", 13)
        self.cell(0, 8, _text(self.title_text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.text_font, "", 8)
        self.cell(0, 5, _text(f"Camerasysteem {self.device} - gemaakt {moment(time.time())}"),
                  new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.text_font, "", 8)
        self.cell(0, 5, f"pagina {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str) -> None:
        if self.will_page_break(25):           # a heading never ends a page alone
            self.add_page()
        self.ln(2)
        self.set_font(self.text_font, "B", 11)
        self.cell(0, 7, _text(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.text_font, "", 9)

    def line_text(self, text: str) -> None:
        self.set_font(self.text_font, "", 9)
        self.multi_cell(0, 5, _text(text), new_x="LMARGIN", new_y="NEXT")

    def field(self, label: str, value: str) -> None:
        self.set_font(self.text_font, "B", 9)
        self.cell(55, 5, _text(label))
        self.set_font(self.text_font, "", 9)
        self.multi_cell(0, 5, _text(value or "-"), new_x="LMARGIN", new_y="NEXT")

    def hash_line(self, digest: str) -> None:
        """A SHA-256 on its own line, whole, in a fixed-width font."""
        self.set_font(self.mono_font, "", 8)
        self.cell(0, 4, f"    SHA-256 {digest}", new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.text_font, "", 9)

    def entry_block(self, title: str, lines: list[tuple[str, str]]) -> None:
        """One logbook entry: a bold title line, then its fields, each wrapped in full."""
        if self.will_page_break(5 * (len(lines) + 1)):
            self.add_page()
        self.set_font(self.text_font, "B", 8)
        self.multi_cell(0, 4.5, _text(title), new_x="LMARGIN", new_y="NEXT")
        for label, value in lines:
            if not value:
                continue
            self.set_font(self.text_font, "B", 8)
            self.cell(24, 4.2, _text(label))
            self.set_font(self.text_font, "", 8)
            self.multi_cell(0, 4.2, _text(value), new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def table(self, headers: list[str], rows: list[list[str]], widths: list[int]) -> None:
        """A table whose cells wrap (word by word; a word longer than its column by
        character): nothing is cut off. An empty table says so in words."""
        if not rows:
            self.line_text("Geen.")
            return
        self.set_font(self.text_font, "", 7)
        with FPDF.table(self, col_widths=tuple(widths), width=sum(widths), align="LEFT",
                        text_align="LEFT", line_height=3.6, wrapmode=WrapMode.WORD,
                        padding=0.6) as table:
            for row in [headers, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(_text("" if value is None else str(value)))
        self.ln(1)

    def save(self, out: Path) -> Path:
        self.alias_nb_pages()
        tmp = Path(out).with_name(Path(out).name + ".part")
        self.output(str(tmp))
        tmp.replace(out)
        return Path(out)


# --- logbooks (R-50, R-51) -------------------------------------------------------------------

HEAD_FIELDS = ("head_statement", "signature_ed25519", "public_key_der", "fingerprint_sha256")
# Dutch columns a person reads, then three for the auditor: the action's code as stored, the
# time in UTC (ISO 8601) and the entry's hash, to compare with `nvr logbook verify`.
LOGBOOK_FIELDS = ("logboek", "nr", "tijd", "wie", "handeling", "onderwerp", "reden", "details",
                  "code handeling", "tijd UTC (ISO 8601)", "hash")
BOOK_TITLES = {"usage": "Logboek gebruik camerasysteem",
               "inzien": "Logboek Inzien Beeldmateriaal (vertrouwelijk)"}


def _entry_row(e: dict, names: Names) -> list[str]:
    return [VALUES.get(e["book"], e["book"]), str(e["n"]), moment(e["at"], names.tz),
            actor_text(e["actor"]), action_text(e["action"]), names.subject(e["subject"]),
            e["reason"],
            names.details(e["details"]), e["action"], when(e["at"], iso=True), e["hash"]]


def logbook_csv(entries: list[dict], out: Path, head: dict | None = None,
                names: Names | None = None) -> Path:
    """The entries with Dutch headers and words, then (after an empty row) the signed
    statement of the book's head: the exact signed message, its Ed25519 signature and the
    device's public key, all hex."""
    names = names or Names()
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(LOGBOOK_FIELDS)
        for e in entries:
            writer.writerow([csv_cell(v) for v in _entry_row(e, names)])
        if head:
            writer.writerow([])
            writer.writerow(HEAD_FIELDS)
            writer.writerow([head["message"], head["signature"], head["public_key"],
                             head["fingerprint"]])
    return Path(out)


def logbook_pdf(entries: list[dict], book: str, device: str, verified: bool,
                out: Path, head: dict | None = None, names: Names | None = None) -> Path:
    """The book entry by entry, each a block of labelled lines that wrap (nothing is cut off);
    on the first page the result of the chain's verification and the signed head."""
    names = names or Names()
    doc = _Document(BOOK_TITLES[book], device)
    doc.line_text("Controle van de hashketen en de ondertekende kop: " + (
        "intact." if verified else "NIET intact. Zie 'nvr logbook verify' en meld dit aan de "
                                   "functionaris gegevensbescherming."))
    doc.field("Aantal regels", str(len(entries)))
    doc.field("Tijden", f"lokale tijd ({names.tz}), met de tijdzone")
    _head_statement(doc, head)
    doc.heading("Regels")
    for e in entries:
        doc.entry_block(f"Regel {e['n']}  -  {moment(e['at'], names.tz)}  -  "
                        f"{actor_text(e['actor'])}", [
            ("Handeling", action_text(e["action"])),
            ("Onderwerp", names.subject(e["subject"])),
            ("Reden", e["reason"]),
            ("Details", names.details(e["details"]))])
    return doc.save(out)


def _head_statement(doc: _Document, head: dict | None) -> None:
    """The signed head on the first page, so that the central room can record it and check
    it (docs/governance.md): the message lines exactly as signed, then the signature and the
    public key in hex."""
    doc.heading("Ondertekende kop van dit logboek")
    if head is None:
        doc.line_text("Er is geen geldige ondertekende kop: controleer de logboeken "
                      "('nvr logbook verify') en meld dit aan de FG.")
        return
    doc.line_text("Het ondertekende bericht bestaat uit de zes regels hieronder, elk gevolgd "
                  "door een regelovergang (Ed25519). Bewaar deze kop buiten het apparaat; "
                  "controleer de handtekening met de publieke sleutel van het apparaat.")
    doc.set_font(doc.mono_font, "", 8)
    for line in head["message"].splitlines():
        doc.cell(0, 4, _text(line), new_x="LMARGIN", new_y="NEXT")
    sig = head["signature"]
    for label, value in (("signature:", sig[:64]), ("", sig[64:]),
                         ("public_key:", head["public_key"])):
        doc.cell(0, 4, f"{label} {value}".strip(), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)


# --- declarations (R-62, R-73) ----------------------------------------------------------------

def local_zoned(t: float | None, seconds: bool = False) -> str:
    """A stored time as Dutch local time with its zone, e.g. 29-11-2026 14:05 (CET), or with
    the seconds, 29-11-2026 14:05:07 (CET)."""
    return when(t, AMSTERDAM, "%d-%m-%Y %H:%M:%S (%Z)" if seconds else "%d-%m-%Y %H:%M (%Z)")


ART9_DECLARATION = (
    "Ondergetekende ontvanger verklaart de camerabeelden in dit pakket netjes en zorgvuldig te "
    "gebruiken (artikel 9 lid 4 van de regeling): uitsluitend voor het onderzoek waarvoor de "
    "politie of de officier van justitie erom heeft gevraagd, zorgvuldig bewaard, niet aan "
    "derden verstrekt buiten het strafproces, en vernietigd zodra het doel is bereikt. Met de "
    "overdracht gaat de verantwoordelijkheid voor deze kopie over op de ontvanger.")


def art9_declaration_pdf(facts: dict, out: Path) -> Path:
    """The art. 9 declaration (R-62): the request, the officer's identity and its check (lid 3),
    the medium and the moment of handover (lid 2), every file of the package with the SHA-256
    of the file the recipient extracts, the archive's SHA-256, the declaration of careful use
    (lid 4) and both signatures. `facts` is what paperwork.art9_facts gathers."""
    req, officer = facts["request"], facts["officer"]
    export, handover = facts["export"], facts["handover"]
    doc = _Document("Verklaring zorgvuldig gebruik camerabeelden (artikel 9)", facts["device"])
    doc.heading("Schriftelijk verzoek (artikel 9 lid 1)")
    doc.field("Kenmerk van het verzoek", req.get("reference") or "")
    doc.field("Verzoeker", req["requester"])
    doc.field("Wettelijke grondslag", f"artikel {req['legal_basis']} Wetboek van Strafvordering")
    doc.field("Ontvangen", local_zoned(req["received"]))
    doc.heading("Beelden")
    doc.field("Camera", facts["camera"])
    doc.field("Locatie", facts["location"])
    doc.field("Camerasysteem", facts["device"])
    start, end = (export or req)["start"], (export or req)["end"]
    doc.field("Tijdvak", f"{local_zoned(start)} tot {local_zoned(end)}")
    doc.heading("Identiteit van de ontvanger (artikel 9 lid 3)")
    if officer:
        doc.field("Ontvanger", officer["officer"])
        doc.field("Legitimatiebewijs", f"{officer['document_type_text']}, nummer eindigend op "
                                       f"{officer['last_digits']}")
        doc.field("Gecontroleerd door", f"beheerder {officer['checked_by']} op "
                                        f"{local_zoned(officer['checked_at'])}")
    else:
        doc.line_text("De identiteit van de ontvanger is niet vastgelegd (export van voor de "
                      "controle bij de overdracht); vul in en laat de beheerder tekenen.")
        doc.field("Ontvanger", "")
        doc.field("Legitimatiebewijs", "")
    doc.heading("Overdracht (artikel 9 lid 2)")
    if handover:
        doc.field("Medium", handover["medium"])
        doc.field("Datum en tijd", local_zoned(handover["handed_over_at"]))
        doc.field("Uitgegeven door", f"beheerder {handover['handed_over_by']}")
        doc.field("Ontvangen door", handover["recipient"])
    else:
        doc.line_text("Nog niet overgedragen: leg de overdracht vast (medium, datum en tijd) "
                      "en druk deze verklaring opnieuw af.")
    doc.heading("Bestanden in het exportpakket")
    if export and export["archive"].get("kind") == "package":
        _package_files(doc, export["archive"], export["files"], facts.get("fingerprint"))
    elif export:                    # an export of earlier firmware: 7z of separate MP4s
        files = export["files"]
        doc.line_text(f"{len(files)} videobestanden (MP4, zonder geluid) en de lijsten "
                      "SHA256SUMS en manifest.json. De SHA-256 is die van het bestand zoals de "
                      "ontvanger het uit het pakket haalt; controleer elk bestand, bijvoorbeeld "
                      "met sha256sum.")
        for f in files:
            doc.line_text(f"{f['name']}   {local_zoned(f['start'], seconds=True)} tot "
                          f"{local_zoned(f['end'], seconds=True)}")     # a file lasts seconds
            doc.hash_line(f["sha256"])
        for f in export["archive"].get("other_files", []):       # SHA256SUMS, manifest.json
            doc.line_text(f"{f['name']}   lijst van de bestanden en hun SHA-256")
            doc.hash_line(f["sha256"])
        archive = export["archive"]
        doc.line_text(f"Exportpakket {Path(archive['path']).name}: {archive['bytes']} bytes, "
                      "7z-archief met AES-256, geopend met het wachtwoord dat apart van het "
                      "medium wordt doorgegeven.")
        doc.hash_line(archive["sha256"])
    else:
        doc.line_text("Er is nog geen export geschreven. Na de export staan hier alle "
                      "bestanden met hun SHA-256.")
    doc.heading("Verklaring (artikel 9 lid 4)")
    doc.line_text(ART9_DECLARATION)
    if officer and officer["declaration_signed_by"]:
        doc.line_text(f"Ondertekening vastgelegd door beheerder "
                      f"{officer['declaration_recorded_by']} op "
                      f"{local_zoned(officer['declaration_at'])}.")
    for who, name in (("ontvanger", (officer or {}).get("officer", "")),
                      ("beheerder", (handover or {}).get("handed_over_by", ""))):
        doc.ln(6)
        doc.field(f"Naam {who}", name)
        doc.field(f"Handtekening {who}", "_" * 40)
        doc.field("Datum", "_" * 20)
    return doc.save(out)


# --- the DPIA / DPO report (R-83) -------------------------------------------------------------

def _date(text: str) -> str:
    """An ISO date from the configuration as 29-11-2026; other text as it is."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d").strftime("%d-%m-%Y")
    except ValueError:
        return str(text)


def _introduction_section(doc: "_Document", data: dict) -> None:
    """The DPIA, the works council (art. 11) and the signs (art. 6 lid 3): report_data's
    keys dpia, works_council and signage."""
    doc.heading("Invoering: DPIA, ondernemingsraad en borden")
    dpia = data["dpia"]
    doc.field("DPIA", f"{dpia['reference']}, uitgevoerd op {dpia['date_text']}"
              if dpia["reference"] and dpia["date"] else "niet vastgelegd")
    if dpia["refused"]:
        doc.line_text(f"Er wordt niet opgenomen: {dpia['refused']}.")
    doc.line_text("Ondernemingsraad (artikel 11): " + (
        "instemming nodig voor de camera's met medewerkers in beeld" if data["works_council"]
        else "geen camera heeft medewerkers in beeld"))
    for c in data["works_council"]:
        approval = (f"instemming {c['reference']} van {c['date_text']}" if c["reference"]
                    else "geen instemming vastgelegd")
        doc.line_text(f"    {c['name']} ({c['location']}): {approval}"
                      + (f". Er wordt niet opgenomen: {c['refused']}." if c["refused"] else ""))
    doc.line_text("Borden cameratoezicht (artikel 6 lid 3): "
                  + (", ".join(data["signage"]) or "niet vastgelegd"))


def report_pdf(data: dict, cfg, out: Path) -> Path:
    """The report for the DPIA and the FG (R-83): every section in Dutch, local times with
    the zone, cameras by name and location, statuses in words; tables wrap, nothing is cut."""
    names = Names.of(cfg)
    tz = names.tz

    def at(t) -> str:
        return moment(t, tz, seconds=False) if t is not None else "-"

    doc = _Document("Rapportage camerasysteem voor DPIA en FG", device_label(cfg))
    doc.field("Periode", f"{_date(data['from'])} tot en met {_date(data['to'])}")
    doc.field("Logboeken", "hashketens en ondertekende koppen intact" if data["logbook_ok"]
              else "NIET intact: " + " ".join(data["logbook_problems"]))
    if "dpia" in data:
        _introduction_section(doc, data)
    doc.heading("Doelen van het cameratoezicht (art. 1)")
    purposes = data.get("purposes", {"defined": {}, "used": {}})
    doc.table(["doel", "toegang tot beelden in de periode"],
              [[words, purposes["used"].get(key, 0)]
               for key, words in purposes["defined"].items()], [90, 60])
    doc.heading("Grondslagen")
    doc.table(["grondslag", "toelichting"], [list(b) for b in data.get("legal_bases", ())],
              [50, 130])
    doc.heading("Camera's")
    doc.table(["camera", "locatie", "privacy-maskers", "personeel in beeld",
               "instemming OR (art. 11)"],
              [[c.get("name") or c["id"], c["location"], str(c["masks"]),
                "ja" if c["staff_in_view"] else "nee", c["works_council"] or "-"]
               for c in data["cameras"]], [30, 60, 22, 22, 46])
    doc.heading("Bewaartermijn (art. 7 lid 1)")
    horizon = data["horizon_days"]
    oldest = "geen" if horizon is None else f"{horizon:.1f} dagen".replace(".", ",")
    doc.line_text(f"Ingestelde bewaartermijn: {data['retention_days']} dagen. Oudste bewaarde "
                  f"beelden: {oldest}. "
                  f"Opgeslagen segmenten: {data['segments']}.")
    doc.heading("Opslagalarmen")
    doc.table(["alarm sinds", "wat er aan de hand is"],
              [[at(a.get("since")), ALARMS.get(a["kind"], a.get("detail", ""))]
               for a in data.get("alarms", [])], [40, 140])
    doc.heading("Bewaaropdrachten (art. 7 lid 1)")
    doc.table(["nr", "camera", "van", "tot", "kenmerk", "opgeheven"],
              [[h["id"], names.camera(h["camera_id"]), at(h["start"]), at(h["end"]),
                names.subject(h["reference"]), at(h["released"]) if h["released"] else "nee"]
               for h in data["holds"]], [10, 40, 30, 30, 40, 30])
    doc.heading("Toegang tot beelden per rol")
    doc.table(["rol", "live", "terugkijken", "inzage (art. 10)", "export", "geweigerd"],
              [[ROLES.get(role, role), c.get("live", 0), c.get("playback", 0),
                c.get("inzage", 0), c.get("export", 0), c.get("refused", 0)]
               for role, c in sorted(data["access"].items())], [50, 20, 30, 30, 20, 25])
    doc.heading("Exporten en ontvangers (art. 9)")
    doc.table(["gemaakt", "door", "kenmerk", "ontvanger en overdracht", "grondslag",
               "camera en tijdvak", "bestanden", "verklaring getekend"],
              [[at(x["made"]), x["made_by"], x["reference"],
                (f"{x['recipient']} ({x['requester']}), {x['medium']}, "
                 f"{at(x['handed_over_at'])}" if x.get("recipient")
                 else f"nog niet overgedragen ({x['requester']})"),
                f"art. {x['legal_basis']} Sv" if x.get("legal_basis") else "-",
                f"{names.camera(x['camera_id'])}, {at(x['start'])} tot {at(x['end'])}",
                x["files"], (f"{x['declaration_signed_by']}, {at(x['declaration_at'])}"
                             if x.get("declaration_signed_by") else "nee")]
               for x in data.get("exports", [])], [22, 20, 24, 26, 18, 36, 14, 20])
    doc.heading("Bezoeken van politie en OM (art. 5 lid 4)")
    doc.table(["geopend", "bezoeker", "organisatie", "grondslag", "identiteit", "reden",
               "camera's", "gesloten"],
              [[at(v["opened"]), v["visitor"], v["organisation"], f"art. {v['legal_basis']} Sv",
                v["identity"], v["reason"], ", ".join(names.camera(c) for c in v["cameras"]),
                at(v["closed"]) if v["closed"] else f"verloopt {at(v['expires'])}"]
               for v in data.get("visits", [])], [22, 22, 24, 18, 22, 30, 24, 18])
    doc.heading("Aanwijzingen door de beheerder (art. 5 lid 1)")
    doc.table(["verleend", "door", "aan", "handelingen", "camera's", "reden", "geldig tot",
               "ingetrokken"],
              [[at(d["granted"]), d["granted_by"], d["grantee"],
                ", ".join(VALUES.get(a, a) for a in d["actions"]),
                ", ".join(names.camera(c) for c in d["cameras"]), d["reason"],
                at(d["expires"]), at(d["revoked"]) if d["revoked"] else "nee"]
               for d in data.get("delegations", [])], [22, 20, 20, 20, 28, 34, 18, 18])
    doc.heading("Verzoeken (art. 9 en 10)")
    doc.table(["nr", "art.", "verzoeker", "status", "ontvangen", "beslissen uiterlijk",
               "beslist", "termijn"],
              [[r["id"], r["article"], r["requester"], STATUSES.get(r["status"], r["status"]),
                at(r["received"]), at(r["decision_due"]) if r["decision_due"] else "n.v.t.",
                at(r["decided_at"]) if r["decided_at"] else "-", r["in_time"]]
               for r in data["requests"]], [10, 10, 32, 24, 28, 28, 28, 20])
    doc.heading("Te late verzoeken (art. 10 lid 3: binnen 2 werkdagen)")
    doc.table(["nr", "verzoeker", "ontvangen", "beslissen uiterlijk", "status"],
              [[r["id"], r["requester"], at(r["received"]), at(r["decision_due"]),
                STATUSES.get(r["status"], r["status"])] for r in data.get("overdue", [])],
              [10, 50, 40, 40, 40])
    return doc.save(out)


def _package_files(doc, archive: dict, files: list[dict], fingerprint: str | None) -> None:
    """The evidence package (export/manifest.py): its files, hashes and the device key's
    fingerprint (`fingerprint`: the device's own key, read when the declaration is printed),
    the check out of band of manifest.sig (issue 13 item 3)."""
    doc.line_text(dutch("The evidence package %(name)s (%(bytes)s bytes) holds one video per "
                        "camera (MP4, H.264, no sound), manifest.json signed by the device "
                        "(manifest.sig), device-pubkey.pem and manifest.sha256. Check it with "
                        "sha256sum -c manifest.sha256 and openssl pkeyutl -verify (see "
                        "LEESMIJ.txt).", name=Path(archive["path"]).name,
                        bytes=archive["bytes"]))
    if archive.get("container") == "7z" and archive.get("archive_sha256"):
        # The recipient checks the archive before opening it (exportfix item 3).
        doc.line_text(dutch("The package is inside the 7z archive %(name)s (AES-256, opened "
                            "with the password given apart from the medium). Check the archive "
                            "before opening it: sha256sum %(name)s gives",
                            name=Path(archive["path"]).name))
        doc.hash_line(archive["archive_sha256"])
    for f in files:
        doc.line_text(f"{f['name']}   {local_zoned(f['start'], seconds=True)} tot "
                      f"{local_zoned(f['end'], seconds=True)}")
        doc.hash_line(f["sha256"])
    for f in archive.get("other_files", []):
        doc.line_text(f["name"])
        doc.hash_line(f["sha256"])
    if fingerprint:
        doc.line_text(dutch("Fingerprint of the device key that signed manifest.json (compare "
                            "it with device-pubkey.pem):"))
        doc.hash_line(fingerprint)
