"""Benchmark: peak memory (VmHWM) of `nvr run` with one 1080p30 camera and 5 s pre-roll.

Runs the real command on the synthetic camera for RUN_SECONDS (the demo scene sends passers-by,
so events open and segments are written), samples /proc, then stops it with SIGINT.
Baselines in the same run:
- imports: a Python process that only imports what the recorder imports (numpy, OpenCV, PyAV);
- encoder: a process that only runs libx264 at 1080p30 on the same frames. A Pi 4 encodes in
  hardware, so this share is a PC cost; the figure the Pi sees is total - encoder + imports.
Goal: under 150 MB. The web interface runs as its own process (started by `nvr run`); its
peak is printed on a line of its own.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_device            # bench/bench_device.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
RUN_SECONDS = 40

CONFIG = bench_device.config("""
name = "Bench"
location = "Bench"
source = "synthetic"
width = 1920
height = 1080
fps = 30
preroll_seconds = 5
postroll_seconds = 10
staff_in_view = false
""")

IMPORTS = ("import numpy, cv2, av, firmware.recording.service, firmware.storage.retention, time; "
           "time.sleep({s})")
ENCODER = """
import time
from firmware.capture.encoder import SoftwareEncoder
from firmware.capture.synthetic import demo_scene
scene = demo_scene(1920, 1080, 30); enc = SoftwareEncoder(1920, 1080, 30, 4000, 1.0)
end = time.time() + {s}; i = 0
while time.time() < end:            # drawn into the encoder's input, as the camera does
    enc.encode(scene.i420(i, enc.input), i / 30); i += 1
"""


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def children_peak_kb(pid: int) -> int:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return max([peak_kb(int(k)) for k in kids] or [0])


CHILD_PEAK: dict[str, int] = {}


def watch(cmd: list[str], seconds: float, stop_signal=None, cwd=ROOT) -> int:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        peak = max(peak, peak_kb(proc.pid))
        CHILD_PEAK[cmd[-1]] = max(CHILD_PEAK.get(cmd[-1], 0), children_peak_kb(proc.pid))
        time.sleep(0.25)
    if proc.poll() is None:
        peak = max(peak, peak_kb(proc.pid))
        proc.send_signal(stop_signal or signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    if proc.returncode not in (0, -signal.SIGTERM):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return peak


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "data").mkdir()
        (Path(d) / "keys").mkdir()
        (Path(d) / "nvr.toml").write_text(CONFIG)
        total = watch([sys.executable, "-m", "firmware.cli", "--config", f"{d}/nvr.toml",
                       "run"], RUN_SECONDS, signal.SIGINT)
        segments = list((Path(d) / "data").rglob("*.seg"))
    imports = watch([sys.executable, "-c", IMPORTS.format(s=5)], 4)
    encoder = watch([sys.executable, "-c", ENCODER.format(s=15)], 20)
    print(f"nvr run, 1080p30 synthetic camera, 5 s pre-roll, {RUN_SECONDS} s, "
          f"{len(segments)} segment(s) written")
    print(f"{'process':44} {'peak MB':>8} {'ratio to imports':>17}")
    for name, kb in (("nvr run (total)", total), ("baseline: imports only", imports),
                     ("baseline: libx264 1080p30 alone", encoder)):
        print(f"{name:44} {kb / 1024:8.1f} {kb / imports:17.2f}")
    pi = total - encoder + imports
    print(f"{'estimate with a hardware encoder (Pi 4)':44} {pi / 1024:8.1f} {pi / imports:17.2f}")
    web = CHILD_PEAK.get("run", 0)
    print(f"{'web interface (its own process, idle)':44} {web / 1024:8.1f} {web / imports:17.2f}")
    print("goal: under 150 MB")


if __name__ == "__main__":
    main()
