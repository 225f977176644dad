"""Issue 13 item 3, proof back to recording time: the recorder itself puts the chain of its
segments' recording-time hashes under the logbook, every SEAL_INTERVAL while it writes and at
a clean stop, not only when someone exports (firmware/recording/sealing.py); and a hash changed
after it was sealed makes `nvr recordings verify` fail, naming the segment
(storage/hashes.py `audit`)."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import ROOT, nvr, write_config

from firmware.config import load
from firmware.governance.service import Governance
from firmware.storage.hashes import GENESIS, chain_head, link
from firmware.storage.store import EncryptedStore

TIMEOUT = 120.0                       # generous: the machine is shared


def seals(config: Path) -> list[dict]:
    """The `segment-hashes` entries of the usage logbook, their details decoded."""
    gov = Governance.open(load(config))
    try:
        assert gov.logbook.verify().ok
        return [{**e, "details": json.loads(e["details"])}
                for e in gov.logbook.entries("usage") if e["action"] == "segment-hashes"]
    finally:
        gov.close()


def hashes_stored(config: Path) -> int:
    db = sqlite3.connect(config.parent / "data" / "index.sqlite3")
    try:
        return db.execute("SELECT count(*) FROM segment_hashes").fetchone()[0]
    except sqlite3.OperationalError:          # not made yet
        return 0
    finally:
        db.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """`nvr run --no-web` on the synthetic camera with 2 s segments until three segments are
    stored, then stopped cleanly (SIGTERM, as systemd stops it)."""
    tmp = tmp_path_factory.mktemp("sealing")
    config = write_config(tmp, storage="segment_seconds = 2")
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "run", "--no-web"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while hashes_stored(config) < 3:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "fewer than 3 segments in 120 s"
            time.sleep(0.5)
        assert seals(config) == []           # the interval (10 minutes) has not passed
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    return config


def test_a_clean_stop_of_nvr_run_seals_every_hash_it_recorded_issue13_item3_R50(recorded):
    store = EncryptedStore.from_config(load(recorded))
    try:
        with store.lock:
            n, head = chain_head(store.db)
    finally:
        store.close()
    assert n >= 3
    [seal] = seals(recorded)
    assert seal["actor"] == "nvr" and seal["subject"] == f"hash {n}"
    assert seal["details"] == {"hashes": n, "chain": head}


def test_the_recorder_seals_every_interval_while_segments_are_written_issue13_item3_R50(
        tmp_path):
    """The seal thread with a real store and the real logbook, its interval shortened: a seal
    follows new segments, and an idle recorder adds no entry however often it looks."""
    from firmware.ids import time_ordered_id
    from firmware.recording.sealing import SealThread
    from firmware.storage.sink import SegmentMeta
    config = write_config(tmp_path)
    cfg = load(config)
    store = EncryptedStore.from_config(cfg, owner=True)

    def segment(k: int) -> None:
        begun = datetime.now(timezone.utc) - timedelta(minutes=5) + timedelta(seconds=10 * k)
        meta = SegmentMeta(time_ordered_id(begun.timestamp()), "ev", cfg.device.id, "cam",
                           "Testcamera", "gang", begun, True)
        target = store.begin(meta)
        target.write(b"\0" * 5000)
        target.commit(begun + timedelta(seconds=10), 250)
        store.drain()

    def wait(test, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not test():
            assert sealer.is_alive() and time.monotonic() < deadline, what
            time.sleep(0.05)

    sealer = SealThread(store, lambda: Governance.open(cfg), interval=0.1)
    sealer.start()
    try:
        segment(0)
        segment(1)
        wait(lambda: [s["details"]["hashes"] for s in seals(config)] == [2], "a seal of 2")
        looked = sealer.rounds
        wait(lambda: sealer.rounds >= looked + 3, "three more rounds")
        assert len(seals(config)) == 1                  # nothing new: nothing appended
        segment(2)
        wait(lambda: len(seals(config)) == 2, "a second seal")
    finally:
        sealer.finish()
        store.close()
    assert not sealer.is_alive()
    assert [s["details"]["hashes"] for s in seals(config)] == [2, 3]


def _verify(config: Path) -> subprocess.CompletedProcess:
    return nvr("--config", str(config), "recordings", "verify", "--json")


def _copy(recorded: Path, tmp_path: Path) -> Path:
    shutil.copytree(recorded.parent, tmp_path / "device")
    return tmp_path / "device" / recorded.name


def test_recordings_verify_passes_on_the_sealed_recording(recorded, tmp_path):
    result = _verify(_copy(recorded, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["problems"] == []


def test_a_hash_changed_after_sealing_fails_recordings_verify_even_with_its_chain_redone_R50(
        recorded, tmp_path):
    """The index's owner (or anyone who can write the index) replaces segment 2's hash and
    recomputes the chain after it, so the chain itself has no break: the head sealed in the
    signed logbook no longer matches, and the decrypted segment not its hash."""
    config = _copy(recorded, tmp_path)
    db = sqlite3.connect(config.parent / "data" / "index.sqlite3")
    rows = db.execute("SELECT n, segment_id, sha256 FROM segment_hashes ORDER BY n").fetchall()
    changed = rows[1][1]
    chain = GENESIS
    for n, sid, sha in rows:
        sha = "f" * 64 if sid == changed else sha
        chain = link(chain, sid, sha)
        db.execute("UPDATE segment_hashes SET sha256 = ?, chain = ? WHERE n = ?", (sha, chain, n))
    db.commit()
    db.close()
    result = _verify(config)
    assert result.returncode == 1, result.stdout + result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert any(p["segment"] == changed and "recording-time" in p["error"] for p in problems), \
        problems
    assert any("sealed" in p["error"] and "logbook" in p["error"] for p in problems), problems


def test_a_hash_changed_without_its_chain_breaks_the_chain_and_fails_verify_R50(recorded,
                                                                                tmp_path):
    config = _copy(recorded, tmp_path)
    db = sqlite3.connect(config.parent / "data" / "index.sqlite3")
    sid = db.execute("SELECT segment_id FROM segment_hashes WHERE n = 2").fetchone()[0]
    db.execute("UPDATE segment_hashes SET sha256 = ? WHERE n = 2", ("e" * 64,))
    db.commit()
    db.close()
    result = _verify(config)
    assert result.returncode == 1, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert any(p["segment"] == sid and "chain" in p["error"] for p in found["problems"]), found
    assert {p["segment"] for p in found["problems"]} == {sid}     # its chain and its plaintext
    assert found["ok"] == found["checked"] - 1                    # one segment, not two


def test_a_failed_seal_is_logged_and_tried_again_issue13_item3(tmp_path, caplog):
    """The logbook cannot be opened at the first attempt (here: its opener raises, as an
    unreadable key directory would): the thread says so in the log and seals at the next."""
    from firmware.recording.sealing import SealThread
    config = write_config(tmp_path)
    cfg = load(config)
    store = EncryptedStore.from_config(cfg, owner=True)
    attempts = []

    def opener():
        attempts.append(1)
        if len(attempts) == 1:
            raise PermissionError("logbook-signing.key: permission denied")
        return Governance.open(cfg)

    from firmware.ids import time_ordered_id
    from firmware.storage.sink import SegmentMeta
    begun = datetime.now(timezone.utc) - timedelta(minutes=5)
    target = store.begin(SegmentMeta(time_ordered_id(begun.timestamp()), "ev", cfg.device.id,
                                     "cam", "Testcamera", "gang", begun, True))
    target.write(b"\0" * 5000)
    target.commit(begun + timedelta(seconds=10), 250)
    store.drain()
    sealer = SealThread(store, opener, interval=0.1)
    with caplog.at_level("ERROR", logger="firmware.recording.sealing"):
        sealer.start()
        deadline = time.monotonic() + TIMEOUT
        while not seals(config):
            assert sealer.is_alive() and time.monotonic() < deadline, "no seal after a failure"
            time.sleep(0.05)
        sealer.finish()
    store.close()
    assert len(attempts) == 2
    assert "sealing the recording-time hashes failed" in caplog.text
    assert "permission denied" in caplog.text
    assert [s["details"]["hashes"] for s in seals(config)] == [1]
