"""The recorder's watchdog (issue 12 item 2): systemd restarts the recorder when it stops
recording, not only when its process dies.

`Watchdog.check` runs in the recorder's main loop (twice a second) and judges two things:
- every camera that records delivers frames: its newest frame changed within FRAME_BOUND
  seconds (the same bound as /readyz). Measured on the monotonic clock, so a step of the wall
  clock is no stall;
- segments reach the disk: the store's writer thread lives and no write, fsync or index commit
  has been running longer than WRITE_BOUND seconds (`EncryptedStore.writer_hung`).

- segments are not lost without end: a camera whose segments all failed to be stored (an
  error, not a hang: a card that refuses writes, a folder gone) for longer than the failure
  bound (`[storage] watchdog_failure_seconds`, at least two segments' length) is not well.

`WATCHDOG=1` is sent from the check, and only when all hold, at half of systemd's
`WATCHDOG_USEC`; when they do not, a `STATUS=` line saying why goes in its place, and systemd
(`WatchdogSec=` in the unit) kills and restarts the recorder once a whole WatchdogSec passed
without a ping; the restart is counted (storage/restarts.py) and logged.

A full disk withholds nothing (docs/units.md, "The watchdog and a full disk"): when retention
could not free room (the storage-full alarm, R-42, all footage held) or the file system says
ENOSPC, a restart makes no room; it would drop the pre-roll and every frame during the start-up
(reconcile, sweep), again and again. The recorder stays up, and records as soon as a hold is
released or room is made; the alarm, /readyz and /metrics tell the central room.

`READY=1` goes once every camera that records has delivered its first frame; the store is open
before the cameras start. A camera that never delivers keeps the start from completing, and
systemd's start timeout restarts the recorder.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable

from firmware.i18n import N_, dutch
from firmware.storage.store import FULL_ALARM
from firmware.system.notify import Notifier
from firmware.system.readiness import HEARTBEAT_SECONDS

log = logging.getLogger(__name__)

FRAME_BOUND = float(HEARTBEAT_SECONDS)   # a camera without a new frame this long has stalled
WRITE_BOUND = 15.0        # a segment write or commit running this long hangs (the index's
                          # busy timeout is 30 s; a healthy one takes well under a second)
STATUS_PERIOD = 5.0       # seconds between status lines when systemd set no watchdog
FAILURE_BOUND = 60.0      # segments failing this long without one stored: not well
NO_SPACE = os.strerror(errno.ENOSPC)      # "No space left on device", in an OSError's text


# What `systemctl status` shows the technisch beheerder (STATUS=): Dutch, from the catalogue;
# the journal keeps the English of the same messages.
STALLED = N_("camera %(camera)s delivered no frame for more than %(seconds)s s")
NOT_STORED = N_("camera %(camera)s: no segment could be stored for more than %(seconds)s s "
                "(%(why)s)")
WITHHELD = N_("not well, watchdog withheld: %(problems)s")
RECORDING = N_("recording %(cameras)s camera(s), all delivering frames; last segment stored: "
               "%(last)s")
NONE_YET = N_("none yet")
STOPPING = N_("stopping: closing the open segments")


def _english(problem: tuple[str, dict]) -> str:
    return problem[0] % problem[1]


def _dutch(problem: tuple[str, dict]) -> str:
    return dutch(problem[0], **problem[1])


def failure_bound(configured: float, segment_seconds: float) -> float:
    """How long segments may fail to be stored before the pings stop: the configured time,
    but never less than two segments (one lost segment is not a failing store)."""
    return max(float(configured), 2.0 * segment_seconds)


class Watchdog:
    """Judges the recorder's health and tells systemd (through `notifier`)."""

    def __init__(self, service, store, notifier: Notifier, *,
                 frame_bound: float = FRAME_BOUND, write_bound: float = WRITE_BOUND,
                 failure_bound: float = FAILURE_BOUND,
                 clock: Callable[[], float] = time.monotonic):
        self.service, self.store, self.notifier = service, store, notifier
        self.frame_bound, self.write_bound, self.clock = frame_bound, write_bound, clock
        self.failure_bound = failure_bound
        self._failing_since: dict[str, float] = {}     # camera: when its failures began
        interval = notifier.watchdog_interval
        self.period = interval / 2 if interval else STATUS_PERIOD
        self.pings = interval is not None
        self.ready = False
        self.problems: list[str] = []
        self._seen: dict[str, tuple[float | None, float]] = {}   # camera: (frame, when seen)
        self._next = 0.0
        self._status = ""

    def judge(self, now: float) -> list[tuple[str, dict]]:
        """Why the recorder is not well, as (message, variables) of the catalogue: English in
        the log, Dutch in systemctl status; [] when every recording camera delivers frames and
        segments reach the disk."""
        problems: list[tuple[str, dict]] = []
        for worker in self.service.workers:
            camera, frame = worker.cam.id, worker.recorder.last_frame
            seen = self._seen.get(camera)
            if seen is None or seen[0] != frame:
                self._seen[camera] = (frame, now)
            elif now - seen[1] > self.frame_bound:
                problems.append((STALLED, {"camera": camera,
                                           "seconds": f"{self.frame_bound:g}"}))
        hung = self.store.writer_problem(self.write_bound, now)
        if hung:
            problems.append(hung)
        return problems + self._failing(now)

    def _failing(self, now: float) -> list[tuple[str, dict]]:
        """Cameras whose segments have failed to be stored for longer than the failure bound,
        unless the disk is full (module docstring). Costs nothing while segments are kept."""
        failing = {}
        for worker in self.service.workers:
            why = getattr(worker.recorder, "failure", "") or \
                self.store.failing.get(worker.cam.id, "")
            if why:
                failing[worker.cam.id] = why
        self._failing_since = {cam: self._failing_since.get(cam, now) for cam in failing}
        late = {cam: why for cam, why in failing.items()
                if now - self._failing_since[cam] > self.failure_bound}
        if not late or self._disk_full(failing.values()):
            return []
        return [(NOT_STORED, {"camera": cam, "seconds": f"{self.failure_bound:g}", "why": why})
                for cam, why in late.items()]

    def _disk_full(self, reasons) -> bool:
        return any(NO_SPACE in why for why in reasons) or \
            any(a["kind"] == FULL_ALARM for a in self.store.alarms())

    def status_line(self) -> str:
        cameras = len(self.service.workers)
        stored = self.store.last_stored
        last = time.strftime("%H:%M:%S UTC", time.gmtime(stored)) if stored else dutch(NONE_YET)
        return dutch(RECORDING, cameras=cameras, last=last)

    def check(self, now: float | None = None) -> bool:
        """Judge now; say READY=1 once, then WATCHDOG=1 every half interval while well, or a
        STATUS line with the reason instead. Returns whether the recorder is well."""
        now = self.clock() if now is None else now
        problems = self.judge(now)
        if problems and not self.problems:
            log.error("watchdog: not well, no more WATCHDOG=1 until it is: %s",
                      "; ".join(map(_english, problems)))
        elif self.problems and not problems:
            log.warning("watchdog: well again, WATCHDOG=1 resumes")
        self.problems = problems
        if not self.ready:
            if problems or any(w.recorder.last_frame is None for w in self.service.workers):
                return False
            self.ready = True
            self._status = self.status_line()
            self.notifier.ready(self._status)
            log.info("watchdog: every camera delivers frames, READY=1 (%s)",
                     f"WATCHDOG=1 every {self.period:g} s" if self.pings else "no watchdog")
            self._next = now
        if now < self._next:
            return not problems
        self._next = now + self.period
        if problems:
            self._status = dutch(WITHHELD, problems="; ".join(map(_dutch, problems)))
            self.notifier.status(self._status)
            return False
        lines = ["WATCHDOG=1"] if self.pings else []
        status = self.status_line()
        if status != self._status:
            self._status = status
            lines.append(f"STATUS={status}")
        if lines:
            self.notifier.send(*lines)
        return True

    def stopping(self) -> None:
        self.notifier.stopping(dutch(STOPPING))
