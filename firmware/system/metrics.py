"""The device's figures for the central room's Prometheus (/metrics, issue 12 item 3).

A custom collector: nothing is counted on the recorder's hot path; every figure is read when
Prometheus scrapes, from what already keeps it: the index (segments, events, slot keys, holds,
alarms, requests, exports, the logbooks, recorder restarts), the recorder's status on its
socket (frames per camera, its heartbeat), the disk, the kernel's clock and the board (SoC
temperature, `vcgencmd get_throttled`). No names of people, no footage, no alarm texts: only
counts, times, camera ids and alarm kinds.

Counters come from what only grows: frames since the recorder started, slot keys erased (their
rows stay), `login-failed` entries of the append-only usage logbook, exports, recorder
restarts. What the retention erases (segments, events) is a gauge of what is kept.

The board's seams (a test or another board points them elsewhere): $NVR_THERMAL_ZONE, the file
with the SoC temperature in millidegrees (default the first thermal zone); $NVR_SYSFS_ROOT,
where sysfs is (default /sys) for the Raspberry Pi kernel's throttling files; $NVR_VCGENCMD,
the command asked for `get_throttled` when those are missing (default `vcgencmd`, asked only
where it exists).

Throttling and undervoltage are read from the kernel first, as nvr-web runs with
PrivateDevices=yes and vcgencmd cannot open /dev/vchiq there: the firmware driver's attribute
`get_throttled` (the same flags as vcgencmd, printed in hex without 0x;
drivers/firmware/raspberrypi.c), found through the driver `raspberrypi-firmware`, else the
hwmon device named `rpi_volt` (drivers/hwmon/raspberrypi-hwmon.c), whose `in0_lcrit_alarm`
says undervoltage only. That driver polls the firmware every 2 s and asks it to clear the
sticky bits each time, so on such a kernel "since boot" means "since the last poll".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily,
                                    Metric)
from prometheus_client.registry import CollectorRegistry

from firmware.capture.tamper_kinds import parse_alarm_kind
from firmware.config import MAX_RETENTION_DAYS, Config
from firmware.live.client import recorder_status
from firmware.system.clock import clock_state, kernel_clock
from firmware.system.readiness import key_problems, writes_hung

THERMAL_ENV = "NVR_THERMAL_ZONE"
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
VCGENCMD_ENV = "NVR_VCGENCMD"
SYSFS_ENV = "NVR_SYSFS_ROOT"
FIRMWARE_DRIVER = "bus/platform/drivers/raspberrypi-firmware"   # its devices: get_throttled
HWMON_NAME = "rpi_volt"                                          # in0_lcrit_alarm
CLOCK_MAX_AGE = 10.0            # seconds: a scrape every 15 s may reuse the clock's answer
# Alarm kinds raised through Store.raise_alarm by the case switch (system/case.py: latched
# until acknowledged, and while the switch reads open) and the picture (capture/tamper.py:
# camera-tamper:<camera>:<condition>).
TAMPER_CASE = ("case-tamper", "case-open")

# vcgencmd get_throttled: the bits of the firmware's answer (now, and since boot).
THROTTLE_BITS = {"undervoltage": 0, "frequency_capped": 1, "throttled": 2,
                 "soft_temperature_limit": 3}
SINCE_BOOT = 16


@dataclass(frozen=True)
class Board:
    """Where the board reports its temperature and throttling (see the module's seams)."""

    thermal_zone: Path
    vcgencmd: str | None
    sysfs: Path = Path("/sys")

    @classmethod
    def from_env(cls) -> "Board":
        zone = os.environ.get(THERMAL_ENV)
        return cls(Path(zone) if zone else THERMAL_ZONE,
                   shutil.which(os.environ.get(VCGENCMD_ENV) or "vcgencmd"),
                   Path(os.environ.get(SYSFS_ENV) or "/sys"))

    def throttle(self) -> tuple[int, tuple[str, ...]] | None:
        """The throttling flags (vcgencmd's bits) and the conditions they speak for: from the
        kernel's get_throttled (all four), else hwmon rpi_volt (undervoltage), else vcgencmd
        (all four); None where the board says nothing."""
        for attribute in sorted((self.sysfs / FIRMWARE_DRIVER).glob("*/get_throttled")):
            try:
                return int(attribute.read_text().strip(), 16), tuple(THROTTLE_BITS)
            except (OSError, ValueError):
                continue
        for name in sorted((self.sysfs / "class" / "hwmon").glob("hwmon*/name")):
            try:
                if name.read_text().strip() != HWMON_NAME:
                    continue
                alarm = int((name.parent / "in0_lcrit_alarm").read_text().strip())
            except (OSError, ValueError):
                continue
            bit = THROTTLE_BITS["undervoltage"]
            return (alarm << bit) | (alarm << (bit + SINCE_BOOT)), ("undervoltage",)
        flags = self.throttled()
        return None if flags is None else (flags, tuple(THROTTLE_BITS))

    def temperature(self) -> float | None:
        """The SoC's temperature in °C, or None where the board does not report one."""
        try:
            return int(self.thermal_zone.read_text().strip()) / 1000
        except (OSError, ValueError):
            return None

    def throttled(self) -> int | None:
        """The flags of `vcgencmd get_throttled` (e.g. 0x50005), or None without vcgencmd."""
        if self.vcgencmd is None:
            return None
        try:
            out = subprocess.run([self.vcgencmd, "get_throttled"], capture_output=True,
                                 text=True, timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            return None
        _, _, value = out.stdout.strip().partition("=")
        try:
            return int(value, 16) if out.returncode == 0 else None
        except ValueError:
            return None


def _gauge(name: str, doc: str, value: float | None = None, labels: tuple[str, ...] = ()):
    g = GaugeMetricFamily(name, doc, labels=list(labels) or None)
    if value is not None:
        g.add_metric([], value)
    return g


def _counter(name: str, doc: str, value: float | None = None,
             labels: tuple[str, ...] = ()):
    c = CounterMetricFamily(name, doc, labels=list(labels) or None)
    if value is not None:
        c.add_metric([], value)
    return c


def _has_table(db, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      (name,)).fetchone() is not None


class DeviceCollector:
    """Reads the device's figures at scrape time (register it in a CollectorRegistry)."""

    def __init__(self, cfg: Config, store, *, board: Board | None = None,
                 status: Callable[[Path], dict | None] = recorder_status):
        self.cfg, self.store, self.status = cfg, store, status
        self.board = board or Board.from_env()
        # The usage logbook only grows: count `login-failed` entries past the last one seen.
        self._failures_lock = threading.Lock()
        self._failures = (0, 0)          # (last entry number counted, failures up to it)

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        yield from self._recorder(now)
        with self.store.lock:            # the web's reader connection, shared by its threads
            db = self.store.db
            yield from self._storage(db, now)
            yield from self._retention(db, now)
            yield from self._alarms(db)
            yield from self._governance(db, now)
            yield from self._logbook(db)
            yield from self._restarts(db)
        yield _gauge("nvr_keys_present", "1 when the master key and the logbook's keys are in "
                     "the key directory", 0 if key_problems(self.cfg) else 1)
        yield from self._board()
        yield from self._clock()

    # --- the recorder -----------------------------------------------------------------------

    def _recorder(self, now: float) -> Iterator[Metric]:
        status = self.status(self.cfg.live_socket)
        yield _gauge("nvr_recorder_up", "1 when the recorder answers on its socket",
                     0 if status is None else 1)
        recording = _gauge("nvr_camera_recording", "1 while the recorder records the camera",
                           labels=("camera",))
        fps = _gauge("nvr_camera_configured_fps", "frames per second the camera is set to; "
                     "rate(nvr_camera_frames_total[1m]) is what it delivers", labels=("camera",))
        frames = _counter("nvr_camera_frames", "frames the camera delivered since the recorder "
                          "started", labels=("camera",))
        age = _gauge("nvr_camera_last_frame_age_seconds", "seconds since the camera's last "
                     "frame", labels=("camera",))
        failing = _gauge("nvr_camera_segments_failing", "1 while the camera's segments are "
                         "lost (storing them fails)", labels=("camera",))
        dropped = _counter("nvr_camera_frames_dropped", "frames the camera did not deliver "
                           "(gaps in the capture times) since the recorder started",
                           labels=("camera",))
        lost = _counter("nvr_camera_segments_lost", "segments that could not be stored since "
                        "the recorder started", labels=("camera",))
        written = _counter("nvr_camera_segments_written", "segments stored since the recorder "
                           "started", labels=("camera",))
        size = _counter("nvr_camera_segment_bytes_written", "bytes of the segments stored "
                        "since the recorder started", labels=("camera",))
        for cam in self.cfg.cameras:
            fps.add_metric([cam.id], cam.fps)
            seen = (status or {}).get(cam.id, {})
            recording.add_metric([cam.id], 1 if seen.get("state") == "recording" else 0)
            failing.add_metric([cam.id], 1 if seen.get("storage_error") else 0)
            if isinstance(seen.get("frames"), int):
                frames.add_metric([cam.id], seen["frames"])
            if seen.get("last_frame") is not None:
                age.add_metric([cam.id], max(0.0, now - seen["last_frame"]))
            # Counted by the recorder (recording/recorder.py, the store's writer) since it started.
            if isinstance(seen.get("frames_dropped"), int):
                dropped.add_metric([cam.id], seen["frames_dropped"])
            if isinstance(seen.get("segments_lost"), int):
                lost.add_metric([cam.id], seen["segments_lost"])
            if isinstance(seen.get("segments_written"), int):
                written.add_metric([cam.id], seen["segments_written"])
                size.add_metric([cam.id], seen.get("bytes_written", 0))
        yield from (recording, fps, frames, age, failing, dropped, lost, written, size)
        yield _gauge("nvr_segment_writes_hung", "1 while a segment write or index commit of the "
                     "recorder has run longer than the watchdog's bound (readiness check writes)",
                     None if status is None else int(writes_hung(status)))

    # --- storage and retention (R-40, R-42) -------------------------------------------------

    def _storage(self, db, now: float) -> Iterator[Metric]:
        usage = shutil.disk_usage(self.store.data_dir)
        yield _gauge("nvr_disk_used_ratio", "share of the data disk in use",
                     (usage.total - usage.free) / usage.total)
        yield _gauge("nvr_disk_high_water_ratio", "the high-water mark: above it the oldest "
                     "unheld footage is erased (R-42)", self.store.high_water)
        yield _gauge("nvr_disk_free_bytes", "free bytes on the data disk", usage.free)
        # Covering indexes only (segments_camera_start, events_camera_start): a scan of the
        # table itself (bytes, status) took 0.3 s on 240,000 segments, under the store's lock.
        segments = _gauge("nvr_segments_stored", "segments kept in the index",
                          labels=("camera",))
        events = _gauge("nvr_motion_events_stored", "motion events kept in the index",
                        labels=("camera",))
        latest = _gauge("nvr_motion_event_last_timestamp_seconds", "start of the newest "
                        "motion event", labels=("camera",))
        per = {cam.id: 0 for cam in self.cfg.cameras}
        for r in db.execute("SELECT camera_id, count(*) FROM segments GROUP BY camera_id"):
            per[r[0]] = r[1]
        for cam, n in per.items():
            segments.add_metric([cam], n)
        seen = {cam.id: (0, None) for cam in self.cfg.cameras}
        for r in db.execute("SELECT camera_id, count(*), max(start) FROM events "
                            "GROUP BY camera_id"):
            seen[r[0]] = (r[1], r[2])
        for cam, (n, last) in seen.items():
            events.add_metric([cam], n)
            if last is not None:
                latest.add_metric([cam], last)
        yield from (segments, events, latest)

    def _retention(self, db, now: float) -> Iterator[Metric]:
        yield _gauge("nvr_retention_configured_seconds", "the retention period set (R-40)",
                     self.store.retention)
        yield _gauge("nvr_retention_max_seconds", "the longest retention the regulation "
                     "allows (art. 8: 28 days)", MAX_RETENTION_DAYS * 86400)
        # The horizon: age of the oldest footage a key still opens that no hold keeps (held
        # footage may be older by law; it is counted apart).
        (oldest,) = db.execute(
            "SELECT min(s.start) FROM segments s JOIN slot_keys k ON k.slot = s.slot WHERE "
            "k.wrapped IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hold_segments hs JOIN holds "
            "h ON h.id = hs.hold_id WHERE hs.segment_id = s.id AND h.released IS NULL)"
        ).fetchone()
        horizon = _gauge("nvr_retention_horizon_seconds", "age of the oldest unheld footage "
                         "kept (absent when none is kept)")
        if oldest is not None:
            horizon.add_metric([], max(0.0, now - oldest))
        yield horizon
        (first,) = db.execute("SELECT min(start) FROM slot_keys").fetchone()
        since = _gauge("nvr_recording_first_timestamp_seconds", "start of the first hour this "
                       "device ever recorded (keys are erased, their rows stay)")
        if first is not None:
            since.add_metric([], first)
        yield since
        # Sweep lateness: a slot key past its erase time that still exists.
        (due,) = db.execute("SELECT min(erase_at) FROM slot_keys WHERE wrapped IS NOT NULL "
                            "AND erase_at <= ?", (now,)).fetchone()
        yield _gauge("nvr_retention_sweep_lateness_seconds", "how long the oldest slot key "
                     "past its erase time has been due (0: none)",
                     0.0 if due is None else now - due)
        (erased,) = db.execute("SELECT count(*) FROM slot_keys WHERE wrapped IS NULL"
                               ).fetchone()
        yield _counter("nvr_slot_keys_erased", "slot keys destroyed: footage erased", erased)
        (live,) = db.execute("SELECT count(*) FROM slot_keys WHERE wrapped IS NOT NULL"
                             ).fetchone()
        yield _gauge("nvr_slot_keys_live", "slot keys that still open footage", live)
        holds, held = db.execute(
            "SELECT (SELECT count(*) FROM holds WHERE released IS NULL), (SELECT count(*) FROM "
            "hold_segments hs JOIN holds h ON h.id = hs.hold_id WHERE h.released IS NULL)"
        ).fetchone()
        yield _gauge("nvr_holds_active", "holds in force (footage kept past retention)", holds)
        yield _gauge("nvr_held_segments", "segments kept by a hold", held)

    def _alarms(self, db) -> Iterator[Metric]:
        kinds = [r[0] for r in db.execute("SELECT kind FROM alarms ORDER BY kind")]
        alarm = _gauge("nvr_alarm", "1 for each alarm raised in the index, by kind",
                       labels=("kind",))
        for kind in kinds:
            alarm.add_metric([kind], 1)
        yield alarm
        tamper = _gauge("nvr_tamper", "1 while tampering is detected: the case opened, or a "
                        "camera covered, blinded, defocused, frozen or turned away",
                        labels=("source", "camera"))
        tamper.add_metric(["case", ""], 1 if any(k in TAMPER_CASE for k in kinds) else 0)
        covered = {found[0] for found in map(parse_alarm_kind, kinds) if found}
        for cam in self.cfg.cameras:
            tamper.add_metric(["camera", cam.id], 1 if cam.id in covered else 0)
        yield tamper

    # --- governance: requests, exports, logins, logbooks ------------------------------------

    def _governance(self, db, now: float) -> Iterator[Metric]:
        opened = _gauge("nvr_requests_open", "requests not yet closed", labels=("article",))
        overdue = _gauge("nvr_requests_overdue", "art. 10 requests whose decision is past its "
                         "term (R-72)")
        counts = {"9": 0, "10": 0}
        late = 0
        if _has_table(db, "requests"):
            for r in db.execute("SELECT article, count(*) FROM requests WHERE status != "
                                "'closed' GROUP BY article"):
                counts[str(r[0])] = r[1]
            (late,) = db.execute("SELECT count(*) FROM requests WHERE article = 10 AND status "
                                 "= 'open' AND decision_due < ?", (now,)).fetchone()
        for article, n in counts.items():
            opened.add_metric([article], n)
        overdue.add_metric([], late)
        yield from (opened, overdue)
        exports = 0
        if _has_table(db, "exports"):
            (exports,) = db.execute("SELECT count(*) FROM exports").fetchone()
        yield _counter("nvr_exports", "export packages made (art. 9, art. 10)", exports)
        yield _counter("nvr_login_failures", "failed sign-ins (usage logbook)",
                       self._login_failures(db))

    def _login_failures(self, db) -> int:
        if not _has_table(db, "logbook"):
            return 0
        with self._failures_lock:
            last, count = self._failures
            n, more = db.execute("SELECT max(n), count(*) FILTER (WHERE action = 'login-failed') "
                                 "FROM logbook WHERE book = 'usage' AND n > ?", (last,)
                                 ).fetchone()
            if n is not None:
                self._failures = (n, count + more)
            return self._failures[1]

    def _logbook(self, db) -> Iterator[Metric]:
        entries = _gauge("nvr_logbook_entries", "number of the logbook's last entry",
                         labels=("book",))
        head = InfoMetricFamily("nvr_logbook_head", "the logbook's last entry: its number and "
                                "hash, to compare with the signed head the central room keeps",
                                labels=("book",))
        if _has_table(db, "logbook"):
            for book in ("usage", "inzien"):
                row = db.execute("SELECT n, hash FROM logbook WHERE book = ? ORDER BY n DESC "
                                 "LIMIT 1", (book,)).fetchone()
                entries.add_metric([book], row["n"] if row else 0)
                if row:
                    head.add_metric([book], {"n": str(row["n"]), "hash": row["hash"]})
        yield from (entries, head)

    def _restarts(self, db) -> Iterator[Metric]:
        """The watchdog's count (table `recorder_restarts`, storage/restarts.py): the recorder
        started again after an unclean end. Absent on an index older than that table."""
        if _has_table(db, "recorder_restarts"):
            (n,) = db.execute("SELECT count(*) FROM recorder_restarts").fetchone()
            yield _counter("nvr_recorder_restarts", "times the recorder started again after "
                           "an unclean end (watchdog, crash, power cut)", n)

    # --- the board and the clock ------------------------------------------------------------

    def _board(self) -> Iterator[Metric]:
        temperature = self.board.temperature()
        if temperature is not None:
            yield _gauge("nvr_soc_temperature_celsius", "the SoC's temperature", temperature)
        reading = self.board.throttle()
        if reading is not None:
            flags, conditions = reading
            now = _gauge("nvr_soc_throttle_state", "1 while the condition holds (the kernel's "
                         "get_throttled or rpi_volt, else vcgencmd)", labels=("condition",))
            since = _gauge("nvr_soc_throttle_since_boot", "1 when the condition occurred since "
                           "boot (since the kernel's last 2-s poll where it polls)",
                           labels=("condition",))
            for condition in conditions:
                bit = THROTTLE_BITS[condition]
                now.add_metric([condition], (flags >> bit) & 1)
                since.add_metric([condition], (flags >> (bit + SINCE_BOOT)) & 1)
            yield from (now, since)

    def _clock(self) -> Iterator[Metric]:
        state = clock_state(max_age=CLOCK_MAX_AGE)
        synced = _gauge("nvr_clock_synchronised", "1 when the clock is synchronised (R-30)",
                        labels=("source",))
        synced.add_metric([state.source], 1 if state.synchronised else 0)
        yield synced
        kernel = kernel_clock()
        if kernel is not None:
            yield _gauge("nvr_clock_offset_seconds", "the offset the kernel is still "
                         "correcting (adjtimex)", kernel.offset)
            yield _gauge("nvr_clock_max_error_seconds", "the kernel's bound on the clock's "
                         "error (adjtimex maxerror)", kernel.max_error)


def registry(cfg: Config, store, **kw) -> CollectorRegistry:
    """A registry of this device's figures only (no process or platform collectors)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DeviceCollector(cfg, store, **kw))
    return reg
