"""Hardware seams: picamera2 is imported by its adapter only, and fails with advice on a PC."""

from __future__ import annotations

import ast
import importlib.util

import pytest

from firmware.config import parse

from conftest import ROOT


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("hardware,importers", [
    ("picamera2", ["firmware/capture/picam.py"]),   # the adapter, and nothing else
    ("libcamera", []),                              # reached only through picamera2
    ("gpiozero", ["firmware/system/gpio.py"]),      # issue 12 item 4
    ("lgpio", []),                                  # reached only through gpiozero
])
def test_hardware_library_is_imported_only_in_its_adapter(hardware, importers):
    users = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "firmware").rglob("*.py")
                   if any(m.split(".")[0] == hardware for m in imported_modules(p)))
    assert users == importers


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None,
                    reason="picamera2 is installed here (a Pi): the PC error path does not apply")
def test_picamera2_source_on_a_pc_says_what_to_do(tmp_path):
    from firmware.capture.backends import open_camera
    from firmware.capture.picam import CameraUnavailable
    cfg = parse('[device]\nid = "d"\n[[cameras]]\nid = "c"\nname = "C"\nlocation = "L"\n'
                'source = "picamera2"\nstaff_in_view = false\n', "x", tmp_path)
    with pytest.raises(CameraUnavailable) as info:
        open_camera(cfg.cameras[0], None)
    assert "python3-picamera2" in str(info.value) and "synthetic" in str(info.value)


def test_a_file_faster_than_the_camera_rate_is_taken_at_that_rate():
    """video03.avi is 60 fps with out-of-order timestamps; a camera set to 30 fps delivers
    every other frame, evenly spaced, also across the loop."""
    import threading
    from firmware.capture.sources import AvSource
    from conftest import VIDEO03, shared_clip
    source = AvSource(shared_clip(VIDEO03), size=(160, 120), max_fps=30, loop=True, start=0.0)
    assert source.fps == 30.0
    stop = threading.Event()
    times = []
    for _, t in source.frames(stop):
        times.append(t)
        if len(times) == 900:                       # 850 per pass: crosses the loop
            break
    gaps = {round(b - a, 4) for a, b in zip(times, times[1:])}
    assert gaps == {round(1 / 30, 4)}
