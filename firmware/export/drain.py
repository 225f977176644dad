"""Let the stick write while the export still computes.

The kernel keeps written pages in memory and sends them to a device only after 30 seconds or
when much is waiting, so without help the export first decrypts, hashes and remuxes the whole
window into memory and only then, at its fsync, waits for the USB stick to take every byte:
the two run one after the other. A plain copy to the stick is bound by the stick alone. Starting
the stick's writeback every few megabytes, in a helper thread (fdatasync releases the GIL),
makes the stick write while the next segments are decrypted and remuxed, so an export to a
stick takes about as long as the stick needs for its bytes (bench/export.py, the USB stick
medium).

A write error the stick reports to the helper thread (EIO: the stick was pulled) is raised by
the next write, so the export stops at once instead of at its fsync.
"""

from __future__ import annotations

import io
import os
import threading
from typing import BinaryIO

EVERY = 8 << 20             # bytes written between two writebacks


class DrainingFile(io.IOBase):
    """A writable, seekable file that starts its writeback every EVERY bytes; the rest of the
    file protocol (read, seek, tell, flush, fileno) is the wrapped file's. The owner of the
    wrapped file still syncs and closes it (closing this one leaves it open); `wait()` joins
    the last writeback. An io.IOBase, as py7zr wants its file."""

    def __init__(self, f: BinaryIO, every: int = EVERY):
        super().__init__()
        self._f = f
        self._every = every
        self._since = 0
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None
        try:
            self._fd: int | None = f.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            self._fd = None               # a memory file: nothing to drain

    def write(self, data) -> int:
        if self._error is not None:
            raise self._error
        n = self._f.write(data)
        self._since += n
        if self._since >= self._every and self._fd is not None:
            self._since = 0
            self._start()
        return n

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return                        # the last one still runs: it takes these bytes too
        self._f.flush()                   # what the buffer holds reaches the kernel
        self._thread = threading.Thread(target=self._sync, name="export-drain", daemon=True)
        self._thread.start()

    def _sync(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._error = exc

    def join(self) -> None:
        """Wait for the running writeback to end."""
        if self._thread is not None:
            self._thread.join()

    def wait(self) -> None:
        """Wait for the running writeback; raise the error it met."""
        self.join()
        if self._error is not None:
            raise self._error

    def read(self, size: int = -1) -> bytes:
        return self._f.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def flush(self) -> None:
        if not self.closed and not self._f.closed:    # the owner may have closed it
            self._f.flush()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._f.fileno()
