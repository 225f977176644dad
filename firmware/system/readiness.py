"""Is the device ready to do its work? The one answer behind /readyz and the storage and
recorder items of the home page (issue 11 item 7, R-30, R-42, R-82 health monitoring).

Ready means all of:
- the disk is below its high-water mark and the store raises no alarm (R-42);
- every camera may record (the DPIA and art. 11, governance.introduction);
- the recorder answers on its local socket and every camera that may record delivered a frame
  in the last HEARTBEAT_SECONDS and has its segments kept (a recorder that is down, a camera
  that stalled, or a store that loses every segment records nothing: the device is not ready
  however healthy the web is);
- segments reach the disk: no segment write or index commit of the recorder has been running
  longer than the watchdog's bound (check `writes`; recording/watchdog.py's bound, the
  recorder's status says it per camera; a hang shows here before systemd restarts it);
- the clock is synchronised (R-30: evidence needs trustworthy time; system.clock.clock_state);
- the keys are present in the key directory: the master key (without it no segment is written
  or read, R-41) and the logbook's signing and MAC keys (R-50: without them no entry is
  signed); a missing key is named, its content is never read here.

`/healthz` stays liveness only (the web process answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from firmware.config import Config
from firmware.governance.introduction import refusals
from firmware.capture.tamper_kinds import is_tamper
from firmware.governance.wording import ALARMS
from firmware.i18n import _
from firmware.governance.logbook import MAC_KEY, SIGNING_KEY
from firmware.live.client import recorder_status
from firmware.storage.keys import KEY_BYTES, MASTER_FILE
from firmware.system.clock import clock_state

HEARTBEAT_SECONDS = 10          # a camera without a frame for this long has stalled
KEY_FILES = (MASTER_FILE, SIGNING_KEY, MAC_KEY)      # each KEY_BYTES long


@dataclass
class Readiness:
    checks: dict[str, bool]
    problems: dict[str, list[str]]              # per check that fails: why, for a person
    alarms: list[dict] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    clock_source: str = ""

    @property
    def reasons(self) -> list[str]:
        return [why for found in self.problems.values() for why in found]

    @property
    def ready(self) -> bool:
        return not self.reasons


def recorder_problems(cfg: Config, refused: dict, now: float,
                      status: dict | None) -> list[str]:
    """Why the recorder is not recording every camera that may record ([] when it is)."""
    if status is None:
        return [_("the recorder does not answer on its socket %(path)s: start it (nvr run, or "
                  "systemctl start nvr-recorder) and look at its log", path=str(cfg.live_socket))]
    problems = []
    for cam in cfg.cameras:
        if cam.id in refused:
            continue                             # said by cameras_may_record
        seen = status.get(cam.id, {})
        last = seen.get("last_frame")
        if seen.get("state") != "recording":
            problems.append(_("camera %(camera)s does not record (%(state)s): look at the "
                              "recorder's log", camera=cam.id,
                              state=seen.get("why") or seen.get("state", "not started")))
        elif last is None or now - last > HEARTBEAT_SECONDS:
            problems.append(_("camera %(camera)s delivered no frame for more than %(seconds)s "
                              "seconds: check the camera and its cable", camera=cam.id,
                              seconds=HEARTBEAT_SECONDS))
        elif seen.get("storage_error"):
            problems.append(_("camera %(camera)s records nothing: its segments are lost, "
                              "storing them fails (%(why)s): look at the disk and the "
                              "recorder's log", camera=cam.id, why=seen["storage_error"]))
    return problems


def _hung(status: dict | None) -> list[dict]:
    return [seen for seen in (status or {}).values()
            if isinstance(seen, dict) and seen.get("writes_hung")]


def writes_hung(status: dict | None) -> bool:
    """Whether the recorder's status (`?status`) says a segment write or commit hangs."""
    return bool(_hung(status))


def write_problems(status: dict | None) -> list[str]:
    """Why segments do not reach the disk though the recorder runs: a write or commit hangs
    ([] when none, or when the recorder does not answer: `recorder_running` says that)."""
    hung = _hung(status)
    if not hung:
        return []
    return [_("a segment write or index commit has been running for more than %(seconds)s s: "
              "the disk or the index hangs and no segment is stored; the watchdog restarts the "
              "recorder if it lasts. Look at the data disk and the recorder's log",
              seconds=f"{hung[0].get('write_bound', 0):g}")]


def key_problems(cfg: Config) -> list[str]:
    """Which of the device's keys are missing or not a key (by their size), [] when all are
    there. A key directory this process may not read counts as missing, and says so."""
    problems = []
    for name in KEY_FILES:
        path = cfg.storage.key_dir / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(_("the key %(path)s is missing: restore it from the key backup "
                              "(without it nothing is recorded or signed)", path=str(path)))
            continue
        except OSError as exc:
            problems.append(_("the key %(path)s cannot be reached (%(why)s): check the key "
                              "directory's owner and permissions", path=str(path),
                              why=exc.strerror or exc))
            continue
        if size != KEY_BYTES:
            problems.append(_("the key %(path)s is damaged (%(size)s bytes instead of "
                              "%(want)s): restore it from the key backup", path=str(path),
                              size=size, want=KEY_BYTES))
    return problems


def readiness(cfg: Config, store, now: float | None = None,
              clock_max_age: float = 0.0) -> Readiness:
    """The checks of /readyz, each True when it is as it should be, except `storage_alarm`,
    which is True when there IS a storage alarm (the field says what it names); `untampered`
    is False while a camera or the case is tampered with (capture/tamper_kinds.is_tamper). `clock_max_age`:
    how old an answer about the clock may be (0 for /readyz: asked afresh)."""
    now = time.time() if now is None else now
    alarms = store.alarms()                  # kept in the index: the owner's, seen here too
    refused = refusals(cfg)
    status = recorder_status(cfg.live_socket)
    recorder = recorder_problems(cfg, refused, now, status)
    writes = write_problems(status)
    clock = clock_state(max_age=clock_max_age)
    below = store.disk_used() <= store.high_water
    keys = key_problems(cfg)
    tampered = [a for a in alarms if is_tamper(a["kind"])]
    stored = [a for a in alarms if not is_tamper(a["kind"])]
    checks = {"disk_below_high_water": below, "storage_alarm": bool(stored),
              "untampered": not tampered,
              "cameras_may_record": not refused, "recorder_running": not recorder,
              "writes": not writes,
              "clock_synchronised": clock.synchronised, "keys_present": not keys}
    problems: dict[str, list[str]] = {}
    if not below:
        problems["disk_below_high_water"] = [_(
            "the disk is above its high-water mark: the oldest footage that is not held is "
            "erased first (R-42)")]
    if stored:
        problems["storage_alarm"] = [_("storage alarm: %(text)s",
                                       text=ALARMS.get(a["kind"], a["detail"])) for a in stored]
    if tampered:
        problems["untampered"] = [_("tamper alarm: %(text)s",
                                    text=ALARMS.get(a["kind"], a["detail"])) for a in tampered]
    if refused:
        problems["cameras_may_record"] = [
            _("camera %(camera)s may not record: %(why)s", camera=cam, why=r.dutch)
            for cam, r in refused.items()]
    if recorder:
        problems["recorder_running"] = recorder
    if writes:
        problems["writes"] = writes
    if not clock.synchronised:
        problems["clock_synchronised"] = [_(
            "the clock is not synchronised (according to %(source)s): check the time server "
            "(NTP); recordings need trustworthy time (R-30)", source=clock.source)]
    if keys:
        problems["keys_present"] = keys
    return Readiness(checks, problems,
                     [{"kind": a["kind"], "detail": a["detail"]} for a in alarms],
                     {cam: r.dutch for cam, r in refused.items()}, clock.source)
