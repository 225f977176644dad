"""Event windows: pre-roll ring, post-roll, merging, segment cuts, storage failures (R-31)."""

from __future__ import annotations

import errno
import time

import av
import pytest

from firmware.capture.encoder import SoftwareEncoder
from firmware.capture.motion import MotionResult
from firmware.capture.synthetic import demo_scene
from firmware.recording.recorder import CameraIdentity, EventRecorder
from firmware.storage.keys import FileKeyProvider
from firmware.storage.store import EncryptedStore

import numpy as np

from conftest import decrypt_to, make_store

FPS = 25
# Hour-aligned, two hours ago: the store refuses footage from the future.
T0 = float(int(time.time()) // 3600 * 3600 - 2 * 3600)
IDENT = CameraIdentity("dev", "cam", "Cam", "Hal")


@pytest.fixture(scope="module")
def packets():
    """60 s of real H.264 packets at 160x120, a keyframe every second."""
    scene = demo_scene(160, 120, FPS)
    enc = SoftwareEncoder(160, 120, FPS, 300, 1.0)
    buf = np.empty((180, 160), np.uint8)
    out = []
    for i in range(FPS * 60):
        out += enc.encode(scene.i420(i, buf), T0 + i / FPS)
    return out + enc.flush()


class ScriptedMotion:
    """Stands in for the detector: motion exactly in the given intervals (seconds from T0).

    These tests prove the recorder's windows, not the detector (tests/test_motion.py)."""

    def __init__(self, intervals):
        self.intervals = intervals
        self.t = T0

    def detect(self, luma):
        s = self.t - T0
        return MotionResult(any(a <= s < b for a, b in self.intervals), 0.0)


def record(packets, intervals, tmp_path, sink=None, stop_at=None, **kw):
    events = []
    motion = ScriptedMotion(intervals)
    settings = dict(width=160, height=120, fps=FPS, preroll=5.0, postroll=10.0,
                    segment_seconds=10.0)
    settings.update(kw)
    rec = EventRecorder(IDENT, motion, sink or make_store(tmp_path), clock_synced=lambda: True,
                        on_event=events.append, **settings)
    for p in packets:
        if stop_at is not None and p.time - T0 >= stop_at:
            break
        motion.t = p.time
        rec.on_lores(None, p.time)
        rec.on_packet(p)
    rec.close()
    rec.sink.drain()
    return events


def span(event):
    return round(event.start - T0, 3), round(event.end - T0, 3)


def test_no_motion_writes_nothing(packets, tmp_path):
    assert record(packets, [], tmp_path) == []
    assert list((tmp_path / "data").rglob("*.seg")) == []


def test_preroll_starts_at_keyframe_and_postroll_follows_last_motion(packets, tmp_path):
    (event,) = record(packets, [(20.3, 22.0)], tmp_path)
    assert span(event) == (15.0, 32.0)        # keyframe <= 20.3 - 5; 21.96 + 10 + one frame
    total = sum(s.duration for s in event.segments)
    assert total == pytest.approx(event.end - event.start, abs=1e-6)


def test_motion_within_postroll_merges_into_one_event(packets, tmp_path):
    (event,) = record(packets, [(10, 11), (18, 19)], tmp_path)
    assert span(event) == (5.0, 29.0)


def test_separate_events_do_not_overlap(packets, tmp_path):
    first, second = record(packets, [(6, 7), (20, 21)], tmp_path)
    assert span(first) == (1.0, 17.0)
    assert second.start >= first.end and span(second) == (17.0, 31.0)


def test_segments_cut_at_keyframes_and_add_up(packets, tmp_path):
    (event,) = record(packets, [(8, 30)], tmp_path, segment_seconds=4.0)
    segs = event.segments
    assert len(segs) == 10
    for a, b in zip(segs, segs[1:]):
        assert a.end == b.meta.start                       # contiguous
        assert a.duration == pytest.approx(4.0)            # keyframes every second
    assert sum(s.duration for s in segs) == pytest.approx(event.end - event.start)
    store = make_store(tmp_path)
    for s in segs:
        with av.open(str(decrypt_to(store, s.meta.segment_id, tmp_path / "x.mp4"))) as c:
            first = next(c.demux(video=0))
            assert first.is_keyframe
            assert c.metadata["nvr_event"] == event.id and c.metadata["nvr_clock_synced"] == "yes"


def test_stop_during_event_closes_the_open_segment(packets, tmp_path):
    (event,) = record(packets, [(10, 40)], tmp_path, stop_at=23.5)
    assert span(event) == (5.0, 23.52)
    assert not list(tmp_path.rglob("*.part"))
    last = decrypt_to(make_store(tmp_path), event.segments[-1].meta.segment_id, tmp_path / "l.mp4")
    with av.open(str(last)) as c:
        assert sum(1 for _ in c.decode(video=0)) == event.segments[-1].frames


class FullDisk(EncryptedStore):
    """A store whose disk is full for the second segment only (stand-in for ENOSPC; the real
    full filesystem is in tests/test_store.py)."""

    calls = 0

    def begin(self, meta):
        self.calls += 1
        if self.calls == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().begin(meta)


def test_storage_failure_loses_one_segment_not_the_recorder(packets, tmp_path, caplog):
    sink = FullDisk(tmp_path / "data", "dev", FileKeyProvider(tmp_path / "keys"),
                    retention_days=28)
    (event,) = record(packets, [(8, 30)], tmp_path, sink=sink, segment_seconds=4.0)
    assert event.lost_segments == 1
    assert len(event.segments) == 9
    assert "No space left on device" in caplog.text
    assert not list(tmp_path.rglob("*.part"))
