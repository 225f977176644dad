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

Hashes go with their footage (R-40): `prune` removes the rows of erased segments, as a prefix
of the chain only, up to a head the logbook sealed, and logs it (`segment-hashes-pruned`, with
that head's number K and chain value). The chain kept in the index then starts at row K+1,
linked from the sealed value at K; a row of a segment that still exists is never removed, nor
anything after it. The retention sweep prunes when it is given the logbook.

`audit` (run by `nvr recordings verify` through `EncryptedStore.verify`) finds a hash changed
after recording: a break in the chain, a chain that no longer reaches a head the logbook sealed
(the hash was changed and the chain redone after it), a chain whose first rows are gone
without a logged prune at a sealed head, and a segment whose plaintext no longer has its
recording-time hash. The sealed heads and prunes are only as good as the logbook: `nvr logbook
verify` checks its keyed chain and signed heads, and a caller holding the logbook passes
`vouched` so that only entries with the device's MAC under the signed head count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator

from firmware.i18n import N_

GENESIS = "0" * 64
PRUNED = "segment-hashes-pruned"             # the usage logbook's action of a prune
PRUNE_REASON = N_("recording-time hashes of segments erased under the retention rule removed "
                  "with them (R-40); the hash chain in the index now starts after the sealed "
                  "hash named here")

# Whether usage logbook entry n is the device's own (its MAC, under the signed head): given by
# whoever holds the logbook (governance/logbook.py `Logbook.genuine`).
Vouch = Callable[[int], bool]

log = logging.getLogger(__name__)


def link(previous: str, segment_id: str, sha256: str) -> str:
    """The chain value after `previous` for one segment's hash."""
    return hashlib.sha256(f"{previous}|{segment_id}|{sha256}".encode()).hexdigest()


def record_hash(db: sqlite3.Connection, segment_id: str, sha256: str) -> str:
    """Append one segment's hash to the chain (inside the caller's transaction)."""
    row = db.execute("SELECT chain FROM segment_hashes ORDER BY n DESC LIMIT 1").fetchone()
    # Empty, or every row pruned: on from the logged start (its number follows the last row's,
    # AUTOINCREMENT, so rows removed after the prune show as a break).
    chain = link(row[0] if row else chain_start(db)[1] or GENESIS, segment_id, sha256)
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
    if row is not None:
        return row[0], row[1]
    k, anchor = chain_start(db)            # every row pruned: the head is where it starts
    return (k, anchor) if anchor else (0, GENESIS)


def _usage_entries(db: sqlite3.Connection, action: str) -> list[tuple[int, dict]]:
    """(entry number, details) of the usage logbook's `action` entries, oldest first."""
    try:
        rows = db.execute("SELECT n, details FROM logbook WHERE book = 'usage' AND action = ? "
                          "ORDER BY n", (action,)).fetchall()
    except sqlite3.OperationalError:            # no logbook in this index (a bare store)
        return []
    out = []
    for entry, details in rows:
        try:
            found = json.loads(details)
            out.append((entry, {"entry": entry, "n": int(found["hashes"]),
                                "chain": str(found["chain"])}))
        except (ValueError, KeyError, TypeError):
            continue                    # not one the device wrote: it counts as no entry
    return out


def sealed_heads(db: sqlite3.Connection) -> list[dict]:
    """The heads sealed in the usage logbook, oldest first: [{entry, n, chain}]."""
    return [found for _, found in _usage_entries(db, "segment-hashes")]


def logged_prunes(db: sqlite3.Connection) -> list[dict]:
    """The prunes logged in the usage logbook, oldest first: [{entry, n, chain}]."""
    return [found for _, found in _usage_entries(db, PRUNED)]


def chain_start(db: sqlite3.Connection, vouched: Vouch | None = None) -> tuple[int, str | None]:
    """Where the chain kept in the index starts: (K, the chain value row K+1 links from).
    (0, GENESIS) when nothing was pruned. After a prune the first row present is K+1, and the
    value is the chain of a logged prune at K that matches a head sealed at K (both entries
    vouched for, when `vouched` is given); with an empty table, the newest such prune. The
    value is None when no such prune explains why the rows before K+1 are gone (R-50)."""
    first = db.execute("SELECT min(n) FROM segment_hashes").fetchone()[0]
    prunes = logged_prunes(db)
    if first is not None:
        k = first - 1
    elif prunes:
        k = max(p["n"] for p in prunes)
    else:
        return 0, GENESIS
    if k == 0:
        return 0, GENESIS
    heads = {(h["n"], h["chain"]): h["entry"] for h in sealed_heads(db)}
    for p in reversed(prunes):
        seal_entry = heads.get((p["n"], p["chain"]))
        if p["n"] == k and seal_entry is not None and (
                vouched is None or (vouched(p["entry"]) and vouched(seal_entry))):
            return k, p["chain"]
    return k, None


def chain_breaks(db: sqlite3.Connection, vouched: Vouch | None = None) -> list[int]:
    """Row numbers whose chain value does not follow from the row before (an edited hash), or
    the first row when the rows before it are gone without a logged prune."""
    bad, previous = [], chain_start(db, vouched)[1]
    for n, sid, sha, chain in db.execute(
            "SELECT n, segment_id, sha256, chain FROM segment_hashes ORDER BY n"):
        if previous is None or link(previous, sid, sha) != chain:
            bad.append(n)                   # edited, or the rows before it removed unlogged
        previous = chain
    return bad


def export_problems(db: sqlite3.Connection, segment_ids: list[str],
                    vouched: Vouch | None = None) -> list[dict]:
    """What stops an export of `segment_ids` (issue 13 item 3, redteam13): an audit problem of
    one of them, or a segment without its recording-time hash although hashing was in place
    when it was recorded (a hash of an earlier segment exists, or the chain's first rows were
    removed without a logged prune): its row was deleted, and the manifest would list it as
    `null`."""
    with _snapshot(db):
        return _export_problems(db, segment_ids, vouched)


def _export_problems(db: sqlite3.Connection, segment_ids: list[str],
                     vouched: Vouch | None) -> list[dict]:
    wanted = set(segment_ids)
    found = audit(db, vouched=vouched)
    problems = [p for p in found if p["segment"] in wanted]
    # A chain that does not hold anywhere (sealed rows gone, "hash N", or replaced: a sealed
    # head named by another segment) cannot tell that a segment without its hash was recorded
    # before hashing began, even when no earlier row is left (redteam13c: the table emptied).
    return problems + _missing(db, segment_ids, vouched, removed=bool(found))


def _missing(db: sqlite3.Connection, segment_ids: Iterable[str], vouched: Vouch | None,
             removed: bool) -> list[dict]:
    """Segments of `segment_ids` without their recording-time hash although hashing was in
    place when they were recorded (`removed`: the chain does not hold anywhere)."""
    segment_ids = list(segment_ids)
    known = hashes_of(db, segment_ids)
    _, anchor = chain_start(db, vouched)
    problems = []
    for sid in segment_ids:
        if sid in known:
            continue
        if anchor is None or removed or db.execute(
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


# A hash row whose segment still exists, or is held: an active hold keeps the segment's
# data key even when its index row is gone (deleted with sqlite3: redteam13c), so the footage
# can come back, and its proof must not go first under a prune the device signs.
_KEPT = ("(EXISTS (SELECT 1 FROM segments s WHERE s.id = h.segment_id) OR EXISTS (SELECT 1 "
         "FROM hold_segments hs JOIN holds o ON o.id = hs.hold_id WHERE hs.segment_id = "
         "h.segment_id AND o.wrapped_key IS NOT NULL))")


def prune(store, logbook, actor: str = "nvr") -> dict | None:
    """Remove the rows of erased segments from the start of the chain, up to the newest head
    the logbook sealed below the first row whose segment still exists (R-40), after logging
    the prune in the usage logbook; returns {hashes, chain, removed}, or None when nothing
    can go. Only a chain that verifies up to that head is pruned: a break found in it stays
    for `audit` to report. Cheap when nothing is due: one indexed look at the first row."""
    with store.lock:
        db = store.db
        first = db.execute("SELECT min(n) FROM segment_hashes").fetchone()[0]
        if first is None:
            return None
        kept = db.execute(f"SELECT h.n FROM segment_hashes h WHERE {_KEPT} ORDER BY h.n "
                          "LIMIT 1").fetchone()
        limit = kept[0] if kept else chain_head(db)[0] + 1
        if limit == first:                  # the first row's segment is still there
            return None
        head = max((h for h in sealed_heads(db) if first <= h["n"] < limit),
                   key=lambda h: h["n"], default=None)
        if head is None:                    # nothing sealed there yet: the next sweep
            return None
        _, chain = chain_start(db)
        expected = first
        # Every head sealed in the range, not only the last: a hash changed after its seal
        # and the chain redone (and sealed on by the recorder) must stay for `audit` to name,
        # never go under a prune (redteam13c).
        sealed = {}
        for h in sealed_heads(db):
            if first <= h["n"] <= head["n"]:
                sealed.setdefault(h["n"], set()).add(h["chain"])
        for n, sid, sha, value in db.execute(
                "SELECT n, segment_id, sha256, chain FROM segment_hashes WHERE n <= ? "
                "ORDER BY n", (head["n"],)):
            if (chain is None or n != expected or link(chain, sid, sha) != value
                    or sealed.get(n, {value}) != {value}):
                log.warning("recording-time hashes not pruned: the chain does not verify at "
                            "hash %d; `nvr recordings verify` names the fault", n)
                return None
            chain, expected = value, n + 1
        if chain != head["chain"]:
            log.warning("recording-time hashes not pruned: hash %d is not the head sealed in "
                        "usage logbook entry %d", head["n"], head["entry"])
            return None
    k = head["n"]
    if not any(p["n"] == k for p in logged_prunes(logbook.db)):   # (a crash after the entry)
        logbook.append("usage", actor, "segment-hashes-pruned", subject=f"hash {k}",
                       reason=PRUNE_REASON, details={"hashes": k, "chain": chain})
    with store.transaction() as db:
        if db.execute(f"SELECT 1 FROM segment_hashes h WHERE h.n <= ? AND {_KEPT} LIMIT 1",
                      (k,)).fetchone():
            return None                     # (cannot happen: an erased segment stays erased)
        removed = db.execute("DELETE FROM segment_hashes WHERE n <= ?", (k,)).rowcount
    log.info("pruned %d recording-time hash(es) of erased segments, up to sealed hash %d",
             removed, k)
    return {"hashes": k, "chain": chain, "removed": removed}


@contextlib.contextmanager
def _snapshot(db: sqlite3.Connection) -> Iterator[None]:
    """One read transaction for a check that reads the index several times: a prune that the
    owner commits meanwhile (its entry, then the rows) is then never taken for a removal."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("ROLLBACK")


def audit(db: sqlite3.Connection, plaintext: dict[str, str] | None = None,
          vouched: Vouch | None = None) -> list[dict]:
    """Recording-time hashes changed since they were recorded or sealed (R-50, issue 13 item
    3): [{segment, error}], empty when none. `plaintext` maps segment ids to the SHA-256 of
    their plaintext as read now; `vouched` (see Vouch) limits the logbook entries that count."""
    with _snapshot(db):
        return _audit(db, plaintext, vouched)


def _audit(db: sqlite3.Connection, plaintext: dict[str, str] | None,
           vouched: Vouch | None) -> list[dict]:
    problems = []
    ids = {r[0]: r[1] for r in db.execute("SELECT n, segment_id FROM segment_hashes")}
    start, anchor = chain_start(db, vouched)
    for n in chain_breaks(db, vouched):
        problems.append({"segment": ids[n], "error": (
            f"the hash chain breaks at recording-time hash {n}: this segment's hash or chain "
            "value was changed in the index after it was recorded, or the hashes before it "
            "were removed without a logged prune; report this to the privacy officer")})
    for head in sealed_heads(db):
        if anchor is not None and head["n"] <= start:
            continue                        # pruned with its erased footage, logged
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
    if start and anchor is None and not ids:
        problems.append({"segment": f"hash {start}", "error": (
            f"the recording-time hashes up to {start} are gone from the index without a prune "
            "the logbook vouches for at a sealed head: they were removed; report this to the "
            "privacy officer")})
    recorded = hashes_of(db, list(plaintext or {}))
    for sid, now in (plaintext or {}).items():
        then = recorded.get(sid, {}).get("sha256")
        if then is not None and then != now:
            problems.append({"segment": sid, "error": (
                f"its plaintext's SHA-256 ({now}) is not its recording-time hash ({then}): "
                "the segment or its recorded hash was changed after recording; report this "
                "to the privacy officer")})
    # a segment read now whose hash row was deleted, the chain redone over the gap and the
    # seals edited to match (redteam13c finding 6): its neighbours still have theirs
    return problems + _missing(db, plaintext or {}, vouched, removed=bool(problems))
