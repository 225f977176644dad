"""The logbooks cannot be changed unnoticed (R-50, R-51; issue 9 item 8).

Attacks are made the way someone with the database file but without the device's keys would
make them: with Python's sqlite3 module or the sqlite3 command-line shell on the real index,
computing the public SHA-256 chain hash themselves.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from firmware.config import load
from firmware.governance import db as gdb
from firmware.governance.logbook import DeviceSigner, Logbook
from firmware.governance.roles import Role
from firmware.governance.service import Governance

from conftest import PASSWORD, ROOT, add_accounts, nvr, staff, write_config

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
    add_accounts(gov, {"d.dpo": Role.DPO})               # approved by m.manager
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


def test_every_entry_beyond_the_signed_head_is_named_R50(book):
    logbook, index_path = book
    for days in (3, 2):
        db = sqlite3.connect(index_path)
        row = forged_row(db, "usage", NOW + 60 - days * DAY)
        db.close()
        insert_with_sqlite3_module(index_path, row)
    found, text = problems(logbook)
    assert {("usage", 7), ("usage", 8)} <= set(found)
    assert text.count("after the signed head") == 2 and text.count("MAC") == 2
    assert logbook.verify().first_bad == {"usage": 7}


def test_rewritten_chain_without_the_key_is_named_entry_by_entry_R50(book):
    """Entry 3 edited and every hash after it recomputed: the public chain is consistent
    again, but no MAC is, and the signed head names the difference."""
    logbook, index_path = book
    db = sqlite3.connect(index_path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("DROP TRIGGER logbook_no_update")
    prev = db.execute("SELECT hash FROM logbook WHERE book = 'usage' AND n = 2").fetchone()[0]
    for r in db.execute("SELECT * FROM logbook WHERE book = 'usage' AND n >= 3 ORDER BY n"
                        ).fetchall():
        r = dict(r, prev=prev, reason="curiosity" if r["n"] == 3 else r["reason"])
        digest = chain_hash(*(r[k] for k in ("book", "n", "at", "actor", "action", "subject",
                                             "reason", "details", "prev")))
        db.execute("UPDATE logbook SET reason = ?, prev = ?, hash = ? WHERE book = 'usage' "
                   "AND n = ?", (r["reason"], prev, digest, r["n"]))
        prev = digest
    db.close()
    result = logbook.verify()
    assert not result.ok
    mac = [p.n for p in result.problems if "MAC" in p.message]
    assert mac == [3, 4, 5, 6]
    assert any(p.n == 6 and "differs from the signed head" in p.message
               for p in result.problems)
    assert result.first_bad == {"usage": 3}


# --- the checks that were there before keep working ----------------------------------------

@pytest.fixture
def opened(book):
    """The book with its append-only triggers dropped: what an attacker with the file does."""
    logbook, index_path = book
    db = sqlite3.connect(index_path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("DROP TRIGGER logbook_no_update")
    db.execute("DROP TRIGGER logbook_no_delete")
    yield logbook, db
    db.close()


def reinsert(db, rows: list[dict]) -> None:
    for r in rows:
        db.execute(f"INSERT INTO logbook ({', '.join(r)}) VALUES ({', '.join('?' for _ in r)})",
                   list(r.values()))


def test_logbook_is_append_only_in_sql(book):
    logbook, index_path = book
    db = sqlite3.connect(index_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE logbook SET actor = 'y'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM logbook")


def test_edited_entry_is_named(opened):
    logbook, db = opened
    db.execute("UPDATE logbook SET reason = 'curiosity' WHERE book = 'usage' AND n = 3")
    found, text = problems(logbook)
    assert ("usage", 3) in found and "was edited" in text
    assert logbook.verify().first_bad == {"usage": 3}


def test_deleted_entry_is_named(opened):
    logbook, db = opened
    db.execute("DELETE FROM logbook WHERE book = 'usage' AND n = 4")
    found, text = problems(logbook)
    assert ("usage", 4) in found and "missing" in text


def test_inserted_entry_is_named(opened):
    logbook, db = opened
    rows = logbook.entries("usage")
    db.execute("DELETE FROM logbook WHERE book = 'usage' AND n >= 3")
    forged = dict(rows[1], n=3, subject="forged", prev=rows[1]["hash"])
    reinsert(db, [forged] + [dict(r, n=r["n"] + 1) for r in rows[2:]])
    found, text = problems(logbook)
    assert ("usage", 3) in found and "was edited" in text


def test_reordered_entries_are_named(opened):
    logbook, db = opened
    rows = logbook.entries("usage")
    db.execute("DELETE FROM logbook WHERE book = 'usage' AND n IN (2, 3)")
    reinsert(db, [dict(rows[2], n=2), dict(rows[1], n=3)])
    found, text = problems(logbook)
    assert ("usage", 2) in found


def test_truncated_tail_is_detected_by_the_signed_head(opened):
    logbook, db = opened
    db.execute("DELETE FROM logbook WHERE book = 'usage' AND n >= 5")
    found, text = problems(logbook)
    assert ("usage", 5) in found and "truncated" in text and "says 6 entries, 4 are left" in text


def test_forged_head_is_detected(book):
    logbook, _ = book
    head = logbook.signer.head_path("usage")
    head.write_text(head.read_text().replace("n: 6", "n: 2"))
    found, text = problems(logbook)
    assert ("usage", 0) in found and "does not verify" in text


# --- appending over a bad tail: logging goes on, the break stays on the record ----------

def test_append_after_truncation_records_the_break_for_good(opened, caplog):
    logbook, db = opened
    db.execute("DELETE FROM logbook WHERE book = 'usage' AND n >= 5")
    n = logbook.append("usage", "b.beheerder", "login")
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "did not verify before an append" in caplog.text
    entries = logbook.entries("usage")
    assert [e["action"] for e in entries[4:]] == ["logbook-break", "login"] and n == 6
    recorded = json.loads(entries[4]["details"])
    assert recorded["signed_head"]["n"] == 6 and recorded["tail"]["n"] == 4
    assert "entries were removed" in recorded["fault"]
    logbook.append("usage", "b.beheerder", "logout")
    found, text = problems(logbook)
    assert found == [("usage", 5)] and "records a break" in text and "removed" in text


def test_a_missing_mac_key_is_a_break_not_a_silent_new_start(tmp_path):
    conn = gdb.connect(tmp_path / "data")
    Logbook(conn, DeviceSigner(tmp_path / "keys")).append("usage", "a", "login")
    (tmp_path / "keys" / "logbook-mac.key").unlink()
    logbook = Logbook(conn, DeviceSigner(tmp_path / "keys"))       # a new key, made on use
    logbook.append("usage", "a", "login")
    assert [e["action"] for e in logbook.entries("usage")] == ["login", "logbook-break", "login"]
    found, text = problems(logbook)
    assert found == [("usage", 1), ("usage", 2)] and "MAC" in text


def test_a_damaged_key_is_kept_aside_and_logging_goes_on_with_a_break(tmp_path):
    conn = gdb.connect(tmp_path / "data")
    first = Logbook(conn, DeviceSigner(tmp_path / "keys"))
    first.append("usage", "a", "login")
    pinned = first.head_statement("usage")["fingerprint"]
    (tmp_path / "keys" / "device-signing.key").write_bytes(b"short")
    logbook = Logbook(conn, DeviceSigner(tmp_path / "keys"))
    assert logbook.append("usage", "a", "login") == 3
    assert logbook.head_statement("usage")["fingerprint"] != pinned   # the central room sees it
    assert [p.read_bytes() for p in (tmp_path / "keys").glob("device-signing.key.unusable-*")
            ] == [b"short"]
    assert [e["action"] for e in logbook.entries("usage")][1] == "logbook-break"
    found, text = problems(logbook)
    assert found == [("usage", 2)] and "does not verify with the device key" in text


def test_logbook_keys_live_in_the_key_directory_mode_0600(tmp_path):
    conn = gdb.connect(tmp_path / "data")
    logbook = Logbook(conn, DeviceSigner(tmp_path / "keys"))
    logbook.append("usage", "a", "login")
    for name in ("logbook-mac.key", "device-signing.key", "shared/logbook-usage.signed-head"):
        path = tmp_path / "keys" / name
        assert path.stat().st_mode & 0o777 == 0o600, name
    assert not list((tmp_path / "data").glob("*.key"))
    assert len((tmp_path / "keys" / "logbook-mac.key").read_bytes()) == 32


# --- times move forward ---------------------------------------------------------------------

def test_append_never_dates_an_entry_before_the_tail_R50(book):
    logbook, _ = book
    tail = logbook.entries("usage")[-1]
    logbook.append("usage", "b.beheerder", "login", at=tail["at"] - 5 * DAY)
    last = logbook.entries("usage")[-1]
    assert last["at"] == tail["at"]
    assert json.loads(last["details"])["device_clock"] == tail["at"] - 5 * DAY
    assert logbook.verify().ok


def test_an_entry_dated_before_the_one_before_it_is_named_R50(book):
    """Even written with the key (by someone who holds it), a back-dated entry is named."""
    logbook, index_path = book
    db = sqlite3.connect(index_path)
    row = forged_row(db, "usage", NOW - 20 * DAY)
    db.close()
    row["mac"] = logbook.signer.mac(row["hash"])
    insert_with_sqlite3_module(index_path, row)
    logbook._sign_head("usage", row)
    found, text = problems(logbook)
    assert found == [("usage", 7)] and "dated before the entry before it" in text


# --- parallel writers: web threads and the CLI at once --------------------------------------

WRITER = """
import sys, threading
from pathlib import Path
from firmware.governance import db as gdb
from firmware.governance.logbook import DeviceSigner, Logbook
root, who, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def write(thread):
    logbook = Logbook(gdb.connect(root / "data"), DeviceSigner(root / "keys"))
    for i in range(count):
        logbook.append("usage", f"{who}.{thread}", "login", details={"i": i})
threads = [threading.Thread(target=write, args=(t,)) for t in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_two_processes_appending_at_once_keep_one_chain_and_head_R50(tmp_path):
    """Two processes, two threads each, append at the same time: one unbroken chain, no
    break recorded, and the signed head is the last entry."""
    Logbook(gdb.connect(tmp_path / "data"), DeviceSigner(tmp_path / "keys"))   # keys made
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), who, "60"],
                              cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for who in ("web", "cli")]
    logbook = Logbook(gdb.connect(tmp_path / "data"), DeviceSigner(tmp_path / "keys"))
    while any(p.poll() is None for p in procs):        # verify while they write: rows and
        result = logbook.verify()                        # heads are read consistently
        assert result.ok, result.problems
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    entries = logbook.entries("usage")
    assert [e["n"] for e in entries] == list(range(1, 241))
    assert {e["action"] for e in entries} == {"login"}
    assert len({e["actor"] for e in entries}) == 4
    result = logbook.verify()
    assert result.ok, result.problems
    assert logbook.head_statement("usage")["n"] == 240


# --- anchoring the head outside the device --------------------------------------------------

def openssl_verify(statement: dict, folder) -> subprocess.CompletedProcess:
    """What the central room runs: Ed25519 with the real openssl, the key given as DER."""
    (folder / "msg").write_bytes(statement["message"].encode())
    (folder / "sig").write_bytes(bytes.fromhex(statement["signature"]))
    (folder / "pub.der").write_bytes(bytes.fromhex(statement["public_key"]))
    return subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                           str(folder / "pub.der"), "-keyform", "DER", "-rawin",
                           "-in", str(folder / "msg"), "-sigfile", str(folder / "sig")],
                          capture_output=True, text=True)


def openssl_fingerprint(statement: dict, folder) -> str:
    (folder / "pub.der").write_bytes(bytes.fromhex(statement["public_key"]))
    der = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in",
                          str(folder / "pub.der"), "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return hashlib.sha256(der).hexdigest()


def test_head_statement_verifies_with_openssl_R50(book, tmp_path):
    logbook, _ = book
    statement = logbook.head_statement("usage")
    tail = logbook.entries("usage")[-1]
    assert (statement["book"], statement["n"], statement["hash"]) == ("usage", 6, tail["hash"])
    assert statement["message"].splitlines() == [
        "nvr-logbook-head/2", "book: usage", "n: 6", f"hash: {tail['hash']}",
        f"time: {statement['time']}", f"key: {statement['fingerprint']}"]
    checked = openssl_verify(statement, tmp_path)
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout
    # the Python check of docs/governance.md
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    key = load_der_public_key(bytes.fromhex(statement["public_key"]))
    key.verify(bytes.fromhex(statement["signature"]), statement["message"].encode())
    assert openssl_fingerprint(statement, tmp_path) == statement["fingerprint"]
    forged = dict(statement, message=statement["message"].replace("n: 6", "n: 5"))
    assert openssl_verify(forged, tmp_path).returncode != 0


def test_nvr_logbook_head_and_the_exports_carry_the_signed_head_R50_R51(tmp_path):
    """`nvr logbook head --json`, the CSV export and the first page of the PDF export state
    the same signed head, and the central room checks each with openssl."""
    from firmware.governance.paperwork import logbook_file
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    add_accounts(gov, {"d.dpo": Role.DPO})               # approved by m.manager
    dpo = gov.accounts.authenticate("d.dpo", PASSWORD).actor()

    head = nvr("--config", str(config), "logbook", "head", "--json")
    assert head.returncode == 0, head.stderr
    heads = json.loads(head.stdout)
    assert set(heads) == {"usage", "inzien"} and heads["inzien"]["n"] == 0
    usage = heads["usage"]
    assert usage["n"] == len(gov.logbook.entries("usage"))
    assert openssl_verify(usage, tmp_path).returncode == 0
    assert openssl_verify(heads["inzien"], tmp_path).returncode == 0
    text = nvr("--config", str(config), "logbook", "head", "--book", "usage")
    assert text.returncode == 0 and usage["message"] in text.stdout

    out = tmp_path / "usage.csv"
    logbook_file(gov, dpo, "usage", "csv", load(config), out)
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    blank = rows.index([])
    entries, (fields, values) = rows[1:blank], rows[blank + 1:]
    statement = dict(zip(["message", "signature", "public_key", "fingerprint"], values))
    assert fields == ["head_statement", "signature_ed25519", "public_key_der",
                      "fingerprint_sha256"]
    assert openssl_verify(statement, tmp_path).returncode == 0
    n = int(statement["message"].split("\nn: ")[1].split("\n")[0])
    signed_hash = statement["message"].split("\nhash: ")[1].split("\n")[0]
    hash_column = rows[0].index("hash")
    assert n == len(entries) and entries[n - 1][1] == str(n)
    assert entries[n - 1][hash_column] == signed_hash
    assert statement["fingerprint"] == usage["fingerprint"]

    pdf = tmp_path / "usage.pdf"
    logbook_file(gov, dpo, "usage", "pdf", load(config), pdf)
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in first.splitlines()]
    start = lines.index("nvr-logbook-head/2")
    message = "".join(line + "\n" for line in lines[start:start + 6])
    assert message.startswith("nvr-logbook-head/2\nbook: usage\n")
    sig = lines[start + 6].removeprefix("signature: ") + lines[start + 7]
    key = lines[start + 8].removeprefix("public_key: ")
    checked = openssl_verify({"message": message, "signature": sig, "public_key": key},
                             tmp_path)
    assert checked.returncode == 0, (message, sig, key, checked.stderr)


# --- entries from before the keyed logbook --------------------------------------------------

def test_an_unkeyed_logbook_of_schema_1_is_set_aside_and_kept(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / "index.sqlite3")
    old.executescript("""
        CREATE TABLE logbook (book TEXT NOT NULL, n INTEGER NOT NULL, at REAL NOT NULL,
            actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
            reason TEXT NOT NULL, details TEXT NOT NULL, prev TEXT NOT NULL,
            hash TEXT NOT NULL, PRIMARY KEY (book, n));
        CREATE TRIGGER logbook_no_delete BEFORE DELETE ON logbook
        BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END;
        INSERT INTO logbook VALUES ('usage', 1, 1.0, 'a', 'login', '', '', '{}', '', 'h1');
    """)
    old.close()
    logbook = Logbook(gdb.connect(data), DeviceSigner(tmp_path / "keys"))
    assert logbook.entries("usage") == []
    assert logbook.append("usage", "a", "login") == 1 and logbook.verify().ok
    kept = sqlite3.connect(data / "index.sqlite3")
    assert kept.execute("SELECT actor, hash FROM logbook_v1").fetchall() == [("a", "h1")]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        kept.execute("DELETE FROM logbook_v1")
    gdb.connect(data)                                              # a second open: no change
    assert len(logbook.entries("usage")) == 1


def test_web_verify_names_the_first_bad_entry_R50(tmp_path):
    from firmware.web import create_app
    from webutil import login
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    add_accounts(gov, {"d.dpo": Role.DPO})               # approved by m.manager
    gov.close()
    index_path = tmp_path / "data" / "index.sqlite3"
    db = sqlite3.connect(index_path)
    row = forged_row(db, "usage", time.time() - 20 * DAY)
    db.close()
    insert_with_sqlite3_module(index_path, row)
    app = create_app(load(config))
    app.config["TESTING"] = True
    page = login(app, "d.dpo").get("/logbooks/verify").get_data(True)
    assert "NIET intact" in page and f"Eerste foute regel in Logboek gebruik: {row['n']}." in page
    # the login itself found the forged tail: the entry before the login records the break
    assert f"regel {row['n']}: does not carry the device&#39;s MAC" in page
    assert f"regel {row['n'] + 1}: records a break" in page


def test_an_entry_forged_far_ahead_does_not_drag_later_times_with_it_R50(book):
    logbook, index_path = book
    db = sqlite3.connect(index_path)
    row = forged_row(db, "usage", time.time() + 365 * DAY)
    db.close()
    insert_with_sqlite3_module(index_path, row)
    before = time.time()
    logbook.append("usage", "b.beheerder", "login")
    logbook.append("usage", "b.beheerder", "logout")
    entries = logbook.entries("usage")
    assert [e["action"] for e in entries[7:]] == ["logbook-break", "login", "logout"]
    assert all(before - 1 <= e["at"] <= time.time() for e in entries[7:])
    found, text = problems(logbook)
    assert found[0] == ("usage", 7) and ("usage", 8) in found
    assert "dated before the entry before it" in text        # the break, after the forgery


def test_an_append_that_does_not_commit_leaves_the_signed_head_as_it_was(book):
    """A commit that fails (here: a deferred foreign key, checked at COMMIT by the real
    SQLite) rolls the entry back and puts the head it was signed for back too."""
    logbook, index_path = book
    before = logbook.head_statement("usage")
    logbook.db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    logbook.db.execute("CREATE TABLE doomed (x REFERENCES parent(id) DEFERRABLE INITIALLY "
                       "DEFERRED)")
    logbook.db.execute("CREATE TEMP TRIGGER fail_at_commit AFTER INSERT ON main.logbook "
                       "BEGIN INSERT INTO doomed VALUES (1); END")
    with pytest.raises(sqlite3.IntegrityError):
        logbook.append("usage", "b.beheerder", "login")
    logbook.db.execute("DROP TRIGGER fail_at_commit")
    assert len(logbook.entries("usage")) == 6
    after = logbook.head_statement("usage")
    assert (after["n"], after["hash"]) == (before["n"], before["hash"]) == (6, before["hash"])
    assert logbook.verify().ok
    assert logbook.append("usage", "b.beheerder", "login") == 7 and logbook.verify().ok


def test_the_openssl_check_in_the_docs_works_as_written_R50(tmp_path):
    """The shell recipe of docs/governance.md, run as it stands against a device."""
    doc = (ROOT / "docs" / "governance.md").read_text()
    recipe = re.search(r"```sh\n(nvr logbook head.*?)```", doc, re.S).group(1)
    config = write_config(tmp_path)
    staff(config)
    script = (f'nvr() {{ {sys.executable} -m firmware.cli --config {config} "$@"; }}\n'
              f"cd {tmp_path}\nset -e -o pipefail\n" + recipe)
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fingerprint, verified = done.stdout.splitlines()
    statement = json.loads((tmp_path / "head.json").read_text())["usage"]
    assert fingerprint.split()[0] == statement["fingerprint"]
    assert verified == "Signature Verified Successfully"


def test_a_head_kept_where_devices_before_keys_shared_kept_it_still_counts_R50(tmp_path):
    """Heads moved to key_dir/shared (the key directory is sticky, docs/units.md): a device
    updated from before still has its heads in the key directory itself; they verify until
    the next entry writes the head anew in shared/."""
    keys = tmp_path / "keys"
    logbook = Logbook(gdb.connect(tmp_path / "data"), DeviceSigner(keys))
    logbook.append("usage", "a", "login")
    (keys / "shared" / "logbook-usage.signed-head").rename(keys / "logbook-usage.signed-head")
    assert logbook.verify().ok
    assert logbook.head_statement("usage")["n"] == 1
    logbook.append("usage", "a", "logout")
    assert (keys / "shared" / "logbook-usage.signed-head").exists()
    assert logbook.verify().ok and logbook.head_statement("usage")["n"] == 2
