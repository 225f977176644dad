"""Red team of issue 12: can a camera stall unnoticed by the central room (monitoring/,
firmware/system/metrics.py)?

A camera that has delivered no frame since the recorder started (unplugged at boot, a driver
that hangs before its first buffer) is exported as `nvr_camera_recording 1` (its thread runs)
without any `nvr_camera_last_frame_age_seconds` (there is no last frame). NvrCameraDown looked
for `recording == 0` or an age above 30 s, so it never fired; the recorder, never READY,
is stopped by systemd's start timeout with SIGTERM, a clean stop that is not counted as a
restart either, and starts again: nothing told the central room, only /readyz (which no alert
reads) said "camera cam delivered no frame". Written first; it failed on those rules."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from firmware.config import load
from firmware.web import create_app

from conftest import ROOT, staff, write_config
from test_metrics import PROMTOOL, scrape, token_for

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is missing: apt-get install prometheus "
                             "(debian-packages.txt)")

CAMERA_NEVER_DELIVERED = """
rule_files:
  - {rules}
evaluation_interval: 1m
tests:
  - name: a camera that never delivered a frame since the recorder started
    interval: 1m
    input_series:
      - series: 'nvr_recorder_up{{job="nvr", instance="soest-1"}}'
        values: '{up}x10'
      - series: 'nvr_camera_recording{{job="nvr", instance="soest-1", camera="cam"}}'
        values: '{recording}x10'
    alert_rule_test:
      - eval_time: 4m
        alertname: NvrCameraDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: nvr, instance: soest-1, camera: cam}}
            exp_annotations:
              summary: "soest-1: camera cam levert geen beeld"
              runbook: "docs/operations.md#nvrcameradown"
"""


@needs_promtool
def test_a_camera_that_never_delivered_a_frame_raises_nvr_camera_down(tmp_path):
    # What a real recorder exports while its camera has delivered nothing yet.
    freeze = tmp_path / "freeze"
    freeze.touch()                                   # frozen from the start: no frame comes
    config = write_config(tmp_path, camera_extra=f'freeze_file = "{freeze}"')
    staff(config)
    token = token_for(config)
    recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run", "--no-web"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        for line in recorder.stdout:
            if line.startswith("recording "):
                break
        app = create_app(load(config))
        deadline = time.monotonic() + 60
        while True:
            found = scrape(app, token)
            if found.get(("nvr_recorder_up",)) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        recorder.terminate()
        recorder.communicate(timeout=60)
    up = found[("nvr_recorder_up",)]
    recording = found[("nvr_camera_recording", ("camera", "cam"))]
    assert (up, recording) == (1, 1), found
    assert ("nvr_camera_last_frame_age_seconds", ("camera", "cam")) not in found

    # Those series for four minutes: the central room must hear of it.
    test = tmp_path / "never.test.yml"
    test.write_text(CAMERA_NEVER_DELIVERED.format(rules=ROOT / "monitoring" / "nvr-alerts.yml",
                                                  up=int(up), recording=int(recording)))
    result = subprocess.run([PROMTOOL, "test", "rules", str(test)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


COVERED_FOR_A_WHILE = """
rule_files:
  - {rules}
evaluation_interval: 15s
tests:
  - name: a camera covered for three quarters of a minute during a break-in
    interval: 15s
    input_series:
      - series: 'nvr_tamper{{job="nvr", instance="soest-1", source="camera", camera="cam"}}'
        values: '{values}'
    alert_rule_test:
      - eval_time: {when}
        alertname: NvrCameraTampered
        exp_alerts:
          - exp_labels: {{severity: critical, job: nvr, instance: soest-1, source: camera, camera: cam}}
            exp_annotations:
              summary: "soest-1: camera cam is afgedekt, verblind, onscherp, bevroren of weggedraaid"
              runbook: "docs/operations.md#nvrcameratampered"
"""


@needs_promtool
def test_a_camera_covered_for_45_seconds_reaches_the_central_room_R82(tmp_path):
    """The detector raises `dark` after its 5 s hold and clears it 5 s after the cover is
    gone; the central room scrapes every 15 s. NvrCameraTampered waited `for: 1m` on top of
    the detector's own hold, so a lens covered for 45 s (long enough for a break-in) raised
    an alarm in the index that no alert ever reported, and camera tamper alarms leave no
    logbook entry. The pipeline here is real: the detector, the index, the /metrics
    collector, promtool on the rules."""
    import numpy as np
    from prometheus_client import generate_latest
    from firmware.capture.tamper import TamperWatch
    from firmware.system.metrics import registry
    from test_metrics import samples
    from conftest import make_store

    cfg = load(write_config(tmp_path))
    store = make_store(tmp_path)
    reg = registry(cfg, store, status=lambda path: None)
    watch = TamperWatch("cam", 320, 240, store)
    rng = np.random.default_rng(3)
    scene = rng.integers(40, 200, (240, 320)).astype(np.float32)
    black = np.full((240, 320), 12, np.uint8)
    series = []
    fps = 25
    for i in range(fps * 120):                       # two minutes; covered from 30 s to 75 s
        t = i / fps
        covered = 30 <= t < 75
        frame = black if covered else np.clip(scene + rng.normal(0, 2.5, scene.shape), 0,
                                              255).astype(np.uint8)
        watch.feed(frame, t)
        if i % (fps * 15) == fps * 15 - 1:           # a scrape every 15 s
            found = samples(generate_latest(reg).decode())
            series.append(int(found[("nvr_tamper", ("camera", "cam"), ("source", "camera"))]))
    store.close()
    assert 1 in series, series                        # the index had the alarm at a scrape
    when = (series.index(1) + 1) * 15                 # a moment the alert must be firing
    test = tmp_path / "covered.test.yml"
    test.write_text(COVERED_FOR_A_WHILE.format(
        rules=ROOT / "monitoring" / "nvr-alerts.yml", values=" ".join(map(str, series)),
        when=f"{when}s"))
    result = subprocess.run([PROMTOOL, "test", "rules", str(test)], capture_output=True,
                            text=True)
    assert result.returncode == 0, f"series {series}\n" + result.stdout + result.stderr
