"""Benchmark: our motion detector against a Frigate-style reference, in one run.

Speed: time per frame on the real clips (../shared/data/video) at 320x240 and 640x480.
Quality: event recall and precision on generated scenes with ground truth, and false events
on scenes with no objects (sensor noise, brightness ramps, lights switched on).
Prints ratios ours / reference; below 1.0 means we are faster.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from firmware.capture.motion import MotionDetector  # noqa: E402
from firmware.capture.synthetic import (Scene, events_from_flags, match_events,  # noqa: E402
                                        random_scene)
from frigate_reference import FrigateStyleDetector  # noqa: E402

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"


def ours(w, h):
    d = MotionDetector(w, h)
    return lambda y: d.detect(y).motion


def reference(w, h):
    return FrigateStyleDetector(w, h).detect


def clip_frames(path: Path, size: tuple[int, int]) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.reformat(size[0], size[1], "gray").to_ndarray() for f in c.decode(video=0)]


def time_per_frame(makers, frames, repeats=7) -> list[float]:
    """Best time per frame of each detector; runs alternate so machine noise hits both."""
    h, w = frames[0].shape
    best = [float("inf")] * len(makers)
    for _ in range(repeats):
        for k, make in enumerate(makers):
            detect = make(w, h)
            t = time.perf_counter()
            for f in frames:
                detect(f)
            best[k] = min(best[k], (time.perf_counter() - t) / len(frames))
    return best


def quality(make, scenes, negatives):
    hits = truth_n = good = found_n = 0
    for scene, frames in scenes:
        detect = make(scene.width, scene.height)
        found = events_from_flags([detect(scene.luma(i)) for i in range(frames)], scene.fps)
        truth = scene.truth_events(frames)
        r, p = match_events(truth, found)
        hits += round(r * len(truth))
        truth_n += len(truth)
        good += round(p * len(found))
        found_n += len(found)
    false_events = 0
    for scene, frames in negatives:
        detect = make(scene.width, scene.height)
        false_events += len(events_from_flags([detect(scene.luma(i)) for i in range(frames)],
                                              scene.fps))
    return hits / truth_n, good / max(1, found_n), found_n - good, false_events


def main() -> None:
    print("motion detector benchmark: ours vs Frigate-style reference (same run)")
    print(f"{'clip':14} {'size':9} {'ours us/frame':>14} {'ref us/frame':>13} {'ratio':>6}")
    for name in ("video02.avi", "video03.avi"):
        path = CLIPS / name
        if not path.is_file():
            print(f"{name}: not found in {CLIPS}, skipped")
            continue
        for size in ((320, 240), (640, 480)):
            frames = clip_frames(path, size)
            a, b = time_per_frame([ours, reference], frames)
            print(f"{name:14} {size[0]}x{size[1]:<5} {a * 1e6:14.0f} {b * 1e6:13.0f} "
                  f"{a / b:6.2f}")

    scenes = [random_scene(seed, 320, 240, objects=6) for seed in range(100, 120)]
    negatives = [(Scene(320, 240, 25, noise=n, seed=s), 25 * 60)
                 for s, n in ((1, 2.0), (2, 5.0), (3, 8.0), (4, 12.0))]
    negatives += [(Scene(320, 240, 25, noise=3, gain=g, seed=9), 25 * 60) for g in (
        lambda t: 0.6 + 0.6 * t / 60,                                   # dawn
        lambda t: 1.0 - 0.35 * min(1.0, max(0.0, (t - 5) / 3)),        # cloud
        lambda t: 0.5 if t < 10 else 1.0,                               # lights on
        lambda t: 1.0 + 0.2 * ((int(t) // 10) % 2),                     # exposure steps
        lambda t: 1.0 + 0.08 * math.sin(2 * math.pi * 1.5 * t))]        # lamp flicker
    negatives.append((Scene(320, 240, 25, noise=12, gain=lambda t: 0.35, seed=5), 25 * 60))
    print(f"\nquality on {len(scenes)} generated scenes ({sum(len(s.movers) for s, _ in scenes)} "
          f"objects of 1-8 % of the frame) and {len(negatives)} scenes without objects")
    print(f"{'detector':10} {'recall':>7} {'precision':>10} {'spurious':>9} {'false on empty':>15}")
    rows = {}
    for label, make in (("ours", ours), ("reference", reference)):
        rows[label] = quality(make, scenes, negatives)
        r, p, spurious, false = rows[label]
        print(f"{label:10} {r:7.3f} {p:10.3f} {spurious:9d} {false:15d}")
    r0, _, s0, f0 = rows["ours"]
    r1, _, s1, f1 = rows["reference"]
    print(f"recall ratio ours/reference: {r0 / r1:.2f}; false events ours {s0 + f0} vs "
          f"reference {s1 + f1}")


if __name__ == "__main__":
    main()
