"""The recorder seals its segments' recording-time hashes into the logbook (issue 13 item 3).

Every segment's SHA-256 is recorded in a hash chain when it is written (storage/hashes.py);
`seal` puts the chain's head into the usage logbook, whose signed head then covers every hash
up to it. An export seals too, but a segment's hash should be under the logbook long before
anyone exports: the recorder seals every SEAL_INTERVAL while it writes segments (an idle
recorder appends nothing: `seal` skips a head already sealed) and once more when it stops, after
the last segment is on disk. So a hash changed later is caught by `nvr recordings verify`
(storage/hashes.py `audit`) against a head the logbook signed within SEAL_INTERVAL of
recording.

The logbook's connection is opened in the thread that uses it (SQLite connections belong to
one thread); a failed seal is logged and tried again at the next interval: sealing never stops
recording.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from firmware.governance.logbook import SYSTEM
from firmware.storage.hashes import seal

log = logging.getLogger(__name__)

SEAL_INTERVAL = 600.0          # seconds: the longest a recorded hash waits for its seal


class SealThread(threading.Thread):
    """Seals every `interval` seconds until `finish()`, which seals once more and ends it.
    `open_governance` makes the Governance whose logbook is used (and closed at the end)."""

    def __init__(self, store, open_governance: Callable[[], object],
                 interval: float = SEAL_INTERVAL):
        super().__init__(name="seal", daemon=True)
        self.store, self.open_governance, self.interval = store, open_governance, interval
        self.done = threading.Event()
        self.rounds = 0                     # seals tried (tests wait for them, never on time)
        self.last: dict | None = None       # what the last seal returned

    def run(self) -> None:
        gov = None
        try:
            while True:
                finishing = self.done.wait(self.interval)
                try:
                    gov = gov or self.open_governance()
                    self.last = seal(self.store, gov.logbook, SYSTEM)
                    if self.last["new"]:
                        log.info("sealed %d recording-time hashes in the usage logbook",
                                 self.last["n"])
                except Exception:           # the logbook busy or its key unreadable: retry
                    log.exception("sealing the recording-time hashes failed; trying again %s",
                                  "never: stopping" if finishing else
                                  f"in {self.interval:.0f} s")
                self.rounds += 1
                if finishing:
                    return
        finally:
            if gov is not None:
                gov.close()

    def finish(self, timeout: float = 30.0) -> None:
        """Seal what is stored now and end the thread (call after the store is drained)."""
        self.done.set()
        if self.is_alive():
            self.join(timeout)
