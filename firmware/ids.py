"""Identifiers that sort by time (the layout of UUIDv7: 48 bits of milliseconds, then random).

Segments and events get such ids so that the rows of one hour sit together in the index: a
retention sweep then touches a few adjacent pages, however many days are kept.
"""

from __future__ import annotations

import os
import uuid


def time_ordered_id(t: float) -> str:
    """32 hex digits: milliseconds since the epoch, version 7 and variant bits, random."""
    ms = int(t * 1000) & ((1 << 48) - 1)
    raw = bytearray(ms.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw)).hex
