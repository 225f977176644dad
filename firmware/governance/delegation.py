"""Delegations (R-12) and visits of police and prosecutor (R-11, art. 5.3, 5.4, 9.3).

Both are stored grants that `roles.decide` reads: a delegation lets a designee do some footage
actions on some cameras until it expires; a visit gives the visitors, in the beheerder's
presence, a session limited to cameras, a footage window and a time box. Both are logged.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from firmware.config import MAX_RETENTION_DAYS
from firmware.governance import bounds
from firmware.governance.access import require, visible_length
from firmware.governance.logbook import Logbook
from firmware.governance.roles import FOOTAGE, Action, Actor, Delegation, Role, VisitScope
from firmware.governance.undo import undo_reason
from firmware.i18n import _

SCHEMA = """
CREATE TABLE IF NOT EXISTS delegations (
    id          INTEGER PRIMARY KEY,
    grantee     TEXT NOT NULL,
    actions     TEXT NOT NULL,          -- JSON list
    cameras     TEXT NOT NULL,          -- JSON list
    reason      TEXT NOT NULL,
    expires     REAL NOT NULL,
    granted_by  TEXT NOT NULL,
    granted     REAL NOT NULL,
    revoked     REAL
);
CREATE TABLE IF NOT EXISTS visits (
    id            INTEGER PRIMARY KEY,
    visitor       TEXT NOT NULL,
    organisation  TEXT NOT NULL,        -- politie | openbaar ministerie
    identity      TEXT NOT NULL,        -- how identity was checked
    legal_basis   TEXT NOT NULL,        -- 126nd | 126nda
    reason        TEXT NOT NULL,
    cameras       TEXT NOT NULL,        -- JSON list
    start         REAL NOT NULL,
    end           REAL NOT NULL,
    expires       REAL NOT NULL,
    opened_by     TEXT NOT NULL,
    opened        REAL NOT NULL,
    closed        REAL
);
"""
MAX_VISIT_MINUTES = bounds.MAX_VISIT_MINUTES


class GrantError(Exception):
    pass


def end_delegations(db: sqlite3.Connection, grantee: str, now: float) -> int:
    """End every delegation of `grantee` still in force; the number ended. Called when the
    account changes hands (a reset) or role (R-12): a delegation was granted to a person, and
    the beheerder delegates anew once a manager has approved the account again. Ending one also
    ends the grantee's sessions (sessions.check)."""
    try:
        return db.execute("UPDATE delegations SET revoked = ? WHERE grantee = ? AND revoked IS "
                          "NULL", (now, grantee)).rowcount
    except sqlite3.OperationalError:          # no delegations table yet: nothing to end
        return 0


@dataclass
class Grants:
    db: sqlite3.Connection
    logbook: Logbook
    retention_days: float = MAX_RETENTION_DAYS    # the configuration's, for visit windows

    def __post_init__(self):
        self.db.executescript(SCHEMA)

    def _require(self, actor: Actor, action: Action) -> None:
        require(self.logbook, actor, action, GrantError)

    # --- delegations ----------------------------------------------------------------------

    def delegate(self, by: Actor, grantee: str, role_of_grantee: Role | None,
                 actions: set[Action], cameras: set[str], reason: str, expires: float) -> int:
        self._require(by, Action.DELEGATE)
        if role_of_grantee is not Role.DESIGNEE:
            raise GrantError(f"'{grantee}' is geen account met de rol aangewezen persoon (artikel 5 lid 1, R-12)")
        if not actions or not actions <= FOOTAGE:
            raise GrantError("een aanwijzing geeft alleen live kijken, terugkijken en/of exporteren (artikel 5 lid 1-2, R-12)")
        if not cameras or visible_length(reason) < 5:
            raise GrantError("een aanwijzing vraagt de camera's en een reden van ten minste 5 "
                             "zichtbare tekens (artikel 5 lid 1, R-12)")
        bounds.delegation_expiry(expires, error=GrantError)
        cur = self.db.execute(
            "INSERT INTO delegations (grantee, actions, cameras, reason, expires, granted_by, "
            "granted) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (grantee, json.dumps(sorted(a.value for a in actions)), json.dumps(sorted(cameras)),
             reason, expires, by.name, time.time()))
        self.logbook.append("usage", by.name, "delegation-grant", subject=grantee, reason=reason,
                            details={"actions": sorted(a.value for a in actions),
                                     "cameras": sorted(cameras), "expires": expires})
        return cur.lastrowid

    def revoke(self, by: Actor, delegation_id: int, *, reason: str) -> None:
        """End a delegation before it expires, with the reason the logbook records (issue 11
        item 4); the designee's sessions end with it (sessions.check)."""
        self._require(by, Action.DELEGATE)
        reason = undo_reason(reason, GrantError, _("Revoking a delegation (R-12)"))
        if not self.db.execute("UPDATE delegations SET revoked = ? WHERE id = ? AND revoked IS "
                               "NULL", (time.time(), delegation_id)).rowcount:
            raise GrantError(f"er is geen lopende aanwijzing {delegation_id}")
        self.logbook.append("usage", by.name, "delegation-revoke",
                            subject=f"delegation {delegation_id}", reason=reason)

    def delegations_of(self, grantee: str) -> tuple[Delegation, ...]:
        return tuple(Delegation(r["grantee"], frozenset(Action(a) for a in json.loads(
            r["actions"])), frozenset(json.loads(r["cameras"])), r["reason"], r["expires"],
            r["revoked"] is not None) for r in self.db.execute(
                "SELECT * FROM delegations WHERE grantee = ?", (grantee,)))

    def with_delegations(self, actor: Actor) -> Actor:
        if actor.role is not Role.DESIGNEE:
            return actor
        return Actor(actor.name, actor.role, self.delegations_of(actor.name), actor.disabled)

    def list_delegations(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM delegations ORDER BY id")]

    # --- visits ---------------------------------------------------------------------------

    def open_visit(self, by: Actor, *, visitor: str, organisation: str, identity: str,
                   legal_basis: str, reason: str, cameras: set[str], start: float, end: float,
                   minutes: int) -> int:
        """Register police or prosecutor and open their session (R-11, art. 5.4)."""
        self._require(by, Action.IDENTIFY)
        if legal_basis not in ("126nd", "126nda"):
            raise GrantError("een bezoek vraagt zijn wettelijke grondslag: artikel 126nd of 126nda Sv (artikel 5 lid 3)")
        if not (visible_length(visitor) and visible_length(organisation)
                and visible_length(identity) and visible_length(reason) >= 5):
            raise GrantError("leg de naam van de bezoeker vast, de organisatie, hoe de identiteit "
                             "is gecontroleerd en de opgegeven reden (ten minste 5 zichtbare "
                             "tekens; artikel 5 lid 4)")
        if not cameras:
            raise GrantError("een bezoek vraagt de camera's die het mag zien (artikel 5 lid 4)")
        bounds.visit_minutes(minutes, error=GrantError)
        bounds.footage_window(self.db, cameras, start, end, error=GrantError,
                              retention_days=self.retention_days)
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO visits (visitor, organisation, identity, legal_basis, reason, cameras, "
            "start, end, expires, opened_by, opened) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (visitor, organisation, identity, legal_basis, reason, json.dumps(sorted(cameras)),
             start, end, now + minutes * 60, by.name, now))
        self.logbook.append("inzien", by.name, "visit-opened", subject=f"visit {cur.lastrowid}",
                            reason=reason, details={"visitor": visitor,
                                                    "organisation": organisation,
                                                    "identity": identity,
                                                    "legal_basis": legal_basis,
                                                    "cameras": sorted(cameras)})
        return cur.lastrowid

    def close_visit(self, by: Actor, visit_id: int, *, reason: str) -> None:
        """End a visit before its time is up, with the reason the logbook records (issue 11
        item 4); the visitors' session ends with it."""
        self._require(by, Action.IDENTIFY)
        reason = undo_reason(reason, GrantError, _("Ending a visit (art. 5 lid 4)"))
        if not self.db.execute("UPDATE visits SET closed = ? WHERE id = ? AND closed IS NULL",
                               (time.time(), visit_id)).rowcount:
            raise GrantError(f"er is geen open bezoek {visit_id}")
        self.logbook.append("inzien", by.name, "visit-closed", subject=f"visit {visit_id}",
                            reason=reason)

    def visit_actor(self, visit_id: int) -> Actor:
        r = self.db.execute("SELECT * FROM visits WHERE id = ?", (visit_id,)).fetchone()
        if r is None:
            raise GrantError(f"er is geen bezoek {visit_id}")
        scope = VisitScope(r["id"], frozenset(json.loads(r["cameras"])), r["start"], r["end"],
                           r["expires"], r["closed"] is not None)
        return Actor(f"visit {r['id']}: {r['visitor']} ({r['organisation']})", None,
                     visit=scope)

    def list_visits(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM visits ORDER BY id")]
