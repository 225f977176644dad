"""Documents the regulation asks for: logbook exports, declarations, the DPIA/DPO report.

PDFs are made with fpdf2's built-in fonts (no font files needed on the device); their text is
Dutch, like the interface. Text outside Latin-1 is transliterated.
"""

from __future__ import annotations

import csv
import hashlib
import time
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF

from firmware.governance.bounds import when

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LOGBOOK_FIELDS = ("book", "n", "at", "actor", "action", "subject", "reason", "details", "hash")


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
        self.cell(0, 5, _latin1(f"Camerasysteem {self.device} - gemaakt {local(time.time())}"),
                  new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"pagina {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str) -> None:
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

    def table(self, headers: list[str], rows: list[list[str]], widths: list[int]) -> None:
        self.set_font("Helvetica", "B", 8)
        for h, w in zip(headers, widths, strict=True):
            self.cell(w, 5, _latin1(h), border=1)
        self.ln()
        self.set_font("Helvetica", "", 7)
        for row in rows:
            for value, w in zip(row, widths, strict=True):
                text = _latin1(str(value))
                while text and self.get_string_width(text) > w - 1:
                    text = text[:-1]
                self.cell(w, 5, text, border=1)
            self.ln()

    def save(self, out: Path) -> Path:
        self.alias_nb_pages()
        tmp = Path(out).with_name(Path(out).name + ".part")
        self.output(str(tmp))
        tmp.replace(out)
        return Path(out)


# --- logbooks -------------------------------------------------------------------------------

HEAD_FIELDS = ("head_statement", "signature_ed25519", "public_key_der", "fingerprint_sha256")


def logbook_csv(entries: list[dict], out: Path, head: dict | None = None) -> Path:
    """The entries, then (after an empty row) the signed statement of the book's head: the
    exact signed message, its Ed25519 signature and the device's public key, all hex."""
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(LOGBOOK_FIELDS)
        for e in entries:
            writer.writerow([csv_cell(v) for v in (
                e["book"], e["n"], local(e["at"]), e["actor"], e["action"], e["subject"],
                e["reason"], e["details"], e["hash"])])
        if head:
            writer.writerow([])
            writer.writerow(HEAD_FIELDS)
            writer.writerow([head["message"], head["signature"], head["public_key"],
                             head["fingerprint"]])
    return Path(out)


def logbook_pdf(entries: list[dict], book: str, device: str, verified: bool,
                out: Path, head: dict | None = None) -> Path:
    title = {"usage": "Logboek gebruik camerasysteem",
             "inzien": "Logboek Inzien Beeldmateriaal (vertrouwelijk)"}[book]
    doc = _Document(title, device)
    doc.line_text(f"{len(entries)} regels. Hashketen en ondertekende kop: "
                  f"{'intact' if verified else 'NIET intact'}.")
    _head_statement(doc, head)
    doc.table(["nr", "tijd", "wie", "wat", "onderwerp", "reden"],
              [[e["n"], local(e["at"]), e["actor"], e["action"], e["subject"], e["reason"]]
               for e in entries], [10, 32, 30, 35, 35, 38])
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


def report_pdf(data: dict, device: str, out: Path) -> Path:
    doc = _Document("Rapportage camerasysteem voor DPIA en FG", device)
    doc.field("Periode", f"{data['from']} tot en met {data['to']}")
    _introduction_section(doc, data)
    doc.heading("Camera's")
    doc.table(["camera", "locatie", "privacymaskers", "personeel in beeld", "OR-instemming"],
              [[c["id"], c["location"], str(c["masks"]), "ja" if c["staff_in_view"] else "nee",
                c["works_council"] or "-"] for c in data["cameras"]], [25, 60, 25, 30, 40])
    doc.heading("Bewaartermijn")
    horizon = data["horizon_days"]
    doc.line_text(f"Ingestelde bewaartermijn: {data['retention_days']} dagen. Oudste bewaarde "
                  f"beelden: {'geen' if horizon is None else f'{horizon:.1f} dagen'}. "
                  f"Opgeslagen segmenten: {data['segments']}.")
    doc.heading("Bewaarplichten (holds)")
    doc.table(["nr", "camera", "van", "tot", "kenmerk", "vrijgegeven"],
              [[h["id"], h["camera_id"], local(h["start"]), local(h["end"]), h["reference"],
                local(h["released"]) or "nee"] for h in data["holds"]], [10, 22, 32, 32, 52, 32])
    doc.heading("Toegang tot beelden per rol")
    doc.table(["rol", "live", "terugkijken", "export", "geweigerd"],
              [[role, c.get("live", 0), c.get("playback", 0), c.get("export", 0),
                c.get("refused", 0)] for role, c in sorted(data["access"].items())],
              [60, 25, 30, 25, 30])
    doc.heading("Verzoeken")
    doc.table(["nr", "art.", "status", "ontvangen", "beslistermijn", "op tijd"],
              [[r["id"], r["article"], r["status"], local(r["received"]),
                local(r["decision_due"]), r["in_time"]] for r in data["requests"]],
              [10, 12, 25, 40, 40, 25])
    doc.heading("Logboeken")
    doc.line_text(f"Verificatie van de hashketens en ondertekende koppen: "
                  f"{'intact' if data['logbook_ok'] else 'NIET intact'}. "
                  + " ".join(f"{p}" for p in data["logbook_problems"]))
    return doc.save(out)
