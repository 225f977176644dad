"""Holds (R-41): footage of a camera and time window kept past retention until released.

A hold has its own key, wrapped by the master key. Placing it re-wraps the data keys of the
segments in its window under that key, so the slot keys are still destroyed on time while the
held footage stays readable. Segments recorded later inside the window are added at commit
(see EncryptedStore._index_segment). Releasing destroys the hold key; footage whose slot is
already gone is then erased at the next sweep.
"""

from __future__ import annotations

import time

from firmware.storage.keys import new_key, wrap
from firmware.storage.store import CHECKPOINT_ATTEMPTS, EncryptedStore, KeyErased
from firmware.i18n import _


class HoldError(Exception):
    pass


def add_hold(store: EncryptedStore, camera_id: str, start: float, end: float, reason: str,
             reference: str, now: float | None = None) -> dict:
    """Hold what can still be opened at `now`: a segment whose slot is past its erase time
    counts as erased, swept or not (issue 9 item 5), unless another hold keeps it."""
    now = store.now(now)                   # never before what the index knows
    if end <= start:
        raise HoldError(_("the end of a hold must lie after its start (artikel 7 lid 1, R-41)"))
    if not reason.strip() or not reference.strip():
        raise HoldError(_("a hold needs a reason and a reference (the request the footage is kept for; artikel 7 lid 1, R-41)"))
    key = new_key()
    held, lost = [], []
    with store.transaction() as db:
        cur = db.execute("INSERT INTO holds (camera_id, start, end, reason, reference, created, "
                         "wrapped_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (camera_id, start, end, reason, reference,
                          now, b""))
        hold_id = cur.lastrowid
        db.execute("UPDATE holds SET wrapped_key = ? WHERE id = ?",
                   (wrap(store.master, key, f"hold:{hold_id}"), hold_id))
        rows = db.execute("SELECT id FROM segments WHERE camera_id = ? AND start < ? AND end > ?",
                          (camera_id, end, start)).fetchall()
        for r in rows:
            try:
                dek = store.data_key(r["id"], now)
            except KeyErased:
                lost.append(r["id"])
                continue
            db.execute("INSERT INTO hold_segments (hold_id, segment_id, wrapped_dek) "
                       "VALUES (?, ?, ?)",
                       (hold_id, r["id"], wrap(key, dek, f"hold-dek:{hold_id}:{r['id']}")))
            held.append(r["id"])
    return {"id": hold_id, "camera": camera_id, "start": start, "end": end,
            "segments": len(held), "already_erased": len(lost)}


def release_hold(store: EncryptedStore, hold_id: int, now: float | None = None, *,
                 checkpoint_attempts: int = CHECKPOINT_ATTEMPTS) -> dict:
    """Destroy the hold key and the data keys wrapped under it, then checkpoint the WAL so
    neither is left in a file (issue 9 item 6); `erase_complete` says whether that worked (if
    not, the alarm is raised and the owner retries every minute)."""
    with store.transaction() as db:
        row = db.execute("SELECT * FROM holds WHERE id = ?", (hold_id,)).fetchone()
        if row is None:
            raise HoldError(_("there is no hold %(number)s", number=hold_id))
        if row["released"] is not None:
            raise HoldError(_("hold %(number)s is released already", number=hold_id))
        slots = [r["slot"] for r in db.execute(
            "SELECT DISTINCT s.slot FROM hold_segments hs JOIN segments s ON s.id = hs.segment_id "
            "WHERE hs.hold_id = ?", (hold_id,))]
        (count,) = db.execute("SELECT count(*) FROM hold_segments WHERE hold_id = ?",
                              (hold_id,)).fetchone()
        db.execute("DELETE FROM hold_segments WHERE hold_id = ?", (hold_id,))
        db.execute("UPDATE holds SET released = ?, wrapped_key = NULL WHERE id = ?",
                   (time.time() if now is None else now, hold_id))
        # Segments whose slot key is gone have no key left: the next sweep erases them.
        db.executemany("UPDATE slot_keys SET purged = 0 WHERE slot = ? AND wrapped IS NULL",
                       [(s,) for s in slots])
    return {"id": hold_id, "released_segments": count,
            "erase_complete": store.purge_wal(checkpoint_attempts)}


def list_holds(store: EncryptedStore) -> list[dict]:
    with store.lock:
        rows = store.db.execute(
            "SELECT h.id, h.camera_id, h.start, h.end, h.reason, h.reference, h.created, "
            "h.released, (SELECT count(*) FROM hold_segments hs WHERE hs.hold_id = h.id) "
            "AS segments FROM holds h ORDER BY h.id").fetchall()
    return [dict(r) for r in rows]
