"""A plain directory sink: MP4 files plus a JSON sidecar each.

Stand-in until the encrypted store exists; it already follows the store's write order:
temporary name, fsync, rename, then the record.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from firmware.storage.sink import SegmentMeta, SegmentRecord


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class _Target:
    def __init__(self, meta: SegmentMeta, final: Path):
        self.meta = meta
        self.final = final
        self.tmp = final.with_name(final.name + ".part")
        final.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.tmp, "wb")
        self.bytes = 0

    def write(self, data: bytes) -> int:
        n = self._file.write(data)
        self.bytes += n
        return n

    def commit(self, end: datetime, frames: int) -> SegmentRecord:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp, self.final)
        record = SegmentRecord(self.meta, end, frames, self.bytes, self.final)
        write_atomic(self.final.with_suffix(".json"),
                     json.dumps(record.to_json(), indent=1).encode())
        return record

    def abort(self) -> None:
        self._file.close()
        self.tmp.unlink(missing_ok=True)


class DirectorySink:
    """Segments under root/<camera>/<YYYY-MM-DD>/<start>_<segment id>.mp4 (UTC)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def begin(self, meta: SegmentMeta) -> _Target:
        day = meta.start.strftime("%Y-%m-%d")
        name = f"{meta.start:%Y%m%dT%H%M%S}Z_{meta.segment_id}.mp4"
        return _Target(meta, self.root / meta.camera_id / day / name)
