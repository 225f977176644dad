"""Holds on footage (R-41): `nvr hold add|release|list`; the web's face is casework.py."""

from __future__ import annotations

import sys

from firmware.cli.common import (CliError, _action, _config, _governance, _group, _iso, _iso_time,
                                 _login, _print, _store)


def cmd_hold_add(args) -> int:
    from firmware.governance.roles import Action
    from firmware.storage.holds import HoldError
    cfg = _config(args)
    cfg.camera(args.camera)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.HOLD)
    try:
        hold = gov.place_hold(actor, _store(cfg), args.camera, args.start, args.end, args.reason,
                              args.reference)
    except HoldError as exc:
        raise CliError(str(exc)) from None
    hold.update(start=_iso(hold["start"]), end=_iso(hold["end"]))
    _print(hold, args.json, f"hold {hold['id']} placed on {hold['segments']} segment(s)")
    return 0


def cmd_hold_release(args) -> int:
    from firmware.governance.roles import Action
    from firmware.storage.holds import HoldError
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.HOLD)
    try:
        result = gov.release_hold(actor, _store(cfg), args.id, reason=args.reason)
    except HoldError as exc:
        raise CliError(str(exc)) from None
    _print(result, args.json, f"hold {args.id} released; {result['released_segments']} "
           "segment(s) fall back under retention")
    if not result["erase_complete"]:
        print("warning: the released keys may still be in index.sqlite3-wal (a reader holds "
              "an old snapshot); alarm wal-not-purged raised, the recorder retries every "
              "minute", file=sys.stderr)
    return 0


def cmd_hold_list(args) -> int:
    """A hold's reason and reference name an incident and often people: only for an account
    whose role may hold footage, by the rule the web's Holds page asks (R-11, holds column)."""
    from firmware.governance.service import Refused
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, None)
    try:
        found = gov.holds(actor, _store(cfg))
    except Refused as exc:
        raise CliError(str(exc)) from None
    holds = [{**h, "start": _iso(h["start"]), "end": _iso(h["end"]),
              "created": _iso(h["created"]), "released": _iso(h["released"])}
             for h in found]
    text = "\n".join(f"{h['id']:>4} {h['camera_id']:12} {h['start']} .. {h['end']} "
                     f"{'released' if h['released'] else 'active'}  {h['reference']}"
                     for h in holds) or "no holds"
    _print(holds, args.json, text)
    return 0


def add_parser(sub) -> None:
    holds = _group(sub, "hold", "holds on footage (R-41)")
    c = _action(holds, "add", cmd_hold_add, "hold a camera's footage in a time window")
    c.add_argument("--camera", required=True)
    c.add_argument("--start", type=_iso_time, required=True)
    c.add_argument("--end", type=_iso_time, required=True)
    c.add_argument("--reason", required=True)
    c.add_argument("--reference", required=True)
    c.add_argument("--user", help="your account (beheerder); password from NVR_PASSWORD")
    c = _action(holds, "release", cmd_hold_release, "release a hold (not one of a request "
                "still open: close the request)")
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user", help="your account (beheerder); password from NVR_PASSWORD")
    c = _action(holds, "list", cmd_hold_list, "list holds with their reasons and references")
    c.add_argument("--user", help="your account (beheerder); password from NVR_PASSWORD")
