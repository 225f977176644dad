"""The lores plane for motion: an area average, computed fast for 1080p (firmware/capture/lores.py).

The fast path must give the exact area average, differ from OpenCV's INTER_AREA only where the
average lies exactly halfway between two levels, and change no motion decision on real footage.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from firmware.capture.lores import LoresScaler
from firmware.capture.motion import MotionDetector
from firmware.capture.sources import AvSource

from conftest import VIDEO03, shared_clip


def exact_area(y: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The area average in whole numbers, rounded half up, for a whole horizontal factor and
    a vertical factor of n + 1/2; and where it lies exactly halfway between two levels."""
    rows, cols = y.shape
    fx, m = cols // w, 2 * rows // h
    n = (m - 1) // 2
    s = y.astype(np.int64).reshape(rows, w, fx).sum(axis=2).reshape(h // 2, m, w)
    first = 2 * s[:, :n].sum(axis=1) + s[:, n]
    second = s[:, n] + 2 * s[:, n + 1:].sum(axis=1)
    sums = np.stack([first, second], axis=1).reshape(h, w)
    return (2 * sums + fx * m) // (2 * fx * m), 2 * (sums % (fx * m)) == fx * m


@pytest.mark.parametrize("src,dst", [((1920, 1080), (320, 240)), ((1280, 720), (320, 160)),
                                     ((640, 360), (320, 240))])
def test_fast_lores_is_the_exact_area_average(src, dst):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 256, (src[1], src[0])).astype(np.uint8)
    scaler = LoresScaler(src, dst)
    out = scaler(y, np.empty((dst[1], dst[0]), np.uint8))
    exact, halfway = exact_area(y, *dst)
    assert np.array_equal(out, exact)
    opencv = cv2.resize(y, dst, interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(out - opencv).max() <= 1
    assert not np.any((out != opencv) & ~halfway), "differs from INTER_AREA off a halfway value"
    white = np.full((src[1], src[0]), 255, np.uint8)
    assert (scaler(white, out) == 255).all()                 # the largest sums do not overflow


@pytest.mark.parametrize("src,dst", [((1280, 720), (320, 240)), ((1920, 1080), (640, 480)),
                                     ((2592, 1944), (320, 240))])
def test_other_geometries_are_opencvs_inter_area(src, dst):
    y = np.random.default_rng(2).integers(0, 256, (src[1], src[0])).astype(np.uint8)
    out = LoresScaler(src, dst)(y, np.empty((dst[1], dst[0]), np.uint8))
    assert np.array_equal(out, cv2.resize(y, dst, interpolation=cv2.INTER_AREA))


def test_fast_lores_changes_no_motion_decision_on_real_footage():
    source = AvSource(shared_clip(VIDEO03), size=(1920, 1080), max_fps=30)
    scaler = LoresScaler((1920, 1080), (320, 240))
    before, after = MotionDetector(320, 240), MotionDetector(320, 240)
    a, b = np.empty((240, 320), np.uint8), np.empty((240, 320), np.uint8)
    flags_before, flags_after = [], []
    for buf, _ in source.frames(threading.Event()):
        cv2.resize(buf[:1080], (320, 240), dst=a, interpolation=cv2.INTER_AREA)
        scaler(buf[:1080], b)
        flags_before.append(before.detect(a).motion)
        flags_after.append(after.detect(b).motion)
    assert sum(flags_before) > 100                  # the clip has people walking through it
    assert flags_after == flags_before
