"""Proof back to recording time: each segment's SHA-256, kept since it was written.

The store hashes a segment's plaintext MP4 while it encrypts it (no second pass) and records the
hash in `segment_hashes` with the segment's row, in the same transaction. The rows form a hash
chain: `chain = sha256(previous chain | segment id | sha256)`, the first after GENESIS. One
logbook entry per segment would flood the logbook, so the logbook links the hashes by their
chain head instead: `seal` appends one `segment-hashes` entry (usage book) with the head and the
number of hashes since the last seal. The logbook's signed head then covers every hash up to
that head: an edited or removed hash breaks the chain between two sealed heads, and a hash
added afterwards is not under any seal. `seal` runs before every export, so the hashes an export
lists are sealed before the package is made (and may run from the retention sweep as well).
"""

from __future__ import annotations

import hashlib
import sqlite3

GENESIS = "0" * 64


def link(previous: str, segment_id: str, sha256: str) -> str:
    """The chain value after `previous` for one segment's hash."""
    return hashlib.sha256(f"{previous}|{segment_id}|{sha256}".encode()).hexdigest()


def record_hash(db: sqlite3.Connection, segment_id: str, sha256: str) -> str:
    """Append one segment's hash to the chain (inside the caller's transaction)."""
    row = db.execute("SELECT chain FROM segment_hashes ORDER BY n DESC LIMIT 1").fetchone()
    chain = link(row[0] if row else GENESIS, segment_id, sha256)
    db.execute("INSERT INTO segment_hashes (segment_id, sha256, chain) VALUES (?, ?, ?)",
               (segment_id, sha256, chain))
    return chain


def hashes_of(db: sqlite3.Connection, segment_ids: list[str]) -> dict[str, dict]:
    """segment id -> {sha256, n, chain} for the segments that have a recording-time hash."""
    out: dict[str, dict] = {}
    for sid in segment_ids:
        row = db.execute("SELECT n, sha256, chain FROM segment_hashes WHERE segment_id = ?",
                         (sid,)).fetchone()
        if row is not None:
            out[sid] = {"n": row[0], "sha256": row[1], "chain": row[2]}
    return out


def chain_head(db: sqlite3.Connection) -> tuple[int, str]:
    row = db.execute("SELECT n, chain FROM segment_hashes ORDER BY n DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def chain_breaks(db: sqlite3.Connection) -> list[int]:
    """Row numbers whose chain value does not follow from the row before (an edited hash)."""
    bad, previous = [], None
    for n, sid, sha, chain in db.execute(
            "SELECT n, segment_id, sha256, chain FROM segment_hashes ORDER BY n"):
        if previous is not None and link(previous, sid, sha) != chain:
            bad.append(n)
        previous = chain
    return bad


def seal(store, logbook, actor: str = "system") -> dict:
    """Put the chain head into the usage logbook (signed with its head); return what was
    sealed. Nothing is appended when no hash was added since the last seal."""
    with store.lock:
        n, head = chain_head(store.db)
    last = logbook.db.execute("SELECT subject FROM logbook WHERE book = 'usage' AND action = "
                              "'segment-hashes' ORDER BY n DESC LIMIT 1").fetchone()
    if last is not None and last[0] == f"hash {n}":
        return {"n": n, "chain": head, "new": False}
    logbook.append("usage", actor, "segment-hashes", subject=f"hash {n}",
                   reason="recording-time hashes of the segments (proof for exports)",
                   details={"hashes": n, "chain": head})
    return {"n": n, "chain": head, "new": True}
