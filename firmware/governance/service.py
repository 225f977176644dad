"""Open the governance layer of a device: database, logbooks, accounts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from firmware.config import Config
from firmware.governance import db as gdb
from firmware.governance.accounts import Accounts, AuthError
from firmware.governance.delegation import GrantError, Grants
from firmware.governance.logbook import DeviceSigner, Logbook
from firmware.governance.access import require
from firmware.governance.roles import Action, Actor
from firmware.governance.sessions import Sessions
from firmware.storage.index import refuse_left_behind
from firmware.storage.keys import FileKeyProvider
from firmware.i18n import _

if TYPE_CHECKING:
    from firmware.governance.decisions import Decisions
    from firmware.governance.requests import Requests


class Refused(Exception):
    """Authenticated, but the role may not do this (R-11); logged."""


@dataclass
class Governance:
    logbook: Logbook
    accounts: Accounts
    grants: Grants
    sessions: Sessions
    equated_days: frozenset = frozenset()    # art. 3 lid 3 Atw days of the configuration

    @classmethod
    def open(cls, cfg: Config) -> "Governance":
        refuse_left_behind(cfg.storage.data_dir, cfg.storage.index_dir)
        conn = gdb.connect(cfg.storage.index_dir)
        logbook = Logbook(conn, DeviceSigner(cfg.storage.key_dir))
        master_key = FileKeyProvider(cfg.storage.key_dir).load     # read when TOTP is used
        # Words a password may not lean on, besides the organisation's own.
        words = (cfg.device.id, *cfg.device.name.split())
        return cls(logbook, Accounts(conn, logbook, master_key, words),
                   Grants(conn, logbook, cfg.storage.retention_days), Sessions(conn),
                   equated_days=frozenset(d for d, _ in cfg.deadlines.equated_days))

    def login(self, name: str, password: str, code: str | None = None,
              source: str = "local") -> Actor:
        """Authenticate; a designee comes with the delegations granted to it (R-12)."""
        user = self.accounts.authenticate(name, password, code=code, source=source)
        return self.grants.with_delegations(user.actor())

    def session_actor(self, token: str, *, touch: bool = True) -> Actor | None:
        """Who the web session with cookie token `token` stands for now, or None when the
        session is over (ended, idle, too old, its account changed, a delegation revoked) or
        what it stood for is gone (account disabled or awaiting approval, visit closed); a
        session found wanting is ended on the server (R-81)."""
        found = self.sessions.check(token, touch=touch)
        if found is None:
            return None
        actor = self.actor(user=found.user, visit=found.visit)
        if actor is None:
            self.sessions.end(token, "no-longer-allowed")
        return actor

    def actor(self, *, user: str | None = None, visit: int | None = None) -> Actor | None:
        """Who a session stands for now: the account `user` with its current delegations, or
        the visit `visit`; None when the account is gone or disabled, or the visit is closed or
        over. Asked on every request, so a change takes effect at once."""
        if visit is not None:
            try:
                actor = self.grants.visit_actor(visit)
            except GrantError:
                return None
            if actor.visit.closed or actor.visit.expires < time.time():
                return None
            return actor
        found = self.accounts.get(user) if user else None
        if found is None or found.disabled or found.pending:
            return None
        return self.grants.with_delegations(found.actor())

    def close(self) -> None:
        self.accounts.db.close()

    def requests(self, store) -> "Requests":
        from firmware.governance.requests import Requests
        return Requests(self.accounts.db, self.logbook, store, equated_days=self.equated_days)

    def place_hold(self, actor: Actor, store, camera: str, start: float, end: float,
                   reason: str, reference: str) -> dict:
        """R-41: keep footage past retention for an incident or request; logged (R-50)."""
        from firmware.governance import bounds
        from firmware.governance.access import visible_length
        from firmware.storage.holds import HoldError, add_hold
        require(self.logbook, actor, Action.HOLD, Refused, camera=camera)
        if not (visible_length(reason) and visible_length(reference)):
            raise HoldError(_("a hold needs a reason and a reference (the request the footage is kept for; artikel 7 lid 1, R-41)"))
        bounds.footage_window(self.accounts.db, camera, start, end, error=HoldError,
                              retention_days=store.retention / bounds.DAY)
        hold = add_hold(store, camera, start, end, reason, reference)
        self.logbook.append("usage", actor.name, "hold-add", subject=f"hold {hold['id']}",
                            reason=reason, details={"camera": camera, "reference": reference,
                                                    "segments": hold["segments"]})
        return hold

    def release_hold(self, actor: Actor, store, hold_id: int, *, reason: str) -> dict:
        """The footage falls back under retention (R-40); logged with the reason (R-50, issue
        11 item 4). A hold that keeps the footage of a request not yet closed is not released
        by hand, whatever the reason: closing the request releases it (R-41, R-74), so footage
        nobody has finished with cannot go by one click."""
        from firmware.i18n import _
        from firmware.governance.undo import undo_reason
        from firmware.storage.holds import HoldError, release_hold
        require(self.logbook, actor, Action.HOLD, Refused)
        reason = undo_reason(reason, HoldError, _("Releasing a hold (R-41)"))
        request = self.requests(store).open_request_of_hold(hold_id)
        if request is not None:
            raise HoldError(_("hold %(hold)s keeps the footage of request %(request)s, which is "
                              "not closed: close the request with its reason, which releases "
                              "the hold (R-41, R-74)", hold=hold_id, request=request))
        result = release_hold(store, hold_id)
        self.logbook.append("usage", actor.name, "hold-release", subject=f"hold {hold_id}",
                            reason=reason, details=result)
        return result

    def holds(self, actor: Actor, store) -> list[dict]:
        """Every hold with its reason and reference (which name an incident, a request and
        often the people in it): only for a role that may hold footage (R-11's holds column;
        the web's Holds page and `nvr hold list` both ask here). A refusal is logged."""
        from firmware.storage.holds import list_holds
        require(self.logbook, actor, Action.HOLD, Refused)
        return list_holds(store)

    def decisions(self) -> "Decisions":
        """Art. 12 (R-80): questions, advice and decisions outside the rules."""
        from firmware.governance.decisions import Decisions
        return Decisions(self.accounts.db, self.logbook)

    def authorize(self, name: str, password: str, action: Action,
                  camera: str | None = None, code: str | None = None) -> Actor:
        """Log in and check one permission; refusals are logged (R-50, R-81)."""
        actor = self.login(name, password, code)
        require(self.logbook, actor, action, Refused, camera=camera)
        return actor


__all__ = ["Governance", "Refused", "AuthError"]
