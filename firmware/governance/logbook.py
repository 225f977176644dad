"""Append-only, tamper-evident logbooks (R-50, R-51, R-74, R-80).

Two books: `usage` (who used the system: logins and failures, live views, playback, exports,
holds, configuration and user changes, decisions outside the rules) and `inzien`, the
confidential "Logboek Inzien Beeldmateriaal" (requests, decisions, identity checks,
declarations, viewings).

Each entry carries the hash of the one before and is hashed over its number, so an edited,
deleted, inserted or reordered entry breaks the chain at a place `verify` names. Deleting the
tail leaves a shorter chain that is still consistent, so after every entry the head (book, number,
hash) is signed with the device's Ed25519 key and written to the key directory, away from the
database: a database shorter than its signed head has been truncated.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

BOOKS = ("usage", "inzien")
SIGNING_KEY = "device-signing.key"


def _entry_hash(book: str, n: int, at: float, actor: str, action: str, subject: str,
                reason: str, details: str, prev: str) -> str:
    payload = json.dumps([book, n, repr(at), actor, action, subject, reason, details, prev],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class DeviceSigner:
    """The device's Ed25519 key, in the key directory next to the master key (mode 0600)."""

    def __init__(self, key_dir: Path):
        self.key_dir = Path(key_dir)
        path = self.key_dir / SIGNING_KEY
        if path.exists():
            self._key = Ed25519PrivateKey.from_private_bytes(path.read_bytes())
        else:
            self.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._key = Ed25519PrivateKey.generate()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                from cryptography.hazmat.primitives.serialization import (Encoding,
                                                                          NoEncryption,
                                                                          PrivateFormat)
                os.write(fd, self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                     NoEncryption()))
                os.fsync(fd)
            finally:
                os.close(fd)
        self.public: Ed25519PublicKey = self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def head_path(self, book: str) -> Path:
        return self.key_dir / f"logbook-{book}.head"


@dataclass
class Problem:
    book: str
    n: int
    message: str

    def __str__(self) -> str:
        return f"{self.book} entry {self.n}: {self.message}"


@dataclass
class Verification:
    entries: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"ok": self.ok, "entries": self.entries,
                "problems": [{"book": p.book, "entry": p.n, "message": p.message}
                             for p in self.problems]}


class Logbook:
    def __init__(self, db: sqlite3.Connection, signer: DeviceSigner):
        self.db, self.signer = db, signer

    def append(self, book: str, actor: str, action: str, *, subject: str = "",
               reason: str = "", details: dict | None = None, at: float | None = None) -> int:
        if book not in BOOKS:
            raise ValueError(f"unknown logbook {book!r}")
        at = time.time() if at is None else at
        text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            last = self.db.execute("SELECT n, hash FROM logbook WHERE book = ? ORDER BY n DESC "
                                   "LIMIT 1", (book,)).fetchone()
            n, prev = (last["n"] + 1, last["hash"]) if last else (1, "")
            digest = _entry_hash(book, n, at, actor, action, subject, reason, text, prev)
            self.db.execute("INSERT INTO logbook (book, n, at, actor, action, subject, reason, "
                            "details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (book, n, at, actor, action, subject, reason, text, prev, digest))
            # Signed while the write lock is held, so concurrent writers (web threads, the CLI)
            # leave the heads in order.
            self._sign_head(book, n, digest)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return n

    def _sign_head(self, book: str, n: int, digest: str) -> None:
        body = json.dumps({"book": book, "n": n, "hash": digest}, sort_keys=True)
        head = {"head": body, "signature": self.signer.sign(body.encode()).hex()}
        path = self.signer.head_path(book)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        tmp.write_text(json.dumps(head))
        os.replace(tmp, path)

    def entries(self, book: str) -> list[dict]:
        return [dict(r) for r in self.db.execute(
            "SELECT * FROM logbook WHERE book = ? ORDER BY n", (book,))]

    def verify(self) -> Verification:
        result = Verification()
        for book in BOOKS:
            rows = self.entries(book)
            result.entries[book] = len(rows)
            prev, expected = "", 1
            for r in rows:
                if r["n"] != expected:
                    what = "is missing (deleted)" if r["n"] > expected else "appears twice"
                    result.problems.append(Problem(book, expected, f"{what}; the chain "
                                                   f"continues at entry {r['n']}"))
                    break
                if r["prev"] != prev:
                    result.problems.append(Problem(book, r["n"], "does not follow the entry "
                                                   "before it (inserted, removed or reordered)"))
                    break
                digest = _entry_hash(book, r["n"], r["at"], r["actor"], r["action"],
                                     r["subject"], r["reason"], r["details"], r["prev"])
                if digest != r["hash"]:
                    result.problems.append(Problem(book, r["n"], "was edited: its content "
                                                   "does not match its hash"))
                    break
                prev, expected = r["hash"], expected + 1
            self._check_head(book, rows, result)
        return result

    def _check_head(self, book: str, rows: list[dict], result: Verification) -> None:
        path = self.signer.head_path(book)
        if not path.exists():
            if rows:
                result.problems.append(Problem(book, len(rows), "the signed head is missing "
                                               f"from {path.parent}"))
            return
        head = json.loads(path.read_text())
        try:
            self.signer.public.verify(bytes.fromhex(head["signature"]), head["head"].encode())
        except (InvalidSignature, ValueError):
            result.problems.append(Problem(book, 0, "the signed head does not verify with the "
                                           "device key"))
            return
        signed = json.loads(head["head"])
        count = len(rows)
        if count < signed["n"]:
            result.problems.append(Problem(book, count + 1, f"the book was truncated: the "
                                           f"signed head says {signed['n']} entries, "
                                           f"{count} are left"))
        elif count and signed["n"] <= count and rows[signed["n"] - 1]["hash"] != signed["hash"]:
            result.problems.append(Problem(book, signed["n"], "differs from the signed head"))
