"""Restarts of the recorder after an unclean end, counted in the index (issue 12 item 2).

While the recorder runs, `data_dir/recorder.running` holds its pid and start time; a clean stop
(SIGINT, SIGTERM) removes it. A recorder that finds the file at its start knows the one before
it ended without stopping: killed (the watchdog's SIGABRT, SIGKILL, the OOM killer), crashed,
failed, or the power went. It records that as a row of `recorder_restarts` (with systemd's
`$NRESTARTS` where systemd gives it) before it writes its own file. The file is written and
removed with fsync, so a power cut cannot lose it.

`count` and `last` are what /metrics reads (any process: the table is part of the index schema).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from firmware.storage.durable import fsync_dir

MARKER = "recorder.running"



def _previous(marker: Path) -> dict | None:
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:                     # a symlink put there (ELOOP): read nothing through it
        return {}
    with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
        text = f.read(4096)
    try:
        found = json.loads(text)
    except ValueError:                  # cut off by a power loss while it was written
        found = {}
    return found if isinstance(found, dict) else {}


def begin_run(store, environ: dict[str, str] | None = None) -> dict | None:
    """At the recorder's start, as the store's owner: record an unclean end of the recorder
    before (returned as the row written; None after a clean stop or at the first start), then
    mark this run as running."""
    env = os.environ if environ is None else environ
    marker = store.data_dir / MARKER
    previous = _previous(marker)
    row = None
    if previous is not None:
        nrestarts = env.get("NRESTARTS", "")
        row = {"at": time.time(), "previous_start": _number(previous.get("started")),
               "previous_pid": _number(previous.get("pid")),
               "nrestarts": int(nrestarts) if nrestarts.isdigit() else None}
        with store.transaction() as db:
            db.execute("INSERT INTO recorder_restarts (at, previous_start, previous_pid, "
                       "nrestarts) VALUES (:at, :previous_start, :previous_pid, :nrestarts)",
                       row)
    tmp = marker.with_name(MARKER + ".tmp")
    with os.fdopen(_create_own(tmp), "w", encoding="utf-8") as f:
        json.dump({"pid": os.getpid(), "started": time.time()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, marker)
    fsync_dir(marker.parent)
    return row


def _create_own(path: Path, attempts: int = 5) -> int:
    """A new file of our own at `path`, never through what another user put there. The data
    directory is sticky but group-writable (docs/units.md): the web's user may leave a file or
    a symlink by this name (to a segment, which the recorder may write), and the kernel's
    protected_symlinks guards only directories writable by all. Whatever is there is removed
    (the directory's owner may), and the file is made with O_EXCL | O_NOFOLLOW."""
    for _ in range(attempts):
        path.unlink(missing_ok=True)
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                           | os.O_CLOEXEC, 0o640)
        except FileExistsError:         # put back between the two calls: again
            continue
    raise OSError(f"{path} is put back each time it is removed: another process in the "
                  "group nvr interferes with the recorder's restart marker; find it "
                  "(ls -l, the journal) and stop it")


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def end_run(store) -> None:
    """A clean stop: the next start is no restart after an unclean end."""
    marker = store.data_dir / MARKER
    marker.unlink(missing_ok=True)
    fsync_dir(marker.parent)


def count(store) -> int:
    """How many times the recorder started again after an unclean end (a /metrics counter)."""
    with store.lock:
        (n,) = store.db.execute("SELECT count(*) FROM recorder_restarts").fetchone()
    return n


def last(store) -> dict | None:
    """The newest such restart: at, previous_start, previous_pid, nrestarts; None if none."""
    with store.lock:
        row = store.db.execute("SELECT at, previous_start, previous_pid, nrestarts FROM "
                               "recorder_restarts ORDER BY n DESC LIMIT 1").fetchone()
    return dict(row) if row is not None else None
