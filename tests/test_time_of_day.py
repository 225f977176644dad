"""The suite does not depend on the hour it runs at (docs/testing.md): a few tests that once failed
when a run crossed local midnight run again in a pytest subprocess whose clock libfaketime moved
to 00:05 on the device's calendar (Europe/Amsterdam), so the footage their fixtures record "20
minutes ago" lies on yesterday's timeline, on a machine whose own zone is Pacific/Auckland (the
machine's zone must not be taken for the device's)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import ROOT

# Tests that asked the clock for the device's day (CI, 2026-11-29, a run across 00:00 CET):
# the CLI, the Flask test client and real SQLite, no browser.
ACROSS_MIDNIGHT = (
    "tests/test_erasure.py::test_web_playback_of_a_due_slot_is_gone_before_any_sweep_item4",
    "tests/test_web_api.py::test_a_playback_window_is_narrowed_by_from_and_to",
    "tests/test_web_api.py::test_a_visit_sees_only_its_cameras_and_window_R11",
    "tests/test_documents.py::test_art9_declaration_before_the_export_lists_no_encrypted_file_R62",
    "tests/test_documents.py::test_report_for_the_dpia_and_the_dpo_R83",
)


def libfaketime() -> str:
    """The libfaketime library of this machine's architecture (Debian package faketime)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.skip("libfaketime is not installed: apt-get install faketime "
                    "(debian-packages.txt lists it)")
    return found[0]


def clock_offset(local: datetime) -> str:
    """FAKETIME for a clock that reads `local` now and goes on ticking: an offset from the real
    clock, which every child process (`nvr`) shares, unlike a start time, which each new
    process would start again from."""
    seconds = int(local.timestamp() - datetime.now(timezone.utc).timestamp())
    return f"{seconds:+d}s"


def next_device_midnight(zone: ZoneInfo) -> datetime:
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)


def test_the_device_day_is_taken_from_the_footage_across_local_midnight():
    lib = libfaketime()
    at = next_device_midnight(ZoneInfo("Europe/Amsterdam")) + timedelta(minutes=5)
    env = {**os.environ, "LD_PRELOAD": lib, "FAKETIME": clock_offset(at),
           "TZ": "Pacific/Auckland", "PYTHONPATH": str(ROOT / "tests")}
    # exit_at_once: under libfaketime the interpreter's shutdown can hang after the results.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "exit_at_once", *ACROSS_MIDNIGHT], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(ACROSS_MIDNIGHT)} passed" in run.stdout, run.stdout[-2000:]
