"""The clock at recording time (issue 13 item 3: the manifest states the clock's sync state and
measured offset when the footage was recorded).

When a segment begins, the recorder asks the kernel (adjtimex(2), `system/clock.kernel_clock`)
for the offset it is still correcting and its estimate of the clock's error, once per segment;
the store keeps both in `segment_clock`, in the same transaction as the segment's row, and
erases them with it. An ingested file has none: its times are asserted, not measured.
"""

from __future__ import annotations

import sqlite3


def record_clock(db: sqlite3.Connection, segment_id: str, offset: float,
                 est_error: float) -> None:
    """Keep one segment's clock reading (inside the caller's transaction)."""
    db.execute("INSERT INTO segment_clock (segment_id, offset, est_error) VALUES (?, ?, ?)",
               (segment_id, offset, est_error))


def clocks_of(db: sqlite3.Connection, segment_ids: list[str]) -> dict[str, dict]:
    """segment id -> {offset, est_error} for the segments that have a clock reading."""
    out: dict[str, dict] = {}
    for sid in segment_ids:
        row = db.execute("SELECT offset, est_error FROM segment_clock WHERE segment_id = ?",
                         (sid,)).fetchone()
        if row is not None:
            out[sid] = {"offset": row[0], "est_error": row[1]}
    return out


def summary(segments: list[dict], clocks: dict[str, dict], synced: bool) -> dict:
    """The manifest's `clock`: the sync state over the window and the largest offset and error
    the kernel reported while it was recorded (None when no segment has a reading)."""
    readings = [clocks[s["id"]] for s in segments if s["id"] in clocks]
    return {
        "synchronised": synced,
        "offset_seconds": max((abs(r["offset"]) for r in readings), default=None),
        "estimated_error_seconds": max((r["est_error"] for r in readings), default=None),
        "segments_with_reading": len(readings),
        "source": "adjtimex(2) when each segment began",
    }
