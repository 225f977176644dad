"""Motion detection on the lores luma plane.

The detector keeps a running-average background at a small working resolution (about 120 lines,
enough for objects of a fraction of a percent of the frame) and compares each frame with it:

1. resize to the working size and blur 3x3 (sensor noise);
2. scale the background by the global gain between frame and background before comparing, so a
   slow brightness ramp or a cloud changes nothing;
3. threshold the difference, keep only what lies inside the zones and outside the ignore areas;
4. count changed pixels in blobs of a few pixels or more (isolated noise pixels do not count);
5. hysteresis: motion starts after `trigger_frames` frames over `min_area` and ends when the
   area falls below half of it;
6. when a large part of the zone changes at once (lights switched on, exposure jump, camera
   covered), it is a light change, not motion: the background is learnt again quickly.

Every buffer is allocated once; a frame allocates only inside OpenCV's blob labelling, and that
runs only when something changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from firmware.capture.privacy import rasterise

Polygon = Sequence[tuple[float, float]]
Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class MotionResult:
    motion: bool
    score: float                       # changed fraction of the watched area, 0..1
    boxes: list[Box] = field(default_factory=list)   # x, y, w, h in input pixels
    light_change: bool = False


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
                 calibration_frames: int = 10, light_change: float = 0.3,
                 min_blob: int = 4):
        self.width, self.height = width, height
        scale = min(1.0, work_height / height)
        self.ww = max(8, round(width * scale))
        self.wh = max(8, round(height * scale))
        self.threshold = threshold
        self.trigger_frames = trigger_frames
        self.alpha = alpha
        self.calibration_frames = calibration_frames
        self.light_change_fraction = light_change
        self.min_blob = min_blob

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
        # Pixels unchanged in the previous frame: the global gain is measured on these only,
        # so a bright object passing by does not shift the whole background.
        self._static = watch.copy()
        self._bg = np.zeros((self.wh, self.ww), np.float32)
        self._frames = 0
        self._relearn = calibration_frames
        self._run = 0
        self._active = False

    def reset(self) -> None:
        self._frames = 0
        self._relearn = self.calibration_frames
        self._run = 0
        self._active = False

    def detect(self, luma: np.ndarray) -> MotionResult:
        if luma.shape[0] != self.wh or luma.shape[1] != self.ww:
            cv2.resize(luma, (self.ww, self.wh), dst=self._small, interpolation=cv2.INTER_AREA)
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

        boxes: list[Box] = []
        area = 0
        if changed >= self.min_pixels * 0.5:
            n, _, stats, _ = cv2.connectedComponentsWithStats(diff, connectivity=8)
            for i in range(1, n):
                x, y, w, h, a = stats[i]
                if a >= self.min_blob:
                    area += int(a)
                    boxes.append((int(x * self._sx), int(y * self._sy),
                                  int(np.ceil(w * self._sx)), int(np.ceil(h * self._sy))))

        if area >= self.min_pixels:
            self._run += 1
        else:
            self._run = 0
        if not self._active and self._run >= self.trigger_frames:
            self._active = True
        elif self._active and area < self.min_pixels * 0.5:
            self._active = False

        cv2.accumulateWeighted(blur, self._bg, self.alpha)
        return MotionResult(self._active, area / self.watched, boxes if self._active else [])
