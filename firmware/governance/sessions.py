"""Web sessions kept on the server (R-81): a row per session in the governance database, so
that logout, a password change, disabling, a role change or a revoked delegation ends every
session at once, in every process (the web's threads, the CLI), and a copied cookie is worth
nothing afterwards.

The cookie carries only a random token; the table keeps its SHA-256, who the session stands
for, the account's session generation when it began, and when it was last seen. An account
change bumps `users.session_gen` in the same UPDATE that makes it, so no path can forget to
end the sessions; a delegation revoked after a designee's session began ends that session.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

IDLE_SECONDS = 15 * 60
ABSOLUTE_SECONDS = 12 * 3600
TOUCH_SECONDS = 10              # `seen` is written at most this often per session


@dataclass(frozen=True)
class Session:
    user: str | None
    visit: int | None
    created: float


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def start(self, *, user: str | None = None, visit: int | None = None,
              now: float | None = None) -> str:
        """A new session for an account or a visit; returns the token for the cookie."""
        now = time.time() if now is None else now
        row = self.db.execute("SELECT session_gen FROM users WHERE name = ?",
                              (user,)).fetchone() if user else None
        token = secrets.token_urlsafe(32)
        self.db.execute("DELETE FROM sessions WHERE seen < ?", (now - ABSOLUTE_SECONDS - 86400,))
        self.db.execute("INSERT INTO sessions (id, user, visit, generation, created, seen) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (_key(token), user, visit, row["session_gen"] if row else 0, now, now))
        return token

    def check(self, token: str, *, touch: bool = True, now: float | None = None
              ) -> Session | None:
        """The live session of `token`, or None (and the session ended, with the reason) when
        it was ended, idled out, grew too old, or its account or delegations changed since.
        `touch` counts this as activity (a page or API call; a running stream does not)."""
        now = time.time() if now is None else now
        if not isinstance(token, str) or not token:
            return None
        key = _key(token)
        row = self.db.execute(
            "SELECT s.*, u.session_gen AS current_gen FROM sessions s "
            "LEFT JOIN users u ON u.name = s.user WHERE s.id = ?", (key,)).fetchone()
        if row is None or row["ended"] is not None:
            return None
        reason = None
        if now - row["seen"] > IDLE_SECONDS:
            reason = "idle"
        elif now - row["created"] > ABSOLUTE_SECONDS:
            reason = "expired"
        elif row["user"] is not None and row["current_gen"] != row["generation"]:
            reason = "account-changed"
        elif row["user"] is not None and self._revoked_since(row["user"], row["created"]):
            reason = "delegation-revoked"
        if reason:
            self._end(key, reason, now)
            return None
        if touch and now - row["seen"] > TOUCH_SECONDS:
            self.db.execute("UPDATE sessions SET seen = ? WHERE id = ?", (now, key))
        return Session(row["user"], row["visit"], row["created"])

    def _revoked_since(self, user: str, since: float) -> bool:
        try:
            return self.db.execute("SELECT 1 FROM delegations WHERE grantee = ? AND revoked "
                                   ">= ? LIMIT 1", (user, since)).fetchone() is not None
        except sqlite3.OperationalError:          # no delegations table: nothing revoked
            return False

    def end(self, token: str, reason: str = "logout", now: float | None = None) -> bool:
        """End one session (logout); True if it was live."""
        if not isinstance(token, str) or not token:
            return False
        return self._end(_key(token), reason, time.time() if now is None else now)

    def _end(self, key: str, reason: str, now: float) -> bool:
        return self.db.execute("UPDATE sessions SET ended = ?, end_reason = ? WHERE id = ? AND "
                               "ended IS NULL", (now, reason, key)).rowcount == 1

    def end_all(self, user: str, reason: str, now: float | None = None) -> int:
        """End every session of an account now; the number ended."""
        now = time.time() if now is None else now
        return self.db.execute("UPDATE sessions SET ended = ?, end_reason = ? WHERE user = ? "
                               "AND ended IS NULL", (now, reason, user)).rowcount
