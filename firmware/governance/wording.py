"""The Dutch words for what the firmware keeps in English: logbook actions, the keys of their
details, request statuses and roles; and how a stored time reads for a person.

One place, used by the logbook documents (CSV, PDF), the web logbook page and the DPIA/FG
report, so that a privacy officer reads the same words everywhere. The logbook itself keeps the
English action ids (they are hashed into the chain and must never change); this module only
translates what is shown. `tests/test_paperwork.py` checks that every action the code appends
has a wording here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo

from firmware.governance.bounds import when

# Every action written to a logbook, in the regulation's words.
ACTIONS: dict[str, str] = {
    # who used the system (art. 7.2)
    "login": "ingelogd",
    "login-failed": "inloggen mislukt",
    "login-throttled": "inloggen tijdelijk geweigerd (te veel pogingen)",
    "logout": "uitgelogd",
    "refused": "handeling geweigerd (geen bevoegdheid)",
    "footage-refused": "toegang tot beelden geweigerd",
    "live": "live beelden bekeken",
    "playback": "opnames teruggekeken",
    "export": "beelden geexporteerd",
    "hold-add": "bewaaropdracht geplaatst (beelden langer bewaard)",
    "hold-release": "bewaaropdracht opgeheven",
    "user-add": "account aangemaakt",
    "user-approve": "account goedgekeurd (vier ogen)",
    "user-role": "rol van account gewijzigd",
    "config-recorded": "configuratie vastgelegd bij de eerste start (art. 7 lid 2)",
    "config-change": "configuratie gewijzigd (art. 7 lid 2)",
    "client-issue": "certificaat voor een werkplek in de beveiligde ruimte uitgegeven (art. 4 lid 1)",
    "client-revoke": "certificaat van een werkplek ingetrokken (art. 4 lid 1)",
    "user-disable": "account uitgeschakeld",
    "user-enable": "account weer ingeschakeld voorgesteld (wacht op goedkeuring, vier ogen)",
    "user-passwd": "eigen wachtwoord gewijzigd",
    "user-reset-code": "herstelcode voor wachtwoord uitgegeven",
    "user-reset": "wachtwoord hersteld met herstelcode",
    "totp-enabled": "tweede factor ingesteld",
    "delegation-grant": "aanwijzing door de beheerder verleend",
    "delegation-revoke": "aanwijzing ingetrokken",
    "delegations-ended": "aanwijzingen beeindigd",
    "logbook-verify": "logboeken gecontroleerd",
    "logbook-export": "logboek geexporteerd",
    "logbook-break": "logboek bleek niet intact bij toevoegen",
    "report": "rapportage voor DPIA en FG gemaakt",
    "decision-question-opened": "vraag buiten de regeling voorgelegd (art. 12)",
    "decision-advice-given": "advies over een vraag buiten de regeling gegeven (art. 12)",
    "decision-outside-rules": "besluit buiten de regeling vastgelegd (art. 12)",
    # Logboek Inzien Beeldmateriaal (art. 10.6)
    "request-art9-registered": "schriftelijk verzoek politie/OM geregistreerd (art. 9)",
    "request-art10-intake": "verzoek om inzage ontvangen (art. 10)",
    "request-art10-refused-at-intake": "verzoek om inzage niet in behandeling genomen",
    "request-approved": "verzoek om inzage toegewezen",
    "request-refused": "verzoek om inzage afgewezen",
    "request-closed": "verzoek afgesloten",
    "identity-checked": "identiteit gecontroleerd (in persoon)",
    "declaration-signed": "verklaring ondertekend",
    "declaration-printed": "verklaring afgedrukt",
    "export-authorized": "export toegestaan op verzoek art. 9",
    "export-written": "overdrachtspakket geschreven",
    "export-handed-over": "export overgedragen aan politie of OM (art. 9 lid 2-4)",
    "visit-opened": "bezoek politie/OM geregistreerd",
    "visit-closed": "bezoek politie/OM beeindigd",
    "visit-session-started": "sessie bezoek politie/OM gestart",
    "visit-session-ended": "sessie bezoek politie/OM beeindigd",
    "scan-attached": "scan aan verzoek toegevoegd",
    "scan-read": "scan van verzoek ingezien",
    # what was shown (art. 7.2, art. 10.4-6; governance/viewing.py, weighing.py, letters.py)
    "playback-segment-shown": "opname getoond bij terugkijken",
    "viewing-opened": "inzage bij verzoek geopend (art. 10)",
    "viewing-segment-shown": "opname getoond bij inzage (art. 10)",
    "request-weighing": "afweging anderen in beeld vastgelegd bij het besluit",
    "decision-letter": "besluitbrief gemaakt (art. 10)",
}

# The keys of the details of logbook entries, as a label a person reads.
DETAIL_KEYS: dict[str, str] = {
    "action": "handeling", "actions": "handelingen", "advice": "advies",
    "archive_sha256": "SHA-256 pakket", "awaits_approval": "wacht op goedkeuring",
    "because": "omdat", "bytes": "grootte (bytes)", "camera": "camera", "cameras": "camera's",
    "count": "aantal", "device_clock": "klok apparaat", "due": "beslissen uiterlijk",
    "end": "tot", "entries": "regels", "erase_complete": "wissen voltooid",
    "expires": "geldig tot", "export": "export", "fault": "gevonden fout",
    "files": "bestanden", "format": "formaat", "from": "van", "id": "nummer",
    "identity": "identiteit", "kind": "soort verzoeker", "known": "bekend account",
    "late": "te laat", "legal_basis": "grondslag", "ok": "intact",
    "organisation": "organisatie", "problems": "problemen", "purpose": "doel",
    "reason": "reden", "reference": "kenmerk", "released_segments": "vrijgegeven segmenten",
    "replaced": "vervangen", "requester": "verzoeker", "role": "rol",
    "segments": "segmenten", "setup_code": "instelcode uitgegeven",
    "signed_head": "ondertekende kop",
    "source": "bron", "start": "van", "tail": "laatste regel", "to": "tot",
    "visitor": "bezoeker", "wait_seconds": "wachttijd (seconden)", "why": "waarom",
    "n": "regel", "hash": "hash", "kind_of_scan": "soort scan", "size": "grootte (bytes)",
    "sha256": "SHA-256", "media_type": "bestandstype", "scan": "scan",
    "first_password": "eerste wachtwoord",
    "article": "artikel", "document_type": "soort document", "last_digits": "laatste tekens",
    "medium": "gegevensdrager", "recipient": "ontvanger",
    "values": "waarden", "file": "bestand", "noticed_by": "opgemerkt door",
    "file_modified": "bestand gewijzigd op", "file_owner": "eigenaar bestand",
    "os_user": "gebruiker besturingssysteem", "key": "instelling", "old": "oud", "new": "nieuw",
    "status": "status",
    "acts_for": "advocaat handelt voor", "adviser": "adviseur", "decided_by": "besloten door",
    "segment": "opname", "request": "verzoek", "window_start": "tijdvak van",
    "window_end": "tijdvak tot", "blur": "vervagen", "detect": "personen automatisch",
    "regions": "getekende gebieden", "grant": "op grond van logboekregel",
    "decision": "besluit", "address": "adres", "certificate": "certificaat",
    "fingerprint": "vingerafdruk", "state": "toestand",
    # an art. 12 decision: the question, both advices and their advisers, who recorded it
    "question": "vraag", "recorded_by": "vastgelegd door",
    "advice_privacy_officer": "advies privacy officer", "privacy_officer": "privacy officer",
    "advice_fg": "advies functionaris gegevensbescherming",
    "fg": "functionaris gegevensbescherming",
    "required_blur": "vervaging volgens besluit", "via": "gevraagd via",
}
# Who wrote an entry when it was not a person's account.
ACTORS: dict[str, str] = {
    "nvr": "het apparaat zelf", "root": "beheer als root op het apparaat",
    "enrollment-code": "eenmalige inschrijfcode van nvr init",
}
# The order in which details are shown (who, what, where, when, then the rest by name).
ORDER = ("requester", "kind", "visitor", "organisation", "identity", "legal_basis", "role",
         "from", "to", "action", "actions", "purpose", "camera", "cameras", "start", "end",
         "due", "expires", "kind_of_scan", "scan", "export", "files", "media_type", "size",
         "bytes", "sha256", "archive_sha256")
# Keys whose values are codes with a wording in VALUES (other values are shown as written).
CODE_KEYS = frozenset({"role", "from", "to", "kind", "purpose", "action", "actions", "format",
                       "because", "source", "decision", "why", "required_blur"})
# Keys whose values are stored times (epoch seconds), shown as local times.
TIME_KEYS = frozenset({"start", "end", "due", "expires", "device_clock", "window_start",
                       "window_end"})

STATUSES: dict[str, str] = {
    "registered": "geregistreerd", "open": "in behandeling", "approved": "toegewezen",
    "refused": "afgewezen", "closed": "gesloten",
}
ROLES: dict[str, str] = {
    "beheerder": "beheerder", "aangewezen-persoon": "aangewezen persoon",
    "technisch-beheerder": "technisch beheerder", "privacy-officer": "privacy officer",
    "manager-bedrijfsvoering": "manager bedrijfsvoering",
    "functionaris-gegevensbescherming": "functionaris gegevensbescherming",
    "eindverantwoordelijke": "eindverantwoordelijke (gemeentesecretaris/algemeen directeur)",
}
VALUES: dict[str, str] = {
    **STATUSES, **ROLES,
    "citizen": "burger", "company": "bedrijf", "insurer": "verzekeraar", "lawyer": "advocaat",
    "other": "anders", "safety": "veiligheid van personen",
    "property": "bescherming van eigendommen", "access": "toegang tot het gebouw",
    "incident": "vastleggen van incidenten", "art10": "art. 10 inzage (verzoek van een ander)",
    "live": "live", "playback": "terugkijken",
    # the blurring an art. 10 decision requires (governance/weighing.py BLUR_CHOICES)
    "none": "geen vervaging", "detect": "personen vervagen (automatische detectie)",
    "regions": "getekende gebieden vervagen",
    "csv": "CSV", "pdf": "PDF", "usage": "logboek gebruik",
    "inzien": "Logboek Inzien Beeldmateriaal", "role-change": "rolwijziging",
    "reset": "wachtwoordherstel", "local": "op het apparaat (opdrachtregel)",
    # the rights of R-11, as the subject of a refused action
    "hold": "bewaaropdrachten", "hold-request": "bewaaropdracht bij verzoek",
    "request-art9": "verzoek art. 9 registreren", "request-intake": "verzoek art. 10 innemen",
    "request-decide": "beslissen op verzoek art. 10", "request-read": "verzoeken lezen",
    "identify": "identiteit en verklaringen vastleggen", "logbook-read": "logboeken lezen",
    "logbook-verify": "logboeken controleren", "config": "configuratie", "users": "accounts",
    "delegate": "aanwijzen", "scan-attach": "scan toevoegen", "export": "exporteren (art. 9)",
    "decision-open": "vraag buiten de regeling voorleggen (art. 12)",
    "decision-read": "vragen buiten de regeling lezen (art. 12)",
    "advise-privacy-officer": "adviseren als privacy officer (art. 12)",
    "advise-fg": "adviseren als functionaris gegevensbescherming (art. 12)",
    "decision-take": "besluiten buiten de regeling (art. 12)",
    "decision-record-for": "besluit vastleggen namens de gemeentesecretaris/algemeen directeur "
                           "(art. 12)",
    # what a lawyer acts for (art. 10 lid 2) and who advises (art. 12)
    "defence-of-suspect": "verdediging van een verdachte", "victim": "slachtoffer",
    "civil-claim": "civiele vordering",
    "fg": "functionaris gegevensbescherming",
    # why a segment was refused (governance/viewing.py)
    "outside the window": "buiten de camera of het tijdvak van het verzoek",
}
# The alarms the store keeps in its index (every process sees them), for the system page and
# the report.
ALARMS: dict[str, str] = {
    "wal-not-purged": "gewiste sleutels staan mogelijk nog in index.sqlite3-wal: een lezer houdt "
                      "een oude momentopname open; de recorder probeert het elke minuut opnieuw",
    "storage-full": "de schijf is vol en alle beelden die er nog staan worden vastgehouden: het "
                    "opnemen is gestopt (R-42); hef een vasthouding op of maak ruimte",
    "clock-ahead": "de klok loopt meer dan een dag voor op de laatste opname en is niet "
                   "gesynchroniseerd: er wordt gewist naar de tijd van de index, niet naar deze "
                   "klok (R-40); synchroniseer de klok",
    "clock-behind": "de klok loopt achter op de laatste opname: de recorder neemt op, maar "
                    "wissen gaat naar de tijd van de index (R-40); synchroniseer de klok",
}
# Internal ids a person never reads (issue 10, documents: "no internal ids"): a segment is shown
# as its camera (by name and location) and its start and end with the zone, which its entries
# carry beside the id (governance/viewing.py); the id stays in the stored entry, hashed into the
# chain, for `nvr logbook verify` and the auditor's hash column.
INTERNAL_KEYS = frozenset({"segment"})
SEGMENT_SUBJECT = "opname (camera en tijden bij de details)"
# A segment named by id alone (a refused request for a segment outside a window): no camera or
# time is known to show, and the id is not shown either.
UNKNOWN_SEGMENT = "een gevraagde opname (camera en tijden niet vastgelegd)"
SUBJECTS: dict[str, str] = {
    "request": "verzoek", "hold": "bewaaropdracht", "visit": "bezoek",
    "delegation": "aanwijzing", "camera": "camera", "export": "export", "scan": "scan",
    "decision": "vraag buiten de regeling (art. 12)", "segment": "opname",
}


def actor_text(actor: str) -> str:
    """An account's name as it is; the device's own writers in words."""
    return ACTORS.get(actor, actor)


def action_text(action: str) -> str:
    """The Dutch wording of a logbook action; an action without one shows its id, marked, so
    nothing is lost (the test keeps that from happening)."""
    return ACTIONS.get(action, f"{action} (geen Nederlandse omschrijving)")


def moment(t: object, tz: tzinfo | str = "Europe/Amsterdam", seconds: bool = True) -> str:
    """A stored time as a person reads it: '29-11-2026 14:05:07 (CET)'; never raises."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return when(t, zone, "%d-%m-%Y %H:%M:%S (%Z)" if seconds else "%d-%m-%Y %H:%M (%Z)")


def device_label(cfg) -> str:
    """The device as people know it: its name with its id, or its id alone."""
    return f"{cfg.device.name} ({cfg.device.id})" if cfg.device.name else cfg.device.id


class Names:
    """Cameras by name and location, for subjects and details (never a bare id)."""

    def __init__(self, cameras: Mapping[str, str] | None = None,
                 tz: tzinfo | str = "Europe/Amsterdam"):
        self.cameras = dict(cameras or {})
        self.tz = tz

    @classmethod
    def of(cls, cfg) -> "Names":
        return cls({c.id: f"{c.name} ({c.location})" for c in cfg.cameras},
                   cfg.device.timezone)

    def camera(self, camera_id: object) -> str:
        if camera_id is None:
            return "-"
        return self.cameras.get(str(camera_id), str(camera_id))

    def subject(self, subject: str) -> str:
        """'request 3' -> 'verzoek 3', 'camera cam' -> 'camera Hal (Gemeentehuis, hal)'; an
        action id as subject (a refused action) -> its wording."""
        kind, _, rest = (subject or "").partition(" ")
        if kind == "segment" and rest:      # an internal id: the details name camera and times
            return SEGMENT_SUBJECT
        if kind == "request" and re.fullmatch(r"\d+:.*", rest, re.S):   # a hold's reference
            return f"verzoek {rest}"
        if kind == "camera" and rest:
            return f"camera {self.camera(rest)}"
        if kind in SUBJECTS and rest:
            return f"{SUBJECTS[kind]} {rest}"
        return VALUES.get(subject, ACTIONS.get(subject, subject or ""))

    def value(self, key: str, value: object) -> str:
        if key in TIME_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return moment(value, self.tz)
        if key in ("camera", "camera_id"):
            return self.camera(value)
        if key == "cameras" and isinstance(value, list):
            return ", ".join(self.camera(v) for v in value)
        if isinstance(value, bool):
            return "ja" if value else "nee"
        if value is None:
            return "-"
        if isinstance(value, list):
            return ", ".join(self.value(key, v) for v in value)
        if isinstance(value, dict):
            return "(" + self.details(value) + ")"
        return VALUES.get(str(value), str(value)) if key in CODE_KEYS else str(value)

    def details(self, details: Mapping | str | None) -> str:
        """The details of an entry as 'sleutel: waarde; ...' in Dutch, every key shown."""
        if isinstance(details, str):
            try:
                details = json.loads(details) if details else {}
            except ValueError:
                return details
        if not isinstance(details, Mapping):
            return "" if details is None else str(details)
        keys = sorted((k for k in details if k not in INTERNAL_KEYS),
                      key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
        shown = [f"{DETAIL_KEYS.get(k, k)}: {self.value(k, details[k])}" for k in keys]
        if "segment" in details and not {"camera", "start"} <= set(details):
            shown.append(f"{DETAIL_KEYS['segment']}: {UNKNOWN_SEGMENT}")
        return "; ".join(shown)
