"""The export sticks in the usage logbook (art. 7 lid 2, R-50: who uses the system, and what).

Formatting, unlocking (and a refused unlock: a wrong password, or exportd refusing), and
ejecting a stick are done through here by the web's export page and by `nvr usb`, so both log
the same entries: `usb-format`, `usb-unlock`, `usb-unlock-refused`, `usb-eject`, by the person
who did it, with the stick's device, model and size (bytes). A password is never logged: it is
handed to the helper and forgotten. exportd itself (root) keeps no logbook; its clients do.
"""

from __future__ import annotations

from firmware.export.helpers import ExportError, ExportHelper
from firmware.governance.access import require
from firmware.governance.roles import Action, Actor
from firmware.governance.service import Refused


def format_stick(gov, actor: Actor, helper: ExportHelper, device: str, confirmation: str,
                 password: str) -> dict:
    """Erase `device` and make it LUKS2 (after the exact confirmation); logged."""
    facts = _permitted(gov, actor, helper, device)
    done = helper.format(device, confirmation, password)
    gov.logbook.append("usage", actor.name, "usb-format", subject=device, details=facts)
    return done


def unlock_stick(gov, actor: Actor, helper: ExportHelper, device: str, password: str) -> dict:
    """Unlock and mount `device`; a refusal is logged with its reason and raised again."""
    facts = _permitted(gov, actor, helper, device)
    try:
        done = helper.unlock(device, password)
    except ExportError as exc:
        gov.logbook.append("usage", actor.name, "usb-unlock-refused", subject=device,
                           reason=str(exc)[:1000], details=facts)
        raise
    gov.logbook.append("usage", actor.name, "usb-unlock", subject=device, details=facts)
    return done


def eject_stick(gov, actor: Actor, helper: ExportHelper, device: str) -> dict:
    """Sync, unmount and lock `device`; logged unless the helper says nothing was ejected
    (the development folder)."""
    facts = _permitted(gov, actor, helper, device)
    done = helper.eject(device) or {}
    if done.get("ejected", True):
        gov.logbook.append("usage", actor.name, "usb-eject", subject=device, details=facts)
    return done


def _permitted(gov, actor: Actor, helper: ExportHelper, device: str) -> dict:
    """The export permission (R-11; refusals are logged by `require`), then what the logbook
    says about the stick: device, model, size (bytes), as the helper offers it."""
    require(gov.logbook, actor, Action.EXPORT, Refused)
    for stick in helper.devices():
        if stick["device"] == device:
            return {"device": device, "model": stick.get("model", ""),
                    "size": stick.get("size", 0)}
    return {"device": device}            # not offered: the helper's refusal says so
