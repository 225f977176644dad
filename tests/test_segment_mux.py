"""The segment muxer only muxes: no second encoder, and the MP4 describes the stream it holds.

Before, `SegmentWriter` made its stream with `add_stream("h264")`, which opened a libx264
encoder per segment (threads and about 10 MB at 1080p, never used) and wrote that encoder's
High-profile SPS/PPS into the MP4's `avcC`, while the packets are Constrained Baseline.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np

from firmware.capture.encoder import SoftwareEncoder
from firmware.capture.synthetic import demo_scene
from firmware.recording.segments import SegmentWriter
from firmware.storage.sink import SegmentMeta

W, H, FPS = 640, 360, 25
T0 = 1_800_000_000.0


class FileTarget:
    """A plain file as the segment's target (the store's encryption is tested elsewhere)."""

    def __init__(self, path: Path):
        self.f = open(path, "wb")

    def write(self, data) -> int:
        return self.f.write(data)

    def commit(self, end, frames):
        self.f.close()
        return end, frames


def _threads() -> int:
    return int(re.search(r"Threads:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _sps(data: bytes) -> bytes:
    """The first SPS NAL unit (type 7) of an Annex B packet, without its start code."""
    for nal in re.split(b"\x00\x00\x01", data):
        if nal and nal[0] & 0x1F == 7:
            return nal.rstrip(b"\x00")
    raise AssertionError("no SPS in the keyframe")


def test_segment_writer_opens_no_encoder_and_its_avcc_is_the_streams_sps(tmp_path):
    scene = demo_scene(W, H, FPS)
    enc = SoftwareEncoder(W, H, FPS, 1000, 1.0)
    buf = np.empty((H * 3 // 2, W), np.uint8)
    packets = []
    for i in range(FPS * 2):
        packets += enc.encode(scene.i420(i, buf), T0 + i / FPS)
    packets += enc.flush()
    meta = SegmentMeta("seg", "ev", "dev", "cam", "Cam", "Hal",
                       datetime.fromtimestamp(T0, timezone.utc), True)
    path = tmp_path / "seg.mp4"
    before = _threads()
    writer = SegmentWriter(FileTarget(path), meta, W, H, FPS)
    for p in packets:
        writer.write(p)
    during = _threads()
    writer.close()
    assert during == before, "muxing a segment started threads (an encoder was opened)"

    with av.open(str(path)) as c:
        avcc = bytes(c.streams.video[0].codec_context.extradata)
        decoded = sum(1 for _ in c.decode(video=0))
    sps = _sps(packets[0].data)
    # avcC: version, profile, compatibility, level, ..., then the SPS with a 16-bit length.
    assert avcc[1:4] == sps[1:4], "the MP4 announces another profile/level than its stream"
    assert sps in avcc
    assert decoded == len(packets)
