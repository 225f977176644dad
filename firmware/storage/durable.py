"""Making a file's name durable: after a rename or an unlink, the directory itself is fsynced,
or a power cut may bring the old name back (storage, logbook keys, the recorder's marker)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync the directory `path`, so the names in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
