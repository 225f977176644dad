"""A small JPEG of an event's motion, made in memory from a decrypted segment.

A worker process (thumbnail_process.py, so the web never loads PyAV and OpenCV) decodes the
event's first segment (handed over as bytes, decrypted into memory
by the store), its keyframes (or about two frames a second when it has only one), compares
them on a small grey copy, and keeps the frame that differs most from the one before it: where
something moved. That frame is scaled down and
encoded as JPEG. Nothing is written to disk. `ThumbnailCache` keeps the newest ones in memory,
bounded in count and bytes; the web route checks that the segment still exists before serving
one (an erased segment's thumbnail is dropped, never shown).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

WIDTH = 160
QUALITY = 75
SAMPLES_PER_SECOND = 2


class NoPicture(ValueError):
    """The segment holds no decodable video frame."""


def make_thumbnail(mp4: bytes, width: int = WIDTH) -> bytes:
    """The JPEG of the frame of most motion in `mp4`, `width` pixels wide. Only keyframes are
    decoded (a segment starts with one and has one every GOP): on a Pi a 1080p segment decoded
    in full costs seconds, its keyframes a fraction of that. A segment with a single keyframe
    is decoded in full at SAMPLES_PER_SECOND."""
    import cv2                 # here, not at import: the web imports this module (the cache)
    best = _most_motion(mp4, keyframes=True)
    if best is None:
        best = _most_motion(mp4, keyframes=False)
    if best is None:
        raise NoPicture("the segment holds no video frame")
    height = max(2, round(best.height * width / best.width / 2) * 2)
    picture = best.reformat(width=width, height=height, format="bgr24").to_ndarray()
    ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise NoPicture("the frame could not be encoded as JPEG")
    return jpeg.tobytes()


def _most_motion(mp4: bytes, keyframes: bool):
    """The sampled frame that differs most from the sample before it (None if fewer than two
    samples when `keyframes`, or none at all)."""
    import av
    import numpy as np
    best, best_score, previous, samples = None, -1.0, None, 0
    with av.open(io.BytesIO(mp4), "r") as container:
        stream = container.streams.video[0]
        if keyframes:
            stream.codec_context.skip_frame = "NONKEY"
        rate = float(stream.average_rate or 25)
        every = 1 if keyframes else max(1, round(rate / SAMPLES_PER_SECOND))
        for i, frame in enumerate(container.decode(stream)):
            if i % every:
                continue
            samples += 1
            grey = frame.reformat(width=64, height=48, format="gray").to_ndarray().astype(np.int16)
            score = 0.0 if previous is None else float(np.abs(grey - previous).mean())
            previous = grey
            if score > best_score:
                best, best_score = frame, score
    if keyframes and samples < 2:
        return None
    return best


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
