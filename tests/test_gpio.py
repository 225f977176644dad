"""Issue 12 item 4: the status LED, the case tamper switch and the eject button, on gpiozero's
mock pin factory (the portable twin of the pins), with a real index, real logbooks and real
`nvr` processes. Pin callbacks and the GPIO worker run on threads: the tests wait on Events."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from firmware.config import ConfigError, load
from firmware.export.medium import EjectResult, eject
from firmware.governance.service import Governance
from firmware.system.case import CASE_OPEN, CASE_TAMPER
from firmware.system.gpio import (BLINK, GPIO_ALARM, DeviceGpio, Pattern, pattern_for, show,
                                  start_gpio, stop_gpio)
from conftest import PASSWORD, ROOT, make_store, nvr, staff, write_config

LED, SWITCH, BUTTON = 17, 27, 22
GPIO = f"""[gpio]
enabled = true
pin_factory = "mock"
status_led = {LED}
tamper_switch = {SWITCH}
eject_button = {BUTTON}
"""
WAIT = 30      # seconds an Event may take on a loaded machine before the test gives up


class Seen:
    """What the GPIO worker recorded, in order, with an Event per kind to wait on."""

    def __init__(self):
        self.log: list[str] = []
        self.events: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def __call__(self, what: str) -> None:
        with self.lock:
            self.log.append(what)
            self.event(what).set()

    def event(self, what: str) -> threading.Event:
        return self.events.setdefault(what, threading.Event())

    def wait(self, what: str) -> None:
        assert self.event(what).wait(WAIT), f"the GPIO worker never recorded {what!r}: {self.log}"
        self.event(what).clear()


@pytest.fixture
def rig(tmp_path):
    """A configured device with [gpio] on a mock factory, its real store and logbook."""
    cfg = load(write_config(tmp_path, extra=GPIO))
    store = make_store(tmp_path)
    gov = Governance.open(cfg)
    factory = MockFactory()
    seen = Seen()
    status = {"cam": {"state": "recording", "why": "", "storage_error": ""}}
    made: list[DeviceGpio] = []

    def make(status_of=lambda: status, **kw) -> DeviceGpio:
        kw.setdefault("settle", 0)
        gpio = DeviceGpio(cfg, store, gov.logbook, status_of, factory=factory,
                          on_record=seen, **kw)
        made.append(gpio)
        return gpio

    yield cfg, store, gov, factory, seen, status, make
    for gpio in made:
        gpio.stop()
    factory.close()
    gov.close()
    store.close()


def alarms(store) -> dict[str, dict]:
    return {a["kind"]: a for a in store.alarms()}


def usage(gov, action: str) -> list[dict]:
    return [e for e in gov.logbook.entries("usage") if e["action"] == action]


# --- the status LED -----------------------------------------------------------------------------

def test_led_pattern_follows_recorder_status_and_alarms():
    recording = {"cam": {"state": "recording", "why": "", "storage_error": ""}}
    assert pattern_for(recording, []) is Pattern.RECORDING
    assert pattern_for({}, []) is Pattern.IDLE                      # starting: no camera yet
    assert pattern_for({"cam": {"state": "refused", "why": "no DPIA"}}, []) is Pattern.IDLE
    assert pattern_for(recording, [{"kind": "storage-full"}]) is Pattern.FAULT
    assert pattern_for({"cam": {"state": "stopped", "why": "camera gone"}}, []) is Pattern.FAULT
    assert pattern_for({"cam": {"state": "recording", "why": "",
                                "storage_error": "disk full"}}, []) is Pattern.FAULT
    assert pattern_for({**recording, "hal": {"state": "refused", "why": "art. 11"}},
                       []) is Pattern.RECORDING


def test_led_patterns_on_the_mock_pin_steady_slow_fast():
    from gpiozero import LED as Led
    factory = MockFactory()
    try:
        for pattern, states in ((Pattern.RECORDING, [False, True]),
                                (Pattern.IDLE, [False, True, False, True, False]),
                                (Pattern.FAULT, [False, True, False, True, False])):
            led = Led(LED, pin_factory=factory)
            factory.pin(LED).clear_states()
            show(led, pattern, n=2, background=False)
            factory.pin(LED).assert_states(states)
            assert len(factory.pin(LED).states) == len(states), factory.pin(LED).states
            led.close()
    finally:
        factory.close()
    (idle_on, idle_off), (fault_on, fault_off) = BLINK[Pattern.IDLE], BLINK[Pattern.FAULT]
    assert idle_on < idle_off                           # idle: mostly dark, a short flash
    assert fault_on + fault_off < (idle_on + idle_off) / 4        # fault: clearly faster


def test_led_on_the_device_goes_from_recording_to_fault_on_an_alarm(rig):
    cfg, store, gov, factory, seen, status, make = rig
    gpio = make(interval=0.05)
    gpio.open_devices()
    factory.pin(SWITCH).drive_low()                     # the case is closed
    gpio.start()
    seen.wait("led:recording")
    assert factory.pin(LED).state is True
    store.raise_alarm("storage-full", "test: the disk is full")
    seen.wait("led:fault")
    store.clear_alarm("storage-full")
    seen.wait("led:recording")
    status["cam"]["state"] = "stopped"
    seen.wait("led:fault")
    gpio.stop()
    assert factory.pin(LED).state is False              # stopped: the LED is released, dark


# --- the case tamper switch ---------------------------------------------------------------------

def test_case_opened_is_logged_with_local_time_and_raises_case_tamper_in_the_index_R50_R82(rig):
    cfg, store, gov, factory, seen, status, make = rig
    gpio = make()
    gpio.open_devices()
    factory.pin(SWITCH).drive_low()                     # the lid is on: switch closed
    gpio.start()
    seen.wait("closed-at-start")
    assert CASE_TAMPER not in alarms(store) and not usage(gov, "case-opened")

    factory.pin(SWITCH).drive_high()                    # the lid comes off
    seen.wait("opened")
    found = alarms(store)
    assert {CASE_OPEN, CASE_TAMPER} <= set(found)
    # another process (the web, /metrics) sees the alarm in the index file
    with closing(sqlite3.connect(cfg.storage.data_dir / "index.sqlite3")) as db:
        kinds = {k for (k,) in db.execute("SELECT kind FROM alarms")}
    assert {CASE_OPEN, CASE_TAMPER} <= kinds
    [entry] = usage(gov, "case-opened")
    details = json.loads(entry["details"])
    assert entry["actor"] == "nvr" and details["at_start"] is False and details["pin"] == SWITCH
    assert details["local_time"].endswith(("(CET)", "(CEST)"))     # Europe/Amsterdam

    factory.pin(SWITCH).drive_low()                     # closed again
    seen.wait("closed")
    found = alarms(store)
    assert CASE_OPEN not in found and CASE_TAMPER in found     # stays until acknowledged
    assert len(usage(gov, "case-closed")) == 1
    assert gov.logbook.verify().ok


def test_case_found_open_at_start_counts_as_an_opening_R82(rig):
    cfg, store, gov, factory, seen, status, make = rig
    make().start()                                      # pulled up, nothing closes it: open
    seen.wait("opened")
    [entry] = usage(gov, "case-opened")
    assert json.loads(entry["details"])["at_start"] is True
    assert {CASE_OPEN, CASE_TAMPER} <= set(alarms(store))


def test_a_chattering_switch_gives_one_entry_per_settled_change(rig):
    cfg, store, gov, factory, seen, status, make = rig
    busy, go_on = threading.Event(), threading.Event()

    def slow_status() -> dict:          # holds the worker while the switch bounces
        busy.set()
        assert go_on.wait(WAIT)
        return status

    gpio = make(status_of=slow_status)
    gpio.open_devices()
    factory.pin(SWITCH).drive_low()
    gpio.start()
    seen.wait("closed-at-start")
    assert busy.wait(WAIT)
    pin = factory.pin(SWITCH)
    for _ in range(5):                                  # bounces (11 edges), ending open
        pin.drive_high()
        pin.drive_low()
    pin.drive_high()
    go_on.set()
    seen.wait("opened")
    gpio.stop()                                         # the queue is worked off first
    assert [w for w in seen.log if w in ("opened", "closed")] == ["opened"]
    assert len(usage(gov, "case-opened")) == 1 and not usage(gov, "case-closed")
    assert {CASE_OPEN, CASE_TAMPER} <= set(alarms(store))


def test_tamper_ack_by_the_technisch_beheerder_only_once_closed_and_logged_R11_R82(tmp_path):
    config = write_config(tmp_path, extra=GPIO)
    env = staff(config)
    cfg = load(config)
    store = make_store(tmp_path)
    gov = Governance.open(cfg)
    factory = MockFactory()
    seen = Seen()
    gpio = DeviceGpio(cfg, store, gov.logbook, dict, factory=factory, settle=0,
                      on_record=seen)
    try:
        gpio.start()                                    # found open at start
        seen.wait("opened")
        ack = ("--config", str(config), "device", "tamper-ack")
        still_open = nvr(*ack, "--user", "t.admin", "--reason", "filter replaced", env=env)
        assert still_open.returncode == 1
        assert "still open: close it first" in still_open.stderr
        factory.pin(SWITCH).drive_low()
        seen.wait("closed")
        no_reason = nvr(*ack, "--user", "t.admin", "--reason", " ", env=env)
        assert no_reason.returncode == 1 and "needs a reason" in no_reason.stderr
        not_allowed = nvr(*ack, "--user", "b.beheerder", "--reason", "looked inside", env=env)
        assert not_allowed.returncode == 1
        assert CASE_TAMPER in alarms(store)
        done = nvr(*ack, "--user", "t.admin", "--reason", "fan replaced by J. Jansen", env=env)
        assert done.returncode == 0, done.stderr
        assert "acknowledged" in done.stdout
        assert CASE_TAMPER not in alarms(store)
        again = nvr(*ack, "--user", "t.admin", "--reason", "again", env=env)
        assert again.returncode == 1 and "no case tamper alarm" in again.stderr
    finally:
        gpio.stop()
        factory.close()
    [entry] = usage(gov, "case-tamper-acknowledged")
    assert entry["actor"] == "t.admin" and entry["reason"] == "fan replaced by J. Jansen"
    assert [e["actor"] for e in usage(gov, "refused") if e["subject"] == "config"] == \
        ["b.beheerder"]
    gov.close()
    store.close()


def test_case_alarm_and_actions_read_in_dutch():
    from firmware.governance.wording import ACTIONS, ALARMS, DETAIL_KEYS
    assert ALARMS[CASE_TAMPER].startswith("de behuizing van de recorder is geopend")
    assert ALARMS[CASE_OPEN] == "de behuizing van de recorder is open"
    assert ACTIONS["case-opened"] == "behuizing van de recorder geopend"
    assert DETAIL_KEYS["local_time"] == "lokale tijd"


# --- the eject button ---------------------------------------------------------------------------

def test_eject_button_asks_the_export_helper_once_per_press_debounced(rig):
    cfg, store, gov, factory, seen, status, make = rig
    calls: list[EjectResult] = []
    now = [1000.0]

    def ask(config) -> EjectResult:
        calls.append(eject(config))
        return calls[-1]

    gpio = make(eject=ask, debounce=0.5, clock=lambda: now[0])
    gpio.start()
    button = factory.pin(BUTTON)
    for _ in range(4):                                  # one press whose contacts bounce
        button.drive_low()
        now[0] += 0.01
        button.drive_high()
    seen.wait("eject")
    now[0] += 2.0                                       # a second, separate press
    button.drive_low()
    button.drive_high()
    seen.wait("eject")
    gpio.stop()                                         # the queue is worked off first
    assert len(calls) == 2                              # chatter counted once, then one more
    assert not any(c.ejected for c in calls)


def test_eject_with_a_development_export_directory_ejects_nothing_and_says_so(device):
    """The test configuration exports into a development directory ([export] directory):
    the eject button's seam asks no exportd, ejects nothing and names the directory."""
    result = eject(device)
    assert result.ejected is False and result.message.startswith("no export medium")
    assert "development directory" in result.message, result.message


# --- the recorder process -----------------------------------------------------------------------

def test_gpio_off_by_default_and_pins_checked(tmp_path):
    assert load(write_config(tmp_path)).gpio.enabled is False
    with pytest.raises(ConfigError) as err:
        load(write_config(tmp_path, extra="[gpio]\nenabled = true\nstatus_led = 5\n"
                                         "eject_button = 5\nled = 4\n"))
    text = str(err.value)
    assert "gpio.led: unknown key" in text
    bad = write_config(tmp_path, extra="[gpio]\nstatus_led = 5\neject_button = 5\n")
    with pytest.raises(ConfigError, match="GPIO 5 is used for more than one purpose"):
        load(bad)


def test_gpio_that_cannot_open_raises_gpio_failed_until_a_start_that_opens_them(tmp_path):
    try:
        import lgpio  # noqa: F401
        pytest.skip("lgpio is installed here: the lgpio factory might open real pins")
    except ImportError:
        pass
    broken = load(write_config(tmp_path, extra=GPIO.replace('"mock"', '"lgpio"')))
    store = make_store(tmp_path)
    try:
        assert start_gpio(broken, store, dict) is None          # the recorder records on
        found = alarms(store)
        assert GPIO_ALARM in found and "Check [gpio]" in found[GPIO_ALARM]["detail"]
        working = load(write_config(tmp_path, extra=GPIO))
        gpio = start_gpio(working, store, dict)
        assert gpio is not None
        stop_gpio(gpio)
        assert GPIO_ALARM not in alarms(store)
    finally:
        store.close()


def test_without_a_switch_case_open_is_forgotten_and_case_tamper_stays_R82(tmp_path):
    cfg = load(write_config(tmp_path))                          # [gpio] off
    store = make_store(tmp_path)
    try:
        store.raise_alarm(CASE_OPEN, "left by an earlier run")
        store.raise_alarm(CASE_TAMPER, "opened, not yet acknowledged")
        assert start_gpio(cfg, store, dict) is None
        found = alarms(store)
        assert CASE_OPEN not in found and CASE_TAMPER in found
    finally:
        store.close()


def _wait_for_alarm(index: Path, kind: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.communicate()
        if index.exists():
            with closing(sqlite3.connect(index)) as db:
                try:
                    if db.execute("SELECT 1 FROM alarms WHERE kind = ?", (kind,)).fetchone():
                        return
                except sqlite3.OperationalError:    # the table is not made yet
                    pass
        assert time.monotonic() < deadline, f"no alarm {kind} from `nvr run`"
        time.sleep(0.1)


def test_nvr_run_with_gpio_on_the_mock_factory_starts_reads_the_case_and_stops_cleanly(
        tmp_path):
    config = write_config(tmp_path, extra=GPIO)
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "run", "--no-web"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # the mock switch is pulled up and nothing closes it: the case reads open at start
        _wait_for_alarm(tmp_path / "data" / "index.sqlite3", CASE_TAMPER, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped; open segments closed" in out
    assert "GPIO" not in err.replace("GPIO pin", ""), err      # no GPIO error logged
    cfg = load(config)
    gov = Governance.open(cfg)
    try:
        [entry] = [e for e in gov.logbook.entries("usage") if e["action"] == "case-opened"]
    finally:
        gov.close()
    assert json.loads(entry["details"])["at_start"] is True
    store = make_store(tmp_path)
    try:
        assert GPIO_ALARM not in alarms(store)
    finally:
        store.close()


def test_an_opened_case_shows_on_the_system_page_in_dutch_and_in_readyz_R82(tmp_path):
    from webutil import client

    from firmware.web import create_app
    config = write_config(tmp_path, extra=GPIO)
    staff(config)
    cfg = load(config)
    store = make_store(tmp_path)
    gov = Governance.open(cfg)
    factory, seen = MockFactory(), Seen()
    gpio = DeviceGpio(cfg, store, gov.logbook, dict, factory=factory, settle=0,
                      on_record=seen)
    try:
        gpio.start()
        seen.wait("opened")                             # found open at start
    finally:
        gpio.stop()
        factory.close()
        gov.close()
        store.close()
    app = create_app(cfg)
    app.config["TESTING"] = True
    c = client(app)
    token = c.get("/api/session").get_json()["csrf"]
    assert c.post("/api/login", json={"name": "t.admin", "password": PASSWORD},
                  headers={"X-CSRF-Token": token}).status_code == 200
    shown = {a["kind"]: a["text"] for a in c.get("/api/system").get_json()["storage"]["alarms"]}
    assert shown[CASE_OPEN] == "de behuizing van de recorder is open"
    assert shown[CASE_TAMPER].startswith("de behuizing van de recorder is geopend")
    ready = c.get("/readyz").get_json()       # signed in: the alarms are not for anonymous callers
    assert {CASE_OPEN, CASE_TAMPER} <= {a["kind"] for a in ready["alarms"]}
