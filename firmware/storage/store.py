"""The encrypted segment store: the recorder's only way to disk (R-40, R-41, R-42, R-82).

Write order for a segment: encrypt while streaming into `<name>.part`, fsync, rename, fsync the
directory, then index it with its wrapped data key. A crash before the index loses only that
segment: its key existed only in memory, and start-up reconciliation removes the file.
Plaintext never touches the disk, not even as a temporary file.

Two stages: the recorder's thread encrypts (the cipher releases the GIL), and one writer thread
per store does every file operation, fsync and index write. A slow card can therefore never
stall a camera, and encryption overlaps the disk. `commit()` returns at once; a segment is
durable when the writer has done it (`drain()` waits for that). A failure on the writer thread
loses that segment only: it is logged and counted in `lost_segments`.

One owner per data directory (firmware/storage/ownership.py): a process opens the store as a
reader (no writer thread, no reconcile, no sweep, no unlink) unless it owns it. `owner=True`
takes ownership at open: check the index, reconcile, sweep and purge the WAL before anything
is read. A reader that writes its first segment becomes the owner then (tests, benchmarks).
Every key lookup refuses a slot whose erase time has passed, in every process (R-40).

"Now" for erasure is never earlier than the newest time the index already knows (`floor()`),
so a clock set back cannot reopen a slot that is due; recording with such a clock is refused.
A slot's erase time is bounded by its own number (slot start + MAX_RETENTION_DAYS), not only
by its row, and the row's erase time is bound into the wrapped slot key: editing it with
sqlite3 either changes nothing or makes the key refuse to open.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from firmware.config import MAX_RETENTION_DAYS, Config
from firmware.storage import index
from firmware.storage.clockrecord import record_clock
from firmware.storage.hashes import audit, record_hash
from firmware.storage.keys import FileKeyProvider, KeyProblem, KeyProvider, new_key, unwrap, wrap
from firmware.storage.ownership import OwnerLock
from firmware.storage.segcrypt import (CIPHERS, EncryptingWriter, Header, SegmentError,
                                       decrypt_chunks, read_header)
from firmware.storage.sink import SegmentMeta, SegmentRecord, StorageError
from firmware.system.memory import trim_heap
from firmware.i18n import N_, _
from firmware.storage.durable import fsync_dir

log = logging.getLogger(__name__)

SLOT_SECONDS = 3600
INDEX_NAME = index.INDEX_NAME         # in index_dir: storage.index_dir of the configuration
SEGMENT_DIR = "segments"
SUFFIX = ".seg"
QUARANTINE = "quarantine"
WRITER_ENDED = N_("the store's writer thread has ended")
WRITER_HUNG = N_("a segment write or index commit has been running for %(seconds)s s (more "
                 "than %(bound)s s): the disk or the index hangs")
WAL_ALARM = "wal-not-purged"
CHECKPOINT_ATTEMPTS = 20           # 50 ms apart: a second, then the owner retries each minute
FULL_ALARM = "storage-full"        # R-42, kept in the index like the WAL alarm
HARD_LIMIT = MAX_RETENTION_DAYS * 86400     # no slot outlives its start by more
CLOCK_SLACK = 300                  # how far a recording clock may lag what the index knows
FLOOR_REFRESH = 5.0                # seconds between reads of the index's newest time
# Times from 2200 on are a damaged or forged row, never a recording: they do not count for the
# floor (one bad row must not make every key due).
IMPOSSIBLE_TIME = 7258118400.0     # 2200-01-01 UTC
CLOCK_ALARM_BEHIND = "clock-behind"
CLOCK_AHEAD = 86400.0              # a clock this far ahead of the index must be synchronised


def hard_erase_at(slot: int) -> float:
    """The latest a slot can ever be erased, from its number alone (R-40)."""
    return slot * SLOT_SECONDS + HARD_LIMIT


def last_due_slot(now: float) -> int:
    """Every slot up to this number is due at `now` by the hard bound."""
    return int((now - HARD_LIMIT) // SLOT_SECONDS)


def slot_context(slot: int, erase_at: float) -> str:
    """The associated data of a wrapped slot key: the row's erase time is part of it."""
    return f"slot:{slot}:erase_at:{float(erase_at)!r}"


class StorageFull(StorageError):
    """R-42 alarm: the disk is above its high-water mark and nothing may be evicted."""


class KeyErased(StorageError):
    """The data key of a segment no longer exists: the footage is gone for good."""


class ClockBehind(StorageError):
    """The clock is behind what the index already recorded: recording now would be wrong."""


class SegmentMissing(StorageError):
    """An indexed segment's file is gone (removed after it was listed)."""


class IndexMissing(StorageError):
    """Segment files without their index: nothing may be deleted, nothing can be opened."""


@dataclass(frozen=True)
class Reconciliation:
    quarantined: list[str]       # files the index does not explain, moved to data_dir/quarantine
    partial: list[str]           # .part files of a crashed owner, removed by the next owner
    missing: list[str]           # indexed segments whose file is gone
    erased: list[str] = field(default_factory=list)   # keyless rows whose file went first

    def to_json(self) -> dict:
        return {"quarantined": self.quarantined, "partial_removed": self.partial,
                "missing_files": self.missing, "erased_rows_removed": self.erased}



class _Queued:
    """The raw file as EncryptingWriter sees it: writes go to the store's writer thread."""

    def __init__(self, target: "_Target"):
        self.target = target

    def write(self, data: bytes) -> int:
        self.target.store.submit(functools.partial(self.target._write_raw, data))
        return len(data)


class _Target:
    """One segment being written. Public methods run on the recorder's thread, the ones with
    a leading underscore on the store's writer thread."""

    stream = EncryptingWriter          # bench/store.py swaps in a pass-through for its baseline

    def __init__(self, store: "EncryptedStore", meta: SegmentMeta, slot: int, dek: bytes,
                 final: Path):
        self.store, self.meta, self.slot, self.final = store, meta, slot, final
        self._dek = dek
        self.tmp = final.with_name(final.name + ".part")
        self._file = None
        self._error: BaseException | None = None
        store.submit(self._open)
        header = Header(meta.segment_id, slot, store.device_id, store.cipher)
        self._enc = self.stream(_Queued(self), header, dek)
        self._sha = hashlib.sha256()   # of the plaintext, as it passes: no second read

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        return self._enc.write(data)

    def commit(self, end: datetime, frames: int) -> SegmentRecord:
        self._enc.finish()
        record = SegmentRecord(self.meta, end, frames, self._enc.bytes_out, self.final)
        self.store.submit(functools.partial(self._finish, record, self._sha.hexdigest()))
        return record

    def abort(self) -> None:
        self.store.submit(self._discard)

    # --- writer thread ---

    def _open(self) -> None:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.tmp, "wb")
        except OSError as exc:
            self._fail(exc)

    def _write_raw(self, data: bytes) -> None:
        if self._error is None:
            try:
                self._file.write(data)
            except OSError as exc:
                self._fail(exc)

    def _finish(self, record: SegmentRecord, sha256: str) -> None:
        if self._error is not None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.tmp, self.final)
            fsync_dir(self.final.parent)
            self.store._index_segment(record, self.slot, self._dek, sha256)
        except (OSError, StorageError) as exc:
            self._fail(exc)
            try:
                self.final.unlink(missing_ok=True)
            except OSError:
                pass
        else:
            self.store.failing.pop(self.meta.camera_id, None)     # storing works (again)
            self.store.last_stored = time.time()                   # the recorder's status says it
        trim_heap()

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:                 # its folder is gone or not a folder: nothing to remove
            pass

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self.store.lost_segments += 1
        camera = self.meta.camera_id
        self.store.lost_by_camera[camera] = self.store.lost_by_camera.get(camera, 0) + 1
        # Said by the recorder's status, so /readyz is not ready while segments are lost.
        self.store.failing[self.meta.camera_id] = str(exc)
        self._discard()
        log.error("segment %s of camera %s lost: %s", self.meta.segment_id,
                  self.meta.camera_id, exc)


class EncryptedStore:
    """Segments, keys and holds of one device. Safe to share between threads."""

    target_class = _Target

    def __init__(self, data_dir: Path, device_id: str, provider: KeyProvider, *,
                 retention_days: int, high_water_percent: int = 90,
                 cipher: str = "chacha20-poly1305", create_key: bool = True,
                 owner: bool = False, index_dir: Path | None = None):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / SEGMENT_DIR
        self.index_dir = Path(index_dir) if index_dir is not None else self.data_dir
        self.index_path = self.index_dir / INDEX_NAME
        self.device_id = device_id
        self.retention = retention_days * 86400
        self.high_water = high_water_percent / 100
        self.cipher = CIPHERS[cipher]
        self.lock = threading.RLock()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ownership = OwnerLock(self.data_dir)
        index.refuse_left_behind(self.data_dir, self.index_dir)       # R-82, a moved index
        self.index_dir.mkdir(parents=True, exist_ok=True)
        if not self.index_path.exists() or self.index_path.stat().st_size == 0:
            self._refuse_segments_without_index()
        self.db = index.connect(self.index_path)
        index.check_size(self.db, self.index_path)
        (slots,) = self.db.execute("SELECT count(*) FROM slot_keys").fetchone()
        if slots == 0:                 # an index that never saw a segment: new, or not ours
            self._refuse_segments_without_index(self.db.close)
        self.master = self._master_key(provider, create_key)
        self._slot_cache: dict[int, tuple[bytes, float]] = {}     # slot: (key, erase_at)
        self._cache_expiry = float("inf")
        self._floor = 0.0
        self._floor_read = float("-inf")
        self._first_known: tuple[float, float] | None = None
        self._purpose = "record"
        self._clock_behind = False
        self.floor(refresh=True)
        self.lost_segments = 0
        self.failing: dict[str, str] = {}   # camera: why its last segment was lost, until one is kept
        # Per camera since this process started, for /metrics (the recorder's status):
        self.lost_by_camera: dict[str, int] = {}    # segments lost on the writer thread
        self.written_by_camera: dict[str, tuple[int, int]] = {}    # (segments, bytes) kept
        self.reconciliation: Reconciliation | None = None
        # 16 operations of at most a 256 KiB chunk each: at most ~4 MB waits for a slow disk.
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._writer: threading.Thread | None = None
        # For the recorder's watchdog (recording/watchdog.py), read without a lock: since when
        # (monotonic) the writer works on its current operation (None when idle), and when
        # (epoch) the last segment reached the disk and the index.
        self.busy_since: float | None = None
        self.last_stored: float | None = None
        if owner:
            self.take_ownership("record")

    def _refuse_segments_without_index(self, before=None) -> None:
        if self.root.exists() and next(self.root.rglob("*" + SUFFIX), None) is not None:
            if before is not None:
                before()
            count = sum(1 for _ in self.root.rglob("*" + SUFFIX))
            raise IndexMissing(_(
                "%(directory)s holds %(count)s segment file(s) but no index (%(index)s is "
                "missing or empty): restore %(index)s from its backup (or move it back) "
                "and start again. Nothing was deleted; without the index the footage cannot "
                "be opened, and nothing is erased or reconciled until it is back.",
                directory=self.data_dir, count=count,
                index=INDEX_NAME if self.index_dir == self.data_dir else self.index_path))

    def take_ownership(self, what: str) -> Reconciliation:
        """Become the owner for this process's life (or until close): check the index, make
        disk and index agree, sweep and purge the WAL, then start the writer thread. Raises
        StoreBusy when another process owns the store."""
        from firmware.storage.retention import sweep
        self.ownership.acquire(what)
        try:
            if what in ("record", "ingest"):
                self._purpose = what
                self.check_clock(what, refresh=True)
            index.check(self.db, self.index_path)
            self.reconciliation = self.reconcile()
            sweep(self, purge=True)
        except BaseException:
            self.ownership.release()
            raise
        self._start_writer()
        return self.reconciliation

    def settle(self, what: str) -> Reconciliation:
        """Own the store for this call only: check the index, make disk and index agree and
        purge the WAL; no sweep (a read-only command never erases). Gives ownership back
        unless this process owned the store already (StoreBusy if another one does). The
        files of keys a killed sweep destroyed already are deleted (they open with nothing)."""
        from firmware.storage.retention import finish_erase
        with self.owned(what):
            index.check(self.db, self.index_path)
            self.reconciliation = self.reconcile()
            finish_erase(self)
        return self.reconciliation

    # --- time -------------------------------------------------------------------------------

    def known_time(self) -> float:
        """The newest time the index knows: slot keys made or destroyed, segments, holds.
        Times from 2200 on (a damaged or forged row) do not count."""
        with self.lock:
            (t,) = self.db.execute(
                "SELECT max(coalesce((SELECT max(max(created, coalesce(destroyed, 0))) FROM "
                "slot_keys WHERE max(created, coalesce(destroyed, 0)) < :cap), 0), "
                "coalesce((SELECT max(start) FROM segments WHERE start < :cap), 0), "
                "coalesce((SELECT max(max(created, coalesce(released, 0))) FROM holds "
                "WHERE max(created, coalesce(released, 0)) < :cap), 0))",
                {"cap": IMPOSSIBLE_TIME}).fetchone()
        return t or 0.0

    def floor(self, refresh: bool = False) -> float:
        """The time erasure never goes below in this process: the newest the index knows,
        read at most every few seconds, and never lower than before (R-40)."""
        tick = time.monotonic()
        if refresh or tick - self._floor_read >= FLOOR_REFRESH:
            known = self.known_time()
            if self._first_known is None:
                self._first_known = (known, tick)
            self._floor = max(self._floor, known)
            self._floor_read = tick
        return self._floor

    def reference_time(self) -> float | None:
        """The index's newest time when this process first read it, plus the time elapsed
        since on the monotonic clock: an estimate of the time that this process's own writes
        (made with a clock that may be wrong) cannot move. None before the first read or for an
        empty index."""
        if self._first_known is None:
            self.floor(refresh=True)
        known, tick = self._first_known
        return known + (time.monotonic() - tick) if known else None

    def now(self, now: float | None = None) -> float:
        """"Now" for erasure: the clock (or `now`), but never before the floor."""
        return max(time.time() if now is None else now, self.floor())

    def check_clock(self, what: str, refresh: bool = False) -> None:
        """A clock behind what the index already recorded (R-40). Erasure never goes by it
        (`now` is never below the floor); an ingest is refused (ClockBehind), a recorder
        records on, because the cameras never stop, and raises the alarm `clock-behind` until
        the clock has caught up. Per segment the floor read at most 5 s ago is enough."""
        clock, known = time.time(), self.floor(refresh=refresh)
        behind = clock < known - CLOCK_SLACK
        if behind and what != "record":
            fmt = "%Y-%m-%d %H:%M:%S UTC"
            raise ClockBehind(_(
                "the clock is behind what was already recorded: it says %(clock)s, but the "
                "index holds footage or keys of %(known)s. Fix the time (NTP, timedatectl) and "
                "start again; nothing was recorded", clock=time.strftime(fmt, time.gmtime(clock)),
                known=time.strftime(fmt, time.gmtime(known))))
        if behind != self._clock_behind:
            self._clock_behind = behind
            if behind:
                self.raise_alarm(CLOCK_ALARM_BEHIND, (
                    f"the clock is {(known - clock) / 3600:.1f} h behind the newest recording "
                    "in the index: recording goes on, erasure goes by the index's time; "
                    "synchronise the clock (NTP, timedatectl)"))
            else:
                self.clear_alarm(CLOCK_ALARM_BEHIND)

    @contextlib.contextmanager
    def owned(self, what: str) -> Iterator[None]:
        """Ownership for a block: kept if this process owns the store already, else taken for
        the block and given back after (StoreBusy if another process owns it)."""
        if self.ownership.held:
            yield
            return
        self.ownership.acquire(what)
        try:
            yield
        finally:
            if self._writer is None:           # unless it became the writer meanwhile
                self.ownership.release()

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="store-writer",
                                            daemon=True)
            self._writer.start()

    @classmethod
    def from_config(cls, cfg: Config, **kw) -> "EncryptedStore":
        s = cfg.storage
        return cls(s.data_dir, cfg.device.id, FileKeyProvider(s.key_dir),
                   retention_days=s.retention_days, high_water_percent=s.high_water_percent,
                   cipher=s.cipher, index_dir=s.index_dir, **kw)

    def _master_key(self, provider: KeyProvider, create: bool) -> bytes:
        if provider.exists():
            return provider.load()
        (slots,) = self.db.execute("SELECT count(*) FROM slot_keys").fetchone()
        (holds,) = self.db.execute("SELECT count(*) FROM holds WHERE wrapped_key IS NOT NULL"
                                   ).fetchone()
        if slots or holds:
            raise KeyProblem(_("the master key is missing but the index holds %(slots)s slot key(s) "
                               "and %(holds)s hold key(s): restore the key file from its "
                               "backup; without it the footage cannot be opened", slots=slots,
                               holds=holds))
        if not create:
            raise KeyProblem(_("there is no master key yet: start the recorder once to create it"))
        return provider.create()

    def _write_loop(self) -> None:
        while True:
            op = self._queue.get()
            self.busy_since = time.monotonic()
            try:
                if op is None:
                    return
                op()
            except Exception:                  # never let one segment kill the writer
                log.exception("store writer: unexpected failure")
            finally:
                self.busy_since = None
                self._queue.task_done()

    def writer_problem(self, bound: float,
                       now: float | None = None) -> tuple[str, dict] | None:
        """Why segments do not reach the disk, as a catalogue message and its values (the
        watchdog's status is Dutch): the writer thread died, or one operation (a write, fsync
        or index commit) has been running longer than `bound` seconds; None when neither.
        Takes no lock, so it answers while a write hangs holding one."""
        writer = self._writer
        if writer is not None and not writer.is_alive() and self.ownership.held:
            return WRITER_ENDED, {}
        since = self.busy_since
        now = time.monotonic() if now is None else now
        if since is not None and now - since > bound:
            return WRITER_HUNG, {"seconds": f"{now - since:.0f}", "bound": f"{bound:g}"}
        return None

    def writer_hung(self, bound: float, now: float | None = None) -> str:
        """writer_problem in English (the journal, the recorder's health), "" when none."""
        problem = self.writer_problem(bound, now)
        return problem[0] % problem[1] if problem else ""

    def submit(self, op) -> None:
        """Queue work for the writer thread; blocks while 16 operations wait (backpressure)."""
        self._queue.put(op)

    def drain(self) -> None:
        """Wait until every queued write is on disk and indexed."""
        self._queue.join()

    def close(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        with self.lock:
            self.db.close()
        self.ownership.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # --- keys -----------------------------------------------------------------------------

    def slot_of(self, t: float) -> int:
        return int(t // SLOT_SECONDS)

    def _slot_key(self, slot: int, *, create: bool = False,
                  now: float | None = None) -> bytes | None:
        """The slot's key; a new one if there is none yet and `create`; None once destroyed or
        once its erase time has passed, whether or not a sweep ran (R-40). Keys leave the
        cache at their erase time."""
        now = self.now(now)
        with self.lock:
            if now >= self._cache_expiry:
                self._slot_cache = {s: c for s, c in self._slot_cache.items() if now < c[1]}
                self._cache_expiry = min((c[1] for c in self._slot_cache.values()),
                                         default=float("inf"))
            cached = self._slot_cache.get(slot)
            if cached is not None:
                return cached[0] if now < cached[1] else None
            row = self.db.execute("SELECT wrapped, erase_at FROM slot_keys WHERE slot = ?",
                                  (slot,)).fetchone()
            if row is not None:
                erase_at = min(row["erase_at"], hard_erase_at(slot))
                if row["wrapped"] is None or now >= erase_at:
                    return None
                key = unwrap(self.master, row["wrapped"], slot_context(slot, row["erase_at"]))
            elif create:
                start = slot * SLOT_SECONDS
                erase_at = min(start + self.retention, hard_erase_at(slot))
                if now >= erase_at:
                    return None
                key = new_key()
                self.db.execute(
                    "INSERT INTO slot_keys (slot, start, erase_at, wrapped, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (slot, start, erase_at, wrap(self.master, key, slot_context(slot, erase_at)),
                     now))
            else:
                return None
            if now < erase_at:
                self._slot_cache[slot] = (key, erase_at)
                self._cache_expiry = min(self._cache_expiry, erase_at)
            return key

    def forget_slot(self, slot: int) -> None:
        with self.lock:
            self._slot_cache.pop(slot, None)

    def _erased(self, segment_id: str, slot: int | None, now: float) -> KeyErased:
        """Why a segment has no key any more, in words."""
        row = None
        if slot is not None:
            with self.lock:
                row = self.db.execute("SELECT erase_at FROM slot_keys WHERE slot = ?",
                                      (slot,)).fetchone()
        due = None if row is None else min(row["erase_at"], hard_erase_at(slot))
        if due is not None and due <= now:
            when = datetime.fromtimestamp(due).astimezone().isoformat(timespec="seconds")
            return KeyErased(_("segment %(segment)s: its key was erased on %(when)s by the "
                               "retention rule (R-40); it can never be decrypted again",
                               segment=segment_id, when=when))
        return KeyErased(_("segment %(segment)s: its key was erased (capacity eviction or "
                           "released hold); it can never be decrypted again", segment=segment_id))

    def hold_key(self, hold_id: int, wrapped: bytes) -> bytes:
        return unwrap(self.master, wrapped, f"hold:{hold_id}")

    def data_key(self, segment_id: str, now: float | None = None) -> bytes:
        """The segment's data key, through its slot key or any hold; KeyErased if none."""
        now = self.now(now)
        with self.lock:
            row = self.db.execute("SELECT slot, wrapped_dek FROM segments WHERE id = ?",
                                  (segment_id,)).fetchone()
            if row is not None and row["wrapped_dek"] is not None:
                slot_key = self._slot_key(row["slot"], now=now)
                if slot_key is not None:
                    return unwrap(slot_key, row["wrapped_dek"], f"dek:{segment_id}")
            held = self.db.execute(
                "SELECT h.id, h.wrapped_key, hs.wrapped_dek FROM hold_segments hs "
                "JOIN holds h ON h.id = hs.hold_id "
                "WHERE hs.segment_id = ? AND h.wrapped_key IS NOT NULL LIMIT 1",
                (segment_id,)).fetchone()
            if held is not None:
                hk = self.hold_key(held["id"], held["wrapped_key"])
                return unwrap(hk, held["wrapped_dek"], f"hold-dek:{held['id']}:{segment_id}")
        raise self._erased(segment_id, row["slot"] if row is not None else None, now)

    # --- writing (the SegmentSink interface) ------------------------------------------------

    def begin(self, meta: SegmentMeta) -> _Target:
        if self._writer is None:                        # the first segment: become the owner
            self.ownership.acquire("record")
            self._start_writer()
        start = meta.start.timestamp()
        if start > time.time() + CLOCK_SLACK:
            raise StorageError(_("camera %(camera)s: footage from %(start)s UTC lies in the future: "
                                 "not stored (a start time in the future would make the store "
                                 "erase by it)", camera=meta.camera_id,
                                 start=f"{meta.start:%Y-%m-%d %H:%M}"))
        self.check_clock(self._purpose)
        self.ensure_capacity()
        slot = self.slot_of(start)
        with self.lock:                                 # the slot key exists before any data
            if self._slot_key(slot, create=True) is None:
                raise KeyErased(_("camera %(camera)s: footage from %(start)s is past its erase time: "
                                  "not stored (R-40)", camera=meta.camera_id,
                                  start=f"{meta.start:%Y-%m-%d %H:%M}"))
        name = f"{meta.start:%Y%m%dT%H%M%S}Z_{meta.segment_id}{SUFFIX}"
        final = self.root / meta.camera_id / meta.start.strftime("%Y-%m-%d") / name
        return self.target_class(self, meta, slot, new_key(), final)

    def _index_segment(self, record: SegmentRecord, slot: int, dek: bytes,
                       sha256: str | None = None) -> None:
        m = record.meta
        start, end = m.start.timestamp(), record.end.timestamp()
        with self.transaction() as db:
            slot_key = self._slot_key(slot)
            if slot_key is None:
                raise KeyErased(_("slot %(slot)s was erased while segment %(segment)s was written",
                                  slot=slot, segment=m.segment_id))
            db.execute("INSERT INTO cameras (id, name, location) VALUES (?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                       "location = excluded.location", (m.camera_id, m.camera_name, m.location))
            db.execute("INSERT INTO events (id, camera_id, start, end) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET end = max(events.end, excluded.end)",
                       (m.event_id, m.camera_id, start, end))
            db.execute(
                "INSERT INTO segments (id, camera_id, event_id, start, end, slot, wrapped_dek, "
                "path, bytes, frames, clock_synced, location) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (m.segment_id, m.camera_id, m.event_id, start, end, slot,
                 wrap(slot_key, dek, f"dek:{m.segment_id}"),
                 str(record.path.relative_to(self.data_dir)), record.bytes, record.frames,
                 int(m.clock_synced), m.location))
            if sha256 is not None:
                record_hash(db, m.segment_id, sha256)
            if m.clock_offset is not None and m.clock_error is not None:
                record_clock(db, m.segment_id, m.clock_offset, m.clock_error)
            # footage recorded inside the window of an active hold is held from the start.
            holds = db.execute("SELECT id, wrapped_key FROM holds WHERE camera_id = ? AND "
                               "released IS NULL AND start < ? AND end > ?",
                               (m.camera_id, end, start)).fetchall()
            for h in holds:
                hk = self.hold_key(h["id"], h["wrapped_key"])
                db.execute("INSERT INTO hold_segments (hold_id, segment_id, wrapped_dek) "
                           "VALUES (?, ?, ?)",
                           (h["id"], m.segment_id,
                            wrap(hk, dek, f"hold-dek:{h['id']}:{m.segment_id}")))
        n, size = self.written_by_camera.get(m.camera_id, (0, 0))
        self.written_by_camera[m.camera_id] = (n + 1, size + record.bytes)

    # --- capacity (R-42) --------------------------------------------------------------------

    def disk_used(self) -> float:
        usage = shutil.disk_usage(self.data_dir)
        return (usage.total - usage.free) / usage.total

    def ensure_capacity(self) -> int:
        """Evict the oldest unheld segments until the disk is below its high-water mark.

        Raises StorageFull (the R-42 alarm) when that is impossible; returns how many went."""
        evicted = 0
        while self.disk_used() > self.high_water:
            with self.transaction() as db:
                row = db.execute(
                    "SELECT id, path FROM segments s WHERE NOT EXISTS (SELECT 1 FROM "
                    "hold_segments hs JOIN holds h ON h.id = hs.hold_id WHERE hs.segment_id = "
                    "s.id AND h.released IS NULL) ORDER BY start LIMIT 1").fetchone()
                if row is not None:
                    self._delete_segment(db, row["id"], row["path"])
            if row is None:
                detail = (f"disk {self.disk_used():.0%} full (high-water mark "
                          f"{self.high_water:.0%}) and all footage left is held: "
                          "recording stopped (R-42)")
                self.raise_alarm(FULL_ALARM, detail)
                raise StorageFull(detail)
            evicted += 1
        if evicted:
            log.warning("capacity: evicted the %d oldest unheld segment(s) (R-42)", evicted)
        self.clear_alarm(FULL_ALARM)           # one SELECT per segment when there is none
        return evicted

    def _delete_segment(self, db, segment_id: str, path: str) -> None:
        """Erase one segment: its wrapped keys go first, then the file, then an empty event."""
        event = db.execute("SELECT event_id FROM segments WHERE id = ?",
                           (segment_id,)).fetchone()
        db.execute("DELETE FROM hold_segments WHERE segment_id = ?", (segment_id,))
        db.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
        db.execute("DELETE FROM segment_clock WHERE segment_id = ?", (segment_id,))
        if event is not None:
            db.execute("DELETE FROM events WHERE id = ? AND NOT EXISTS (SELECT 1 FROM segments "
                       "WHERE event_id = ?)", (event["event_id"], event["event_id"]))
        (self.data_dir / path).unlink(missing_ok=True)

    # --- reading ----------------------------------------------------------------------------

    def segment_row(self, segment_id: str):
        with self.lock:
            return self.db.execute("SELECT * FROM segments WHERE id = ?",
                                   (segment_id,)).fetchone()

    def read_segment(self, segment_id: str, now: float | None = None) -> Iterator[bytes]:
        """The plaintext MP4 of an indexed segment, chunk by chunk, authenticated."""
        row = self.segment_row(segment_id)
        if row is None:
            raise KeyErased(_("segment %(segment)s is not in the index", segment=segment_id))
        dek = self.data_key(segment_id, now)
        path = self.data_dir / row["path"]
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise SegmentMissing(_("segment %(segment)s: its file %(path)s is missing (removed "
                                   "after it was listed); run `nvr recordings verify` to "
                                   "reconcile the index", segment=segment_id, path=path)) from None
        with f:
            yield from decrypt_chunks(f, dek, expected_id=segment_id, name=f"segment {segment_id}")

    def decrypt_file(self, path: Path, now: float | None = None) -> Iterator[bytes]:
        """Decrypt any segment file of this device, also a copy taken elsewhere."""
        header = read_header(path)
        if header.device_id != self.device_id:
            raise KeyErased(_("%(path)s was recorded by device '%(device)s', not by '%(this)s': "
                              "decrypt it on that device", path=path, device=header.device_id,
                              this=self.device_id))
        try:
            dek = self.data_key(header.segment_id, now)
        except KeyErased:
            now = self.now(now)
            raise KeyErased(_("%(path)s: %(why)s", path=path,
                              why=self._erased(header.segment_id, header.slot, now))) from None
        with open(path, "rb") as f:
            yield from decrypt_chunks(f, dek, name=str(path))

    def list_segments(self, camera_id: str | None = None, start: float | None = None,
                      end: float | None = None, now: float | None = None) -> list[dict]:
        """Segments whose key still opens at `now` (R-40: a slot past its erase time counts as
        erased, swept or not, unless a hold keeps the segment), oldest first; optionally of
        one camera and overlapping [start, end)."""
        held = ("EXISTS (SELECT 1 FROM hold_segments hs JOIN holds h ON h.id = hs.hold_id "
                "WHERE hs.segment_id = s.id AND h.released IS NULL)")
        sql = ("SELECT s.id, s.camera_id, s.event_id, s.start, s.end, s.bytes, s.path, s.status, "
               f"s.frames, s.location, s.clock_synced, {held} AS held FROM segments s "
               "JOIN slot_keys k ON k.slot = s.slot")
        now = self.now(now)
        where, args = [f"((k.erase_at > ? AND k.slot > ?) OR {held})"], [now, last_due_slot(now)]
        if camera_id:
            where.append("s.camera_id = ?")
            args.append(camera_id)
        if start is not None and end is not None:
            where += ["s.start < ?", "s.end > ?"]
            args += [end, start]
        sql += " WHERE " + " AND ".join(where)
        with self.lock:
            return [dict(r) for r in self.db.execute(sql + " ORDER BY s.start", args)]

    def horizon(self, now: float | None = None) -> float | None:
        """Age in seconds of the oldest footage kept: the retention horizon reached (R-42)."""
        with self.lock:
            (oldest,) = self.db.execute("SELECT min(start) FROM segments").fetchone()
        return None if oldest is None else self.now(now) - oldest

    # --- alarms and the WAL -----------------------------------------------------------------

    def alarms(self) -> list[dict]:
        """Alarms kept in the index, so every process (and /metrics) sees them."""
        with self.lock:
            return [dict(r) for r in self.db.execute("SELECT kind, since, detail FROM alarms "
                                                     "ORDER BY kind")]

    def raise_alarm(self, kind: str, detail: str) -> None:
        """Keep an alarm in the index (every process sees it) until `clear_alarm`."""
        with self.transaction() as db:
            db.execute("INSERT INTO alarms (kind, since, detail) VALUES (?, ?, ?) "
                       "ON CONFLICT (kind) DO UPDATE SET detail = excluded.detail",
                       (kind, time.time(), detail))
        log.warning("alarm %s: %s", kind, detail)

    def clear_alarm(self, kind: str) -> None:
        with self.lock:
            present = self.db.execute("SELECT 1 FROM alarms WHERE kind = ?",
                                      (kind,)).fetchone() is not None
        if present:
            with self.transaction() as db:
                db.execute("DELETE FROM alarms WHERE kind = ?", (kind,))
            log.info("alarm %s cleared", kind)

    def purge_wal(self, attempts: int = CHECKPOINT_ATTEMPTS) -> bool:
        """Checkpoint the WAL into the database and empty it, so keys set to NULL are in no
        file any more (secure_delete zeroed their old bytes in the page). Runs without the
        store lock and without blocking writers; when a reader on an old snapshot keeps it from
        finishing, the alarm `wal-not-purged` is raised (and cleared by the next success).
        Returns whether the erase is complete on disk."""
        result = index.checkpoint(self.index_path, attempts)
        with self.lock:
            pending = self.db.execute("SELECT 1 FROM alarms WHERE kind = ?",
                                      (WAL_ALARM,)).fetchone() is not None
        if result.done and pending:
            with self.transaction() as db:
                db.execute("DELETE FROM alarms WHERE kind = ?", (WAL_ALARM,))
            log.info("WAL purged: erased keys are in no file any more; alarm cleared")
        elif not result.done:
            detail = (f"{result.wal_pages - max(result.moved_pages, 0)} page(s) of "
                      f"{INDEX_NAME}-wal could not be checkpointed after {result.attempts} "
                      "attempt(s): a reader holds an old snapshot open. Erased keys may still "
                      "be in the WAL or the database file; the owner retries every minute")
            with self.transaction() as db:
                db.execute("INSERT INTO alarms (kind, since, detail) VALUES (?, ?, ?) "
                           "ON CONFLICT (kind) DO UPDATE SET detail = excluded.detail",
                           (WAL_ALARM, time.time(), detail))
            log.warning("alarm %s: %s", WAL_ALARM, detail)
        return result.done

    # --- start-up and maintenance ---------------------------------------------------------

    def reconcile(self) -> Reconciliation:
        """Make disk and index agree after a crash or power cut (the owner only).

        `.part` files are the owner's own debris (their key died with the process that wrote
        them). A finished file the index does not explain is never deleted: it goes to
        data_dir/quarantine and is reported. A row whose file is gone is marked missing, unless
        its key was erased already (the file went first, the crash came before the row)."""
        with self.owned("reconcile"), self.lock:
            rows = self.db.execute(
                "SELECT id, path, status, wrapped_dek IS NULL AND NOT EXISTS (SELECT 1 FROM "
                "hold_segments hs JOIN holds h ON h.id = hs.hold_id WHERE hs.segment_id = s.id "
                "AND h.wrapped_key IS NOT NULL) AS keyless FROM segments s").fetchall()
            indexed = {r["path"]: r for r in rows}
            quarantined, partial, seen = [], [], set()
            if self.root.exists():
                for dirpath, _, files in os.walk(self.root):
                    for name in files:
                        path = Path(dirpath) / name
                        rel = str(path.relative_to(self.data_dir))
                        if name.endswith(".part"):
                            path.unlink()
                            partial.append(rel)
                        elif rel in indexed:
                            seen.add(rel)
                        else:
                            self._quarantine(path, rel)
                            quarantined.append(rel)
            missing, erased = [], []
            with self.transaction() as db:
                for rel, r in indexed.items():
                    if rel in seen:
                        if r["status"] == "missing":
                            db.execute("UPDATE segments SET status = 'ok' WHERE id = ?",
                                       (r["id"],))
                    elif r["keyless"]:
                        self._delete_segment(db, r["id"], rel)
                        erased.append(r["id"])
                    elif r["status"] != "missing":
                        db.execute("UPDATE segments SET status = 'missing' WHERE id = ?",
                                   (r["id"],))
                        missing.append(r["id"])
        if quarantined or partial or missing:
            log.warning("reconcile: moved %d unexplained file(s) to %s, removed %d partial "
                        "file(s); %d indexed segment(s) have no file", len(quarantined),
                        self.data_dir / QUARANTINE, len(partial), len(missing))
        return Reconciliation(quarantined, partial, missing, erased)

    def quarantined(self) -> list[str]:
        """Files waiting in the quarantine folder for the operator, relative to data_dir."""
        folder = self.data_dir / QUARANTINE
        return sorted(str(p.relative_to(self.data_dir)) for p in folder.rglob("*")
                      if p.is_file()) if folder.exists() else []

    def _quarantine(self, path: Path, rel: str) -> None:
        target = self.data_dir / QUARANTINE / Path(rel).relative_to(SEGMENT_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        fsync_dir(target.parent)

    def verify(self, now: float | None = None,
               vouched: Callable[[int], bool] | None = None) -> tuple[int, list[dict]]:
        """Decrypt and authenticate every segment that can still be opened, and check the
        recording-time hashes (storage/hashes.py `audit`, `vouched` as there); returns
        (checked, problems). Safe beside a running owner: it changes nothing, and footage the
        owner erased or that fell due meanwhile is not a problem."""
        problems, checked, plaintext = [], 0, {}
        for row in self.list_segments(now=now):
            checked += 1
            if row["status"] == "missing":
                problems.append({"segment": row["id"], "error": f"file {row['path']} is missing"})
                continue
            digest = hashlib.sha256()
            try:
                for chunk in self.read_segment(row["id"], now):
                    digest.update(chunk)
            except (SegmentError, SegmentMissing, KeyErased, KeyProblem, OSError) as exc:
                if self._gone_meanwhile(row["id"]):
                    checked -= 1
                    continue
                problems.append({"segment": row["id"], "error": str(exc)})
                continue
            plaintext[row["id"]] = digest.hexdigest()
        with self.lock:                 # hashes changed since recording or their seal
            problems += audit(self.db, plaintext, vouched)
        return checked, problems

    def _gone_meanwhile(self, segment_id: str) -> bool:
        """Erased (swept, evicted, fallen due) since the listing: not a fault of the store."""
        now = self.now()
        with self.lock:
            return self.db.execute(
                "SELECT 1 FROM segments s JOIN slot_keys k ON k.slot = s.slot WHERE s.id = ? "
                "AND ((k.erase_at > ? AND k.slot > ?) OR EXISTS (SELECT 1 FROM hold_segments "
                "hs JOIN holds h ON h.id = hs.hold_id WHERE hs.segment_id = s.id AND "
                "h.released IS NULL))", (segment_id, now, last_due_slot(now))).fetchone() is None
