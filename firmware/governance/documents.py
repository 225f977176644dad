"""Documents the regulation asks for: logbook exports, declarations, the DPIA/DPO report.

PDFs are made with fpdf2's built-in fonts (no font files needed on the device); their text is
Dutch, like the interface. Text outside Latin-1 is transliterated.
"""

from __future__ import annotations

import csv
import hashlib
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

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Labels of the keys the introduction adds to the report (dpia, works_council, signage).
INTRO_KEYS = {"reference": "kenmerk", "date": "datum", "camera": "camera", "where": "plaats",
              "location": "plaats", "text": "tekst", "approved": "ingestemd"}


def local(t: float | None) -> str:
    """A stored time as Dutch local time; never raises (bounds.when)."""
    return when(t, AMSTERDAM, "%Y-%m-%d %H:%M:%S")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run: text that starts with = + - @ (also after leading
    whitespace), or with a tab or carriage return, gets a leading apostrophe (CWE-1236)."""
    text = "" if value is None else str(value)
    if text.startswith(("\t", "\r")) or text.lstrip(" \t\r\n")[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def _latin1(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text))
    return text.encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    def __init__(self, title: str, device: str):
        super().__init__(format="A4")
        self.title_text, self.device = title, device
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)
        self.add_page()

    def header(self) -> None:
        self.set_font("Helvetica", "B", 13)
        self.cell(0, 8, _latin1(self.title_text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, _latin1(f"Camerasysteem {self.device} - gemaakt {moment(time.time())}"),
                  new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"pagina {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str) -> None:
        if self.will_page_break(25):           # a heading never ends a page alone
            self.add_page()
        self.ln(2)
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 7, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 9)

    def line_text(self, text: str) -> None:
        self.set_font("Helvetica", "", 9)
        self.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def field(self, label: str, value: str) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(55, 5, _latin1(label))
        self.set_font("Helvetica", "", 9)
        self.multi_cell(0, 5, _latin1(value or "-"), new_x="LMARGIN", new_y="NEXT")

    def entry_block(self, title: str, lines: list[tuple[str, str]]) -> None:
        """One logbook entry: a bold title line, then its fields, each wrapped in full."""
        if self.will_page_break(5 * (len(lines) + 1)):
            self.add_page()
        self.set_font("Helvetica", "B", 8)
        self.multi_cell(0, 4.5, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        for label, value in lines:
            if not value:
                continue
            self.set_font("Helvetica", "B", 8)
            self.cell(24, 4.2, _latin1(label))
            self.set_font("Helvetica", "", 8)
            self.multi_cell(0, 4.2, _latin1(value), new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def table(self, headers: list[str], rows: list[list[str]], widths: list[int]) -> None:
        """A table whose cells wrap (word by word; a word longer than its column by
        character): nothing is cut off. An empty table says so in words."""
        if not rows:
            self.line_text("Geen.")
            return
        self.set_font("Helvetica", "", 7)
        with FPDF.table(self, col_widths=tuple(widths), width=sum(widths), align="LEFT",
                        text_align="LEFT", line_height=3.6, wrapmode=WrapMode.WORD,
                        padding=0.6) as table:
            for row in [headers, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(_latin1("" if value is None else str(value)))
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
    doc.set_font("Courier", "", 8)
    for line in head["message"].splitlines():
        doc.cell(0, 4, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    sig = head["signature"]
    for label, value in (("signature:", sig[:64]), ("", sig[64:]),
                         ("public_key:", head["public_key"])):
        doc.cell(0, 4, f"{label} {value}".strip(), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)


# --- declarations (R-62, R-73) ----------------------------------------------------------------

def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def declaration_pdf(request: dict, segments: list[dict], device: str, out: Path,
                    archive: dict | None = None) -> Path:
    """The declaration of careful use, pre-filled with who, what, which cameras and window,
    and the SHA-256 of every file handed over (R-62) or shown (R-73)."""
    art9 = request["article"] == 9
    doc = _Document("Verklaring zorgvuldig gebruik camerabeelden" if art9 else
                    "Verklaring inzage camerabeelden", device)
    doc.heading("Verzoek")
    doc.field("Verzoek", f"{request['id']} (artikel {request['article']} van de regeling)")
    doc.field("Kenmerk", request.get("reference") or "")
    doc.field("Verzoeker", request["requester"])
    if art9:
        doc.field("Wettelijke grondslag", f"artikel {request['legal_basis']} Wetboek van "
                                          "Strafvordering")
    else:
        doc.field("Motivering", request.get("motivation") or "")
        doc.field("Besluit", f"{request['status']} door {request.get('decided_by') or '-'} op "
                             f"{local(request.get('decided_at'))}")
        doc.field("Identiteit gecontroleerd", f"{request.get('identity_checked_by') or '-'}: "
                                              f"{request.get('identity_method') or '-'}")
    doc.field("Camera", request["camera_id"])
    doc.field("Tijdvak", f"{local(request['start'])} tot {local(request['end'])}")
    doc.heading("Bestanden" if art9 else "Getoonde beelden")
    doc.line_text(f"{len(segments)} bestanden; controleer elk met SHA-256.")
    for s in segments:
        doc.line_text(f"segment {s['id']}  {local(s['start'])} tot {local(s['end'])}\n"
                      f"    SHA-256 {s['sha256']}")
    if archive:
        doc.field("Exportpakket", f"{Path(archive['path']).name}, {archive['bytes']} bytes, "
                                  "7z met AES-256 en wachtwoord")
        doc.line_text(f"    SHA-256 {archive['sha256']}")
    doc.heading("Verklaring")
    doc.line_text("Ondergetekende verklaart de camerabeelden uitsluitend te gebruiken voor het "
                  "doel waarvoor zij zijn verstrekt, zorgvuldig te bewaren, niet aan derden te "
                  "verstrekken en te vernietigen zodra het doel is bereikt. Na overdracht "
                  "berust de verantwoordelijkheid bij de ontvanger." if art9 else
                  "Ondergetekende verklaart de beelden uitsluitend in te zien voor het "
                  "genoemde doel, er geen opnamen of kopieen van te maken en de privacy van "
                  "anderen in beeld te respecteren.")
    doc.ln(8)
    doc.field("Naam", "")
    doc.field("Handtekening", "")
    doc.field("Datum", "")
    return doc.save(out)


# --- the DPIA / DPO report (R-83) -------------------------------------------------------------

def _date(text: str) -> str:
    """An ISO date from the configuration as 29-11-2026; other text as it is."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d").strftime("%d-%m-%Y")
    except ValueError:
        return str(text)


def _readable(value, names: Names, key: str = "") -> str:
    """A value of the introduction's keys (dpia, works_council, signage) as Dutch text."""
    if isinstance(value, dict):
        return "; ".join(f"{INTRO_KEYS.get(k, DETAIL_KEYS.get(k, k))}: {_readable(v, names, k)}"
                         for k, v in value.items() if v not in (None, ""))
    if isinstance(value, (list, tuple)):
        return ", ".join(_readable(v, names, key) for v in value)
    if key in ("camera", "camera_id", "id"):
        return names.camera(value)
    if key.endswith("date") or key == "datum":
        return _date(value)
    return names.value(key, value)


def _items(value) -> list:
    if value in (None, "", [], {}):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
    if data.get("dpia"):
        doc.heading("DPIA (art. 35 AVG, inleiding van de regeling)")
        for item in _items(data["dpia"]):
            doc.line_text(_readable(item, names))
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
    if data.get("works_council"):
        doc.heading("Ondernemingsraad (art. 11, art. 27 WOR)")
        for item in _items(data["works_council"]):
            doc.line_text(_readable(item, names))
    if data.get("signage"):
        doc.heading("Borden cameratoezicht (art. 6 lid 3)")
        for item in _items(data["signage"]):
            doc.line_text("- " + _readable(item, names))
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
    doc.table(["rol", "live", "terugkijken", "export", "geweigerd"],
              [[ROLES.get(role, role), c.get("live", 0), c.get("playback", 0),
                c.get("export", 0), c.get("refused", 0)]
               for role, c in sorted(data["access"].items())], [60, 25, 30, 25, 30])
    doc.heading("Exporten en ontvangers (art. 9)")
    doc.table(["gemaakt", "door", "kenmerk", "ontvanger", "grondslag", "camera en tijdvak",
               "bestanden", "verklaring getekend"],
              [[at(x["made"]), x["made_by"], x["reference"], x["recipient"],
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
