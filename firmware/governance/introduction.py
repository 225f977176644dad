"""Whether a camera may record: the regulation's introduction and art. 11, in one place for the
recorder (`nvr run`), `nvr ingest`, `nvr config check`, the system page and /readyz.

- Introduction (AVG art. 35): "De DPIA ... wordt uitgevoerd voordat de camera's worden
  ingeschakeld". No camera records until [introduction] names the DPIA by reference and date,
  and that date is not in the future.
- Art. 11 (WOR art. 27), R-02: a camera that sees staff at work is a personnel tracking system
  and records only after the works council's approval, by reference and date, not in the future.

Each refusal has an English message (CLI, log) and a Dutch one (web). Dates are compared with
today in the device's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from firmware.config import CameraConfig, Config


@dataclass(frozen=True)
class Refusal:
    camera: str
    message: str            # English, for the command line and the log
    dutch: str              # for the web interface and documents


def today(cfg: Config) -> date:
    return datetime.now(ZoneInfo(cfg.device.timezone)).date()


def dutch_date(iso: str) -> str:
    """2026-03-02 as 02-03-2026; '' stays ''."""
    return date.fromisoformat(iso).strftime("%d-%m-%Y") if iso else ""


def dpia_refusal(cfg: Config, on: date | None = None) -> tuple[str, str] | None:
    """(English, Dutch) why no camera may record for want of the DPIA, or None."""
    intro = cfg.introduction
    on = on or today(cfg)
    if not (intro.dpia_reference.strip() and intro.dpia_date):
        return ("the configuration names no DPIA: the DPIA is carried out before the cameras "
                "are switched on (the regulation's introduction, AVG art. 35); set "
                "[introduction] dpia_reference and dpia_date in " + str(cfg.source),
                "geen DPIA vastgelegd: de DPIA wordt uitgevoerd voordat de camera's worden "
                "ingeschakeld (inleiding van de regeling, AVG artikel 35); de technisch "
                "beheerder vult kenmerk en datum van de DPIA in de configuratie in "
                "([introduction] dpia_reference en dpia_date)")
    if date.fromisoformat(intro.dpia_date) > on:
        return (f"the DPIA is dated {intro.dpia_date}, in the future: the DPIA is carried out "
                "before the cameras are switched on (the regulation's introduction); correct "
                f"[introduction] dpia_date in {cfg.source} once the DPIA is done",
                f"de DPIA is gedateerd op {dutch_date(intro.dpia_date)}, in de toekomst: de "
                "DPIA wordt uitgevoerd voordat de camera's worden ingeschakeld (inleiding van "
                "de regeling); de technisch beheerder vult de datum in zodra de DPIA is "
                "uitgevoerd")
    return None


def works_council_refusal(cam: CameraConfig, on: date) -> tuple[str, str] | None:
    """(English, Dutch) why camera `cam` waits for the works council (art. 11), or None."""
    if not cam.staff_in_view:
        return None
    if not (cam.works_council_reference.strip() and cam.works_council_date):
        return (f"camera '{cam.id}' has staff in view and no works-council (OR) approval "
                "(art. 11, WOR art. 27, R-02): set works_council_reference and "
                "works_council_date of the camera to record",
                f"camera {cam.name} ({cam.location}) heeft medewerkers in beeld en er is geen "
                "instemming van de ondernemingsraad vastgelegd (artikel 11, WOR artikel 27): "
                "de technisch beheerder vult kenmerk en datum van de instemming in")
    if date.fromisoformat(cam.works_council_date) > on:
        return (f"camera '{cam.id}': the works-council approval is dated "
                f"{cam.works_council_date}, in the future (art. 11, R-02): it records from "
                "the approval on; correct works_council_date",
                f"camera {cam.name} ({cam.location}): de instemming van de ondernemingsraad is "
                f"gedateerd op {dutch_date(cam.works_council_date)}, in de toekomst (artikel "
                "11): de camera neemt pas op na de instemming")
    return None


def refusal(cfg: Config, cam: CameraConfig, on: date | None = None) -> Refusal | None:
    """Why camera `cam` may not record today, or None when it may."""
    on = on or today(cfg)
    found = dpia_refusal(cfg, on) or works_council_refusal(cam, on)
    return Refusal(cam.id, *found) if found else None


def refusals(cfg: Config, on: date | None = None) -> dict[str, Refusal]:
    """Every camera that may not record today, by id."""
    on = on or today(cfg)
    found = (refusal(cfg, cam, on) for cam in cfg.cameras)
    return {r.camera: r for r in found if r is not None}


def signage_warning(cfg: Config) -> str | None:
    """Art. 6 lid 3: the configuration records where the signs hang ("bij de ingangen")."""
    if cfg.introduction.signage:
        return None
    return ("no sign is recorded: art. 6 lid 3 asks for signs at the entrances announcing the "
            "camera surveillance; list where they hang in [introduction] signage")
