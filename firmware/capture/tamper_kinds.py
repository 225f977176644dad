"""The names of the camera tamper alarms in the index, without the detector (no OpenCV): the web
process reads them to word an alarm and must not load OpenCV for that."""

from __future__ import annotations

ALARM_PREFIX = "camera-tamper"
# In the order they are named: a dark picture is also uniform, edgeless and unlike the view.
CONDITIONS = ("dark", "uniform", "frozen", "defocused", "turned")


def alarm_kind(camera: str, condition: str) -> str:
    """The index's alarm kind for one camera and condition: camera-tamper:<camera>:<condition>."""
    return f"{ALARM_PREFIX}:{camera}:{condition}"


def parse_alarm_kind(kind: str) -> tuple[str, str] | None:
    """(camera, condition) of a camera tamper alarm kind, None for any other kind."""
    prefix, _, rest = kind.partition(":")
    camera, _, condition = rest.rpartition(":")
    if prefix != ALARM_PREFIX or not camera or condition not in CONDITIONS:
        return None
    return camera, condition


CASE_KINDS = ("case-open", "case-tamper")          # the case switch (system/case.py)


def is_tamper(kind: str) -> bool:
    """Whether an alarm of the index says someone tampered with a camera or the case (as
    opposed to a storage alarm): /readyz and the worklist name it so."""
    return kind in CASE_KINDS or parse_alarm_kind(kind) is not None
