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
    totp_last       INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS enrollment (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    code_hash   TEXT NOT NULL,
    created     REAL NOT NULL,
    used        REAL
);
CREATE TABLE IF NOT EXISTS logbook (
    book     TEXT NOT NULL,               -- usage (R-50) | inzien (R-51)
    n        INTEGER NOT NULL,            -- 1, 2, 3, ... per book
    at       REAL NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    reason   TEXT NOT NULL,
    details  TEXT NOT NULL,               -- JSON
    prev     TEXT NOT NULL,               -- hash of entry n - 1 ('' for the first)
    hash     TEXT NOT NULL,
    PRIMARY KEY (book, n)
);
CREATE TRIGGER IF NOT EXISTS logbook_no_update BEFORE UPDATE ON logbook
BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END;
CREATE TRIGGER IF NOT EXISTS logbook_no_delete BEFORE DELETE ON logbook
BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END;
"""


def connect(data_dir: Path) -> sqlite3.Connection:
    Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = index.connect(Path(data_dir) / "index.sqlite3")
    conn.executescript(SCHEMA)
    return conn
