"""The recorder process: one thread per camera, each turning frames into stored segments."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

from firmware.capture.backends import open_camera
from firmware.capture.camera import Camera
from firmware.capture.motion import MotionDetector
from firmware.capture.tamper import AlarmStore, TamperWatch
from firmware.config import CameraConfig, Config
from firmware.governance.introduction import refusals
from firmware.live.hub import LiveHub
from firmware.live.tap import LiveTap
from firmware.recording.recorder import CameraIdentity, Event, EventRecorder
from firmware.storage.sink import SegmentSink

log = logging.getLogger(__name__)


def make_recorder(cfg: Config, cam: CameraConfig, camera: Camera, sink: SegmentSink,
                  on_event: Callable[[Event], None] | None = None,
                  clock_synced: Callable[[], bool] | None = None,
                  alarms: AlarmStore | None = None,
                  unclean_start: bool = False) -> EventRecorder:
    """The recorder of one camera; with `alarms` (the store, for a live camera, not for a
    file being ingested) its picture is watched for tampering too (`unclean_start`: the
    recorder before ended uncleanly, capture/tamper.py TamperWatch)."""
    lw, lh = camera.lores_size
    m = cam.motion
    detector = MotionDetector(lw, lh, threshold=m.threshold, min_area=m.min_area,
                              trigger_frames=m.trigger_frames, zones=m.zones, ignore=m.ignore)
    identity = CameraIdentity(cfg.device.id, cam.id, cam.name, cam.location)
    # An ingested file's times are asserted, not measured: neither synced nor a kernel offset.
    extra = {"clock_synced": clock_synced, "kernel_clock": lambda: None} if clock_synced else {}
    if alarms is not None:                  # a live camera: tamper alarms go to the index
        extra["tamper"] = TamperWatch(cam.id, lw, lh, alarms,
                                      unclean_start=unclean_start).feed
    return EventRecorder(identity, detector, sink, width=camera.width, height=camera.height,
                         fps=camera.fps, preroll=cam.preroll_seconds,
                         postroll=cam.postroll_seconds,
                         segment_seconds=cfg.storage.segment_seconds, on_event=on_event, **extra)


class CameraWorker(threading.Thread):
    def __init__(self, cam: CameraConfig, camera: Camera, recorder: EventRecorder,
                 stop: threading.Event):
        super().__init__(name=f"camera-{cam.id}", daemon=True)
        self.cam, self.camera, self.recorder, self.stop_event = cam, camera, recorder, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.camera.run(self.recorder, self.stop_event)
        except Exception as exc:      # one failing camera must not take the others down
            self.error = exc
            log.exception("camera %s stopped: %s", self.cam.id, exc)
        finally:
            self.recorder.close()


class RecorderService:
    """Starts a worker per camera that may record and the live socket (with `live=True`);
    `stop()` closes every open segment. `unclean_start`: the recorder before ended uncleanly
    (storage/restarts.py), which keeps some tamper alarms raised (capture/tamper.py)."""

    def __init__(self, cfg: Config, sink: SegmentSink, *, live: bool = True,
                 unclean_start: bool = False):
        self.cfg, self.sink, self.unclean_start = cfg, sink, unclean_start
        self.stop_event = threading.Event()
        self.workers: list[CameraWorker] = []
        self.refused: dict[str, str] = {}
        self.taps: dict[str, LiveTap] = {}
        self.hub = LiveHub(cfg.live_socket, self.taps, self.status) if live else None

    def start(self) -> None:
        tz = ZoneInfo(self.cfg.device.timezone)
        refused = refusals(self.cfg)                # the DPIA, art. 11
        for cam in self.cfg.cameras:
            if cam.id in refused:
                self.refused[cam.id] = refused[cam.id].message
                log.warning("camera %s does not record: %s", cam.id, refused[cam.id].message)
                continue
            camera = open_camera(cam, tz)
            if self.hub is not None:
                camera.live = self.taps[cam.id] = LiveTap(
                    cam.id, camera.width, camera.height, fps=self.cfg.web.live_fps,
                    live_width=self.cfg.web.live_width)
            alarms = self.sink if hasattr(self.sink, "raise_alarm") else None
            recorder = make_recorder(self.cfg, cam, camera, self.sink, alarms=alarms,
                                     unclean_start=self.unclean_start)
            worker = CameraWorker(cam, camera, recorder, self.stop_event)
            self.workers.append(worker)
            worker.start()
            log.info("camera %s (%s) records %dx%d at %g fps", cam.id, cam.source,
                     camera.width, camera.height, camera.fps)
        if self.hub is not None:
            self.hub.start()

    def status(self) -> dict:
        """Per camera: recording or why not, frames seen, live viewers (for the system page),
        and whether its segments hang on the way to the disk: a write or index commit of the
        store running longer than the watchdog's bound (issue 12 item 3, /readyz `writes`)."""
        from firmware.recording.watchdog import WRITE_BOUND
        hung = self.sink.writer_hung(WRITE_BOUND) if hasattr(self.sink, "writer_hung") else ""
        out = {cam_id: {"state": "refused", "why": why} for cam_id, why in self.refused.items()}
        for w in self.workers:
            written = getattr(self.sink, "written_by_camera", {}).get(w.cam.id, (0, 0))
            out[w.cam.id] = {
                "state": "recording" if w.is_alive() else "stopped",
                "why": str(w.error) if w.error else "",
                "frames": getattr(w.camera, "frames", None),
                "last_frame": w.recorder.last_frame,
                # segments lost: the recorder could not begin one, or the store could not keep it
                "storage_error": getattr(w.recorder, "failure", "")
                or getattr(self.sink, "failing", {}).get(w.cam.id, ""),
                "viewers": self.taps[w.cam.id].viewers if w.cam.id in self.taps else 0,
                # counted since the recorder started (/metrics)
                "segments_lost": w.recorder.segments_lost
                + getattr(self.sink, "lost_by_camera", {}).get(w.cam.id, 0),
                "frames_dropped": w.recorder.frames_dropped,
                "segments_written": written[0], "bytes_written": written[1],
                "writes_hung": bool(hung), "write_bound": WRITE_BOUND}
        return out

    def alive(self) -> bool:
        return any(w.is_alive() for w in self.workers)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for w in self.workers:
            w.join(timeout)
        if self.hub is not None:
            self.hub.stop()
