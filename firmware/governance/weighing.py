"""The weighing of others in view in an art. 10 decision (toelichting art. 10, R-73, R-74).

"In principe kunnen alleen de beelden van de betrokkene zelf worden ingezien. Als er anderen op
de beelden staan, wordt er gekeken of het belang van de aanvrager opweegt tegen de privacy van
anderen." The manager bedrijfsvoering records that weighing with the decision; an approval
needs it, a refusal may give it. It lives in its own table, so a device whose requests table
predates it needs no migration: the table is made when first used.

With the weighing the decision fixes the blurring the inzage must show (toelichting art. 10,
art. 10 lid 4): `BLUR_CHOICES`, kept in the column `blur`. A table from before that column gets
it by `_schema` (ALTER TABLE, idempotent), its decisions reading "none" as they were taken.
governance.viewing refuses to serve a segment with less blurring than the decision requires.
"""

from __future__ import annotations

import sqlite3
import time

from firmware.governance.access import visible_length
from firmware.governance.logbook import Logbook
from firmware.i18n import _

MIN_WEIGHING = 10
SCHEMA = """
CREATE TABLE IF NOT EXISTS request_weighings (
    request_id  INTEGER PRIMARY KEY REFERENCES requests(id),
    weighing    TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    blur        TEXT NOT NULL DEFAULT 'none'
)"""

# The blurring a decision requires of the inzage (toelichting art. 10): the ids are those of
# the player's query (`detect=1`, `regions=...`), the labels what people read.
MIN_REGION = 0.02                    # a drawn region counts from 2% of the frame a side
BLUR_CHOICES = {
    "none": "geen vervaging (er staan geen anderen herkenbaar in beeld)",
    "detect": "personen vervagen (automatische detectie)",
    "regions": "getekende gebieden vervagen (ten minste één gebied)",
}


def _schema(db: sqlite3.Connection) -> None:
    """Make the table, and give a table from before the blurring its `blur` column."""
    db.execute(SCHEMA)
    columns = {r[1] for r in db.execute("PRAGMA table_info(request_weighings)")}
    if "blur" not in columns:
        db.execute("ALTER TABLE request_weighings ADD COLUMN blur TEXT NOT NULL "
                   "DEFAULT 'none'")


def check_blur(blur: str | None, error: type[Exception]) -> str:
    """The blurring id a decision asks for ('none' when not given); anything else raises."""
    choice = (blur or "none").strip()
    if choice not in BLUR_CHOICES:
        raise error(_("the blurring must be one of %(choices)s, not %(given)s (toelichting "
                      "artikel 10)", choices=", ".join(BLUR_CHOICES), given=repr(choice)))
    return choice


def blur_label(choice: str) -> str:
    """The Dutch words for blurring id `choice`."""
    return BLUR_CHOICES.get(choice, choice)


def satisfies(required: str, detect: bool, regions: list) -> bool:
    """Does the blurring of a showing (detect, drawn regions) give at least what the decision
    requires? 'detect' needs the detection on, 'regions' at least one drawn region."""
    if required == "detect":
        return bool(detect)
    if required == "regions":            # a speck in a corner blurs no one: a region counts
        return any(float(r[2]) >= MIN_REGION and float(r[3]) >= MIN_REGION  # from 2% a side
                   for r in regions)
    return True


def check(approve: bool, weighing: str | None, error: type[Exception]) -> str:
    """The weighing text to record ('' for none); an approval without one raises `error`."""
    text = (weighing or "").strip()
    if approve and visible_length(text) < MIN_WEIGHING:
        raise error(_(
            "an approval needs the weighing of others in view: are there others in the "
            "footage, and does the requester's interest outweigh their privacy (toelichting "
            "artikel 10)? Write that weighing down, at least %(count)s characters "
            "(R-73, R-74)", count=MIN_WEIGHING))
    return text


def record(db: sqlite3.Connection, logbook: Logbook, actor: str, req_id: int,
           weighing: str, blur: str = "none") -> None:
    """Keep the weighing and the blurring it requires with the decision and put them in the
    Logboek Inzien Beeldmateriaal (art. 10 lid 6)."""
    if not weighing and blur == "none":
        return
    _schema(db)
    db.execute("INSERT OR REPLACE INTO request_weighings (request_id, weighing, recorded_by, "
               "recorded_at, blur) VALUES (?, ?, ?, ?, ?)",
               (req_id, weighing, actor, time.time(), blur))
    logbook.append("inzien", actor, "request-weighing", subject=f"request {req_id}",
                   reason=weighing, details={"required_blur": blur})


def blur_of(db: sqlite3.Connection, req_id: int) -> str:
    """The blurring the decision on request `req_id` requires ('none' if it fixed none)."""
    _schema(db)
    row = db.execute("SELECT blur FROM request_weighings WHERE request_id = ?",
                     (req_id,)).fetchone()
    return row[0] if row else "none"


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
