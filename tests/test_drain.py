"""export/drain.py: the stick writes while the export computes (bench/export.py measures the
speed); here what it must never do: lose a byte, or lose a write error."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest

from firmware.export.drain import DrainingFile


def test_every_byte_reaches_the_file_and_reads_back(tmp_path):
    data = os.urandom(3 << 20)
    with open(tmp_path / "video.mp4", "w+b") as f:
        drained = DrainingFile(f, every=256 << 10)         # a writeback every 256 KiB
        for k in range(0, len(data), 32 << 10):             # PyAV writes 32 KiB at a time
            assert drained.write(data[k:k + (32 << 10)]) == len(data[k:k + (32 << 10)])
        drained.seek(0)
        drained.write(data[:16])                            # the muxer patches its header
        drained.wait()
        drained.flush()
        drained.seek(0)
        assert hashlib.sha256(drained.read()).digest() == hashlib.sha256(data).digest()
        assert drained.tell() == len(data)


def test_a_write_error_of_the_writeback_stops_the_next_write():
    """A stick pulled mid-export: the kernel's error reaches the export at its next write,
    not only at the final fsync (here a real one: fdatasync of a socket is EINVAL)."""
    a, b = socket.socketpair()
    with a, b, a.makefile("wb") as f:
        drained = DrainingFile(f, every=1024)
        drained.write(b"x" * 1024)                          # starts the writeback
        drained.join()
        with pytest.raises(OSError):
            drained.write(b"y")
        with pytest.raises(OSError):
            drained.wait()


def test_a_memory_file_is_written_without_writeback():
    import io
    f = io.BytesIO()
    drained = DrainingFile(f, every=4)
    drained.write(b"0123456789")
    drained.wait()
    assert f.getvalue() == b"0123456789"
