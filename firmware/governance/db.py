"""Governance tables, kept in the same SQLite index as the footage they govern."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from firmware.storage import index

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    created         REAL NOT NULL,
    created_by      TEXT NOT NULL,
    disabled        REAL,                 -- accounts are disabled, never deleted (R-50 names)
    failures        INTEGER NOT NULL DEFAULT 0,
    locked_until    REAL,
    totp_secret     TEXT,                 -- optional second factor (R-81)
    totp_last       INTEGER NOT NULL DEFAULT -1,
    approved        REAL,                 -- footage and manager roles: in force once approved
    approved_by     TEXT,                 -- by a manager bedrijfsvoering (art. 2, art. 3.1)
    session_gen     INTEGER NOT NULL DEFAULT 0,   -- +1 ends every session of the account
    reset_hash      TEXT,                 -- a one-time password reset code, as a hash
    reset_expires   REAL,
    reset_issued    REAL                  -- when; a clock before it refuses the code
);
CREATE TABLE IF NOT EXISTS enrollment_codes (
    role        TEXT PRIMARY KEY,         -- the first technisch-beheerder, the first manager
    code_hash   TEXT NOT NULL,
    created     REAL NOT NULL,
    used        REAL,
    synced      INTEGER,                  -- 1/0: the clock synchronised at `created` (NULL: before)
    boot        TEXT,                     -- the boot that showed it (clock.boot_clock) and
    uptime      REAL                      -- its seconds since that boot then: the code's life
);
CREATE TABLE IF NOT EXISTS login_throttle (
    name        TEXT NOT NULL,            -- the name tried (known or not)
    source      TEXT NOT NULL,            -- client address, or 'local' for the CLI
    failures    INTEGER NOT NULL,
    last        REAL NOT NULL,
    PRIMARY KEY (name, source)
);
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,         -- SHA-256 of the token in the cookie
    user        TEXT,                     -- an account, or
    visit       INTEGER,                  -- a visit of police or prosecutor
    generation  INTEGER NOT NULL,         -- users.session_gen when it started
    created     REAL NOT NULL,
    seen        REAL NOT NULL,
    ended       REAL,
    end_reason  TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
CREATE TABLE IF NOT EXISTS logbook (       -- schema 2: keyed (see UNKEYED_LOGBOOK)
    book     TEXT NOT NULL,               -- usage (R-50) | inzien (R-51)
    n        INTEGER NOT NULL,            -- 1, 2, 3, ... per book
    at       REAL NOT NULL,               -- never earlier than entry n - 1
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    reason   TEXT NOT NULL,
    details  TEXT NOT NULL,               -- JSON
    prev     TEXT NOT NULL,               -- hash of entry n - 1 ('' for the first)
    hash     TEXT NOT NULL,               -- SHA-256 over all of the above
    mac      TEXT NOT NULL,               -- HMAC-SHA256 of hash, key in the key directory
    PRIMARY KEY (book, n)
);
CREATE TRIGGER IF NOT EXISTS logbook_no_update BEFORE UPDATE ON logbook
BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END;
CREATE TRIGGER IF NOT EXISTS logbook_no_delete BEFORE DELETE ON logbook
BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END;
"""


# Columns added to `users` after the first devices were made, with what existing rows get.
# Accounts from before four-eyes approval keep the force they had (approved = created).
_ADDED = (("approved", "REAL", "UPDATE users SET approved = created, "
                               "approved_by = 'in force before approvals' "
                               "WHERE approved IS NULL"),
          ("approved_by", "TEXT", None), ("session_gen", "INTEGER NOT NULL DEFAULT 0", None),
          ("reset_hash", "TEXT", None), ("reset_expires", "REAL", None),
          ("reset_issued", "REAL", None))


def connect(index_dir: Path) -> sqlite3.Connection:
    """The governance tables in index.sqlite3 of `index_dir` (storage.index_dir)."""
    Path(index_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = index.connect(Path(index_dir) / index.INDEX_NAME)
    _set_aside_unkeyed_logbook(conn)
    conn.executescript(SCHEMA)
    _migrate_users(conn)
    _migrate_enrollment(conn)
    return conn


UNKEYED_LOGBOOK = "logbook_v1"


def _set_aside_unkeyed_logbook(conn: sqlite3.Connection) -> None:
    """A clean break with the logbook of schema 1 (before issue 9: a hash chain without MACs,
    never fielded): its table is renamed to logbook_v1 and kept as it was, append-only, and
    the keyed books start again at entry 1."""
    def unkeyed() -> bool:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(logbook)")}
        return bool(columns) and "mac" not in columns
    if not unkeyed():                   # the usual case, without taking the write lock
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if unkeyed():
            conn.execute("DROP TRIGGER IF EXISTS logbook_no_update")
            conn.execute("DROP TRIGGER IF EXISTS logbook_no_delete")
            conn.execute(f"ALTER TABLE logbook RENAME TO {UNKEYED_LOGBOOK}")
            for what in ("UPDATE", "DELETE"):
                conn.execute(f"CREATE TRIGGER {UNKEYED_LOGBOOK}_no_{what.lower()} BEFORE "
                             f"{what} ON {UNKEYED_LOGBOOK} BEGIN SELECT RAISE(ABORT, "
                             "'the logbook is append-only'); END")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _migrate_enrollment(conn: sqlite3.Connection) -> None:
    """A code `nvr init` printed before codes were kept per role is the technisch-beheerder's;
    a table from before codes were dated by the boot gets those columns (R-10, enrollfix)."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(enrollment_codes)")}
    for column, kind in (("synced", "INTEGER"), ("boot", "TEXT"), ("uptime", "REAL")):
        if column not in have:
            _add_column(conn, "enrollment_codes", column, kind)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'enrollment'").fetchone():
        conn.execute("INSERT OR IGNORE INTO enrollment_codes (role, code_hash, created, used) "
                     "SELECT 'technisch-beheerder', code_hash, created, used FROM enrollment")


def _add_column(conn: sqlite3.Connection, table: str, column: str, kind: str) -> bool:
    """ALTER TABLE ADD COLUMN; False when another process added it first (a migration two
    processes run at once)."""
    try:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise
        return False
    return True


def _migrate_users(conn: sqlite3.Connection) -> None:
    have = {r["name"] for r in conn.execute("PRAGMA table_info(users)")}
    fills = []
    for column, kind, fill in _ADDED:
        if column not in have:
            if not _add_column(conn, "users", column, kind):
                continue
            if fill:
                fills.append(fill)
    for fill in fills:
        conn.execute(fill)
