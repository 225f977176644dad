"""Red team of issue 12: someone with sqlite3 and the data directory (a member of the group
nvr: the web's user, an administrator through nvr-admin) deletes a tamper alarm's row.

The recorder raised camera tamper and case alarms once, on the change, and never looked again:
a `DELETE FROM alarms` hid a covered camera or an open case from the system page, /readyz,
/metrics and the LED for as long as the condition lasted, and nothing was logged. The recorder
now keeps what it knows in the index: a camera condition still seen, the case still open, and
`case-tamper` until an acknowledgement is in the usage logbook. Written first; each failed on
that code."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

import numpy as np

from firmware.capture.tamper import TamperSettings, TamperWatch
from firmware.capture.tamper_kinds import alarm_kind
from firmware.system.case import CASE_OPEN, CASE_TAMPER, acknowledge

from conftest import PASSWORD, make_store, staff, write_config
from test_gpio import SWITCH, alarms, rig, usage  # noqa: F401  (rig is a fixture)

W, H = 320, 240
WAIT = 30


def _delete(index, *kinds: str) -> None:
    """What someone with sqlite3 does: delete the rows, from another connection."""
    with closing(sqlite3.connect(index, timeout=30)) as db, db:
        db.executemany("DELETE FROM alarms WHERE kind = ?", [(k,) for k in kinds])


def _until(what, seconds: float = WAIT) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(0.1)
    return False


def test_a_deleted_camera_tamper_alarm_comes_back_while_the_lens_stays_covered_R82(tmp_path):
    write_config(tmp_path)
    store = make_store(tmp_path)
    kind = alarm_kind("cam", "dark")
    watch = TamperWatch("cam", W, H, store)
    rng = np.random.default_rng(1)
    scene = (rng.integers(0, 255, (H, W), dtype=np.uint8) // 2 + 60)
    t = 0.0
    for _ in range(25 * 4):                              # a real picture first
        watch.feed(np.clip(scene + rng.normal(0, 2.5, (H, W)), 0, 255).astype(np.uint8), t)
        t += 1 / 25
    black = np.full((H, W), 12, np.uint8)
    hold = TamperSettings().hold["dark"]
    for _ in range(int(25 * (hold + 2))):                # covered: raised
        watch.feed(black, t)
        t += 1 / 25
    assert kind in {a["kind"] for a in store.alarms()}

    _delete(store.index_path, kind)
    assert kind not in {a["kind"] for a in store.alarms()}
    for _ in range(25 * 12):                             # still covered, 12 s of frames
        watch.feed(black, t)
        t += 1 / 25
    assert kind in {a["kind"] for a in store.alarms()}, "the deleted alarm stayed deleted"
    store.close()


def test_deleted_case_alarms_come_back_until_the_acknowledgement_is_logged_R82(rig):
    cfg, store, gov, factory, seen, status, make = rig
    gpio = make(interval=0.2)
    gpio.open_devices()
    factory.pin(SWITCH).drive_low()
    gpio.start()
    seen.wait("closed-at-start")
    factory.pin(SWITCH).drive_high()                     # the lid comes off
    seen.wait("opened")
    assert {CASE_OPEN, CASE_TAMPER} <= set(alarms(store))

    _delete(store.index_path, CASE_OPEN, CASE_TAMPER)    # hidden by hand
    assert _until(lambda: {CASE_OPEN, CASE_TAMPER} <= set(alarms(store))), (
        f"the case is open and its alarms stayed deleted: {sorted(alarms(store))}")

    factory.pin(SWITCH).drive_low()                      # closed again
    seen.wait("closed")
    _delete(store.index_path, CASE_TAMPER)               # hidden instead of acknowledged
    assert _until(lambda: CASE_TAMPER in alarms(store)), "case-tamper stayed deleted"

    staff(cfg.source)                                    # the accounts, t.admin among them
    admin = gov.login("t.admin", PASSWORD)
    acknowledge(gov.logbook, store, admin, "deksel gecontroleerd en gesloten door t.admin")
    seen.wait("led:recording")                           # the worker ticked after the ack
    assert CASE_TAMPER not in alarms(store)              # an acknowledgement is respected
    assert len(usage(gov, "case-tamper-acknowledged")) == 1
