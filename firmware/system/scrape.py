"""Scrape tokens: how the central room's Prometheus reads /metrics (and the detail of /readyz)
without a personal login (issue 12 item 3).

A token is 32 random bytes, shown once when it is made (`nvr scrape-token issue NAME`). The
device keeps only its SHA-256 (the token has 256 bits of entropy, so a slow hash adds
nothing), the name of the scraper it was made for, who made it and when, and when it was
revoked. A token opens /metrics and the detail of /readyz: figures about the device, never
footage and never a session. Making and revoking a token needs the technisch beheerder
(Action.CONFIG) and is written in the usage logbook (art. 7 lid 2).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time

from firmware.governance.logbook import Logbook
from firmware.governance.roles import Actor
from firmware.i18n import _

PREFIX = "nvrscrape_"                 # recognisable in a configuration file or a leak scan
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS scrape_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,            -- the scraper, e.g. prometheus-centrale-ruimte
    hash        TEXT NOT NULL UNIQUE,     -- SHA-256 of the token, hex; the token is not kept
    created     REAL NOT NULL,
    created_by  TEXT NOT NULL,
    revoked     REAL,
    revoked_by  TEXT
);
"""


class ScrapeTokenError(Exception):
    """A token cannot be made or revoked; the message says why and what to do."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ScrapeTokens:
    def __init__(self, db: sqlite3.Connection, logbook: Logbook | None = None):
        self.db, self.logbook = db, logbook
        self.db.executescript(SCHEMA)

    def issue(self, actor: Actor, name: str, now: float | None = None) -> str:
        """A new token for scraper `name`; returned once, kept only as its hash."""
        if not NAME.match(name):
            raise ScrapeTokenError(_("%(name)r is not a usable name: use 1-32 lower-case "
                                     "letters, digits, '-' or '_', e.g. "
                                     "prometheus-centrale-ruimte", name=name))
        token = PREFIX + secrets.token_urlsafe(32)
        now = time.time() if now is None else now
        with self.db:
            self.db.execute("INSERT INTO scrape_tokens (name, hash, created, created_by) "
                            "VALUES (?, ?, ?, ?)", (name, _digest(token), now, actor.name))
        if self.logbook is not None:
            self.logbook.append("usage", actor.name, "scrape-token-issue", subject=name,
                                details={"new": {"state": "active"}})
        return token

    def revoke(self, actor: Actor, name: str, now: float | None = None) -> int:
        """Revoke every active token of `name`; returns how many (an error when none)."""
        now = time.time() if now is None else now
        with self.db:
            n = self.db.execute("UPDATE scrape_tokens SET revoked = ?, revoked_by = ? WHERE "
                                "name = ? AND revoked IS NULL", (now, actor.name, name)).rowcount
        if n == 0:
            raise ScrapeTokenError(_("no active scrape token named %(name)r: see `nvr "
                                     "scrape-token list`", name=name))
        if self.logbook is not None:
            self.logbook.append("usage", actor.name, "scrape-token-revoke", subject=name,
                                details={"old": {"state": "active"},
                                         "new": {"state": "revoked"}})
        return n

    def list(self) -> list[dict]:
        return [dict(r) | {"state": "revoked" if r["revoked"] else "active"}
                for r in self.db.execute("SELECT id, name, created, created_by, revoked, "
                                         "revoked_by FROM scrape_tokens ORDER BY id")]

    def valid(self, token: str | None) -> str | None:
        """The scraper's name when `token` is an active token, else None."""
        if not token or not token.startswith(PREFIX) or len(token) > 200:
            return None
        row = self.db.execute("SELECT name FROM scrape_tokens WHERE hash = ? AND revoked IS "
                              "NULL", (_digest(token),)).fetchone()
        return row["name"] if row else None


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, else None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
