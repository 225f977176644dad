"""Issue 14 item 5: the storage for 28 days (firmware/system/sizing.py, `nvr sizing`), proven
against a real recording of the synthetic camera (R-40, R-42)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import nvr, render_scene, write_config

from firmware.capture.synthetic import demo_scene
from firmware.config import CameraConfig, StorageConfig, load
from firmware.system import sizing
from firmware.system.sizing import (GB, INDEX_SEGMENT_BYTES, camera_need, needed_bytes, plan,
                                    stored_bytes_per_second)

WIDTH, HEIGHT, KBPS = 640, 360, 1000


def _camera(**kw) -> CameraConfig:
    return CameraConfig(id=kw.pop("id", "cam"), name="Camera", location="Gemeentehuis",
                        source="synthetic", staff_in_view=False, **kw)


@pytest.fixture(scope="module")
def recorded_minute(tmp_path_factory) -> Path:
    """One minute of the synthetic street scene at 640x360, 25 fps, 1000 kbit/s, recorded in
    full (a post-roll of 300 s keeps the one event open to the end) through `nvr ingest`."""
    tmp = tmp_path_factory.mktemp("minute")
    clip = render_scene(demo_scene(WIDTH, HEIGHT, 25), 25 * 60, tmp / "scene.mp4")
    config = write_config(tmp, camera_extra=f"bitrate_kbps = {KBPS}\npostroll_seconds = 300\n")
    text = config.read_text().replace("width = 320", f"width = {WIDTH}")
    config.write_text(text.replace("height = 240", f"height = {HEIGHT}", 1))
    result = nvr("--config", str(config), "ingest", str(clip), "--camera", "cam", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 1500 and summary["lost_segments"] == 0, summary
    return config


def _segments(config: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(f"file:{config.parent / 'data' / 'index.sqlite3'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    with db:
        return db.execute("SELECT path, start, end FROM segments").fetchall()


def test_formula_bytes_per_second_within_10_percent_of_a_real_recording_R40(recorded_minute):
    """The stored bytes per recorded second (segment files as they lie on the disk: video,
    MP4 container, encryption) against the formula's."""
    cfg = load(recorded_minute)
    rows = _segments(recorded_minute)
    seconds = sum(r["end"] - r["start"] for r in rows)
    stored = sum((recorded_minute.parent / "data" / r["path"]).stat().st_size for r in rows)
    assert len(rows) >= 5 and 55 <= seconds <= 61, (len(rows), seconds)
    measured = stored / seconds
    formula = stored_bytes_per_second(cfg.camera("cam"), cfg.storage)
    assert formula == pytest.approx(measured, rel=0.10), (formula, measured)
    # The bitrate alone (without container and encryption) is the formula's core.
    assert KBPS * 1000 / 8 < formula < measured * 1.10


def test_index_bytes_per_segment_cover_the_real_rows(recorded_minute):
    """The index estimate per segment covers what SQLite stores for each segment: the rows of
    segments, segment_hashes and segment_clock and their indexes (dbstat: payload bytes), in
    pages kept about three quarters full."""
    db = sqlite3.connect(f"file:{recorded_minute.parent / 'data' / 'index.sqlite3'}?mode=ro",
                         uri=True)
    with db:
        names = [n for (n,) in db.execute(
            "SELECT name FROM sqlite_schema WHERE tbl_name IN ('segments', 'segment_hashes', "
            "'segment_clock')")]
        (payload,) = db.execute(
            f"SELECT sum(payload) FROM dbstat WHERE name IN ({','.join('?' * len(names))})",
            names).fetchone()
        (n,) = db.execute("SELECT count(*) FROM segments").fetchone()
    clock_row = 8 + 16 + 32 + 16        # segment_clock is not written by ingest: its row and key
    assert payload / n + clock_row <= INDEX_SEGMENT_BYTES * 0.75, payload / n


def test_formula_as_written_in_hardware_md_R40():
    """1080p at 4000 kbit/s, 30 % of the time with motion, the default pre-roll 5 s, keyframe
    1 s and post-roll 10 s, spells of motion of 20 s on average, 28 days."""
    cam = _camera(width=1920, height=1080, fps=25, bitrate_kbps=4000)
    need = camera_need(cam, 0.3, 28)
    share = 0.3 * (1 + (5 + 0.5 + 10) / 20)
    assert need.recorded_share == pytest.approx(share) == pytest.approx(0.5325)
    assert need.seconds == pytest.approx(28 * 86400 * share)
    assert need.video_bytes == round(4000 / 8 * 1000 * 28 * 86400 * share)
    # Overheads: container and encryption well under 1 %, the index under 0.1 %.
    assert 0 < need.container_bytes + need.encryption_bytes < need.video_bytes * 0.01
    assert 0 < need.index_bytes < need.video_bytes * 0.001
    # The disk: the store (cameras and logbooks) below the high-water mark of 90 % (R-42),
    # less what ext4 takes for itself (5 % reserved, 4 % inode tables and journal).
    total = need.bytes + sizing.logbook_bytes()
    assert needed_bytes([cam], 0.3) == -(-total * 100 // (90 - 5 - 4))


def test_motion_all_the_time_records_everything_and_no_motion_nothing():
    cam = _camera()
    assert camera_need(cam, 1.0).recorded_share == 1.0
    assert camera_need(cam, 0.7).recorded_share == 1.0          # merged by the post-roll
    assert camera_need(cam, 0.0).bytes == 0
    with pytest.raises(ValueError, match="fraction from 0 to 1"):
        camera_need(cam, 1.5)


def test_two_cameras_need_twice_the_footage_and_the_logbooks_once():
    one, two = _camera(id="a"), _camera(id="b")
    single, double = plan([one], 0.3), plan([one, two], 0.3)
    assert double.store_bytes - double.logbook_bytes == \
        2 * (single.store_bytes - single.logbook_bytes)
    assert double.logbook_bytes == single.logbook_bytes > 0


def test_a_higher_high_water_mark_needs_a_smaller_disk_R42():
    cam = _camera()
    assert needed_bytes([cam], 0.3, storage=StorageConfig(high_water_percent=80)) > \
        needed_bytes([cam], 0.3, storage=StorageConfig(high_water_percent=95))


def test_cli_sizing_json_and_text(recorded_minute):
    cfg = load(recorded_minute)
    result = nvr("--config", str(recorded_minute), "sizing", "--motion-share", "0.1", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == (0 if out["data_disk"]["holds"] else 1), result.stderr
    expected = plan(cfg.cameras, 0.1, 28, cfg.storage)
    assert out["disk_bytes"] == expected.disk_bytes
    assert out["cameras"][0]["bytes"] == expected.cameras[0].bytes
    disk = out["data_disk"]
    assert Path(disk["path"]) == (recorded_minute.parent / "data").resolve()
    assert disk["total_bytes"] == shutil.disk_usage(recorded_minute.parent).total
    assert disk["room_bytes"] == disk["total_bytes"] * 90 // 100 - disk["other_bytes"]
    assert disk["holds"] == (disk["room_bytes"] >= disk["needed_bytes"])

    text = nvr("--config", str(recorded_minute), "sizing", "--motion-share", "10%")
    assert text.returncode == result.returncode, text.stderr
    gb = f"{expected.cameras[0].bytes / GB:,.1f} GB"
    assert "camera cam" in text.stdout and gb in text.stdout, text.stdout
    assert f"disk needed: {expected.disk_bytes / GB:,.1f} GB" in text.stdout
    assert "it holds the store" in text.stdout or "it does NOT hold" in text.stdout


def test_cli_sizing_says_when_the_data_disk_is_too_small(tmp_path):
    """Two cameras at the highest bitrate, recording all the time: 2 x 7.6 TB, more than the
    disk of a test machine."""
    config = write_config(tmp_path, camera_extra="bitrate_kbps = 25000\n")
    text = config.read_text()
    second = text[text.index("[[cameras]]"):text.index("[cameras.motion]")]
    config.write_text(text + "\n" + second.replace('id = "cam"', 'id = "cam2"'))
    cfg = load(config)
    assert len(cfg.cameras) == 2
    result = nvr("--config", str(config), "sizing", "--motion-share", "1")
    assert result.returncode == 1, result.stderr            # as nvr selftest's disk check
    assert "it does NOT hold the store" in result.stdout, result.stdout
    assert "larger disk, a lower bitrate_kbps" in result.stdout
    assert camera_need(cfg.cameras[0], 1.0).bytes > 7.5e12


@pytest.mark.parametrize("share", ["2", "-0.1", "abc", "150%"])
def test_cli_sizing_refuses_a_share_outside_0_to_1(tmp_path, share):
    config = write_config(tmp_path)
    result = nvr("--config", str(config), "sizing", "--motion-share", share)
    assert result.returncode == 2
    assert "give a fraction from 0 to 1" in result.stderr


def test_cli_sizing_on_a_new_device_measures_the_disk_data_dir_will_be_on(tmp_path):
    """Before the first start data_dir may not exist yet: the nearest existing parent is the
    disk measured, and nothing is created."""
    config = write_config(tmp_path, data_dir="not-yet/data")
    result = nvr("--config", str(config), "sizing", "--json")
    assert result.returncode in (0, 1), result.stderr        # 1: this disk does not hold it
    assert json.loads(result.stdout)["data_disk"]["path"] == str(tmp_path)
    assert not (tmp_path / "not-yet").exists()
