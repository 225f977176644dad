"""Access to footage (R-01, R-50, R-51): a person, a permission and a reason, every time.

The reason is a purpose from article 1 of the regulation plus free text. Every grant is written
to the usage logbook (who used the system) and to the Logboek Inzien Beeldmateriaal (who saw
what, when and why); every refusal to the usage logbook.
"""

from __future__ import annotations

import unicodedata

from firmware.governance.roles import Action, Actor, decide
from firmware.i18n import _

# Article 1: what camera footage may serve; a person states one of these for live view and
# ordinary playback.
ORDINARY_PURPOSES = {
    "safety": "veiligheid van personen",
    "property": "bescherming van eigendommen",
    "access": "toegang tot het gebouw",
    "incident": "vastleggen van incidenten",
}
# Art. 10 lid 4-5: showing an approved requester their footage. Only the viewing inside the
# request uses it (governance.viewing), never an ordinary grant.
ART10_PURPOSE = "art10"
PURPOSES = {**ORDINARY_PURPOSES, ART10_PURPOSE: "art. 10 inzage (verzoek van een ander)"}
ART10_OUTSIDE = ("het doel 'art. 10 inzage' geldt alleen binnen het verzoek: open de inzage "
                 "vanaf de pagina van het toegewezen verzoek (Verzoeken, verzoek, 'Inzage "
                 "openen'), waar alleen de camera en het tijdvak van het besluit te zien zijn "
                 "(artikel 10 lid 4-5, R-73)")
MIN_REASON = 8
# Letters that draw nothing (Hangul fillers, the Braille blank, the Mongolian vowel separator).
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


class AccessRefused(Exception):
    """No access to footage; the message says why."""


def require(logbook, actor: Actor, action: Action, error: type[Exception] = AccessRefused,
            camera: str | None = None) -> None:
    """Raise `error` with the reason when `actor` may not do `action`; refusals are logged."""
    decision = decide(actor, action, camera=camera)
    if not decision:
        logbook.append("usage", actor.name, "refused", subject=action.value,
                       details={"camera": camera, "why": decision.reason})
        raise error(decision.reason)


def visible_length(text: str | None) -> int:
    """How many characters of `text` a reader sees: letters, digits, punctuation and symbols.
    Whitespace, control and format characters (zero-width spaces, joiners, byte-order marks,
    tags), lone combining marks, surrogates and blank letters do not count, so a reason of
    invisible characters is no reason (R-01)."""
    if not isinstance(text, str):
        return 0
    return sum(1 for ch in text
               if unicodedata.category(ch)[0] in "LNPS" and ch not in _BLANK)


def check_reason(purpose: str | None, reason: str | None) -> None:
    """R-01 for an ordinary access: a purpose of article 1 and a reason in words. The art. 10
    purpose is refused here: it exists only inside an approved request (governance.viewing)."""
    if purpose == ART10_PURPOSE:
        raise AccessRefused(ART10_OUTSIDE)
    if purpose not in ORDINARY_PURPOSES:
        options = ", ".join(f"{k} ({v})" for k, v in ORDINARY_PURPOSES.items())
        raise AccessRefused(f"toegang tot beelden vraagt een doel uit artikel 1: kies "
                            f"{options} (artikel 1, R-01)")
    if visible_length(reason) < MIN_REASON:
        raise AccessRefused(f"toegang tot beelden vraagt een reden in woorden, minstens "
                            f"{MIN_REASON} zichtbare tekens: wat er gebeurde, bij welk verzoek "
                            "(artikel 1, R-01)")


def grant_footage(gov, actor: Actor, action: Action, *, camera: str | None, purpose: str | None,
                  reason: str | None, subject: str,
                  window: tuple[float, float] | None = None) -> int:
    """Allow one footage access or raise AccessRefused; both outcomes are logged, with the
    `window` (start, end) of the footage when it is one recording. Returns the number of the
    grant's entry in the Logboek Inzien Beeldmateriaal."""
    try:
        check_reason(purpose, reason)
        decision = decide(actor, action, camera=camera)
        if not decision:
            raise AccessRefused(decision.reason)
    except AccessRefused as exc:
        gov.logbook.append("usage", actor.name, "footage-refused", subject=subject,
                           reason=reason or "", details={"action": action.value,
                                                         "camera": camera, "why": str(exc)})
        raise
    details = {"action": action.value, "camera": camera, "purpose": purpose}
    if window is not None:
        details.update(start=window[0], end=window[1])
    gov.logbook.append("usage", actor.name, action.value, subject=subject, reason=reason,
                       details=details)
    return gov.logbook.append("inzien", actor.name, action.value, subject=subject,
                              reason=reason, details=details)


def grant_live_view(gov, actor: Actor, cameras: list[str], *, purpose: str | None,
                    reason: str | None) -> int:
    """R-01 for a grid of live cameras: one purpose and reason for all of them, checked per
    camera and logged ONCE (one usage entry, one entry in the Logboek Inzien Beeldmateriaal
    naming every camera), so a control room's viewing is one look, not one per tile. Raises
    AccessRefused (logged) when the reason is missing or any camera is not allowed. Returns
    the number of the entry in the Logboek Inzien Beeldmateriaal."""
    subject = "camera's " + ", ".join(cameras)
    try:
        check_reason(purpose, reason)
        if not cameras:
            raise AccessRefused(_("there is no camera you may watch live (R-11)"))
        for camera in cameras:
            decision = decide(actor, Action.LIVE, camera=camera)
            if not decision:
                raise AccessRefused(decision.reason)
    except AccessRefused as exc:
        gov.logbook.append("usage", actor.name, "footage-refused", subject=subject,
                           reason=reason or "", details={"action": Action.LIVE.value,
                                                         "cameras": cameras, "why": str(exc)})
        raise
    details = {"action": Action.LIVE.value, "cameras": cameras, "purpose": purpose}
    gov.logbook.append("usage", actor.name, "live", subject=subject, reason=reason,
                       details=details)
    return gov.logbook.append("inzien", actor.name, "live", subject=subject, reason=reason,
                              details=details)
