"""Footage is gone after 28 days, whatever runs (issue 9, items 3-7; R-40, R-41).

Erasure is enforced at every key lookup, in every process: proven with processes whose clock
is moved by `faketime` as well as with `now=`. Checkpoints are checked by looking for the wrapped
key bytes in index.sqlite3 and index.sqlite3-wal, with a reader holding a transaction.
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import FOOTAGE, ROOT, make_store, nvr, recordings, staff
from deviceday import footage_day
from firmware.storage import retention
from firmware.storage.holds import add_hold, release_hold
from firmware.storage.store import KeyErased
from test_store import busy_video, device, ingest, now_utc  # noqa: F401 (fixture)

DAY = 86400


def files_of(data: Path) -> bytes:
    """index.sqlite3 and its -wal, read by another process: opening and closing the files in
    this one would drop the POSIX locks of this process's SQLite connections."""
    paths = [str(p) for p in sorted(data.glob("index.sqlite3*"))]
    return subprocess.run(["cat", *paths], capture_output=True, check=True).stdout


def wrapped_slot_keys(data: Path) -> list[bytes]:
    with closing(sqlite3.connect(data / "index.sqlite3")) as db:
        return [r[0] for r in db.execute("SELECT wrapped FROM slot_keys")] + \
               [r[0] for r in db.execute("SELECT wrapped_dek FROM segments")]


class Reader:
    """Another process's reader holding a read transaction (a snapshot) open."""

    def __init__(self, data: Path):
        self.db = sqlite3.connect(data / "index.sqlite3", isolation_level=None)
        self.db.execute("BEGIN")
        self.db.execute("SELECT count(*) FROM segments").fetchone()

    def end(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()


def play(config: Path, target: str, env: dict, *, clock: str | None = None,
         stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "firmware.cli", "--config", str(config), "segment", "play",
           target, *FOOTAGE]
    if clock:
        cmd = ["faketime", "-f", clock, *cmd]
    return subprocess.run(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.PIPE,
                          timeout=120)


# --- item 4: erasure at every key lookup ----------------------------------------------------

def test_a_process_40_days_ahead_cannot_open_footage_no_sweep_needed_item4(tmp_path,
                                                                          busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    env = staff(config)
    rows = recordings(config)
    seg = rows[0]
    today = play(config, seg["id"], env)
    assert today.returncode == 0, today.stderr
    assert len(today.stdout) > 1000
    later = play(config, seg["id"], env, clock="+40d")
    assert later.returncode == 1 and later.stdout == b""
    assert b"erased" in later.stderr and b"R-40" in later.stderr, later.stderr
    copy = play(config, seg["path"], env, clock="+40d")      # by file, as a copy would be
    assert copy.returncode == 1 and copy.stdout == b"" and b"R-40" in copy.stderr
    # The store as the web process opens it (`create_app` calls `_open_store`; the app itself
    # is not built here: under libfaketime Flask-Limiter's timer thread keeps a process from
    # exiting): in a process 40 days ahead, no key opens.
    script = ("import sys\nfrom firmware.config import load\nfrom firmware.web import _open_store\n"
              "store = _open_store(load(sys.argv[1]))\n"
              "try:\n    b''.join(store.read_segment(sys.argv[2]))\nexcept Exception as e:\n"
              "    print(type(e).__name__, e)\n")
    web = subprocess.run(["faketime", "-f", "+40d", sys.executable, "-c", script, str(config),
                          seg["id"]], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert web.stdout.startswith("KeyErased") and "R-40" in web.stdout, web.stdout + web.stderr
    # No sweep ran: the file is still there, the key is refused all the same.
    assert Path(seg["path"]).exists()


def test_cached_slot_keys_leave_at_their_erase_time_item4(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    store = make_store(tmp_path)
    seg = store.list_segments()[0]
    assert b"".join(store.read_segment(seg["id"]))            # the slot key is now cached
    erase_at = store.db.execute("SELECT erase_at FROM slot_keys k JOIN segments s ON s.slot = "
                                "k.slot WHERE s.id = ?", (seg["id"],)).fetchone()[0]
    last = store.db.execute("SELECT max(erase_at) FROM slot_keys").fetchone()[0]   # an hour
    with pytest.raises(KeyErased, match="R-40"):
        b"".join(store.read_segment(seg["id"], now=erase_at + 1))
    with pytest.raises(KeyErased, match="R-40"):
        store.data_key(seg["id"], now=erase_at)
    assert store.list_segments(now=last) == []               # nobody is shown what is gone
    assert b"".join(store.read_segment(seg["id"], now=erase_at - 1))


# --- item 5: a hold cannot bring footage back ------------------------------------------------

def test_a_hold_over_a_due_slot_keeps_nothing_item5(tmp_path, busy_video):
    config = device(tmp_path)
    start = now_utc() - timedelta(days=29)
    ingest(config, busy_video, start, clock="-29d")           # recorded 29 days ago
    store = make_store(tmp_path)
    assert store.db.execute("SELECT count(*) FROM segments").fetchone()[0] > 0
    hold = add_hold(store, "cam", start.timestamp(), start.timestamp() + 60, "incident",
                    "ref")                                   # no sweep ran since it fell due
    assert hold["segments"] == 0 and hold["already_erased"] > 0
    report = retention.sweep(store, clock_checked=True)      # only old footage: 29 days on
    assert report.segments_erased and store.db.execute(
        "SELECT count(*) FROM segments").fetchone()[0] == 0
    assert not list((tmp_path / "data" / "segments").rglob("*.seg"))


# --- items 3 and 6: checkpoints that are checked ----------------------------------------------

def test_sweep_checkpoints_without_stalling_the_writer_and_alarms_item3(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(days=29), clock="-29d")
    data = tmp_path / "data"
    secrets = [k for k in wrapped_slot_keys(data) if k]
    assert secrets
    reader = Reader(data)
    store = make_store(tmp_path)              # a reader; the sweep takes ownership for its length
    report = retention.sweep(store, checkpoint_attempts=3, clock_checked=True)
    assert report.slots_destroyed and report.erase_complete is False
    # Honest: the wrapped keys are still in a file, and the alarm says so to every process.
    assert any(s in files_of(data) for s in secrets)
    alarms = make_store(tmp_path).alarms()
    assert [a["kind"] for a in alarms] == ["wal-not-purged"]
    assert "reader" in alarms[0]["detail"]
    verify = nvr("--config", str(config), "recordings", "verify", "--json")
    assert json.loads(verify.stdout)["alarms"][0]["kind"] == "wal-not-purged"

    # While the checkpoint keeps waiting for the reader, the writer indexes a segment: the
    # sweep holds no lock while it waits.
    store.take_ownership("record")
    done = threading.Event()
    sweeper = threading.Thread(target=lambda: (retention.sweep(store, checkpoint_attempts=400,
                                                               clock_checked=True),
                                               done.set()))
    sweeper.start()
    written = _write_one_segment(store)
    assert not done.is_set(), "the sweep did not wait for the reader at all"
    assert store.segment_row(written) is not None
    reader.end()
    sweeper.join()
    assert store.alarms() == []
    assert not any(s in files_of(data) for s in secrets)
    store.close()


def _write_one_segment(store) -> str:
    from datetime import datetime, timezone

    from firmware.ids import time_ordered_id
    from firmware.storage.sink import SegmentMeta
    start = datetime.now(timezone.utc)
    meta = SegmentMeta(time_ordered_id(start.timestamp()), time_ordered_id(start.timestamp()), "test-device", "cam", "Testcamera", "gang", start,
                       True)
    target = store.begin(meta)
    target.write(b"x" * 1000)
    target.commit(start + timedelta(seconds=2), 50)
    store.drain()
    return meta.segment_id


def test_hold_release_leaves_no_key_in_any_file_item6(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    env = staff(config)
    data = tmp_path / "data"
    rows = recordings(config)
    held = nvr("--config", str(config), "hold", "add", "--camera", "cam", "--start",
               rows[0]["start"], "--end", rows[-1]["end"], "--reason", "incident",
               "--reference", "R-1", "--json", "--user", "b.beheerder", env=env)
    hold = json.loads(held.stdout)
    with closing(sqlite3.connect(data / "index.sqlite3")) as db:
        secrets = [db.execute("SELECT wrapped_key FROM holds").fetchone()[0]]
        secrets += [r[0] for r in db.execute("SELECT wrapped_dek FROM hold_segments")]
    assert len(secrets) == len(rows) + 1 and all(s in files_of(data) for s in secrets)
    released = nvr("--config", str(config), "hold", "release", str(hold["id"]), "--reason", "incident afgehandeld", "--user",
                   "b.beheerder", env=env)
    assert released.returncode == 0, released.stderr
    assert not any(s in files_of(data) for s in secrets)


def test_hold_release_beside_a_reader_raises_the_alarm_until_purged_item6(tmp_path,
                                                                          busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    data = tmp_path / "data"
    store = make_store(tmp_path)
    hold = add_hold(store, "cam", time.time() - 3600, time.time(), "incident", "ref")
    with closing(sqlite3.connect(data / "index.sqlite3")) as db:
        secrets = [db.execute("SELECT wrapped_key FROM holds").fetchone()[0]]
    reader = Reader(data)
    result = release_hold(store, hold["id"], checkpoint_attempts=3)
    assert result["erase_complete"] is False
    assert any(s in files_of(data) for s in secrets)
    assert [a["kind"] for a in store.alarms()] == ["wal-not-purged"]
    reader.end()
    assert nvr("--config", str(config), "retention", "run").returncode == 0   # the owner retries
    assert store.alarms() == []
    assert not any(s in files_of(data) for s in secrets)


# --- item 7: no plaintext copy escapes the 28 days ---------------------------------------------

def test_segment_play_pipes_to_a_player_never_to_a_file_or_terminal_item7(tmp_path,
                                                                          busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    env = staff(config)
    seg = recordings(config)[0]
    gone = nvr("--config", str(config), "segment", "decrypt", seg["path"], "--out",
               str(tmp_path / "clip.mp4"), *FOOTAGE, env=env)
    assert gone.returncode == 2 and not (tmp_path / "clip.mp4").exists()
    # Into a pipe: the player (here ffprobe) reads the MP4 from stdin.
    player = subprocess.Popen(["ffprobe", "-v", "error", "-show_streams", "-of", "json", "-"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    piped = play(config, seg["id"], env, stdout=player.stdin)
    player.stdin.close()
    streams = json.loads(player.stdout.read())["streams"]
    player.wait(60)
    assert piped.returncode == 0, piped.stderr
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("video", "h264")]
    # To a terminal: refused with a hint, not a byte of video.
    master, slave = pty.openpty()
    try:
        tty = play(config, seg["id"], env, stdout=slave)
        os.close(slave)
        os.set_blocking(master, False)
        try:
            shown = os.read(master, 1 << 16)
        except (BlockingIOError, OSError):
            shown = b""
    finally:
        os.close(master)
    assert tty.returncode == 1 and b"terminal" in tty.stderr and b"ffplay" in tty.stderr
    assert b"ftyp" not in shown and b"moof" not in shown
    # Into a file (`> clip.mp4`): refused, the file stays empty; a file is an export's job.
    with open(tmp_path / "clip.mp4", "wb") as f:
        to_file = play(config, seg["id"], env, stdout=f)
    assert to_file.returncode == 1 and b"export" in to_file.stderr
    assert (tmp_path / "clip.mp4").stat().st_size == 0
    # Logged as playback in both logbooks.
    from firmware.config import load
    from firmware.governance.service import Governance
    gov = Governance.open(load(config))
    viewed = [e for e in gov.logbook.entries("inzien") if e["action"] == "playback"]
    assert viewed and viewed[0]["subject"] == f"segment {seg['id']}"
    gov.close()



def test_web_playback_of_a_due_slot_is_gone_before_any_sweep_item4(tmp_path, busy_video):
    """The web process never sweeps: a slot past its erase time (set back in the index, as
    time would) is refused at the key lookup and no longer on the timeline."""
    from webutil import api, login

    from firmware.config import load
    from firmware.web import create_app
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    staff(config)
    app = create_app(load(config))
    c = login(app, "b.beheerder")
    seg = recordings(config)[0]
    day = footage_day(config)
    granted = api(c, "POST", "/api/cameras/cam/access",
                  {"action": "playback", "purpose": "incident", "reason": "a test of R-40"})
    assert granted.status_code == 200, granted.data
    assert len(c.get(f"/api/cameras/cam/segments/{day}").get_json()) == len(recordings(config))
    with closing(sqlite3.connect(tmp_path / "data" / "index.sqlite3")) as db:
        db.execute("UPDATE slot_keys SET erase_at = ?", (time.time() - 1,))
        db.commit()
    gone = c.get(f"/api/segments/{seg['id']}/video")
    assert gone.status_code == 410 and "R-40" in gone.get_json()["error"]
    assert c.get(f"/api/cameras/cam/segments/{day}").get_json() == []
    assert Path(seg["path"]).exists()                 # no sweep ran; the key is refused


# --- store2: the clock and the index cannot stretch the 28 days (issue 9 review) ---------------

def _due_footage(tmp_path: Path, video: Path) -> tuple[Path, list[dict], dict]:
    """Footage recorded 29 days ago (due in real time, not yet swept), and a hold placed today
    on a window without footage, so the index knows today's date (as a running device's does)."""
    config = device(tmp_path)
    ingest(config, video, now_utc() - timedelta(days=29), clock="-29d")
    old = recordings(config, clock="-29d")
    env = staff(config)
    today = nvr("--config", str(config), "hold", "add", "--camera", "cam", "--start",
                (now_utc() - timedelta(minutes=10)).isoformat(), "--end",
                (now_utc() - timedelta(minutes=5)).isoformat(), "--reason", "incident",
                "--reference", "R-8", "--user", "b.beheerder", env=env)
    assert today.returncode == 0, today.stderr
    return config, old, env


def test_a_clock_moved_back_cannot_open_or_hold_a_due_slot_R40(tmp_path, busy_video):
    config, old, env = _due_footage(tmp_path, busy_video)
    assert old
    back = play(config, old[0]["id"], env, clock="-30d")
    assert back.returncode == 1 and back.stdout == b"" and b"R-40" in back.stderr, back.stderr
    held = subprocess.run(                   # two days back: the window is not in the future
        ["faketime", "-f", "-2d", sys.executable, "-m", "firmware.cli", "--config", str(config),
         "hold", "add", "--camera", "cam", "--start", old[0]["start"], "--end", old[-1]["end"],
         "--reason", "incident", "--reference", "R-9", "--json", "--user", "b.beheerder"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert held.returncode == 0, held.stderr
    assert json.loads(held.stdout)["segments"] == 0
    # Recording with a clock behind what the index already knows is refused, clearly.
    start = now_utc() - timedelta(days=30, minutes=5)
    refused = subprocess.run(
        ["faketime", "-f", "-30d", sys.executable, "-m", "firmware.cli", "--config", str(config),
         "ingest", str(busy_video), "--camera", "cam", "--start", start.isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "clock is behind" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


def test_raising_erase_at_with_sqlite3_changes_nothing_R40(tmp_path, busy_video):
    config, old, env = _due_footage(tmp_path, busy_video)
    with closing(sqlite3.connect(tmp_path / "data" / "index.sqlite3")) as db:
        db.execute("UPDATE slot_keys SET erase_at = erase_at + 1000 * 86400")
        db.commit()
    late = play(config, old[0]["id"], env)
    assert late.returncode == 1 and late.stdout == b"" and b"R-40" in late.stderr, late.stderr
    assert recordings(config) == []
    swept = nvr("--config", str(config), "retention", "run", "--json")
    assert swept.returncode == 0, swept.stderr
    assert sorted(json.loads(swept.stdout)["segments_erased"]) == sorted(r["id"] for r in old)
    # Within the bound too: erase_at is bound into the wrapped key, an edit does not open it.
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    fresh = recordings(config)
    with closing(sqlite3.connect(tmp_path / "data" / "index.sqlite3")) as db:
        db.execute("UPDATE slot_keys SET erase_at = erase_at + 1 WHERE wrapped IS NOT NULL")
        db.commit()
    edited = play(config, fresh[0]["id"], env)
    assert edited.returncode == 1 and edited.stdout == b"", edited.stderr
    assert b"altered" in edited.stderr and b"Traceback" not in edited.stderr


def test_a_clock_moved_forward_erases_nothing_without_a_synchronised_clock_R40(tmp_path,
                                                                               busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    before = recordings(config)
    ahead = subprocess.run(["faketime", "-f", "+40d", sys.executable, "-m", "firmware.cli",
                            "--config", str(config), "recordings", "verify", "--json"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ahead.returncode in (0, 1), ahead.stderr
    assert recordings(config) == before                      # verify never sweeps
    sweep = subprocess.run(["faketime", "-f", "+40d", sys.executable, "-m", "firmware.cli",
                            "--config", str(config), "retention", "run"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert sweep.returncode != 0 and "clock" in sweep.stderr + sweep.stdout, sweep.stderr
    assert recordings(config) == before                      # no key was destroyed
    assert all(Path(r["path"]).exists() for r in before)
    alarms = make_store(tmp_path).alarms()
    assert [a["kind"] for a in alarms] == ["clock-ahead"], alarms
    env = staff(config)
    assert play(config, before[0]["id"], env).returncode == 0


def test_readyz_and_system_page_show_persisted_alarms_R42(tmp_path, busy_video):
    from webutil import login

    from firmware.config import load
    from firmware.web import create_app
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    staff(config)
    store = make_store(tmp_path)
    hold = add_hold(store, "cam", time.time() - 3600, time.time(), "incident", "ref")
    reader = Reader(tmp_path / "data")
    assert release_hold(store, hold["id"], checkpoint_attempts=2)["erase_complete"] is False
    app = create_app(load(config))             # another process's view: only the index knows
    ready = login(app, "t.admin").get("/readyz")      # the reasons: not for anonymous callers
    assert ready.status_code == 503 and "wal-not-purged" in ready.get_data(as_text=True)
    page = login(app, "t.admin").get("/system").get_data(as_text=True)
    assert "gewiste sleutels staan mogelijk nog in index.sqlite3-wal" in page   # in Dutch
    assert "wal-not-purged" not in page                                        # no internal id
    reader.end()
    store.purge_wal()
    again = login(app, "t.admin").get("/readyz").get_json()  # no recorder runs here: 503 for
    assert again["checks"]["storage_alarm"] is False and again["alarms"] == [], again  # that


def test_a_segment_file_gone_before_the_read_is_a_clear_error(tmp_path, busy_video):
    from webutil import api, login

    from firmware.config import load
    from firmware.web import create_app
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    env = staff(config)
    seg = recordings(config)[0]
    Path(seg["path"]).unlink()
    cli = play(config, seg["id"], env)
    assert cli.returncode == 1 and b"Traceback" not in cli.stderr, cli.stderr
    assert b"missing" in cli.stderr and b"verify" in cli.stderr
    app = create_app(load(config))
    c = login(app, "b.beheerder")
    assert api(c, "POST", "/api/cameras/cam/access", {"action": "playback", "purpose":
               "incident", "reason": "checking a missing file"}).status_code == 200
    gone = c.get(f"/api/segments/{seg['id']}/video")
    assert gone.status_code == 410, gone.data
    assert "ontbreekt" in gone.get_json()["error"]


# --- review, round 2: a clock or a start in the future must not make the store erase early --

def test_an_ingest_that_starts_in_the_future_is_refused_and_erases_nothing_R40(tmp_path,
                                                                             busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    before = recordings(config)
    ahead = nvr("--config", str(config), "ingest", str(busy_video), "--camera", "cam",
                "--start", (now_utc() + timedelta(days=200)).isoformat())
    assert ahead.returncode == 1 and "future" in ahead.stderr, ahead.stderr
    assert "Traceback" not in ahead.stderr
    assert nvr("--config", str(config), "retention", "run").returncode == 0
    assert recordings(config) == before            # nothing from the future, nothing erased


_OWN_WRITES_AHEAD = """
import json, sys, time
from firmware.config import load
from firmware.storage.holds import add_hold
from firmware.storage.retention import sweep
from firmware.storage.store import ClockBehind, EncryptedStore
store = EncryptedStore.from_config(load(sys.argv[1]))
what = sys.argv[2]
try:
    store.take_ownership(what)
except ClockBehind as exc:
    print(json.dumps({"refused": str(exc)})); sys.exit(0)
out = {"alarms": [a["kind"] for a in store.alarms()]}
if what == "record":
    # this process's own write at its (wrong) clock raises the index's newest time
    add_hold(store, "cam", time.time() - 60, time.time(), "test", "ref")
    out["erased"] = sweep(store).segments_erased
print(json.dumps(out))
"""


def _as_process(config: Path, clock: str, what: str) -> dict:
    run = subprocess.run(["faketime", "-f", clock, sys.executable, "-c", _OWN_WRITES_AHEAD,
                          str(config), what], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_a_recorder_on_a_clock_ahead_erases_by_the_index_time_not_its_own_writes_R40(
        tmp_path, busy_video):
    from firmware.system.clock import clock_synchronised
    if clock_synchronised():
        pytest.skip("this host's clock is synchronised (adjtimex): the store trusts a "
                    "synchronised clock however far ahead it is, so the case cannot be made")
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(days=20), clock="-20d")
    before = recordings(config)
    assert before
    got = _as_process(config, "+10d", "record")       # 20-day-old footage is 30 days old there
    assert got["alarms"] == ["clock-ahead"] and got["erased"] == [], got
    assert all(Path(r["path"]).exists() for r in before)   # (its own write stays in the
    # index, so later processes count its time: docs/storage.md, "Time")


def test_a_recorder_on_a_clock_behind_records_on_with_an_alarm_an_ingest_is_refused_R40(
        tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=10))
    assert "refused" in _as_process(config, "-2d", "ingest")
    got = _as_process(config, "-2d", "record")
    assert "refused" not in got and "clock-behind" in got["alarms"], got
