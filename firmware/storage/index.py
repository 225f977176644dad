"""The SQLite index: cameras, events, segments, slot keys, holds, alarms, recorder restarts. Plain
SQL, WAL mode.

Times are REAL epoch seconds (UTC). `secure_delete` zeroes freed pages, so a destroyed key
or a deleted row does not linger in the database file once the WAL is checkpointed into it;
`checkpoint` does that without blocking writers and says whether it succeeded.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from firmware.config import INDEX_NAME
from firmware.i18n import _
from firmware.storage.sink import StorageError

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
CREATE TABLE IF NOT EXISTS segment_hashes (   -- storage/hashes.py: proof back to recording
    n           INTEGER PRIMARY KEY AUTOINCREMENT,
    segment_id  TEXT NOT NULL UNIQUE,
    sha256      TEXT NOT NULL,           -- of the plaintext MP4, computed while it was written
    chain       TEXT NOT NULL            -- sha256(previous chain | segment id | sha256)
);
CREATE TABLE IF NOT EXISTS segment_clock (    -- the clock when a segment began (adjtimex)
    segment_id  TEXT PRIMARY KEY,
    offset      REAL NOT NULL,           -- seconds the kernel was still correcting
    est_error   REAL NOT NULL            -- seconds: the kernel's estimate of the clock's error
);
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
CREATE TABLE IF NOT EXISTS alarms (
    kind    TEXT PRIMARY KEY,            -- e.g. wal-not-purged
    since   REAL NOT NULL,
    detail  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recorder_restarts (   -- storage/restarts.py
    n               INTEGER PRIMARY KEY AUTOINCREMENT,
    at              REAL NOT NULL,       -- when the recorder started again
    previous_start  REAL,                -- when the recorder that ended uncleanly had started
    previous_pid    INTEGER,
    nrestarts       INTEGER              -- systemd's $NRESTARTS, where it was given
);
"""

RECOVERY = ("stop the recorder, move index.sqlite3 (with its -wal and -shm files) aside and "
            "restore index.sqlite3 from its backup; the segment files are kept, nothing is "
            "deleted without a healthy index")


class IndexDamaged(StorageError):
    """The index cannot be read: the message names the file, the fault and the recovery."""


class IndexLeftBehind(StorageError):
    """storage.index_dir points away from data_dir while the index is still in data_dir."""


def refuse_left_behind(data_dir: Path, index_dir: Path) -> None:
    """R-82, a device moved to a separate index_dir: starting with an empty index there would
    orphan every segment and the logbooks, so nothing opens until the old index is moved. The
    empty file tmpfiles makes in the new place does not count as an index."""
    old, new = Path(data_dir) / INDEX_NAME, Path(index_dir) / INDEX_NAME
    if old.resolve() == new.resolve() or not old.is_file() or old.stat().st_size == 0:
        return
    both = new.is_file() and new.stat().st_size > 0
    raise IndexLeftBehind(_(
        "the index %(old)s is still in storage.data_dir, but storage.index_dir says %(new)s"
        "%(both)s. Nothing was opened or changed. Stop the services (systemctl stop "
        "nvr-recorder nvr-web), move the index with its -wal and -shm files as root: "
        "mv %(old)s %(old)s-wal %(old)s-shm %(folder)s/ (missing -wal/-shm are fine), and "
        "start them again; or remove index_dir from the configuration to keep it where it is.",
        old=old, new=new, folder=Path(index_dir),
        both=_(" (and a non-empty index is there too: find out which one is the device's, "
               "set the other aside)") if both else ""))


def is_damage(exc: BaseException) -> bool:
    """A fault of the file itself (not a busy lock): truncated, overwritten, not SQLite."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and any(
        word in text for word in ("malformed", "not a database", "disk i/o"))


def damaged(path: Path, exc: BaseException) -> IndexDamaged:
    return IndexDamaged(f"the index {path} is damaged ({exc}): {RECOVERY}")


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the index. The connection may be shared between threads under a lock.
    A damaged file raises IndexDamaged, never a bare sqlite3 error."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -8192")       # 8 MiB: the hot part of a 28-day index
        conn.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_damage(exc):
            raise damaged(path, exc) from None
        raise
    return conn


def check_size(conn: sqlite3.Connection, path: Path) -> None:
    """A cheap test for every process: with the WAL empty, the file must hold every page the
    database counts (a truncated copy or a cut-off restore does not). Only stat(), never
    open(): closing another descriptor of the file would drop this process's SQLite locks."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return
    try:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) from None
    actual = path.stat().st_size
    if actual < pages * size:
        raise damaged(path, f"the file has {actual} bytes, the database {pages * size}: it was "
                            "cut off")


def check(conn: sqlite3.Connection, path: Path) -> None:
    """Read every page once (PRAGMA quick_check): for the long-running processes at start."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) from None
    if rows != ["ok"]:
        raise damaged(path, "; ".join(rows[:3]))


@dataclass(frozen=True)
class Checkpoint:
    done: bool          # the whole WAL is in the database file and the WAL is empty
    busy: bool          # a reader on an older snapshot (or a writer) kept it from finishing
    wal_pages: int
    moved_pages: int
    attempts: int


def checkpoint(path: Path, attempts: int, pause: float = 0.05) -> Checkpoint:
    """PRAGMA wal_checkpoint(TRUNCATE) on a connection of its own, without a busy wait: it never
    holds SQLite's write lock while waiting for a reader, so writers are not stalled. Retried
    `attempts` times, `pause` seconds apart; the result says whether the WAL was emptied."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    busy, log, moved = 1, -1, -1
    try:
        for attempt in range(1, attempts + 1):
            try:
                busy, log, moved = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError:          # locked: another checkpoint runs
                busy = 1
            if busy == 0 and log == moved:
                return Checkpoint(True, False, log, moved, attempt)
            if attempt < attempts:
                time.sleep(pause)
        return Checkpoint(False, bool(busy), log, moved, attempts)
    finally:
        conn.close()
