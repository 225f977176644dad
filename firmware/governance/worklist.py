"""What waits for each role (issue 11 item 5): the home page and `nvr work` show it.

One function per role lists that role's work, from the same tables the rules keep (plain SQL
over the index): the next step of every open request (`next_step`, one place for the order of
art. 9 lid 2-4 and art. 10 lid 3-5), art. 12 questions awaiting advice or a decision, holds
whose footage is about to pass the retention period, storage alarms and the recorder's state
(`system.readiness`), accounts awaiting approval. Overdue work comes first (R-72), then by due
time.

A role's list holds only what R-11 lets that role read: the technisch beheerder gets the
system's state and account names, never a request, a requester's name or footage; a designee
and a visit get nothing here (their rights are footage only). Every item links to the page
where the work is done.

"A hold about to lapse": a hold never ends by itself (it lasts until its request is handled,
art. 7 lid 1), but its footage passes the retention period (28 days) on a known day; from then
on only the hold keeps it, and releasing the hold erases it at once. The beheerder sees a hold
NOTICE_DAYS before that day, to check that it is still needed and tied to a request.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import tzinfo

from firmware.capture.tamper_kinds import is_tamper
from firmware.export.service import SCHEMA as EXPORT_SCHEMA
from firmware.governance.bounds import when
from firmware.governance.handover import SCHEMA as HANDOVER_SCHEMA
from firmware.governance.requests import ACTS_FOR_SCHEMA, SCHEMA as REQUEST_SCHEMA
from firmware.governance.roles import Actor, Role
from firmware.governance.wording import ALARMS, ROLES
from firmware.i18n import _
from firmware.system.readiness import Readiness

NOTICE_DAYS = 3
CLOCK_MAX_AGE = 30.0         # seconds: the work list may show a clock state this old
# The roles whose list shows the recorder and the clock: only they need `Desk.readiness`.
SYSTEM_ROLES = frozenset({Role.BEHEERDER, Role.TECHNICAL})
TIME_FORMAT = "%d-%m-%Y %H:%M (%Z)"
DAY = 86400


@dataclass(frozen=True)
class Item:
    """One piece of work: `kind` and `subject` are stable (API, tests), `text` is for the
    reader, `link` the page where it is done."""

    kind: str
    subject: str
    text: str
    link: str
    due: float | None = None
    overdue: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """The next step of an open request and the role that takes it."""

    request: int
    article: int
    requester: str
    kind: str
    role: Role
    text: str
    link: str
    due: float | None = None
    overdue: bool = False

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role.value, self.role.value)


@dataclass
class Desk:
    """What the lists are computed from: the index, the store's retention, the device's time
    zone, now, and (for the system items) the device's readiness."""

    db: sqlite3.Connection
    retention: float                 # seconds
    tz: tzinfo
    now: float
    readiness: Readiness | None = None
    steps: list[Step] | None = field(default=None, repr=False)     # computed once

    def when(self, t: float | None) -> str:
        return when(t, self.tz, TIME_FORMAT)


def desk_for(actor: Actor, cfg, store, db: sqlite3.Connection,
             now: float | None = None) -> Desk:
    """The desk of `actor` on this device (web and CLI alike); the recorder and the clock are
    asked only for the roles that see them (SYSTEM_ROLES)."""
    from zoneinfo import ZoneInfo

    from firmware.system.readiness import readiness
    ready = None
    if actor.visit is None and actor.role in SYSTEM_ROLES:
        ready = readiness(cfg, store, clock_max_age=CLOCK_MAX_AGE)
    return Desk(db, store.retention, ZoneInfo(cfg.device.timezone),
                time.time() if now is None else now, ready)


# --- requests ----------------------------------------------------------------------------------

def _open_requests(desk: Desk) -> list[sqlite3.Row]:
    desk.db.executescript(REQUEST_SCHEMA + ACTS_FOR_SCHEMA + HANDOVER_SCHEMA
                          + EXPORT_SCHEMA)      # tables made on first use (a new device)
    return desk.db.execute(
        "SELECT r.id, r.article, r.reference, r.requester, r.status, r.decision_due, "
        "r.identity_checked_by, r.declaration_signed_by, o.officer, "
        "o.declaration_signed_by AS officer_signed, "
        "(SELECT count(*) FROM exports e WHERE e.request_id = r.id) AS exports, "
        "(SELECT count(*) FROM handovers h WHERE h.request_id = r.id) AS handovers "
        "FROM requests r LEFT JOIN art9_officers o ON o.request_id = r.id "
        "WHERE r.status != 'closed' ORDER BY r.id").fetchall()


def _art9_step(row, link: str) -> tuple[str, Role, str, str]:
    requester, officer = row["requester"], row["officer"] or ""
    if row["status"] != "registered":
        return ("close", Role.BEHEERDER, _("Close the request of %(requester)s",
                                            requester=requester), link)
    if not officer:
        return ("identity", Role.BEHEERDER,
                _("Check the identity of the officer of %(requester)s, reference "
                  "%(reference)s (art. 9 lid 3)", requester=requester,
                  reference=row["reference"]), link)
    if not row["officer_signed"]:
        return ("declaration", Role.BEHEERDER,
                _("Record the declaration signed by %(officer)s (art. 9 lid 4)",
                  officer=officer), link)
    if not row["exports"]:
        return ("export", Role.BEHEERDER,
                _("Make the export for %(requester)s onto a secured USB stick (art. 9 lid 2)",
                  requester=requester), "/exports")
    if row["handovers"] < row["exports"]:
        return ("handover", Role.BEHEERDER,
                _("Hand the USB stick over to %(officer)s and record the handover "
                  "(art. 9 lid 2)", officer=officer), "/exports")
    return ("close", Role.BEHEERDER,
            _("The footage has been handed over: close the request of %(requester)s, which "
              "releases its hold (art. 7 lid 1)", requester=requester), link)


def _art10_step(row, link: str, due: str, overdue: bool) -> tuple[str, Role, str, str]:
    requester = row["requester"]
    if row["status"] == "open":
        text = (_("Decide now on the request of %(requester)s: the decision was due %(due)s "
                  "(art. 10 lid 3, R-72)", requester=requester, due=due) if overdue else
                _("Decide on the request of %(requester)s by %(due)s (art. 10 lid 3)",
                  requester=requester, due=due))
        return "decide", Role.MANAGER, text, link
    if row["status"] == "refused":
        return ("close", Role.PRIVACY_OFFICER,
                _("Send %(requester)s the decision letter and close the refused request "
                  "(art. 10 lid 3)", requester=requester), link)
    if not row["identity_checked_by"]:
        return ("identity", Role.BEHEERDER,
                _("Check in person the identity of %(requester)s, whose request was approved "
                  "(art. 10 lid 4)", requester=requester), link)
    if not row["declaration_signed_by"]:
        return ("declaration", Role.BEHEERDER,
                _("Record the declaration signed by %(requester)s before the inzage "
                  "(art. 10 lid 5)", requester=requester), link)
    return ("inzage", Role.BEHEERDER,
            _("Show %(requester)s the footage (inzage); the privacy officer then closes the "
              "request", requester=requester), f"{link}/inzage")


def next_step(row, desk: Desk) -> Step:
    """The next step of open request `row` (a row of `_open_requests`), and whose it is."""
    link = f"/requests/{row['id']}"
    due = row["decision_due"] if row["article"] == 10 and row["status"] == "open" else None
    overdue = due is not None and desk.now > due
    if row["article"] == 9:
        kind, role, text, link = _art9_step(row, link)
    else:
        kind, role, text, link = _art10_step(row, link, desk.when(due), overdue)
    return Step(row["id"], row["article"], row["requester"], kind, role, text, link, due,
                overdue)


def request_steps(desk: Desk) -> list[Step]:
    """The next step of every open request: for the roles that may read requests (R-11)."""
    if desk.steps is None:
        desk.steps = [next_step(row, desk) for row in _open_requests(desk)]
    return desk.steps


def _steps_of(desk: Desk, role: Role) -> list[Item]:
    return [Item(s.kind, f"request {s.request}", s.text, s.link, s.due, s.overdue)
            for s in request_steps(desk) if s.role is role]


def _awaiting_decision(desk: Desk, overdue_only: bool) -> list[Item]:
    """Art. 10 requests the manager has not decided yet (for who follows them up)."""
    items = []
    for s in request_steps(desk):
        if s.kind != "decide" or (overdue_only and not s.overdue):
            continue
        due = desk.when(s.due)
        text = (_("The decision on the request of %(requester)s was due %(due)s and has not "
                  "been taken (art. 10 lid 3, R-72)", requester=s.requester, due=due)
                if s.overdue else
                _("The manager bedrijfsvoering decides on the request of %(requester)s by "
                  "%(due)s (art. 10 lid 3)", requester=s.requester, due=due))
        items.append(Item("overdue" if s.overdue else "awaiting-decision",
                          f"request {s.request}", text, s.link, s.due, s.overdue))
    return items


# --- art. 12 -----------------------------------------------------------------------------------

def _questions(desk: Desk) -> list[tuple[sqlite3.Row, set[str]]]:
    from firmware.governance.decisions import SCHEMA
    desk.db.executescript(SCHEMA)
    rows = desk.db.execute("SELECT id, question FROM decisions WHERE decided_at IS NULL "
                           "ORDER BY id").fetchall()
    given = {}
    for r in desk.db.execute("SELECT decision_id, kind FROM decision_advice"):
        given.setdefault(r["decision_id"], set()).add(r["kind"])
    return [(row, given.get(row["id"], set())) for row in rows]


def _advice_asked(desk: Desk, kind: str) -> list[Item]:
    """Art. 12: questions awaiting the advice of `kind` ('privacy-officer' or 'fg')."""
    adviser = {"privacy-officer": ROLES["privacy-officer"],
               "fg": ROLES["functionaris-gegevensbescherming"]}[kind]
    return [Item("advice", f"question {row['id']}",
                 _("Give your advice as %(adviser)s on question %(id)s: %(question)s "
                   "(art. 12)", adviser=adviser, id=row["id"], question=row["question"]),
                 "/decisions")
            for row, given in _questions(desk) if kind not in given]


def _decisions_due(desk: Desk) -> list[Item]:
    """Art. 12: both advices are in, the eindverantwoordelijke's decision is not."""
    return [Item("decision", f"question {row['id']}",
                 _("Both advices are in: record the decision of the eindverantwoordelijke on "
                   "question %(id)s: %(question)s (art. 12)", id=row["id"],
                   question=row["question"]), "/decisions")
            for row, given in _questions(desk) if {"privacy-officer", "fg"} <= given]


# --- holds, storage, the recorder ---------------------------------------------------------------

def _lapsing_holds(desk: Desk) -> list[Item]:
    """Active holds whose footage passes the retention period within NOTICE_DAYS."""
    items = []
    for row in desk.db.execute("SELECT id, camera_id, start, reference FROM holds "
                               "WHERE released IS NULL ORDER BY start"):
        lapse = row["start"] + desk.retention
        if desk.now <= lapse <= desk.now + NOTICE_DAYS * DAY:
            items.append(Item(
                "hold-lapses", f"hold {row['id']}",
                _("Hold %(hold)s (%(reference)s, camera %(camera)s): its footage turns "
                  "%(days)s days old on %(date)s; from then only this hold keeps it, and "
                  "releasing it erases it at once (art. 7 lid 1)", hold=row["id"],
                  reference=row["reference"], camera=row["camera_id"],
                  days=round(desk.retention / DAY), date=desk.when(lapse)),
                "/holds", lapse))
    return items


def _storage_alarms(desk: Desk) -> list[Item]:
    """The alarms of the index: storage alarms, and camera or case tamper named as such."""
    items = []
    for r in desk.db.execute("SELECT kind, since, detail FROM alarms ORDER BY since"):
        text, since = ALARMS.get(r["kind"], r["detail"]), desk.when(r["since"])
        if is_tamper(r["kind"]):
            items.append(Item("tamper-alarm", f"alarm {r['kind']}", _(
                "Tamper alarm since %(since)s: %(text)s", since=since, text=text), "/system"))
        else:
            items.append(Item("storage-alarm", f"alarm {r['kind']}", _(
                "Storage alarm since %(since)s: %(text)s", since=since, text=text), "/system"))
    return items


_SYSTEM_KINDS = {"recorder_running": "recorder-down", "clock_synchronised": "clock",
                 "disk_below_high_water": "disk", "cameras_may_record": "camera-refused",
                 "writes": "writes-hung"}


def _system(desk: Desk) -> list[Item]:
    """The recorder down, the clock unsynchronised, the disk full, a camera refused, a hung
    segment write: the readiness checks other than the storage alarms (`_storage_alarms`)."""
    if desk.readiness is None:
        return []
    return [Item(kind, "system", why, "/system")
            for check, kind in _SYSTEM_KINDS.items()
            for why in desk.readiness.problems.get(check, [])]


# --- accounts ------------------------------------------------------------------------------------

def _pending_accounts(desk: Desk) -> list[sqlite3.Row]:
    """Accounts awaiting a manager: every role, a technisch beheerder's too once it was
    proposed for enabling again (accounts.enable: four eyes whatever the role)."""
    return desk.db.execute("SELECT name, role, password_hash != '' AS has_password FROM users "
                           "WHERE approved IS NULL AND disabled IS NULL "
                           "ORDER BY created").fetchall()


def _accounts_to_approve(desk: Desk) -> list[Item]:
    return [Item("approve-account", f"account {r['name']}",
                 _("Approve the account %(name)s (%(role)s) with its owner present (art. 2, "
                   "art. 3 lid 1)", name=r["name"], role=ROLES.get(r["role"], r["role"])),
                 "/users/pending")
            for r in _pending_accounts(desk) if r["has_password"]]


def _accounts_waiting(desk: Desk) -> list[Item]:
    """For the technisch beheerder: the accounts made that are not in force yet."""
    items = []
    for r in _pending_accounts(desk):
        role = ROLES.get(r["role"], r["role"])
        text = (_("Account %(name)s (%(role)s) waits for the approval of a manager "
                  "bedrijfsvoering", name=r["name"], role=role) if r["has_password"] else
                _("Account %(name)s (%(role)s) waits for its owner to choose a password with "
                  "the setup code", name=r["name"], role=role))
        items.append(Item("account-pending", f"account {r['name']}", text, "/users"))
    return items


# --- one function per role -----------------------------------------------------------------------

def beheerder(desk: Desk) -> list[Item]:
    """Identities, declarations, exports, handovers and inzage of open requests; holds about to
    lapse; storage alarms and the recorder (art. 3 lid 2, art. 9, art. 10 lid 4-5)."""
    return (_steps_of(desk, Role.BEHEERDER) + _lapsing_holds(desk) + _storage_alarms(desk)
            + _system(desk))


def privacy_officer(desk: Desk) -> list[Item]:
    """Refused requests to close, art. 10 requests awaiting the manager (overdue flagged), and
    art. 12 questions awaiting the privacy officer's advice."""
    return (_steps_of(desk, Role.PRIVACY_OFFICER) + _awaiting_decision(desk, False)
            + _advice_asked(desk, "privacy-officer"))


def manager(desk: Desk) -> list[Item]:
    """Art. 10 requests to decide (R-72), accounts to approve (art. 2, 3 lid 1), art. 12
    decisions to record on the eindverantwoordelijke's behalf."""
    return _steps_of(desk, Role.MANAGER) + _accounts_to_approve(desk) + _decisions_due(desk)


def functionaris(desk: Desk) -> list[Item]:
    """Art. 12 questions awaiting the FG's advice, and overdue requests (supervision)."""
    return _advice_asked(desk, "fg") + _awaiting_decision(desk, True)


def technisch_beheerder(desk: Desk) -> list[Item]:
    """The system only: storage alarms, recorder, clock, accounts not yet in force. No
    request, no requester, no footage (R-11)."""
    return _storage_alarms(desk) + _system(desk) + _accounts_waiting(desk)


def eindverantwoordelijke(desk: Desk) -> list[Item]:
    return _decisions_due(desk)


ROLE_WORK: dict[Role, Callable[[Desk], list[Item]]] = {
    Role.BEHEERDER: beheerder, Role.PRIVACY_OFFICER: privacy_officer, Role.MANAGER: manager,
    Role.DPO: functionaris, Role.TECHNICAL: technisch_beheerder,
    Role.EINDVERANTWOORDELIJKE: eindverantwoordelijke,
}


def work_for(actor: Actor, desk: Desk) -> list[Item]:
    """The work waiting for `actor`: overdue first, then by due time, then as listed."""
    if actor.visit is not None or actor.disabled or actor.role not in ROLE_WORK:
        return []
    items = ROLE_WORK[actor.role](desk)
    return sorted(items, key=lambda i: (not i.overdue,
                                        i.due if i.due is not None else math.inf))
