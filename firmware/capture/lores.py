"""The lores luma plane for motion detection: an area average of the full-size luma plane.

OpenCV's INTER_AREA is fast when both scale factors are whole numbers. From 1920x1080 to the
default lores of 320x240 they are 6 and 4.5, and OpenCV takes its general path: 3.3 ms a frame
on the development machine, more than all the rest of the recorder besides the encoder.

For a whole horizontal factor and a vertical factor of n + 1/2, `LoresScaler` computes the same
area average with whole-number sums: each group of 2n + 1 rows gives two lores rows, the first
from rows 0..n-1 and half of row n, the second from the other half of row n and rows n+1..2n.
Scaled by a power of two, the sums stay exact through OpenCV's whole-factor INTER_AREA, and the
result is the area average rounded to the nearest level. It equals INTER_AREA's everywhere
except where the average lies exactly halfway between two levels (about 0.5 % of the pixels of
real footage), which this rounds up and OpenCV's floating-point path rounds either way. Other
geometries use INTER_AREA itself. Rows are done in bands, so the 16-bit work buffers stay small.
"""

from __future__ import annotations

import cv2
import numpy as np

_BAND_ROWS = 272                 # rows of the full-size plane per band (16-bit buffers)


class LoresScaler:
    """Scales luma planes of `src` (width, height) to `dst` (width, height) by area average."""

    def __init__(self, src: tuple[int, int], dst: tuple[int, int]):
        (sw, sh), (dw, dh) = src, dst
        self.src, self.dst = src, dst
        self._fx, self._m = sw // dw, 2 * sh // dh          # vertical factor m / 2
        n = (self._m - 1) // 2
        # s: scale of the sums, a power of two: even (halfway values stay whole), above the
        # horizontal factor (rounding in the horizontal pass never crosses a level), and
        # small enough for 16 bits.
        s = 2
        while s * 2 * self._m * 255 <= 0xFFFF:
            s *= 2
        self._s = s
        self._fast = (sw == self._fx * dw and 2 * sh == self._m * dh and self._m % 2 == 1
                      and self._m >= 3 and self._fx >= 1 and s > self._fx
                      and s * self._m * 255 <= 0xFFFF)
        if not self._fast:
            return
        self._n = n
        self._groups = max(1, _BAND_ROWS // self._m)        # row groups per band
        self._wide = np.empty((self._groups * self._m, sw), np.uint16)
        self._sums = np.empty((2, self._groups, sw), np.uint16)

    def __call__(self, luma: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Scale `luma` (height, width) into `out` (lores height, lores width); returns `out`."""
        if not self._fast:
            return cv2.resize(luma, self.dst, dst=out, interpolation=cv2.INTER_AREA)
        m, n, dw = self._m, self._n, self.dst[0]
        shift, scale = self._s.bit_length() - 1, self._s * m
        total = luma.shape[0] // m
        pairs = out.reshape(total, 2, dw)
        for g0 in range(0, total, self._groups):
            g = min(self._groups, total - g0)
            wide = self._wide[: g * m]
            np.copyto(wide, luma[g0 * m:(g0 + g) * m])
            rows = wide.reshape(g, m, -1)
            for half, (lo, hi) in enumerate(((0, n), (n + 1, m))):
                acc = self._sums[half, :g]
                if hi - lo > 1:
                    cv2.add(rows[:, lo], rows[:, lo + 1], dst=acc)
                else:
                    np.copyto(acc, rows[:, lo])
                for i in range(lo + 2, hi):
                    cv2.add(acc, rows[:, i], dst=acc)
                np.left_shift(acc, 1, out=acc)             # whole rows count twice,
                cv2.add(acc, rows[:, n], dst=acc)          # the middle row once in each
                np.left_shift(acc, shift, out=acc)         # scaled by s for the next pass
                # Whole horizontal factor: OpenCV's exact path averages fx columns.
                avg = cv2.resize(acc, (dw, g), interpolation=cv2.INTER_AREA)
                pairs[g0:g0 + g, half] = (avg.astype(np.uint32) * 2 + scale) // (2 * scale)
        return out
