"""The recorder's watchdog (issue 12 item 2): systemd restarts the recorder when it stops
recording, not only when its process dies.

`Watchdog.check` runs in the recorder's main loop (twice a second) and judges two things:
- every camera that records delivers frames: its newest frame changed within FRAME_BOUND
  seconds (the same bound as /readyz). Measured on the monotonic clock, so a step of the wall
  clock is no stall;
- segments reach the disk: the store's writer thread lives and no write, fsync or index commit
  has been running longer than WRITE_BOUND seconds (`EncryptedStore.writer_hung`).

`WATCHDOG=1` is sent from the check, and only when both hold, at half of systemd's
`WATCHDOG_USEC`; when they do not, a `STATUS=` line saying why goes in its place, and systemd
(`WatchdogSec=` in the unit) kills and restarts the recorder once a whole WatchdogSec passed
without a ping. A storage *error* (a full disk, a card that refuses writes) withholds nothing: a
restart cures neither, and a recorder restarted in a loop until systemd gives up would not
record when the disk recovers; /readyz and the store's alarms say those.

`READY=1` goes once every camera that records has delivered its first frame; the store is open
before the cameras start. A camera that never delivers keeps the start from completing, and
systemd's start timeout restarts the recorder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from firmware.system.notify import Notifier
from firmware.system.readiness import HEARTBEAT_SECONDS

log = logging.getLogger(__name__)

FRAME_BOUND = float(HEARTBEAT_SECONDS)   # a camera without a new frame this long has stalled
WRITE_BOUND = 15.0        # a segment write or commit running this long hangs (the index's
                          # busy timeout is 30 s; a healthy one takes well under a second)
STATUS_PERIOD = 5.0       # seconds between status lines when systemd set no watchdog


class Watchdog:
    """Judges the recorder's health and tells systemd (through `notifier`)."""

    def __init__(self, service, store, notifier: Notifier, *,
                 frame_bound: float = FRAME_BOUND, write_bound: float = WRITE_BOUND,
                 clock: Callable[[], float] = time.monotonic):
        self.service, self.store, self.notifier = service, store, notifier
        self.frame_bound, self.write_bound, self.clock = frame_bound, write_bound, clock
        interval = notifier.watchdog_interval
        self.period = interval / 2 if interval else STATUS_PERIOD
        self.pings = interval is not None
        self.ready = False
        self.problems: list[str] = []
        self._seen: dict[str, tuple[float | None, float]] = {}   # camera: (frame, when seen)
        self._next = 0.0
        self._status = ""

    def judge(self, now: float) -> list[str]:
        """Why the recorder is not well, in English (systemctl status and the log); [] when
        every recording camera delivers frames and segments reach the disk."""
        problems = []
        for worker in self.service.workers:
            camera, frame = worker.cam.id, worker.recorder.last_frame
            seen = self._seen.get(camera)
            if seen is None or seen[0] != frame:
                self._seen[camera] = (frame, now)
            elif now - seen[1] > self.frame_bound:
                problems.append(f"camera {camera} delivered no frame for more than "
                                f"{self.frame_bound:g} s")
        hung = self.store.writer_hung(self.write_bound, now)
        if hung:
            problems.append(hung)
        return problems

    def status_line(self) -> str:
        cameras = len(self.service.workers)
        stored = self.store.last_stored
        last = time.strftime("%H:%M:%S UTC", time.gmtime(stored)) if stored else "none yet"
        return f"recording {cameras} camera(s), all delivering frames; last segment stored: {last}"

    def check(self, now: float | None = None) -> bool:
        """Judge now; say READY=1 once, then WATCHDOG=1 every half interval while well, or a
        STATUS line with the reason instead. Returns whether the recorder is well."""
        now = self.clock() if now is None else now
        problems = self.judge(now)
        if problems and not self.problems:
            log.error("watchdog: not well, no more WATCHDOG=1 until it is: %s",
                      "; ".join(problems))
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
            self._status = "not well, watchdog withheld: " + "; ".join(problems)
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
        self.notifier.stopping("stopping: closing the open segments")
