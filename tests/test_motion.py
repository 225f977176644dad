"""Motion detection against generated scenes with ground truth, and on real footage."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest

from firmware.capture.motion import MotionDetector
from firmware.capture.synthetic import (Mover, Scene, events_from_flags, match_events,
                                        random_scene)

from conftest import VIDEO02, VIDEO03, shared_clip


def detected_events(detector: MotionDetector, scene: Scene, frames: int):
    flags = [detector.detect(scene.luma(i)).motion for i in range(frames)]
    return events_from_flags(flags, scene.fps)


@pytest.mark.parametrize("size", [(320, 240), (640, 480)])
def test_recall_and_precision_on_generated_scenes(size):
    """Objects of 1 % to 8 % of the frame: event-level recall and precision >= 0.95."""
    truth_total = hits = found_total = good = 0
    for seed in range(10):
        scene, frames = random_scene(seed, *size, objects=6)
        truth = scene.truth_events(frames, min_fraction=0.01)
        found = detected_events(MotionDetector(*size), scene, frames)
        recall, precision = match_events(truth, found)
        truth_total += len(truth)
        hits += round(recall * len(truth))
        found_total += len(found)
        good += round(precision * len(found))
    assert truth_total == 60
    assert hits / truth_total >= 0.95
    assert good / found_total >= 0.95


def test_smallest_objects_one_percent_are_found():
    scene, frames = random_scene(99, objects=8, min_fraction=0.01, max_fraction=0.012)
    truth = scene.truth_events(frames)
    recall, precision = match_events(truth, detected_events(MotionDetector(320, 240), scene,
                                                            frames))
    assert len(truth) == 8 and recall >= 0.95 and precision >= 0.95


@pytest.mark.parametrize("noise", [2.0, 5.0, 8.0, 12.0])
def test_sensor_noise_alone_opens_no_event(noise):
    scene = Scene(320, 240, 25, noise=noise, seed=3)
    assert detected_events(MotionDetector(320, 240), scene, 25 * 60) == []


@pytest.mark.parametrize("ramp", [
    lambda t: 0.6 + 0.6 * t / 60,                                  # dawn over a minute
    lambda t: 1.2 - 0.7 * t / 60,                                  # dusk over a minute
    lambda t: 1.0 - 0.35 * min(1.0, max(0.0, (t - 5) / 3)),       # a cloud in three seconds
    lambda t: 1.0 + 0.2 * ((int(t) // 10) % 2),                    # auto-exposure steps
    lambda t: 1.0 + 0.08 * math.sin(2 * math.pi * 1.5 * t),        # lamp flicker
])
def test_global_brightness_changes_open_no_event(ramp):
    scene = Scene(320, 240, 25, noise=3.0, gain=ramp, seed=4)
    assert detected_events(MotionDetector(320, 240), scene, 25 * 60) == []


def test_lights_switched_on_opens_no_event():
    scene = Scene(320, 240, 25, noise=3.0, gain=lambda t: 0.5 if t < 10 else 1.0, seed=5)
    assert detected_events(MotionDetector(320, 240), scene, 25 * 20) == []


def test_a_changed_scene_is_a_light_change_not_motion():
    """A change the gain cannot explain (lamp over half the scene, view moved): relearn."""
    rng = np.random.default_rng(1)
    a = np.kron(rng.integers(40, 200, (15, 20), dtype=np.uint8), np.ones((16, 16), np.uint8))
    b = a.copy()
    b[:, :200] = 240 - a[:, :200]
    detector = MotionDetector(320, 240)
    results = [detector.detect(a) for _ in range(30)] + [detector.detect(b) for _ in range(30)]
    assert not any(r.motion for r in results)
    assert results[30].light_change
    assert not any(r.light_change for r in results[45:])


def test_motion_after_a_light_change_is_still_found():
    mover = Mover(14, 18, 0.1, 0.4, 0.7, 0.4, 0.12, 0.2, 20)
    scene = Scene(320, 240, 25, [mover], noise=3.0, gain=lambda t: 0.5 if t < 10 else 1.0)
    found = detected_events(MotionDetector(320, 240), scene, 25 * 20)
    assert len(found) == 1 and 13.5 < found[0][0] < 14.5


def test_zones_count_only_motion_inside():
    left = Mover(2, 6, 0.05, 0.3, 0.3, 0.3, 0.1, 0.2, 20)      # moves in the left half
    right = Mover(9, 13, 0.6, 0.3, 0.85, 0.3, 0.1, 0.2, 20)    # moves in the right half
    scene = Scene(320, 240, 25, [left, right], noise=3.0)
    zone = [[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]]
    found = detected_events(MotionDetector(320, 240, zones=zone), scene, 25 * 15)
    assert len(found) == 1 and 8.5 < found[0][0] < 9.5
    found = detected_events(MotionDetector(320, 240, ignore=zone), scene, 25 * 15)
    assert len(found) == 1 and 1.5 < found[0][0] < 2.5


def test_hysteresis_needs_trigger_frames_in_a_row():
    flicker = [Mover(2 + k * 0.4, 2.04 + k * 0.4, 0.3, 0.3, 0.31, 0.3, 0.2, 0.2, 20)
               for k in range(10)]                               # one-frame flashes
    scene = Scene(320, 240, 25, flicker, noise=2.0)
    assert detected_events(MotionDetector(320, 240, trigger_frames=3), scene, 25 * 8) == []
    assert detected_events(MotionDetector(320, 240, trigger_frames=1), scene, 25 * 8) != []


def test_result_carries_score_and_boxes_in_input_pixels():
    mover = Mover(1, 5, 0.2, 0.5, 0.6, 0.5, 0.1, 0.2, 20)
    scene = Scene(640, 480, 25, [mover], noise=2.0)
    detector = MotionDetector(640, 480)
    results = [detector.detect(scene.luma(i)) for i in range(25 * 3)]
    last = results[-1]
    assert last.motion and 0.01 < last.score < 0.1
    x0 = min(b[0] for b in last.boxes)
    y0 = min(b[1] for b in last.boxes)
    x1 = max(b[0] + b[2] for b in last.boxes)
    y1 = max(b[1] + b[3] for b in last.boxes)
    (tx, ty, tw, th), _ = scene.boxes(25 * 3 - 1)[0]
    # The union of the boxes covers the object, give or take blur and the working scale.
    assert abs(y0 - ty) <= 10 and abs(y1 - (ty + th)) <= 10
    assert x0 <= tx + 10 and x1 >= tx + tw - 10 and x1 - x0 < tw + 120


def _clip_luma(path, size=None):
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            img = f.reformat(size[0], size[1], "gray") if size else f.reformat(format="gray")
            yield img.to_ndarray()


@pytest.mark.parametrize("clip", [VIDEO02, VIDEO03])
def test_real_footage_has_events(clip):
    clip = shared_clip(clip)
    detector = MotionDetector(320, 240)
    flags = [detector.detect(y).motion for y in _clip_luma(clip)]
    assert sum(flags) > len(flags) * 0.2
    assert events_from_flags(flags, 25)


def test_whole_frame_privacy_mask_on_real_footage_yields_nothing():
    """A privacy mask over everything leaves a black frame: nothing to detect (R-02)."""
    from firmware.capture.privacy import PrivacyMask
    mask = PrivacyMask([[(0, 0), (1, 0), (1, 1), (0, 1)]], 320, 240)
    detector = MotionDetector(320, 240)
    flags = []
    for y in _clip_luma(shared_clip(VIDEO02)):
        mask.apply_luma(y)
        assert y.max() == 16
        flags.append(detector.detect(y).motion)
    assert not any(flags)


def test_whole_frame_ignore_zone_yields_nothing():
    whole = [[(0, 0), (1, 0), (1, 1), (0, 1)]]
    detector = MotionDetector(320, 240, ignore=whole)
    assert detector.watched == 0
    assert not any(detector.detect(y).motion for y in _clip_luma(shared_clip(VIDEO02)))


def test_detector_accepts_strided_lores_views():
    """picamera2's lores array is padded to its stride: the detector must take a view."""
    padded = np.zeros((240, 384), np.uint8)
    detector = MotionDetector(320, 240)
    for _ in range(20):
        assert not detector.detect(padded[:, :320]).motion
