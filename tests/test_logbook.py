"""The logbooks cannot be changed unnoticed (R-50, R-51; issue 9 item 8).

Attacks are made the way someone with the database file but without the device's keys would
make them: with Python's sqlite3 module or the sqlite3 command-line shell on the real index,
computing the public SHA-256 chain hash themselves.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import time

import pytest

from firmware.config import load
from firmware.governance import db as gdb
from firmware.governance.logbook import DeviceSigner, Logbook
from firmware.governance.roles import Role
from firmware.governance.service import Governance

from conftest import PASSWORD, nvr, staff, write_config

NOW = time.time() - 3600
DAY = 86400.0


# --- what an attacker with the database alone does ------------------------------------------

def chain_hash(book: str, n: int, at: float, actor: str, action: str, subject: str,
               reason: str, details: str, prev: str) -> str:
    """The entry hash as docs/governance.md describes it: public, no key needed."""
    payload = json.dumps([book, n, repr(at), actor, action, subject, reason, details, prev],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def forged_row(db: sqlite3.Connection, book: str, at: float, actor: str = "b.beheerder",
               action: str = "playback", subject: str = "segment-forged",
               reason: str = "incident") -> dict:
    """The next entry of `book`, with a correct chain hash and the attacker's best guess for
    any column they cannot compute (a MAC, if the table has one)."""
    db.row_factory = sqlite3.Row
    tail = db.execute("SELECT * FROM logbook WHERE book = ? ORDER BY n DESC LIMIT 1",
                      (book,)).fetchone()
    n, prev = tail["n"] + 1, tail["hash"]
    row = {"book": book, "n": n, "at": at, "actor": actor, "action": action,
           "subject": subject, "reason": reason, "details": "{}", "prev": prev}
    row["hash"] = chain_hash(**row)
    columns = [c[1] for c in db.execute("PRAGMA table_info(logbook)")]
    for extra in set(columns) - set(row):
        row[extra] = hashlib.sha256(row["hash"].encode()).hexdigest()   # a guess
    return {c: row[c] for c in columns}


def insert_with_sqlite3_module(index_path, row: dict) -> None:
    db = sqlite3.connect(index_path, isolation_level=None)
    db.execute(f"INSERT INTO logbook ({', '.join(row)}) VALUES "
               f"({', '.join('?' for _ in row)})", list(row.values()))
    db.close()


def sql_literal(value) -> str:
    return repr(value) if isinstance(value, (int, float)) else "'" + value.replace("'", "''") + "'"


@pytest.fixture
def book(tmp_path):
    """Six usage entries and one inzien entry on a real index, keys in their own directory."""
    conn = gdb.connect(tmp_path / "data")
    logbook = Logbook(conn, DeviceSigner(tmp_path / "keys"))
    for i in range(6):
        logbook.append("usage", "b.beheerder", "playback", subject=f"segment-{i}",
                       reason="incident", at=NOW + i)
    logbook.append("inzien", "p.officer", "request-intake", subject="R-2026-7", at=NOW)
    assert logbook.verify().ok
    return logbook, tmp_path / "data" / "index.sqlite3"


def problems(logbook) -> tuple[list[tuple[str, int]], str]:
    result = logbook.verify()
    assert not result.ok
    return [(p.book, p.n) for p in result.problems], " ".join(str(p) for p in result.problems)


# --- issue 9 item 8: the attack of the issue --------------------------------------------------

def test_backdated_entry_appended_after_the_signed_head_is_flagged_R50(book):
    """An entry appended with sqlite3 after the signed head, dated 20 days back, is named by
    verify; the next real entry does not sign over it: it stays named."""
    logbook, index_path = book
    db = sqlite3.connect(index_path)
    row = forged_row(db, "usage", NOW - 20 * DAY)
    db.close()
    insert_with_sqlite3_module(index_path, row)
    found, text = problems(logbook)
    assert ("usage", 7) in found, text
    assert "after the signed head" in text and "MAC" in text and "before the entry" in text
    assert logbook.verify().first_bad == {"usage": 7}

    logbook.append("usage", "b.beheerder", "login")           # the next real entry
    found, text = problems(logbook)
    assert ("usage", 7) in found, text
    actions = [e["action"] for e in logbook.entries("usage")]
    assert actions[6:] == ["playback", "logbook-break", "login"]
    assert ("usage", 8) in found and "break" in text
    for _ in range(3):                                         # and it stays named
        logbook.append("usage", "b.beheerder", "login")
    assert {("usage", 7), ("usage", 8)} <= set(problems(logbook)[0])


def test_sqlite3_shell_attack_on_a_device_is_named_by_nvr_logbook_verify_R50(tmp_path):
    """The same attack through the sqlite3 command-line shell on a device's real index,
    checked with the real `nvr logbook verify`."""
    config = write_config(tmp_path)
    env = staff(config)
    gov = Governance.open(load(config))
    admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
    gov.accounts.add("d.dpo", Role.DPO, PASSWORD, by=admin)
    gov.close()
    index_path = tmp_path / "data" / "index.sqlite3"
    db = sqlite3.connect(index_path)
    row = forged_row(db, "usage", time.time() - 20 * DAY, actor="b.beheerder",
                     action="export", subject="camera cam")
    db.close()
    sql = (f"INSERT INTO logbook ({', '.join(row)}) VALUES "
           f"({', '.join(sql_literal(v) for v in row.values())});")
    subprocess.run(["sqlite3", str(index_path), sql], check=True, capture_output=True)

    verify = nvr("--config", str(config), "logbook", "verify", "--user", "d.dpo", "--json",
                 env=env)
    assert verify.returncode == 1, verify.stdout
    result = json.loads(verify.stdout)
    assert not result["ok"] and result["first_bad"] == {"usage": row["n"]}
    named = [p for p in result["problems"] if p["book"] == "usage" and p["entry"] == row["n"]]
    assert named, result
    again = nvr("--config", str(config), "logbook", "verify", "--user", "d.dpo", env=env)
    assert again.returncode == 1 and f"usage entry {row['n']}:" in again.stdout
