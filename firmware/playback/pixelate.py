"""Pixelation of the masked parts of an I420 frame, at a cost that does not grow with the
number of boxes.

The whole frame is reduced to blocks of about 1/BLOCKS_ACROSS of its width (each block the mean
of its pixels) and scaled back up smoothly; the masked pixels are then replaced by that. What
a viewer gets there depends on the block means only, so no sharpening brings a face back. All
buffers are made once per segment and reused for every frame.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from firmware.capture.frames import Planes, i420_planes
from firmware.playback.detect import Box

BLOCKS_ACROSS = 40          # a block is the frame width / 40 (8 px at 320, 24 px at 960) ...
MIN_BLOCK = 8               # ... and never smaller than 8 pixels


class Pixelator:
    """Pixelates the fixed regions (the beheerder's) and each frame's boxes (the detector's)."""

    def __init__(self, width: int, height: int, fixed: Iterable[Box] = ()):
        self.width, self.height = width, height
        block = max(MIN_BLOCK, width // BLOCKS_ACROSS)
        # The same number of blocks for the half-size chroma planes: the same areas of picture.
        self._small = (max(1, round(width / block)), max(1, round(height / block)))
        self._coarse = np.empty((height * 3 // 2, width), np.uint8)
        self._coarse_planes = i420_planes(self._coarse, width, height)
        self._fixed = np.zeros((height, width), np.uint8)
        for x0, y0, x1, y1 in fixed:
            self._fixed[y0:y1, x0:x1] = 1
        self._any_fixed = bool(self._fixed.any())
        self._mask = np.empty((height, width), np.uint8)
        self._where = self._mask.view(bool)
        self._where_c = self._where[::2, ::2]            # chroma is half size both ways

    def apply(self, planes: Planes, boxes: Iterable[Box]) -> None:
        """Pixelate the fixed regions and `boxes` of the frame behind `planes`, in place."""
        np.copyto(self._mask, self._fixed)
        drawn = self._any_fixed
        for x0, y0, x1, y1 in boxes:
            self._mask[y0:y1, x0:x1] = 1
            drawn = True
        if not drawn:
            return
        coarse = self._coarse_planes
        for plane, out, where in ((planes.y, coarse.y, self._where),
                                  (planes.u, coarse.u, self._where_c),
                                  (planes.v, coarse.v, self._where_c)):
            h, w = plane.shape
            small = cv2.resize(plane, self._small, interpolation=cv2.INTER_AREA)
            cv2.resize(small, (w, h), dst=out, interpolation=cv2.INTER_LINEAR)
            np.copyto(plane, out, where=where[:h, :w])
