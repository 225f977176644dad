"""Access to footage (R-01, R-50, R-51): a person, a permission and a reason, every time.

The reason is a purpose from article 1 of the regulation plus free text. Every grant is written
to the usage logbook (who used the system) and to the Logboek Inzien Beeldmateriaal (who saw
what, when and why); every refusal to the usage logbook.
"""

from __future__ import annotations

from firmware.governance.roles import Action, Actor, decide

# Article 1: what camera footage may serve.
PURPOSES = {
    "safety": "veiligheid van personen",
    "property": "bescherming van eigendommen",
    "access": "toegang tot het gebouw",
    "incident": "vastleggen van incidenten",
}
MIN_REASON = 8


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


def check_reason(purpose: str | None, reason: str | None) -> None:
    if purpose not in PURPOSES:
        options = ", ".join(f"{k} ({v})" for k, v in PURPOSES.items())
        raise AccessRefused(f"access to footage needs a purpose from article 1: {options} (R-01)")
    if not reason or len(reason.strip()) < MIN_REASON:
        raise AccessRefused(f"access to footage needs a reason in words, at least {MIN_REASON} "
                            "characters: what happened, which request (R-01)")


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
