"""A deterministic generated scene with known ground truth.

It serves three purposes: the `synthetic` camera of `make run` (a street with passers-by, sensor
noise and a clock on the wall), test scenes whose objects are known frame by frame so motion
recall and precision can be measured, and hard negatives (noise only, brightness ramps, lights
switched on) on which no event may open.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Mover:
    """A rectangle of one luma/colour moving in a straight line from (x0, y0) to (x1, y1).

    Positions and sizes are fractions of the frame; times are seconds since the scene start.
    """

    start: float
    end: float
    x0: float
    y0: float
    x1: float
    y1: float
    w: float
    h: float
    luma: int
    u: int = 128
    v: int = 128

    def box(self, t: float, width: int, height: int) -> Box | None:
        if not self.start <= t < self.end:
            return None
        f = (t - self.start) / (self.end - self.start)
        x = (self.x0 + (self.x1 - self.x0) * f) * width
        y = (self.y0 + (self.y1 - self.y0) * f) * height
        return int(x), int(y), max(2, int(self.w * width)) & ~1, max(2, int(self.h * height)) & ~1

    @property
    def area(self) -> float:
        return self.w * self.h


def _background(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth, textured still scene: sky, building blocks, a road. Luma 60..190.

    Drawn at a quarter of the size and scaled up, so a 1080p scene costs little memory."""
    rng = np.random.default_rng(seed)
    w, h = max(8, width // 4), max(8, height // 4)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    img = 150 - 50 * yy + 15 * np.sin(xx * 7 + seed) * np.cos(yy * 5)
    for _ in range(6):
        x0, y0 = rng.uniform(0, 0.9), rng.uniform(0.05, 0.6)
        bw, bh = rng.uniform(0.05, 0.3), rng.uniform(0.1, 0.4)
        r0, c0 = int(y0 * h), int(x0 * w)
        img[r0:r0 + int(bh * h), c0:c0 + int(bw * w)] = rng.uniform(80, 180)
    img[int(h * 0.75):] = 95 + 10 * xx
    texture = rng.normal(0, 4, (h // 2 + 1, w // 2 + 1)).astype(np.float32)
    img += cv2.resize(texture, (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (0, 0), max(1.0, h / 240))
    small = np.clip(img, 60, 190).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _noise_plane(size: int, sigma: float, seed: int) -> np.ndarray:
    """|Gaussian noise| as uint8, made in small chunks. Added at one offset and subtracted at
    another, it gives zero-mean noise of about `sigma` from a single buffer."""
    rng = np.random.default_rng(seed)
    out = np.empty(size, np.uint8)
    chunk = 1 << 18
    for start in range(0, size, chunk):
        values = rng.standard_normal(min(chunk, size - start), dtype=np.float32)
        np.abs(values, out=values)
        values *= sigma
        np.clip(values, 0, 255, out=values)
        out[start:start + len(values)] = values
    return out


class Scene:
    """Renders frame i of the scene as a luma image or an I420 frame.

    noise: standard deviation of the sensor noise in luma levels.
    gain: brightness factor as a function of time (a ramp, lights switched on); None is 1.
    period: if set, the movers repeat every `period` seconds (the endless demo scene).
    """

    def __init__(self, width: int, height: int, fps: float, movers: Sequence[Mover] = (), *,
                 noise: float = 2.5, gain: Callable[[float], float] | None = None,
                 clock: bool = True, period: float | None = None, seed: int = 0):
        self.width, self.height, self.fps = width, height, fps
        self.movers = tuple(movers)
        self.gain, self.clock, self.period = gain, clock, period
        self._base = _background(width, height, seed)
        self._y: np.ndarray | None = None
        self._spare = width * 7 + 13
        self._noise = (_noise_plane(width * height + self._spare * 8, noise, seed + 1)
                       if noise > 0 else None)

    def time(self, i: int) -> float:
        return i / self.fps

    def _scene_time(self, t: float) -> float:
        return t % self.period if self.period else t

    def boxes(self, i: int) -> list[tuple[Box, Mover]]:
        t = self._scene_time(self.time(i))
        out = []
        for m in self.movers:
            box = m.box(t, self.width, self.height)
            if box is not None:
                out.append((box, m))
        return out

    def luma(self, i: int) -> np.ndarray:
        """Frame i's luma plane. The array is reused: copy it to keep it."""
        if self._y is None:
            self._y = np.empty((self.height, self.width), np.uint8)
        return self._draw_luma(i, self._y)

    def _draw_luma(self, i: int, y: np.ndarray) -> np.ndarray:
        t = self.time(i)
        g = self.gain(t) if self.gain else 1.0
        if g == 1.0:
            np.copyto(y, self._base)
        else:
            cv2.convertScaleAbs(self._base, y, g)
        if self.clock:
            s = int(t)
            text = f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
            scale = self.height / 1000
            org = (int(self.width * 0.80), int(self.height * 0.06))
            cv2.putText(y, text, org, cv2.FONT_HERSHEY_PLAIN, scale, 230,
                        max(1, round(scale)), cv2.LINE_8)
        for (x, yy, w, h), m in self.boxes(i):
            y[max(0, yy):yy + h, max(0, x):x + w] = m.luma
        if self._noise is not None:
            n = self.width * self.height
            off = (i * 2654435761) % (self._spare * 8)
            cv2.add(y, self._noise[off:off + n].reshape(y.shape), dst=y)
            off2 = (i * 40503 + 17) % (self._spare * 8)
            cv2.subtract(y, self._noise[off2:off2 + n].reshape(y.shape), dst=y)
        return y

    def i420(self, i: int, out: np.ndarray) -> np.ndarray:
        """Render frame i into `out`, an I420 buffer of shape (height * 3 // 2, width)."""
        h, w = self.height, self.width
        self._draw_luma(i, out[:h])
        chroma = out[h:].reshape(2, h // 2, w // 2)
        chroma[:] = 128
        for (x, y, bw, bh), m in self.boxes(i):
            if m.u != 128 or m.v != 128:
                rows = slice(max(0, y) // 2, (y + bh) // 2)
                cols = slice(max(0, x) // 2, (x + bw) // 2)
                chroma[0, rows, cols] = m.u
                chroma[1, rows, cols] = m.v
        return out

    def truth_events(self, frames: int, min_fraction: float = 0.01) -> list[tuple[float, float]]:
        """Intervals (seconds) in which an object of at least `min_fraction` of the frame moves."""
        flags = [any(m.area >= min_fraction for _, m in self.boxes(i)) for i in range(frames)]
        return events_from_flags(flags, self.fps, merge_gap=0.0)


def demo_scene(width: int, height: int, fps: float, seed: int = 7) -> Scene:
    """The endless scene of `make run`: people and a car pass every 40 seconds."""
    movers = [
        Mover(3, 11, 0.05, 0.55, 0.85, 0.52, 0.05, 0.22, 40, 110, 150),     # person, left to right
        Mover(14, 18, 0.95, 0.78, 0.02, 0.78, 0.22, 0.12, 215, 90, 180),    # car, right to left
        Mover(24, 31, 0.6, 0.45, 0.3, 0.6, 0.06, 0.25, 30, 150, 110),       # person, diagonal
    ]
    return Scene(width, height, fps, movers, period=40.0, seed=seed)


def random_scene(seed: int, width: int = 320, height: int = 240, fps: float = 25.0,
                 objects: int = 6, noise: float = 3.0, min_fraction: float = 0.01,
                 max_fraction: float = 0.08, quiet: float = 4.0) -> tuple[Scene, int]:
    """A scene with `objects` movers one after another, quiet gaps between them.

    Returns the scene and its length in frames. Objects cover `min_fraction` to `max_fraction`
    of the frame and differ from the background by at least 40 luma levels.
    """
    rng = random.Random(seed)
    movers = []
    t = quiet
    for _ in range(objects):
        area = rng.uniform(min_fraction, max_fraction)
        aspect = rng.uniform(0.4, 2.5)
        w = min(0.6, math.sqrt(area * aspect * height / width))
        h = min(0.9, area / w)
        duration = rng.uniform(2.0, 6.0)
        x0, x1 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - w)
        y0, y1 = rng.uniform(0, 1 - h), rng.uniform(0, 1 - h)
        if abs(x1 - x0) + abs(y1 - y0) < 0.3:      # make sure it really moves
            x1 = 1 - w - x0 if x0 > 0.5 - w / 2 else min(1 - w, x0 + 0.4)
            x1 = max(0.0, x1)
        luma = rng.choice([rng.randint(15, 25), rng.randint(225, 240)])
        movers.append(Mover(t, t + duration, x0, y0, x1, y1, w, h, luma))
        t += duration + quiet + rng.uniform(0, 3)
    return Scene(width, height, fps, movers, noise=noise, seed=seed), int((t + 1) * fps)


def events_from_flags(flags: Iterable[bool], fps: float,
                      merge_gap: float = 1.0) -> list[tuple[float, float]]:
    """Runs of True as (start, end) seconds; runs closer than `merge_gap` seconds merge."""
    events: list[list[float]] = []
    start = None
    for i, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            s, e = start / fps, i / fps
            if events and s - events[-1][1] <= merge_gap:
                events[-1][1] = e
            else:
                events.append([s, e])
            start = None
    return [(s, e) for s, e in events]


def match_events(truth: Sequence[tuple[float, float]], found: Sequence[tuple[float, float]],
                 tolerance: float = 0.5) -> tuple[float, float]:
    """Event-level (recall, precision): overlap within `tolerance` seconds counts as a match."""
    def overlaps(a, b):
        return a[0] - tolerance < b[1] and b[0] - tolerance < a[1]

    hit = sum(1 for t in truth if any(overlaps(t, f) for f in found))
    good = sum(1 for f in found if any(overlaps(f, t) for t in truth))
    recall = hit / len(truth) if truth else 1.0
    precision = good / len(found) if found else 1.0
    return recall, precision
