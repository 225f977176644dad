"""The key hierarchy: master key (from a provider) > slot and hold keys > segment data keys.

    master key    32 bytes from a KeyProvider; by default a root-only file outside data_dir
    slot key      one per time slot (an hour); wrapped by the master key, kept in the index
    hold key      one per hold; wrapped by the master key
    data key      one per segment; wrapped by its slot key and by the key of every hold on it

Wrapping is ChaCha20-Poly1305 with a random nonce and a context string as associated data, so a
wrapped key cannot be moved to another slot, hold or segment. Destroying a slot key makes every
data key wrapped only under it useless: that is the cryptographic erase of R-40.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from firmware.storage.sharing import private_mode, too_open, trusted_owner
from firmware.storage.sink import StorageError
from firmware.i18n import _

KEY_BYTES = 32
MASTER_FILE = "master.key"


class KeyProblem(StorageError):
    """A key problem the operator must fix; the message says how."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def wrap(kek: bytes, key: bytes, context: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(kek).encrypt(nonce, key, context.encode())


def unwrap(kek: bytes, wrapped: bytes, context: str) -> bytes:
    try:
        return ChaCha20Poly1305(kek).decrypt(wrapped[:12], wrapped[12:], context.encode())
    except InvalidTag:
        raise KeyProblem(_("the wrapped key for %(context)s does not open with this key: the "
                          "master key was replaced or the index was altered", context=context)) from None


class KeyProvider(Protocol):
    """Where the master key comes from. The file provider is the default; a TPM-sealed or
    network-bound provider can take its place without the store noticing."""

    def load(self) -> bytes: ...
    def exists(self) -> bool: ...
    def create(self) -> bytes: ...


class FileKeyProvider:
    """The master key as a 32-byte file, readable by its owner only (R-82); in a shared
    (setgid) key directory also by its group, the web interface (storage/sharing.py)."""

    def __init__(self, key_dir: Path):
        self.path = Path(key_dir) / MASTER_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def _check(self) -> None:
        st = self.path.stat()
        if too_open(self.path, st):
            raise KeyProblem(_("%(path)s is readable by others (mode %(mode)s): run chmod 600 "
                              "%(path)s", path=self.path, mode=stat.filemode(st.st_mode)))
        if not trusted_owner(self.path, st):
            raise KeyProblem(_("%(path)s belongs to uid %(owner)s, not to the recorder's user (uid "
                              "%(uid)s)", path=self.path, owner=st.st_uid, uid=os.geteuid()))

    def load(self) -> bytes:
        try:
            self._check()
            key = self.path.read_bytes()
        except FileNotFoundError:
            raise KeyProblem(_("the master key %(path)s is missing", path=self.path)) from None
        if len(key) != KEY_BYTES:
            raise KeyProblem(_("%(path)s is damaged: %(size)s bytes instead of %(want)s",
                              path=self.path, size=len(key), want=KEY_BYTES))
        return key

    def create(self) -> bytes:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = new_key()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     private_mode(self.path.parent))
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        return key
