"""Issue 13 item 3, hashes go with their footage, through the real `nvr` (R-40, R-50): time
itself (footage recorded now and two days later, the clock then moved 29 days on by
faketime: `nvr retention run` leaves neither the erased segments nor their hash rows, and
`nvr recordings verify` and an export of the footage still kept pass), and the person with
sqlite3 and the data directory who deletes rows and fakes the prune in the index (caught by
`nvr logbook verify` and `nvr recordings verify`)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import PASSWORD, ROOT, add_accounts, recorded_site, staff

from firmware.config import load
from firmware.governance.logbook import _entry_hash
from firmware.governance.roles import Role
from firmware.governance.service import Governance
from firmware.storage.hashes import PRUNE_REASON, seal
from firmware.storage.store import EncryptedStore

AHEAD = "+29d"
LATER = timedelta(days=2)
OFFICER = "brigadier K. Bakker"


def nvr_at(clock: str | None, config: Path, *args: str, env: dict | None = None
           ) -> subprocess.CompletedProcess:
    """The real `nvr`, its clock moved by faketime when `clock` is given."""
    cmd = [sys.executable, "-m", "firmware.cli", "--config", str(config), *args]
    return subprocess.run(["faketime", "-f", clock, *cmd] if clock else cmd, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def seal_now(config: Path) -> int:
    """What the recorder does every 10 minutes while it writes (test_sealing.py proves it):
    the chain's head into the usage logbook."""
    cfg = load(config)
    gov, store = Governance.open(cfg), EncryptedStore.from_config(cfg)
    try:
        return seal(store, gov.logbook, "nvr")["n"]
    finally:
        store.close()
        gov.close()


def index(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "data" / "index.sqlite3")


def segment_ids(config: Path) -> list[str]:
    with index(config) as db:
        return [r[0] for r in db.execute("SELECT id FROM segments ORDER BY start")]


def hash_rows(config: Path) -> list[tuple[int, str]]:
    with index(config) as db:
        return [tuple(r) for r in db.execute("SELECT n, segment_id FROM segment_hashes "
                                             "ORDER BY n")]


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    """recorded_site's footage of 20 minutes ago (day A), sealed, and the same clip ingested
    two days later (day B, its process's clock moved by faketime), sealed; with a DPO."""
    tmp = tmp_path_factory.mktemp("prune")
    config = recorded_site(tmp, {})
    gov = Governance.open(load(config))
    add_accounts(gov, {"d.dpo": Role.DPO})
    gov.close()
    day_a = segment_ids(config)
    assert day_a and seal_now(config) == len(day_a)
    start = datetime.now(timezone.utc) + LATER - timedelta(minutes=20)
    done = nvr_at("+2d", config, "ingest", str(tmp / "clip.mp4"), "--camera", "cam",
                  "--start", start.isoformat())
    assert done.returncode == 0, done.stderr
    day_b = [s for s in segment_ids(config) if s not in day_a]
    assert day_b and seal_now(config) == len(day_a) + len(day_b)
    return config, day_a, day_b


def test_time_itself_erases_the_days_segments_and_their_hashes_and_the_rest_verifies_R40(
        two_days, tmp_path):
    """Issue 13 item 3 (hashprune item 4): 29 days after day A, the sweep of `nvr retention
    run` erases day A, and its hash rows go with it; what is kept verifies and exports."""
    config, day_a, day_b = two_days
    ran = nvr_at(AHEAD, config, "retention", "run", "--json", "--clock-checked")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert sorted(report["segments_erased"]) == sorted(day_a)
    assert report["hashes_pruned"] == len(day_a)
    assert segment_ids(config) == day_b
    assert [sid for _, sid in hash_rows(config)] == day_b          # none of day A's ids
    assert hash_rows(config)[0][0] == len(day_a) + 1

    verified = nvr_at(AHEAD, config, "recordings", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    found = json.loads(verified.stdout)
    assert (found["checked"], found["problems"]) == (len(day_b), [])

    env = staff(config)
    logbook = nvr_at(AHEAD, config, "logbook", "verify", "--user", "d.dpo", "--json", env=env)
    assert logbook.returncode == 0, logbook.stdout + logbook.stderr
    gov = Governance.open(load(config))
    try:
        [pruned] = [e for e in gov.logbook.entries("usage")
                    if e["action"] == "segment-hashes-pruned"]
    finally:
        gov.close()
    assert pruned["subject"] == f"hash {len(day_a)}" and pruned["reason"] == PRUNE_REASON

    package = _export(config, env, tmp_path)
    manifest = json.loads((package / "manifest.json").read_text())
    listed = [s for v in manifest["videos"] for s in v["segments"]]
    assert [s["id"] for s in listed] == day_b
    assert all(s["sha256_at_recording"] == s["sha256_at_export"] for s in listed)
    checked = nvr_at(AHEAD, config, "export", "verify", str(package))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _export(config: Path, env: dict, tmp_path: Path) -> Path:
    """An art. 9 request for day B, the officer identified and the declaration signed, and
    its package written by `nvr export create --to` and opened with the real 7z; all with the
    clock 29 days on."""
    with index(config) as db:
        first, last = db.execute("SELECT min(start), max(end) FROM segments").fetchone()
    start = datetime.fromtimestamp(first - 1, timezone.utc).isoformat()
    end = datetime.fromtimestamp(last + 1, timezone.utc).isoformat()

    def run(*args: str) -> str:
        done = nvr_at(AHEAD, config, *args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout
    req = json.loads(run("request", "add", "--article", "9", "--reference", "PL-PRUNE-1",
                         "--requester", "Politie Midden-Nederland", "--legal-basis", "126nd",
                         "--camera", "cam", "--start", start, "--end", end, "--user",
                         "b.beheerder", "--json"))
    run("request", "identity", str(req["id"]), "--officer", OFFICER, "--document-type",
        "dienstpas", "--last-digits", "4411", "--user", "b.beheerder")
    run("request", "declaration", str(req["id"]), "--signed-by", OFFICER, "--user",
        "b.beheerder")
    out = json.loads(run("export", "create", "--request", "PL-PRUNE-1", "--camera", "cam",
                         "--start", start, "--end", end, "--to", str(tmp_path / "stick"),
                         "--user", "b.beheerder", "--reason", "art. 9 request", "--json"))
    into = tmp_path / "opened"
    done = subprocess.run(["7z", "x", f"-p{out['password']}", f"-o{into}", out["path"]],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = into.iterdir()
    return folder


def test_rows_deleted_and_a_prune_faked_in_the_index_are_caught_R50(two_days, tmp_path):
    """Issue 13 item 3 (hashprune item 3): on a copy of the device after the real prune, the
    person with sqlite3 deletes the next recording-time hashes (of footage still kept) and
    inserts the `segment-hashes-pruned` entry that would explain it, linked after the last
    entry (its hash is public; its MAC needs the key, which is not in the data directory)."""
    config, day_a, day_b = two_days
    if any(sid in day_a for _, sid in hash_rows(config)):    # not pruned by the test above
        ran = nvr_at(AHEAD, config, "retention", "run", "--json", "--clock-checked")
        assert ran.returncode == 0, ran.stderr
    shutil.copytree(config.parent, tmp_path / "device")
    copy = tmp_path / "device" / config.name
    rows = hash_rows(copy)
    k = rows[1][0]                                       # day B's first two hashes go
    with index(copy) as db:
        chain = db.execute("SELECT chain FROM segment_hashes WHERE n = ?", (k,)).fetchone()[0]
        last = db.execute("SELECT n, at, hash FROM logbook WHERE book = 'usage' ORDER BY n "
                          "DESC LIMIT 1").fetchone()
        for action, details in (("segment-hashes", {"chain": chain, "hashes": k}),
                                ("segment-hashes-pruned", {"chain": chain, "hashes": k})):
            n = last[0] + 1
            text = json.dumps(details, sort_keys=True)
            digest = _entry_hash("usage", n, last[1], "nvr", action, f"hash {k}", PRUNE_REASON,
                                 text, last[2])
            db.execute("INSERT INTO logbook (book, n, at, actor, action, subject, reason, "
                       "details, prev, hash, mac) VALUES ('usage', ?, ?, 'nvr', ?, ?, ?, ?, ?, "
                       "?, ?)", (n, last[1], action, f"hash {k}", PRUNE_REASON, text, last[2],
                                 digest, "0" * 64))
            last = (n, last[1], digest)
        db.execute("DELETE FROM segment_hashes WHERE n <= ?", (k,))
    env = {**os.environ, "NVR_PASSWORD": PASSWORD}      # no login before the verify
    logbook = nvr_at(AHEAD, copy, "logbook", "verify", "--user", "d.dpo", "--json", env=env)
    assert logbook.returncode == 1, logbook.stdout + logbook.stderr
    named = {p["entry"] for p in json.loads(logbook.stdout)["problems"]}
    assert {last[0] - 1, last[0]} <= named, logbook.stdout
    verified = nvr_at(AHEAD, copy, "recordings", "verify", "--json")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    problems = json.loads(verified.stdout)["problems"]
    assert any("without a logged prune" in p["error"] for p in problems), problems
