"""A step that takes a safeguard away is confirmed, with a reason (issue 11 item 4).

Releasing a hold, closing a request, disabling an account, revoking a delegation and ending a
visit: the button on the list posts without `confirm=yes`, which shows a confirmation page with
the reason field (a plain form, no script needed); that page posts again with `confirm=yes` and
the reason, and only then does the step happen. Governance checks the reason (governance.undo)
and logs it; a refused reason shows the confirmation page again, typed text kept, the message
next to the field. Under /api the caller sends `reason` in the JSON body and there is no page.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import render_template, request

from firmware.governance.undo import MIN_UNDO_REASON
from firmware.web.routes import FormState, Refusal, RuleError, fields, is_api, text


def confirm_step(step: Callable[[str], object], *, title: str, consequence: str, button: str,
                 back: str, detail: str = ""):
    """Run `step(reason)` once confirmed; until then (and when a rule refuses the reason or the
    step) answer with the confirmation page. `title`, `detail` (what it is about),
    `consequence` and `button` are what the person reads; `back` is where 'Cancel' goes."""
    f = fields()
    if is_api():
        return step(text(f, "reason", required=False))
    page = {"title": title, "detail": detail, "consequence": consequence, "button": button,
            "back": back, "minimum": MIN_UNDO_REASON}
    if f.get("confirm") != "yes":
        return render_template("confirm.html", state=FormState(None, f), **page)
    try:
        return step(f.get("reason", ""))
    except RuleError as exc:
        if isinstance(exc, Refusal):
            raise
        state = FormState(request.endpoint, f, getattr(exc, "field", None), str(exc))
        return render_template("confirm.html", state=state, **page), 400
