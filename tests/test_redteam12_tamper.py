"""Red team of issue 12: camera tamper against time itself (firmware/capture/tamper.py).

The `turned` reference view follows the picture with a 30 s time constant, so a camera turned
away slowly (a few minutes) dragged its reference along and never raised `turned`. These
tests were written first and failed on that code."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest

from firmware.capture.synthetic import Mover, Scene
from firmware.capture.tamper import TamperDetector, TamperSettings

from conftest import VIDEO02, VIDEO03, shared_clip

W, H = 320, 240
EVERY = TamperSettings().every_seconds       # the detector looks twice a second: feed that


def wide_clip(path, extra: int) -> tuple[list[np.ndarray], int]:
    """The clip's luma planes stretched to W + extra wide (a scene wider than the camera
    sees), and how many clip frames pass between two looks of the detector."""
    with av.open(str(shared_clip(path))) as c:
        fps = float(c.streams.video[0].average_rate)
        frames = [f.reformat(W + extra, H, "gray").to_ndarray() for f in c.decode(video=0)]
    return frames, max(1, round(EVERY * fps))


def pan(path, minutes: float, extra: int = W) -> list[tuple[float, str, bool]]:
    """10 s still, then the camera turns by `extra` pixels of the wide scene over `minutes`
    (the clip plays on meanwhile), then 60 s still: the changes the detector reports."""
    frames, stride = wide_clip(path, extra)
    source = itertools.cycle(frames[::stride])
    detector = TamperDetector(W, H)
    still, moving, after = int(10 / EVERY), int(minutes * 60 / EVERY), int(60 / EVERY)
    seen = []
    for i in range(still + moving + after):
        x = 0 if i < still else min(extra, round(extra * (i - still) / moving))
        view = np.ascontiguousarray(next(source)[:, x:x + W])
        seen += [(i * EVERY, c.condition, c.raised) for c in detector.feed(view, i * EVERY)]
    return seen


@pytest.mark.parametrize("path", [VIDEO02, VIDEO03])
def test_a_camera_turned_slowly_over_ten_minutes_raises_turned_R82(path):
    """Turned to the other half of the scene at 1 pixel (of 320) every 2 s: the old detector
    said nothing; the same turn made at once raises `turned` within its hold time."""
    assert ("turned" in {c for _, c, up in pan(path, 0.01) if up}), "sanity: a quick turn"
    seen = pan(path, 10)
    assert any(c == "turned" and up for _, c, up in seen), (
        f"the camera was turned away over 10 minutes and no alarm was raised: {seen}")


def test_no_alarm_over_a_whole_evening_night_and_morning():
    """The anchor that catches a slow turn must not take a night for one: three hours of a
    scene going dark over an hour, an hour of night with passers-by, and an hour of dawn."""
    passers = [Mover(20, 26, 0.05, 0.5, 0.8, 0.5, 0.08, 0.3, 30),
               Mover(50, 54, 0.9, 0.7, 0.05, 0.7, 0.3, 0.15, 220)]

    def gain(t: float) -> float:
        hour = t / 3600
        return 1.0 - 0.7 * min(1.0, hour) if hour < 2 else 0.3 + 0.7 * min(1.0, hour - 2)

    scene = Scene(W, H, 25, passers, noise=3.0, seed=13, gain=gain)
    detector = TamperDetector(W, H)
    stride = round(EVERY * 25)
    seen = []
    for i in range(int(3 * 3600 / EVERY)):
        seen += [(i * EVERY, c.condition, c.raised)
                 for c in detector.feed(scene.luma(i * stride), i * EVERY)]
    assert seen == []


@pytest.mark.parametrize("path", [VIDEO02, VIDEO03])
def test_no_alarm_over_the_clip_looped_for_an_hour(path):
    frames, stride = wide_clip(path, 0)
    source = itertools.cycle(frames[::stride])
    detector = TamperDetector(W, H)
    seen = []
    for i in range(int(3600 / EVERY)):
        seen += [(i * EVERY, c.condition, c.raised) for c in detector.feed(next(source),
                                                                           i * EVERY)]
    assert seen == []
