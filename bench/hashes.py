"""Benchmark: `audit` of the recording-time hashes (storage/hashes.py) on the rows the pruning
keeps against the rows an unpruned index would hold, in the same run.

One camera recording 10 s segments without pause: 28 days are 241,920 hash rows, the most the
retention sweep leaves (it prunes the rows of erased segments, issue 13 item 3); without it the
table grows by the same each 28 days. The chain is sealed every 60 rows (10 minutes), as the
recorder does. Prints the audit time of both and their ratio; the cost per row is the same, so
a year unpruned (3.15 million rows a camera) costs 365/28 of the bound at every export and
every `nvr recordings verify`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.governance import db as gdb  # noqa: E402
from firmware.storage import index  # noqa: E402
from firmware.storage.hashes import GENESIS, audit, link  # noqa: E402

PER_DAY = 8640                     # 10 s segments
KEPT_DAYS = 28
UNPRUNED_DAYS = 4 * KEPT_DAYS      # kept cheap: the cost is linear, see the module
SEAL_EVERY = 60


def build(path: Path, rows: int):
    """An index with `rows` chained hashes and a seal every SEAL_EVERY rows (plain rows: the
    audit reads the logbook table, it does not check MACs)."""
    db = index.connect(path)
    db.executescript(gdb.SCHEMA)
    db.execute("BEGIN")
    chain, entry = GENESIS, 0
    for n in range(1, rows + 1):
        sid, sha = f"{n:032x}", f"{n:064x}"
        chain = link(chain, sid, sha)
        db.execute("INSERT INTO segment_hashes (n, segment_id, sha256, chain) VALUES "
                   "(?, ?, ?, ?)", (n, sid, sha, chain))
        if n % SEAL_EVERY == 0:
            entry += 1
            db.execute("INSERT INTO logbook (book, n, at, actor, action, subject, reason, "
                       "details, prev, hash, mac) VALUES ('usage', ?, ?, 'nvr', "
                       "'segment-hashes', ?, '', ?, '', '', '')",
                       (entry, float(entry), f"hash {n}",
                        json.dumps({"hashes": n, "chain": chain})))
    db.execute("COMMIT")
    return db


def audit_seconds(rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = build(Path(tmp) / "index.sqlite3", rows)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            problems = audit(db)
            best = min(best, time.perf_counter() - t)
            assert problems == [], problems[:2]
        db.close()
    return best


def main() -> None:
    kept = audit_seconds(KEPT_DAYS * PER_DAY)
    unpruned = audit_seconds(UNPRUNED_DAYS * PER_DAY)
    print(f"audit, {KEPT_DAYS} days kept (pruned, {KEPT_DAYS * PER_DAY} rows): {kept:.2f} s")
    print(f"audit, {UNPRUNED_DAYS} days unpruned ({UNPRUNED_DAYS * PER_DAY} rows): "
          f"{unpruned:.2f} s")
    print(f"ratio unpruned/pruned: {unpruned / kept:.1f} (rows {UNPRUNED_DAYS / KEPT_DAYS:.0f}x); "
          f"a year unpruned: about {kept * 365 / KEPT_DAYS:.0f} s")


if __name__ == "__main__":
    main()
