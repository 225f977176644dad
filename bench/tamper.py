"""Benchmark: what camera tamper detection adds to the per-frame motion path, in one run.

The recorder's lores path per frame is `MotionDetector.detect`; with tamper detection it is
`detect` and `TamperDetector.feed` (which looks at one frame in every half second of frames and
returns at once for the others). Both run over the same lores frames of the real clips
(../shared/data/video) at 320x240, stamped at the clip's own rate; the runs alternate and the
best of several is kept, so machine noise hits both. Prints microseconds per frame of each, the
ratio with / without (1.00 = free), and the cost of one look (the frames that are evaluated).
Times are the process's CPU time (all threads), not the wall clock: on a shared machine the
wall clock counts the time other processes had the core.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.capture.motion import MotionDetector  # noqa: E402
from firmware.capture.tamper import TamperDetector  # noqa: E402

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
SIZE = (320, 240)                      # the default lores plane


def clip(path: Path) -> tuple[float, list[np.ndarray]]:
    with av.open(str(path)) as c:
        fps = float(c.streams.video[0].average_rate)
        return fps, [f.reformat(*SIZE, "gray").to_ndarray() for f in c.decode(video=0)]


def motion_only(frames, fps) -> float:
    d = MotionDetector(*SIZE)
    t0 = time.process_time()
    for f in frames:
        d.detect(f)
    return (time.process_time() - t0) / len(frames)


def motion_and_tamper(frames, fps) -> float:
    d, tamper = MotionDetector(*SIZE), TamperDetector(*SIZE)
    t0 = time.process_time()
    for i, f in enumerate(frames):
        d.detect(f)
        tamper.feed(f, i / fps)
    return (time.process_time() - t0) / len(frames)


def one_look(frames) -> float:
    """Time of a look alone: every frame evaluated (one look per frame's time step)."""
    tamper = TamperDetector(*SIZE)
    step = tamper.settings.every_seconds
    t0 = time.process_time()
    for i, f in enumerate(frames):
        tamper.feed(f, i * step)
    return (time.process_time() - t0) / len(frames)


def main(repeats: int = 7) -> None:
    print("tamper detection benchmark: motion path with and without it (same run)")
    print(f"{'clip':12} {'motion us/frame':>16} {'+tamper us/frame':>17} {'ratio':>6} "
          f"{'one look us':>12}")
    for name in ("video02.avi", "video03.avi"):
        path = CLIPS / name
        if not path.is_file():
            print(f"{name}: not present in {CLIPS}, skipped")
            continue
        fps, frames = clip(path)
        best = [float("inf")] * 3
        for _ in range(repeats):
            best[0] = min(best[0], motion_only(frames, fps))
            best[1] = min(best[1], motion_and_tamper(frames, fps))
            best[2] = min(best[2], one_look(frames))
        print(f"{name:12} {best[0] * 1e6:16.1f} {best[1] * 1e6:17.1f} "
              f"{best[1] / best[0]:6.3f} {best[2] * 1e6:12.1f}")


if __name__ == "__main__":
    main()
