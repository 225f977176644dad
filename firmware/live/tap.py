"""The live tap of one camera: a small JPEG of the frame, only while someone watches.

The camera thread calls `offer()` for every frame after masks and caption are drawn (R-02,
R-30). With no viewer that is one attribute test. With viewers it scales the frame down at most
`fps` times a second and hands it to the tap's own thread, which encodes the JPEG and wakes the
viewers, so JPEG work never delays the camera thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from firmware.capture.frames import Planes


@dataclass(frozen=True, slots=True)
class LiveFrame:
    seq: int
    t: float                # capture time of the frame, epoch seconds
    jpeg: bytes


def live_size(width: int, height: int, live_width: int) -> tuple[int, int]:
    """Live picture size: at most `live_width` wide, aspect kept, even sides (for I420)."""
    w = min(width, live_width)
    h = round(height * w / width)
    return w - w % 2, h - h % 2


class LiveTap:
    def __init__(self, camera_id: str, width: int, height: int, *, fps: float = 10.0,
                 live_width: int = 960, quality: int = 80):
        self.camera_id = camera_id
        self.size = live_size(width, height, live_width)
        self.interval = 1.0 / fps
        self.quality = quality
        self.viewers = 0
        self.encoded = 0                       # JPEGs made, for tests and benchmarks
        self._seq = 0
        self.latest: LiveFrame | None = None
        self._next = 0.0
        self._pending: tuple[np.ndarray, float] | None = None
        self._wake = threading.Event()
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None     # started by the first viewer

    # --- camera thread ----------------------------------------------------------------------

    def offer(self, planes: Planes, t: float) -> None:
        if not self.viewers or t < self._next:
            return
        self._next = t + self.interval
        w, h = self.size
        small = np.empty((h * 3 // 2, w), np.uint8)
        cv2.resize(planes.y, (w, h), dst=small[:h], interpolation=cv2.INTER_AREA)
        chroma = small[h:].reshape(-1)
        q = (h // 2) * (w // 2)
        cv2.resize(planes.u, (w // 2, h // 2), dst=chroma[:q].reshape(h // 2, w // 2),
                   interpolation=cv2.INTER_AREA)
        cv2.resize(planes.v, (w // 2, h // 2), dst=chroma[q:].reshape(h // 2, w // 2),
                   interpolation=cv2.INTER_AREA)
        self._pending = (small, t)
        self._wake.set()

    # --- tap thread -------------------------------------------------------------------------

    def _encode_loop(self) -> None:
        params = [cv2.IMWRITE_JPEG_QUALITY, self.quality]
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            pending, self._pending = self._pending, None
            if pending is None:
                continue
            small, t = pending
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_YUV2BGR_I420), params)
            if not ok:
                continue
            with self._changed:
                self._seq += 1
                self.latest = LiveFrame(self._seq, t, jpeg.tobytes())
                self.encoded += 1
                self._changed.notify_all()

    # --- viewers ----------------------------------------------------------------------------

    def watch(self) -> None:
        with self._changed:
            self.viewers += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._encode_loop,
                                                name=f"live-{self.camera_id}", daemon=True)
                self._thread.start()

    def unwatch(self) -> None:
        with self._changed:
            self.viewers -= 1
            if not self.viewers:
                self.latest = None          # an old picture is never shown as live

    def next_frame(self, after: int, timeout: float) -> LiveFrame | None:
        """The first frame newer than sequence number `after`, or None after `timeout`."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._closed or (self.latest is not None and self.latest.seq > after),
                timeout)
            frame = self.latest
        return frame if frame is not None and frame.seq > after else None

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        with self._changed:
            self._changed.notify_all()
