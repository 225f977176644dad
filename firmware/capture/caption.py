"""The burned-in caption (R-30): date, time (device time zone) and camera location.

The caption text changes once a second, so it is rendered into a small cached strip once a
second and copied into each frame with a single slice assignment.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from firmware.capture.frames import Planes

_FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_Y = 235   # video white
BOX_Y = 16     # video black


def ascii_text(text: str) -> str:
    """The Hershey fonts in OpenCV draw ASCII only: 'Raadzaal Ë' becomes 'Raadzaal E'."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def caption_text(t: float, location: str, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(t, tz)
    return f"{local:%Y-%m-%d %H:%M:%S %Z}  {location}"


class Caption:
    """Draws 'YYYY-MM-DD HH:MM:SS TZ  location' in a black box at the top left."""

    def __init__(self, location: str, width: int, height: int, tz: ZoneInfo):
        self.location = ascii_text(location)
        self.width, self.height, self.tz = width, height, tz
        self.scale = max(0.35, height / 1080 * 1.1)
        self.thickness = max(1, round(height / 1080 * 2))
        self.pad = max(2, round(height / 120))
        self._second: int | None = None
        self._strip = np.zeros((1, 1), np.uint8)
        self.text = ""

    def _render(self, t: float) -> None:
        self.text = caption_text(t, self.location, self.tz)
        (tw, th), base = cv2.getTextSize(self.text, _FONT, self.scale, self.thickness)
        h = min(self.height, th + base + 2 * self.pad) & ~1
        w = min(self.width, tw + 2 * self.pad) & ~1
        strip = np.full((h, w), BOX_Y, np.uint8)
        cv2.putText(strip, self.text, (self.pad, self.pad + th), _FONT, self.scale, TEXT_Y,
                    self.thickness, cv2.LINE_AA)
        self._strip = strip

    def apply(self, planes: Planes, t: float) -> None:
        second = int(t)
        if second != self._second:
            self._second = second
            self._render(t)
        h, w = self._strip.shape
        planes.y[:h, :w] = self._strip
        planes.u[: h // 2, : w // 2] = 128
        planes.v[: h // 2, : w // 2] = 128

    @property
    def box(self) -> tuple[int, int]:
        """(width, height) of the caption box in pixels, once drawn."""
        return self._strip.shape[1], self._strip.shape[0]
