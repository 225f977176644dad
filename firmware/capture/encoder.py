"""Software H.264 encoder (libx264 through PyAV) for cameras without a hardware encoder.

Configured like the Pi's hardware encoder: constant bitrate target, fixed keyframe interval,
no B-frames and no lookahead, so the rest of the pipeline sees the same packets either way.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from firmware.capture.frames import i420_planes
from firmware.capture.packets import EncodedPacket

TIME_BASE = Fraction(1, 90000)


class SoftwareEncoder:
    def __init__(self, width: int, height: int, fps: float, bitrate_kbps: int,
                 keyframe_seconds: float, preset: str = "ultrafast"):
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height = width, height
        cc.pix_fmt = "yuv420p"
        cc.time_base = TIME_BASE
        cc.framerate = Fraction(fps).limit_denominator(1001)
        cc.gop_size = max(1, round(fps * keyframe_seconds))
        cc.bit_rate = bitrate_kbps * 1000
        cc.options = {"preset": preset, "tune": "zerolatency", "bframes": "0",
                      "x264-params": f"keyint-min={cc.gop_size}:scenecut=0:repeat-headers=1"}
        cc.open()
        self._cc = cc
        # One input frame for the whole stream, over `input`, an I420 array that a source can
        # draw into directly (SoftwareCamera does), so a frame is not copied on its way in.
        # x264 copies the picture inside the encode call, so the buffer is free again after it.
        self.input = np.empty((height * 3 // 2, width), np.uint8)
        self._frame = av.VideoFrame.from_numpy_buffer(self.input, format="yuv420p")
        self._planes = i420_planes(self.input, width, height)
        self._t0: float | None = None
        self.width, self.height = width, height

    def encode(self, i420: np.ndarray, t: float) -> list[EncodedPacket]:
        """Encode one I420 frame captured at `t` (epoch seconds): `input` itself, or a frame
        that is copied into it."""
        if self._t0 is None:
            self._t0 = t
        if i420 is not self.input:
            src, dst = i420_planes(i420, self.width, self.height), self._planes
            np.copyto(dst.y, src.y)
            np.copyto(dst.u, src.u)
            np.copyto(dst.v, src.v)
        frame = self._frame
        frame.pts = round((t - self._t0) * 90000)
        frame.time_base = TIME_BASE
        return self._packets(self._cc.encode(frame))

    def flush(self) -> list[EncodedPacket]:
        if self._t0 is None:
            return []
        return self._packets(self._cc.encode(None))

    def _packets(self, packets) -> list[EncodedPacket]:
        t0 = self._t0
        return [EncodedPacket(bytes(p), t0 + p.pts / 90000, p.is_keyframe) for p in packets]
