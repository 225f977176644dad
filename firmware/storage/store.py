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
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from firmware.config import Config
from firmware.storage import index
from firmware.storage.keys import FileKeyProvider, KeyProblem, KeyProvider, new_key, unwrap, wrap
from firmware.storage.segcrypt import (CIPHERS, EncryptingWriter, Header, SegmentError,
                                       decrypt_chunks, read_header)
from firmware.storage.sink import SegmentMeta, SegmentRecord, StorageError
from firmware.system.memory import trim_heap

log = logging.getLogger(__name__)

SLOT_SECONDS = 3600
INDEX_NAME = "index.sqlite3"
SEGMENT_DIR = "segments"
SUFFIX = ".seg"


class StorageFull(StorageError):
    """R-42 alarm: the disk is above its high-water mark and nothing may be evicted."""


class KeyErased(StorageError):
    """The data key of a segment no longer exists: the footage is gone for good."""


@dataclass(frozen=True)
class Reconciliation:
    orphans: list[str]
    partial: list[str]
    missing: list[str]

    def to_json(self) -> dict:
        return {"orphans_removed": self.orphans, "partial_removed": self.partial,
                "missing_files": self.missing}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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

    def write(self, data: bytes) -> int:
        return self._enc.write(data)

    def commit(self, end: datetime, frames: int) -> SegmentRecord:
        self._enc.finish()
        record = SegmentRecord(self.meta, end, frames, self._enc.bytes_out, self.final)
        self.store.submit(functools.partial(self._finish, record))
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

    def _finish(self, record: SegmentRecord) -> None:
        if self._error is not None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.tmp, self.final)
            _fsync_dir(self.final.parent)
            self.store._index_segment(record, self.slot, self._dek)
        except (OSError, StorageError) as exc:
            self._fail(exc)
            self.final.unlink(missing_ok=True)
        trim_heap()

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        self.tmp.unlink(missing_ok=True)

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._discard()
        self.store.lost_segments += 1
        log.error("segment %s of camera %s lost: %s", self.meta.segment_id,
                  self.meta.camera_id, exc)


class EncryptedStore:
    """Segments, keys and holds of one device. Safe to share between threads."""

    target_class = _Target

    def __init__(self, data_dir: Path, device_id: str, provider: KeyProvider, *,
                 retention_days: int, high_water_percent: int = 90,
                 cipher: str = "chacha20-poly1305", create_key: bool = True):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / SEGMENT_DIR
        self.device_id = device_id
        self.retention = retention_days * 86400
        self.high_water = high_water_percent / 100
        self.cipher = CIPHERS[cipher]
        self.lock = threading.RLock()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = index.connect(self.data_dir / INDEX_NAME)
        self.master = self._master_key(provider, create_key)
        self._slot_cache: dict[int, bytes] = {}
        self.alarm: str | None = None
        self.lost_segments = 0
        # 16 operations of at most a 256 KiB chunk each: at most ~4 MB waits for a slow disk.
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._writer = threading.Thread(target=self._write_loop, name="store-writer",
                                        daemon=True)
        self._writer.start()

    @classmethod
    def from_config(cls, cfg: Config, **kw) -> "EncryptedStore":
        s = cfg.storage
        return cls(s.data_dir, cfg.device.id, FileKeyProvider(s.key_dir),
                   retention_days=s.retention_days, high_water_percent=s.high_water_percent,
                   cipher=s.cipher, **kw)

    def _master_key(self, provider: KeyProvider, create: bool) -> bytes:
        if provider.exists():
            return provider.load()
        (slots,) = self.db.execute("SELECT count(*) FROM slot_keys").fetchone()
        (holds,) = self.db.execute("SELECT count(*) FROM holds WHERE wrapped_key IS NOT NULL"
                                   ).fetchone()
        if slots or holds:
            raise KeyProblem(f"the master key is missing but the index holds {slots} slot key(s) "
                             f"and {holds} hold key(s): restore the key file from its backup; "
                             "without it the footage cannot be opened")
        if not create:
            raise KeyProblem("there is no master key yet: start the recorder once to create it")
        return provider.create()

    def _write_loop(self) -> None:
        while True:
            op = self._queue.get()
            try:
                if op is None:
                    return
                op()
            except Exception:                  # never let one segment kill the writer
                log.exception("store writer: unexpected failure")
            finally:
                self._queue.task_done()

    def submit(self, op) -> None:
        """Queue work for the writer thread; blocks while 16 operations wait (backpressure)."""
        self._queue.put(op)

    def drain(self) -> None:
        """Wait until every queued write is on disk and indexed."""
        self._queue.join()

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        with self.lock:
            self.db.close()

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

    def _slot_key(self, slot: int, *, create: bool) -> bytes | None:
        """The slot's key; a new one if there is none yet; None once destroyed."""
        with self.lock:
            key = self._slot_cache.get(slot)
            if key is not None:
                return key
            row = self.db.execute("SELECT wrapped FROM slot_keys WHERE slot = ?",
                                  (slot,)).fetchone()
            if row is not None:
                if row["wrapped"] is None:
                    return None
                key = unwrap(self.master, row["wrapped"], f"slot:{slot}")
            elif create:
                key = new_key()
                start = slot * SLOT_SECONDS
                self.db.execute(
                    "INSERT INTO slot_keys (slot, start, erase_at, wrapped, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (slot, start, start + self.retention, wrap(self.master, key, f"slot:{slot}"),
                     time.time()))
            else:
                return None
            self._slot_cache[slot] = key
            return key

    def forget_slot(self, slot: int) -> None:
        with self.lock:
            self._slot_cache.pop(slot, None)

    def hold_key(self, hold_id: int, wrapped: bytes) -> bytes:
        return unwrap(self.master, wrapped, f"hold:{hold_id}")

    def data_key(self, segment_id: str) -> bytes:
        """The segment's data key, through its slot key or any hold; KeyErased if none."""
        with self.lock:
            row = self.db.execute("SELECT slot, wrapped_dek FROM segments WHERE id = ?",
                                  (segment_id,)).fetchone()
            if row is not None and row["wrapped_dek"] is not None:
                slot_key = self._slot_key(row["slot"], create=False)
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
        raise KeyErased(f"segment {segment_id}: its key was erased")

    # --- writing (the SegmentSink interface) ------------------------------------------------

    def begin(self, meta: SegmentMeta) -> _Target:
        self.ensure_capacity()
        start = meta.start.timestamp()
        slot = self.slot_of(start)
        with self.lock:
            self._slot_key(slot, create=True)          # the slot key exists before any data
        name = f"{meta.start:%Y%m%dT%H%M%S}Z_{meta.segment_id}{SUFFIX}"
        final = self.root / meta.camera_id / meta.start.strftime("%Y-%m-%d") / name
        return self.target_class(self, meta, slot, new_key(), final)

    def _index_segment(self, record: SegmentRecord, slot: int, dek: bytes) -> None:
        m = record.meta
        start, end = m.start.timestamp(), record.end.timestamp()
        with self.transaction() as db:
            slot_key = self._slot_key(slot, create=False)
            if slot_key is None:
                raise KeyErased(f"slot {slot} was erased while segment {m.segment_id} was written")
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
                if row is None:
                    self.alarm = (f"disk {self.disk_used():.0%} full (high-water mark "
                                  f"{self.high_water:.0%}) and all footage left is held: "
                                  "recording stopped (R-42)")
                    raise StorageFull(self.alarm)
                self._delete_segment(db, row["id"], row["path"])
            evicted += 1
        if evicted:
            log.warning("capacity: evicted the %d oldest unheld segment(s) (R-42)", evicted)
        self.alarm = None
        return evicted

    def _delete_segment(self, db, segment_id: str, path: str) -> None:
        """Erase one segment: its wrapped keys go first, then the file, then an empty event."""
        event = db.execute("SELECT event_id FROM segments WHERE id = ?",
                           (segment_id,)).fetchone()
        db.execute("DELETE FROM hold_segments WHERE segment_id = ?", (segment_id,))
        db.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
        if event is not None:
            db.execute("DELETE FROM events WHERE id = ? AND NOT EXISTS (SELECT 1 FROM segments "
                       "WHERE event_id = ?)", (event["event_id"], event["event_id"]))
        (self.data_dir / path).unlink(missing_ok=True)

    # --- reading ----------------------------------------------------------------------------

    def segment_row(self, segment_id: str):
        with self.lock:
            return self.db.execute("SELECT * FROM segments WHERE id = ?",
                                   (segment_id,)).fetchone()

    def read_segment(self, segment_id: str) -> Iterator[bytes]:
        """The plaintext MP4 of an indexed segment, chunk by chunk, authenticated."""
        row = self.segment_row(segment_id)
        if row is None:
            raise KeyErased(f"segment {segment_id} is not in the index")
        dek = self.data_key(segment_id)
        path = self.data_dir / row["path"]
        with open(path, "rb") as f:
            yield from decrypt_chunks(f, dek, expected_id=segment_id, name=f"segment {segment_id}")

    def decrypt_file(self, path: Path) -> Iterator[bytes]:
        """Decrypt any segment file of this device, also a copy taken elsewhere."""
        header = read_header(path)
        if header.device_id != self.device_id:
            raise KeyErased(f"{path} was recorded by device '{header.device_id}', not by "
                            f"'{self.device_id}': decrypt it on that device")
        try:
            dek = self.data_key(header.segment_id)
        except KeyErased:
            with self.lock:
                slot = self.db.execute("SELECT destroyed FROM slot_keys WHERE slot = ?",
                                       (header.slot,)).fetchone()
            if slot is not None and slot["destroyed"] is not None:
                when = datetime.fromtimestamp(slot["destroyed"]).astimezone().isoformat(
                    timespec="seconds")
                raise KeyErased(f"{path}: the key of segment {header.segment_id} was erased on "
                                f"{when} by the retention rule (R-40); this file can never be "
                                "decrypted again") from None
            raise KeyErased(f"{path}: the key of segment {header.segment_id} was erased "
                            "(capacity eviction or released hold): this file can never be "
                            "decrypted again") from None
        with open(path, "rb") as f:
            yield from decrypt_chunks(f, dek, name=str(path))

    def list_segments(self, camera_id: str | None = None, start: float | None = None,
                      end: float | None = None) -> list[dict]:
        """Segments, oldest first; optionally of one camera and overlapping [start, end)."""
        sql = ("SELECT s.id, s.camera_id, s.event_id, s.start, s.end, s.bytes, s.path, s.status, "
               "s.frames, s.location, s.clock_synced, "
               "EXISTS (SELECT 1 FROM hold_segments hs JOIN holds h ON h.id = hs.hold_id "
               "WHERE hs.segment_id = s.id AND h.released IS NULL) AS held FROM segments s")
        where, args = [], []
        if camera_id:
            where.append("s.camera_id = ?")
            args.append(camera_id)
        if start is not None and end is not None:
            where += ["s.start < ?", "s.end > ?"]
            args += [end, start]
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.lock:
            return [dict(r) for r in self.db.execute(sql + " ORDER BY s.start", args)]

    def horizon(self, now: float | None = None) -> float | None:
        """Age in seconds of the oldest footage kept: the retention horizon reached (R-42)."""
        with self.lock:
            (oldest,) = self.db.execute("SELECT min(start) FROM segments").fetchone()
        return None if oldest is None else (now or time.time()) - oldest

    # --- start-up and maintenance ---------------------------------------------------------

    def reconcile(self) -> Reconciliation:
        """Make disk and index agree after a crash or power cut."""
        with self.lock:
            indexed = {r["path"]: (r["id"], r["status"]) for r in
                       self.db.execute("SELECT id, path, status FROM segments")}
            orphans, partial, seen = [], [], set()
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
                            path.unlink()      # never indexed: its key died with the process
                            orphans.append(rel)
            missing = []
            with self.transaction() as db:
                for rel, (seg_id, status) in indexed.items():
                    if rel not in seen and status != "missing":
                        db.execute("UPDATE segments SET status = 'missing' WHERE id = ?",
                                   (seg_id,))
                        missing.append(seg_id)
                    elif rel in seen and status == "missing":
                        db.execute("UPDATE segments SET status = 'ok' WHERE id = ?", (seg_id,))
        if orphans or partial or missing:
            log.warning("reconcile: removed %d orphan and %d partial file(s); %d indexed "
                        "segment(s) have no file", len(orphans), len(partial), len(missing))
        return Reconciliation(orphans, partial, missing)

    def verify(self) -> tuple[int, list[dict]]:
        """Decrypt and authenticate every segment; returns (checked, problems)."""
        problems = []
        rows = self.list_segments()
        for row in rows:
            if row["status"] == "missing":
                problems.append({"segment": row["id"], "error": f"file {row['path']} is missing"})
                continue
            try:
                for _ in self.read_segment(row["id"]):
                    pass
            except (SegmentError, KeyErased, KeyProblem, OSError) as exc:
                problems.append({"segment": row["id"], "error": str(exc)})
        return len(rows), problems
