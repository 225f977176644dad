"""Retention by cryptographic erase (R-40, R-41).

A segment belongs to the key slot of the hour it starts in. A slot key is destroyed at the slot's
start plus the retention period, which is never later than 28 days after the end of any segment
under it (and at most one hour plus a segment earlier). Destroying the key is the erase; deleting
the files and rows afterwards only frees the space. Held segments keep a copy of their data key
under the hold's key, so they survive the slot; when the hold is released they are erased at the
next sweep if their slot is gone.

The sweep touches only slots that are due or not yet purged, so its cost does not grow with the
number of days kept. Only the store's owner sweeps (a reader takes ownership for the sweep, or
is refused while the recorder runs). After destroying keys it checkpoints the WAL without the
store lock and says whether the erase is complete on disk; if a reader kept the checkpoint
from finishing, the alarm `wal-not-purged` stays raised and every later sweep retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware.storage.hashes import prune
from firmware.storage.store import (CHECKPOINT_ATTEMPTS, CLOCK_AHEAD, WAL_ALARM,
                                    EncryptedStore, last_due_slot)
from firmware.system.clock import clock_synchronised

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0
CLOCK_ALARM = "clock-ahead"


@dataclass
class SweepReport:
    now: float
    slots_destroyed: list[int] = field(default_factory=list)
    segments_erased: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    horizon_seconds: float | None = None
    erase_complete: bool = True      # False: destroyed keys may still be in a file (alarm)
    clock_refused: str | None = None  # why the clock was not trusted: erased by the index's time
    hashes_pruned: int = 0           # recording-time hashes of erased segments removed

    def to_json(self) -> dict:
        return {"now": self.now, "slots_destroyed": self.slots_destroyed,
                "segments_erased": self.segments_erased, "bytes_freed": self.bytes_freed,
                "retention_horizon_seconds": self.horizon_seconds,
                "erase_complete": self.erase_complete, "clock_refused": self.clock_refused,
                "hashes_pruned": self.hashes_pruned}


def sweep(store: EncryptedStore, now: float | None = None, *, purge: bool = False,
          checkpoint_attempts: int = CHECKPOINT_ATTEMPTS,
          clock_checked: bool = False, logbook=None,
          declare: Callable[[dict], None] | None = None) -> SweepReport:
    """One sweep as the store's owner; `purge` checkpoints the WAL even if nothing was due
    (the owner does so at start, after a crash that may have come before the checkpoint).
    An explicit `now` (tests, benchmarks) or `clock_checked` (an operator confirmed the time:
    `nvr retention run --clock-checked`) skips the check of the clock in `clock_ahead`.
    With the usage `logbook`, the hashes of erased segments are pruned as well.
    With `clock_checked`, `declare` gets what the declared clock is about to do (`declared`)
    before any key is destroyed, and stops the sweep by raising
    (governance/clockcheck.py logs it, R-40, R-50)."""
    with store.owned("sweep"):
        refused = None if now is not None or clock_checked else clock_ahead(store)
        if refused is None:
            at = store.now(now)
            if clock_checked and declare is not None:
                declare(declared(store, at))
            store.clear_alarm(CLOCK_ALARM)
            return _sweep(store, at, purge, checkpoint_attempts, logbook=logbook)
        # The clock may have been moved forward: erase by the reference time (the index's time
        # at this process's start plus the time elapsed since), which this process's own
        # writes cannot move, never by the clock or a floor those writes raised.
        return _sweep(store, store.reference_time(), purge, checkpoint_attempts, refused,
                      logbook=logbook)


def finish_erase(store: EncryptedStore) -> SweepReport:
    """What a read-only command's owner may do: delete the files of keys destroyed already
    (a sweep killed half-way) and checkpoint; it never destroys a key (issue 9 review)."""
    with store.owned("sweep"):
        return _sweep(store, store.now(), True, CHECKPOINT_ATTEMPTS, destroy=False)


def declared(store: EncryptedStore, now: float) -> dict:
    """What a sweep by the clock `now`, declared right by hand, is about to destroy: the
    clock, the index's own time, whether the clock is synchronised, why it would not have been
    trusted, and the slots whose keys are due (the store is owned: nothing else sweeps)."""
    return {"clock": now, "index_time": store.reference_time() or None,
            "clock_synchronised": clock_synchronised(), "distrusted": _distrust(store),
            "slots": _due(store, now)}


def clock_ahead(store: EncryptedStore) -> str | None:
    """Why the clock may not be trusted to destroy keys, or None (R-40). A clock more than a
    day ahead of the newest time the index knows, and not synchronised, may have been moved
    forward: erasing then would destroy footage recorded minutes ago. A synchronised clock is
    trusted however far ahead it is (a device that was off for weeks must erase when it
    starts). The alarm is raised here and cleared when the clock is trusted again."""
    detail = _distrust(store)
    if detail is not None:
        store.raise_alarm(CLOCK_ALARM, detail)
    return detail


def _distrust(store: EncryptedStore) -> str | None:
    """Why the clock is not trusted to destroy keys (see `clock_ahead`), or None."""
    clock, known = time.time(), store.reference_time()
    if not known or clock - known <= CLOCK_AHEAD or clock_synchronised():
        return None                    # (an empty index knows no time, and has nothing to erase)
    return (f"the clock is {(clock - known) / 86400:.1f} days ahead of the newest recording "
              "or key in the index and is not synchronised: keys are destroyed by the "
              "index's time, not by this clock, until the time is right (synchronise the clock: NTP, timedatectl; or, if the time is right, "
              "`nvr retention run --clock-checked`, logged with your account: "
              "`sudo nvr-admin retention run --clock-checked --user NAME`)")


def _sweep(store: EncryptedStore, now: float, purge: bool, attempts: int,
           refused: str | None = None, destroy: bool = True, logbook=None) -> SweepReport:
    report = SweepReport(now, clock_refused=refused)
    # 1. Cryptographic erase: destroy every slot key that is due (by its row, or by the hard
    #    bound of its slot number). One transaction per slot, committed before any file is
    #    touched. Nothing is destroyed on a clock that is not trusted.
    due = _due(store, now) if destroy else []
    for slot in due:
        with store.transaction() as db:
            db.execute("UPDATE slot_keys SET wrapped = NULL, destroyed = ?, purged = 0 "
                       "WHERE slot = ?", (now, slot))
            db.execute("UPDATE segments SET wrapped_dek = NULL WHERE slot = ?", (slot,))
        store.forget_slot(slot)
        report.slots_destroyed.append(slot)
    # 2. Delete what no key opens any more: unheld segments of destroyed slots.
    with store.lock:
        pending = [r["slot"] for r in store.db.execute(
            "SELECT slot FROM slot_keys WHERE wrapped IS NULL AND purged = 0")]
    for slot in pending:
        with store.transaction() as db:
            rows = db.execute(
                "SELECT id, path, bytes FROM segments s WHERE slot = ? AND NOT EXISTS ("
                "SELECT 1 FROM hold_segments hs JOIN holds h ON h.id = hs.hold_id "
                "WHERE hs.segment_id = s.id AND h.wrapped_key IS NOT NULL)", (slot,)).fetchall()
            for r in rows:
                store._delete_segment(db, r["id"], r["path"])
                report.segments_erased.append(r["id"])
                report.bytes_freed += r["bytes"]
            db.execute("UPDATE slot_keys SET purged = 1 WHERE slot = ?", (slot,))
    # 2b. The recording-time hashes of erased segments, a sealed prefix of their chain, logged.
    if logbook is not None:
        report.hashes_pruned = _prune(store, logbook)
    # 3. The erase is complete only when no file holds the destroyed keys: checkpoint the WAL
    #    (without the store lock; writers go on) and check the result.
    if due or purge or report.hashes_pruned or any(a["kind"] == WAL_ALARM
                                                   for a in store.alarms()):
        report.erase_complete = store.purge_wal(attempts)
    report.horizon_seconds = store.horizon(now)
    if report.slots_destroyed or report.segments_erased:
        log.info("retention: destroyed %d slot key(s), erased %d segment(s), freed %d bytes",
                 len(report.slots_destroyed), len(report.segments_erased), report.bytes_freed)
    return report


def _due(store: EncryptedStore, now: float) -> list[int]:
    """The slots whose keys are due at `now` (by their row, or by the slot's hard bound)."""
    with store.lock:
        return [r["slot"] for r in store.db.execute(
            "SELECT slot FROM slot_keys WHERE wrapped IS NOT NULL AND (erase_at <= ? OR "
            "slot <= ?) ORDER BY slot", (now, last_due_slot(now)))]


def _prune(store: EncryptedStore, logbook) -> int:
    """Prune, never failing the sweep: a logbook that refuses is logged and tried next time."""
    try:
        done = prune(store, logbook)
    except Exception:
        log.exception("removing the recording-time hashes of erased segments failed; the "
                      "next sweep tries again (check `nvr logbook verify` and the key "
                      "directory)")
        return 0
    return done["removed"] if done else 0


class RetentionThread(threading.Thread):
    """Runs the sweep at start-up and every minute until stopped. `open_governance` makes
    the Governance whose usage logbook the sweep prunes with (opened in this thread, closed at
    the end); when it fails, the sweep erases without it and it is tried again next time."""

    def __init__(self, store: EncryptedStore, stop: threading.Event,
                 interval: float = SWEEP_INTERVAL,
                 open_governance: Callable[[], object] | None = None):
        super().__init__(name="retention", daemon=True)
        self.store, self.stop_event, self.interval = store, stop, interval
        self.open_governance = open_governance
        self.last: SweepReport | None = None

    def run(self) -> None:
        gov = None
        try:
            while True:
                gov = gov or self._governance()
                try:
                    self.last = sweep(self.store, logbook=gov.logbook if gov else None)
                except Exception:       # a failed sweep is retried next minute, loudly
                    log.exception("retention sweep failed; retrying in %.0f s", self.interval)
                if self.stop_event.wait(self.interval):
                    return
        finally:
            if gov is not None:
                gov.close()

    def _governance(self):
        if self.open_governance is None:
            return None
        try:
            return self.open_governance()
        except Exception:
            log.exception("the logbook could not be opened for the retention sweep: footage is "
                          "erased, the hashes of erased segments wait; trying again in %.0f s",
                          self.interval)
            return None
