"""A reimplementation of Frigate's ImprovedMotionDetector from its published description.

Written for benchmarking only, from the description in the issue: resize to 100 px high,
contrast stretch between the 4th and 96th percentiles, 3x3 blur, running average with alpha
0.01 (0.2 while calibrating), threshold 30, one dilation, contours over 10 px. Calibration
(as described for Frigate): it starts calibrating, stops once little of the frame moves, and
starts again when most of the frame changes at once ("lightning").
"""

from __future__ import annotations

import cv2
import numpy as np


class FrigateStyleDetector:
    def __init__(self, width: int, height: int, threshold: int = 30, contour_area: int = 10,
                 alpha: float = 0.01, calibrating_alpha: float = 0.2,
                 lightning_threshold: float = 0.8):
        self.h = 100
        self.w = round(width * self.h / height)
        self.threshold, self.contour_area = threshold, contour_area
        self.alpha, self.calibrating_alpha = alpha, calibrating_alpha
        self.lightning = lightning_threshold
        self.avg: np.ndarray | None = None
        self.calibrating = True
        self.kernel = np.ones((3, 3), np.uint8)

    def detect(self, luma: np.ndarray) -> bool:
        small = cv2.resize(luma, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        lo, hi = np.percentile(small, [4, 96])
        if hi > lo:
            small = np.clip((small.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255)
            small = small.astype(np.uint8)
        blurred = cv2.GaussianBlur(small, (3, 3), 0)
        if self.avg is None:
            self.avg = blurred.astype(np.float32)
            return False
        delta = cv2.absdiff(blurred, cv2.convertScaleAbs(self.avg))
        thresh = cv2.threshold(delta, self.threshold, 255, cv2.THRESH_BINARY)[1]
        thresh = cv2.dilate(thresh, self.kernel, iterations=1)
        contours, _ = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > self.contour_area]
        area = sum(w * h for _, _, w, h in boxes) / (self.w * self.h)
        if area > self.lightning:
            self.calibrating = True
        elif self.calibrating and area < 0.01:
            self.calibrating = False
        cv2.accumulateWeighted(blurred, self.avg,
                               self.calibrating_alpha if self.calibrating else self.alpha)
        return bool(boxes) and not self.calibrating
