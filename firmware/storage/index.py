"""The SQLite index: cameras, events, segments, slot keys, holds. Plain SQL, WAL mode.

Times are REAL epoch seconds (UTC). `secure_delete` zeroes freed pages, so a destroyed key
or a deleted row does not linger in the database file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cameras (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    location  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id         TEXT PRIMARY KEY,
    camera_id  TEXT NOT NULL,
    start      REAL NOT NULL,
    end        REAL
);
CREATE INDEX IF NOT EXISTS events_camera_start ON events(camera_id, start);
CREATE TABLE IF NOT EXISTS slot_keys (
    slot       INTEGER PRIMARY KEY,      -- floor(segment start / slot length)
    start      REAL NOT NULL,
    erase_at   REAL NOT NULL,            -- slot start + retention: never later (R-40)
    wrapped    BLOB,                     -- NULL once destroyed
    created    REAL NOT NULL,
    destroyed  REAL,
    purged     INTEGER NOT NULL DEFAULT 0  -- 1 when no unheld segment of the slot is left
);
CREATE INDEX IF NOT EXISTS slot_keys_live ON slot_keys(erase_at) WHERE wrapped IS NOT NULL;
CREATE INDEX IF NOT EXISTS slot_keys_unpurged ON slot_keys(slot) WHERE wrapped IS NULL
    AND purged = 0;
CREATE TABLE IF NOT EXISTS segments (
    id            TEXT PRIMARY KEY,
    camera_id     TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    start         REAL NOT NULL,
    end           REAL NOT NULL,
    slot          INTEGER NOT NULL,
    wrapped_dek   BLOB,                  -- under the slot key; NULL once the slot is destroyed
    path          TEXT NOT NULL,         -- relative to data_dir
    bytes         INTEGER NOT NULL,
    frames        INTEGER NOT NULL,
    clock_synced  INTEGER NOT NULL,
    location      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'ok'    -- ok | missing
);
CREATE INDEX IF NOT EXISTS segments_camera_start ON segments(camera_id, start);
CREATE INDEX IF NOT EXISTS segments_slot ON segments(slot);
CREATE INDEX IF NOT EXISTS segments_start ON segments(start);
CREATE INDEX IF NOT EXISTS segments_event ON segments(event_id);
CREATE TABLE IF NOT EXISTS holds (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    reason      TEXT NOT NULL,
    reference   TEXT NOT NULL,
    created     REAL NOT NULL,
    released    REAL,
    wrapped_key BLOB                     -- NULL once released
);
CREATE INDEX IF NOT EXISTS holds_active ON holds(camera_id) WHERE released IS NULL;
CREATE TABLE IF NOT EXISTS hold_segments (
    hold_id     INTEGER NOT NULL REFERENCES holds(id),
    segment_id  TEXT NOT NULL,
    wrapped_dek BLOB NOT NULL,           -- the segment's data key under the hold key
    PRIMARY KEY (hold_id, segment_id)
);
CREATE INDEX IF NOT EXISTS hold_segments_segment ON hold_segments(segment_id);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the index. The connection may be shared between threads under a lock."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -8192")       # 8 MiB: the hot part of a 28-day index
    conn.executescript(SCHEMA)
    return conn
