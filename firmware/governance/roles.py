"""Roles and the one function that decides every permission (R-11, R-12).

The table below is the table of REQUIREMENTS.md R-11, as data. `decide()` is the only place in
the firmware that looks at a role; everything else asks it.

Art. 12 (R-80) adds what the R-11 table does not cover: the eindverantwoordelijke of art. 2
(gemeentesecretaris/algemeen directeur) decides situations the regulation does not foresee,
after advice of the privacy officer and the functionaris gegevensbescherming; the manager
bedrijfsvoering, to whom the task is delegated (art. 3 lid 1), may record such a decision on
the eindverantwoordelijke's behalf, naming them (firmware.governance.decisions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

from firmware.i18n import _


class Role(str, Enum):
    BEHEERDER = "beheerder"
    DESIGNEE = "aangewezen-persoon"
    TECHNICAL = "technisch-beheerder"
    PRIVACY_OFFICER = "privacy-officer"
    MANAGER = "manager-bedrijfsvoering"
    DPO = "functionaris-gegevensbescherming"
    EINDVERANTWOORDELIJKE = "eindverantwoordelijke"   # gemeentesecretaris/algemeen directeur


class Action(str, Enum):
    LIVE = "live"                           # live view
    PLAYBACK = "playback"                   # recorded footage
    EXPORT = "export"                       # footage to USB
    HOLD = "hold"                           # place and release holds directly
    HOLD_REQUEST = "hold-request"           # place a hold as part of a request
    REQUEST_ART9 = "request-art9"           # register a written request of police/prosecutor
    REQUEST_INTAKE = "request-intake"       # take in an art. 10 request
    REQUEST_DECIDE = "request-decide"       # decide an art. 10 request
    REQUEST_READ = "request-read"
    IDENTIFY = "identify"                   # check identity in person, record declarations
    LOGBOOK_READ = "logbook-read"
    LOGBOOK_VERIFY = "logbook-verify"
    CONFIG = "config"                       # system configuration
    USERS = "users"                         # accounts
    DELEGATE = "delegate"                   # grant delegations to designees
    # Art. 12, outside the R-11 table: situations the regulation does not foresee.
    DECISION_OPEN = "decision-open"         # put a question to the eindverantwoordelijke
    DECISION_READ = "decision-read"
    ADVISE_PRIVACY = "advise-privacy-officer"   # the advice of the privacy officer
    ADVISE_FG = "advise-fg"                 # the advice of the functionaris gegevensbescherming
    DECISION_TAKE = "decision-take"         # the eindverantwoordelijke decides (art. 2, 12)
    DECISION_RECORD_FOR = "decision-record-for"  # the manager records it, naming them (art. 3.1)


FOOTAGE = frozenset({Action.LIVE, Action.PLAYBACK, Action.EXPORT})

# Art. 12: who may put a question and read the decisions: everyone with a task in the
# regulation (art. 3), not a designee, whose rights come from delegations only.
_ART12 = frozenset({Action.DECISION_OPEN, Action.DECISION_READ})

# R-11, column by column, plus art. 12. A designee's footage rights come from delegations only.
TABLE: dict[Role, frozenset[Action]] = {
    Role.BEHEERDER: frozenset({Action.LIVE, Action.PLAYBACK, Action.EXPORT, Action.HOLD,
                               Action.REQUEST_ART9, Action.REQUEST_READ, Action.IDENTIFY,
                               Action.LOGBOOK_READ, Action.DELEGATE}) | _ART12,
    Role.DESIGNEE: frozenset(),
    Role.TECHNICAL: frozenset({Action.CONFIG, Action.USERS}) | _ART12,
    Role.PRIVACY_OFFICER: frozenset({Action.LIVE, Action.PLAYBACK, Action.HOLD_REQUEST,
                                     Action.REQUEST_INTAKE, Action.REQUEST_READ,
                                     Action.LOGBOOK_READ, Action.ADVISE_PRIVACY}) | _ART12,
    Role.MANAGER: frozenset({Action.REQUEST_DECIDE, Action.REQUEST_READ, Action.LOGBOOK_READ,
                             Action.DECISION_RECORD_FOR}) | _ART12,
    Role.DPO: frozenset({Action.REQUEST_READ, Action.LOGBOOK_READ, Action.LOGBOOK_VERIFY,
                         Action.ADVISE_FG}) | _ART12,
    Role.EINDVERANTWOORDELIJKE: frozenset({Action.DECISION_TAKE}) | _ART12,
}


@dataclass(frozen=True)
class Delegation:
    """R-12: the beheerder lets a designee do some footage actions on some cameras, until."""

    grantee: str
    actions: frozenset[Action]
    cameras: frozenset[str]                 # empty: no camera
    reason: str
    expires: float
    revoked: bool = False

    def covers(self, action: Action, camera: str | None, now: float) -> bool:
        return (not self.revoked and now < self.expires and action in self.actions
                and action in FOOTAGE and camera in self.cameras)


@dataclass(frozen=True)
class VisitScope:
    """A registered visit of police or prosecutor (R-11, art. 5.4): time-boxed, limited to the
    cameras and footage window they need, opened by the beheerder in their presence."""

    visit_id: int
    cameras: frozenset[str]
    start: float                # footage window
    end: float
    expires: float              # the session ends
    closed: bool = False

    def covers(self, action: Action, camera: str | None, at: float | None, now: float) -> bool:
        in_window = at is None or self.start <= at <= self.end
        return (not self.closed and now < self.expires and camera in self.cameras
                and (action is Action.LIVE or (action is Action.PLAYBACK and in_window)))


@dataclass(frozen=True)
class Actor:
    """Who asks: a personal account with its role and the delegations granted to it, or a
    visit of police or prosecutor (no account, no role: only its scope)."""

    name: str
    role: Role | None
    delegations: tuple[Delegation, ...] = field(default_factory=tuple)
    disabled: bool = False
    visit: VisitScope | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def refusal(role: Role, action: Action) -> str:
    """Why `role` may not do `action`, in the reader's language (Dutch on a page), with the
    codes of the R-11 table at the end for the technisch beheerder and the tests."""
    from firmware.governance.wording import ROLES, VALUES
    return _("the role %(role)s may not do this: %(what)s (R-11; %(code)s)",
             role=ROLES.said(role.value, role.value),
             what=VALUES.said(action.value, action.value), code=f"{role.value} {action.value}")


def _said(code: str) -> str:
    from firmware.governance.wording import VALUES
    return VALUES.said(code, code)


def decide(actor: Actor, action: Action, *, camera: str | None = None,
           at: float | None = None, now: float | None = None) -> Decision:
    """May `actor` do `action` (on `camera`, footage of time `at`) now? The single permission
    check of the firmware (R-11, R-12)."""
    now = time.time() if now is None else now
    if actor.disabled:
        return Decision(False, _("account '%(name)s' is disabled", name=actor.name))
    if actor.visit is not None:
        if actor.visit.covers(action, camera, at, now):
            return Decision(True, f"within visit {actor.visit.visit_id} (R-11, art. 5.4)")
        return Decision(False, _("outside the scope or time of visit %(number)s: its cameras, "
                                 "window and session only (R-11)", number=actor.visit.visit_id))
    if action in TABLE[actor.role]:
        return Decision(True, f"{actor.role.value} may {action.value} (R-11)")
    if actor.role is Role.DESIGNEE:
        for d in actor.delegations:
            if d.covers(action, camera, now):
                until = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.expires))
                return Decision(True, f"delegated until {until} (R-12)")
        return Decision(False, _("no current delegation lets '%(name)s' do %(what)s%(camera)s "
                                 "(R-12)", name=actor.name,
                                 what=_said(action.value),
                                 camera=_(" on camera '%(camera)s'", camera=camera)
                                 if camera else ""))
    return Decision(False, refusal(actor.role, action))

