"""The web process gives large blocks back (issue 11: it grew from 104 MB to 240 MB with a few
logins, each Argon2 hash 19 MiB, and to 343 MB with playbacks; bench/web.py measures it).

glibc raises its mmap threshold to the size of every mapped block freed, so after the first
login a 19 MiB block is taken from a server thread's heap and that heap keeps it. Proven here
on the allocator itself in a fresh process (mallinfo2's count of mapped blocks), the way the
real `nvr web` sets it up: by constructing its WebServer.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT, write_config

PROBE = textwrap.dedent("""
    import ctypes, sys
    from pathlib import Path

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "web":                 # as `nvr web` starts its server
        from firmware.config import load
        from firmware.web import create_app
        from firmware.web.server import WebServer
        cfg = load(Path(sys.argv[2]))
        WebServer(create_app(cfg), "127.0.0.1", 0, cfg.storage.key_dir, cfg.device.id)
    size = 19 * 1024 * 1024                  # one Argon2 hash (accounts.HASHER)
    libc.free(libc.malloc(size))             # the first login's hash, freed
    before = libc.mallinfo2().hblks
    block = libc.malloc(size)                # the next login's
    print(libc.mallinfo2().hblks - before)   # 1 if it got a mapping of its own
    libc.free(block)
""")


def _mapped_blocks(*args: str) -> int:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_web_process_maps_each_large_block_and_unmaps_it_when_freed(tmp_path):
    config = write_config(tmp_path)
    # Without the web's setting, glibc keeps the second 19 MiB block in its heap (the cause).
    assert _mapped_blocks("plain") == 0
    # The web server's process maps it on its own, so freeing it returns it to the system.
    assert _mapped_blocks("web", str(config)) == 1
