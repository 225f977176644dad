"""Handing footage over to police or prosecutor: article 9 lid 3 and 4 (R-62).

The order, kept here below the web and the CLI (`Requests.authorize_export` asks
`require_ready` before any export is written):

1. art. 9 lid 3: the officer identifies to the beheerder. The logged-in beheerder records the
   officer's name, the document type and only the last digits of its number (never the full
   number: the logbook is kept for years and names no more than needed);
2. art. 9 lid 4: the officer signs the declaration of careful use; the beheerder records it;
3. the export is written (firmware/export/service.py::make_package, the one export
   path, for the web, its API and the CLI alike);
4. the handover: date and time, the medium's label or serial, the recipient (the identified
   officer) and the issuing beheerder, in the Logboek Inzien Beeldmateriaal (R-51).

Own tables, so devices with the old `requests` table need no migration; the request's
`identity_checked_by` and `declaration_signed_by` are filled in as well, so every page, the
JSON and the report see the check.
"""

from __future__ import annotations

import re
import time

from firmware.governance.access import require, visible_length
from firmware.governance.requests import RequestError, Requests
from firmware.governance.roles import Action, Actor
from firmware.governance.wording import STATUSES
from firmware.i18n import _

SCHEMA = """
CREATE TABLE IF NOT EXISTS art9_officers (
    request_id      INTEGER PRIMARY KEY,
    officer         TEXT NOT NULL,
    document_type   TEXT NOT NULL,
    last_digits     TEXT NOT NULL,      -- at most 4 characters, never the full number
    checked_by      TEXT NOT NULL,
    checked_at      REAL NOT NULL,
    declaration_signed_by   TEXT,
    declaration_recorded_by TEXT,
    declaration_at  REAL
);
CREATE TABLE IF NOT EXISTS handovers (
    id              INTEGER PRIMARY KEY,
    export_id       INTEGER NOT NULL UNIQUE,
    request_id      INTEGER NOT NULL,
    medium          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    handed_over_by  TEXT NOT NULL,
    handed_over_at  REAL NOT NULL
);
"""

# The documents an officer of police or prosecutor identifies with (art. 9 lid 3).
DOCUMENT_TYPES = {
    "dienstpas": "dienstpas (legitimatiebewijs politie of OM)",
    "paspoort": "paspoort",
    "identiteitskaart": "identiteitskaart",
    "rijbewijs": "rijbewijs",
}
# The documents a citizen identifies with at an art. 10 inzage (art. 10 lid 4; Wet op de
# identificatieplicht art. 1).
CITIZEN_DOCUMENT_TYPES = {
    "paspoort": "paspoort",
    "identiteitskaart": "identiteitskaart",
    "rijbewijs": "rijbewijs",
    "verblijfsdocument": "verblijfsdocument",
}
MAX_NAME_DIGITS = 4                  # an officer's name and rank: no document number
LAST_DIGITS = re.compile(r"[0-9A-Za-z]{2,4}")


def check_document(document_type: str, last_digits: str, types: dict[str, str],
                   article: str) -> str:
    """The words kept for an identity document: its type from `types` and only the last 2 to
    4 characters of its number, never the full number (art. 9 lid 3, art. 10 lid 4). Raises
    RequestError naming `article` otherwise."""
    if document_type not in types:
        raise RequestError(_("the kind of proof of identity is one of %(kinds)s, not %(given)s "
                             "(%(article)s)", kinds=", ".join(types), given=repr(document_type),
                             article=article))
    last_digits = (last_digits or "").strip()
    if not LAST_DIGITS.fullmatch(last_digits):
        raise RequestError(_("give only the last characters of the document number, 2 to 4 "
                             "letters or digits, never the whole number (%(article)s)",
                             article=article))
    return f"{types[document_type]}, nummer eindigend op {last_digits}"


def _schema(db) -> None:
    db.executescript(SCHEMA)


def officer_record(db, req_id: int) -> dict | None:
    """The identity check and declaration of the officer of art. 9 request `req_id`."""
    _schema(db)
    row = db.execute("SELECT * FROM art9_officers WHERE request_id = ?", (req_id,)).fetchone()
    return None if row is None else dict(row)


def _art9(reqs: Requests, req_id: int):
    row = reqs._row(req_id)
    if row["article"] != 9 or row["status"] != "registered":
        raise RequestError(_("request %(number)s is not a registered artikel 9 request (status "
                             "%(status)s): the officer's identity and verklaring belong to a "
                             "registered request of police or prosecutor (artikel 9 lid 3-4)",
                             number=req_id, status=STATUSES.said(row['status'], row['status'])))
    return row


def record_identity(reqs: Requests, actor: Actor, req_id: int, *, officer: str,
                    document_type: str, last_digits: str) -> dict:
    """Art. 9 lid 3: the officer identified to the beheerder, who is the logged-in `actor`."""
    require(reqs.logbook, actor, Action.IDENTIFY, RequestError)
    _art9(reqs, req_id)
    if not visible_length(officer):
        raise RequestError(_("name the officer who identifies themselves (name and rank) "
                             "(artikel 9 lid 3)"))
    if sum(c.isdigit() for c in officer) > MAX_NAME_DIGITS:
        raise RequestError(_("name the officer by name and rank, without numbers: of the proof "
                             "of identity only its kind and the last 2 to 4 characters are "
                             "recorded, never the full number or a BSN (artikel 9 lid 3)"))
    last_digits = (last_digits or "").strip()
    method = check_document(document_type, last_digits, DOCUMENT_TYPES, "art. 9 lid 3")
    done = officer_record(reqs.db, req_id)
    if done and done["declaration_signed_by"]:
        raise RequestError(_("request %(number)s: the officer's identity was checked and the "
                             "verklaring signed already; another officer needs a new "
                             "registration of the request (artikel 9 lid 3-4)", number=req_id))
    now = time.time()
    reqs.db.execute(
        "INSERT OR REPLACE INTO art9_officers (request_id, officer, document_type, "
        "last_digits, checked_by, checked_at) VALUES (?, ?, ?, ?, ?, ?)",
        (req_id, officer.strip(), document_type, last_digits, actor.name, now))
    reqs.db.execute("UPDATE requests SET identity_checked_by = ?, identity_method = ? "
                    "WHERE id = ?", (actor.name, method, req_id))
    reqs.logbook.append("inzien", actor.name, "identity-checked", subject=f"request {req_id}",
                        reason=officer.strip(),
                        details={"article": "9 lid 3", "document_type": document_type,
                                 "last_digits": last_digits})
    return reqs.show(req_id)


def record_declaration(reqs: Requests, actor: Actor, req_id: int, signed_by: str) -> dict:
    """Art. 9 lid 4: the identified officer signed the declaration of careful use."""
    require(reqs.logbook, actor, Action.IDENTIFY, RequestError)
    _art9(reqs, req_id)
    record = officer_record(reqs.db, req_id)
    if record is None:
        raise RequestError(_("first record the officer's identity, only then the verklaring: on "
                             "the page of the request, or nvr request identity ID --officer ... "
                             "--document-type ... --last-digits ... (artikel 9 lid 3)"))
    if " ".join((signed_by or "").split()).casefold() != record["officer"].casefold():
        raise RequestError(_("the verklaring is signed by the officer whose identity was checked, "
                             "%(officer)s, not %(given)s (artikel 9 lid 4); check the identity "
                             "of whoever receives the footage", officer=record['officer'],
                             given=repr(signed_by)))
    now = time.time()
    reqs.db.execute("UPDATE art9_officers SET declaration_signed_by = ?, "
                    "declaration_recorded_by = ?, declaration_at = ? WHERE request_id = ?",
                    (record["officer"], actor.name, now, req_id))
    reqs.db.execute("UPDATE requests SET declaration_signed_by = ?, declaration_at = ? "
                    "WHERE id = ?", (record["officer"], now, req_id))
    reqs.logbook.append("inzien", actor.name, "declaration-signed", subject=f"request {req_id}",
                        reason=record["officer"], details={"article": "9 lid 4"})
    return reqs.show(req_id)


def require_ready(db, req_id: int) -> dict:
    """Refuse an export before the officer's identity (lid 3) and signed declaration (lid 4)
    are recorded; return the officer's record."""
    record = officer_record(db, req_id)
    if record is None:
        raise RequestError(_("request %(number)s: the recipient has not identified themselves to "
                             "the beheerder yet; record the identity first (art. 9 lid 3), then "
                             "the signed verklaring, and export after that", number=req_id))
    if not record["declaration_signed_by"]:
        raise RequestError(_("request %(number)s: %(officer)s has not signed the verklaring of "
                             "careful use yet; record it before the export (art. 9 lid 4)",
                             number=req_id, officer=record['officer']))
    return record


def handover_of(db, export_id: int) -> dict | None:
    _schema(db)
    row = db.execute("SELECT * FROM handovers WHERE export_id = ?", (export_id,)).fetchone()
    return None if row is None else dict(row)


def record_handover(reqs: Requests, actor: Actor, export: dict, medium: str) -> dict:
    """The export on its medium given to the identified officer; logged (R-51)."""
    require(reqs.logbook, actor, Action.EXPORT, RequestError, camera=export["camera_id"])
    if not visible_length(medium):
        raise RequestError(_("name the data carrier that is handed over: the label or serial "
                             "number of the USB stick (artikel 9 lid 2)"))
    if handover_of(reqs.db, export["id"]) is not None:
        raise RequestError(_("export %(number)s has been handed over already; make a new export "
                             "for a second data carrier (artikel 9 lid 2)", number=export['id']))
    status = reqs._row(export["request_id"])["status"]
    if status != "registered":
        raise RequestError(_("request %(number)s is %(status)s: footage is handed over only on a "
                             "registered artikel 9 request; a new overdracht needs a new "
                             "request (artikel 9 lid 2-4)", number=export['request_id'],
                             status=STATUSES.said(status, status)))
    record = require_ready(reqs.db, export["request_id"])
    now = time.time()
    cur = reqs.db.execute(
        "INSERT INTO handovers (export_id, request_id, medium, recipient, handed_over_by, "
        "handed_over_at) VALUES (?, ?, ?, ?, ?, ?)",
        (export["id"], export["request_id"], medium.strip(), record["officer"], actor.name, now))
    reqs.logbook.append("inzien", actor.name, "export-handed-over",
                        subject=f"request {export['request_id']}", reason=record["officer"],
                        details={"export": export["id"], "medium": medium.strip(),
                                 "recipient": record["officer"],
                                 "archive_sha256": export["archive"]["sha256"]})
    row = reqs.db.execute("SELECT * FROM handovers WHERE id = ?", (cur.lastrowid,)).fetchone()
    return dict(row)
