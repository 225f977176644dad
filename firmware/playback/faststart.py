"""Move an MP4's index (moov) in front of its media data, in memory.

FFmpeg's own `movflags=faststart` reopens the output file by name for a second pass, which an
in-memory output does not have. The same result by hand: the top-level boxes are reordered and
every chunk offset (stco, co64) is shifted by the size of the moved moov.
"""

from __future__ import annotations

import struct

# Boxes on the path from moov to the chunk offset tables.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(data: bytes | bytearray, start: int, end: int):
    """(type, box start, payload start, box end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"MP4 box {kind!r} at {pos} has a bad size {size}")
        yield kind, pos, pos + header, pos + size
        pos += size


def _shift_offsets(moov: bytearray, start: int, end: int, shift: int) -> None:
    for kind, _, payload, box_end in _boxes(moov, start, end):
        if kind in _CONTAINERS:
            _shift_offsets(moov, payload, box_end, shift)
        elif kind in (b"stco", b"co64"):
            count = struct.unpack_from(">I", moov, payload + 4)[0]
            wide = kind == b"co64"
            fmt, width = (">Q", 8) if wide else (">I", 4)
            for i in range(count):
                at = payload + 8 + i * width
                value = struct.unpack_from(fmt, moov, at)[0] + shift
                if not wide and value > 0xFFFFFFFF:
                    raise ValueError("chunk offset beyond 4 GiB in a 32-bit table")
                struct.pack_into(fmt, moov, at, value)


def faststart(data: bytes) -> bytes:
    """The same MP4 with moov before mdat; unchanged when it is already there."""
    boxes = list(_boxes(data, 0, len(data)))
    kinds = [b[0] for b in boxes]
    if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
        return data
    m = kinds.index(b"moov")
    _, moov_start, moov_payload, moov_end = boxes[m]
    moov = bytearray(data[moov_start:moov_end])
    _shift_offsets(moov, moov_payload - moov_start, len(moov), len(moov))
    first_media = kinds.index(b"mdat")
    head = data[:boxes[first_media][1]]                 # ftyp (and anything before mdat)
    rest = data[boxes[first_media][1]:moov_start] + data[moov_end:]
    return bytes(head) + bytes(moov) + bytes(rest)
