"""The evidence package (issue 13 item 3): recording-time hashes, the one remuxed MP4, the
signed manifest, and `nvr export create/verify`, checked with independent tools (ffprobe,
sha256sum, openssl)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from conftest import recorded_site

from firmware.config import load
from firmware.storage.store import EncryptedStore


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return recorded_site(tmp_path_factory.mktemp("package"), {})


@pytest.fixture(scope="module")
def store(site):
    s = EncryptedStore.from_config(load(site))
    yield s
    s.close()


def test_each_segment_has_its_sha256_from_recording_time_and_it_matches_R30(store):
    from firmware.storage.hashes import chain_breaks, hashes_of
    segments = store.list_segments("cam")
    assert len(segments) >= 2
    with store.lock:
        known = hashes_of(store.db, [s["id"] for s in segments])
        assert chain_breaks(store.db) == []
    for s in segments:
        plain = hashlib.sha256(b"".join(store.read_segment(s["id"]))).hexdigest()
        assert known[s["id"]]["sha256"] == plain


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_frames",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_segments_remux_into_one_h264_mp4_without_audio_covering_the_window(store, tmp_path):
    from firmware.export.remux import remux
    segments = store.list_segments("cam")
    out = remux(segments, store.read_segment, tmp_path / "cam.mp4")
    probe = ffprobe(out.path)
    assert [(s["codec_type"], s["codec_name"]) for s in probe["streams"]] == [("video", "h264")]
    frames = [float(f["pts_time"]) for f in probe["frames"]]
    assert len(frames) == out.frames == sum(s["frames"] for s in segments)
    interval = 1 / 25
    assert abs(frames[0] - 0) <= interval
    assert abs(out.first - segments[0]["start"]) <= interval
    assert abs(out.last - (segments[-1]["end"] - interval)) <= interval
    assert abs(frames[-1] - (out.last - segments[0]["start"])) <= interval
    assert out.gaps == []
