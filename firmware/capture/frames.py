"""Frame layout shared by every camera backend: planar YUV 4:2:0 (I420).

picamera2 hands the pre_callback a (height * 3/2, stride) array for its YUV420 main stream and
PyAV decodes to the same layout, so masks and caption are drawn by one piece of code on both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Planes:
    """Writable views on the Y, U and V planes of one frame; writing to them writes the frame."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


def i420_planes(buf: np.ndarray, width: int, height: int) -> Planes:
    """Split an I420 buffer of shape (height * 3 // 2, stride) into plane views (no copy)."""
    stride = buf.shape[1]
    y = buf[:height, :width]
    chroma = buf[height:height + height // 2].reshape(-1)
    plane = (height // 2) * (stride // 2)
    u = chroma[:plane].reshape(height // 2, stride // 2)[:, : width // 2]
    v = chroma[plane:2 * plane].reshape(height // 2, stride // 2)[:, : width // 2]
    return Planes(y, u, v)


def blank_i420(width: int, height: int, luma: int = 16) -> np.ndarray:
    """A new black (or grey) I420 frame."""
    buf = np.empty((height * 3 // 2, width), np.uint8)
    buf[:height] = luma
    buf[height:] = 128
    return buf
