"""The export package: a 7z archive with AES-256 and encrypted headers (R-61).

The archive holds the MP4 files, SHA256SUMS and manifest.json; file names are hidden too
(header encryption), so without the password the package reveals nothing but its size.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path



def write_7z(path: Path, members: Iterable[tuple[str, bytes]], password: str) -> dict:
    """Write `members` (name, content) to `path`; return the archive's size and SHA-256."""
    import py7zr                        # imported when an export is made (25 MB)
    tmp = path.with_name(path.name + ".part")
    try:
        with py7zr.SevenZipFile(tmp, "w", password=password, header_encryption=True) as z:
            for name, data in members:
                z.writestr(data, name)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
