"""Red team of issue 12: the case tamper switch (firmware/system/case.py, gpio.py).

Each test was written first and failed on the code it names; see the commit that fixed it."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

from firmware.system.case import CASE_OPEN, CASE_TAMPER

from test_gpio import SWITCH, alarms, rig, usage  # noqa: F401  (rig is a fixture)

WAIT = 30      # seconds, on a loaded machine


def _until(what, seconds: float = WAIT) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(0.1)
    return False


def test_case_opened_while_the_index_is_locked_still_raises_case_tamper_R82(rig):
    """A second process holds the index's write lock (a long retention sweep, a `nvr` command,
    someone with sqlite3) just when the lid comes off. The opening is in the logbook, but the
    old worker had already taken the case as open and never raised `case-tamper`: /readyz said
    untampered, /metrics nvr_tamper{source="case"} 0 and the LED steady, with the case open,
    until the next opening. The alarm must follow as soon as the index takes it."""
    cfg, store, gov, factory, seen, status, make = rig
    gpio = make(interval=0.2)
    gpio.open_devices()
    factory.pin(SWITCH).drive_low()                     # the lid is on
    gpio.start()
    seen.wait("closed-at-start")
    store.db.execute("PRAGMA busy_timeout = 200")       # give up on the lock soon (not 30 s)

    with closing(sqlite3.connect(cfg.storage.data_dir / "index.sqlite3", timeout=30,
                                 isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")               # a second process writes meanwhile
        factory.pin(SWITCH).drive_high()                # the lid comes off
        time.sleep(1.5)                                 # the worker tried and was refused
        other.execute("ROLLBACK")

    assert _until(lambda: usage(gov, "case-opened")), "the opening was not logged"
    assert _until(lambda: CASE_TAMPER in alarms(store)), (
        f"the case is open but no case-tamper alarm was raised: {sorted(alarms(store))}")
    assert CASE_OPEN in alarms(store)
    assert len(usage(gov, "case-opened")) == 1          # one opening, one entry
