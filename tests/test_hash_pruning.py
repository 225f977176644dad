"""Issue 13 item 3, hashes go with their footage (R-40): the recording-time hashes of erased
segments leave `segment_hashes` as a prefix of the chain, up to a head the logbook sealed, and
the prune is logged (storage/hashes.py `prune`, run by the retention sweep); `audit` accepts a
chain that starts after a logged prune and nothing else.

A real store and the real logbook in one index; segments are written through the store (a few
bytes each, as in test_sealing.py) at chosen times, and the sweep is given the time at which
the oldest of them fall due (no clock is faked here; test_hash_pruning_cli.py moves it)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from conftest import write_config

from firmware.config import load
from firmware.governance.service import Governance
from firmware.ids import time_ordered_id
from firmware.storage.hashes import (PRUNE_REASON, audit, chain_breaks, chain_head,
                                     export_problems, link, seal)
from firmware.storage.holds import add_hold, release_hold
from firmware.storage.retention import sweep
from firmware.storage.sink import SegmentMeta
from firmware.storage.store import EncryptedStore

HOUR = 3600.0


class Device:
    """The store and governance of one device directory, and segments written at given times."""

    def __init__(self, tmp_path):
        self.cfg = load(write_config(tmp_path))
        self.gov = Governance.open(self.cfg)
        self.store = EncryptedStore.from_config(self.cfg, owner=True)
        self.now = datetime.now(timezone.utc)

    def segment(self, hours_ago: float, k: int = 0) -> str:
        begun = self.now - timedelta(hours=hours_ago) + timedelta(seconds=10 * k)
        sid = time_ordered_id(begun.timestamp())
        target = self.store.begin(SegmentMeta(sid, f"ev-{sid}", self.cfg.device.id, "cam",
                                              "Testcamera", "gang", begun, True))
        target.write(sid.encode() * 100)
        target.commit(begun + timedelta(seconds=10), 250)
        self.store.drain()
        return sid

    def seal(self) -> int:
        return seal(self.store, self.gov.logbook, "nvr")["n"]

    def due(self, hours_ago: float) -> float:
        """The moment the slot of a segment begun `hours_ago` falls due (R-40), plus a second."""
        t = (self.now - timedelta(hours=hours_ago)).timestamp()
        with self.store.lock:
            (erase_at,) = self.store.db.execute("SELECT erase_at FROM slot_keys WHERE slot = ?",
                                                (int(t // HOUR),)).fetchone()
        return erase_at + 1

    def sweep(self, now: float | None = None):
        return sweep(self.store, now, logbook=self.gov.logbook)

    def rows(self) -> list[tuple[int, str]]:
        with self.store.lock:
            return [tuple(r) for r in self.store.db.execute(
                "SELECT n, segment_id FROM segment_hashes ORDER BY n")]

    def prunes(self) -> list[dict]:
        return [{**e, "details": json.loads(e["details"])}
                for e in self.gov.logbook.entries("usage")
                if e["action"] == "segment-hashes-pruned"]

    def seals(self) -> dict[int, str]:
        return {d["hashes"]: d["chain"] for d in (
            json.loads(e["details"]) for e in self.gov.logbook.entries("usage")
            if e["action"] == "segment-hashes")}

    def audit(self) -> list[dict]:
        with self.store.lock:
            return audit(self.store.db, vouched=self.vouched)

    def vouched(self, entry: int) -> bool:
        return self.gov.logbook.genuine("usage", entry)

    def close(self) -> None:
        self.store.close()
        self.gov.close()


@pytest.fixture
def dev(tmp_path):
    d = Device(tmp_path)
    yield d
    d.close()


# --- item 1: pruning with the erasure ---------------------------------------------------------

def test_the_sweep_prunes_the_sealed_prefix_of_erased_segments_and_logs_it_R40_item1(dev):
    old = [dev.segment(5, k) for k in range(3)]          # rows 1-3, five hours ago
    assert dev.seal() == 3
    new = dev.segment(0.1)                               # row 4, kept
    assert dev.seal() == 4
    report = dev.sweep(dev.due(5))
    assert sorted(report.segments_erased) == sorted(old)
    assert dev.rows() == [(4, new)]                      # neither the rows nor their ids remain
    [entry] = dev.prunes()
    assert entry["actor"] == "nvr" and entry["subject"] == "hash 3"
    assert entry["details"] == {"hashes": 3, "chain": dev.seals()[3]}
    assert entry["reason"] == PRUNE_REASON
    assert report.to_json()["hashes_pruned"] == 3
    assert dev.gov.logbook.verify().ok
    assert dev.audit() == []
    with dev.store.lock:
        assert chain_breaks(dev.store.db) == []
        assert export_problems(dev.store.db, [new]) == []
    checked, problems = dev.store.verify()
    assert (checked, problems) == (1, [])
    dev.sweep(dev.due(5))                                # nothing more: no second entry
    assert len(dev.prunes()) == 1


def test_a_held_segment_stops_the_prune_until_its_hold_is_released_R41_item1(dev):
    first = dev.segment(5, 0)
    assert dev.seal() == 1
    held, third = dev.segment(5, 1), dev.segment(5, 2)
    assert dev.seal() == 3
    new = dev.segment(0.1)
    assert dev.seal() == 4
    row = dev.store.segment_row(held)
    hold = add_hold(dev.store, "cam", row["start"], row["end"], "incident", "PL-1")
    report = dev.sweep(dev.due(5))
    assert sorted(report.segments_erased) == sorted([first, third])
    # Row 1 goes (sealed, erased); the held segment's row stays, and so does everything after it,
    # the erased third segment's row too.
    assert dev.rows() == [(2, held), (3, third), (4, new)]
    assert [p["details"]["hashes"] for p in dev.prunes()] == [1]
    assert dev.audit() == []
    release_hold(dev.store, hold["id"])
    report = dev.sweep(dev.due(5))
    assert report.segments_erased == [held]
    assert dev.rows() == [(4, new)]
    assert [p["details"]["hashes"] for p in dev.prunes()] == [1, 3]
    assert dev.audit() == [] and dev.gov.logbook.verify().ok


def test_rows_not_yet_under_a_sealed_head_are_not_pruned_item1(dev):
    old = [dev.segment(5, k) for k in range(2)]          # rows 1-2, never sealed alone
    new = dev.segment(0.1)
    assert dev.seal() == 3                               # the only head: beyond the erased rows
    report = dev.sweep(dev.due(5))
    assert sorted(report.segments_erased) == sorted(old)
    assert [n for n, _ in dev.rows()] == [1, 2, 3]
    assert dev.prunes() == [] and report.to_json()["hashes_pruned"] == 0
    assert dev.audit() == []


def test_rows_of_segments_evicted_for_capacity_go_at_the_next_sweep_R42_item1(dev):
    old = [dev.segment(5, k) for k in range(2)]
    assert dev.seal() == 2
    full = iter([1.0, 1.0, 0.0])                         # the disk above high water, twice
    dev.store.disk_used = lambda: next(full)
    new = dev.segment(0.1)                               # evicts the two oldest
    assert dev.seal() == 3
    assert [s["id"] for s in dev.store.list_segments()] == [new]
    report = dev.sweep()                                 # now: nothing due by time
    assert report.segments_erased == []
    assert dev.rows() == [(3, new)]
    assert [p["details"]["hashes"] for p in dev.prunes()] == [2]
    assert old and dev.audit() == []


def test_after_every_row_is_pruned_the_next_hash_links_from_the_logged_chain_item1(dev):
    [dev.segment(5, k) for k in range(2)]
    assert dev.seal() == 2
    sealed = dev.seals()[2]
    dev.sweep(dev.due(5))
    assert dev.rows() == []
    with dev.store.lock:
        assert chain_head(dev.store.db) == (2, sealed)
    assert dev.seal() == 2 and len(dev.seals()) == 1     # nothing new to seal
    new = dev.segment(0.1)
    with dev.store.lock:
        n, sha, chain = dev.store.db.execute(
            "SELECT n, sha256, chain FROM segment_hashes").fetchone()
    assert (n, chain) == (3, link(sealed, new, sha))
    assert dev.audit() == []
    assert dev.seal() == 3


def test_the_recorders_retention_thread_prunes_and_retries_a_logbook_it_cannot_open_item1(
        dev, caplog):
    """`nvr run`'s RetentionThread opens the logbook in its own thread; when that fails (an
    unreadable key directory), it sweeps without it, says so, and prunes at a later round."""
    import threading
    import time

    from firmware.storage.retention import RetentionThread
    [dev.segment(5, k) for k in range(2)]
    assert dev.seal() == 2
    full = iter([1.0, 1.0, 0.0])
    dev.store.disk_used = lambda: next(full)
    new = dev.segment(0.1)                               # the two oldest evicted
    attempts = []

    def opener():
        attempts.append(1)
        if len(attempts) == 1:
            raise PermissionError("logbook-mac.key: permission denied")
        return Governance.open(dev.cfg)

    stop = threading.Event()
    thread = RetentionThread(dev.store, stop, interval=0.05, open_governance=opener)
    with caplog.at_level("ERROR", logger="firmware.storage.retention"):
        thread.start()
        deadline = time.monotonic() + 120
        while dev.rows() != [(3, new)]:
            assert thread.is_alive() and time.monotonic() < deadline, dev.rows()
            time.sleep(0.05)
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and len(attempts) == 2
    assert "could not be opened" in caplog.text and "permission denied" in caplog.text
    assert [p["details"]["hashes"] for p in dev.prunes()] == [2]


# --- item 2: the audit of a chain with a pruned start ---------------------------------------

def _prune_by_hand(dev, k: int, chain: str) -> None:
    """What a prune leaves, made without `prune`: the logged entry (by the device, with its
    MAC) and the rows up to k deleted."""
    dev.gov.logbook.append("usage", "nvr", "segment-hashes-pruned", subject=f"hash {k}",
                           reason=PRUNE_REASON, details={"hashes": k, "chain": chain})
    with dev.store.transaction() as db:
        db.execute("DELETE FROM segment_hashes WHERE n <= ?", (k,))


@pytest.fixture
def erased(dev):
    """Rows 1-2 of erased segments (sealed at 2), row 3 of a kept one (sealed at 3); the sweep
    is run without the logbook, so it erases and prunes nothing."""
    [dev.segment(5, k) for k in range(2)]
    dev.seal()
    new = dev.segment(0.1)
    dev.seal()
    sweep(dev.store, dev.due(5))
    assert [n for n, _ in dev.rows()] == [1, 2, 3]
    return new


def test_audit_accepts_a_chain_that_starts_after_a_logged_prune_at_a_sealed_head_item2(
        dev, erased):
    _prune_by_hand(dev, 2, dev.seals()[2])
    with dev.store.lock:
        assert chain_breaks(dev.store.db) == []
        assert audit(dev.store.db) == []            # sealed head 2 is not reported missing
        assert export_problems(dev.store.db, [erased]) == []
    assert dev.audit() == []


@pytest.mark.parametrize("k, chain, why", [
    (2, "ab" * 32, "the chain logged is not the sealed one"),
    (1, None, "no head was sealed at 1"),
])
def test_a_logged_prune_that_is_not_at_a_sealed_head_does_not_explain_a_start_item2(
        dev, erased, k, chain, why):
    _prune_by_hand(dev, k, chain or link("0" * 64, *dev.rows()[0][1:], _sha(dev, 1)))
    problems = dev.audit()
    assert any(p["segment"] == dev.rows()[0][1] and "without a logged prune" in p["error"]
               for p in problems), (why, problems)


def test_rows_removed_beyond_the_logged_prune_are_still_found_item2(dev, erased):
    _prune_by_hand(dev, 2, dev.seals()[2])
    with dev.store.transaction() as db:              # the kept segment's row, by sqlite3
        db.execute("DELETE FROM segment_hashes WHERE n = 3")
    problems = dev.audit()
    assert any(p["segment"] == "hash 3" and "missing" in p["error"] for p in problems), problems


def test_rows_removed_from_the_start_without_a_prune_are_still_found_item2(dev, erased):
    with dev.store.transaction() as db:
        db.execute("DELETE FROM segment_hashes WHERE n <= 2")
    problems = dev.audit()
    assert any(p["segment"] == erased and "chain breaks" in p["error"] for p in problems)
    assert any(p["segment"] == "hash 2" and "missing" in p["error"] for p in problems)
    with dev.store.lock:
        assert export_problems(dev.store.db, [erased])


def test_a_prune_entry_forged_into_the_logbook_table_is_not_vouched_for_item2(dev, erased):
    """Someone with sqlite3 inserts the prune entry itself (no MAC: the key is elsewhere):
    `audit` with the logbook's vouching refuses it, without it the entry would pass."""
    last = dev.gov.logbook.entries("usage")[-1]
    details = json.dumps({"chain": dev.seals()[2], "hashes": 2}, sort_keys=True)
    with sqlite3.connect(dev.store.index_path) as db:
        db.execute("INSERT INTO logbook (book, n, at, actor, action, subject, reason, details, "
                   "prev, hash, mac) VALUES ('usage', ?, ?, 'nvr', 'segment-hashes-pruned', "
                   "'hash 2', ?, ?, ?, ?, ?)", (last["n"] + 1, last["at"] + 1, PRUNE_REASON,
                                                 details, last["hash"], "f" * 64, "0" * 64))
        db.execute("DELETE FROM segment_hashes WHERE n <= 2")
    assert not dev.gov.logbook.verify().ok
    assert any("without a logged prune" in p["error"] for p in dev.audit())
    with dev.store.lock:                             # the index alone cannot tell
        assert audit(dev.store.db) == []


def _sha(dev, n: int) -> str:
    with dev.store.lock:
        return dev.store.db.execute("SELECT sha256 FROM segment_hashes WHERE n = ?",
                                    (n,)).fetchone()[0]


def test_a_prune_committed_while_the_audit_reads_is_not_taken_for_a_removal_item2(dev):
    """`nvr recordings verify` beside the recorder: the owner prunes (its entry, then the rows)
    while the audit is under way. Here the prune is made from inside the audit, by another
    connection, the moment the audit first asks the logbook about the chain's start."""
    from firmware.storage.hashes import prune
    [dev.segment(5, k) for k in range(2)]
    dev.seal()
    [dev.segment(4, k) for k in range(2)]
    dev.seal()
    new = dev.segment(0.1)
    dev.seal()
    dev.sweep(dev.due(5))                                # rows 1-2 pruned; 3-4 of due footage
    sweep(dev.store, dev.due(4))                         # erased, rows kept (no logbook)
    assert [n for n, _ in dev.rows()] == [3, 4, 5]
    owner = EncryptedStore.from_config(dev.cfg)          # the recorder's own connection
    pruned = []

    def vouched(entry: int) -> bool:
        if not pruned:
            pruned.append(prune(owner, dev.gov.logbook))
        return dev.vouched(entry)
    try:
        with dev.store.lock:
            problems = audit(dev.store.db, vouched=vouched)
    finally:
        owner.close()
    assert pruned and pruned[0]["hashes"] == 4
    assert problems == []
    assert dev.rows() == [(5, new)] and dev.audit() == []
