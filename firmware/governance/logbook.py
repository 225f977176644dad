"""Append-only, tamper-evident logbooks (R-50, R-51, R-74, R-80).

Two books: `usage` (who used the system: logins and failures, live views, playback, exports,
holds, configuration and user changes, decisions outside the rules) and `inzien`, the
confidential "Logboek Inzien Beeldmateriaal" (requests, decisions, identity checks,
declarations, viewings).

Each entry carries the SHA-256 hash of the one before and is hashed over its number, so an
edited, deleted, inserted or reordered entry breaks the chain at a place `verify` names. That
hash is public (anyone can recompute it), so each entry also carries a MAC: HMAC-SHA256 of its
hash under the logbook key in the key directory, away from the database. An entry written with
the database alone has no valid MAC.

After every entry the head (book, number, hash, time) is signed with the device's Ed25519 key
and written to the key directory: entries beyond the signed head were added without the device,
a book shorter than its head was truncated. The signed head is what the central room records
(`head_statement`) to anchor the book outside the device.

Every append first checks the tail (its hash, its MAC, and that it is the signed head). When it
is not, the logbook keeps working, so logins and footage access stay logged: a `logbook-break`
entry recording what was found is written first, the new entry after it, and `verify` names the
break (and the bad entries before it) for good. Times only move forward: an entry is never dated
before the one before it (the device's clock is kept in its details when it was earlier).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                          PrivateFormat, PublicFormat)
from firmware.i18n import _
from firmware.storage.sharing import both_write, private_mode, to_read
from firmware.storage.durable import fsync_dir

BOOKS = ("usage", "inzien")
SIGNING_KEY = "device-signing.key"
MAC_KEY = "logbook-mac.key"
BREAK = "logbook-break"
SYSTEM = "nvr"                                 # the actor of entries the device writes itself
STATEMENT = "nvr-logbook-head/2"               # first line of every signed head (schema 2)

log = logging.getLogger(__name__)


class LogbookError(Exception):
    """The logbook cannot do what was asked; the message says why and what to do."""


def _entry_hash(book: str, n: int, at: float, actor: str, action: str, subject: str,
                reason: str, details: str, prev: str) -> str:
    payload = json.dumps([book, n, repr(at), actor, action, subject, reason, details, prev],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()



def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write `data` to `path` (mode 0600; 0640 in a shared key directory) through a
    temporary file, durably. Without `replace`, an existing file wins: a concurrent first
    use reads one whole key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    # O_EXCL | O_NOFOLLOW: the key directory is shared with the group (storage/sharing.py), so
    # another service's user could plant a symlink at this predictable name; a planted name is
    # removed (the link, never its target) and the file made afresh (redteam12).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, private_mode(path.parent))
    except FileExistsError:
        tmp.unlink()
        fd = os.open(tmp, flags, private_mode(path.parent))
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _key_file(path: Path, make: Callable[[], bytes], size: int) -> bytes:
    """The key in `path`, made on first use (mode 0600, directory 0700). A damaged key is
    moved aside (kept, for whoever investigates) and replaced, so that logging goes on; the
    next append then finds the tail unverifiable and records the break."""
    if path.exists() and path.stat().st_size != size:
        aside = path.with_name(f"{path.name}.unusable-{int(time.time())}")
        os.replace(path, aside)
        log.error("%s was not a %d-byte key; moved to %s and replaced by a new key: the "
                  "logbook records a break at its next entry", path, size, aside)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, make(), replace=False)
    return path.read_bytes()


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeviceSigner:
    """The device's keys for the logbooks, in the key directory next to the master key (mode
    0600): the Ed25519 key that signs heads and the HMAC-SHA256 key of the entries' MACs."""

    def __init__(self, key_dir: Path):
        self.key_dir = Path(key_dir)
        raw = _key_file(self.key_dir / SIGNING_KEY, lambda: Ed25519PrivateKey.generate()
                        .private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()), 32)
        self._key = Ed25519PrivateKey.from_private_bytes(raw)
        self._mac_key = _key_file(self.key_dir / MAC_KEY, lambda: os.urandom(32), 32)
        self.public: Ed25519PublicKey = self._key.public_key()
        self.public_der = self.public.public_bytes(Encoding.DER,
                                                   PublicFormat.SubjectPublicKeyInfo)
        # What the central room pins: `openssl pkey -pubin -outform DER | sha256sum`.
        self.fingerprint = hashlib.sha256(self.public_der).hexdigest()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def mac(self, entry_hash: str) -> str:
        return hmac.new(self._mac_key, entry_hash.encode(), hashlib.sha256).hexdigest()

    def mac_ok(self, entry_hash: str, mac: str) -> bool:
        return hmac.compare_digest(self.mac(entry_hash), mac or "")

    def head_path(self, book: str) -> Path:
        """Where the head of `book` is written: key_dir/shared, which both services replace
        files in (the key directory itself is sticky, storage/sharing.py)."""
        return both_write(self.key_dir) / f"logbook-{book}.signed-head"


@dataclass(frozen=True)
class Head:
    """A signed head: book `book` had `n` entries, the last with hash `hash`, at `time`."""
    book: str
    n: int
    hash: str
    time: str
    message: str
    signature: str


class HeadError(Exception):
    """The signed head of a book cannot be used; the message says why."""


class HeadMissing(HeadError):
    pass


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

    @property
    def first_bad(self) -> dict[str, int]:
        """Per book with problems, the first entry named (0: the signed head itself)."""
        first: dict[str, int] = {}
        for p in self.problems:
            first[p.book] = min(first.get(p.book, p.n), p.n)
        return first

    def to_json(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "first_bad": self.first_bad,
                "problems": [{"book": p.book, "entry": p.n, "message": p.message}
                             for p in self.problems]}


class Logbook:
    def __init__(self, db: sqlite3.Connection, signer: DeviceSigner):
        self.db, self.signer = db, signer

    # --- writing --------------------------------------------------------------------------

    def append(self, book: str, actor: str, action: str, *, subject: str = "",
               reason: str = "", details: dict | None = None, at: float | None = None) -> int:
        """Add an entry; returns its number. The tail is checked first (see the module)."""
        if book not in BOOKS:
            raise ValueError(f"unknown logbook {book!r}")
        at = time.time() if at is None else at
        signed_before, signed = None, False
        self.db.execute("BEGIN IMMEDIATE")
        try:
            tail = self._tail(book)
            fault = self._tail_fault(book, tail)
            if fault:
                tail = self._record_break(book, tail, fault)
            tail = self._insert(book, tail, actor, action, subject, reason, details or {}, at)
            # Signed while the write lock is held, so concurrent writers (web threads, the
            # CLI) leave the heads in order.
            signed_before = self._read_head_file(book)
            self._sign_head(book, tail)
            signed = True
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if signed:
                self._put_head_back(book, signed_before)
            raise
        return tail["n"]

    def _tail(self, book: str) -> dict | None:
        row = self.db.execute("SELECT * FROM logbook WHERE book = ? ORDER BY n DESC LIMIT 1",
                              (book,)).fetchone()
        return dict(row) if row else None

    def _insert(self, book: str, tail: dict | None, actor: str, action: str, subject: str,
                reason: str, details: dict, at: float, floor: float | None = None) -> dict:
        """Write entry n + 1 after `tail`, dated no earlier than `floor` (by default the
        tail's time: times only move forward)."""
        n, prev = (tail["n"] + 1, tail["hash"]) if tail else (1, "")
        floor = (tail["at"] if tail else 0.0) if floor is None else floor
        if at < floor:
            details = {**details, "device_clock": at}
            at = floor
        text = json.dumps(details, ensure_ascii=False, sort_keys=True)
        digest = _entry_hash(book, n, at, actor, action, subject, reason, text, prev)
        mac = self.signer.mac(digest)
        self.db.execute("INSERT INTO logbook (book, n, at, actor, action, subject, reason, "
                        "details, prev, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (book, n, at, actor, action, subject, reason, text, prev, digest, mac))
        return {"n": n, "at": at, "hash": digest, "mac": mac}

    def _tail_fault(self, book: str, tail: dict | None) -> str | None:
        """What is wrong with the end of the book, or None: the tail's content matches its
        hash, its MAC is the device's, and it is the signed head."""
        faults = []
        if tail is not None:
            if _entry_hash(book, tail["n"], tail["at"], tail["actor"], tail["action"],
                           tail["subject"], tail["reason"], tail["details"],
                           tail["prev"]) != tail["hash"]:
                faults.append(f"entry {tail['n']} does not match its hash (edited)")
            if not self.signer.mac_ok(tail["hash"], tail["mac"]):
                faults.append(f"entry {tail['n']} does not carry the device's MAC")
        last = tail["n"] if tail else 0
        try:
            head = self._signed_head(book)
        except HeadError as exc:
            if tail is not None or not isinstance(exc, HeadMissing):
                faults.append(str(exc))
            return "; ".join(faults) or None
        if head.n > last:
            faults.append(f"the book ends at entry {last} but its signed head is entry "
                          f"{head.n} (entries were removed)")
        elif head.n < last:
            beyond = f"entry {last} lies" if last == head.n + 1 else \
                f"entries {head.n + 1} to {last} lie"
            faults.append(f"{beyond} beyond the signed head (entry {head.n}): added without "
                          "the device")
        elif tail is not None and tail["hash"] != head.hash:
            faults.append(f"entry {last} differs from the signed head")
        return "; ".join(faults) or None

    def _record_break(self, book: str, tail: dict | None, fault: str) -> dict:
        """The tail did not verify: put that on the record, in the chain, before anything
        else is appended. `verify` names this entry from now on."""
        log.error("logbook %s: the chain did not verify before an append: %s; recorded as "
                  "a %s entry (see nvr logbook verify)", book, fault, BREAK)
        signed, floor = None, 0.0
        try:
            head = self._signed_head(book)
            signed = {"n": head.n, "hash": head.hash}
            row = self.db.execute("SELECT at, hash, mac FROM logbook WHERE book = ? AND n = ?",
                                  (book, head.n)).fetchone()
            if row and row["hash"] == head.hash and self.signer.mac_ok(row["hash"], row["mac"]):
                floor = row["at"]                 # the last time the device vouches for
        except HeadError:
            pass
        # Dated from the last trustworthy entry, not from the bad tail: a forged entry dated
        # far ahead must not drag the times of every later entry with it.
        return self._insert(
            book, tail, SYSTEM, BREAK, "", "Het logboek bleek bij het toevoegen van een regel "
            "niet intact; zie de details en 'nvr logbook verify'.",
            {"fault": fault, "tail": {"n": tail["n"], "hash": tail["hash"]} if tail else None,
             "signed_head": signed}, time.time(), floor)

    # --- the signed head --------------------------------------------------------------------

    def _head(self, book: str, tail: dict) -> Head:
        digest = tail["hash"] or "none"                  # "none": the book is still empty
        message = (f"{STATEMENT}\nbook: {book}\nn: {tail['n']}\nhash: {digest}\n"
                   f"time: {_utc(tail['at'])}\nkey: {self.signer.fingerprint}\n")
        return Head(book, tail["n"], digest, _utc(tail["at"]), message,
                    self.signer.sign(message.encode()).hex())

    def _sign_head(self, book: str, tail: dict) -> None:
        head = self._head(book, tail)
        _write_private(self.signer.head_path(book), json.dumps(
            {"message": head.message, "signature": head.signature}).encode(), replace=True)

    def _read_head_file(self, book: str) -> bytes | None:
        try:
            return to_read(self.signer.head_path(book)).read_bytes()
        except FileNotFoundError:
            return None

    def _put_head_back(self, book: str, data: bytes | None) -> None:
        """The entry was not committed: the head it was signed for goes too."""
        if data is None:
            self.signer.head_path(book).unlink(missing_ok=True)
        else:
            _write_private(self.signer.head_path(book), data, replace=True)

    def _signed_head(self, book: str) -> Head:
        path = to_read(self.signer.head_path(book))
        try:
            head = json.loads(path.read_text())
            message, signature = head["message"], head["signature"]
        except FileNotFoundError:
            raise HeadMissing(f"the signed head is missing from {path.parent}") from None
        except (ValueError, KeyError, TypeError):
            raise HeadError(f"the signed head {path} is unreadable") from None
        try:
            self.signer.public.verify(bytes.fromhex(signature), message.encode())
        except (InvalidSignature, ValueError):
            raise HeadError("the signed head does not verify with the device key") from None
        lines = message.splitlines()
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        if lines[:1] != [STATEMENT] or fields.get("book") != book:
            raise HeadError(f"the signed head {path} is not the head of the {book} book")
        return Head(book, int(fields["n"]), fields["hash"], fields["time"], message, signature)

    def head_statement(self, book: str) -> dict:
        """The current signed head of `book`, for the central room to record outside the
        device (metrics, exports, `nvr logbook head`). `message` is exactly the bytes that
        were signed (Ed25519); `public_key` is the DER SubjectPublicKeyInfo in hex and
        `fingerprint` its SHA-256, which the central room pins once."""
        if book not in BOOKS:
            raise ValueError(f"unknown logbook {book!r}")
        try:
            head = self._signed_head(book)
        except HeadMissing:
            if self._tail(book) is not None:
                raise LogbookError(_("no signed head for the %(book)s book: it is missing from "
                                     "%(directory)s while the book has entries; run 'nvr logbook "
                                     "verify' and restore the key directory from its backup",
                                     book=book, directory=self.signer.key_dir)) from None
            head = self._head(book, {"n": 0, "hash": "", "at": time.time()})   # still empty
        except HeadError as exc:
            raise LogbookError(_("no signed head for the %(book)s book: %(problem)s; run 'nvr "
                                 "logbook verify' and restore the key directory from its backup",
                                 book=book, problem=exc)) from None
        return {"book": head.book, "n": head.n, "hash": head.hash, "time": head.time,
                "algorithm": "Ed25519", "message": head.message, "signature": head.signature,
                "public_key": self.signer.public_der.hex(),
                "fingerprint": self.signer.fingerprint}

    # --- reading and verifying ----------------------------------------------------------------

    def genuine(self, book: str, n: int) -> bool:
        """Entry `n` of `book` is the device's own: its content matches its hash, it carries
        the device's MAC and it lies under the signed head. What storage/hashes.py asks of a
        logged prune before it accepts a chain that starts after it (no sqlite3 can forge it)."""
        row = self.db.execute("SELECT * FROM logbook WHERE book = ? AND n = ?",
                              (book, n)).fetchone()
        if row is None or _entry_hash(book, n, row["at"], row["actor"], row["action"],
                                      row["subject"], row["reason"], row["details"],
                                      row["prev"]) != row["hash"]:
            return False
        if not self.signer.mac_ok(row["hash"], row["mac"]):
            return False
        try:
            return n <= self._signed_head(book).n
        except HeadError:
            return False

    def entries(self, book: str) -> list[dict]:
        return [dict(r) for r in self.db.execute(
            "SELECT * FROM logbook WHERE book = ? ORDER BY n", (book,))]

    def _consistent(self, read: Callable[[], object]):
        """Run `read` while no append is under way: heads are signed inside the write lock,
        before the commit, so rows and heads read outside it may disagree for a moment."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            return read()
        finally:
            self.db.execute("ROLLBACK")

    def snapshot(self, book: str) -> tuple[list[dict], dict | None]:
        """The entries of `book` and the statement of its signed head (None when there is
        no valid one), read together: the statement is that of the last entry given."""
        def read():
            try:
                statement = self.head_statement(book)
            except LogbookError:
                statement = None
            return self.entries(book), statement
        return self._consistent(read)

    def verify(self) -> Verification:
        """Walk both chains: every entry's link, hash, MAC and time, and the signed head.
        Every bad entry is named, not only the first."""
        def read():
            heads = {}
            for book in BOOKS:
                try:
                    heads[book] = self._signed_head(book)
                except HeadError as exc:
                    heads[book] = exc
            return {book: self.entries(book) for book in BOOKS}, heads
        books, heads = self._consistent(read)
        result = Verification()
        for book in BOOKS:
            rows = books[book]
            result.entries[book] = len(rows)
            found: list[Problem] = []
            self._check_chain(book, rows, found)
            self._check_head(book, rows, heads[book], found)
            result.problems += sorted(found, key=lambda p: p.n)
        return result

    def _check_chain(self, book: str, rows: list[dict], found: list[Problem]) -> None:
        prev, prev_at, expected = "", None, 1
        for r in rows:
            n = r["n"]
            if n != expected:
                found.append(Problem(book, expected, f"is missing (deleted); the chain "
                                                      f"continues at entry {n}"))
            if r["prev"] != prev:
                found.append(Problem(book, n, "does not follow the entry before it (inserted, "
                                              "removed or reordered)"))
            if _entry_hash(book, n, r["at"], r["actor"], r["action"], r["subject"],
                           r["reason"], r["details"], r["prev"]) != r["hash"]:
                found.append(Problem(book, n, "was edited: its content does not match its "
                                              "hash"))
            if not self.signer.mac_ok(r["hash"], r["mac"]):
                found.append(Problem(book, n, "does not carry the device's MAC: written or "
                                              "rewritten without the logbook key"))
            if prev_at is not None and r["at"] < prev_at:
                found.append(Problem(book, n, "is dated before the entry before it "
                                              "(back-dated)"))
            if r["action"] == BREAK:
                try:
                    fault = json.loads(r["details"]).get("fault", "")
                except (ValueError, AttributeError):
                    fault = ""
                found.append(Problem(book, n, f"records a break of the chain found when "
                                              f"appending: {fault}"))
            prev, prev_at, expected = r["hash"], r["at"], n + 1

    def _check_head(self, book: str, rows: list[dict], head: Head | HeadError,
                    found: list[Problem]) -> None:
        last = rows[-1]["n"] if rows else 0
        if isinstance(head, HeadMissing):
            if rows:
                found.append(Problem(book, last, str(head)))
            return
        if isinstance(head, HeadError):
            found.append(Problem(book, 0, str(head)))
            return
        if last < head.n:
            found.append(Problem(book, last + 1, f"the book was truncated: the signed head "
                                                 f"says {head.n} entries, {last} are left"))
            return
        signed = next((r for r in rows if r["n"] == head.n), None)
        if signed is None or signed["hash"] != head.hash:
            found.append(Problem(book, head.n, "differs from the signed head"))
        for r in rows:
            if r["n"] > head.n:
                found.append(Problem(book, r["n"], f"was added after the signed head (entry "
                                                   f"{head.n}) without the device"))
