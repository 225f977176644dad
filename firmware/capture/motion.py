"""Motion detection on the lores luma plane.

The detector keeps a running-average background at a small working resolution (about 120 lines,
enough for objects of a fraction of a percent of the frame) and compares each frame with it:

1. resize to the working size and blur 3x3 (sensor noise);
2. scale the background by the global gain between frame and background before comparing, so a
   slow brightness ramp or a cloud changes nothing;
3. threshold the difference, keep only what lies inside the zones and outside the ignore areas;
4. remove speckle with a 2x2 opening (a blob must hold a 2x2 square) and count what is left;
5. hysteresis: motion starts after `trigger_frames` frames over `min_area` and ends when the
   area falls below half of it;
6. when a large part of the zone changes at once (lights switched on, exposure jump, camera
   covered), it is a light change, not motion: the background is learnt again quickly.

Every buffer is allocated once. Blob labelling (the costly step on noisy real footage) runs only
when a result's `boxes` are read; the recorder never reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from firmware.capture.privacy import rasterise

Polygon = Sequence[tuple[float, float]]
Box = tuple[int, int, int, int]


class MotionResult:
    """motion: an object moves; score: changed fraction of the watched area (0..1);
    boxes: (x, y, w, h) of the moving blobs in input pixels, worked out when first read;
    light_change: the frame changed globally and the background is being learnt again."""

    __slots__ = ("motion", "score", "light_change", "_blobs", "_scale", "_boxes")

    def __init__(self, motion: bool, score: float, light_change: bool = False,
                 blobs: np.ndarray | None = None, scale: tuple[float, float] = (1.0, 1.0)):
        self.motion, self.score, self.light_change = motion, score, light_change
        self._blobs, self._scale = blobs, scale
        self._boxes: list[Box] | None = None

    @property
    def boxes(self) -> list[Box]:
        if self._boxes is None:
            self._boxes = [] if self._blobs is None else _blob_boxes(self._blobs, *self._scale)
        return self._boxes

    def __repr__(self) -> str:
        return (f"MotionResult(motion={self.motion}, score={self.score:.4f}, "
                f"light_change={self.light_change})")


def _blob_boxes(blobs: np.ndarray, sx: float, sy: float) -> list[Box]:
    _, _, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    stats = stats[1:].astype(np.float64)
    xy = np.floor(stats[:, :2] * (sx, sy))
    wh = np.ceil(stats[:, 2:4] * (sx, sy))
    return [tuple(b) for b in np.hstack([xy, wh]).astype(int).tolist()]


class MotionDetector:
    """Detects motion in a stream of luma frames of one size.

    threshold: luma difference (after blur) that counts as changed.
    min_area: fraction of the watched area that must change for motion.
    trigger_frames: consecutive frames over min_area before motion starts.
    zones: polygons (normalised 0..1) in which motion counts; empty means everywhere.
    ignore: polygons in which motion never counts.
    work_height: lines of the working image; the input is scaled down to it.
    alpha: background learning rate per frame.
    light_change: changed fraction above which a frame is a global light change.
    """

    def __init__(self, width: int, height: int, *, threshold: int = 25, min_area: float = 0.004,
                 trigger_frames: int = 2, zones: Sequence[Polygon] = (),
                 ignore: Sequence[Polygon] = (), work_height: int = 120, alpha: float = 0.03,
                 calibration_frames: int = 10, light_change: float = 0.3):
        self.width, self.height = width, height
        scale = min(1.0, work_height / height)
        self.ww = max(8, round(width * scale))
        self.wh = max(8, round(height * scale))
        self.threshold = threshold
        self.trigger_frames = trigger_frames
        self.alpha = alpha
        self.calibration_frames = calibration_frames
        self.light_change_fraction = light_change
        self._open_kernel = np.ones((2, 2), np.uint8)

        watch = rasterise(zones, self.ww, self.wh) if zones else np.full((self.wh, self.ww), 255,
                                                                        np.uint8)
        if ignore:
            watch[rasterise(ignore, self.ww, self.wh) > 0] = 0
        self._watch = None if watch.all() else watch
        self.watched = int(cv2.countNonZero(watch))
        self.min_pixels = max(1.0, min_area * self.watched)
        self._sx = width / self.ww
        self._sy = height / self.wh

        self._small = np.empty((self.wh, self.ww), np.uint8)
        self._blur = np.empty_like(self._small)
        self._bg8 = np.empty_like(self._small)
        self._diff = np.empty_like(self._small)
        self._blobs = np.empty_like(self._small)
        # Pixels unchanged in the previous frame: the global gain is measured on these only,
        # so a bright object passing by does not shift the whole background.
        self._static = watch.copy()
        self._bg = np.zeros((self.wh, self.ww), np.float32)
        self._frames = 0
        self._relearn = calibration_frames
        self._run = 0
        self._active = False

    def detect(self, luma: np.ndarray) -> MotionResult:
        if luma.shape[0] != self.wh or luma.shape[1] != self.ww:
            # Bilinear: at 2x it is the 2x2 average; beyond, it samples 2x2 of each block,
            # which still halves the noise and costs a third of INTER_AREA.
            cv2.resize(luma, (self.ww, self.wh), dst=self._small,
                       interpolation=cv2.INTER_LINEAR)
            src = self._small
        else:
            src = luma
        blur = cv2.GaussianBlur(src, (3, 3), 0, dst=self._blur)
        self._frames += 1
        if self.watched == 0:
            return MotionResult(False, 0.0)
        if self._relearn > 0:
            self._relearn -= 1
            if self._frames == 1:
                self._bg[:] = blur
            else:
                cv2.accumulateWeighted(blur, self._bg, 0.5)
            return MotionResult(False, 0.0)

        mean_frame = cv2.mean(blur, self._static)[0]
        mean_bg = cv2.mean(self._bg, self._static)[0]
        gain = mean_frame / mean_bg if mean_bg >= 1.0 else 1.0
        cv2.convertScaleAbs(self._bg, self._bg8, gain)
        diff = cv2.absdiff(blur, self._bg8, dst=self._diff)
        cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY, dst=diff)
        if self._watch is not None:
            cv2.bitwise_and(diff, self._watch, dst=diff)
        changed = cv2.countNonZero(diff)
        if changed < 0.5 * self.watched:
            cv2.bitwise_not(diff, dst=self._static)
            if self._watch is not None:
                cv2.bitwise_and(self._static, self._watch, dst=self._static)

        if changed > self.light_change_fraction * self.watched:
            # A global change, not an object: learn the scene again (R-31 keeps the camera on).
            self._relearn = self.calibration_frames
            self._run = 0
            self._active = False
            self._static[:] = self._watch if self._watch is not None else 255
            cv2.accumulateWeighted(blur, self._bg, 0.5)
            return MotionResult(False, changed / self.watched, light_change=True)

        area = 0
        if changed >= self.min_pixels * 0.5:
            cv2.morphologyEx(diff, cv2.MORPH_OPEN, self._open_kernel, dst=self._blobs)
            area = cv2.countNonZero(self._blobs)

        if area >= self.min_pixels:
            self._run += 1
        else:
            self._run = 0
        if not self._active and self._run >= self.trigger_frames:
            self._active = True
        elif self._active and area < self.min_pixels * 0.5:
            self._active = False

        cv2.accumulateWeighted(blur, self._bg, self.alpha)
        if not self._active:
            return MotionResult(False, area / self.watched)
        return MotionResult(True, area / self.watched, blobs=self._blobs.copy(),
                            scale=(self._sx, self._sy))
