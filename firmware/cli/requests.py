"""Requests for footage, art. 9 and 10: `nvr request ...` from registration to closing; the
web's face is casework.py. Scans of the paper file are in scans.py, the inzage and the
documents of a request in viewing.py: their actions join this group."""

from __future__ import annotations

from firmware.cli import scans, viewing
from firmware.cli.common import (CliError, _action, _config, _group, _iso, _iso_time, _login,
                                 _print, _requests)


def _request_json(row: dict) -> dict:
    out = dict(row)
    for key in ("start", "end", "received", "decided_at", "declaration_at", "created"):
        out[key] = _iso(out.get(key))
    if out.get("decision_due") is not None:
        from firmware.governance.bounds import when
        from firmware.governance.requests import AMSTERDAM
        out["decision_due"] = when(out["decision_due"], AMSTERDAM, iso=True)
    return out


def _request_call(args, fn, *fa, **kw) -> dict:
    from firmware.governance.requests import RequestError
    from firmware.storage.holds import HoldError
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    try:
        return _request_json(getattr(reqs, fn)(actor, *fa, **kw))
    except (RequestError, HoldError) as exc:
        raise CliError(str(exc)) from None


def _print_request(row: dict, as_json: bool) -> None:
    due = f", decision due {row['decision_due']}" if row.get("decision_due") else ""
    late = " OVERDUE" if row.get("overdue") else ""
    if row.get("decided_at") and row.get("decision_due"):       # late stays late
        late = " DECIDED LATE" if row.get("decided_late") else " decided in time"
    _print(row, as_json, f"request {row['id']} (art. {row['article']}) {row['status']}{due}"
                         f"{late}")


def cmd_request_add(args) -> int:
    _config(args).camera(args.camera)
    if args.article == 9:
        missing = [o for o in ("reference", "requester", "legal_basis") if not getattr(args, o)]
        if missing:
            raise CliError("an art. 9 request needs " + ", ".join(f"--{m.replace('_', '-')}"
                                                                  for m in missing))
        row = _request_call(args, "add_article9", reference=args.reference,
                            requester=args.requester, legal_basis=args.legal_basis,
                            camera=args.camera, start=args.start, end=args.end,
                            received=args.received)
    else:
        if not (args.requester and args.motivation and args.received):
            raise CliError("an art. 10 request needs --requester, --motivation and --received")
        row = _request_call(args, "add_article10", requester=args.requester,
                            requester_kind=args.requester_kind, motivation=args.motivation,
                            received=args.received, camera=args.camera, start=args.start,
                            end=args.end, reference=args.reference or "",
                            acts_for=args.acts_for)
    _print_request(row, args.json)
    return 0


def cmd_request_decide(args) -> int:
    if args.approve == args.refuse:
        raise CliError("say --approve or --refuse")
    _print_request(_request_call(args, "decide", args.id, approve=args.approve,
                                 reason=args.reason, weighing=args.weighing, blur=args.blur),
                   args.json)
    return 0


def cmd_request_identity(args) -> int:
    """Art. 10 lid 4: --document-type and --last-digits; art. 9 lid 3: --officer too (the
    governance layer chooses by the request's article)."""
    _print_request(_request_call(args, "record_identity", args.id,
                                 officer=args.officer or "",
                                 document_type=args.document_type or "",
                                 last_digits=args.last_digits or ""), args.json)
    return 0


def cmd_request_declaration(args) -> int:
    _print_request(_request_call(args, "record_declaration", args.id, args.signed_by),
                   args.json)
    return 0


def cmd_request_close(args) -> int:
    _print_request(_request_call(args, "close", args.id, args.reason), args.json)
    return 0


def _read_requests(args):
    from firmware.governance.roles import Action
    cfg, gov, reqs = _requests(args)
    _login(gov, args, Action.REQUEST_READ)
    return reqs


def cmd_request_list(args) -> int:
    rows = [_request_json(r) for r in _read_requests(args).list()]
    if args.overdue:
        rows = [r for r in rows if r["overdue"]]
    _print(rows, args.json, "\n".join(
        f"{r['id']:>4} art. {r['article']:<2} {r['status']:10} {r['camera_id']:10} "
        f"{r['requester']}{'  OVERDUE' if r['overdue'] else ''}"
        f"{'  DECIDED LATE' if r['decided_late'] else ''}" for r in rows) or "no requests")
    return 0


def cmd_request_show(args) -> int:
    from firmware.governance.requests import RequestError
    try:
        row = _request_json(_read_requests(args).show(args.id))
    except RequestError as exc:
        raise CliError(str(exc)) from None
    _print_request(row, args.json)
    return 0


def add_parser(sub) -> None:
    reqs = _group(sub, "request", "requests for footage, art. 9 and 10")
    c = _action(reqs, "add", cmd_request_add, "register (art. 9) or take in (art. 10)")
    c.add_argument("--article", type=int, choices=[9, 10], required=True)
    c.add_argument("--reference")
    c.add_argument("--requester")
    c.add_argument("--requester-kind", default="citizen",
                   choices=["citizen", "company", "insurer", "lawyer", "other"])
    c.add_argument("--acts-for", choices=["defence-of-suspect", "victim", "civil-claim", "other"],
                   help="art. 10: what a lawyer acts for; the defence of a suspect goes "
                        "through the officier van justitie (art. 10 lid 2)")
    c.add_argument("--legal-basis", choices=["126nd", "126nda"])
    c.add_argument("--motivation")
    c.add_argument("--received", type=_iso_time)
    c.add_argument("--camera", required=True)
    c.add_argument("--start", type=_iso_time, required=True)
    c.add_argument("--end", type=_iso_time, required=True)
    c.add_argument("--user")
    c = _action(reqs, "decide", cmd_request_decide, "approve or refuse an art. 10 request")
    c.add_argument("id", type=int)
    c.add_argument("--approve", action="store_true")
    c.add_argument("--refuse", action="store_true")
    c.add_argument("--reason", required=True)
    c.add_argument("--weighing", help="others in view weighed against the requester's "
                                      "interest (toelichting art. 10); needed to approve")
    c.add_argument("--blur", choices=["none", "detect", "regions"], default="none",
                   help="the blurring the inzage must show (toelichting art. 10): none, "
                        "detect (people detected automatically) or regions (at least one drawn "
                        "region); binding on every segment shown")
    c.add_argument("--user")
    c = _action(reqs, "identity", cmd_request_identity, "record the in-person identity check")
    c.add_argument("id", type=int)
    c.add_argument("--officer", help="art. 9 lid 3: the officer's name and rank")
    c.add_argument("--document-type", choices=["dienstpas", "paspoort", "identiteitskaart",
                                               "rijbewijs", "verblijfsdocument"],
                   help="art. 9 lid 3, art. 10 lid 4")
    c.add_argument("--last-digits", help="art. 9 lid 3, art. 10 lid 4: the last 2-4 "
                   "characters of the document number, never the full number or a BSN")
    c.add_argument("--user")
    c = _action(reqs, "declaration", cmd_request_declaration, "record the signed declaration")
    c.add_argument("id", type=int)
    c.add_argument("--signed-by", required=True)
    c.add_argument("--user")
    c = _action(reqs, "close", cmd_request_close, "the request is handled: release its hold")
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True)
    c.add_argument("--user")
    c = _action(reqs, "list", cmd_request_list, "list requests")
    c.add_argument("--overdue", action="store_true")
    c.add_argument("--user")
    c = _action(reqs, "show", cmd_request_show, "one request")
    c.add_argument("id", type=int)
    c.add_argument("--user")
    scans.add_actions(reqs)
    viewing.add_actions(reqs)
