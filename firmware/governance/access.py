"""Access to footage (R-01, R-50, R-51): a person, a permission and a reason, every time.

The reason is a purpose from article 1 of the regulation plus free text. Every grant is written
to the usage logbook (who used the system) and to the Logboek Inzien Beeldmateriaal (who saw
what, when and why); every refusal to the usage logbook.
"""

from __future__ import annotations

import unicodedata

from firmware.governance.roles import Action, Actor, decide
from firmware.i18n import N_, _, in_dutch

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
ART10_OUTSIDE = N_("the purpose 'art. 10 inzage' holds only inside the request: open the inzage "
                   "from the page of the approved request (Requests, the request, 'Open "
                   "inzage'), where only the camera and the window of the besluit are shown "
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
        why = in_dutch(lambda: decide(actor, action, camera=camera).reason)
        logbook.append("usage", actor.name, "refused", subject=action.value,
                       details={"camera": camera, "why": why})
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
        raise AccessRefused(_(ART10_OUTSIDE))
    if purpose not in ORDINARY_PURPOSES:
        from firmware.governance.wording import VALUES
        options = ", ".join(f"{k} ({VALUES.said(k, v)})" for k, v in ORDINARY_PURPOSES.items())
        raise AccessRefused(_("access to footage needs a purpose from artikel 1: choose "
                              "%(options)s (artikel 1, R-01)", options=options))
    if visible_length(reason) < MIN_REASON:
        raise AccessRefused(_("access to footage needs a reason in words, at least %(count)s "
                              "visible characters: what happened, for which request "
                              "(artikel 1, R-01)", count=MIN_REASON))


def _why(actor: Actor, actions: list[Action], cameras: list, purpose: str | None,
         reason: str | None) -> str:
    """The refusal of grant_footage / grant_live_view again, as text (for the logbook, in
    Dutch through in_dutch)."""
    try:
        check_reason(purpose, reason)
        if not cameras:
            raise AccessRefused(_("there is no camera you may watch live (R-11)"))
    except AccessRefused as exc:
        return str(exc)
    for action in actions:
        for camera in cameras:
            decision = decide(actor, action, camera=camera)
            if not decision:
                return decision.reason
    return ""


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
    except AccessRefused:
        why = in_dutch(lambda: _why(actor, [action], [camera], purpose, reason))
        gov.logbook.append("usage", actor.name, "footage-refused", subject=subject,
                           reason=reason or "", details={"action": action.value,
                                                         "camera": camera, "why": why})
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
    except AccessRefused:
        why = in_dutch(lambda: _why(actor, [Action.LIVE], cameras, purpose, reason))
        gov.logbook.append("usage", actor.name, "footage-refused", subject=subject,
                           reason=reason or "", details={"action": Action.LIVE.value,
                                                         "cameras": cameras, "why": why})
        raise
    details = {"action": Action.LIVE.value, "cameras": cameras, "purpose": purpose}
    gov.logbook.append("usage", actor.name, "live", subject=subject, reason=reason,
                       details=details)
    return gov.logbook.append("inzien", actor.name, "live", subject=subject, reason=reason,
                              details=details)
