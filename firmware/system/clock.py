"""Is the system clock synchronised? (R-30: evidence needs trustworthy time.)

The kernel knows: adjtimex(2) returns TIME_ERROR while the clock is unsynchronised, which is
what timedatectl's "System clock synchronized" reports too. No daemon needs to be asked.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_TIME_ERROR = 5


def clock_synchronised() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    buf = ctypes.create_string_buffer(512)   # struct timex, modes = 0: read only
    state = libc.adjtimex(buf)
    return state not in (-1, _TIME_ERROR)
