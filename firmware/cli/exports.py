"""Exports to police and prosecutor (art. 9, R-60..R-62): `nvr export ...`; the web's face is
exports.py."""

from __future__ import annotations

import sys
from pathlib import Path

from firmware.cli.common import (CliError, _action, _config, _device_label, _governance, _group,
                                 _iso_time, _login, _print, _store)


def _export_desk(args):
    """The configuration, governance, store and logged-in --user for an export step."""
    cfg = _config(args)
    gov = _governance(cfg)
    store = _store(cfg)
    return cfg, gov, store, _login(gov, args, None)


def _export_errors():
    from firmware.export.helpers import ExportError
    from firmware.governance.requests import RequestError
    return ExportError, RequestError


def _request_of(reqs, ref: str) -> dict:
    """`--request` is the request's number or its reference (what the letter says)."""
    if ref.isdigit():
        return reqs.show(int(ref))
    row = reqs.db.execute("SELECT id FROM requests WHERE reference = ? ORDER BY id DESC",
                          (ref,)).fetchone()
    if row is None:
        raise CliError(f"there is no request with reference {ref!r}: see nvr request list")
    return reqs.show(row[0])


def cmd_export_create(args) -> int:
    """The evidence package for a registered art. 9 request, onto the stick exportd offers
    (exactly one unlocked) or, with --to, into a folder (the development stand-in: a 7z)."""
    import os

    from firmware.cli.device import _warn_swap
    from firmware.export.helpers import DirectoryHelper, helper_for
    from firmware.export.service import make_package
    _warn_swap()            # it decrypts the window (and holds a 7z's package in memory)
    cfg, gov, store, actor = _export_desk(args)
    helper = DirectoryHelper(Path(args.to)) if args.to else helper_for(cfg)
    try:
        req = _request_of(gov.requests(store), args.request)
        export = make_package(gov, store, actor, request_id=req["id"],
                              camera=args.camera or req["camera_id"],
                              start=req["start"] if args.start is None else args.start,
                              end=req["end"] if args.end is None else args.end,
                              helper=helper, reason=args.reason or "",
                              # a typed archive password from the environment, never an
                              # argument (the process list); otherwise the device makes one
                              password=os.environ.get("NVR_EXPORT_PASSWORD") or None,
                              progress=_progress_bar() if sys.stderr.isatty() else None,
                              device=_device_label(cfg), zone=cfg.device.timezone)
    except _export_errors() as exc:
        raise CliError(str(exc)) from None
    out = {"id": export["id"], "path": export["path"], "files": export["files"],
           "bytes": export["bytes"], "manifest_sha256": export["manifest_sha256"]}
    if "password" in export:
        out["password"] = export["password"]
    text = (f"export {export['id']}: package written to {export['path']} "
            f"({len(export['files'])} files, {export['bytes']} bytes); check it with nvr "
            f"export verify; record the handover with nvr export handover {export['id']} "
            "--medium LABEL")
    if "password" in export:
        text += (f"\nthe archive's password, shown only now (give it to the recipient apart "
                 f"from the stick): {export['password']}")
    _print(out, args.json, text)
    return 0


def _progress_bar():
    """A progress bar on stderr (a terminal): `progress(done, total)`."""
    def progress(done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * 30)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
                         f"{done / 1e6:.0f}/{total / 1e6:.0f} MB")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return progress


def cmd_export_verify(args) -> int:
    """Check a package with the rules a recipient's tools apply; non-zero naming what fails."""
    from firmware.export.manifest import key_fingerprint, verify
    faults = verify(Path(args.path), args.fingerprint)
    key = key_fingerprint(Path(args.path))
    if args.json:
        _print({"path": args.path, "ok": not faults, "fingerprint": key,
                "faults": [{"file": f, "problem": p} for f, p in faults]}, True, "")
    elif not faults:
        print(f"{args.path}: every file matches manifest.sha256 and the signed manifest.json")
        print(f"signed by the device key with fingerprint {key}"
              + (" (the one given)" if args.fingerprint else
                 ": compare it with the fingerprint on the signed declaration"))
    for name, problem in faults:
        if not args.json:
            print(f"FAILED {name}: {problem}", file=sys.stderr)
    return 1 if faults else 0


def cmd_export_handover(args) -> int:
    from firmware.export.service import hand_over
    _, gov, store, actor = _export_desk(args)
    try:
        row = hand_over(gov, store, actor, args.id, medium=args.medium)
    except _export_errors() as exc:
        raise CliError(str(exc)) from None
    _print(row, args.json, f"export {args.id} handed over to {row['recipient']} on "
                           f"{row['medium']}; print the declaration with nvr export "
                           f"declaration {args.id} --out FILE.pdf")
    return 0


def cmd_export_list(args) -> int:
    from firmware.export.service import list_exports
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    _login(gov, args, Action.EXPORT)
    rows = list_exports(gov.requests(_store(cfg)).db)
    _print(rows, args.json, "\n".join(
        f"{r['id']:>4} request {r['request_id']:<4} {r['camera_id']:10} {len(r['files'])} "
        f"file(s) {'handed over to ' + r['handover']['recipient'] if r['handover'] else 'not handed over'}"
        for r in rows) or "no exports")
    return 0


def cmd_export_declaration(args) -> int:
    from firmware.export.helpers import ExportError
    from firmware.export.service import show_export
    from firmware.governance.paperwork import export_declaration_file
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    store = _store(cfg)
    actor = _login(gov, args, Action.EXPORT)
    try:
        export = show_export(gov.requests(store).db, args.id)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    export_declaration_file(gov, actor, store, export, _device_label(cfg), Path(args.out))
    print(f"wrote {args.out} ({len(export['files'])} file(s) with SHA-256)")
    return 0


def add_parser(sub) -> None:
    exports = _group(sub, "export", "exports to police and prosecutor (art. 9, R-60..R-62)")
    c = _action(exports, "create", cmd_export_create, "write the evidence package for a "
                "registered art. 9 request after the officer's identity and declaration, onto "
                "the one unlocked stick exportd offers (or --to DIR); a 7z's password is "
                "generated and printed once (or typed in NVR_EXPORT_PASSWORD)")
    c.add_argument("--request", required=True, help="the request's number or reference")
    c.add_argument("--camera", help="default: the request's camera")
    c.add_argument("--start", type=_iso_time, help="default: the request's window")
    c.add_argument("--end", type=_iso_time, help="default: the request's window")
    c.add_argument("--to", help="a folder instead of the stick (development): the package "
                   "inside a password-protected 7z")
    c.add_argument("--reason", help="why, in words (logged)")
    c.add_argument("--user")
    c = _action(exports, "verify", cmd_export_verify, "check an evidence package: every "
                "file's SHA-256 and the device's signature; exit 1 naming what fails")
    c.add_argument("path")
    c.add_argument("--fingerprint", help="the device key's fingerprint printed on the signed "
                   "declaration: the package's key must be that one")
    c = _action(exports, "handover", cmd_export_handover, "record the handover of an export "
                "to the identified officer (art. 9 lid 2-4)")
    c.add_argument("id", type=int)
    c.add_argument("--medium", required=True, help="the stick's label or serial number")
    c.add_argument("--user")
    c = _action(exports, "list", cmd_export_list, "list exports and their handovers")
    c.add_argument("--user")
    c = _action(exports, "declaration", cmd_export_declaration, "print the art. 9 declaration "
                "of an export (R-62)", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
