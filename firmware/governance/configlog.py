"""Art. 7 lid 2, R-50: every configuration change in the usage logbook, with old and new value.

The configuration is a TOML file the technisch beheerder edits outside the device's software,
so a change is noticed where it takes effect: at every start of `nvr run` and `nvr web` the
effective configuration (after validation and defaults) is compared with the one recorded at
the previous start (table `config_snapshots` in the index for the history; the last one
also in the key directory, `config-recorded.json`, which is what counts: sqlite3 on the
data directory cannot make a change look recorded), and one usage entry per changed key
is appended with its old and new value. The attribution is what the device can know honestly:
the file, its owner and modification time, and the operating-system user that started the
process; the entry's actor is the device itself ("nvr"), which noticed the change.

Secrets never reach the index or the logbook: a key whose name says it holds one is kept as a
keyed hash (the logbook's MAC key, in the key directory), so a change is noticed without its
value. Cameras are compared by id, so reordering them is no change; a camera added or removed
is one entry with the whole camera as new or old value.
"""

from __future__ import annotations

import dataclasses
import fcntl
import getpass
import json
import os
import pwd
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.config import Config
from firmware.governance.logbook import SYSTEM
from firmware.storage.sharing import both_write, private_mode, to_read

SCHEMA = """
CREATE TABLE IF NOT EXISTS config_snapshots (
    n         INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    source    TEXT NOT NULL,             -- the configuration file
    settings  TEXT NOT NULL              -- JSON of public_values(): secrets as keyed hashes
);
"""
SECRET_WORDS = ("password", "secret", "token", "passphrase", "private")
SECRET_OLD, SECRET_NEW = "(geheim)", "(geheim, gewijzigd)"
LOCK = "configlog.lock"
KEPT = "config-recorded.json"       # in the key directory: the last recorded settings


def _plain(value):
    """The configuration as JSON values: tuples as lists, paths and dates as text."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (date, datetime)):     # [deadlines] equated_days: ISO text, as in
        return value.isoformat()                # the configuration file
    return value


def _secret(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_WORDS)


def public_values(tree: dict, mac: Callable[[str], str]) -> dict:
    """`tree` with the value of every secret-named key replaced by its keyed hash."""
    out = {}
    for key, value in tree.items():
        if _secret(key):
            out[key] = {"secret": mac(json.dumps(value, sort_keys=True))}
        elif isinstance(value, dict):
            out[key] = public_values(value, mac)
        else:
            out[key] = value
    return out


def settings(cfg: Config, mac: Callable[[str], str]) -> dict:
    """The effective configuration as nested JSON values, cameras keyed by id, no secrets."""
    tree = _plain(cfg)
    tree.pop("source", None)
    tree["cameras"] = {cam["id"]: cam for cam in tree["cameras"]}
    return public_values(tree, mac)


def changes(old: dict, new: dict, prefix: str = "") -> list[dict]:
    """Every key whose value differs, as {key, old, new} (None where a key is absent)."""
    found = []
    for key in sorted(set(old) | set(new)):
        name = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if _secret(key):
            found.append({"key": name, "old": SECRET_OLD if a is not None else None,
                          "new": SECRET_NEW if b is not None else None})
        elif isinstance(a, dict) and isinstance(b, dict):
            found.extend(changes(a, b, f"{name}."))
        else:
            found.append({"key": name, "old": a, "new": b})
    return found


def _attribution(cfg: Config, noticed_by: str) -> dict:
    """What the device knows of who changed the file: its owner and time, and who started."""
    tz = ZoneInfo(cfg.device.timezone)
    out = {"file": str(cfg.source), "noticed_by": noticed_by}
    try:
        st = os.stat(cfg.source)
        out["file_modified"] = datetime.fromtimestamp(st.st_mtime, tz).isoformat(
            timespec="seconds")
        try:
            out["file_owner"] = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            out["file_owner"] = f"uid {st.st_uid}"
    except OSError as exc:
        out["file_modified"] = f"unknown ({exc.strerror})"
    try:
        out["os_user"] = getpass.getuser()
    except (KeyError, OSError):
        out["os_user"] = f"uid {os.getuid()}"
    return out


def record_changes(gov, cfg: Config, noticed_by: str, now: float | None = None) -> list[dict]:
    """Compare the effective configuration with the last recorded one; append a usage entry
    `config-change` per changed key (subject: the key; details: old, new and attribution), or
    `config-recorded` with all values the first time; returns the changes. One process at a
    time (a lock file beside the index), so `nvr run` and the `nvr web` it starts log once."""
    db = gov.accounts.db
    db.executescript(SCHEMA)
    now = time.time() if now is None else now
    current = settings(cfg, gov.logbook.signer.mac)
    folder = Path(cfg.storage.data_dir)      # tmpfiles makes the lock 0660 there (docs/units.md)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)   # as governance did before index_dir
    with open(folder / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept = both_write(Path(cfg.storage.key_dir)) / KEPT    # both services replace it
        try:                       # the key directory's copy counts: sqlite3 cannot forge it
            previous = json.loads(to_read(kept).read_text(encoding="utf-8"))
        except FileNotFoundError:  # a device from before the copy: the table, this once
            row = db.execute("SELECT settings FROM config_snapshots ORDER BY n DESC LIMIT 1"
                             ).fetchone()
            previous = json.loads(row[0]) if row else None
        if previous == current:
            return []
        who = _attribution(cfg, noticed_by)
        found = [] if previous is None else changes(previous, current)
        if previous is None:
            gov.logbook.append("usage", SYSTEM, "config-recorded", subject=str(cfg.source),
                               details={"values": current, **who}, at=now)
        for change in found:
            gov.logbook.append("usage", SYSTEM, "config-change", subject=change["key"],
                               details={**change, **who}, at=now)
        # After the entries: a crash in between logs a change twice, never not at all.
        db.execute("INSERT INTO config_snapshots (at, source, settings) VALUES (?, ?, ?)",
                   (now, str(cfg.source), json.dumps(current, sort_keys=True)))
        _keep(kept, current)
        return found


def _keep(path: Path, current: dict) -> None:
    """The recorded configuration into the key directory (0600, 0640 when shared), whole or
    not at all: whoever holds only the data directory cannot make a change look recorded
    (R-82)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, private_mode(path.parent))        # 0640 in a shared key directory
        os.write(fd, json.dumps(current, sort_keys=True).encode("utf-8"))
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
