"""The 7z archive (R-61): AES-256 with encrypted headers, so without the password it reveals
nothing but its size (not even the file names). It holds the evidence package on a medium that
takes one (a stick that encrypts in hardware; the development directory): `helpers.ArchiveTarget`
writes the package's files into it under the package's folder name.

The members are stored (7z "Copy"), not compressed: H.264 does not compress, and compressing
would make a long export many times slower on a Pi.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO


def _filters() -> list[dict]:
    import py7zr
    return [{"id": py7zr.FILTER_COPY}, {"id": py7zr.FILTER_CRYPTO_AES256_SHA256}]


def write_7z_to(out: BinaryIO, members: Iterable[tuple[str, bytes | BinaryIO]],
                password: str) -> dict:
    """Write `members` (name, content or an open file) as a 7z archive into the open file
    `out` (left open); return its size and SHA-256, read back."""
    import py7zr                        # imported when an export is made (25 MB)

    from firmware.export.drain import DrainingFile
    from firmware.export.manifest import sha256_of
    drained = DrainingFile(out)          # the stick writes while py7zr encrypts
    try:
        with py7zr.SevenZipFile(drained, "w", password=password, header_encryption=True,
                                filters=_filters()) as z:
            for name, data in members:
                if isinstance(data, (bytes, bytearray)):
                    z.writestr(data, name)
                else:
                    data.seek(0)
                    z.writef(data, name)
    finally:
        drained.join()
    drained.wait()
    digest, size = sha256_of(out)
    return {"bytes": size, "sha256": digest}
