"""Benchmark: CPU cost of everything after the encoder, per second of 1080p30 video.

Pre-encoded 1080p30 packets (libx264, made once before timing) are fed to the event recorder:
pre-roll ring, event windows, MP4 muxing and the directory sink with its fsyncs, with motion
all the time (every packet is written: the worst case) and with no motion (everything stays in
the ring). Baseline in the same run: writing the same bytes to files of the same segment length
with the same fsync policy, nothing else. Goal: under 5 % of one core.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.capture.encoder import SoftwareEncoder  # noqa: E402
from firmware.capture.motion import MotionResult  # noqa: E402
from firmware.capture.synthetic import demo_scene  # noqa: E402
from firmware.recording.recorder import CameraIdentity, EventRecorder  # noqa: E402
from firmware.storage.keys import FileKeyProvider  # noqa: E402
from firmware.storage.store import EncryptedStore  # noqa: E402

W, H, FPS, SECONDS, SEGMENT = 1920, 1080, 30, 30, 10.0
# Hour-aligned, two hours ago: the store refuses footage from the future.
T0 = float(int(time.time()) // 3600 * 3600 - 2 * 3600)


class Always:
    def __init__(self, motion: bool):
        self.result = MotionResult(motion, 0.0)

    def detect(self, luma):
        return self.result


def encode():
    scene = demo_scene(W, H, FPS)
    enc = SoftwareEncoder(W, H, FPS, 6000, 1.0)
    buf = np.empty((H * 3 // 2, W), np.uint8)
    packets = []
    for i in range(FPS * SECONDS):
        packets += enc.encode(scene.i420(i, buf), T0 + i / FPS)
    return packets + enc.flush()


def run_recorder(packets, motion: bool, root: Path) -> float:
    store = EncryptedStore(root / "data", "dev", FileKeyProvider(root / "keys"),
                           retention_days=28, high_water_percent=99)
    rec = EventRecorder(CameraIdentity("dev", "cam", "Cam", "Hal"), Always(motion), store,
                        width=W, height=H, fps=FPS, preroll=5.0, postroll=10.0,
                        segment_seconds=SEGMENT, clock_synced=lambda: True)
    cpu = time.process_time()            # all threads: the store's writer thread included
    for p in packets:
        rec.on_lores(None, p.time)
        rec.on_packet(p)
    rec.close()
    store.drain()
    used = time.process_time() - cpu
    store.close()
    return used


def run_plain(packets, root: Path) -> float:
    cpu = time.process_time()
    f = None
    start = None
    n = 0
    for p in packets:
        if f is None or (p.keyframe and p.time - start >= SEGMENT):
            if f:
                f.flush()
                os.fsync(f.fileno())
                f.close()
            f = open(root / f"plain{n}.bin", "wb")
            n += 1
            start = p.time
        f.write(p.data)
    f.flush()
    os.fsync(f.fileno())
    f.close()
    return time.process_time() - cpu


def main() -> None:
    print(f"encoding {SECONDS} s of {W}x{H} at {FPS} fps once (not timed) ...", flush=True)
    packets = encode()
    mb = sum(len(p.data) for p in packets) / 1e6
    print(f"{len(packets)} packets, {mb:.1f} MB ({mb * 8 / SECONDS:.1f} Mbit/s)")
    best = {"recorder, motion all the time": 1e9, "recorder, no motion": 1e9,
            "baseline: plain write + fsync": 1e9}
    for _ in range(5):
        with tempfile.TemporaryDirectory() as d:
            best["recorder, motion all the time"] = min(best["recorder, motion all the time"],
                                                       run_recorder(packets, True, Path(d)))
        with tempfile.TemporaryDirectory() as d:
            best["recorder, no motion"] = min(best["recorder, no motion"],
                                             run_recorder(packets, False, Path(d)))
        with tempfile.TemporaryDirectory() as d:
            best["baseline: plain write + fsync"] = min(best["baseline: plain write + fsync"],
                                                       run_plain(packets, Path(d)))
    base = best["baseline: plain write + fsync"]
    print(f"{'path':32} {'CPU s / video s':>16} {'% of one core':>14} {'ratio to baseline':>18}")
    for name, cpu in best.items():
        per = cpu / SECONDS
        print(f"{name:32} {per:16.5f} {per * 100:13.2f}% {cpu / base:18.2f}")
    print("goal: under 5 % of one core for the recorder")


if __name__ == "__main__":
    main()
