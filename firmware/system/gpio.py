"""The recorder's pins: the status LED, the case tamper switch and the eject button
(issue 12 item 4; wiring and behaviour in hardware.md "GPIO").

The only module that imports gpiozero (ARCHITECTURE.md, Hardware seams). On a PC and in the
tests it runs on gpiozero's mock pin factory (`[gpio] pin_factory = "mock"` or
GPIOZERO_PIN_FACTORY=mock); on a Pi 5 on lgpio, which makes its FIFOs in the working directory
(the unit gives it a writable one).

Pin callbacks only put a job in a queue; one worker thread does the work: it writes the
logbook and the alarms (firmware/system/case.py), asks the export helper to eject
(firmware/export/medium.py), and once a second sets the LED's pattern from the recorder's status
and the alarms in the index. Nothing here runs per frame.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from enum import Enum

from firmware.config import Config
from firmware.export.medium import EjectResult
from firmware.export.medium import eject as eject_medium
from firmware.system.case import CaseSwitch, forget_switch

log = logging.getLogger(__name__)

GPIO_ALARM = "gpio-failed"      # the pins could not be opened: no LED, no tamper switch

# The pins hardware.md wires (BCM numbers; header pins 11, 13 and 15, next to the ground pins 9,
# 14 and 20). `[gpio]` names them on a device; the configuration's default is -1 (nothing
# connected), as a PC has no pins. tests/test_hardware_doc.py holds the doc to these.
WIRING = {"status_led": 17, "tamper_switch": 27, "eject_button": 22}


class Pattern(Enum):
    RECORDING = "recording"     # steady: every camera that may record is running
    IDLE = "idle"               # slow blink: nothing records (no camera allowed, starting)
    FAULT = "fault"             # fast blink: an alarm in the index or a camera that stopped


# (seconds on, seconds off) of each blinking pattern; None: steady on.
BLINK: dict[Pattern, tuple[float, float] | None] = {
    Pattern.RECORDING: None,
    Pattern.IDLE: (0.2, 1.8),
    Pattern.FAULT: (0.15, 0.15),
}


def pattern_for(cameras: dict[str, dict], alarms: list[dict]) -> Pattern:
    """The LED's pattern from RecorderService.status() and Store.alarms()."""
    if alarms:
        return Pattern.FAULT
    running = [c for c in cameras.values() if c.get("state") != "refused"]
    if any(c.get("state") != "recording" or c.get("why") or c.get("storage_error")
           for c in running):
        return Pattern.FAULT
    return Pattern.RECORDING if running else Pattern.IDLE


def show(led, pattern: Pattern, *, n: int | None = None, background: bool = True) -> None:
    """Put `pattern` on a gpiozero LED; `n` blinks only (tests), else until changed."""
    blink = BLINK[pattern]
    if blink is None:
        led.on()
    else:
        led.blink(on_time=blink[0], off_time=blink[1], n=n, background=background)


def pin_factory(name: str):
    """The gpiozero pin factory `[gpio] pin_factory` names; None: gpiozero's own choice."""
    if name == "auto":
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory
        return MockFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory
        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory
        return RPiGPIOFactory()
    from gpiozero.pins.native import NativeFactory
    return NativeFactory()


class DeviceGpio:
    """The LED, the case switch and the eject button of one recorder; `start()` / `stop()`.

    `status`: the recorder's per-camera status; `logbook`: where case openings go; `eject`:
    the export helper's seam; `settle`: seconds a switch change must hold before it is read
    (a switch chatters); `debounce`: presses of the eject button closer together count once;
    `on_record(what)`: told after each recorded change (tests wait on it)."""

    def __init__(self, cfg: Config, store, logbook, status: Callable[[], dict], *,
                 factory=None, eject: Callable[[Config], EjectResult] = eject_medium,
                 settle: float = 0.2, debounce: float = 1.0, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_record: Callable[[str], None] | None = None):
        self.cfg, self.store, self.status = cfg, store, status
        self.factory = factory
        self.eject, self.settle, self.debounce, self.interval = eject, settle, debounce, interval
        self.clock, self.on_record = clock, on_record or (lambda what: None)
        pins = cfg.gpio
        self.case = (CaseSwitch(store, logbook, cfg.device.timezone, pins.tamper_switch)
                     if pins.tamper_switch >= 0 else None)
        self.led = self.switch = self.button = None
        self.pattern: Pattern | None = None
        self.jobs: queue.Queue[str | None] = queue.Queue()
        self._case_open: bool | None = None          # unknown until read at start
        self._last_press: float | None = None
        self._case_pending = threading.Event()       # a switch change waits for the worker
        self._own_factory = False
        self._worker: threading.Thread | None = None
        self.governance = None                       # closed by stop_gpio when start_gpio opened it

    # --- pins -----------------------------------------------------------------------------

    def open_devices(self) -> None:
        """Claim the configured pins (start() does it when not done yet)."""
        from gpiozero import LED, Button
        if any(d is not None for d in (self.led, self.switch, self.button)):
            return
        if self.factory is None:
            self.factory = pin_factory(self.cfg.gpio.pin_factory)
            self._own_factory = self.factory is not None
        pins, kw = self.cfg.gpio, {"pin_factory": self.factory}
        try:
            if pins.status_led >= 0:
                self.led = LED(pins.status_led, **kw)
            if pins.tamper_switch >= 0:
                # closed (pressed, pulled to GND) while the lid is on; open or a cut wire: high
                self.switch = Button(pins.tamper_switch, pull_up=True, **kw)
                self.switch.when_pressed = self.switch.when_released = self._case_changed
            if pins.eject_button >= 0:
                self.button = Button(pins.eject_button, pull_up=True, **kw)
                self.button.when_pressed = self._eject_pressed
        except BaseException:
            self._close_devices()
            raise

    def _case_changed(self) -> None:           # a pin callback: queue only, once while pending
        if not self._case_pending.is_set():
            self._case_pending.set()
            self.jobs.put("case")

    def _eject_pressed(self) -> None:          # a pin callback: debounce and queue only
        now = self.clock()
        if self._last_press is not None and now - self._last_press < self.debounce:
            return
        self._last_press = now
        self.jobs.put("eject")

    # --- the worker -----------------------------------------------------------------------

    def start(self) -> None:
        self.open_devices()
        if self.case is None:
            forget_switch(self.store)
        else:
            self.jobs.put("case")                # read the switch as found at start
        self._worker = threading.Thread(target=self._run, name="gpio", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._worker is not None:
            self.jobs.put(None)
            self._worker.join(timeout)
            self._worker = None
        self._close_devices()

    def _close_devices(self) -> None:
        if self.led is not None:
            self.led.off()                       # dark: the recorder is not running
        for device in (self.led, self.switch, self.button):
            if device is not None:
                device.close()
        self.led = self.switch = self.button = None
        if self._own_factory and self.factory is not None:
            self.factory.close()
            self.factory, self._own_factory = None, False

    def _run(self) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=self.interval)
            except queue.Empty:
                job = "status"
            if job is None:
                return
            if self.case is not None and self.case.pending:
                try:                         # an alarm the index refused, tried again
                    self.case.flush()
                except Exception as exc:     # noqa: BLE001 - the next tick tries again
                    log.error("GPIO: the case alarm could not be written to the index (%s); "
                              "tried again in %g s", exc, self.interval)
            elif self.case is not None and self._case_open is not None:
                try:                         # removed from the index by hand?
                    self.case.audit(self._case_open)
                except Exception:            # noqa: BLE001 - the next tick looks again
                    log.exception("GPIO: the case alarms could not be checked")
            try:
                if job == "case":
                    self._read_case()
                elif job == "eject":
                    self._eject()
                self._refresh_led()
            except Exception:            # the next change or tick tries again; keep running
                log.exception("GPIO: %s failed", job)

    def _read_case(self) -> None:
        self._case_pending.clear()        # a change from now on queues another read
        if self.settle:
            time.sleep(self.settle)       # let a chattering switch come to rest, then read
        is_open = not self.switch.is_pressed
        was = self._case_open
        if is_open == was:
            return
        self._case_open = is_open
        if is_open:
            self.case.opened(at_start=was is None)
            self.on_record("opened")
        elif was is None:
            self.case.closed_at_start()
            self.on_record("closed-at-start")
        else:
            self.case.closed()
            self.on_record("closed")

    def _eject(self) -> None:
        result = self.eject(self.cfg)
        (log.info if result.ejected else log.warning)("eject button: %s", result.message)
        self.on_record("eject")

    def _refresh_led(self) -> None:
        if self.led is None:
            return
        pattern = pattern_for(self.status(), self.store.alarms())
        if pattern != self.pattern:
            self.pattern = pattern
            show(self.led, pattern)
            self.on_record(f"led:{pattern.value}")


def start_gpio(cfg: Config, store, status: Callable[[], dict]) -> DeviceGpio | None:
    """The recorder's pins per `[gpio]`, started; None when GPIO is off or could not be
    opened. A failure does not stop the recording: it raises the alarm `gpio-failed`, which
    names the problem (the system page and /readyz show it)."""
    if not cfg.gpio.enabled:
        forget_switch(store)
        store.clear_alarm(GPIO_ALARM)
        return None
    from firmware.governance.service import Governance
    gov = Governance.open(cfg)
    gpio = DeviceGpio(cfg, store, gov.logbook, status)
    try:
        gpio.start()
    except Exception as exc:
        gov.close()
        store.raise_alarm(GPIO_ALARM, (
            f"the GPIO pins could not be opened ({type(exc).__name__}: {exc}): no status LED, "
            "no case tamper switch, no eject button. Check [gpio] in the configuration (pins, "
            "pin_factory) and that the recorder may use /dev/gpiochip*, then restart it"))
        forget_switch(store)
        return None
    store.clear_alarm(GPIO_ALARM)
    gpio.governance = gov
    return gpio


def stop_gpio(gpio: DeviceGpio | None) -> None:
    if gpio is None:
        return
    gpio.stop()
    gov = getattr(gpio, "governance", None)
    if gov is not None:
        gov.close()


def claim_pins(cfg: Config) -> list[str]:
    """Claim the pins `[gpio]` names on its pin factory and release them again (`nvr
    selftest`): what was claimed, e.g. ["status LED 17"]. Raises what gpiozero raises when a
    pin cannot be had (no such chip, in use, no permission). Nothing is logged or recorded."""
    gpio = DeviceGpio(cfg, None, None, dict)
    gpio.open_devices()
    try:
        pins = cfg.gpio
        return [f"{what} {pin}" for what, pin in (("status LED", pins.status_led),
                                                  ("tamper switch", pins.tamper_switch),
                                                  ("eject button", pins.eject_button))
                if pin >= 0]
    finally:
        gpio._close_devices()
