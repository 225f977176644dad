"""Scans of a request's paper file (art. 10 lid 6): `nvr request attach|scans`; the web's face
is scans.py."""

from __future__ import annotations

import sys
from pathlib import Path

from firmware.cli.common import CliError, _action, _config, _governance, _iso, _login, _print
from firmware.i18n import _


def _scans(args):
    from firmware.governance.scans import Scans
    cfg = _config(args)
    gov = _governance(cfg)
    return gov, Scans.open(gov, cfg)


def _scan_json(row: dict) -> dict:
    return {**row, "added": _iso(row.get("added"))}


def cmd_request_attach(args) -> int:
    """Art. 10 lid 6: a scan of the paper file (written request, signed declaration, decision
    letter) sealed under the device keys and attached to the request (governance/scans.py)."""
    from firmware.governance.scans import MAX_BYTES, ScanError
    gov, scans = _scans(args)
    actor = _login(gov, args, None)
    path = Path(args.file)
    too_large = ScanError(_("%(path)s is larger than %(mb)s MB: scan at a lower resolution or "
                            "in greyscale and try again", path=path, mb=MAX_BYTES // 1048576))
    try:
        if args.stdin:                   # nvr-admin under sudo: the caller's shell opened it
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
            if len(data) > MAX_BYTES:
                raise too_large
        elif path.stat().st_size > MAX_BYTES:
            raise too_large
        else:
            data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except ScanError as exc:
        raise CliError(str(exc)) from None
    try:
        row = scans.attach(actor, args.id, args.kind, data, path.name)
    except ScanError as exc:
        raise CliError(str(exc)) from None
    _print(_scan_json(row), args.json, f"scan {row['id']} ({row['kind']}, {row['size']} bytes, "
                                       f"sha256 {row['sha256']}) attached to request {args.id}")
    return 0


def cmd_request_scans(args) -> int:
    from firmware.governance.scans import KINDS, ScanError
    gov, scans = _scans(args)
    actor = _login(gov, args, None)
    try:
        rows = [_scan_json(r) for r in scans.list(actor, args.id)]
    except ScanError as exc:
        raise CliError(str(exc)) from None
    _print(rows, args.json, "\n".join(
        f"{r['id']:>4} {KINDS[r['kind']]:24} {r['filename']}  {r['size']} bytes  "
        f"added {r['added']} by {r['added_by']}  sha256 {r['sha256']}" for r in rows)
        or f"request {args.id} has no scans")
    return 0


def add_actions(reqs) -> None:
    """The scan actions of the `request` group (requests.add_parser makes the group)."""
    c = _action(reqs, "attach", cmd_request_attach,
                "attach a scan (PDF, PNG, JPEG) of the paper file, stored encrypted")
    c.add_argument("id", type=int)
    c.add_argument("file")
    c.add_argument("--stdin", action="store_true",
                   help="read the scan from standard input, FILE only names it (under sudo "
                        "nvr-admin takes this form: your shell opens the file)")
    c.add_argument("--kind", required=True,
                   choices=["written-request", "declaration", "decision-letter"])
    c.add_argument("--user")
    c = _action(reqs, "scans", cmd_request_scans, "list the scans of a request")
    c.add_argument("id", type=int)
    c.add_argument("--user")
