"""Red team 13c: someone with sqlite3 and the data directory (no keys) against the pruning of
recording-time hashes (storage/hashes.py `prune`, `chain_start`, `export_problems`).

Findings:
1. Every row of `segment_hashes` deleted with sqlite3 (footage that still exists, sealed):
   the export gate lets the export through with `sha256_at_recording: null` for every segment,
   as if recorded before this firmware. `export_problems` keeps only audit problems that name a
   segment of the window, and the audit names the missing sealed rows "hash N"; the
   per-segment check looks for an earlier row, and there is none left. The export's own seal
   then even signs the emptied chain (`hash 0`, or the last prune's K) as a new head.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from stickutil import fresh_desk, index_file  # noqa: F401 (desk: a fixture)

from firmware.export.helpers import DirectoryHelper, ExportError


def test_every_sealed_hash_deleted_with_sqlite3_stops_the_export_R62(desk, tmp_path):
    first = desk.export(DirectoryHelper(tmp_path / "stick", package="files"))   # seals
    manifest = json.loads((Path(first["path"]) / "manifest.json").read_text())
    assert all(s["sha256_at_recording"] for s in manifest["videos"][0]["segments"])
    with sqlite3.connect(index_file(desk.store)) as db:   # the person with sqlite3
        db.execute("DELETE FROM segment_hashes")
    with pytest.raises(ExportError, match="hash"):
        again = desk.export(DirectoryHelper(tmp_path / "stick2", package="files"))
        m = json.loads((Path(again["path"]) / "manifest.json").read_text())
        print([s["sha256_at_recording"] for s in m["videos"][0]["segments"]])


def test_sealed_hashes_replaced_by_a_made_up_chain_stop_the_export_R62(desk, tmp_path):
    """Every row deleted and as many made-up rows inserted (segment ids that sort after the real
    ones, a chain that links from 64 zeros): no row is missing and no link breaks; only the
    sealed heads differ, named by the made-up ids, outside the window."""
    from firmware.storage.hashes import GENESIS, audit, link
    desk.export(DirectoryHelper(tmp_path / "stick", package="files"))          # seals
    with sqlite3.connect(index_file(desk.store)) as db:   # the person with sqlite3
        (top,) = db.execute("SELECT max(n) FROM segment_hashes").fetchone()
        db.execute("DELETE FROM segment_hashes")
        chain = GENESIS
        for n in range(1, top + 1):
            sid, sha = f"zz-made-up-{n:04d}", "ab" * 32
            chain = link(chain, sid, sha)
            db.execute("INSERT INTO segment_hashes (n, segment_id, sha256, chain) "
                       "VALUES (?, ?, ?, ?)", (n, sid, sha, chain))
    with desk.store.lock:               # what `nvr recordings verify` reads: the sealed heads
        assert audit(desk.store.db), "the made-up chain passes the audit"
    with pytest.raises(ExportError, match="hash"):
        again = desk.export(DirectoryHelper(tmp_path / "stick2", package="files"))
        m = json.loads((Path(again["path"]) / "manifest.json").read_text())
        print([s["sha256_at_recording"] for s in m["videos"][0]["segments"]])
