"""R-72, art. 10 lid 3 of the regulation: "2 werkdagen", counted on the calendar of the Algemene
termijnenwet (Atw), built from dates, the same under every locale (issue 10, Deadlines).

The law's text (art. 3 Atw) that the cases cite:
  lid 1: "Algemeen erkende feestdagen in de zin van deze wet zijn: de Nieuwjaarsdag, de
         Christelijke tweede Paas- en Pinksterdag, de beide Kerstdagen, de Hemelvaartsdag, de
         dag waarop de verjaardag van de Koning wordt gevierd en de vijfde mei."
  lid 2: "Voor de toepassing van deze wet wordt de Goede Vrijdag met de in het vorige lid
         genoemde dagen gelijkgesteld."
  lid 3: days equated by royal decree, published in the Staatscourant.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import pytest

from firmware.config import ConfigError, load
from firmware.governance import termijnen
from firmware.governance.requests import AMSTERDAM

from conftest import ROOT, nvr, staff, write_config

# received (local time) -> the last day to decide, and why, citing art. 3 Atw.
CASES = {
    "2026-04-01 16:30": ("2026-04-07", "Easter: Goede Vrijdag 3 April (lid 2) and tweede "
                                       "Paasdag 6 April (lid 1) do not count"),
    "2026-04-02 09:00": ("2026-04-08", "Easter: the day after receipt is Goede Vrijdag (lid 2)"),
    "2026-05-13 23:30": ("2026-05-19", "Hemelvaartsdag 14 May (lid 1) and Friday 15 May, "
                                       "equated by decree (lid 3)"),
    "2027-05-04 10:00": ("2027-05-11", "de vijfde mei (lid 1), Hemelvaartsdag 6 May (lid 1), "
                                       "Friday 7 May by decree (lid 3)"),
    "2025-12-31 12:00": ("2026-01-06", "turn of the year: Nieuwjaarsdag (lid 1), Friday "
                                       "2 January 2026 by decree (lid 3)"),
    "2026-12-30 12:00": ("2027-01-04", "turn of the year: Nieuwjaarsdag 2027 is a Friday "
                                       "(lid 1)"),
    "2026-12-23 12:00": ("2026-12-28", "de beide Kerstdagen (lid 1): Friday and Saturday"),
    "2024-12-24 12:00": ("2024-12-31", "de beide Kerstdagen (lid 1) and Friday 27 December "
                                       "2024 by decree (lid 3)"),
    "2026-04-24 10:00": ("2026-04-29", "Koningsdag Monday 27 April (lid 1)"),
    "2028-04-26 10:00": ("2028-05-02", "Koningsdag Thursday 27 April (lid 1), Friday 28 April "
                                       "by decree (lid 3)"),
    "2026-05-04 12:00": ("2026-05-07", "de vijfde mei (lid 1) in a year that is no lustrum"),
    "2026-03-06 12:00": ("2026-03-10", "an ordinary Friday: the weekend does not count"),
}

SCRIPT = """
import json, locale, sys, time
from datetime import datetime
locale.setlocale(locale.LC_ALL, "")      # as a program under this locale would run
from firmware.governance.requests import AMSTERDAM, decision_due
from firmware.governance.termijnen import closed_days
out = {"friday": time.strftime("%A", (2026, 4, 3, 12, 0, 0, 4, 93, -1)),
       "closed2025": sorted(d.isoformat() for d in closed_days(2025))}
for received in json.loads(sys.argv[1]):
    due = decision_due(datetime.fromisoformat(received).replace(tzinfo=AMSTERDAM))
    out[received] = [due.date().isoformat(), due.hour, due.minute]
print(json.dumps(out))
"""

LOCALE_FIX = ("the locale nl_NL.UTF-8 is not generated on this machine: apt-get install -y "
              "locales; sed -i 's/# nl_NL.UTF-8/nl_NL.UTF-8/' /etc/locale.gen; locale-gen "
              "(.ci/run does this; `make check-debian` says so)")


@pytest.mark.parametrize("lang,friday", [("C", "Friday"), ("nl_NL.UTF-8", "vrijdag")])
def test_atw_art3_decision_due_is_the_same_under_every_locale_R72(lang, friday):
    env = {"LC_ALL": lang, "LANG": lang, "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(list(CASES))], env=env,
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "unsupported locale setting" not in run.stderr, LOCALE_FIX
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got.pop("friday") == friday          # the locale really is in force
    # 2025, art. 3 Atw: lid 1 (27 April is a Sunday: Koningsdag on Saturday 26 April), lid 2
    # (Goede Vrijdag 18 April) and lid 3 (Friday 30 May after Hemelvaartsdag, by decree).
    assert got.pop("closed2025") == [
        "2025-01-01", "2025-04-18", "2025-04-21", "2025-04-26", "2025-05-05", "2025-05-29",
        "2025-05-30", "2025-06-09", "2025-12-25", "2025-12-26"]
    for received, (due, why) in CASES.items():
        assert got[received] == [due, 23, 59], f"received {received}: {why}"


def test_atw_art3_lid1_easter_and_ascension_from_dates():
    # Easter Sunday by the anonymous Gregorian algorithm, against the church calendar.
    known = {2024: date(2024, 3, 31), 2025: date(2025, 4, 20), 2026: date(2026, 4, 5),
             2027: date(2027, 3, 28), 2028: date(2028, 4, 16), 2038: date(2038, 4, 25),
             2285: date(2285, 3, 22)}
    assert {y: termijnen.easter_sunday(y) for y in known} == known
    days = termijnen.feast_days(2026)
    assert date(2026, 4, 3) in days             # Goede Vrijdag, lid 2
    assert date(2026, 4, 6) in days             # tweede Paasdag, lid 1
    assert date(2026, 5, 14) in days            # Hemelvaartsdag, lid 1 (a Thursday)
    assert date(2026, 5, 25) in days            # tweede Pinksterdag, lid 1
    assert date(2026, 4, 5) not in days         # Easter Sunday itself is a Sunday, not listed
    assert date(2026, 5, 14).weekday() == 3


def test_atw_art3_lid1_kings_day_is_26_april_when_27_april_is_a_sunday():
    # "de dag waarop de verjaardag van de Koning wordt gevierd": 27 April, the 26th when the
    # 27th is a Sunday (2025, 2031).
    assert termijnen.kings_day(2025) == date(2025, 4, 26)
    assert termijnen.kings_day(2031) == date(2031, 4, 26)
    assert termijnen.kings_day(2026) == date(2026, 4, 27)
    assert date(2025, 4, 26) in termijnen.closed_days(2025)
    assert date(2025, 4, 27) not in termijnen.closed_days(2025)


def test_atw_art3_lid1_fifth_of_may_every_year_and_the_turn_of_the_year():
    for year in range(2025, 2036):
        closed = termijnen.closed_days(year)
        assert {date(year, 5, 5), date(year, 1, 1), date(year, 12, 25),
                date(year, 12, 26)} <= closed
        assert date(year, 12, 31) not in termijnen.feast_days(year)     # not a feast day


def test_atw_art3_lid3_decree_days_are_shipped_with_their_source():
    days = {d for decree in termijnen.DECREES for d in decree.days}
    assert {date(2026, 1, 2), date(2026, 5, 15), date(2027, 5, 7), date(2028, 4, 28),
            date(2028, 5, 26)} <= days
    for decree in termijnen.DECREES:
        assert decree.title and all(decree.years[0] <= d.year <= decree.years[1]
                                    for d in decree.days), decree
        assert all(d.weekday() < 5 for d in decree.days), decree   # a weekend needs no decree
    assert not termijnen.is_working_day(date(2026, 5, 15))
    assert termijnen.is_working_day(date(2026, 5, 18))
    # A configured day that a shipped decree lists too changes nothing.
    assert termijnen.closed_days(2026, {date(2026, 5, 15)}) == termijnen.closed_days(2026)


def test_atw_art3_lid3_the_municipality_adds_decree_days_in_the_configuration_R72(tmp_path):
    # A request received ten days ago: the first working day after it is declared equated in
    # the configuration, so the deadline moves one working day on.
    received = datetime.fromtimestamp(time.time() - 10 * 86400, AMSTERDAM).replace(
        hour=12, minute=0, second=0, microsecond=0)
    first = termijnen.working_day_after(received.date(), 1)
    config = write_config(tmp_path, extra=f"""
[deadlines]
equated_days = [{{ date = {first.isoformat()}, decree = "Besluit gelijkstelling (test), Stcrt. 2026, 1" }}]
""")
    assert load(config).deadlines.equated_days == ((first, "Besluit gelijkstelling (test), "
                                                           "Stcrt. 2026, 1"),)
    env = staff(config)
    window = ("--start", (received - timedelta(hours=2)).isoformat(),
              "--end", (received - timedelta(hours=1)).isoformat())
    add = nvr("--config", str(config), "request", "add", "--article", "10", "--requester",
              "J. de Vries", "--motivation", "my bicycle was stolen", "--received",
              received.isoformat(), "--camera", "cam", *window, "--user", "p.officer",
              "--json", env=env)
    assert add.returncode == 0, add.stderr
    due = datetime.fromisoformat(json.loads(add.stdout)["decision_due"]).date()
    assert due == termijnen.working_day_after(received.date(), 2, {first})
    assert due == termijnen.working_day_after(received.date(), 3)


@pytest.mark.parametrize("entry,problem", [
    ('{ date = "2026-13-01", decree = "Stcrt. 2026, 1" }', "is not a date like"),
    ('{ date = 2026-05-16, decree = "Stcrt. 2026, 1" }', "is a Saturday"),
    ('{ date = 2026-05-18 }', "name the decree"),
    ('{ date = 2026-05-18, decree = "x", note = "y" }', "unknown key 'note'"),
    ('"2026-05-18"', "a table"),
])
def test_equated_days_in_the_configuration_are_validated(tmp_path, entry, problem):
    config = write_config(tmp_path, extra=f"[deadlines]\nequated_days = [{entry}]\n")
    with pytest.raises(ConfigError, match=problem) as err:
        load(config)
    assert "deadlines.equated_days[0]" in str(err.value)
