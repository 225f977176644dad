"""The case tamper switch: what opening the recorder's case does (issue 12 item 4).

Opening the case is logged in the usage logbook (the device itself is the actor, with the local
time) and raises two alarms in the index, so every process sees them (the system page, /readyz,
/metrics):

- `case-open` while the switch reads open; it clears by itself when the case is closed;
- `case-tamper` from the opening on. Closing the case does NOT clear it: whoever opened the
  case may close it again. It stays until the technisch beheerder acknowledges it with a reason
  (`nvr device tamper-ack`), which is logged under their name; that is refused while the case
  is still open.

A case found open when the recorder starts counts as an opening (it may have been opened while
the device was off). The pins are read in firmware/system/gpio.py; this module holds the rule,
so the command line and a later web page cannot disagree.
"""

from __future__ import annotations

import logging
import time

from firmware.governance.access import require, visible_length
from firmware.governance.logbook import SYSTEM, Logbook
from firmware.governance.roles import Action, Actor
from firmware.governance.wording import moment
from firmware.i18n import _

CASE_TAMPER = "case-tamper"     # raised when the case is opened; cleared by an acknowledgement
CASE_OPEN = "case-open"         # while the switch reads open

log = logging.getLogger(__name__)


class CaseError(Exception):
    """An acknowledgement was refused; the message says why and what to do."""


class CaseSwitch:
    """Records the switch's changes: logbook entries and the alarms of the module docstring.
    Called from one thread (the GPIO worker)."""

    def __init__(self, store, logbook: Logbook, timezone: str, pin: int):
        self.store, self.logbook, self.timezone, self.pin = store, logbook, timezone, pin
        # Alarm changes the index has not taken yet (kind: detail to raise, None to clear),
        # in order; `flush` writes them, and the GPIO worker calls it again until it can.
        self.pending: dict[str, str | None] = {}
        # What this run raised and must find in the index (see `audit`): the details, and the
        # usage logbook's entry of the opening, after which only an acknowledgement clears.
        self.raised: dict[str, str] = {}
        self.opened_entry: int | None = None

    def flush(self) -> None:
        """Write the pending alarm changes; an index that refuses (locked by another
        process, a failing disk) raises, and what is left stays pending for the next try."""
        for kind, detail in list(self.pending.items()):
            if detail is None:
                self.store.clear_alarm(kind)
            else:
                self.store.raise_alarm(kind, detail)
            del self.pending[kind]

    def opened(self, *, at_start: bool) -> None:
        now = time.time()
        local = moment(now, self.timezone)
        found = " (found open when the recorder started)" if at_start else ""
        self.raised = {
            CASE_OPEN: f"the case is open since {local}{found}",
            CASE_TAMPER: (f"the case was opened at {local}{found}: check the device, close the "
                          "case and acknowledge with `nvr device tamper-ack --user NAME --reason "
                          "TEXT`")}
        self.pending.update(self.raised)
        try:
            self.flush()
        finally:                # the entry is written even when the index refused the alarm
            self.opened_entry = self.logbook.append(
                "usage", SYSTEM, "case-opened", at=now,
                details={"local_time": local, "at_start": at_start, "pin": self.pin})

    def closed(self) -> None:
        now = time.time()
        self.pending.pop(CASE_OPEN, None)           # raise-then-clear in order: clear last
        self.pending[CASE_OPEN] = None
        try:
            self.flush()
        finally:
            self.logbook.append("usage", SYSTEM, "case-closed", at=now,
                                details={"local_time": moment(now, self.timezone),
                                         "pin": self.pin})

    def audit(self, is_open: bool) -> None:
        """R-82: put back what this run raised and someone removed from the index by hand
        (sqlite3 and the group nvr suffice): `case-open` while the switch reads open, and
        `case-tamper` until an acknowledgement follows the opening in the usage logbook.
        Called by the GPIO worker at every tick; one small query, two when a row is gone."""
        if self.pending or not self.raised:
            return
        present = {a["kind"] for a in self.store.alarms()}
        if is_open and CASE_OPEN not in present:
            self.pending[CASE_OPEN] = self.raised[CASE_OPEN]
        if CASE_TAMPER not in present and self.opened_entry is not None:
            if self._acknowledged_since(self.opened_entry):
                self.opened_entry = None          # cleared by the technisch beheerder
            else:
                self.pending[CASE_TAMPER] = self.raised[CASE_TAMPER]
        if self.pending:
            log.error("case alarm(s) %s removed from the index without an acknowledgement "
                      "(by hand?); raised again", ", ".join(self.pending))
            self.flush()

    def _acknowledged_since(self, entry: int) -> bool:
        return self.logbook.db.execute(
            "SELECT 1 FROM logbook WHERE book = 'usage' AND n > ? AND action = "
            "'case-tamper-acknowledged' LIMIT 1", (entry,)).fetchone() is not None

    def closed_at_start(self) -> None:
        """The case is closed at start: a `case-open` left by an earlier run is stale."""
        self.pending[CASE_OPEN] = None
        self.flush()


def forget_switch(store) -> None:
    """No switch is read (GPIO off or no pin): nothing can say the case is open, so a
    `case-open` left by an earlier run would block every acknowledgement for good."""
    store.clear_alarm(CASE_OPEN)


def acknowledge(logbook: Logbook, store, actor: Actor, reason: str) -> dict:
    """The technisch beheerder (Action.CONFIG) clears `case-tamper` with a reason, once the
    case is closed again; logged. Returns the alarm that was cleared."""
    require(logbook, actor, Action.CONFIG, CaseError)
    if not visible_length(reason):
        raise CaseError(_("an acknowledgement needs a reason: say what was done in the case "
                          "and by whom (--reason)"))
    alarms = {a["kind"]: a for a in store.alarms()}
    if CASE_TAMPER not in alarms:
        raise CaseError(_("there is no case tamper alarm to acknowledge"))
    if CASE_OPEN in alarms:
        raise CaseError(_("the case is still open: close it first, then acknowledge"))
    alarm = alarms[CASE_TAMPER]
    logbook.append("usage", actor.name, "case-tamper-acknowledged", reason=reason,
                   details={"start": alarm["since"]})
    store.clear_alarm(CASE_TAMPER)
    if any(a["kind"] == CASE_OPEN for a in store.alarms()):     # opened again meanwhile
        store.raise_alarm(CASE_TAMPER, alarm["detail"])
    return alarm
