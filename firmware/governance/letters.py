"""The two documents of an art. 10 request that leave the municipality: the decision letter to
the requester (art. 10 lid 3, toelichting art. 10) and the declaration the requester signs
before the inzage (art. 10 lid 5). Dutch, local times with the time zone, the camera by name
and location, no internal ids; each checks who asks, writes the PDF and records that it was
made in the Logboek Inzien Beeldmateriaal (art. 10 lid 6, R-74).

The remedy in the letter: a decision under art. 10 of the regulation (an internal rule of the
municipality) is no decision under the Algemene wet bestuursrecht, so no objection or appeal to
the administrative court lies against it; the requester can go to the civil court, and can
complain to the Autoriteit Persoonsgegevens (art. 77 AVG). A request for one's own personal
data under art. 15 AVG is a different request: a written decision of a bestuursorgaan on it is
an Awb-besluit (art. 34 UAVG), with objection. The letter says both, so nobody is sent the
wrong way.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.governance.access import require
from firmware.governance.bounds import when
from firmware.governance.roles import Action, Actor
from firmware.governance.service import Governance, Refused
from firmware.i18n import _

REGULATION = "Regeling Cameratoezicht Gemeentehuis Soest"
DECIDED = ("approved", "refused")


class LetterError(Exception):
    """The document cannot be made for this request now; the message (Dutch) says why."""


def _moment(t: float | None, tz: ZoneInfo) -> str:
    """'29-11-2026 14:05 (CET)'."""
    return when(t, tz, "%d-%m-%Y %H:%M (%Z)")


def _window(row: dict, tz: ZoneInfo) -> str:
    """The footage window, to the second when it does not start and end on whole minutes."""
    seconds = any(t is not None and int(t) % 60 for t in (row["start"], row["end"]))
    fmt = "%d-%m-%Y %H:%M:%S (%Z)" if seconds else "%d-%m-%Y %H:%M (%Z)"
    return f"{when(row['start'], tz, fmt)} tot {when(row['end'], tz, fmt)}"


BLANK = "_" * 40            # a line to write on


def _camera(cfg, camera_id: str) -> str:
    for c in cfg.cameras:
        if c.id == camera_id:
            return f"{c.name}, {c.location}"
    return "een camera die niet meer in de configuratie staat"


def _place(cfg) -> str:
    return cfg.device.name or "het gemeentehuis"


def _decision(gov: Governance, row: dict) -> str | None:
    """'approved' or 'refused' for a decided request, also once it is closed (the logbook
    keeps the decision), else None."""
    if row["status"] in DECIDED:
        return row["status"]
    if row["decided_at"] is None:
        return None
    found = gov.logbook.db.execute(
        "SELECT action FROM logbook WHERE book = 'inzien' AND subject = ? AND action IN "
        "('request-approved', 'request-refused') ORDER BY n DESC LIMIT 1",
        (f"request {row['id']}",)).fetchone()
    return found[0].removeprefix("request-") if found else None


def _document(title: str, cfg, tz: ZoneInfo):
    from firmware.governance.documents import _Document, _text
    import time

    class Letter(_Document):
        def header(self) -> None:
            self.set_font(self.text_font, "B", 13)
            self.multi_cell(0, 7, _text(self.title_text), new_x="LMARGIN", new_y="NEXT")
            self.set_font(self.text_font, "", 8)
            self.cell(0, 5, _text(f"Camerasysteem {cfg.device.name or 'gemeentehuis'} - "
                                    f"gemaakt op {_moment(time.time(), tz)}"),
                      new_x="LMARGIN", new_y="NEXT")
            self.ln(3)

    return Letter(title, cfg.device.name)


def decision_letter_file(gov: Governance, actor: Actor, cfg, store, req_id: int,
                         out: Path) -> Path:
    """The decision letter of art. 10 request `req_id`, approved or refused, ready to sign and
    send (by the manager bedrijfsvoering who decided, or the privacy officer who writes to the
    requester); whoever may read the request may print it (R-11)."""
    require(gov.logbook, actor, Action.REQUEST_READ, Refused)
    row = gov.requests(store).show(req_id)
    if row["article"] != 10:
        raise LetterError(_("request %(number)s is a request of police or justice (artikel 9): a "
                            "besluit letter belongs to a request for inzage only (artikel 10)",
                            number=req_id))
    decision = _decision(gov, row)
    if decision is None:
        raise LetterError(_("no besluit has been taken on request %(number)s yet: the manager "
                            "bedrijfsvoering decides first (artikel 10 lid 3), then the letter "
                            "can be made", number=req_id))
    tz = ZoneInfo(cfg.device.timezone)
    approved = decision == "approved"
    doc = _document("Besluit op uw verzoek om camerabeelden in te zien", cfg, tz)
    doc.field("Aan", row["requester"])
    if row["reference"]:
        doc.field("Uw kenmerk", row["reference"])
    doc.field("Datum van het besluit", _moment(row["decided_at"], tz))
    doc.field("Betreft", f"uw verzoek om inzage, artikel 10 van de {REGULATION}")
    doc.ln(3)
    doc.line_text(f"Geachte {row['requester']},")
    doc.ln(2)
    doc.line_text(
        f"Op {_moment(row['received'], tz)} heeft de privacy officer uw schriftelijke verzoek "
        f"ontvangen om camerabeelden in te zien van de camera {_camera(cfg, row['camera_id'])}"
        f", van {_window(row, tz)}. U lichtte uw "
        f"verzoek als volgt toe: \"{row['motivation'] or ''}\"")
    doc.heading("Besluit")
    doc.line_text(f"De manager bedrijfsvoering heeft op {_moment(row['decided_at'], tz)} "
                  f"besloten uw verzoek {'toe te wijzen' if approved else 'af te wijzen'}. "
                  f"Uw verzoek is daarmee {'toegewezen' if approved else 'afgewezen'}.")
    late = row["decision_due"] is not None and row["decided_at"] > row["decision_due"]
    doc.line_text(f"De beslistermijn van twee werkdagen (artikel 10 lid 3) liep tot "
                  f"{_moment(row['decision_due'], tz)}; het besluit is "
                  f"{'na afloop van die termijn' if late else 'binnen die termijn'} genomen.")
    doc.heading("Gronden")
    doc.line_text(row["decision_reason"] or "")
    doc.heading("Afweging van de privacy van anderen in beeld")
    doc.line_text("In principe kunt u alleen beelden inzien waarop uzelf staat. Staan er anderen "
                  "op de beelden, dan is gewogen of uw belang opweegt tegen hun privacy "
                  "(toelichting bij artikel 10).")
    doc.line_text(row.get("weighing") or "Bij dit besluit is geen afweging van anderen in beeld "
                                         "vastgelegd.")
    if approved:
        doc.line_text(f"Vervaging bij de inzage, bindend voor de beheerder: "
                      f"{row.get('blur_label') or 'geen vervaging'}.")
    if approved:
        doc.heading("Wat u nu moet doen")
        doc.line_text(
            "Meld u persoonlijk bij de beheerder van het camerasysteem in "
            f"{_place(cfg)} en neem een geldig identiteitsbewijs mee: de beheerder controleert "
            "uw identiteit (artikel 10 lid 4). Voordat u de beelden ziet, ondertekent u een "
            "verklaring (artikel 10 lid 5). U ziet alleen de beelden van de genoemde camera en "
            "het genoemde tijdvak; andere mensen in beeld kunnen onherkenbaar worden gemaakt. "
            "U krijgt geen kopie van de beelden. De inzage wordt vastgelegd in het Logboek "
            "Inzien Beeldmateriaal (artikel 10 lid 6).")
    else:
        days = round(store.retention / 86400)
        doc.heading("Wat er met de beelden gebeurt")
        doc.line_text("De beelden die voor uw verzoek werden bewaard, vallen weer onder de "
                      f"gewone bewaartermijn van {days} dagen en worden daarna automatisch "
                      "gewist (artikel 7 lid 1).")
    doc.heading("Als u het niet eens bent met dit besluit")
    doc.line_text(
        f"Dit besluit is genomen op grond van artikel 10 van de {REGULATION}. Het is geen "
        "besluit in de zin van de Algemene wet bestuursrecht: bezwaar bij de gemeente en "
        "beroep bij de bestuursrechter staan er daarom niet tegen open. Bent u het er niet mee "
        "eens, dan kunt u zich wenden tot de burgerlijke rechter (de rechtbank). U heeft "
        "daarnaast het recht een klacht in te dienen bij de Autoriteit Persoonsgegevens "
        "(artikel 77 van de Algemene verordening gegevensbescherming, AVG); ook de "
        "functionaris gegevensbescherming van de gemeente kunt u om raad vragen.")
    doc.line_text(
        "Wilt u als betrokkene inzage in uw eigen persoonsgegevens op grond van artikel 15 AVG, "
        "dan kunt u daarvoor een afzonderlijk verzoek doen. Een schriftelijke beslissing van "
        "een bestuursorgaan op zo'n verzoek is wel een besluit in de zin van de Algemene wet "
        "bestuursrecht (artikel 34 Uitvoeringswet AVG), waartegen u bezwaar kunt maken.")
    doc.ln(4)
    doc.line_text("Met vriendelijke groet,")
    doc.line_text("de manager bedrijfsvoering")
    doc.ln(6)
    doc.field("Naam", BLANK)
    doc.ln(4)
    doc.field("Handtekening", BLANK)
    doc.save(out)
    gov.logbook.append("inzien", actor.name, "decision-letter", subject=f"request {req_id}",
                       details={"decision": decision})
    return Path(out)


def article10_declaration_file(gov: Governance, actor: Actor, cfg, store, req_id: int,
                               out: Path) -> Path:
    """The declaration of art. 10 lid 5, for the requester and the beheerder to sign before
    the inzage; made only for an approved request."""
    require(gov.logbook, actor, Action.IDENTIFY, Refused)
    row = gov.requests(store).show(req_id)
    if row["article"] != 10:
        raise LetterError(_("request %(number)s is not a request for inzage (artikel 10)",
                            number=req_id))
    if row["status"] != "approved":
        from firmware.governance.wording import STATUSES
        word = STATUSES.said(row["status"], row["status"])
        raise LetterError(_("the verklaring for inzage can be printed only once the request is "
                            "approved (artikel 10 lid 3 en 5); request %(number)s is %(status)s",
                            number=req_id, status=word))
    tz = ZoneInfo(cfg.device.timezone)
    doc = _document("Verklaring inzage camerabeelden (artikel 10 lid 5)", cfg, tz)
    doc.line_text(f"Op grond van artikel 10 lid 5 van de {REGULATION} tekent iedereen die "
                  "toestemming krijgt om camerabeelden in te zien, deze verklaring.")
    doc.heading("Verzoek")
    doc.field("Verzoeker", row["requester"])
    if row["reference"]:
        doc.field("Kenmerk", row["reference"])
    doc.field("Ontvangen", _moment(row["received"], tz))
    doc.field("Doel van de inzage", f"inzage op grond van artikel 10: {row['motivation'] or ''}")
    doc.field("Camera", _camera(cfg, row["camera_id"]))
    doc.field("Toegewezen tijdvak", _window(row, tz))
    doc.heading("Besluit")
    doc.field("Toegewezen", f"door de manager bedrijfsvoering op {_moment(row['decided_at'], tz)}")
    doc.field("Gronden", row["decision_reason"] or "")
    doc.field("Afweging anderen in beeld", row.get("weighing") or "niet vastgelegd")
    doc.field("Vervaging anderen in beeld", row.get("blur_label") or "geen vervaging")
    doc.field("Identiteit", f"in persoon gecontroleerd door de beheerder: "
                            f"{row['identity_method']}" if row["identity_checked_by"] else
              "nog te controleren door de beheerder, in persoon (artikel 10 lid 4)")
    doc.field("Plaats van inzage", f"{_place(cfg)}, in de beveiligde ruimte (artikel 4)")
    doc.heading("Verklaring")
    doc.line_text("Ondergetekende verklaart de camerabeelden alleen in te zien voor het hierboven "
                  "genoemde doel; er geen opnamen, foto's of kopieën van te maken; wat hij of zij "
                  "over anderen in beeld ziet vertrouwelijk te houden en niet aan derden bekend "
                  "te maken. Ondergetekende weet dat de inzage wordt vastgelegd in het Logboek "
                  "Inzien Beeldmateriaal (artikel 10 lid 6).")
    for who in ("verzoeker", "beheerder"):
        doc.heading(f"Voor akkoord, de {who}")
        doc.field("Naam", row["requester"] if who == "verzoeker" else BLANK)
        doc.ln(3)
        doc.field("Plaats en datum", BLANK)
        doc.ln(6)
        doc.field(f"Handtekening {who}", BLANK)
        doc.ln(4)
    doc.save(out)
    gov.logbook.append("inzien", actor.name, "declaration-printed", subject=f"request {req_id}",
                       details={"article": 10})
    return Path(out)
