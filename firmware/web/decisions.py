"""Art. 12 (R-80): the page for decisions outside the rules. A question is opened, the privacy
officer and the functionaris gegevensbescherming each advise from their own account, then the
gemeentesecretaris/algemeen directeur decides (or the manager bedrijfsvoering records it on
their behalf). The procedure lives in governance.decisions; the views only read fields."""

from __future__ import annotations

from contextlib import contextmanager

from flask import Blueprint, g, url_for

from firmware.i18n import _

from firmware.governance.decisions import DecisionError
from firmware.web.routes import (Action, decide, done, fields, gov, keeps_form, local_time, may,
                                 reply, rule, text)

bp = Blueprint("decisions", __name__)


def _shown(row: dict) -> dict:
    advice = {k: {**a, "given_local": local_time(a["given"])} for k, a in row["advice"].items()}
    return {**row, "advice": advice, "opened_local": local_time(row["opened"]),
            "decided_at_local": local_time(row["decided_at"])}


@contextmanager
def _field(name: str):
    """A refusal of the procedure points at field `name` of the form shown again."""
    try:
        yield
    except DecisionError as exc:
        if getattr(exc, "field", None) is None:
            exc.field = name
        raise


@bp.route("/decisions")
@bp.route("/api/decisions", endpoint="api_decisions")
@rule(Action.DECISION_READ)
def index(decision_id: int | None = None):
    """The questions; `decision_id` is that of a refused advice or besluit shown again with
    what was typed (keeps_form)."""
    rows = [_shown(r) for r in gov().decisions().list()]
    return reply("decisions.html", rows, may=may,
                 adviser=decide(g.actor, Action.ADVISE_PRIVACY) or decide(g.actor,
                                                                         Action.ADVISE_FG),
                 decider=decide(g.actor, Action.DECISION_TAKE),
                 recorder=decide(g.actor, Action.DECISION_RECORD_FOR))


@bp.route("/decisions", methods=["POST"])
@bp.route("/api/decisions", methods=["POST"], endpoint="api_decision_open")
@rule(Action.DECISION_OPEN)
@keeps_form("decisions.index")
def open_question():
    with _field("question"):
        row = gov().decisions().open(g.actor, text(fields(), "question"))
    return done(row, _("Question %(number)s put to the gemeentesecretaris/algemeen directeur; "
                       "the privacy officer and the FG advise first.", number=row["id"]),
                url_for("decisions.index"), 201)


@bp.route("/decisions/<int:decision_id>/advice", methods=["POST"])
@bp.route("/api/decisions/<int:decision_id>/advice", methods=["POST"],
          endpoint="api_decision_advice")
@rule(Action.DECISION_READ)
@keeps_form("decisions.index")
def advise(decision_id: int):
    with _field("advice"):
        row = gov().decisions().advise(g.actor, decision_id, text(fields(), "advice"))
    return done(_shown(row), _("Advice on question %(number)s recorded.", number=decision_id),
                url_for("decisions.index"))


@bp.route("/decisions/<int:decision_id>/decision", methods=["POST"])
@bp.route("/api/decisions/<int:decision_id>/decision", methods=["POST"],
          endpoint="api_decision_record")
@rule(Action.DECISION_READ)
@keeps_form("decisions.index")
def record(decision_id: int):
    f = fields()
    behalf = text(f, "on_behalf_of", required=False) or None
    try:
        row = gov().decisions().record(g.actor, decision_id, text(f, "decision"),
                                       on_behalf_of=behalf)
    except DecisionError as exc:        # about the name given, or else about the besluit
        if getattr(exc, "field", None) is None:
            exc.field = "on_behalf_of" if behalf and behalf in str(exc) else "decision"
        raise
    return done(_shown(row), _("Decision on question %(number)s recorded in both logbooks.",
                               number=decision_id),
                url_for("decisions.index"))
