"""The device's day in tests, independent of the hour the suite runs at and of the machine's zone.

A day the web or the CLI is asked about (the timeline of /cameras/cam/day/<day>, a report
period) is a date in the DEVICE's zone (device.timezone, Europe/Amsterdam), never the machine's
(CI runs in UTC) and never "today" when the footage was recorded before local midnight and the
test runs after it. So a test derives the day from the footage it recorded (`footage_day`) and
asks for a period that holds both that day and today (`period`). tests/test_time_of_day.py
runs a few tests under faketime across midnight to keep it so (docs/testing.md).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.config import load
from firmware.storage.store import INDEX_NAME


def device_zone(config: Path | None = None) -> ZoneInfo:
    """The zone of the device of `config` (the default Europe/Amsterdam without one)."""
    if config is None:
        return ZoneInfo("Europe/Amsterdam")
    return ZoneInfo(load(config).device.timezone)


def device_date(when: datetime | float | None = None, config: Path | None = None) -> date:
    """The date on the device's calendar at `when` (an aware datetime or a Unix time; now
    without one)."""
    if when is None:
        when = datetime.now(timezone.utc)
    elif not isinstance(when, datetime):
        when = datetime.fromtimestamp(when, timezone.utc)
    elif when.tzinfo is None:
        raise ValueError(f"{when} has no zone: pass an aware datetime, a naive one is the "
                         "machine's clock, not the device's")
    return when.astimezone(device_zone(config)).date()


def device_today(config: Path | None = None) -> str:
    """Today on the device's calendar, ISO (for a test that asks about the present, not about
    footage)."""
    return device_date(None, config).isoformat()


def footage_span(config: Path, camera: str = "cam") -> tuple[float, float]:
    """(start of the first, end of the last) segment `camera` recorded, Unix times, read from
    the index."""
    index = load(config).storage.data_dir / INDEX_NAME
    with closing(sqlite3.connect(f"file:{index}?mode=ro", uri=True)) as db:
        first, last = db.execute("SELECT MIN(start), MAX(end) FROM segments WHERE camera_id = ?",
                                 (camera,)).fetchone()
    assert first is not None, f"camera {camera} recorded nothing in {index}"
    return first, last


def footage_day(config: Path, camera: str = "cam") -> str:
    """The device-zone date (ISO) of the first segment `camera` recorded: the day whose
    timeline shows it, however late the test runs."""
    return device_date(footage_span(config, camera)[0], config).isoformat()


def local_iso(t: float, config: Path | None = None) -> str:
    """Unix time `t` as the device's wall clock, ISO to the second without a zone: what a
    person types into a form of the device."""
    return datetime.fromtimestamp(t, device_zone(config)).replace(tzinfo=None).isoformat(
        timespec="seconds")


def period(*days: date | str, config: Path | None = None) -> tuple[str, str]:
    """A report period (from, to), ISO dates on the device's calendar, holding every one of
    `days` and today: footage recorded before local midnight and the entries written after it
    both fall inside."""
    every = [date.fromisoformat(d) if isinstance(d, str) else d for d in days]
    every.append(device_date(None, config))
    return min(every).isoformat(), max(every).isoformat()
