"""The encrypted 28-day store: erasure, holds, tampering, no plaintext, crash safety, full disk.

Footage is made by the real `nvr ingest` from a rendered scene with motion all the time, with
`--start` placing it in the past where a test needs it expired (R-40 then erases it at the
next sweep; no clock is faked).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pytest

from firmware.capture.synthetic import Mover, Scene
from firmware.storage import retention
from firmware.storage.holds import add_hold, release_hold
from firmware.storage.keys import FileKeyProvider, KeyProblem
from firmware.storage.segcrypt import CHUNK_SIZE, TAG, SegmentError, read_header
from firmware.storage.store import EncryptedStore, KeyErased

from conftest import (FOOTAGE, ROOT, decrypt_all, ffprobe, make_store, nvr, recordings,
                      render_scene, staff, write_config)

FPS = 25
DAY = 86400


def busy_scene(seconds: int) -> Scene:
    """Motion from start to end: a mover crossing again and again."""
    movers = [Mover(t, t + 2.0, 0.05, 0.3, 0.7, 0.35, 0.15, 0.25, 20 if t % 4 else 230)
              for t in range(0, seconds, 2)]
    return Scene(320, 240, FPS, movers, noise=2.0, clock=False, seed=3)


@pytest.fixture(scope="module")
def busy_video(tmp_path_factory):
    return render_scene(busy_scene(40), FPS * 40, tmp_path_factory.mktemp("v") / "busy.mp4")


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def ingest(config: Path, video: Path, start: datetime, clock: str | None = None) -> dict:
    """`nvr ingest` from `start`; with `clock` (e.g. "-29d") in a process whose clock is moved
    by faketime, so footage can be recorded in the past and kept until a real sweep."""
    cmd = [sys.executable, "-m", "firmware.cli", "--config", str(config), "ingest", str(video),
           "--camera", "cam", "--start", iso(start), "--json"]
    if clock:
        cmd = ["faketime", "-f", clock, *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def device(tmp_path: Path, **storage) -> Path:
    extra = "\n".join(f"{k} = {v}" for k, v in storage.items())
    return write_config(tmp_path, storage="segment_seconds = 4\n" + extra,
                        camera_extra="bitrate_kbps = 600\npostroll_seconds = 2\n"
                                     "preroll_seconds = 1")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# --- cryptographic erase (R-40) -------------------------------------------------------------

def test_expired_copies_no_longer_decrypt_newer_ones_do_R40(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(days=29), clock="-29d")
    old = recordings(config, clock="-29d")
    aside = tmp_path / "aside"
    aside.mkdir()
    copies = [Path(shutil.copy(r["path"], aside / f"copy-{i}.seg")) for i, r in enumerate(old)]

    # Only footage of 29 days ago in the index: the unsynchronised clock is confirmed by hand.
    result = nvr("--config", str(config), "retention", "run", "--json", "--clock-checked")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(report["segments_erased"]) == sorted(r["id"] for r in old)
    assert report["slots_destroyed"] and report["erase_complete"]
    ingest(config, busy_video, now_utc() - timedelta(hours=2))
    new = recordings(config)

    env = staff(config)
    for copy in copies:
        out = subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                              "segment", "play", str(copy), *FOOTAGE], env=env, cwd=ROOT,
                             capture_output=True)
        assert out.returncode == 1 and out.stdout == b""
        assert b"was erased" in out.stderr and b"R-40" in out.stderr
    assert [r["id"] for r in recordings(config)] == [r["id"] for r in new]
    for path in decrypt_all(config, new, tmp_path / "plain"):
        info = ffprobe(path)
        assert [(s["codec_type"], s["codec_name"]) for s in info["streams"]] == [("video", "h264")]


def test_erasure_deadline_never_later_than_28_days_after_the_end(tmp_path, busy_video):
    store = make_store(tmp_path)
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(days=3))
    rows = store.db.execute("SELECT s.end, k.erase_at FROM segments s JOIN slot_keys k "
                            "ON k.slot = s.slot").fetchall()
    assert rows
    for r in rows:
        assert r["erase_at"] <= r["end"] + 28 * DAY
        assert r["erase_at"] >= r["end"] + 28 * DAY - 3600 - 60
    # And a sweep at that moment (plus the one-minute timer) leaves nothing decryptable.
    latest = max(r["erase_at"] for r in rows)
    retention.sweep(store, now=latest + 60)
    assert store.list_segments() == []


# --- holds (R-41) ---------------------------------------------------------------------------

def test_hold_keeps_exactly_its_window_and_release_erases_R41(tmp_path, busy_video):
    config = device(tmp_path)
    start = now_utc() - timedelta(days=30)
    ingest(config, busy_video, start, clock="-30d")
    # The hold was placed while the footage was fresh (a due slot counts as erased, item 5).
    then = start.timestamp() + 60
    store = make_store(tmp_path)
    rows = store.list_segments(now=then)
    h0, h1 = (start + timedelta(seconds=10)).timestamp(), (start + timedelta(seconds=18)).timestamp()
    hold = add_hold(store, "cam", h0, h1, "incident at the entrance", "PL0900-2026-123",
                    now=then)
    store.close()
    env = staff(config)
    expected = {r["id"] for r in rows if r["start"] < h1 and r["end"] > h0}
    assert hold["segments"] == len(expected) >= 2
    assert nvr("--config", str(config), "retention", "run", "--clock-checked").returncode == 0
    kept = recordings(config)
    assert {r["id"] for r in kept} == expected and all(r["held"] for r in kept)
    for path in decrypt_all(config, kept, tmp_path / "held"):
        assert ffprobe(path)["streams"][0]["codec_name"] == "h264"

    listed = json.loads(nvr("--config", str(config), "hold", "list", "--json", "--user",
                            "b.beheerder", env=env).stdout)
    assert listed[0]["reference"] == "PL0900-2026-123" and listed[0]["released"] is None
    result = nvr("--config", str(config), "hold", "release", str(hold["id"]), "--reason", "incident afgehandeld", "--user",
                 "b.beheerder", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(nvr("--config", str(config), "retention", "run", "--json",
                            "--clock-checked").stdout)
    assert sorted(report["segments_erased"]) == sorted(expected)
    assert recordings(config) == []


def test_hold_placed_before_recording_holds_new_footage(tmp_path, busy_video):
    store = make_store(tmp_path)
    config = device(tmp_path)
    start = now_utc() - timedelta(days=30)
    add_hold(store, "cam", start.timestamp() + 30, start.timestamp() + 60, "reason", "ref",
             now=start.timestamp())                # placed then: recording then is not refused
    ingest(config, busy_video, start, clock="-30d")
    retention.sweep(store, clock_checked=True)
    kept = store.list_segments()
    assert kept and all(r["held"] for r in kept)
    assert all(r["end"] > start.timestamp() + 30 for r in kept)


def test_released_hold_on_fresh_footage_falls_back_under_retention(tmp_path, busy_video):
    store = make_store(tmp_path)
    config = device(tmp_path)
    start = now_utc() - timedelta(hours=1)
    ingest(config, busy_video, start)
    hold = add_hold(store, "cam", start.timestamp(), start.timestamp() + 60, "r", "ref")
    release_hold(store, hold["id"])
    retention.sweep(store)
    assert len(store.list_segments()) == hold["segments"]   # not yet 28 days: kept
    retention.sweep(store, now=time.time() + 29 * DAY)
    assert store.list_segments() == []


# --- tampering --------------------------------------------------------------------------------

@pytest.fixture
def one_segment(tmp_path, busy_video):
    """An indexed segment of more than two chunks."""
    config = write_config(tmp_path, storage="segment_seconds = 20",
                          camera_extra="bitrate_kbps = 2000")
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    store = make_store(tmp_path)
    row = max(store.list_segments(), key=lambda r: r["bytes"])
    assert row["bytes"] > 3 * (CHUNK_SIZE + TAG)
    return store, row, store.data_dir / row["path"]


def _read(store, row):
    for _ in store.read_segment(row["id"]):
        pass


def test_flipped_byte_is_detected(one_segment):
    store, row, path = one_segment
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(data)
    with pytest.raises(SegmentError, match="failed authentication"):
        _read(store, row)


def test_truncated_file_is_detected(one_segment):
    store, row, path = one_segment
    header_len = len(read_header(path).pack())
    data = path.read_bytes()
    path.write_bytes(data[:header_len + 2 * (CHUNK_SIZE + TAG)])     # at a chunk boundary
    with pytest.raises(SegmentError, match="truncated: the file ends after chunk 1"):
        _read(store, row)
    path.write_bytes(data[:-100])                                     # inside the last chunk
    with pytest.raises(SegmentError, match="chunk"):
        _read(store, row)


def test_swapped_chunks_are_detected(one_segment):
    store, row, path = one_segment
    header_len = len(read_header(path).pack())
    data = path.read_bytes()
    c = CHUNK_SIZE + TAG
    first, second = data[header_len:header_len + c], data[header_len + c:header_len + 2 * c]
    path.write_bytes(data[:header_len] + second + first + data[header_len + 2 * c:])
    with pytest.raises(SegmentError, match="chunk 0 failed authentication"):
        _read(store, row)


def test_segment_copied_under_another_name_is_detected(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    store = make_store(tmp_path)
    a, b = store.list_segments()[:2]
    shutil.copy(store.data_dir / a["path"], store.data_dir / b["path"])
    with pytest.raises(SegmentError, match=f"the file is segment {a['id']}, not {b['id']}"):
        _read(store, b)
    result = nvr("--config", str(config), "recordings", "verify", "--json")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert [p["segment"] for p in problems] == [b["id"]]


def test_header_edit_is_detected(one_segment):
    store, row, path = one_segment
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF                     # inside the key slot number
    path.write_bytes(data)
    with pytest.raises((SegmentError, KeyErased)):
        _read(store, row)


def test_foreign_file_is_refused_clearly(tmp_path, busy_video):
    config = device(tmp_path)
    result = nvr("--config", str(config), "segment", "play", str(busy_video), *FOOTAGE,
                 env=staff(config))
    assert result.returncode == 1 and "not an encrypted segment" in result.stderr


# --- no plaintext ---------------------------------------------------------------------------

MP4_MARKERS = (b"ftyp", b"moov", b"moof", b"mdat", b"avc1", b"nvr_camera")


def test_no_plaintext_footage_on_disk(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.suffix == ".seg" for p in files)
    for p in files:
        data = p.read_bytes()
        for marker in MP4_MARKERS:
            assert marker not in data, f"{marker!r} in {p}"


# --- keys -----------------------------------------------------------------------------------

def test_master_key_readable_by_others_is_refused_R82(tmp_path):
    make_store(tmp_path)
    key = tmp_path / "keys" / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o644)
    with pytest.raises(KeyProblem, match="readable by others"):
        make_store(tmp_path)


def test_missing_master_key_with_footage_is_refused(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    (tmp_path / "keys" / "master.key").unlink()
    result = nvr("--config", str(config), "recordings", "verify")
    assert result.returncode == 1
    assert "master key is missing" in result.stderr and "restore" in result.stderr
    assert not (tmp_path / "keys" / "master.key").exists()


def test_stolen_data_disk_alone_opens_nothing_R82(tmp_path, busy_video):
    """With the data directory but another master key, no segment decrypts."""
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    thief = tmp_path / "thief"
    shutil.copytree(tmp_path / "data", thief / "data")
    (thief / "keys").mkdir()
    FileKeyProvider(thief / "keys").create()
    stolen = EncryptedStore(thief / "data", "test-device", FileKeyProvider(thief / "keys"),
                            retention_days=28)
    row = stolen.list_segments()[0]
    with pytest.raises(KeyProblem, match="does not open"):
        _read(stolen, row)


# --- crash safety ---------------------------------------------------------------------------

def test_sigkill_at_random_moments_never_corrupts_the_index(tmp_path, busy_video):
    config = device(tmp_path)
    rng = random.Random(2026)
    start = now_utc() - timedelta(hours=3)
    kills = 0
    for i in range(20):
        proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "ingest", str(busy_video), "--camera", "cam", "--start",
                                 iso(start + timedelta(minutes=i))],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not list((tmp_path / "data").rglob("*.part")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.2))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        result = nvr("--config", str(config), "recordings", "verify", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["problems"] == [] and report["missing_files"] == []
        # Index and disk agree: every row has its file, every file its row.
        store = make_store(tmp_path)
        on_disk = {str(p.relative_to(tmp_path / "data"))
                   for p in (tmp_path / "data").rglob("*") if p.is_file()
                   and "segments" in p.parts}
        assert on_disk == {r["path"] for r in store.list_segments()}
        store.close()
    assert kills >= 15


# --- disk full (R-42) -----------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A real 24 MB ext4 filesystem on a loop device."""
    if os.geteuid() != 0:
        pytest.skip("mounting a loop filesystem needs root (CI runs as root)")
    image, mnt = tmp_path / "disk.img", tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "24M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    done = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a loop filesystem here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "--lazy", str(mnt)], check=False)


def test_full_disk_evicts_oldest_unheld_first_never_held_R42(tmp_path, small_disk, busy_video):
    data = small_disk / "data"
    config = write_config(tmp_path, storage="segment_seconds = 4\nhigh_water_percent = 60",
                          camera_extra="bitrate_kbps = 3000", data_dir=str(data))
    store = make_store(tmp_path, data_dir=data)
    start = now_utc() - timedelta(hours=1)
    hold = add_hold(store, "cam", start.timestamp() + 4, start.timestamp() + 12, "r", "ref")
    first = ingest(config, busy_video, start)
    assert first["lost_segments"] == 0
    seen = {r["id"]: r for r in store.list_segments()}
    for k in range(1, 4):
        ingest(config, busy_video, start + timedelta(minutes=k))
        seen.update((r["id"], r) for r in store.list_segments())
    kept = store.list_segments()
    held = [r for r in kept if r["held"]]
    assert hold["segments"] == 0                    # placed before any footage existed
    t0 = start.timestamp()
    # The hold window 4-12 s holds the segments [4, 8) and [8, 12) recorded into it.
    assert sorted(round(r["start"] - t0) for r in held) == [4, 8]
    unheld = [r for r in kept if not r["held"]]
    assert unheld and store.disk_used() <= 0.75
    # The oldest unheld footage went first: every evicted segment is older than every kept
    # unheld one, and the newest footage is all there.
    evicted = [r for i, r in seen.items() if i not in {k["id"] for k in kept}]
    assert evicted and not any(r["held"] for r in evicted)
    assert max(r["start"] for r in evicted) < min(r["start"] for r in unheld)
    assert max(r["end"] for r in unheld) >= (start + timedelta(minutes=3, seconds=39)).timestamp()
    result = nvr("--config", str(config), "recordings", "verify", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["problems"] == []
    store.close()


def test_full_disk_of_held_footage_stops_recording_with_an_alarm_R42(tmp_path, small_disk,
                                                                     busy_video):
    data = small_disk / "data"
    config = write_config(tmp_path, storage="segment_seconds = 4\nhigh_water_percent = 60",
                          camera_extra="bitrate_kbps = 3000", data_dir=str(data))
    store = make_store(tmp_path, data_dir=data)
    start = now_utc() - timedelta(hours=1)
    hold = add_hold(store, "cam", start.timestamp(), start.timestamp() + 3600, "r", "ref")
    result = nvr("--config", str(config), "-v", "ingest", str(busy_video), "--camera", "cam",
                 "--start", iso(start), "--json")
    assert result.returncode == 0, result.stderr
    assert "R-42" in result.stderr and "recording stopped" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["lost_segments"] > 0
    assert all(r["held"] for r in store.list_segments())
    check = nvr("--config", str(config), "recordings", "verify", "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["problems"] == []
    # The alarm is kept in the index, so every process (/readyz of the web) sees it ...
    alarms = make_store(tmp_path, data_dir=data).alarms()
    assert [a["kind"] for a in alarms] == ["storage-full"] and "R-42" in alarms[0]["detail"]
    # ... and it is cleared once room is made again.
    release_hold(store, hold["id"])
    store.take_ownership("record")
    store.ensure_capacity()
    assert store.alarms() == []
    store.close()


def test_cipher_is_named_in_each_file_and_both_ciphers_work(tmp_path, busy_video):
    config = device(tmp_path, cipher='"aes-256-gcm"')
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    rows = recordings(config)
    assert {read_header(r["path"]).cipher for r in rows} == {2}
    for path in decrypt_all(config, rows[:2], tmp_path / "plain"):
        with av.open(str(path)) as c:
            assert c.streams.video[0].codec_context.name == "h264"


# --- a person, a permission and a reason for every look at footage ---------------------

def test_play_needs_a_person_a_permission_and_a_reason_R01(tmp_path, busy_video):
    config = device(tmp_path)
    ingest(config, busy_video, now_utc() - timedelta(minutes=5))
    seg = recordings(config)[0]["path"]
    env = staff(config)

    def play(*extra):
        return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                               "segment", "play", seg, *extra], env=env, cwd=ROOT,
                              capture_output=True)

    assert b"needs --user NAME" in play().stderr
    no_reason = play("--user", "b.beheerder", "--purpose", "incident")
    assert no_reason.returncode == 1 and b"needs a reason in words" in no_reason.stderr
    no_purpose = play("--user", "b.beheerder", "--reason", "bicycle stolen at 14:00")
    assert no_purpose.returncode == 1 and b"purpose from artikel 1" in no_purpose.stderr
    technical = play("--user", "t.admin", "--purpose", "incident", "--reason",
                     "bicycle stolen at 14:00")
    assert technical.returncode == 1
    assert b"technisch-beheerder playback)" in technical.stderr, technical.stderr
    for refused in (no_reason, no_purpose, technical):
        assert refused.stdout == b""
    ok = play("--user", "b.beheerder", "--purpose", "incident", "--reason",
              "bicycle stolen at 14:00")
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout) > 1000

    from firmware.config import load
    from firmware.governance.service import Governance
    gov = Governance.open(load(config))
    usage = [(e["actor"], e["action"]) for e in gov.logbook.entries("usage")]
    assert usage.count(("b.beheerder", "footage-refused")) == 2
    assert ("t.admin", "footage-refused") in usage
    (viewing,) = gov.logbook.entries("inzien")
    assert viewing["actor"] == "b.beheerder" and viewing["reason"] == "bicycle stolen at 14:00"
    assert viewing["action"] == "playback"
    import json
    shown = json.loads(viewing["details"])          # which recording: its window (art. 7 lid 2)
    row = recordings(config)[0]
    assert viewing["subject"] == f"segment {row['id']}"
    assert [datetime.fromtimestamp(shown[k], timezone.utc) for k in ("start", "end")] == \
        [datetime.fromisoformat(row[k]) for k in ("start", "end")]
    assert gov.logbook.verify().ok
