"""The encrypted segment file: a small header, then AEAD chunks (the STREAM construction).

    header   magic "NVRSEG", version, cipher, chunk size, segment id, key slot, device id
    chunk i  AEAD(dek, nonce = i (8 bytes) | 000000 | final flag, plaintext, aad = header)

Every chunk is bound to the header (so to the segment id and key slot), to its index and to
whether it is the last one: a flipped byte, a truncated file, swapped or reordered chunks and a
file passed off as another segment all fail authentication or the id check. The header names the
key slot, never a key. Each segment has its own random data key, so nonces never repeat.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from firmware.i18n import _

MAGIC = b"NVRSEG"
VERSION = 1
CHUNK_SIZE = 256 * 1024
TAG = 16
CIPHERS = {"chacha20-poly1305": 1, "aes-256-gcm": 2}
_AEADS = {1: ChaCha20Poly1305, 2: AESGCM}
_FIXED = struct.Struct(">6sBBI16sQB")      # magic, version, cipher, chunk, id, slot, device len


class SegmentError(Exception):
    """A segment file that cannot be trusted or read; the message says which and why."""


@dataclass(frozen=True)
class Header:
    segment_id: str          # 32 hex digits
    slot: int
    device_id: str
    cipher: int = CIPHERS["chacha20-poly1305"]
    chunk_size: int = CHUNK_SIZE

    def pack(self) -> bytes:
        device = self.device_id.encode()
        return _FIXED.pack(MAGIC, VERSION, self.cipher, self.chunk_size,
                           uuid.UUID(hex=self.segment_id).bytes, self.slot, len(device)) + device

    @classmethod
    def read(cls, f: BinaryIO, name: str = "segment") -> tuple["Header", bytes]:
        fixed = f.read(_FIXED.size)
        if len(fixed) < _FIXED.size or not fixed.startswith(MAGIC):
            raise SegmentError(_("%(name)s: not an encrypted segment of this recorder (no NVRSEG "
                                 "header)", name=name))
        magic, version, cipher, chunk, raw_id, slot, dlen = _FIXED.unpack(fixed)
        if version != VERSION:
            raise SegmentError(_("%(name)s: segment format version %(version)s is not supported (this "
                                 "firmware reads version %(supported)s)", name=name,
                                 version=version, supported=VERSION))
        if cipher not in _AEADS:
            raise SegmentError(_("%(name)s: unknown cipher id %(cipher)s", name=name, cipher=cipher))
        if not 1024 <= chunk <= 16 * 1024 * 1024:
            raise SegmentError(_("%(name)s: damaged header (chunk size %(size)s)", name=name,
                                 size=chunk))
        device = f.read(dlen)
        if len(device) < dlen:
            raise SegmentError(_("%(name)s: truncated header", name=name))
        header = cls(uuid.UUID(bytes=raw_id).hex, slot, device.decode(errors="replace"),
                     cipher, chunk)
        return header, fixed + device


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(8, "big") + b"\x00\x00\x00" + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """Encrypts a byte stream into `raw` chunk by chunk; `finish()` writes the final chunk.

    A chunk is written only once more data follows it, so the last chunk, and only it,
    carries the final flag.
    """

    def __init__(self, raw: BinaryIO, header: Header, dek: bytes):
        self.raw = raw
        self.header = header
        self._aad = header.pack()
        self._aead = _AEADS[header.cipher](dek)
        self._chunk = bytearray(header.chunk_size)     # filled in place, encrypted in place
        self._fill = 0
        self._index = 0
        self.bytes_out = len(self._aad)
        raw.write(self._aad)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        size = self.header.chunk_size
        pos, n = 0, len(view)
        while pos < n:
            if self._fill == size:             # full, and more follows: not the final chunk
                self._emit(self._chunk, final=False)
                self._fill = 0
            take = min(size - self._fill, n - pos)
            self._chunk[self._fill:self._fill + take] = view[pos:pos + take]
            self._fill += take
            pos += take
        return n

    def _emit(self, chunk, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index, final), chunk, self._aad)
        self.bytes_out += len(sealed)
        self.raw.write(sealed)
        self._index += 1

    def finish(self) -> None:
        self._emit(memoryview(self._chunk)[:self._fill], final=True)
        self._fill = 0


def decrypt_chunks(f: BinaryIO, dek: bytes, *, expected_id: str | None = None,
                   name: str = "segment") -> Iterator[bytes]:
    """Yield the plaintext of an encrypted segment, raising SegmentError on any tampering."""
    header, aad = Header.read(f, name)
    if expected_id is not None and header.segment_id != expected_id:
        raise SegmentError(_("%(name)s: the file is segment %(found)s, not %(expected)s: it was "
                             "copied or renamed over another segment", name=name,
                             found=header.segment_id, expected=expected_id))
    aead = _AEADS[header.cipher](dek)
    size = header.chunk_size + TAG
    index = 0
    current = f.read(size)
    while True:
        following = f.read(size) if len(current) == size else b""
        final = not following
        try:
            yield aead.decrypt(_nonce(index, final), current, aad)
        except InvalidTag:
            raise SegmentError(_diagnose(aead, aad, current, index, final, name)) from None
        if final:
            return
        current = following
        index += 1


def _diagnose(aead, aad: bytes, chunk: bytes, index: int, final: bool, name: str) -> str:
    """Name what went wrong: a chunk that is valid but not final means the tail is missing."""
    if final:
        try:
            aead.decrypt(_nonce(index, False), chunk, aad)
            return _("%(name)s: truncated: the file ends after chunk %(index)s, the final "
                     "chunk is missing", name=name, index=index)
        except InvalidTag:
            pass
        if len(chunk) < TAG:
            return _("%(name)s: truncated inside chunk %(index)s", name=name, index=index)
    return _("%(name)s: chunk %(index)s failed authentication: the bytes were changed, chunks "
             "were swapped or reordered, or the key does not belong to this file", name=name,
             index=index)


def read_header(path) -> Header:
    with open(path, "rb") as f:
        return Header.read(f, str(path))[0]
