"""Scans of the paper file of a request: the written request (art. 9 lid 1, art. 10 lid 1), the
signed declarations (art. 9 lid 4, art. 10 lid 5) and the decision letter (art. 10 lid 3), so
that the whole file is on the device (art. 10 lid 6: the request, the decision and the signed
declaration are kept).

- Type by content: a PDF, PNG or JPEG, whatever the file is called; at most MAX_BYTES.
- Encrypted at rest under the device keys (R-82): every scan has its own random key; the file
  is sealed with ChaCha20-Poly1305 (the AEAD the store uses, `storage/keys.py`) with the scan's
  token, request and kind as associated data, and the scan key is wrapped by the master key from
  the key provider. A data disk without the key directory opens nothing.
- Kept as long as the request's record: requests are never deleted, and neither are their scans.
- Read only by the roles that may read requests (R-11, `Action.REQUEST_READ`); attached by the
  roles that handle requests. Every attachment and every read is written to the Logboek Inzien
  Beeldmateriaal (R-51, R-74); a refusal to the usage logbook (R-50).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from firmware.governance.access import require
from firmware.governance.logbook import Logbook
from firmware.governance.roles import Action, Actor, decide
from firmware.storage.keys import FileKeyProvider, new_key, unwrap, wrap
from firmware.i18n import _, in_dutch

SCAN_DIR = "scans"
MAX_BYTES = 10 * 1024 * 1024
KINDS = {"written-request": "schriftelijk verzoek",
         "declaration": "ondertekende verklaring",
         "decision-letter": "besluitbrief"}
MEDIA = {"application/pdf": "PDF", "image/png": "PNG-afbeelding", "image/jpeg": "JPEG-afbeelding"}
# Who may add to a request's file: the roles that handle requests.
HANDLING = (Action.REQUEST_ART9, Action.REQUEST_INTAKE, Action.REQUEST_DECIDE, Action.IDENTIFY)

SCHEMA = """
CREATE TABLE IF NOT EXISTS request_scans (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL,
    kind        TEXT NOT NULL,        -- written-request | declaration | decision-letter
    media_type  TEXT NOT NULL,        -- found from the content, not from the name
    filename    TEXT NOT NULL,        -- the name it was uploaded with, as shown
    size        INTEGER NOT NULL,     -- bytes of the scan itself
    sha256      TEXT NOT NULL,        -- of the scan itself, for the record
    token       TEXT NOT NULL UNIQUE, -- file name under data_dir/scans, bound into the AEAD
    wrapped_key BLOB NOT NULL,        -- the scan's key, wrapped by the master key
    added_by    TEXT NOT NULL,
    added       REAL NOT NULL
);
"""


class ScanError(Exception):
    """A scan cannot be attached or read as asked; the message (Dutch) says why and what to do."""


class ScanRefused(ScanError):
    """The role may not do this with scans (R-11); logged."""


def media_type(data: bytes) -> str | None:
    """What the bytes are, by their content: PDF, PNG or JPEG, else None. The end marker is
    checked too, so a file cut off in transit is refused rather than kept."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in data[-16:]:
        return "image/png"
    if data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\0\r\n")[-2:] == b"\xff\xd9":
        return "image/jpeg"
    return None


def _check(data: bytes, kind: str) -> str:
    if kind not in KINDS:
        raise ScanError(_("Unknown kind of scan '%(kind)s'. Choose from: %(kinds)s.", kind=kind,
                          kinds=", ".join(f"{k} ({v})" for k, v in KINDS.items())))
    if not data:
        raise ScanError(_("The file is empty. Choose the scan again and try once more."))
    if len(data) > MAX_BYTES:
        raise ScanError(_("The file is too large (%(size)s MB; at most %(most)s MB). Scan at a "
                          "lower resolution or in greyscale and try again.",
                          size=f"{len(data) / 1048576:.1f}", most=MAX_BYTES // 1048576))
    found = media_type(data)
    if found is None:
        raise ScanError(_("This file is not a PDF, PNG or JPEG (checked by its content, not its "
                          "name). Save the scan as PDF, PNG or JPEG and try again."))
    return found


def _clean_name(name: str) -> str:
    """The base name, printable, at most 120 characters (it is shown, never used as a path)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return (base or "scan")[:120]


def _context(token: str, request_id: int, kind: str) -> str:
    return f"request-scan {token} request {request_id} kind {kind}"


@dataclass
class Scans:
    db: sqlite3.Connection
    logbook: Logbook
    data_dir: Path
    master_key: Callable[[], bytes]

    def __post_init__(self):
        self.db.executescript(SCHEMA)

    @classmethod
    def open(cls, gov, cfg) -> "Scans":
        """The scans of the device of `cfg`, in the governance database of `gov`."""
        return cls(gov.accounts.db, gov.logbook, Path(cfg.storage.data_dir),
                   FileKeyProvider(cfg.storage.key_dir).load)

    # --- permissions --------------------------------------------------------------------------

    def _may_attach(self, actor: Actor) -> None:
        if any(decide(actor, a) for a in HANDLING):
            return
        def refusal() -> str:
            return _("Your role does not handle requests and may not add scans (R-11). Ask the "
                     "beheerder, the privacy officer or the manager bedrijfsvoering.")
        self.logbook.append("usage", actor.name, "refused", subject="scan-attach",
                            details={"why": in_dutch(refusal)})
        raise ScanRefused(refusal())

    def _may_read(self, actor: Actor) -> None:
        require(self.logbook, actor, Action.REQUEST_READ, ScanRefused)

    def _request(self, request_id: int) -> sqlite3.Row:
        row = self.db.execute("SELECT id, article FROM requests WHERE id = ?",
                              (request_id,)).fetchone()
        if row is None:
            raise ScanError(_("There is no request %(number)s. Check the number in the list of "
                              "requests.", number=request_id))
        return row

    # --- attach, list, read -------------------------------------------------------------------

    def attach(self, actor: Actor, request_id: int, kind: str, data: bytes,
               filename: str) -> dict:
        """Seal `data` under a new scan key and add it to the request's file; logged (R-51)."""
        self._may_attach(actor)
        self._request(request_id)
        found = _check(data, kind)
        token = secrets.token_hex(16)
        key = new_key()
        nonce = os.urandom(12)
        sealed = nonce + ChaCha20Poly1305(key).encrypt(
            nonce, data, _context(token, request_id, kind).encode())
        wrapped = wrap(self.master_key(), key, _context(token, request_id, kind))
        path = self._write(token, sealed)
        digest = hashlib.sha256(data).hexdigest()
        try:
            cur = self.db.execute(
                "INSERT INTO request_scans (request_id, kind, media_type, filename, size, "
                "sha256, token, wrapped_key, added_by, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?)", (request_id, kind, found, _clean_name(filename), len(data), digest,
                          token, wrapped, actor.name, time.time()))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        scan = self.show(cur.lastrowid)
        self.logbook.append("inzien", actor.name, "scan-attached",
                            subject=f"request {request_id}",
                            details={"scan": scan["id"], "kind_of_scan": kind,
                                     "media_type": found, "size": len(data), "sha256": digest})
        return scan

    def _write(self, token: str, sealed: bytes) -> Path:
        folder = self.data_dir / SCAN_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{token}.scan"
        tmp = path.with_name(path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, sealed)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dirfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        return path

    def show(self, scan_id: int) -> dict:
        row = self.db.execute("SELECT id, request_id, kind, media_type, filename, size, sha256, "
                              "added_by, added FROM request_scans WHERE id = ?",
                              (scan_id,)).fetchone()
        if row is None:
            raise ScanError(_("There is no scan %(number)s. Check the number in the list of scans "
                              "of the request.", number=scan_id))
        return dict(row)

    def list(self, actor: Actor, request_id: int) -> list[dict]:
        """The scans of a request, oldest first (no content; reading one is logged)."""
        self._may_read(actor)
        self._request(request_id)
        return [dict(r) for r in self.db.execute(
            "SELECT id, request_id, kind, media_type, filename, size, sha256, added_by, added "
            "FROM request_scans WHERE request_id = ? ORDER BY id", (request_id,))]

    def read(self, actor: Actor, request_id: int, scan_id: int) -> tuple[dict, bytes]:
        """The scan's bytes as uploaded; the read is logged (R-51)."""
        self._may_read(actor)
        row = self.db.execute("SELECT * FROM request_scans WHERE id = ? AND request_id = ?",
                              (scan_id, request_id)).fetchone()
        if row is None:
            raise ScanError(_("Request %(request)s has no scan %(number)s. Check the list of scans "
                              "of the request.", request=request_id, number=scan_id))
        context = _context(row["token"], row["request_id"], row["kind"])
        try:
            sealed = (self.data_dir / SCAN_DIR / f"{row['token']}.scan").read_bytes()
        except FileNotFoundError:
            raise ScanError(_("The file of scan %(number)s is missing from the data directory. "
                              "Restore the data directory from the backup; report it to the "
                              "FG.", number=scan_id)) \
                from None
        key = unwrap(self.master_key(), row["wrapped_key"], context)
        try:
            data = ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], context.encode())
        except InvalidTag:
            raise ScanError(_("Scan %(number)s is damaged or swapped: its content does not match "
                              "its key. Restore the file from the backup; report it to the FG.",
                              number=scan_id)) from None
        self.logbook.append("inzien", actor.name, "scan-read", subject=f"request {request_id}",
                            details={"scan": scan_id, "kind_of_scan": row["kind"]})
        return {k: row[k] for k in ("id", "request_id", "kind", "media_type", "filename",
                                    "size", "sha256")}, data
