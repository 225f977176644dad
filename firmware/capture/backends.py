"""Choose the camera backend a camera's `source` names."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.capture.camera import Camera, SoftwareCamera
from firmware.capture.sources import AvSource, SyntheticSource
from firmware.capture.synthetic import demo_scene
from firmware.config import CameraConfig


def open_camera(cam: CameraConfig, tz: ZoneInfo) -> Camera:
    """The live camera for `cam`; picamera2 is imported only when it is asked for."""
    if cam.source == "picamera2":
        from firmware.capture.picam import PiCamera
        return PiCamera(cam, tz)
    if cam.source == "synthetic":
        source = SyntheticSource(demo_scene(cam.width, cam.height, cam.fps),
                                 freeze=Path(cam.freeze_file) if cam.freeze_file else None)
    elif cam.source == "file":
        source = AvSource(cam.path, size=(cam.width, cam.height), loop=cam.loop, realtime=True,
                          max_fps=cam.fps)
    elif cam.source == "v4l2":
        source = AvSource(cam.path, size=(cam.width, cam.height), device_format="v4l2",
                          fps=cam.fps)
    else:
        raise ValueError(f"unknown camera source {cam.source!r}")
    return SoftwareCamera(source, cam, tz)
