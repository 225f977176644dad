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
