"""The unit that leaves a camera: one encoded H.264 access unit with its capture time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    data: bytes        # Annex B H.264, SPS/PPS in band before every keyframe
    time: float        # capture time of the frame, seconds since the epoch (UTC)
    keyframe: bool
