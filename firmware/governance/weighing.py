"""The weighing of others in view in an art. 10 decision (toelichting art. 10, R-73, R-74).

"In principe kunnen alleen de beelden van de betrokkene zelf worden ingezien. Als er anderen op
de beelden staan, wordt er gekeken of het belang van de aanvrager opweegt tegen de privacy van
anderen." The manager bedrijfsvoering records that weighing with the decision; an approval
needs it, a refusal may give it. It lives in its own table, so a device whose requests table
predates it needs no migration: the table is made when first used.
"""

from __future__ import annotations

import sqlite3
import time

from firmware.governance.access import visible_length
from firmware.governance.logbook import Logbook

MIN_WEIGHING = 10
SCHEMA = """
CREATE TABLE IF NOT EXISTS request_weighings (
    request_id  INTEGER PRIMARY KEY REFERENCES requests(id),
    weighing    TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at REAL NOT NULL
)"""


def check(approve: bool, weighing: str | None, error: type[Exception]) -> str:
    """The weighing text to record ('' for none); an approval without one raises `error`."""
    text = (weighing or "").strip()
    if approve and visible_length(text) < MIN_WEIGHING:
        raise error(
            "een toewijzing vraagt de afweging van anderen in beeld: staan er anderen op de "
            "beelden, en weegt het belang van de aanvrager op tegen hun privacy (toelichting "
            f"artikel 10)? Schrijf die afweging op, ten minste {MIN_WEIGHING} tekens "
            "(R-73, R-74)")
    return text


def record(db: sqlite3.Connection, logbook: Logbook, actor: str, req_id: int,
           weighing: str) -> None:
    """Keep the weighing with the decision and put it in the Logboek Inzien Beeldmateriaal
    (art. 10 lid 6)."""
    if not weighing:
        return
    db.execute(SCHEMA)
    db.execute("INSERT OR REPLACE INTO request_weighings VALUES (?, ?, ?, ?)",
               (req_id, weighing, actor, time.time()))
    logbook.append("inzien", actor, "request-weighing", subject=f"request {req_id}",
                   reason=weighing)


def of(db: sqlite3.Connection, req_id: int) -> str | None:
    """The recorded weighing of request `req_id`, or None."""
    try:
        row = db.execute("SELECT weighing FROM request_weighings WHERE request_id = ?",
                         (req_id,)).fetchone()
    except sqlite3.OperationalError as exc:       # a database from before this table
        if "no such table" in str(exc):
            return None
        raise
    return row[0] if row else None
