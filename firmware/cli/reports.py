"""The DPIA / DPO report (R-83): `nvr report`; the web's face is /report in logbooks.py."""

from __future__ import annotations

from pathlib import Path

from firmware.cli.common import CliError, _config, _governance, _iso_date, _login, _store


def cmd_report(args) -> int:
    from firmware.governance.paperwork import PaperworkError, report_file
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.LOGBOOK_READ)
    try:
        out = report_file(gov, actor, cfg, _store(cfg), args.since, args.to, Path(args.out))
    except PaperworkError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {out}")
    return 0


def add_parser(sub) -> None:
    c = sub.add_parser("report", help="the DPIA / DPO report as PDF (R-83)")
    c.add_argument("--from", dest="since", type=_iso_date, required=True)
    c.add_argument("--to", type=_iso_date, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
    c.set_defaults(func=cmd_report)
