"""Grants of access beyond a role: delegations from the beheerder to designees (R-12) and visits
of police and prosecutor (R-11, art. 5.4): `nvr delegation ...`, `nvr visit ...`. The web's
faces are people.py (delegations) and casework.py (visits)."""

from __future__ import annotations

from firmware.cli.common import (CliError, _action, _config, _governance, _group, _iso_time,
                                 _login, _print)


def _grants_call(args, fn, *fa, **kw):
    from firmware.governance.delegation import GrantError
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    try:
        return gov, getattr(gov.grants, fn)(actor, *fa, **kw)
    except GrantError as exc:
        raise CliError(str(exc)) from None


def cmd_delegation_add(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    grantee = gov.accounts.get(args.grantee)
    try:
        actions = {Action(a.strip()) for a in args.actions.split(",")}
    except ValueError:
        raise CliError("--actions is a comma-separated list of live, playback, export") from None
    _, did = _grants_call(args, "delegate", args.grantee, grantee.role if grantee else None,
                          actions, {c.strip() for c in args.cameras.split(",")}, args.reason,
                          args.expires)
    _print({"id": did}, args.json, f"delegation {did} granted to {args.grantee}")
    return 0


def cmd_delegation_revoke(args) -> int:
    _grants_call(args, "revoke", args.id, reason=args.reason)
    print(f"delegation {args.id} revoked")
    return 0


def cmd_visit_open(args) -> int:
    _, vid = _grants_call(args, "open_visit", visitor=args.visitor,
                          organisation=args.organisation, identity=args.identity,
                          legal_basis=args.legal_basis, reason=args.reason,
                          cameras=set(args.camera), start=args.start, end=args.end,
                          minutes=args.minutes)
    _print({"id": vid}, args.json, f"visit {vid} open for {args.minutes} minutes")
    return 0


def cmd_visit_close(args) -> int:
    _grants_call(args, "close_visit", args.id, reason=args.reason)
    print(f"visit {args.id} closed")
    return 0


def cmd_grants_list(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    _login(gov, args, Action.DELEGATE if args.kind == "delegation" else Action.IDENTIFY)
    rows = gov.grants.list_delegations() if args.kind == "delegation" else \
        gov.grants.list_visits()
    _print(rows, args.json, "\n".join(str(r) for r in rows) or "none")
    return 0


def add_parser(sub) -> None:
    dels = _group(sub, "delegation", "delegations from the beheerder to designees (R-12)")
    c = _action(dels, "add", cmd_delegation_add, "grant a delegation")
    c.add_argument("--grantee", required=True)
    c.add_argument("--actions", required=True, help="comma-separated: live,playback,export")
    c.add_argument("--cameras", required=True, help="comma-separated camera ids")
    c.add_argument("--reason", required=True)
    c.add_argument("--expires", type=_iso_time, required=True)
    c.add_argument("--user")
    c = _action(dels, "revoke", cmd_delegation_revoke, "revoke a delegation", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user")
    c = _action(dels, "list", cmd_grants_list, "list delegations")
    c.add_argument("--user")
    c.set_defaults(kind="delegation")

    visits = _group(sub, "visit", "visits of police and prosecutor (R-11, art. 5.4)")
    c = _action(visits, "open", cmd_visit_open, "register the visitors and open their session")
    c.add_argument("--visitor", required=True)
    c.add_argument("--organisation", required=True)
    c.add_argument("--identity", required=True, help="how identity was checked")
    c.add_argument("--legal-basis", required=True, choices=["126nd", "126nda"])
    c.add_argument("--reason", required=True)
    c.add_argument("--camera", action="append", required=True)
    c.add_argument("--start", type=_iso_time, required=True)
    c.add_argument("--end", type=_iso_time, required=True)
    c.add_argument("--minutes", type=int, default=60)
    c.add_argument("--user")
    c = _action(visits, "close", cmd_visit_close, "close a visit", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user")
    c = _action(visits, "list", cmd_grants_list, "list visits")
    c.add_argument("--user")
    c.set_defaults(kind="visit")
