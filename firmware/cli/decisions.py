"""Decisions outside the rules (art. 12, R-80): `nvr decision ...`; the web's face is
decisions.py."""

from __future__ import annotations

from firmware.cli.common import (CliError, _action, _config, _governance, _group, _iso, _login,
                                 _print)


def _decision_call(args, fn, *fa, **kw) -> dict:
    """Art. 12 (R-80): one step of a decision outside the rules, from an authenticated
    account (`firmware.governance.decisions`)."""
    from firmware.governance.decisions import DecisionError
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    try:
        return getattr(gov.decisions(), fn)(actor, *fa, **kw)
    except DecisionError as exc:
        raise CliError(str(exc)) from None


def _print_decision(row: dict, as_json: bool) -> None:
    row = {**row, "opened": _iso(row["opened"]), "decided_at": _iso(row["decided_at"]),
           "advice": {k: {**a, "given": _iso(a["given"])} for k, a in row["advice"].items()}}
    advice = ", ".join(f"{k} advice by {a['adviser']}" for k, a in row["advice"].items())
    text = (f"decision {row['id']} {row['status']}: {row['question']}"
            + (f"\n  advice: {advice}" if advice else "\n  advice: none yet")
            + (f"\n  decided by {row['decided_by']} (recorded by {row['recorded_by']}): "
               f"{row['decision']}" if row["decided_at"] else ""))
    _print(row, as_json, text)


def cmd_decision_open(args) -> int:
    _print_decision(_decision_call(args, "open", args.question), args.json)
    return 0


def cmd_decision_advise(args) -> int:
    _print_decision(_decision_call(args, "advise", args.id, args.advice), args.json)
    return 0


def cmd_decision_record(args) -> int:
    _print_decision(_decision_call(args, "record", args.id, args.decision,
                                   on_behalf_of=args.on_behalf_of), args.json)
    return 0


def cmd_decision_list(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    _login(gov, args, Action.DECISION_READ)
    rows = [{**r, "opened": _iso(r["opened"]), "decided_at": _iso(r["decided_at"])}
            for r in gov.decisions().list()]
    _print(rows, args.json, "\n".join(f"{r['id']:>4} {r['status']:8} {r['question']}"
                                      for r in rows) or "no decisions")
    return 0


def add_parser(sub) -> None:
    decisions = _group(sub, "decision", "decisions outside the rules (art. 12, R-80)")
    c = _action(decisions, "open", cmd_decision_open,
                "put a situation the regulation does not cover to the eindverantwoordelijke")
    c.add_argument("--question", required=True)
    c.add_argument("--user", required=True)
    c = _action(decisions, "advise", cmd_decision_advise,
                "your advice as privacy officer or functionaris gegevensbescherming")
    c.add_argument("id", type=int)
    c.add_argument("--advice", required=True)
    c.add_argument("--user", required=True)
    c = _action(decisions, "record", cmd_decision_record,
                "record the decision of the gemeentesecretaris/algemeen directeur, after "
                "both advices")
    c.add_argument("id", type=int)
    c.add_argument("--decision", required=True)
    c.add_argument("--on-behalf-of", help="manager bedrijfsvoering: the gemeentesecretaris/"
                                          "algemeen directeur you record for (art. 3 lid 1)")
    c.add_argument("--user", required=True)
    c = _action(decisions, "list", cmd_decision_list, "questions and decisions")
    c.add_argument("--user", required=True)
