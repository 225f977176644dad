"""Where the people are: moving things found against the segment's own background.

OpenCV 5 (the opencv-python-headless this firmware installs) no longer ships the Haar cascades
nor the HOG people detector, and no DNN model comes with the wheel. On the town hall's cameras a
passer-by is often 10-40 pixels tall, far below what those detectors find anyway (HOG needs
64x128). What works at any size is motion: the segment is decoded once to learn its background
(the per-pixel median of its keyframes, or of frames spread over it when it has few), and every
frame's difference from it, cleaned up and grown by a margin, gives boxes around everything that
moves or stands where the background does not (people, cyclists, cars). docs/recording.md "Vervagen" has the measurement.

A box is kept for HOLD frames before and after each detection, so a frame where the detector
misses a person between two where it found them still shows that person blurred.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

DETECT_WIDTH = 320              # detection runs on the luma scaled to this width
THRESHOLD = 24                  # luma difference from the background that counts as foreground
MIN_AREA = 0.00015              # smallest blob, as a fraction of the frame (about 12 px at 320x240)
PAD = 0.35                      # each box grows by this fraction of its size on every side ...
PAD_MIN = 0.015                 # ... and by at least this fraction of the frame width
HOLD = 8                        # frames a box is kept before and after the frame it was found in
MAX_SAMPLES = 48                # frames the background median is taken over

Box = tuple[int, int, int, int]   # x0, y0, x1, y1 in pixels of the viewing size, end exclusive


def detect_size(width: int, height: int) -> tuple[int, int]:
    """The size detection runs at: DETECT_WIDTH wide (never wider than the frame), same aspect."""
    w = min(width, DETECT_WIDTH)
    return w, max(1, round(height * w / width))


class BackgroundSampler:
    """Keeps an evenly spread sample of small lumas over a segment of unknown length."""

    def __init__(self, size: tuple[int, int]):
        self.size = size
        self._samples: list[np.ndarray] = []
        self._step, self.count = 1, 0

    def add(self, luma: np.ndarray) -> None:
        """Offer a frame's luma (any size with the segment's aspect)."""
        if self.count % self._step == 0:
            self._samples.append(cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA))
            if len(self._samples) >= MAX_SAMPLES:
                self._samples = self._samples[::2]      # keep every other, sample half as often
                self._step *= 2
        self.count += 1

    def background(self) -> np.ndarray:
        if not self._samples:
            raise ValueError("no frames to learn a background from")
        return np.median(np.stack(self._samples, axis=-1), axis=-1).astype(np.uint8)


class MotionDetector:
    """Boxes around what differs from the background, in pixels of a frame width x height
    (the viewing size); the luma given may be of any size with the same aspect."""

    def __init__(self, background: np.ndarray, width: int, height: int):
        self.background = background
        dh, dw = background.shape
        self.size = (dw, dh)
        self._sx, self._sy = width / dw, height / dh
        self.width, self.height = width, height
        self._small = np.empty_like(background)
        self._diff = np.empty_like(background)
        self._mask = np.empty_like(background)
        self._labels = np.empty(background.shape, np.int32)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._min_area = max(4, round(MIN_AREA * dw * dh))
        self._pad_min = PAD_MIN * dw

    def boxes(self, luma: np.ndarray) -> list[Box]:
        cv2.resize(luma, self.size, dst=self._small, interpolation=cv2.INTER_AREA)
        cv2.absdiff(self._small, self.background, dst=self._diff)
        cv2.threshold(self._diff, THRESHOLD, 255, cv2.THRESH_BINARY, dst=self._mask)
        cv2.morphologyEx(self._mask, cv2.MORPH_OPEN, self._kernel, dst=self._mask)
        cv2.dilate(self._mask, self._kernel, dst=self._mask, iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(self._mask, self._labels,
                                                          connectivity=8)
        found = []
        for x, y, w, h, area in stats[1:n]:
            if area < self._min_area:
                continue
            px = max(self._pad_min, PAD * w)
            py = max(self._pad_min, PAD * h)
            found.append(self._full(x - px, y - py, x + w + px, y + h + py))
        return found

    def _full(self, x0: float, y0: float, x1: float, y1: float) -> Box:
        """Scale to the full frame, clip, and align to even pixels (chroma is half size)."""
        fx0 = max(0, int(x0 * self._sx) & ~1)
        fy0 = max(0, int(y0 * self._sy) & ~1)
        fx1 = min(self.width, (int(x1 * self._sx + 1) + 1) & ~1)
        fy1 = min(self.height, (int(y1 * self._sy + 1) + 1) & ~1)
        return fx0, fy0, fx1, fy1


class Hold:
    """A delay line: a frame leaves with every box found up to `hold` frames before or after it."""

    def __init__(self, hold: int = HOLD):
        self.hold = hold
        self._pending: deque[tuple[int, object]] = deque()      # frames not yet released
        self._boxes: deque[tuple[int, list[Box]]] = deque()     # boxes of the recent frames
        self._next = 0

    def push(self, item: object, boxes: list[Box]) -> list[tuple[object, list[Box]]]:
        """Add the next frame and its boxes; returns the frames that are ready, with boxes."""
        index = self._next
        self._next += 1
        self._pending.append((index, item))
        self._boxes.append((index, boxes))
        if index - self._pending[0][0] >= self.hold:
            return [self._release()]
        return []

    def drain(self) -> list[tuple[object, list[Box]]]:
        """The frames still held, at the end of the segment."""
        return [self._release() for _ in range(len(self._pending))]

    def _release(self) -> tuple[object, list[Box]]:
        index, item = self._pending.popleft()
        while self._boxes and self._boxes[0][0] < index - self.hold:
            self._boxes.popleft()
        boxes = [b for j, found in self._boxes if j <= index + self.hold for b in found]
        return item, boxes
