"""Workstations of the secured room (art. 4 lid 1): client certificates, `nvr client ...`."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from firmware.cli.common import (CliError, _action, _config, _governance, _group, _iso, _login,
                                 _print)


def _clients(args):
    """Log in as a technisch-beheerder (Action.CONFIG); the device's workstation certificates."""
    from firmware.governance.roles import Action
    from firmware.system.clients import Clients
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.CONFIG)
    return cfg, actor, Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)


def _issue(args):
    """Issue the certificate: (bundle, its password, the record, whether the password was
    given in NVR_BUNDLE_PASSWORD)."""
    from firmware.system.clients import ClientError
    cfg, actor, clients = _clients(args)
    given = os.environ.get("NVR_BUNDLE_PASSWORD") or None
    try:
        bundle, password, record = clients.issue(actor, args.name, password=given,
                                                 days=args.days)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    return cfg, bundle, password, record, given is not None


def _said(args, record: dict, where: str, password: str, given: bool, out=sys.stdout) -> None:
    until = datetime.fromtimestamp(record["not_after"], timezone.utc).isoformat(timespec="minutes")
    print(f"workstation certificate for {args.name} (serial {record['serial']}, valid until "
          f"{until}) written to {where}", file=out)
    if not given:
        print(f"password of the bundle (shown once, give it with the file in person): {password}",
              file=out)
    print("Import the bundle in the browser of the computer in the secured room (personal "
          "certificates), then remove the file from any other medium.", file=out)


def cmd_client_issue(args) -> int:
    """A client certificate for a computer in the secured room, as a PKCS#12 bundle to import
    in its browser, and the device's server certificate so that browser can trust the device.
    `--out -`: the bundle alone on standard output, into a file the caller's shell makes (the
    form `sudo nvr-admin` takes, docs/units.md; the server certificate: `nvr-admin web-cert`)."""
    import socket
    from firmware.web.server import ensure_certificate
    if args.out == "-":
        if sys.stdout.isatty():
            raise CliError("refusing to write the certificate bundle to a terminal: redirect it "
                           f"into a file: ... --out - > {args.name}.p12")
        _, bundle, password, record, given = _issue(args)
        sys.stdout.buffer.write(bundle)
        sys.stdout.flush()
        _said(args, record, "standard output", password, given, out=sys.stderr)
        return 0
    out = Path(args.out)
    bundle_path, server_path = out / f"{args.name}.p12", out / "nvr-apparaat.crt"
    for path in (bundle_path, server_path):
        if path.exists():
            raise CliError(f"{path} exists already; choose another --out directory or move it")
    cfg, bundle, password, record, given = _issue(args)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(bundle_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bundle)
    cert, _ = ensure_certificate(cfg.storage.key_dir, socket.gethostname())
    server_path.write_bytes(Path(cert).read_bytes())
    _said(args, record, str(bundle_path), password, given)
    print(f"the device's server certificate, to trust in that browser: {server_path}")
    return 0


def cmd_client_list(args) -> int:
    _, _, clients = _clients(args)
    rows = [{**r, "issued": _iso(r["issued"]), "not_after": _iso(r["not_after"]),
             "revoked": _iso(r["revoked"])} for r in clients.list()]
    _print(rows, args.json, "\n".join(
        f"{r['name']:24} {r['state']:8} until {r['not_after']}  serial {r['serial']}  "
        f"issued by {r['issued_by']}" + (f", revoked by {r['revoked_by']}" if r["revoked"]
                                         else "")
        for r in rows) or "no workstation certificates")
    return 0


def cmd_client_revoke(args) -> int:
    from firmware.system.clients import ClientError
    _, actor, clients = _clients(args)
    try:
        rows = clients.revoke(actor, args.name)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    print(f"revoked {len(rows)} certificate(s) of workstation {args.name}: it shows no footage "
          "from its next request on")
    return 0


def add_parser(sub) -> None:
    clients = _group(sub, "client", "client certificates of the workstations in the secured "
                     "room (art. 4 lid 1)")
    c = _action(clients, "issue", cmd_client_issue, "issue a certificate bundle (PKCS#12) for "
                "a workstation's browser; password from NVR_BUNDLE_PASSWORD or made and "
                "printed once", json=False)
    c.add_argument("name", help="the workstation, e.g. centrale-ruimte")
    c.add_argument("--out", default=".", help="directory for NAME.p12 and nvr-apparaat.crt; "
                   "`-`: the bundle alone on standard output (> NAME.p12)")
    c.add_argument("--days", type=int, default=730, help="validity in days (default 730)")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    c = _action(clients, "list", cmd_client_list, "every certificate issued, with its state")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    c = _action(clients, "revoke", cmd_client_revoke, "revoke a workstation's certificate",
                json=False)
    c.add_argument("name")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
