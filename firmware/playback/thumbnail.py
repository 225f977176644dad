"""A small JPEG of an event's motion, made in memory from a decrypted segment.

The web process decodes the event's first segment (handed over as bytes, decrypted into memory
by the store), samples about two frames a second on a small grey copy, and keeps the frame that
differs most from the sample before it: where something moved. That frame is scaled down and
encoded as JPEG. Nothing is written to disk. `ThumbnailCache` keeps the newest ones in memory,
bounded in count and bytes; the web route checks that the segment still exists before serving
one (an erased segment's thumbnail is dropped, never shown).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import av
import cv2
import numpy as np

WIDTH = 160
QUALITY = 75
SAMPLES_PER_SECOND = 2


class NoPicture(ValueError):
    """The segment holds no decodable video frame."""


def make_thumbnail(mp4: bytes, width: int = WIDTH) -> bytes:
    """The JPEG of the frame of most motion in `mp4`, `width` pixels wide."""
    best, best_score, previous = None, -1.0, None
    with av.open(io.BytesIO(mp4), "r") as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        every = max(1, round(rate / SAMPLES_PER_SECOND))
        for i, frame in enumerate(container.decode(stream)):
            if i % every:
                continue
            grey = frame.reformat(width=64, height=48, format="gray").to_ndarray()
            score = 0.0 if previous is None else float(
                np.abs(grey.astype(np.int16) - previous).mean())
            previous = grey.astype(np.int16)
            if score > best_score or best is None:
                best, best_score = frame, score
    if best is None:
        raise NoPicture("the segment holds no video frame")
    height = max(2, round(best.height * width / best.width / 2) * 2)
    picture = best.reformat(width=width, height=height, format="bgr24").to_ndarray()
    ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise NoPicture("the frame could not be encoded as JPEG")
    return jpeg.tobytes()


class ThumbnailCache:
    """Thumbnails by segment id, least recently used dropped first; safe across threads."""

    def __init__(self, entries: int = 200, max_bytes: int = 4 << 20):
        self.entries, self.max_bytes = entries, max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._pop(key)
            self._items[key] = value
            self._bytes += len(value)
            while self._items and (len(self._items) > self.entries
                                   or self._bytes > self.max_bytes):
                self._pop(next(iter(self._items)))

    def drop(self, key: str) -> None:
        with self._lock:
            self._pop(key)

    def _pop(self, key: str) -> None:
        value = self._items.pop(key, None)
        if value is not None:
            self._bytes -= len(value)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        return self._bytes
