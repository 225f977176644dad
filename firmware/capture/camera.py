"""The camera seam: every backend delivers lores luma for motion and H.264 packets.

`SoftwareCamera` drives a portable source (synthetic, file, V4L2): it masks, derives the lores
plane, captions and encodes each frame on the calling thread. The Pi backend
(`firmware.capture.picam`) does the same with picamera2's streams and hardware encoder.
The order matters: masks first (nothing masked is analysed or stored, R-02), lores next (the
ticking caption must not look like motion), caption last (R-30).
"""

from __future__ import annotations

import threading
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np

from firmware.capture.caption import Caption
from firmware.capture.encoder import SoftwareEncoder
from firmware.capture.frames import i420_planes
from firmware.capture.lores import LoresScaler
from firmware.capture.packets import EncodedPacket
from firmware.capture.privacy import PrivacyMask
from firmware.config import CameraConfig


class FrameConsumer(Protocol):
    def on_lores(self, luma: np.ndarray, t: float) -> None: ...
    def on_packet(self, packet: EncodedPacket) -> None: ...


class Camera(Protocol):
    width: int
    height: int
    fps: float
    lores_size: tuple[int, int]

    def run(self, consumer: FrameConsumer, stop: threading.Event) -> None:
        """Deliver frames to `consumer` until `stop` is set or the source ends."""


class SoftwareCamera:
    def __init__(self, source, cam: CameraConfig, tz: ZoneInfo):
        self.source = source
        self.width, self.height, self.fps = source.width, source.height, source.fps
        lw = min(cam.lores_width, self.width)
        lh = min(cam.lores_height, self.height)
        self.lores_size = (lw, lh)
        self.mask = PrivacyMask(cam.privacy_masks, self.width, self.height)
        self.caption = Caption(cam.location, self.width, self.height, tz)
        # The bitrate is set for the configured size; a file of another size gets its share.
        share = (self.width * self.height) / (cam.width * cam.height)
        bitrate = max(250, round(cam.bitrate_kbps * min(4.0, share)))
        self.encoder = SoftwareEncoder(self.width, self.height, self.fps, bitrate,
                                       cam.keyframe_seconds)
        self._lores = np.empty((lh, lw), np.uint8)
        self._scale_lores = LoresScaler((self.width, self.height), self.lores_size)
        self.frames = 0
        self.live = None            # a firmware.live.tap.LiveTap, set by the recorder service

    def run(self, consumer: FrameConsumer, stop: threading.Event) -> None:
        mask, caption, encoder = self.mask, self.caption, self.encoder
        w, h = self.width, self.height
        lores, live, scale_lores = self._lores, self.live, self._scale_lores
        # The source draws each frame into the encoder's input: masks, caption and the
        # encoder then work on one buffer, and no frame is copied on the way.
        for buf, t in self.source.frames(stop, out=encoder.input):
            planes = i420_planes(buf, w, h)
            if mask:
                mask.apply(planes)
            scale_lores(planes.y, lores)
            consumer.on_lores(lores, t)
            caption.apply(planes, t)
            if live is not None:
                live.offer(planes, t)
            for packet in encoder.encode(buf, t):
                consumer.on_packet(packet)
            self.frames += 1
        for packet in encoder.flush():
            consumer.on_packet(packet)
