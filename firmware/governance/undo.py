"""No harm by one click (issue 11 item 4): taking a safeguard away asks for a reason.

Releasing a hold (R-41), closing a request (R-74), disabling or re-enabling an account (R-10),
revoking a delegation (R-12) and ending a visit of police or prosecutor (art. 5 lid 4) each take
away something another person relies on. Each asks for a reason in words, at least
MIN_UNDO_REASON visible characters (as a closed request always has), which the logbook entry of
the step records as its `reason`. The web asks for it on a confirmation page, the command line
with `--reason`; both end here.
"""

from __future__ import annotations

from firmware.governance.access import visible_length
from firmware.i18n import _

MIN_UNDO_REASON = 5


def undo_reason(reason: str | None, error: type[Exception], what: str) -> str:
    """`reason`, stripped, or `error` saying that `what` (a step in the reader's words) needs
    one of at least MIN_UNDO_REASON visible characters."""
    if visible_length(reason) < MIN_UNDO_REASON:
        refusal = error(_("%(what)s asks for a reason in words, at least %(count)s visible "
                      "characters: why, and at whose request; the logbook records it",
                      what=what, count=MIN_UNDO_REASON))
        refusal.field = "reason"            # the web marks the form's reason field
        raise refusal
    return reason.strip()
