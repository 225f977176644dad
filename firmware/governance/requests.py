"""Requests for footage: article 9 (police, prosecutor) and article 10 (others).

- Art. 9 (R-60): the beheerder registers the written request (reference, requester, legal basis
  126nd or 126nda Sv, camera, window) before any export.
- Art. 10 (R-70..R-74): the privacy officer takes in a written, motivated request; a lawyer may
  only ask through the prosecutor (R-71); the manager bedrijfsvoering decides by the end of the
  second Dutch working day after receipt (R-72), and overdue requests are flagged; an approved
  requester is identified in person and signs a declaration before viewing (R-73).
- Every request holds its footage while it is handled (R-41); deciding against it, or closing
  it, releases the hold. Everything is written to the Logboek Inzien Beeldmateriaal (R-51, R-74).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from firmware.governance import bounds
from firmware.governance import weighing as weighings
from firmware.governance.access import require, visible_length
from firmware.governance.logbook import Logbook
from firmware.governance.roles import Action, Actor
from firmware.storage.holds import add_hold, release_hold
from firmware.storage.store import EncryptedStore

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LEGAL_BASES = ("126nd", "126nda")
REQUESTER_KINDS = ("citizen", "company", "insurer", "lawyer", "other")
WORKING_DAYS_TO_DECIDE = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id              INTEGER PRIMARY KEY,
    article         INTEGER NOT NULL CHECK (article IN (9, 10)),
    reference       TEXT NOT NULL,
    requester       TEXT NOT NULL,
    requester_kind  TEXT NOT NULL,
    legal_basis     TEXT,
    motivation      TEXT,
    camera_id       TEXT NOT NULL,
    start           REAL NOT NULL,
    end             REAL NOT NULL,
    received        REAL NOT NULL,
    decision_due    REAL,
    status          TEXT NOT NULL,     -- registered | open | approved | refused | closed
    decided_by      TEXT,
    decided_at      REAL,
    decision_reason TEXT,
    identity_checked_by TEXT,
    identity_method TEXT,
    declaration_signed_by TEXT,
    declaration_at  REAL,
    hold_id         INTEGER,
    created_by      TEXT NOT NULL,
    created         REAL NOT NULL
);
"""


class RequestError(Exception):
    """A refused request operation; the message names the rule."""


def _closed_days(year: int) -> set[date]:
    """Days that do not count as working days besides weekends.

    The feast days of the Algemene termijnenwet (art. 3): New Year, Easter Monday, King's Day,
    Liberation Day (5 May, every year), Ascension, Whit Monday, Christmas and Boxing Day. The
    movable feasts come from the `holidays` package; its Good Friday is not one of them.
    """
    days = {d for d, name in holidays.country_holidays("NL", years=[year]).items()
            if name != "Good Friday"}
    days.add(date(year, 5, 5))
    return days


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in _closed_days(d.year)


def decision_due(received: datetime) -> datetime:
    """The end of the second Dutch working day after the day of receipt (R-72)."""
    d = received.astimezone(AMSTERDAM).date()
    counted = 0
    while counted < WORKING_DAYS_TO_DECIDE:
        d += timedelta(days=1)
        if is_working_day(d):
            counted += 1
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=AMSTERDAM)


@dataclass
class Requests:
    db: sqlite3.Connection
    logbook: Logbook
    store: EncryptedStore
    clock: Callable[[], float] = time.time     # what "now" is for the bounds (tests set it)

    def __post_init__(self):
        self.db.executescript(SCHEMA)

    def _require(self, actor: Actor, action: Action) -> None:
        require(self.logbook, actor, action, RequestError)

    def _window(self, camera: str, start: float, end: float) -> None:
        """The window holds footage that can exist (bounds: retention period or a hold)."""
        bounds.footage_window(self.db, camera, start, end, now=self.clock(), error=RequestError,
                              retention_days=self.store.retention / bounds.DAY)

    def _hold(self, req_id: int, camera: str, start: float, end: float, reason: str,
              reference: str) -> int:
        hold = add_hold(self.store, camera, start, end, reason, f"request {req_id}: {reference}")
        self.db.execute("UPDATE requests SET hold_id = ? WHERE id = ?", (hold["id"], req_id))
        return hold["id"]

    def _release(self, row) -> None:
        """Release the request's hold, unless someone released it by hand already."""
        if row["hold_id"] is None:
            return
        hold = self.db.execute("SELECT released FROM holds WHERE id = ?",
                               (row["hold_id"],)).fetchone()
        if hold is not None and hold["released"] is None:
            release_hold(self.store, row["hold_id"])

    def _insert(self, actor: Actor, **fields) -> int:
        fields.update(created_by=actor.name, created=time.time())
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur = self.db.execute(f"INSERT INTO requests ({cols}) VALUES ({marks})",
                              tuple(fields.values()))
        return cur.lastrowid

    def add_article9(self, actor: Actor, *, reference: str, requester: str, legal_basis: str,
                     camera: str, start: float, end: float,
                     received: float | None = None) -> dict:
        """R-60: the written request of police or prosecutor, registered by the beheerder."""
        self._require(actor, Action.REQUEST_ART9)
        if legal_basis not in LEGAL_BASES:
            raise RequestError(f"legal basis must be art. 126nd or 126nda Sv, not {legal_basis!r}")
        if not visible_length(reference) or not visible_length(requester):
            raise RequestError("an art. 9 request needs the written request's reference and "
                               "the requester (R-60)")
        self._window(camera, start, end)
        if received is not None:
            bounds.received_date(received, now=self.clock(), error=RequestError)
        received = self.clock() if received is None else received
        req_id = self._insert(actor, article=9, reference=reference, requester=requester,
                              requester_kind="police-or-prosecutor", legal_basis=legal_basis,
                              camera_id=camera, start=start, end=end, received=received,
                              status="registered")
        self._hold(req_id, camera, start, end, f"art. 9 request {reference}", reference)
        self.logbook.append("inzien", actor.name, "request-art9-registered",
                            subject=f"request {req_id}", reason=reference,
                            details={"requester": requester, "legal_basis": legal_basis,
                                     "camera": camera, "start": start, "end": end})
        return self.show(req_id)

    def add_article10(self, actor: Actor, *, requester: str, requester_kind: str,
                      motivation: str, received: float, camera: str, start: float,
                      end: float, reference: str = "") -> dict:
        """R-70: a written, motivated request taken in by the privacy officer."""
        self._require(actor, Action.REQUEST_INTAKE)
        if requester_kind == "lawyer":
            self.logbook.append("inzien", actor.name, "request-art10-refused-at-intake",
                                subject=requester, reason="lawyer (R-71)")
            raise RequestError("a lawyer may only request footage through the public "
                               "prosecutor (art. 9), not under art. 10 (R-71)")
        if requester_kind not in REQUESTER_KINDS:
            raise RequestError(f"requester kind must be one of {', '.join(REQUESTER_KINDS)}")
        if visible_length(motivation) < 10 or not visible_length(requester):
            raise RequestError("an art. 10 request needs the requester and their motivation, "
                               "at least 10 visible characters (R-70)")
        self._window(camera, start, end)
        bounds.received_date(received, now=self.clock(), error=RequestError)
        due = decision_due(datetime.fromtimestamp(received, AMSTERDAM)).timestamp()
        req_id = self._insert(actor, article=10, reference=reference or "", requester=requester,
                              requester_kind=requester_kind, motivation=motivation,
                              camera_id=camera, start=start, end=end, received=received,
                              decision_due=due, status="open")
        self._hold(req_id, camera, start, end, f"art. 10 request of {requester}",
                   reference or requester)
        self.logbook.append("inzien", actor.name, "request-art10-intake",
                            subject=f"request {req_id}", reason=motivation,
                            details={"requester": requester, "kind": requester_kind,
                                     "camera": camera, "due": due})
        return self.show(req_id)

    def decide(self, actor: Actor, req_id: int, *, approve: bool, reason: str,
               weighing: str | None = None) -> dict:
        """R-72: the manager bedrijfsvoering approves or refuses; refusal releases the hold.
        `weighing`: others in view against the requester's interest (toelichting art. 10),
        needed for an approval (governance.weighing)."""
        self._require(actor, Action.REQUEST_DECIDE)
        row = self._row(req_id)
        if row["article"] != 10 or row["status"] != "open":
            raise RequestError(f"request {req_id} is not an open art. 10 request "
                               f"(status {row['status']})")
        if visible_length(reason) < 5:
            raise RequestError("a decision needs its reasons, at least 5 visible characters "
                               "(R-74)")
        weighing = weighings.check(approve, weighing, RequestError)
        status = "approved" if approve else "refused"
        now = time.time()
        self.db.execute("UPDATE requests SET status = ?, decided_by = ?, decided_at = ?, "
                        "decision_reason = ? WHERE id = ?",
                        (status, actor.name, now, reason, req_id))
        weighings.record(self.db, self.logbook, actor.name, req_id, weighing)
        if not approve:
            self._release(row)
        late = row["decision_due"] is not None and now > row["decision_due"]
        self.logbook.append("inzien", actor.name, f"request-{status}",
                            subject=f"request {req_id}", reason=reason,
                            details={"late": late})
        return self.show(req_id)

    def record_identity(self, actor: Actor, req_id: int, method: str) -> dict:
        """R-73: the approved requester identified in person to the beheerder."""
        self._require(actor, Action.IDENTIFY)
        row = self._row(req_id)
        if row["status"] != "approved":
            raise RequestError(f"request {req_id} is {row['status']}: identity is checked only "
                               "for an approved request")
        if not visible_length(method):
            raise RequestError("say how the identity was checked, e.g. passport seen (R-73)")
        self.db.execute("UPDATE requests SET identity_checked_by = ?, identity_method = ? "
                        "WHERE id = ?", (actor.name, method, req_id))
        self.logbook.append("inzien", actor.name, "identity-checked",
                            subject=f"request {req_id}", reason=method)
        return self.show(req_id)

    def record_declaration(self, actor: Actor, req_id: int, signed_by: str) -> dict:
        """R-73, R-62: the requester signed the declaration of careful use."""
        self._require(actor, Action.IDENTIFY)
        row = self._row(req_id)
        if row["article"] == 10 and row["identity_checked_by"] is None:
            raise RequestError("check the requester's identity before the declaration (R-73)")
        if not visible_length(signed_by):
            raise RequestError("name who signed the declaration (R-62, R-73)")
        self.db.execute("UPDATE requests SET declaration_signed_by = ?, declaration_at = ? "
                        "WHERE id = ?", (signed_by, time.time(), req_id))
        self.logbook.append("inzien", actor.name, "declaration-signed",
                            subject=f"request {req_id}", reason=signed_by)
        return self.show(req_id)

    def authorize_export(self, actor: Actor, req_id: int, camera: str, start: float,
                         end: float) -> dict:
        """R-60: an export to police or prosecutor needs a registered art. 9 request that covers
        the camera and window; the exporter needs the export permission. Logged (R-51)."""
        require(self.logbook, actor, Action.EXPORT, RequestError, camera=camera)
        self._window(camera, start, end)
        row = self._row(req_id)
        if row["article"] != 9 or row["status"] != "registered":
            raise RequestError(f"request {req_id} is not a registered art. 9 request: exports "
                               "are made only on a written request of police or prosecutor "
                               "(R-60)")
        if camera != row["camera_id"] or start < row["start"] or end > row["end"]:
            raise RequestError(f"request {req_id} covers camera {row['camera_id']} from "
                               f"{row['start']} to {row['end']}; the export lies outside it")
        self.logbook.append("inzien", actor.name, "export-authorized",
                            subject=f"request {req_id}", reason=row["reference"],
                            details={"camera": camera, "start": start, "end": end})
        return dict(row)

    def may_view(self, req_id: int) -> tuple[bool, str]:
        """Whether footage of an art. 10 request may now be shown (R-73)."""
        row = self._row(req_id)
        if row["article"] == 10:
            if row["status"] != "approved":
                return False, f"request {req_id} is {row['status']}, not approved (R-72)"
            if row["identity_checked_by"] is None:
                return False, "the requester's identity has not been checked in person (R-73)"
            if row["declaration_signed_by"] is None:
                return False, "the requester has not signed the declaration (R-73)"
        return True, "ready"

    def close(self, actor: Actor, req_id: int, reason: str) -> dict:
        """The request is handled: its hold is released (R-41)."""
        row = self._row(req_id)
        needed = Action.REQUEST_ART9 if row["article"] == 9 else Action.REQUEST_INTAKE
        self._require(actor, needed)
        if row["status"] == "closed":
            raise RequestError(f"request {req_id} is closed already")
        if visible_length(reason) < 5:
            raise RequestError("closing a request needs its reason, at least 5 visible "
                               "characters (R-74)")
        self.db.execute("UPDATE requests SET status = 'closed' WHERE id = ?", (req_id,))
        self._release(row)
        self.logbook.append("inzien", actor.name, "request-closed", subject=f"request {req_id}",
                            reason=reason)
        return self.show(req_id)

    def _row(self, req_id: int):
        row = self.db.execute("SELECT * FROM requests WHERE id = ?", (req_id,)).fetchone()
        if row is None:
            raise RequestError(f"there is no request {req_id}")
        return row

    def show(self, req_id: int, now: float | None = None) -> dict:
        row = dict(self._row(req_id))
        row["weighing"] = weighings.of(self.db, req_id)
        now = time.time() if now is None else now
        row["overdue"] = bool(row["article"] == 10 and row["status"] == "open"
                              and row["decision_due"] is not None and now > row["decision_due"])
        return row

    def list(self, now: float | None = None) -> list[dict]:
        ids = [r["id"] for r in self.db.execute("SELECT id FROM requests ORDER BY id")]
        return [self.show(i, now) for i in ids]
