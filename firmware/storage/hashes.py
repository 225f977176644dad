"""Proof back to recording time: each segment's SHA-256, kept since it was written.

The store hashes a segment's plaintext MP4 while it encrypts it (no second pass) and records the
hash in `segment_hashes` with the segment's row, in the same transaction. The rows form a hash
chain: `chain = sha256(previous chain | segment id | sha256)`, the first after GENESIS. One
logbook entry per segment would flood the logbook, so the logbook links the hashes by their
chain head instead: `seal` appends one `segment-hashes` entry (usage book) with the head and the
number of hashes since the last seal. The logbook's signed head then covers every hash up to
that head: an edited or removed hash breaks the chain between two sealed heads, and a hash
added afterwards is not under any seal. The recorder seals every ten minutes while it writes and
at a clean stop (recording/sealing.py), and every export seals before the package is made.

`audit` (run by `nvr recordings verify` through `EncryptedStore.verify`) finds a hash changed
after recording: a break in the chain, a chain that no longer reaches a head the logbook sealed
(the hash was changed and the chain redone after it), and a segment whose plaintext no longer
has its recording-time hash. The sealed heads are only as good as the logbook: `nvr logbook
verify` checks its keyed chain and signed heads.
"""

from __future__ import annotations

import hashlib
import json
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
        if previous is None and n != 1:
            bad.append(n)                   # the rows before the first were removed
        elif link(GENESIS if previous is None else previous, sid, sha) != chain:
            bad.append(n)
        previous = chain
    return bad


def export_problems(db: sqlite3.Connection, segment_ids: list[str]) -> list[dict]:
    """What stops an export of `segment_ids` (issue 13 item 3, redteam13): an audit problem of
    one of them, or a segment without its recording-time hash although hashing was in place
    when it was recorded (a hash of an earlier segment exists, or the chain's first rows were
    removed): its row was deleted, and the manifest would list it as `null`."""
    wanted = set(segment_ids)
    problems = [p for p in audit(db) if p["segment"] in wanted]
    known = hashes_of(db, segment_ids)
    first = db.execute("SELECT min(n) FROM segment_hashes").fetchone()[0]
    for sid in segment_ids:
        if sid in known:
            continue
        if (first is not None and first != 1) or db.execute(
                "SELECT 1 FROM segment_hashes WHERE segment_id < ? LIMIT 1", (sid,)).fetchone():
            problems.append({"segment": sid, "error": (
                "its recording-time hash is missing from the index although the segments "
                "recorded before it have theirs: it was removed; report this to the privacy "
                "officer")})
    return problems


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


def sealed_heads(db: sqlite3.Connection) -> list[dict]:
    """The heads sealed in the usage logbook, oldest first: [{entry, n, chain}]."""
    try:
        rows = db.execute("SELECT n, details FROM logbook WHERE book = 'usage' AND action = "
                          "'segment-hashes' ORDER BY n").fetchall()
    except sqlite3.OperationalError:            # no logbook in this index (a bare store)
        return []
    heads = []
    for entry, details in rows:
        found = json.loads(details)
        heads.append({"entry": entry, "n": found["hashes"], "chain": found["chain"]})
    return heads


def audit(db: sqlite3.Connection, plaintext: dict[str, str] | None = None) -> list[dict]:
    """Recording-time hashes changed since they were recorded or sealed (R-50, issue 13 item
    3): [{segment, error}], empty when none. `plaintext` maps segment ids to the SHA-256 of
    their plaintext as read now."""
    problems = []
    ids = {r[0]: r[1] for r in db.execute("SELECT n, segment_id FROM segment_hashes")}
    for n in chain_breaks(db):
        problems.append({"segment": ids[n], "error": (
            f"the hash chain breaks at recording-time hash {n}: this segment's hash or chain "
            "value was changed in the index after it was recorded; report this to the "
            "privacy officer")})
    for head in sealed_heads(db):
        row = db.execute("SELECT segment_id, chain FROM segment_hashes WHERE n = ?",
                         (head["n"],)).fetchone() if head["n"] else ("", GENESIS)
        if row is None:
            problems.append({"segment": f"hash {head['n']}", "error": (
                f"recording-time hashes up to {head['n']}, sealed in the usage logbook (entry "
                f"{head['entry']}), are missing from the index: they were removed; report "
                "this to the privacy officer")})
        elif row[1] != head["chain"]:
            problems.append({"segment": row[0] or f"hash {head['n']}", "error": (
                f"the hash chain up to recording-time hash {head['n']} is not the one sealed "
                f"in the usage logbook (entry {head['entry']}): a hash up to it was changed "
                "after it was sealed; report this to the privacy officer")})
    recorded = hashes_of(db, list(plaintext or {}))
    for sid, now in (plaintext or {}).items():
        then = recorded.get(sid, {}).get("sha256")
        if then is not None and then != now:
            problems.append({"segment": sid, "error": (
                f"its plaintext's SHA-256 ({now}) is not its recording-time hash ({then}): "
                "the segment or its recorded hash was changed after recording; report this "
                "to the privacy officer")})
    return problems
