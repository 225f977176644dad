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


# The Dutch names of the times a person gives, for the refusals below.
_NAMES = {"start": "het begin", "end": "het einde", "expiry": "de einddatum",
          "date received": "de datum van ontvangst"}


def _text(t: float, tz: tzinfo | None = None) -> str:
    """A time as a person reads it in a refusal: Dutch date, local time and zone
    ('29-11-2026 14:05 (CET)', as wording.moment, which imports this module)."""
    from zoneinfo import ZoneInfo
    return when(t, tz or ZoneInfo("Europe/Amsterdam"), "%d-%m-%Y %H:%M (%Z)")


def _finite(error: type[Exception], **times: float) -> None:
    for name, t in times.items():
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise error(f"{_NAMES.get(name, name)} is geen tijd: geef een datum en tijdstip")


def held(db: sqlite3.Connection, camera: str, start: float, end: float) -> bool:
    """Whether an active hold of `camera` covers the whole window (R-41)."""
    row = db.execute("SELECT 1 FROM holds WHERE camera_id = ? AND released IS NULL "
                     "AND start <= ? AND end >= ? LIMIT 1", (camera, start, end)).fetchone()
    return row is not None


def _about(field: str, exc: Exception) -> Exception:
    """`exc`, naming the form field it concerns, so a page can show the form again with the
    message next to that field (issue 11 item 4)."""
    exc.field = field
    return exc


def footage_window(db: sqlite3.Connection, cameras: str | Iterable[str], start: float,
                   end: float, *, retention_days: float, error: type[Exception],
                   now: float | None = None) -> None:
    """Raise `error` unless [start, end] is a window of footage that can exist: inside the
    retention period up to now, or inside an active hold of every camera (R-40, R-41)."""
    now = time.time() if now is None else now
    _finite(error, start=start, end=end)
    if end <= start:
        raise _about("end", error("het einde van het tijdvak ligt niet na het begin: geef een "
                                  "einde na het begin"))
    if end > now + CLOCK_SLACK:
        raise _about("end", error(f"het tijdvak eindigt in de toekomst ({_text(end)}): beelden "
                                  "worden pas gevraagd als ze zijn opgenomen; laat het tijdvak "
                                  "uiterlijk nu eindigen (R-41)"))
    earliest = now - retention_days * DAY
    if start >= earliest:
        return
    cameras = [cameras] if isinstance(cameras, str) else sorted(cameras)
    bare = [c for c in cameras if not held(db, c, start, end)]
    if bare:
        raise _about("start", error(
            f"het tijdvak begint voor de bewaartermijn van {retention_days:g} dagen "
            f"(vanaf {_text(earliest)}) en geen actieve bewaaropdracht van camera "
            f"{', '.join(bare)} dekt het: oudere beelden zijn gewist (R-40, R-41); "
            "geef een tijdvak binnen de bewaartermijn of binnen een bewaaropdracht"))


def delegation_expiry(expires: float, *, error: type[Exception],
                      now: float | None = None) -> None:
    """A delegation ends in the future and at most a year from now (R-12)."""
    now = time.time() if now is None else now
    _finite(error, expiry=expires)
    if expires <= now:
        raise _about("expires", error("de einddatum van een aanwijzing ligt in de toekomst: "
                                      "geef een latere einddatum (R-12)"))
    if expires > now + MAX_DELEGATION:
        raise _about("expires", error(f"een aanwijzing duurt hoogstens een jaar: laat haar "
                                      f"uiterlijk {_text(now + MAX_DELEGATION)} eindigen en "
                                      "verleng haar dan (R-12)"))


def received_date(received: float, *, error: type[Exception],
                  now: float | None = None) -> None:
    """When a written request arrived: not in the future, not more than a year ago (R-72)."""
    now = time.time() if now is None else now
    _finite(error, **{"date received": received})
    from zoneinfo import ZoneInfo
    local = _text(received, ZoneInfo("Europe/Amsterdam"))
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
        raise error(f"een sessie van een bezoek van politie of OM duurt 1 tot "
                    f"{MAX_VISIT_MINUTES} minuten: geef het aantal minuten (artikel 5 lid 4)")


def report_period(first: date, last: date, today: date, *, error: type[Exception]) -> None:
    """A report covers whole days up to today, at most ten years (R-83)."""
    if last < first:
        raise error("het einde van de periode ligt voor het begin: geef een einde na het "
                    "begin (R-83)")
    if last > today:
        raise error(f"de periode eindigt na vandaag ({today:%d-%m-%Y}): een rapportage gaat "
                    "over wat er gebeurde; laat de periode uiterlijk vandaag eindigen (R-83)")
    if first < today - timedelta(days=MAX_REPORT_DAYS):
        raise error(f"de periode begint meer dan tien jaar geleden; begin op "
                    f"{today - timedelta(days=MAX_REPORT_DAYS):%d-%m-%Y} of later (R-83)")
