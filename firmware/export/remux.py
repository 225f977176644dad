"""One MP4 per camera and window: the segments' H.264 packets copied into one file (issue 13
item 3). Never re-encoded: the pictures are bit for bit the ones recorded. No audio (the
recorder records none; any other stream is left out).

Timestamps: each segment's packets are placed at the segment's own start time relative to the
first segment, so the file's clock runs with the wall clock. A gap between segments (motion-only
recording, a restart) stays a gap in the timeline (the player holds the last picture) and is
listed in `gaps`, which the manifest records.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from firmware.i18n import _

GAP_SLACK = 0.5          # seconds between segments that still count as continuous


class RemuxError(Exception):
    """A segment that cannot be remuxed; the message names it."""


@dataclass
class Remuxed:
    path: Path | BinaryIO
    frames: int = 0
    first: float | None = None        # epoch seconds of the first and last frame
    last: float | None = None
    gaps: list[dict] = field(default_factory=list)   # [{start, end}] epoch seconds
    sources: dict[str, str] = field(default_factory=dict)  # segment id -> SHA-256 as read now
    packets_sha256: str = ""          # SHA-256 over the copied packets' payloads, in order:
    #                                   what `ffmpeg -i F -map 0:v -c copy -f hash -hash sha256 -` says
    segment_packets: dict[str, str] = field(default_factory=dict)   # the same per segment


def remux(segments: list[dict], read: Callable[[str], Iterable[bytes]],
          out: Path | BinaryIO) -> Remuxed:
    """Copy the video packets of `segments` (index rows, oldest first; `read(id)` yields the
    plaintext MP4) into `out`: a path, or an open, seekable file (a file on the stick that
    exportd opened, a memory file), which is left open."""
    import av                            # 25 MB, imported when an export is made
    result = Remuxed(out)
    packets = hashlib.sha256()
    origin = segments[0]["start"]
    previous_end = None
    target = str(out) if isinstance(out, (str, Path)) else out   # a path or an open file
    with av.open(target, "w", format="mp4") as dst:
        ostream = None
        for seg in segments:
            if previous_end is not None and seg["start"] - previous_end > GAP_SLACK:
                result.gaps.append({"start": previous_end, "end": seg["start"]})
            previous_end = seg["end"]
            plain = b"".join(read(seg["id"]))
            result.sources[seg["id"]] = hashlib.sha256(plain).hexdigest()
            data = io.BytesIO(plain)
            try:
                src = av.open(data, "r")
            except av.FFmpegError as exc:
                raise RemuxError(_("segment %(segment)s: not a readable MP4 (%(problem)s)",
                                   segment=seg["id"], problem=exc)) from None
            with src:
                videos = [s for s in src.streams if s.type == "video"]
                if not videos or videos[0].codec_context.name != "h264":
                    raise RemuxError(_("segment %(segment)s: no H.264 video stream",
                                       segment=seg["id"]))
                istream = videos[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                    ostream.time_base = istream.time_base
                tb = istream.time_base
                shift = None
                own = hashlib.sha256()
                for packet in src.demux(istream):
                    if packet.dts is None:           # the flush packet
                        continue
                    if shift is None:                # the segment's first packet at its start
                        shift = round((seg["start"] - origin) / tb) - packet.dts
                    packet.dts += shift
                    packet.pts += shift
                    t = origin + float(packet.pts * tb)
                    result.first = t if result.first is None else min(result.first, t)
                    result.last = t if result.last is None else max(result.last, t)
                    result.frames += 1
                    payload = bytes(packet)
                    packets.update(payload)
                    own.update(payload)
                    packet.stream = ostream
                    dst.mux(packet)
                result.segment_packets[seg["id"]] = own.hexdigest()
    result.packets_sha256 = packets.hexdigest()
    return result
