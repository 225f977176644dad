"""The storage sink interface between the recorder and the disk.

The recorder streams a segment's MP4 bytes into a `SegmentTarget` and commits it with its end
time; only a committed segment exists. A target that is aborted, or whose process dies before
commit, leaves nothing that counts as footage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SegmentMeta:
    """What is known when a segment starts (R-30: camera, location, time, time-sync state)."""

    segment_id: str
    event_id: str
    device_id: str
    camera_id: str
    camera_name: str
    location: str
    start: datetime          # UTC, aware
    clock_synced: bool
    # The kernel's view of the clock when the segment began (adjtimex, issue 13 item 3: the
    # manifest states the offset at recording time): the offset still being corrected and the
    # estimated error, in seconds; None where the kernel could not be asked (or an import).
    clock_offset: float | None = None
    clock_error: float | None = None


@dataclass(frozen=True)
class SegmentRecord:
    """A committed segment."""

    meta: SegmentMeta
    end: datetime            # UTC, aware
    frames: int
    bytes: int
    path: Path

    @property
    def duration(self) -> float:
        return (self.end - self.meta.start).total_seconds()


class SegmentTarget(Protocol):
    def write(self, data: bytes) -> int: ...
    def commit(self, end: datetime, frames: int) -> SegmentRecord: ...
    def abort(self) -> None: ...


class SegmentSink(Protocol):
    def begin(self, meta: SegmentMeta) -> SegmentTarget: ...

    def drain(self) -> None:
        """Return once every committed segment is durable."""


class StorageError(Exception):
    """A storage failure the recorder survives: the segment is lost, recording goes on."""
