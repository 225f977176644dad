"""Privacy masks (R-02): polygons blacked out in the frame before it is encoded or analysed.

The masks are rasterised once for a frame geometry; per frame only the bounding box of each
polygon is touched, so the cost does not depend on the frame size.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from firmware.capture.frames import Planes

# Video black in limited range: decodes to RGB (0, 0, 0). Chroma 128 is colourless.
BLACK_Y = 16
NEUTRAL_UV = 128

Polygon = Sequence[tuple[float, float]]


def rasterise(polygons: Sequence[Polygon], width: int, height: int) -> np.ndarray:
    """A uint8 mask (255 inside any polygon) for normalised polygon coordinates."""
    mask = np.zeros((height, width), np.uint8)
    for poly in polygons:
        pts = np.array([[round(x * width), round(y * height)] for x, y in poly], np.int32)
        cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_8)
    return mask


class _Patch:
    """One polygon's bounding box and its boolean mask inside that box, for one plane."""

    __slots__ = ("rows", "cols", "where")

    def __init__(self, mask: np.ndarray):
        ys, xs = np.nonzero(mask)
        self.rows = slice(int(ys.min()), int(ys.max()) + 1)
        self.cols = slice(int(xs.min()), int(xs.max()) + 1)
        self.where = mask[self.rows, self.cols] > 0


def _chroma_mask(luma_mask: np.ndarray) -> np.ndarray:
    """A chroma sample is masked when any of the four luma samples it covers is."""
    h, w = luma_mask.shape
    blocks = luma_mask[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2)
    return blocks.max(axis=(1, 3))


class PrivacyMask:
    """Blacks out polygons in I420 frames of one geometry (R-02)."""

    def __init__(self, polygons: Sequence[Polygon], width: int, height: int):
        self.width, self.height = width, height
        self._luma: list[_Patch] = []
        self._chroma: list[_Patch] = []
        for poly in polygons:
            mask = rasterise([poly], width, height)
            if not mask.any():
                continue
            self._luma.append(_Patch(mask))
            self._chroma.append(_Patch(_chroma_mask(mask)))

    def __bool__(self) -> bool:
        return bool(self._luma)

    def apply(self, planes: Planes) -> None:
        """Black out every polygon in place."""
        for p in self._luma:
            np.copyto(planes.y[p.rows, p.cols], BLACK_Y, where=p.where)
        for p in self._chroma:
            np.copyto(planes.u[p.rows, p.cols], NEUTRAL_UV, where=p.where)
            np.copyto(planes.v[p.rows, p.cols], NEUTRAL_UV, where=p.where)

    def apply_luma(self, luma: np.ndarray) -> None:
        """Black out every polygon in a luma-only image (the lores stream)."""
        for p in self._luma:
            np.copyto(luma[p.rows, p.cols], BLACK_Y, where=p.where)
