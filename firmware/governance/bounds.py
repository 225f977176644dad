"""Bounds on every time a person gives, and dates shown so that none can break a page.

One place below the web and the CLI (issue 9, item 12), used by governance for holds, requests,
delegations, visits, exports and the report, so both accept exactly the same times:

- a footage window lies in the retention period (the last `retention_days` of the
  configuration, 28 by the regulation, R-40) or inside an active hold of its camera (R-41):
  footage outside both is erased, so a window there asks for nothing that exists;
- a delegation lasts at most a year (R-12);
- a date received is not in the future, nor more than a year ago (R-72 counts from it);
- a visit's session lasts 1 to 240 minutes from now (art. 5.4);
- a report covers days up to today, at most ten years back (R-83).

`when` formats a stored time for people (pages, API, PDFs, CLI) and never raises: a row written
by earlier firmware with the year 0001 or 9999 shows as unreadable instead of failing the page.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone, tzinfo

DAY = 86400.0
CLOCK_SLACK = 300.0                 # a window may end this far ahead: clocks and typing
MAX_DELEGATION = 366 * DAY          # "at most a year", also across 29 February
MAX_RECEIVED_AGE = 366 * DAY
MAX_VISIT_MINUTES = 240
MAX_REPORT_DAYS = 10 * 366
UNREADABLE = "ongeldige tijd"
# Times a recorder of this firmware can have made: outside them a stored time is shown as
# unreadable (a year 0001 or 9999 typed into earlier firmware), not as a date.
PLAUSIBLE = (946684800.0, 7258118400.0)          # 2000-01-01 .. 2200-01-01 UTC


def when(t: object, tz: tzinfo | None = None, fmt: str = "%Y-%m-%d %H:%M",
         iso: bool = False) -> str:
    """A stored epoch time as local text ('' for None); never raises. Times outside the
    years 2000..2199 are shown as unreadable."""
    if t is None:
        return ""
    try:
        if not PLAUSIBLE[0] <= float(t) < PLAUSIBLE[1]:
            raise ValueError("outside the times this recorder can have made")
        moment = datetime.fromtimestamp(float(t), tz or timezone.utc)
        return moment.isoformat() if iso else moment.strftime(fmt)
    except (TypeError, ValueError, OverflowError, OSError):
        return f"{UNREADABLE} ({str(t)[:24]})"


def _text(t: float, tz: tzinfo | None = None) -> str:
    return when(t, tz, "%Y-%m-%d %H:%M")


def _finite(error: type[Exception], **times: float) -> None:
    for name, t in times.items():
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise error(f"the {name} is not a time")


def held(db: sqlite3.Connection, camera: str, start: float, end: float) -> bool:
    """Whether an active hold of `camera` covers the whole window (R-41)."""
    row = db.execute("SELECT 1 FROM holds WHERE camera_id = ? AND released IS NULL "
                     "AND start <= ? AND end >= ? LIMIT 1", (camera, start, end)).fetchone()
    return row is not None


def footage_window(db: sqlite3.Connection, cameras: str | Iterable[str], start: float,
                   end: float, *, retention_days: float, error: type[Exception],
                   now: float | None = None) -> None:
    """Raise `error` unless [start, end] is a window of footage that can exist: inside the
    retention period up to now, or inside an active hold of every camera (R-40, R-41)."""
    now = time.time() if now is None else now
    _finite(error, start=start, end=end)
    if end <= start:
        raise error("the window's end must lie after its start")
    if end > now + CLOCK_SLACK:
        raise error(f"the window ends in the future ({_text(end)} UTC): footage is asked for "
                    "once it is recorded; end it at the latest now (R-41)")
    earliest = now - retention_days * DAY
    if start >= earliest:
        return
    cameras = [cameras] if isinstance(cameras, str) else sorted(cameras)
    bare = [c for c in cameras if not held(db, c, start, end)]
    if bare:
        raise error(f"the window starts before the last {retention_days:g} days "
                    f"(from {_text(earliest)} UTC) and no active hold of camera "
                    f"{', '.join(bare)} covers it: footage older than that is erased "
                    "(R-40, R-41); give a window inside the 28 days or inside a hold")


def delegation_expiry(expires: float, *, error: type[Exception],
                      now: float | None = None) -> None:
    """A delegation ends in the future and at most a year from now (R-12)."""
    now = time.time() if now is None else now
    _finite(error, expiry=expires)
    if expires <= now:
        raise error("a delegation's expiry must lie in the future (R-12)")
    if expires > now + MAX_DELEGATION:
        raise error(f"a delegation lasts at most a year: let it expire by "
                    f"{_text(now + MAX_DELEGATION)} UTC at the latest, and renew it then (R-12)")


def received_date(received: float, *, error: type[Exception],
                  now: float | None = None) -> None:
    """When a written request arrived: not in the future, not more than a year ago (R-72)."""
    now = time.time() if now is None else now
    _finite(error, **{"date received": received})
    from zoneinfo import ZoneInfo
    local = when(received, ZoneInfo("Europe/Amsterdam"), "%d-%m-%Y %H:%M (%Z)")
    if received > now + CLOCK_SLACK:
        raise error(f"de datum van ontvangst ({local}) ligt in de toekomst: geef de dag en "
                    "het tijdstip waarop het schriftelijke verzoek binnenkwam (R-72)")
    if received < now - MAX_RECEIVED_AGE:
        raise error(f"de datum van ontvangst ({local}) ligt meer dan een jaar terug: "
                    "controleer de datum op de brief (R-72)")


def visit_minutes(minutes: int, *, error: type[Exception]) -> None:
    """A visit's session lasts 1 to 240 minutes from its opening (art. 5.4)."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) \
            or not 1 <= minutes <= MAX_VISIT_MINUTES:
        raise error(f"a visit's session lasts 1 to {MAX_VISIT_MINUTES} minutes (art. 5.4)")


def report_period(first: date, last: date, today: date, *, error: type[Exception]) -> None:
    """A report covers whole days up to today, at most ten years (R-83)."""
    if last < first:
        raise error("the period's end lies before its start")
    if last > today:
        raise error(f"the period ends after today ({today}): a report covers what happened")
    if first < today - timedelta(days=MAX_REPORT_DAYS):
        raise error(f"the period starts more than ten years ago; start at "
                    f"{today - timedelta(days=MAX_REPORT_DAYS)} or later")
