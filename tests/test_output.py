"""What lands on disk: real files checked with ffprobe and decoded with PyAV.

A generated scene with known objects is rendered to a video file and recorded through
`nvr ingest`, so every property can be checked against the truth: H.264 only and no audio
(R-03), durations that add up to the event windows with pre- and post-roll (R-31), masked
pixels black (R-02), the caption present (R-30), identity tags on every segment (R-30).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import av
import numpy as np
import pytest

from firmware.capture.caption import Caption
from firmware.capture.frames import blank_i420, i420_planes
from firmware.capture.synthetic import Mover, Scene

from conftest import (VIDEO02, decrypt_all, ffprobe, nvr, recordings, render_scene, shared_clip,
                      write_config)

FPS = 25
# Yesterday 14:30 in Amsterdam: recent enough that R-40 lets the footage be stored and read.
_DAY = (datetime.now(ZoneInfo("Europe/Amsterdam")) - timedelta(days=1)).date()
START = datetime(_DAY.year, _DAY.month, _DAY.day, 14, 30,
                 tzinfo=ZoneInfo("Europe/Amsterdam")).isoformat()
MASK = [[0.6, 0.55], [0.95, 0.55], [0.95, 0.95], [0.6, 0.95]]
MOVERS = [
    Mover(8, 12, 0.05, 0.2, 0.35, 0.25, 0.12, 0.2, 20),       # event 1: visible
    Mover(26, 29, 0.62, 0.6, 0.8, 0.62, 0.1, 0.25, 235),      # inside the privacy mask only
    Mover(34, 36, 0.1, 0.3, 0.4, 0.3, 0.1, 0.2, 230),         # event 2: visible
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ingest")
    scene = Scene(320, 240, FPS, MOVERS, noise=2.5, clock=False, seed=11)
    video = render_scene(scene, FPS * 50, tmp / "scene.mp4")
    mask = json.dumps([MASK])
    config = write_config(tmp, camera_extra=f"privacy_masks = {mask}\npreroll_seconds = 4\n"
                          "postroll_seconds = 6", storage="segment_seconds = 4")
    result = nvr("--config", str(config), "ingest", str(video), "--camera", "cam",
                 "--start", START, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    rows = recordings(config)
    segments = decrypt_all(config, rows, tmp / "decrypted")
    return summary, segments, rows


def seconds(iso: str) -> float:
    return (datetime.fromisoformat(iso) - datetime.fromisoformat(START)).total_seconds()


def test_summary_reports_frames_events_segments_bytes(recorded):
    summary, segments, rows = recorded
    assert summary["frames"] == FPS * 50
    assert summary["segments"] == len(segments) > 0
    assert summary["bytes"] == sum(r["bytes"] for r in rows)
    assert summary["frames"] and all(p.stat().st_size > 1000 for p in segments)


def test_event_windows_hold_preroll_and_postroll_and_ignore_masked_motion_R31_R02(recorded):
    summary, _, _ = recorded
    windows = [(seconds(e["start"]), seconds(e["end"])) for e in summary["events"]]
    assert len(windows) == 2, windows            # the mover inside the mask opened nothing
    (s1, e1), (s2, e2) = windows
    assert 8 - 4 - 1.0 <= s1 <= 8 - 4            # pre-roll 4 s, back to a keyframe
    assert 12 + 6 <= e1 <= 12 + 6 + 2.5          # post-roll 6 s after the last motion
    assert 34 - 4 - 1.0 <= s2 <= 34 - 4 and 36 + 6 <= e2 <= 36 + 6 + 2.5


def test_segments_are_h264_only_without_audio_R03(recorded):
    _, segments, _ = recorded
    for path in segments:
        info = ffprobe(path)
        assert [s["codec_type"] for s in info["streams"]] == ["video"]
        assert info["streams"][0]["codec_name"] == "h264"
        assert info["format"]["format_name"].startswith("mov,mp4")
        with av.open(str(path)) as c:
            assert len(c.streams.audio) == 0 and len(c.streams) == 1


def test_segment_durations_add_up_to_the_event_windows(recorded):
    summary, segments, sidecars = recorded
    for event in summary["events"]:
        mine = [(p, s) for p, s in zip(segments, sidecars) if s["event"] == event["id"]]
        assert len(mine) == event["segments"]
        probed = sum(float(ffprobe(p)["format"]["duration"]) for p, _ in mine)
        window = seconds(event["end"]) - seconds(event["start"])
        assert probed == pytest.approx(window, abs=0.002 * len(mine))
        for p, s in mine:
            with av.open(str(p)) as c:
                frames = sum(1 for _ in c.decode(video=0))
            assert frames == s["frames"]


def test_segments_carry_camera_location_times_and_clock_state_R30(recorded):
    summary, segments, sidecars = recorded
    for path, side in zip(segments, sidecars):
        tags = ffprobe(path)["format"]["tags"]
        assert tags["nvr_camera"] == "cam" and side["camera"] == "cam"
        assert tags["nvr_location"] == "Gemeentehuis Soest, testgang"
        assert tags["nvr_device"] == "test-device"
        assert tags["nvr_event"] == side["event"] and tags["nvr_segment"] == side["id"]
        assert datetime.fromisoformat(tags["nvr_start"]) == datetime.fromisoformat(side["start"])
        assert tags["nvr_clock_synced"] == "no" and side["clock_synced"] is False
        assert datetime.fromisoformat(side["end"]) > datetime.fromisoformat(side["start"])


def _decoded_frames(path):
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f


def test_masked_pixels_decode_black_R02(recorded):
    _, segments, _ = recorded
    x0, y0 = int(0.6 * 320) + 2, int(0.55 * 240) + 2
    x1, y1 = int(0.95 * 320) - 2, int(0.95 * 240) - 2
    checked = 0
    for path in segments:
        for f in _decoded_frames(path):
            rgb = f.to_ndarray(format="rgb24")[y0:y1, x0:x1]
            assert rgb.max() <= 12, f"masked area not black in {path.name}"
            checked += 1
    assert checked > 100


def test_caption_with_date_time_and_location_is_burned_in_R30(recorded):
    """Each decoded frame's top-left matches the caption rendered for that frame's time."""
    _, segments, sidecars = recorded
    tz = ZoneInfo("Europe/Amsterdam")
    reference = Caption("Gemeentehuis Soest, testgang", 320, 240, tz)
    for path, side in zip(segments[:3], sidecars[:3]):
        start = datetime.fromisoformat(side["start"]).timestamp()
        for f in list(_decoded_frames(path))[::10]:
            t = start + float(f.time)
            buf = blank_i420(320, 240)
            reference.apply(i420_planes(buf, 320, 240), t)
            w, h = reference.box
            expected = buf[:h, :w].astype(int)
            got = f.to_ndarray(format="yuv420p")[:h, :w].astype(int)
            assert np.abs(got - expected).mean() < 8, f"caption mismatch at {reference.text}"
    assert reference.text.startswith(f"{_DAY.isoformat()} 14:3")


def test_ingest_of_real_footage_finds_events(tmp_path):
    clip = shared_clip(VIDEO02)
    config = write_config(tmp_path)
    result = nvr("--config", str(config), "ingest", str(clip), "--camera", "cam", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] >= 740 and summary["events"] and summary["segments"] >= 1
    for path in decrypt_all(config, recordings(config), tmp_path / "plain"):
        assert [s["codec_type"] for s in ffprobe(path)["streams"]] == ["video"]


def test_whole_frame_mask_on_real_footage_records_nothing_R02(tmp_path):
    clip = shared_clip(VIDEO02)
    config = write_config(tmp_path,
                          camera_extra="privacy_masks = [[[0, 0], [1, 0], [1, 1], [0, 1]]]")
    result = nvr("--config", str(config), "ingest", str(clip), "--camera", "cam", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["events"] == [] and summary["segments"] == 0
    assert not list((tmp_path / "data").rglob("*.seg"))
