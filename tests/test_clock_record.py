"""The clock at recording time (issue 13 item 3): each segment keeps the kernel's offset and
estimated error from when it began, and the evidence package states them."""

from __future__ import annotations

import json
import threading
import time
from zoneinfo import ZoneInfo

import pytest

from firmware.system.clock import KernelClock, kernel_clock


def record(cfg, store, seconds: float, clock=None) -> list[dict]:
    """`seconds` of a moving synthetic scene through the real camera, encoder and recorder into
    the store; `clock` replaces the kernel's answer (adjtimex cannot be set in a test)."""
    from firmware.capture.camera import SoftwareCamera
    from firmware.capture.sources import SyntheticSource
    from firmware.capture.synthetic import Mover, Scene
    from firmware.recording.service import make_recorder
    cam = cfg.cameras[0]
    scene = Scene(320, 240, 25, [Mover(1, 7, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2)
    start = time.time() - 600
    source = SyntheticSource(scene, realtime=False, start=start, frames=int(25 * seconds))
    camera = SoftwareCamera(source, cam, ZoneInfo(cfg.device.timezone))
    recorder = make_recorder(cfg, cam, camera, store)
    if clock is not None:
        recorder.kernel_clock = clock
    camera.run(recorder, threading.Event())
    recorder.close()
    store.drain()
    return store.list_segments(cam.id)


@pytest.fixture
def store(device):
    from firmware.storage.store import EncryptedStore
    s = EncryptedStore.from_config(device)
    s.take_ownership("record")
    yield s
    s.close()


def rows(store) -> dict[str, tuple]:
    with store.lock:
        return {r[0]: (r[1], r[2]) for r in store.db.execute(
            "SELECT segment_id, offset, est_error FROM segment_clock")}


def test_each_live_segment_keeps_the_kernels_clock_reading_when_it_began(device, store):
    """The real adjtimex(2) (the default): every segment of a live camera has a reading."""
    assert kernel_clock() is not None, "adjtimex(2) answers on Linux"
    segments = record(device, store, 12)
    assert len(segments) >= 2
    kept = rows(store)
    assert set(kept) == {s["id"] for s in segments}
    for offset, error in kept.values():
        assert abs(offset) < 60 and 0 <= error < 60        # seconds, as the kernel gives them


def package(device, store, segments, tmp_path) -> dict:
    """The evidence package of `segments`, written into tmp_path/pkg; its manifest."""
    from firmware.export.manifest import write_package
    from firmware.governance.service import Governance
    from firmware.storage.hashes import hashes_of
    gov = Governance.open(device)
    try:
        with store.lock:
            recorded = hashes_of(store.db, [s["id"] for s in segments])
        info = {"export": 1, "reference": "PL0900-2026", "operator": "b.beheerder",
                "recipient": "brigadier X", "device": "test-device",
                "camera": segments[0]["camera_id"],
                "camera_name": "Testcamera", "location": "hal",
                "start": segments[0]["start"], "end": segments[-1]["end"]}
        out = write_package(tmp_path, "pkg", store=store, signer=gov.logbook.signer,
                            segments=segments, recorded=recorded, info=info)
    finally:
        gov.close()
    assert out["path"].endswith("pkg")
    return json.loads((tmp_path / "pkg" / "manifest.json").read_text())


def test_the_manifest_states_the_offset_and_error_at_recording_time(device, store, tmp_path):
    segments = record(device, store, 10, clock=lambda: KernelClock(-0.0421, 0.5, 0.0033))
    manifest = package(device, store, segments, tmp_path)
    clock = manifest["clock"]
    assert clock["offset_seconds"] == pytest.approx(0.0421)
    assert clock["estimated_error_seconds"] == pytest.approx(0.0033)
    assert clock["segments_with_reading"] == len(segments)
    per_segment = manifest["videos"][0]["segments"]
    assert [s["clock_offset_seconds"] for s in per_segment] == [-0.0421] * len(segments)
    assert "0.0421" in (tmp_path / "pkg" / "README.txt").read_text()
    assert "0,0421" in (tmp_path / "pkg" / "LEESMIJ.txt").read_text()


def test_an_ingested_file_has_no_reading_and_the_manifest_says_null(device, store, tmp_path):
    """Times of an ingested file are asserted, not measured: no offset is claimed for them."""
    from firmware.recording.ingest import ingest
    from conftest import render_scene
    from firmware.capture.synthetic import Mover, Scene
    scene = Scene(320, 240, 25, [Mover(1, 7, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2,
                  clock=False)
    video = render_scene(scene, 25 * 8, tmp_path / "clip.mp4")
    ingest(device, device.cameras[0].id, video, store, start=time.time() - 900)
    segments = store.list_segments(device.cameras[0].id)
    assert segments and rows(store) == {}
    manifest = package(device, store, segments, tmp_path)
    assert manifest["clock"]["offset_seconds"] is None
    assert manifest["clock"]["segments_with_reading"] == 0
    assert "No measured clock offset" in (tmp_path / "pkg" / "README.txt").read_text()
    assert "geen gemeten afwijking" in (tmp_path / "pkg" / "LEESMIJ.txt").read_text()


def test_an_erased_segment_takes_its_clock_reading_with_it_R40(device, store):
    segments = record(device, store, 10, clock=lambda: KernelClock(0.001, 0.5, 0.002))
    assert set(rows(store)) == {s["id"] for s in segments}
    with store.transaction() as db:
        store._delete_segment(db, segments[0]["id"], segments[0]["path"])
    assert set(rows(store)) == {s["id"] for s in segments[1:]}
