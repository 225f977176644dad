"""Keep the recorder's heap small on a board with little RAM.

glibc gives every thread that allocates its own malloc arena; with a camera thread, an encoder
thread and the main thread, freed frame-sized blocks then sit in several arenas at once. Two
arenas are plenty for this process (measured: about 8 MB less peak memory at 1080p30).
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
# Blocks from this size on are mapped on their own and unmapped when freed (see
# return_large_blocks): a segment in playback, an Argon2 hash (19 MiB), a frame in blurring.
LARGE_BLOCK = 256 * 1024


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def trim_heap() -> None:
    """Give freed heap memory back to the system (after a burst such as a pre-roll flush)."""
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas; returns False where there is no glibc (nothing changes)."""
    try:
        return bool(_libc().mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def return_large_blocks(threshold: int = LARGE_BLOCK) -> bool:
    """Serve every allocation of `threshold` bytes or more with its own mapping, given back to
    the system when freed; returns False where there is no glibc (nothing changes).

    glibc starts with a 128 KiB threshold but raises it to the size of every mapped block that
    is freed (up to 32 MiB). In the web process the first login frees Argon2's 19 MiB, so from
    then on every 19 MiB hash, 5 MB segment and blurred frame is carved from the heap of the
    server thread that made it, and each of the server's threads keeps its own heap's high
    water mark: measured 104 MB at start, 240 MB after a few logins, 343 MB after 200
    playbacks (bench/web.py). A threshold set by hand stays where it is (mallopt(3)).
    """
    try:
        return bool(_libc().mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
