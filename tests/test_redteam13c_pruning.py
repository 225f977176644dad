"""Red team 13c: the pruning of recording-time hashes (storage/hashes.py `prune`, run by the
retention sweep) against someone with sqlite3 and the data directory, and held footage (R-41).

Findings:
4. `prune` keeps a row only while its segment has a row in `segments`. A held segment whose
   index row was deleted with sqlite3 (its hold still keeps its data key in `hold_segments`,
   its file is still on disk: the footage can be brought back) loses its recording-time hash
   at the next sweep, under a prune entry the device itself signs: the deletion is laundered
   into a genuine `segment-hashes-pruned`, and the hash that would prove the footage
   unchanged is gone for good (R-41: held footage is kept, with its proof).
5. A sealed hash changed with sqlite3 and the chain redone after it is found by the audit
   until the footage is erased; then `prune`, which compared only the newest sealed head it
   prunes to (one the recorder sealed after the change), removed the rows, and the audit skips
   the older, unmatched heads as pruned: the change was found by nobody any more (R-50).
6. (xfail) A hash row of existing footage deleted, the chain redone and the seal entries
   edited to match in the logbook table: `nvr recordings verify` passes (only `nvr logbook
   verify` finds it); the export gate refuses (an earlier row exists).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from stickutil import index_file
from test_hash_pruning import dev  # noqa: F401  (the fixture)

from firmware.storage.holds import add_hold


def test_a_held_segment_whose_index_row_was_deleted_keeps_its_hash_R41(dev):  # noqa: F811
    first = dev.segment(5, 0)
    assert dev.seal() == 1
    held = dev.segment(5, 1)
    assert dev.seal() == 2
    new = dev.segment(0.1)
    assert dev.seal() == 3
    row = dev.store.segment_row(held)
    add_hold(dev.store, "cam", row["start"], row["end"], "incident", "PL-1")
    with sqlite3.connect(index_file(dev.store)) as db:      # the person with sqlite3
        db.execute("DELETE FROM segments WHERE id = ?", (held,))
        assert db.execute("SELECT count(*) FROM hold_segments WHERE segment_id = ?",
                          (held,)).fetchone()[0] == 1        # its key kept by the hold
    report = dev.sweep(dev.due(5))
    assert report.segments_erased == [first]
    assert dev.rows() == [(2, held), (3, new)]         # the erased first one's row went
    assert [p["details"]["hashes"] for p in dev.prunes()] == [1]


def test_a_hash_changed_after_its_seal_is_not_pruned_out_of_sight_R50(dev):  # noqa: F811
    """5. A sealed hash changed with sqlite3 and the chain recomputed after it: `nvr recordings
    verify` names it (the sealed head differs). The recorder then seals the changed chain
    further on (its seal thread seals whatever the head is), and when the footage is erased,
    `prune` checks only the newest head it prunes to, which matches: the rows go, the older
    heads that did not match are skipped by the audit as pruned, and the change is no longer
    found by anyone. A prune must not go over a sealed head the rows do not match."""
    from firmware.storage.hashes import GENESIS, link
    a = dev.segment(5, 0)
    assert dev.seal() == 1
    b = dev.segment(5, 1)
    assert dev.seal() == 2
    with sqlite3.connect(index_file(dev.store)) as db:      # the person with sqlite3
        chain = GENESIS
        for n, sid in ((1, a), (2, b)):
            sha = "ab" * 32 if n == 1 else db.execute(
                "SELECT sha256 FROM segment_hashes WHERE n = 2").fetchone()[0]
            chain = link(chain, sid, sha)
            db.execute("UPDATE segment_hashes SET sha256 = ?, chain = ? WHERE n = ?",
                       (sha, chain, n))
    assert dev.audit(), "the change is found while the footage exists"
    dev.segment(5, 2)                                        # recorded on, in the same hour
    assert dev.seal() == 3                                   # the recorder seals on
    dev.segment(0.1)
    assert dev.seal() == 4
    dev.sweep(dev.due(5))
    problems = dev.audit()
    assert problems or [p["details"]["hashes"] for p in dev.prunes()] == [], (
        f"pruned {dev.prunes()}: the changed sealed hash is found by nobody any more")


def test_a_hash_row_deleted_and_the_seals_edited_to_match_fail_recordings_verify_R50(
        dev):  # noqa: F811
    """6. The hash row of a segment that still exists deleted with sqlite3, the chain redone
    after it and every later seal entry's chain edited in the logbook table to match: the
    chain has no break, every sealed head matches, and the segment has no recorded hash to
    compare its plaintext with. Fixed: the segment is read and its neighbours have their
    hashes, so its own missing hash is named (as the export gate does), logbook or not."""
    from firmware.storage.hashes import link
    a = dev.segment(1, 0)
    victim = dev.segment(1, 1)
    c = dev.segment(1, 2)
    assert dev.seal() == 3
    with sqlite3.connect(index_file(dev.store)) as db:      # the person with sqlite3
        chain = db.execute("SELECT chain FROM segment_hashes WHERE segment_id = ?",
                           (a,)).fetchone()[0]
        sha = db.execute("SELECT sha256 FROM segment_hashes WHERE segment_id = ?",
                         (c,)).fetchone()[0]
        db.execute("DELETE FROM segment_hashes WHERE segment_id = ?", (victim,))
        chain = link(chain, c, sha)
        db.execute("UPDATE segment_hashes SET chain = ? WHERE segment_id = ?", (chain, c))
        (n,) = db.execute("SELECT n FROM segment_hashes WHERE segment_id = ?", (c,)).fetchone()
        db.execute("DROP TRIGGER logbook_no_update")        # the table is hers to edit
        db.execute("UPDATE logbook SET details = ? WHERE book = 'usage' AND action = "
                   "'segment-hashes' AND subject = ?",
                   (json.dumps({"chain": chain, "hashes": n}, sort_keys=True), f"hash {n}"))
    assert victim in [s["id"] for s in dev.store.list_segments("cam")]
    assert not dev.gov.logbook.verify().ok                   # `nvr logbook verify` finds it
    checked, problems = dev.store.verify(vouched=dev.vouched)
    assert problems, f"{checked} segments checked, no problem: {victim}'s hash is gone unseen"
    assert any(p["segment"] == victim and "missing" in p["error"] for p in problems), problems
