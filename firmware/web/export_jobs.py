"""Exports running in the background of the web process (issue 13 item 4, the web side).

Writing a package takes minutes on a real stick; the page must not hang on it. An export runs
in its own thread; the page polls its state (bytes done and total, running/done/failed, the
error). One export at a time per stick: a second start for a stick that is being written is
refused with a message that says so.

Jobs live in this process's memory and survive nothing: a restarted web process knows none of
them. The person's session remembers which process started their export (`Jobs.process`) and
when, so the restarted process can say the export was interrupted (or, when the export was
recorded before the restart, that it was written) instead of not knowing it (web/exports.py
`_job`).

A job keeps a generated password (a 7z on a keypad stick or the development directory) only
until its result page has shown it once (`take_password`); it never leaves this process's
memory otherwise: not in the index, a logbook, a URL or a log line.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from firmware.i18n import _

RUNNING, DONE, FAILED = "running", "done", "failed"
INTERRUPTED = "interrupted"      # its web process restarted meanwhile (web/exports.py)
KEEP_SECONDS = 6 * 3600          # a finished job is forgotten after this long


class Busy(Exception):
    """The stick is being written by another export; the message says which and what to do."""

    field: str | None = None


@dataclass
class Job:
    id: int
    request_id: int
    device: str
    user: str
    form: dict                    # what was typed (never a password): the form comes back
    state: str = RUNNING
    done_bytes: int = 0
    total_bytes: int = 0
    error: str = ""
    result: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    ended: float | None = None
    _password: str | None = None

    def status(self) -> dict:
        """What the page polls: never the password, only whether one waits to be shown."""
        return {"job": self.id, "request": self.request_id, "device": self.device,
                "state": self.state, "done_bytes": self.done_bytes,
                "total_bytes": self.total_bytes, "error": self.error,
                "export": self.result.get("id"), "password_waiting": self._password is not None}


class Jobs:
    """The exports of this web process, by stick (one running per stick)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self.process = secrets.token_urlsafe(12)     # this web process, as sessions know it

    def start(self, *, request_id: int, device: str, user: str, form: Mapping,
              work: Callable[[Callable[[int, int], None]], dict]) -> Job:
        """Run `work(progress)` in a thread for stick `device`; Busy while another export
        writes to that stick. `work` returns the export (with `password` when one was made)
        or raises; its message is shown as it is (Dutch at its source)."""
        with self._lock:
            self._forget_old()
            for other in self._jobs.values():
                if other.device == device and other.state == RUNNING:
                    raise Busy(_("the USB stick %(device)s is being written by another export "
                                 "(request %(request)s, started by %(user)s): wait until it "
                                 "is done, or use another stick", device=device,
                                 request=other.request_id, user=other.user))
            job = Job(next(self._ids), request_id, device, user, dict(form))
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"export-{job.id}",
                         daemon=True).start()
        return job

    def _run(self, job: Job, work) -> None:
        def progress(done: int, total: int) -> None:
            job.done_bytes, job.total_bytes = int(done), int(total)
        try:
            result = dict(work(progress))
        except Exception as exc:                   # noqa: BLE001 - the page says what failed
            job.error = str(exc) or exc.__class__.__name__
            job.state = FAILED
        else:
            job._password = result.pop("password", None) or None
            job.result = result
            job.done_bytes = job.total_bytes = max(job.total_bytes, int(result.get("bytes") or 0))
            job.state = DONE
        job.ended = time.time()

    def latest(self, request_id: int, user: str) -> Job | None:
        """The newest export of `request_id` that `user` started, if this process knows it."""
        with self._lock:
            mine = [j for j in self._jobs.values()
                    if j.request_id == request_id and j.user == user]
        return max(mine, key=lambda j: j.id) if mine else None

    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.state == RUNNING]

    def take_password(self, job: Job) -> str | None:
        """The generated password, once: the next call answers None."""
        with self._lock:
            password, job._password = job._password, None
        return password

    def _forget_old(self) -> None:
        now = time.time()
        for key in [k for k, j in self._jobs.items()
                    if j.ended is not None and now - j.ended > KEEP_SECONDS]:
            del self._jobs[key]
