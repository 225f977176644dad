"""Motion-triggered recording for one camera (R-31).

Encoded packets wait in a RAM ring that always starts at a keyframe and spans at least the
pre-roll. Motion opens an event: the ring is written out, then every packet until the post-roll
has passed without motion. Motion within the post-roll extends the event, so overlapping events
merge. Events are cut into segments at the first keyframe after `segment_seconds`. Footage
outside events never leaves RAM.

`on_lores` and `on_packet` may run on different threads (picamera2's encoder calls back on its
own): they share only `last_motion`, a float written by one and read by the other.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np

from firmware.capture.motion import MotionDetector
from firmware.ids import time_ordered_id
from firmware.capture.packets import EncodedPacket
from firmware.recording.segments import SegmentWriter, utc
from firmware.storage.sink import SegmentMeta, SegmentRecord, SegmentSink, StorageError
from firmware.system.clock import KernelClock, clock_synchronised, kernel_clock

log = logging.getLogger(__name__)


@dataclass
class Event:
    id: str
    camera_id: str
    start: float                       # epoch seconds of the first frame (pre-roll included)
    end: float | None = None           # epoch seconds after the last frame
    segments: list[SegmentRecord] = field(default_factory=list)
    lost_segments: int = 0

    def to_json(self) -> dict:
        return {"id": self.id, "camera": self.camera_id, "start": utc(self.start).isoformat(),
                "end": utc(self.end).isoformat() if self.end is not None else None,
                "segments": len(self.segments), "lost_segments": self.lost_segments}


@dataclass(frozen=True)
class CameraIdentity:
    device_id: str
    camera_id: str
    camera_name: str
    location: str


class EventRecorder:
    def __init__(self, identity: CameraIdentity, detector: MotionDetector, sink: SegmentSink, *,
                 width: int, height: int, fps: float, preroll: float, postroll: float,
                 segment_seconds: float,
                 clock_synced: Callable[[], bool] = clock_synchronised,
                 kernel_clock: Callable[[], KernelClock | None] = kernel_clock,
                 on_event: Callable[[Event], None] | None = None,
                 tamper: Callable[[np.ndarray, float], None] | None = None):
        self.identity, self.detector, self.sink = identity, detector, sink
        self.width, self.height, self.fps = width, height, fps
        self.preroll, self.postroll, self.segment_seconds = preroll, postroll, segment_seconds
        self.clock_synced, self.on_event = clock_synced, on_event
        self.kernel_clock = kernel_clock
        self.tamper = tamper            # sees the lores luma too (capture/tamper.py)
        self._ring: deque[EncodedPacket] = deque()
        self._ring_keys: deque[float] = deque()     # times of the keyframes in the ring
        self.last_motion = -math.inf
        self.last_frame: float | None = None       # time of the newest lores frame (health)
        self._closed_at = -math.inf
        self.event: Event | None = None
        self._writer: SegmentWriter | None = None
        self._last_packet: EncodedPacket | None = None
        self._failing = False
        self.failure = ""                # why the last segment was lost, until one begins again
        # For /metrics, through the status: segments lost here, and frames the camera did not
        # deliver (a gap of more than 1.5 frame intervals between two packets).
        self.segments_lost = 0
        self.frames_dropped = 0
        self._packet_time = math.inf
        self._frame_gap = 1.5 / fps

    # --- motion (lores thread) ------------------------------------------------------------

    def on_lores(self, luma: np.ndarray, t: float) -> None:
        self.last_frame = t
        if self.detector.detect(luma).motion:
            self.last_motion = t
        if self.tamper is not None:
            self.tamper(luma, t)

    # --- packets (encoder thread) ---------------------------------------------------------

    def on_packet(self, packet: EncodedPacket) -> None:
        gap, self._packet_time = packet.time - self._packet_time, packet.time
        if gap > self._frame_gap:
            self.frames_dropped += round(gap * self.fps) - 1
        if self.event is None:
            self._buffer(packet)
            if self.last_motion > self._closed_at and self._ring:
                self._open()
            return
        if packet.time > self.last_motion + self.postroll:
            self._close_event()
            self._buffer(packet)
            return
        self._write(packet)

    def _buffer(self, packet: EncodedPacket) -> None:
        ring, keys = self._ring, self._ring_keys
        if packet.keyframe:
            keys.append(packet.time)
        elif not ring:
            return                      # a ring starts at a keyframe
        ring.append(packet)
        horizon = packet.time - self.preroll
        while len(keys) >= 2 and keys[1] <= horizon:
            keys.popleft()
            while ring[0].time < keys[0]:
                ring.popleft()

    def _open(self) -> None:
        first = self._ring[0]
        self.event = Event(time_ordered_id(first.time), self.identity.camera_id, first.time)
        log.info("camera %s: event %s opens at %s", self.identity.camera_id, self.event.id,
                 utc(first.time).isoformat())
        ring = self._ring
        self._ring, self._ring_keys = deque(), deque()
        while ring:                      # pop as we go: each packet is freed once muxed
            self._write(ring.popleft())

    def _write(self, packet: EncodedPacket) -> None:
        writer = self._writer
        if writer is not None and packet.keyframe and \
                packet.time - writer.start >= self.segment_seconds:
            self._finish_segment()
            writer = None
        if writer is None:
            if not packet.keyframe:
                return                  # after a storage error: resume at the next keyframe
            writer = self._writer = self._begin_segment(packet.time)
            if writer is None:
                return
        try:
            writer.write(packet)
            self._last_packet = packet
        except (OSError, av.FFmpegError, StorageError) as exc:
            self._fail(exc)

    def _begin_segment(self, start: float) -> SegmentWriter | None:
        ident, event = self.identity, self.event
        kernel = self.kernel_clock()             # one adjtimex(2) per segment, not per frame
        meta = SegmentMeta(time_ordered_id(start), event.id, ident.device_id, ident.camera_id,
                           ident.camera_name, ident.location, utc(start), self.clock_synced(),
                           kernel.offset if kernel else None,
                           kernel.est_error if kernel else None)
        try:
            target = self.sink.begin(meta)
            writer = SegmentWriter(target, meta, self.width, self.height, self.fps)
            if self._failing:
                self._failing = False
                self.failure = ""
                log.warning("camera %s: storage works again, recording resumes",
                            self.identity.camera_id)
            return writer
        except (OSError, av.FFmpegError, StorageError) as exc:
            self._fail(exc)
            return None

    def _finish_segment(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            self.event.segments.append(writer.close())
        except (OSError, av.FFmpegError, StorageError) as exc:
            self._writer = writer
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        """A storage error loses the segment being written, never the recorder."""
        self.segments_lost += 1
        if self.event is not None:
            self.event.lost_segments += 1
        if not self._failing:          # once per outage, not once per keyframe
            log.error("camera %s: segment lost, storage failed: %s", self.identity.camera_id,
                      exc)
        self._failing = True
        self.failure = str(exc)         # the recorder's status says it (/readyz, R-42)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()

    def _close_event(self) -> None:
        event = self.event
        self._finish_segment()
        last = self._last_packet
        event.end = last.time + 1.0 / self.fps if last else event.start
        self._closed_at = event.end
        self.event = None
        log.info("camera %s: event %s closes at %s with %d segment(s)", event.camera_id,
                 event.id, utc(event.end).isoformat(), len(event.segments))
        if self.on_event:
            self.on_event(event)

    def close(self) -> None:
        """Stop: close the open event and segment, drop the pre-roll ring."""
        if self.event is not None:
            self._close_event()
        self._ring.clear()
        self._ring_keys.clear()
