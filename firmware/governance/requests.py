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
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from firmware.governance import bounds, termijnen
from firmware.governance import weighing as weighings
from firmware.governance.access import require, visible_length
from firmware.governance.wording import STATUSES, VALUES, moment
from firmware.governance.logbook import Logbook
from firmware.governance.roles import Action, Actor
from firmware.governance.undo import undo_reason
from firmware.i18n import _, dutch
from firmware.storage.holds import add_hold, release_hold
from firmware.storage.store import EncryptedStore
from firmware.i18n import _

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LEGAL_BASES = ("126nd", "126nda")
REQUESTER_KINDS = ("citizen", "company", "insurer", "lawyer", "other")
# Art. 10 lid 2: what a lawyer acts for. Only the defence of a suspect goes through the
# officier van justitie (art. 9); a lawyer for anything else asks under art. 10 like anyone.
DEFENCE = "defence-of-suspect"
ACTS_FOR = (DEFENCE, "victim", "civil-claim", "other")
# Words that make a request a lawyer's, in any field of the form (accents and case ignored):
# "advocat" covers advocate, advocaten, advocatuur, advocatenkantoor; "raadsman"/"raadsvrouw"
# is the defence counsel of the Wetboek van Strafvordering (art. 28 Sv); "advokaat" a common
# misspelling.
LAWYER_WORDS = ("advocaat", "advocat", "advokaat", "lawyer", "raadsman", "raadsvrouw",
                "raadslieden")
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

# Art. 10 lid 2: what the lawyer of a request acts for (a table of its own: older devices keep
# their requests table as it is).
ACTS_FOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS request_acts_for (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    acts_for   TEXT NOT NULL
);
"""


class RequestError(Exception):
    """A refused request operation; the message names the rule."""


def decision_due(received: datetime, equated: Iterable[date] = ()) -> datetime:
    """The end of the second working day after the day of receipt (R-72, art. 10 lid 3).

    "Binnen 2 werkdagen" is read as a count of working days: the days after the day of
    receipt that are neither a Saturday, a Sunday nor a day of art. 3 Algemene termijnenwet
    (lid 1 and 2, and lid 3: the shipped decrees and `equated`, from the configuration), see
    firmware.governance.termijnen. Counting working days never ends on a closed day, so
    art. 1 Atw (a period ending on such a day runs on to the next working day) changes
    nothing here."""
    d = termijnen.working_day_after(received.astimezone(AMSTERDAM).date(),
                                    WORKING_DAYS_TO_DECIDE, equated)
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=AMSTERDAM)


def is_lawyer(*fields: str) -> bool:
    """Whether any field names a lawyer (LAWYER_WORDS: "advocaat", "raadsman", ...), whatever
    the case or accents (art. 10 lid 2)."""
    for text in fields:
        plain = "".join(c for c in unicodedata.normalize("NFKD", text or "")
                        if not unicodedata.combining(c)).casefold()
        if any(word in plain for word in LAWYER_WORDS):
            return True
    return False


@dataclass
class Requests:
    db: sqlite3.Connection
    logbook: Logbook
    store: EncryptedStore
    clock: Callable[[], float] = time.time     # what "now" is for the bounds (tests set it)
    equated_days: frozenset[date] = frozenset()    # decree days from the configuration

    def __post_init__(self):
        self.db.executescript(SCHEMA)
        self.db.executescript(ACTS_FOR_SCHEMA)

    def _require(self, actor: Actor, action: Action) -> None:
        require(self.logbook, actor, action, RequestError)

    def _window(self, camera: str, start: float, end: float) -> None:
        """The window holds footage that can exist (bounds: retention period or a hold)."""
        bounds.footage_window(self.db, camera, start, end, now=self.clock(), error=RequestError,
                              retention_days=self.store.retention / bounds.DAY)

    def _hold(self, req_id: int, camera: str, start: float, end: float, reason: str,
              reference: str) -> int:
        hold = add_hold(self.store, camera, start, end, reason,
                        dutch("request %(number)s: %(reference)s", number=req_id,
                              reference=reference))
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
            raise RequestError(_("the legal basis is art. 126nd or art. 126nda Sv, not %(given)s: "
                                 "choose the basis the written request names (artikel 9, R-60)",
                                 given=repr(legal_basis)))
        if not visible_length(reference) or not visible_length(requester):
            raise RequestError(_("an artikel 9 request names the reference of the written request "
                                 "and the requester (police or prosecutor): fill in both "
                                 "(artikel 9, R-60)"))
        self._window(camera, start, end)
        if received is not None:
            bounds.received_date(received, now=self.clock(), error=RequestError)
        received = self.clock() if received is None else received
        req_id = self._insert(actor, article=9, reference=reference, requester=requester,
                              requester_kind="police-or-prosecutor", legal_basis=legal_basis,
                              camera_id=camera, start=start, end=end, received=received,
                              status="registered")
        self._hold(req_id, camera, start, end, dutch("art. 9 request %(reference)s",
                                                    reference=reference), reference)
        self.logbook.append("inzien", actor.name, "request-art9-registered",
                            subject=f"request {req_id}", reason=reference,
                            details={"requester": requester, "legal_basis": legal_basis,
                                     "camera": camera, "start": start, "end": end})
        return self.show(req_id)

    def add_article10(self, actor: Actor, *, requester: str, requester_kind: str,
                      motivation: str, received: float, camera: str, start: float,
                      end: float, reference: str = "", acts_for: str | None = None) -> dict:
        """R-70: a written, motivated request taken in by the privacy officer. A lawyer's
        request (kind lawyer, or "advocaat" in any field) says what the lawyer acts for; the
        defence of a suspect is refused (art. 10 lid 2, R-71), anything else is taken in."""
        self._require(actor, Action.REQUEST_INTAKE)
        if requester_kind not in REQUESTER_KINDS:
            kinds = ", ".join(f"{k} ({VALUES.said(k, k)})" for k in REQUESTER_KINDS)
            raise RequestError(_("the kind of requester is one of %(kinds)s, not %(given)s "
                                 "(artikel 10 lid 1, R-70)", kinds=kinds,
                                 given=repr(requester_kind)))
        if acts_for is not None and acts_for not in ACTS_FOR:
            options = ", ".join(f"{k} ({VALUES.said(k, k)})" for k in ACTS_FOR)
            raise RequestError(_("what the lawyer acts for is one of %(options)s, not %(given)s "
                                 "(artikel 10 lid 2, R-71)", options=options, given=repr(acts_for)))
        lawyer = requester_kind == "lawyer" or is_lawyer(requester, motivation, reference)
        if lawyer and acts_for is None:
            raise RequestError(_("the request comes from a lawyer: say what the lawyer acts for "
                                 "(%(options)s); only for the defence of a suspect the request "
                                 "goes through the public prosecutor (artikel 10 lid 2, R-71)",
                                 options=", ".join(ACTS_FOR)))
        if lawyer and acts_for == DEFENCE:
            self.logbook.append("inzien", actor.name, "request-art10-refused-at-intake",
                                subject=requester, reason="advocaat voor de verdediging "
                                                          "van een verdachte: alleen via de "
                                                          "officier van justitie (art. 10 "
                                                          "lid 2, R-71)",
                                details={"kind": requester_kind, "acts_for": acts_for})
            raise RequestError(_("a lawyer acting for the defence of a suspect asks for footage only "
                                 "through the public prosecutor (artikel 9), not with an "
                                 "artikel 10 request (art. 10 lid 2, R-71)"))
        if visible_length(motivation) < 10 or not visible_length(requester):
            raise RequestError(_("an artikel 10 request names the requester and the motivation of "
                                 "the request, at least 10 visible characters: fill in both "
                                 "(artikel 10 lid 1, R-70)"))
        self._window(camera, start, end)
        bounds.received_date(received, now=self.clock(), error=RequestError)
        due = decision_due(datetime.fromtimestamp(received, AMSTERDAM),
                           self.equated_days).timestamp()
        req_id = self._insert(actor, article=10, reference=reference or "", requester=requester,
                              requester_kind=requester_kind, motivation=motivation,
                              camera_id=camera, start=start, end=end, received=received,
                              decision_due=due, status="open")
        if acts_for is not None:
            self.db.execute("INSERT INTO request_acts_for (request_id, acts_for) VALUES (?, ?)",
                            (req_id, acts_for))
        self._hold(req_id, camera, start, end, dutch("art. 10 request of %(requester)s",
                                                    requester=requester),
                   reference or requester)
        self.logbook.append("inzien", actor.name, "request-art10-intake",
                            subject=f"request {req_id}", reason=motivation,
                            details={"requester": requester, "kind": requester_kind,
                                     "camera": camera, "due": due,
                                     **({"acts_for": acts_for} if acts_for else {})})
        return self.show(req_id)

    def decide(self, actor: Actor, req_id: int, *, approve: bool, reason: str,
               weighing: str | None = None, blur: str | None = None) -> dict:
        """R-72: the manager bedrijfsvoering approves or refuses; refusal releases the hold.
        A decision after the due time is late, and stays late: `show` reads it from the
        decision's own time against the due time, and the logbook entry says so.
        `weighing`: others in view against the requester's interest (toelichting art. 10),
        needed for an approval (governance.weighing); `blur`: the blurring the inzage must
        show (weighing.BLUR_CHOICES, 'none' when not given), binding on every segment served
        (governance.viewing)."""
        self._require(actor, Action.REQUEST_DECIDE)
        row = self._row(req_id)
        if row["article"] != 10 or row["status"] != "open":
            raise RequestError(_("request %(number)s is not an open artikel 10 request (status: "
                                 "%(status)s); the manager bedrijfsvoering decides on those "
                                 "only (artikel 10 lid 3)", number=req_id,
                                 status=STATUSES.said(row['status'], row['status'])))
        if visible_length(reason) < 5:
            raise RequestError(_("a besluit needs its grounds, at least 5 visible characters "
                                 "(artikel 10 lid 6, R-74)"))
        weighing = weighings.check(approve, weighing, RequestError)
        blur = weighings.check_blur(blur, RequestError) if approve else "none"
        status = "approved" if approve else "refused"
        now = self.clock()
        decided = self.db.execute("UPDATE requests SET status = ?, decided_by = ?, "
                                  "decided_at = ?, decision_reason = ? WHERE id = ? "
                                  "AND status = 'open'",     # one decision, also at once
                                  (status, actor.name, now, reason, req_id)).rowcount
        if decided != 1:
            raise RequestError(_("request %(number)s was decided just now (status: %(status)s); "
                                 "look at the request again (artikel 10 lid 3)", number=req_id,
                                 status=STATUSES.said(self._row(req_id)['status'], '?')))
        weighings.record(self.db, self.logbook, actor.name, req_id, weighing, blur)
        if not approve:
            self._release(row)
        late = row["decision_due"] is not None and now > row["decision_due"]
        self.logbook.append("inzien", actor.name, f"request-{status}",
                            subject=f"request {req_id}", reason=reason,
                            details={"late": late})
        return self.show(req_id)

    def record_identity(self, actor: Actor, req_id: int, method: str = "", *,
                        officer: str = "", document_type: str = "",
                        last_digits: str = "") -> dict:
        """R-73, art. 10 lid 4: the approved requester identified in person to the logged-in
        beheerder, by document type and the last 2-4 characters of its number only (the
        Logboek Inzien is kept for years: no full passport number, no BSN); `method`, a free
        text, is refused. For an art. 9 request, the officer too: art. 9 lid 3, handover.py."""
        from firmware.governance import handover
        if self._row(req_id)["article"] == 9:
            return handover.record_identity(self, actor, req_id, officer=officer,
                                            document_type=document_type,
                                            last_digits=last_digits)
        self._require(actor, Action.IDENTIFY)
        row = self._row(req_id)
        if row["status"] != "approved":
            raise RequestError(_("request %(number)s is %(status)s: the identity is checked only for "
                                 "an approved request (artikel 10 lid 4)", number=req_id,
                                 status=STATUSES.said(row['status'], row['status'])))
        if row["declaration_signed_by"] is not None:
            raise RequestError(_("request %(number)s: the identity was checked and the verklaring "
                                 "signed by %(signed_by)s already; that stays recorded as it "
                                 "was given (artikel 10 lid 4-5)", number=req_id,
                                 signed_by=row['declaration_signed_by']))
        if visible_length(method):
            raise RequestError(_("record the proof of identity by its kind and the last 2 to 4 "
                                 "characters of its number (--document-type, --last-digits), not "
                                 "as free text: a full document number or BSN would stay in the "
                                 "logbook for years (artikel 10 lid 4)"))
        last_digits = (last_digits or "").strip()
        method = handover.check_document(document_type, last_digits,
                                         handover.CITIZEN_DOCUMENT_TYPES, "art. 10 lid 4")
        self.db.execute("UPDATE requests SET identity_checked_by = ?, identity_method = ? "
                        "WHERE id = ?", (actor.name, method, req_id))
        self.logbook.append("inzien", actor.name, "identity-checked",
                            subject=f"request {req_id}", reason=method,
                            details={"article": "10 lid 4", "document_type": document_type,
                                     "last_digits": last_digits})
        return self.show(req_id)

    def record_declaration(self, actor: Actor, req_id: int, signed_by: str) -> dict:
        """R-73, R-62: the requester signed the declaration of careful use (art. 9 lid 4:
        handover.py, after the officer's identity)."""
        if self._row(req_id)["article"] == 9:
            from firmware.governance import handover
            return handover.record_declaration(self, actor, req_id, signed_by)
        self._require(actor, Action.IDENTIFY)
        row = self._row(req_id)
        if row["article"] == 10 and row["identity_checked_by"] is None:
            raise RequestError(_("first check the requester's identity in person and record it, "
                                 "only then the verklaring (artikel 10 lid 4-5, R-73)"))
        if not visible_length(signed_by):
            raise RequestError(_("name who signed the verklaring (R-62, R-73)"))
        if row["article"] == 10 and row["requester_kind"] == "citizen" and \
                " ".join(signed_by.split()).casefold() != \
                " ".join(row["requester"].split()).casefold():
            raise RequestError(_("the verklaring is signed by the citizen who made the request and "
                                 "whose identity was checked, %(requester)s, not %(given)s: the "
                                 "footage is shown to that person only (artikel 10 lid 4-5, "
                                 "R-73)", requester=row['requester'], given=repr(signed_by)))
        self.db.execute("UPDATE requests SET declaration_signed_by = ?, declaration_at = ? "
                        "WHERE id = ?", (signed_by, time.time(), req_id))
        self.logbook.append("inzien", actor.name, "declaration-signed",
                            subject=f"request {req_id}", reason=signed_by)
        return self.show(req_id)

    def authorize_export(self, actor: Actor, req_id: int, camera: str, start: float,
                         end: float) -> dict:
        """R-60: an export to police or prosecutor needs a registered art. 9 request that covers
        the camera and window, the officer's identity and signed declaration (art. 9 lid 3-4,
        R-62); the exporter needs the export permission. Logged (R-51)."""
        require(self.logbook, actor, Action.EXPORT, RequestError, camera=camera)
        self._window(camera, start, end)
        row = self._row(req_id)
        if row["article"] != 9 or row["status"] != "registered":
            raise RequestError(_("request %(number)s is not a registered artikel 9 request (status "
                                 "%(status)s): footage is exported only on a written request of "
                                 "police or prosecutor; register that request first "
                                 "(artikel 9, R-60)", number=req_id,
                                 status=STATUSES.said(row['status'], row['status'])))
        if camera != row["camera_id"] or start < row["start"] or end > row["end"]:
            raise RequestError(_("request %(number)s is about camera %(camera)s from %(start)s to "
                                 "%(end)s; the export falls outside that window: export within "
                                 "the window of the request (artikel 9, R-60)", number=req_id,
                                 camera=row['camera_id'], start=moment(row['start'], AMSTERDAM),
                                 end=moment(row['end'], AMSTERDAM)))
        from firmware.governance.handover import require_ready
        require_ready(self.db, req_id)                      # art. 9 lid 3-4
        self.logbook.append("inzien", actor.name, "export-authorized",
                            subject=f"request {req_id}", reason=row["reference"],
                            details={"camera": camera, "start": start, "end": end})
        return dict(row)

    def may_view(self, req_id: int) -> tuple[bool, str]:
        """Whether footage of an art. 10 request may now be shown (R-73)."""
        row = self._row(req_id)
        if row["article"] == 10:
            if row["status"] != "approved":
                status = STATUSES.said(row["status"], row["status"])
                return False, _("request %(number)s is %(status)s, not approved: footage is "
                                "shown only once the manager bedrijfsvoering has approved it "
                                "(artikel 10 lid 3, R-72)", number=req_id, status=status)
            if row["identity_checked_by"] is None:
                return False, _("the requester's identity has not been checked in person yet: "
                                "record it first (artikel 10 lid 4, R-73)")
            if row["declaration_signed_by"] is None:
                return False, _("the requester has not signed the verklaring yet: record it first "
                                "(artikel 10 lid 5, R-73)")
        return True, "ready"

    def close(self, actor: Actor, req_id: int, reason: str) -> dict:
        """The request is handled: its hold is released (R-41)."""
        row = self._row(req_id)
        needed = Action.REQUEST_ART9 if row["article"] == 9 else Action.REQUEST_INTAKE
        self._require(actor, needed)
        if row["status"] == "closed":
            raise RequestError(_("request %(number)s is closed already", number=req_id))
        reason = undo_reason(reason, RequestError, _("Closing a request (R-74)"))
        if not self.db.execute("UPDATE requests SET status = 'closed' WHERE id = ? AND "
                               "status != 'closed'", (req_id,)).rowcount:
            # closed a moment ago (a second tab, another beheerder): once, logged once
            raise RequestError(_("request %(number)s is closed already", number=req_id))
        self._release(row)
        self.logbook.append("inzien", actor.name, "request-closed", subject=f"request {req_id}",
                            reason=reason)
        return self.show(req_id)

    def open_request_of_hold(self, hold_id: int) -> int | None:
        """The request, not yet closed, whose footage hold `hold_id` keeps (R-41, R-74)."""
        row = self.db.execute("SELECT id FROM requests WHERE hold_id = ? AND status != 'closed'",
                              (hold_id,)).fetchone()
        return None if row is None else row["id"]

    def _row(self, req_id: int):
        row = self.db.execute("SELECT * FROM requests WHERE id = ?", (req_id,)).fetchone()
        if row is None:
            raise RequestError(_("there is no request %(number)s: see the list of requests",
                                 number=req_id))
        return row

    def show(self, req_id: int, now: float | None = None) -> dict:
        row = dict(self._row(req_id))
        row["weighing"] = weighings.of(self.db, req_id)
        row["blur"] = weighings.blur_of(self.db, req_id)
        row["blur_label"] = weighings.blur_label(row["blur"])
        now = time.time() if now is None else now
        due = row["decision_due"]
        row["overdue"] = bool(row["article"] == 10 and row["status"] == "open"
                              and due is not None and now > due)
        # decided after the due time is late for good, however it is shown later.
        row["decided_late"] = bool(row["article"] == 10 and row["decided_at"] is not None
                                   and due is not None and row["decided_at"] > due)
        found = self.db.execute("SELECT acts_for FROM request_acts_for WHERE request_id = ?",
                                (req_id,)).fetchone()
        row["acts_for"] = found["acts_for"] if found else None
        return row

    def list(self, now: float | None = None) -> list[dict]:
        ids = [r["id"] for r in self.db.execute("SELECT id FROM requests ORDER BY id")]
        return [self.show(i, now) for i in ids]
