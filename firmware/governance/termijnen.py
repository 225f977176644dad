"""The calendar of the Algemene termijnenwet (Atw): which days are not working days (R-72).

Article 10 lid 3 of the regulation gives the manager bedrijfsvoering "2 werkdagen" to decide.
A working day here is a day that is neither a Saturday, a Sunday, nor a day of art. 3 Atw:

- lid 1, the "algemeen erkende feestdagen": Nieuwjaarsdag (1 January), tweede Paasdag,
  Hemelvaartsdag (39 days after Easter), tweede Pinksterdag (50 days after Easter), both
  Kerstdagen (25 and 26 December), the day on which the King's birthday is celebrated
  (Koningsdag: 27 April, or 26 April when the 27th is a Sunday; the rule since 2014) and "de vijfde mei" (5 May, every year: the law names the date, not a lustrum);
- lid 2: Goede Vrijdag (the Friday before Easter) is equated with them;
- lid 3: further days equated by royal decree, published in the Staatscourant, usually for
  three years at a time. The firmware ships the decrees in `DECREES` below; the municipality
  adds later ones in the configuration (`[deadlines] equated_days`, docs/configuration.md).

Every day is built from its date (Easter by the anonymous Gregorian algorithm); no holiday name
is ever looked up or compared, so the calendar is the same under every locale. The Dutch labels
below only explain a day to a person.

The decrees in `DECREES` were taken from published secondary sources (the 2017-2019 decree with
its Staatscourant number; the 2023-2025 and 2026-2028 decrees by their titles, which list the
days). Their Staatscourant numbers could not be verified here and are left empty rather than
guessed; the days are those in the titles. Decrees for 2020-2022 are not shipped (not
verified); a deadline in those years is irrelevant to a recorder that keeps 28 days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache


@dataclass(frozen=True)
class Decree:
    """A royal decree under art. 3 lid 3 Atw: the days it equates with a feast day."""

    title: str
    staatscourant: str          # e.g. "Stcrt. 2016, 58653"; empty when not verified
    years: tuple[int, int]      # first and last year it covers
    days: tuple[date, ...]


DECREES: tuple[Decree, ...] = (
    Decree("Besluit van 31 oktober 2016 houdende gelijkstelling van dagen met algemeen erkende "
           "feestdagen (2017, 2018 en 2019)", "Stcrt. 2016, 58653", (2017, 2019),
           (date(2017, 4, 28), date(2017, 5, 26), date(2018, 5, 11), date(2018, 12, 24),
            date(2018, 12, 31), date(2019, 5, 31), date(2019, 12, 27))),
    Decree("Besluit gelijkstelling van 28 april 2023, 19 mei 2023, 10 mei 2024, 27 december 2024 "
           "en 30 mei 2025 met een algemeen erkende feestdag", "", (2023, 2025),
           (date(2023, 4, 28), date(2023, 5, 19), date(2024, 5, 10), date(2024, 12, 27),
            date(2025, 5, 30))),
    Decree("Besluit gelijkstelling van 2 januari 2026, 15 mei 2026, 7 mei 2027, 28 april 2028 en "
           "26 mei 2028 met een algemeen erkende feestdag", "", (2026, 2028),
           (date(2026, 1, 2), date(2026, 5, 15), date(2027, 5, 7), date(2028, 4, 28),
            date(2028, 5, 26))),
)


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def kings_day(year: int) -> date:
    """Koningsdag: 27 April, or 26 April when the 27th is a Sunday."""
    day = date(year, 4, 27)
    return day - timedelta(days=1) if day.weekday() == 6 else day


def feast_days(year: int) -> dict[date, str]:
    """Art. 3 lid 1 and lid 2 Atw for `year`: date -> which day of the law it is."""
    easter = easter_sunday(year)
    return {
        date(year, 1, 1): "Nieuwjaarsdag (art. 3 lid 1 Atw)",
        easter - timedelta(days=2): "Goede Vrijdag (art. 3 lid 2 Atw)",
        easter + timedelta(days=1): "tweede Paasdag (art. 3 lid 1 Atw)",
        kings_day(year): "Koningsdag (art. 3 lid 1 Atw)",
        date(year, 5, 5): "5 mei (art. 3 lid 1 Atw)",
        easter + timedelta(days=39): "Hemelvaartsdag (art. 3 lid 1 Atw)",
        easter + timedelta(days=50): "tweede Pinksterdag (art. 3 lid 1 Atw)",
        date(year, 12, 25): "eerste Kerstdag (art. 3 lid 1 Atw)",
        date(year, 12, 26): "tweede Kerstdag (art. 3 lid 1 Atw)",
    }


@lru_cache(maxsize=64)
def _shipped(year: int) -> frozenset[date]:
    return frozenset(d for decree in DECREES for d in decree.days if d.year == year)


def closed_days(year: int, equated: Iterable[date] = ()) -> frozenset[date]:
    """The days of `year` that are not working days besides weekends: art. 3 lid 1 and 2,
    the shipped decrees of lid 3 and the decree days `equated` from the configuration."""
    return frozenset(feast_days(year)) | _shipped(year) | {d for d in equated if d.year == year}


def is_working_day(day: date, equated: Iterable[date] = ()) -> bool:
    """Neither a Saturday, a Sunday nor a day of art. 3 Atw."""
    return day.weekday() < 5 and day not in closed_days(day.year, equated)


def working_day_after(start: date, count: int, equated: Iterable[date] = ()) -> date:
    """The `count`-th working day after the day `start` (which itself does not count)."""
    equated = frozenset(equated)
    day, counted = start, 0
    while counted < count:
        day += timedelta(days=1)
        if is_working_day(day, equated):
            counted += 1
    return day
