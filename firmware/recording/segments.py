"""One MP4 segment: H.264 packets muxed into fragmented MP4, streamed to a storage target.

Fragmented MP4 (an empty moov up front, a fragment per keyframe) needs no seeking, so the bytes
can go straight into an encrypting writer, and a reader can play what was written. The file
carries its camera, location, event, start time and time-sync state as tags (R-30). It has
exactly one stream, video; no audio stream is ever created (R-03).
"""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

import av

from firmware import __version__
from firmware.capture.packets import EncodedPacket
from firmware.storage.sink import SegmentMeta, SegmentRecord, SegmentTarget

TIME_BASE = Fraction(1, 90000)
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags"


class _Writer:
    """A write-only file object for PyAV: no seek, so the muxer never goes back."""

    def __init__(self, target: SegmentTarget):
        self.target = target

    def write(self, data) -> int:
        return self.target.write(data)          # copied into a cipher chunk at once


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def segment_tags(meta: SegmentMeta) -> dict[str, str]:
    return {
        "title": f"{meta.camera_name} ({meta.camera_id})",
        "creation_time": meta.start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "nvr_device": meta.device_id,
        "nvr_camera": meta.camera_id,
        "nvr_location": meta.location,
        "nvr_event": meta.event_id,
        "nvr_segment": meta.segment_id,
        "nvr_start": meta.start.isoformat(),
        "nvr_clock_synced": "yes" if meta.clock_synced else "no",
        "encoder": f"nvr-firmware {__version__}",
    }


class SegmentWriter:
    """Muxes packets into one segment. The first packet must be a keyframe.

    Each packet is muxed when the next one arrives, so its duration is the real frame interval
    and the segment's duration is exactly the span of time it covers.
    """

    def __init__(self, target: SegmentTarget, meta: SegmentMeta, width: int, height: int,
                 fps: float):
        self.target, self.meta, self.fps = target, meta, fps
        self.start = meta.start.timestamp()
        self._out = av.open(_Writer(target), "w", format="mp4", options={"movflags": MOVFLAGS})
        self._out.metadata.update(segment_tags(meta))
        # A stream for muxing only: `add_stream` would open a second libx264 encoder per
        # segment (four threads and about 10 MB at 1080p) that never encodes a frame. The
        # muxer takes SPS/PPS from the first keyframe (the encoder repeats them in-band).
        stream = self._out.add_mux_stream("h264", rate=Fraction(fps).limit_denominator(1001),
                                          width=width, height=height)
        stream.time_base = TIME_BASE
        self._stream = stream
        self._held: EncodedPacket | None = None
        self._last_pts = -1
        self.frames = 0

    def write(self, packet: EncodedPacket) -> None:
        held = self._held
        if held is None and self.frames == 0 and not packet.keyframe:
            raise ValueError("a segment must start with a keyframe")
        if held is not None:
            self._mux(held, packet.time - held.time)
        self._held = packet

    def _mux(self, packet: EncodedPacket, duration: float) -> None:
        pts = max(self._last_pts + 1, round((packet.time - self.start) * 90000))
        p = av.Packet(packet.data)
        p.pts = p.dts = pts
        p.duration = max(1, round(duration * 90000))
        p.time_base = TIME_BASE
        p.is_keyframe = packet.keyframe
        p.stream = self._stream
        self._out.mux(p)
        self._last_pts = pts
        self.frames += 1

    def close(self) -> SegmentRecord:
        """Finish the file and commit it; the end is the last frame's time plus its interval."""
        end = self.start
        if self._held is not None:
            end = self._held.time + 1.0 / self.fps
            self._mux(self._held, 1.0 / self.fps)
            self._held = None
        self._out.close()
        return self.target.commit(utc(end), self.frames)

    def abort(self) -> None:
        try:
            self._out.close()
        except (av.FFmpegError, OSError, ValueError):
            pass
        self.target.abort()
