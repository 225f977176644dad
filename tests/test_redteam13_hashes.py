"""Red team of issue 13: someone with sqlite3 and the data directory (no keys) against the
proof back to recording time (storage/hashes.py, export/service.py, R-62), and the window a
package claims (export/manifest.py, remux.py).

Findings (first in exportfix's and benchseal's files, marked xfail; fixed by the lead since):
4. A recording-time hash removed from `segment_hashes` with sqlite3 after it was sealed is not
   noticed: the next export lists the segment with `sha256_at_recording: null`, as if it was
   recorded before this firmware, and the package verifies. The first row of the chain can
   go without a chain break at all (`chain_breaks` starts from the first row present), and
   `seal` compares only the number in the last seal's subject, never the chain head it
   sealed. Whoever removes the hash can then no longer be caught changing the segment.
5. The manifest's `gaps` list only the time between segments: a window that begins before
   the first recorded frame (motion-only recording) lists no gap there, while
   `window.start` claims the asked start.
6. The export is recorded and logged only after the package is renamed into place, outside
   the part that aborts: when the governance database refuses the write then (disk full), a
   package that verifies is on the stick and neither logbook has it (R-51, art. 7 lid 2).
7. The art. 9 declaration prints the key fingerprint kept in the `exports` row: changed with
   sqlite3, the declaration the recipient signs vouches for another key, the out-of-band
   check that alone tells a re-signed package (finding 3) from the device's.
9. `nvr export create` decrypts footage (and for a 7z keeps the whole plaintext package in
   memory files) outside the units' MemorySwapMax=0 and says nothing when swap is active,
   unlike `nvr run` and `nvr web`.
10. The MP4 holds whole segments: footage after the authorised window's end leaves the
   building (up to one segment), although frames after the end can be dropped without
   re-encoding (only the start needs a keyframe). docs/export.md says so; R-60 asks that only
   what the request covers is exported.
11. An export process killed after it sent `write finish` (the web restarted, SIGKILL): exportd
   completes the rename, so a package that verifies is on the stick, and neither logbook has
   it (the entry is written after finish answers); the `exports` row, inserted before the
   write and deleted only in an except clause, stays without files or package. Log the export
   (or its intent) before finish.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from stickutil import Desk, art9_site, fresh_desk, index_file  # noqa: F401 (desk: a fixture)

from firmware.export.helpers import DirectoryHelper, ExportError


def test_a_sealed_recording_time_hash_deleted_with_sqlite3_stops_the_export_R62(desk, tmp_path):
    helper = DirectoryHelper(tmp_path / "stick", package="files")
    first = desk.export(helper)                         # seals the chain in the logbook
    manifest = json.loads((Path(first["path"]) / "manifest.json").read_text())
    [video] = manifest["videos"]
    assert all(s["sha256_at_recording"] for s in video["segments"])
    victim = video["segments"][0]["id"]
    with sqlite3.connect(index_file(desk.store)) as db:   # the person with sqlite3
        db.execute("DELETE FROM segment_hashes WHERE segment_id = ?", (victim,))
    with pytest.raises(ExportError, match="hash"):
        again = desk.export(DirectoryHelper(tmp_path / "stick2", package="files"))
        m = json.loads((Path(again["path"]) / "manifest.json").read_text())
        print([s["sha256_at_recording"] for s in m["videos"][0]["segments"]])


def test_a_window_that_begins_before_the_footage_lists_that_gap_R62(desk, tmp_path):
    from firmware.export.manifest import write_package
    segments = desk.store.list_segments("cam")
    start = segments[0]["start"] - 60                    # a minute without footage first
    info = {"export": 1, "reference": "R", "operator": "o", "recipient": "r", "device": "d",
            "camera": "cam", "camera_name": "c", "location": "l", "start": start,
            "end": segments[-1]["end"]}
    out = write_package(tmp_path, "export-gap", store=desk.store, signer=desk.gov.logbook.signer,
                        segments=segments, recorded={}, info=info)
    manifest = json.loads((Path(out["path"]) / "manifest.json").read_text())
    gaps = manifest["videos"][0]["gaps"]
    assert gaps and gaps[0]["start"] == manifest["window"]["start"], gaps


def test_a_package_on_the_stick_is_always_in_the_logbooks_even_when_logging_fails_R51_R62(
        desk, tmp_path):
    from stickutil import verify_cli

    from firmware.export.helpers import FolderTarget

    class DiskFullAfterRename(DirectoryHelper):
        """The development folder; right after the package is renamed into place the device's
        disk is full: SQLite refuses writes (query_only, as SQLITE_FULL would)."""

        def target(self, stick, name, files, need):
            inner = super().target(stick, name, files, need)
            gov = desk.gov

            class Then(FolderTarget):
                def __init__(self):
                    self.__dict__.update(inner.__dict__)

                def finish(self):
                    done = FolderTarget.finish(self)
                    gov.logbook.db.execute("PRAGMA query_only = ON")
                    desk.reqs.db.execute("PRAGMA query_only = ON")
                    return done
            return Then()

    medium = tmp_path / "stick"
    try:
        desk.export(DiskFullAfterRename(medium, package="files"))
    except Exception:                                  # noqa: BLE001 - any refusal will do
        pass
    finally:
        desk.gov.logbook.db.execute("PRAGMA query_only = OFF")
        desk.reqs.db.execute("PRAGMA query_only = OFF")
    packages = [p for p in medium.iterdir() if p.is_dir() and not p.name.startswith(".")]
    valid = [p for p in packages if verify_cli(desk.config, p).returncode == 0]
    logged = [e for e in desk.gov.logbook.entries("inzien") if e["action"] == "export-written"]
    assert not valid or logged, f"{valid} verifies, but no export-written entry in the logbook"


def test_a_key_that_expires_during_the_export_stops_it_R40(desk, tmp_path):
    """R-40: the 28 days of a segment end while its export runs (after the segments were
    listed and the target opened) and no hold keeps it (a registered art. 9 request holds its
    window, R-41; here the hold is released at that moment): the segment is not exported
    after its erase time, the export ends cleanly (nothing on the stick verifies,
    export-failed logged)."""
    from stickutil import nothing_verifies

    class ExpiresNow(DirectoryHelper):
        def target(self, stick, name, files, need):
            opened = super().target(stick, name, files, need)
            with desk.store.lock:                    # the erase time of every slot is now
                desk.store.db.execute("UPDATE slot_keys SET erase_at = ?", (time.time() - 1,))
                desk.store.db.execute("UPDATE holds SET released = ?, wrapped_key = NULL",
                                      (time.time(),))       # as holds.release does
            return opened

    medium = tmp_path / "stick"
    with pytest.raises(ExportError, match="erase|R-40|28"):
        desk.export(ExpiresNow(medium, package="files"))
    assert nothing_verifies(desk.config, medium) == []
    assert desk.failures() and not desk.exports()


def test_the_declaration_prints_the_devices_own_fingerprint_not_the_tables_R62(desk, tmp_path):
    import subprocess

    from conftest import nvr, staff
    export = desk.export(DirectoryHelper(tmp_path / "stick", package="files"))
    real = desk.gov.logbook.signer.fingerprint
    fake = "ab" * 32                                   # the forger's key
    gov_db = next(r[2] for r in desk.reqs.db.execute("PRAGMA database_list") if r[1] == "main")
    with sqlite3.connect(gov_db) as db:                 # the person with sqlite3
        db.execute("UPDATE exports SET archive = json_set(archive, '$.fingerprint', ?) "
                   "WHERE id = ?", (fake, export["id"]))
    pdf = tmp_path / "verklaring.pdf"
    done = nvr("--config", str(desk.config), "export", "declaration", str(export["id"]),
               "--out", str(pdf), "--user", "b.beheerder", env=staff(desk.config))
    if done.returncode == 0:                            # or a refusal naming the mismatch
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout.replace(" ", "")
        assert fake not in text and real in text


def test_nvr_export_create_warns_when_swap_can_take_the_decrypted_footage(desk, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    from conftest import ROOT, staff

    from firmware.system.swap import cgroup_v2_path, swap_forbidden
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("showing swap to nvr needs unshare and root (a bind mount over /proc/swaps)")
    if swap_forbidden(cgroup_v2_path() or "/nowhere"):
        pytest.skip("this test's cgroup forbids swap: no warning is due")
    fake = tmp_path / "swaps"
    fake.write_text("Filename\tType\tSize\tUsed\tPriority\n/swapfile file 102396 0 -2\n")
    run = subprocess.run(
        ["unshare", "-m", "sh", "-c", f'mount --bind {fake} /proc/swaps && exec "$@"', "sh",
         sys.executable, "-m", "firmware.cli", "--config", str(desk.config), "export",
         "create", "--request", "PL-STICK-1", "--to", str(tmp_path / "out"), "--user",
         "b.beheerder", "--reason", "art. 9"], capture_output=True, text=True,
        env=staff(desk.config), cwd=ROOT, timeout=300)
    if "mount" in run.stderr and run.returncode != 0 and "export" not in run.stderr:
        pytest.skip(f"no mount namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    assert "swap" in run.stderr.lower(), run.stderr


def test_no_frame_after_the_authorised_window_is_exported_R60(desk, tmp_path):
    from datetime import datetime

    from firmware.export.manifest import write_package
    segments = desk.store.list_segments("cam")
    end = segments[-1]["start"] + 1.0                  # one second into the last segment
    info = {"export": 1, "reference": "R", "operator": "o", "recipient": "r", "device": "d",
            "camera": "cam", "camera_name": "c", "location": "l",
            "start": segments[0]["start"], "end": end}
    out = write_package(tmp_path, "export-end", store=desk.store,
                        signer=desk.gov.logbook.signer, segments=segments, recorded={},
                        info=info)
    manifest = json.loads((Path(out["path"]) / "manifest.json").read_text())
    last = datetime.fromisoformat(manifest["videos"][0]["last_frame"]["utc"]).timestamp()
    assert last <= end + 1 / 25, (last - end, "seconds of footage past the window's end")


def test_an_export_killed_mid_write_leaves_no_export_row_R62(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import threading

    from conftest import ROOT, staff
    from stickutil import LUKS_PASSWORD, exportd, stick_config, verify_cli
    (tmp_path / "site").mkdir()
    site = art9_site(tmp_path / "site")
    with exportd(tmp_path) as (sock, daemon, runner):
        daemon.unlock("/dev/sdb", LUKS_PASSWORD)
        reached, release, ended = threading.Event(), threading.Event(), threading.Event()
        finish = daemon.write_finish

        def held_finish(device, name):              # the moment before the rename
            reached.set()
            release.wait(60)
            try:
                return finish(device, name)
            finally:
                ended.set()
        daemon.write_finish = held_finish
        proc = subprocess.Popen(
            [sys.executable, "-m", "firmware.cli", "--config", str(stick_config(site)),
             "export", "create", "--request", "PL-STICK-1", "--user", "b.beheerder",
             "--reason", "art. 9"], env={**staff(site), "NVR_EXPORTD_SOCKET": str(sock)},
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert reached.wait(240), proc.communicate(timeout=5)
            os.kill(proc.pid, signal.SIGKILL)          # the web restarted, a power cut
            proc.wait(30)
        finally:
            release.set()
        assert ended.wait(60)
        medium = daemon.sticks["/dev/sdb"].mountpoint
        valid = [p.name for p in medium.iterdir()
                 if p.is_dir() and verify_cli(site, p).returncode == 0]
    desk = Desk(site)
    try:
        rows = desk.exports()
        logged = [e for e in desk.gov.logbook.entries("inzien") if e["action"] == "export-written"]
        assert not valid or logged, f"{valid} verifies on the stick; no export-written entry"
        assert rows == [] or all(r["archive"] for r in rows), rows
    finally:
        desk.close()


def test_a_prune_forged_into_the_logbook_table_does_not_open_the_export_gate_R62(desk, tmp_path):
    """hashprune: the sealed rows of footage that still exists deleted with sqlite3 and a
    `segment-hashes-pruned` entry inserted into the logbook table to explain the chain's new
    start (no MAC: the key is not on the data disk). The export gate asks the logbook whether
    the entry is its own, so the export stops; the index alone would let it through with the
    segments' hashes `null`."""
    from firmware.storage.hashes import PRUNE_REASON, chain_head, export_problems
    desk.export(DirectoryHelper(tmp_path / "stick", package="files"))    # seals the chain
    with desk.store.lock:
        n, head = chain_head(desk.store.db)
    last = desk.gov.logbook.entries("usage")[-1]
    details = json.dumps({"chain": head, "hashes": n}, sort_keys=True)
    with sqlite3.connect(index_file(desk.store)) as db:   # the person with sqlite3
        db.execute("INSERT INTO logbook (book, n, at, actor, action, subject, reason, details, "
                   "prev, hash, mac) VALUES ('usage', ?, ?, 'nvr', 'segment-hashes-pruned', ?, "
                   "?, ?, ?, ?, ?)", (last["n"] + 1, last["at"] + 1, f"hash {n}", PRUNE_REASON,
                                      details, last["hash"], "f" * 64, "0" * 64))
        db.execute("DELETE FROM segment_hashes WHERE n <= ?", (n,))
    ids = [s["id"] for s in desk.store.list_segments("cam")]
    with desk.store.lock:
        assert export_problems(desk.store.db, ids) == []      # what the index alone says
    with pytest.raises(ExportError, match="hash"):
        desk.export(DirectoryHelper(tmp_path / "stick2", package="files"))
