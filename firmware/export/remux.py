"""One MP4 per camera and window: the segments' H.264 packets copied into one file (issue 13
item 3). Never re-encoded: the pictures are bit for bit the ones recorded. No audio (the
recorder records none; any other stream is left out).

Timestamps: each segment's packets are placed at the segment's own start time relative to the
first segment, so the file's clock runs with the wall clock. A gap between segments (motion-only
recording, a restart) stays a gap in the timeline (the player holds the last picture) and is
listed in `gaps`, which the manifest records.

The window: the MP4 ends with the last frame at or before the window's end (R-60: nothing after
the authorised end leaves the building). Cutting the tail needs no re-encoding: the copy stops
at the first packet, in decoding order, shown after the end, so every packet kept has what it
refers to. The head is not cut (that would need re-encoding or a start before a keyframe): the
first segment is whole. Time in the window without footage, before, between and after the
segments, is listed in `gaps`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from firmware.i18n import _

GAP_SLACK = 0.5          # seconds between segments that still count as continuous
PROBE = {"probesize": "32", "analyzeduration": "0"}   # read the header, decode no frames


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hash_packets(payloads: list[bytes], total) -> str:
    """Add a segment's packets to the whole video's hash `total`; return the segment's own."""
    own = hashlib.sha256()
    for payload in payloads:
        total.update(payload)
        own.update(payload)
    return own.hexdigest()


def remux(segments: list[dict], read: Callable[[str], Iterable[bytes]],
          out: Path | BinaryIO, start: float | None = None,
          end: float | None = None) -> Remuxed:
    """Copy the video packets of `segments` (index rows, oldest first; `read(id)` yields the
    plaintext MP4) into `out`: a path, or an open, seekable file (a file on the stick that
    exportd opened, a memory file), which is left open.

    The three hashes (each segment's plaintext, its packets, all packets) are computed in one
    helper thread while the next segment is decrypted and remuxed: hashlib releases the GIL on
    large buffers, so they cost little wall time beside the remux (bench/export.py). At most
    one segment waits for its hashes, so memory holds at most two segments' plaintext and
    packets. With `start` and `end` (the window), no frame after `end` is copied and the
    window's time without footage is listed in `gaps`."""
    import av                            # 25 MB, imported when an export is made
    result = Remuxed(out)
    packets = hashlib.sha256()
    origin = segments[0]["start"]
    previous_end = start if start is not None and start < origin else None
    waiting: tuple | None = None         # (segment id, plaintext hash, packets hash) futures
    limit = None if end is None else end - origin     # seconds after origin: the last frame
    cut = False

    def collect(done: tuple | None) -> None:
        if done is not None:
            result.sources[done[0]] = done[1].result()
            result.segment_packets[done[0]] = done[2].result()

    target = str(out) if isinstance(out, (str, Path)) else out   # a path or an open file
    with ThreadPoolExecutor(1, thread_name_prefix="export-hash") as hasher, \
            av.open(target, "w", format="mp4") as dst:
        ostream = None
        for seg in segments:
            if cut:                          # past the window's end: nothing more is copied
                break
            if previous_end is not None and seg["start"] - previous_end > GAP_SLACK:
                result.gaps.append({"start": previous_end, "end": seg["start"]})
            previous_end = seg["end"]
            plain = b"".join(read(seg["id"]))
            source = hasher.submit(_sha256, plain)
            data = io.BytesIO(plain)
            try:
                # The MP4's header names the stream; probing frames (the default) cost 10-35
                # ms a segment and tells nothing more (bench/export.py).
                src = av.open(data, "r", format="mp4", options=PROBE)
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
                seconds = float(tb)                  # per packet: no Fraction arithmetic
                shift = None
                payloads = []
                low = high = None
                for packet in src.demux(istream):
                    if packet.dts is None:           # the flush packet
                        continue
                    if shift is None:                # the segment's first packet at its start
                        shift = round((seg["start"] - origin) / tb) - packet.dts
                    if limit is not None and (packet.pts + shift) * seconds > limit + 1e-6:
                        cut = True               # shown after the window's end
                        break
                    packet.dts += shift
                    pts = packet.pts = packet.pts + shift
                    low = pts if low is None or pts < low else low
                    high = pts if high is None or pts > high else high
                    result.frames += 1
                    payloads.append(bytes(packet))   # muxing takes the packet's data
                    packet.stream = ostream
                    dst.mux(packet)
                if low is not None:
                    first, last = origin + low * seconds, origin + high * seconds
                    result.first = first if result.first is None else min(result.first, first)
                    result.last = last if result.last is None else max(result.last, last)
            own = hasher.submit(_hash_packets, payloads, packets)
            collect(waiting)
            waiting = (seg["id"], source, own)
        collect(waiting)
    if end is not None and previous_end is not None and end - previous_end > GAP_SLACK:
        result.gaps.append({"start": previous_end, "end": end})
    result.packets_sha256 = packets.hexdigest()
    return result
