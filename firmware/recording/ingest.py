"""`nvr ingest`: run the whole pipeline on a video file as if it were the camera."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.capture.camera import SoftwareCamera
from firmware.capture.sources import AvSource
from firmware.config import Config, ConfigError
from firmware.governance.introduction import refusal
from firmware.recording.recorder import Event
from firmware.recording.service import make_recorder
from firmware.storage.sink import SegmentSink, StorageError

FUTURE_SLACK = 300.0        # seconds a start may lie ahead of the clock (clock drift)


def ingest(cfg: Config, camera_id: str, video: Path, sink: SegmentSink, *, start: float | None,
           realtime: bool = False) -> dict:
    """Record `video` through camera `camera_id`'s masks, caption, motion and event settings.

    The file keeps its own size and frame rate; times start at `start` (epoch seconds, default
    now). Timestamps are asserted, not measured, so segments are marked as not clock-synced.
    """
    cam = cfg.camera(camera_id)
    refused = refusal(cfg, cam)                    # the DPIA, art. 11
    if refused:
        raise ConfigError(str(cfg.source), [f"camera '{cam.id}' may not record: "
                                            f"{refused.message}"])
    if start is not None and start > time.time() + FUTURE_SLACK:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(start))
        raise StorageError(f"--start lies in the future ({when}): footage is recorded now or "
                           "earlier; a start in the future would make the store erase by it "
                           "(R-40)")
    source = AvSource(video, realtime=realtime, start=time.time() if start is None else start)
    camera = SoftwareCamera(source, cam, ZoneInfo(cfg.device.timezone))
    events: list[Event] = []
    recorder = make_recorder(cfg, cam, camera, sink, on_event=events.append,
                             clock_synced=lambda: False)
    lost_before = getattr(sink, "lost_segments", 0)
    try:
        camera.run(recorder, threading.Event())
    finally:
        recorder.close()
        sink.drain()
    lost_writing = getattr(sink, "lost_segments", 0) - lost_before
    segments = [s for e in events for s in e.segments]
    return {
        "camera": cam.id,
        "video": str(video),
        "frames": camera.frames,
        "width": camera.width,
        "height": camera.height,
        "fps": camera.fps,
        "events": [e.to_json() for e in events],
        "segments": len(segments),
        "bytes": sum(s.bytes for s in segments),
        "lost_segments": sum(e.lost_segments for e in events) + lost_writing,
    }
