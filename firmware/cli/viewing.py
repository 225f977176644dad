"""Showing a request's footage and papers (art. 9 lid 4, art. 10 lid 3-5): `nvr request
inzage|play|letter|declaration-pdf`; the web's face is viewing.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from firmware.cli.common import (CliError, _action, _device_label, _footage_here, _iso, _login,
                                 _print, _refuse_unless_pipe, _requests)


def cmd_request_declaration_pdf(args) -> int:
    from firmware.governance.letters import LetterError, article10_declaration_file
    from firmware.governance.paperwork import request_declaration_file
    from firmware.governance.requests import RequestError
    from firmware.governance.roles import Action
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, Action.IDENTIFY)
    try:
        if reqs.show(args.id)["article"] == 10:          # art. 10 lid 5: once approved
            article10_declaration_file(gov, actor, cfg, reqs.store, args.id, Path(args.out))
            print(f"wrote {args.out}")
            return 0
        count = request_declaration_file(gov, actor, reqs.store, args.id, _device_label(cfg),
                                         Path(args.out))
    except (RequestError, LetterError) as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {args.out} ({count} file(s) with SHA-256)")
    return 0


def cmd_request_inzage(args) -> int:
    """Art. 10 lid 4-5: the segments an approved, identified, declared request may show."""
    from firmware.governance.access import AccessRefused
    from firmware.governance.requests import RequestError
    from firmware.governance.viewing import open_viewing
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    try:
        found = open_viewing(reqs, reqs.store, actor, args.id)
    except (AccessRefused, RequestError) as exc:
        raise CliError(str(exc)) from None
    rows = [{"id": s["id"], "start": _iso(s["start"]), "end": _iso(s["end"])}
            for s in found["segments"]]
    _print(rows, args.json, "\n".join(f"{r['id']}  {r['start']} .. {r['end']}" for r in rows)
           or "no footage left in the request's window")
    return 0


def cmd_request_play(args) -> int:
    """Art. 10 lid 4-5: one segment of the request's window into a player's pipe, blurred in
    memory when asked; checked and logged like the web's inzage."""
    from firmware.governance.access import AccessRefused
    from firmware.governance.requests import RequestError
    from firmware.governance.viewing import (RegionError, blur_settings, parse_regions,
                                             show_request_segment)
    from firmware.storage.segcrypt import SegmentError
    from firmware.storage.store import KeyErased, SegmentMissing
    _refuse_unless_pipe(args.segment)
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    _footage_here(cfg, gov, actor, f"request {args.id}")
    try:
        regions = parse_regions(args.regions)
        show_request_segment(reqs, reqs.store, actor, args.id, args.segment,
                             blur_settings(args.detect, regions))
        data = b"".join(reqs.store.read_segment(args.segment))      # in memory only
    except (AccessRefused, RequestError, RegionError, KeyErased, SegmentError,
            SegmentMissing) as exc:
        raise CliError(str(exc)) from None
    if args.detect or regions:
        from firmware.playback.blur import BlurError, blur_mp4
        try:
            data = blur_mp4(data, regions=regions, detect=args.detect)
        except BlurError as exc:
            raise CliError(exc.message) from None
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:                    # the player was closed: fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_request_letter(args) -> int:
    """The decision letter of an art. 10 request (art. 10 lid 3), as PDF."""
    from firmware.governance.letters import LetterError, decision_letter_file
    from firmware.governance.requests import RequestError
    from firmware.governance.service import Refused
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    try:
        decision_letter_file(gov, actor, cfg, reqs.store, args.id, Path(args.out))
    except (RequestError, LetterError, Refused) as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {args.out}")
    return 0


def add_actions(reqs) -> None:
    """The viewing actions of the `request` group (requests.add_parser makes the group)."""
    c = _action(reqs, "declaration-pdf", cmd_request_declaration_pdf,
                "print the pre-filled declaration with file hashes (R-62, R-73)", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
    c = _action(reqs, "inzage", cmd_request_inzage,
                "the segments an approved art. 10 request may show (art. 10 lid 4-5)")
    c.add_argument("id", type=int)
    c.add_argument("--user")
    c = _action(reqs, "play", cmd_request_play, "one segment of an art. 10 request's window "
                "into a player: nvr request play ID SEGMENT --user U | ffplay -", json=False)
    c.add_argument("id", type=int)
    c.add_argument("segment", help="a segment id from `nvr request inzage`")
    c.add_argument("--detect", action="store_true", help="blur detected people")
    c.add_argument("--regions", default="", help="blur rectangles x,y,w,h as fractions of the "
                                                 "frame, several separated by ;")
    c.add_argument("--user")
    c = _action(reqs, "letter", cmd_request_letter,
                "the decision letter of an art. 10 request, as PDF (art. 10 lid 3)", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
