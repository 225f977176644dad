"""Access to footage (R-01, R-50, R-51): a person, a permission and a reason, every time.

The reason is a purpose from article 1 of the regulation plus free text. Every grant is written
to the usage logbook (who used the system) and to the Logboek Inzien Beeldmateriaal (who saw
what, when and why); every refusal to the usage logbook.
"""

from __future__ import annotations

import unicodedata

from firmware.governance.roles import Action, Actor, decide

# Article 1: what camera footage may serve.
PURPOSES = {
    "safety": "veiligheid van personen",
    "property": "bescherming van eigendommen",
    "access": "toegang tot het gebouw",
    "incident": "vastleggen van incidenten",
}
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
    if purpose not in PURPOSES:
        options = ", ".join(f"{k} ({v})" for k, v in PURPOSES.items())
        raise AccessRefused(f"access to footage needs a purpose from article 1: {options} (R-01)")
    if visible_length(reason) < MIN_REASON:
        raise AccessRefused(f"access to footage needs a reason in words, at least {MIN_REASON} "
                            "visible characters: what happened, which request (R-01)")


def grant_footage(gov, actor: Actor, action: Action, *, camera: str | None, purpose: str | None,
                  reason: str | None, subject: str) -> None:
    """Allow one footage access or raise AccessRefused; both outcomes are logged."""
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
    gov.logbook.append("usage", actor.name, action.value, subject=subject, reason=reason,
                       details=details)
    gov.logbook.append("inzien", actor.name, action.value, subject=subject, reason=reason,
                       details=details)
