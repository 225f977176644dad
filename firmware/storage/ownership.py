"""One owner per data directory (issue 9): an exclusive `flock` on `data_dir/owner.lock`.

The owner (the recorder, or a CLI command while no recorder runs) holds the lock for its life;
only the owner writes segment files, reconciles, sweeps and deletes. Readers (the web process,
read-only commands) never take it. The kernel drops the lock when the owner dies, also on
SIGKILL, so a crashed owner never blocks the next one. The file holds the owner's pid and role,
so a refusal can say who owns the store.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from firmware.storage.sink import StorageError

LOCK_NAME = "owner.lock"

# What a refused command can do instead, by what it needed ownership for.
HINTS = {
    "record": "only one recorder may own a data directory",
    "ingest": "stop it to ingest a file (an ingest would race its writes)",
    "sweep": "it sweeps by itself at start and every minute; stop it to sweep by hand",
}


class StoreBusy(StorageError):
    """Another process owns the data directory."""


class OwnerLock:
    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, what: str) -> None:
        """Become the owner for `what` (record, ingest, sweep, verify, ...) or raise StoreBusy."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            os.close(fd)
            raise StoreBusy(self._refusal(holder, what)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {'recorder' if what == 'record' else what}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _refusal(self, holder: list[str], what: str) -> str:
        pid = holder[0] if holder else "unknown"
        role = holder[1] if len(holder) > 1 else "recorder"
        if role == "recorder":
            return (f"the recorder is running (pid {pid}); stop it, or leave this to it: "
                    f"{HINTS.get(what, 'it owns ' + str(self.path.parent))}")
        return (f"`nvr` (pid {pid}, {role}) owns {self.path.parent} right now; wait until it "
                "is done and try again")
