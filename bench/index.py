"""Benchmark: the index at full size. 28 days of 10 s segments for 2 cameras (~484,000 rows).

Measures one camera-day timeline query, one retention sweep of an expired hour (key destroyed,
720 files and rows deleted), and the database size. The same is done with 7 days kept, in the
same run, to show that the sweep does not grow with the number of days kept.
Goals: query under 50 ms, sweep under 1 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.ids import time_ordered_id  # noqa: E402
from firmware.storage import retention  # noqa: E402
from firmware.storage.keys import FileKeyProvider  # noqa: E402
from firmware.storage.store import SLOT_SECONDS, EncryptedStore  # noqa: E402

CAMERAS = ("entree", "hal")
SEG = 10.0
T0 = 1_790_000_000.0 - (1_790_000_000.0 % SLOT_SECONDS)


def build(root: Path, days: int) -> EncryptedStore:
    store = EncryptedStore(root / "data", "bench", FileKeyProvider(root / "keys"),
                           retention_days=28, high_water_percent=99)
    per_day = int(86400 / SEG)
    slots = days * 24
    with store.transaction() as db:
        db.executemany("INSERT INTO slot_keys (slot, start, erase_at, wrapped, created) "
                       "VALUES (?, ?, ?, ?, ?)",
                       [(int(T0 // SLOT_SECONDS) + i, T0 + i * SLOT_SECONDS,
                         T0 + i * SLOT_SECONDS + 28 * 86400, os.urandom(60), T0)
                        for i in range(slots)])
        for cam in CAMERAS:
            db.execute("INSERT INTO cameras VALUES (?, ?, ?)", (cam, cam, cam))
            rows = []
            for i in range(days * per_day):
                start = T0 + i * SEG
                event = f"{cam}-{i // 60}"               # events of 10 minutes
                rows.append((time_ordered_id(start), cam, event, start, start + SEG,
                             int(start // SLOT_SECONDS), os.urandom(60),
                             f"segments/{cam}/{i}.seg", 5_000_000, 250, 1, cam))
            db.executemany("INSERT INTO segments (id, camera_id, event_id, start, end, slot, "
                           "wrapped_dek, path, bytes, frames, clock_synced, location) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO events (id, camera_id, start, end) VALUES (?, ?, ?, ?)",
                           [(f"{cam}-{k}", cam, T0 + k * 600, T0 + k * 600 + 600)
                            for k in range(days * 144)])
    # Real files for the first hour, so the sweep unlinks real files.
    for cam in CAMERAS:
        (store.data_dir / "segments" / cam).mkdir(parents=True, exist_ok=True)
        for i in range(int(SLOT_SECONDS / SEG)):
            (store.data_dir / "segments" / cam / f"{i}.seg").write_bytes(b"x" * 1024)
    store.db.execute("ANALYZE")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store


def timeline(store: EncryptedStore, camera: str, day_start: float) -> int:
    db = store.db
    segs = db.execute("SELECT id, start, end, bytes, event_id, status FROM segments "
                      "WHERE camera_id = ? AND start >= ? AND start < ? ORDER BY start",
                      (camera, day_start, day_start + 86400)).fetchall()
    db.execute("SELECT id, start, end FROM events WHERE camera_id = ? AND start < ? AND "
               "end > ? ORDER BY start", (camera, day_start + 86400, day_start)).fetchall()
    db.execute("SELECT id, start, end FROM holds WHERE camera_id = ? AND start < ? AND end > ?",
               (camera, day_start + 86400, day_start)).fetchall()
    return len(segs)


def measure(days: int) -> dict:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        t = time.perf_counter()
        store = build(Path(d), days)
        built = time.perf_counter() - t
        (rows,) = store.db.execute("SELECT count(*) FROM segments").fetchone()
        day = T0 + (days // 2) * 86400
        times = []
        for _ in range(21):
            t = time.perf_counter()
            n = timeline(store, "entree", day)
            times.append(time.perf_counter() - t)
        size = sum(p.stat().st_size for p in Path(d, "data").glob("index.sqlite3*"))
        t = time.perf_counter()
        report = retention.sweep(store, now=T0 + 28 * 86400 + 1)    # the first hour is due
        sweep = time.perf_counter() - t
        assert len(report.slots_destroyed) == 1, report.slots_destroyed
        assert len(report.segments_erased) == 2 * SLOT_SECONDS / SEG
        store.close()
    return {"days": days, "rows": rows, "build": built, "query_ms": statistics.median(times) * 1e3,
            "per_day": n, "sweep_s": sweep, "size_mb": size / 1e6}


def main() -> None:
    print("index benchmark: 10 s segments, 2 cameras, slot keys per hour")
    print(f"{'days':>5} {'rows':>8} {'camera-day query ms':>20} {'sweep of an hour s':>19} "
          f"{'db MB':>7}")
    results = [measure(7), measure(28)]
    for r in results:
        print(f"{r['days']:>5} {r['rows']:>8} {r['query_ms']:20.1f} {r['sweep_s']:19.3f} "
              f"{r['size_mb']:7.1f}")
    print(f"sweep time 28 days / 7 days: {results[1]['sweep_s'] / results[0]['sweep_s']:.2f} "
          "(1.0: independent of days kept)")
    print("goals: query under 50 ms, sweep under 1 s")


if __name__ == "__main__":
    main()
