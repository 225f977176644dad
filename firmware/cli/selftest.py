"""Hardware acceptance (issue 14 item 6): `nvr selftest [--json] [--only NAME,...]`.

The checks are firmware/system/selftest.py's; this prints their table (or JSON) and exits 0
when none failed (warnings and skips allowed), 1 when one did."""

from __future__ import annotations

import argparse
import json

from firmware.cli.common import EXIT_FAILED
from firmware.cli.sizing import _share
from firmware.system.selftest import MOTION_SHARE


def _names(text: str) -> list[str]:
    from firmware.system.selftest import CHECKS
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown check(s) {', '.join(unknown) or '(none given)'}; the checks are "
            f"{', '.join(CHECKS)}")
    return names


def table(results) -> str:
    """One row per check: name, result, finding; what to do on the line below."""
    lines = [f"{'CHECK':8} {'RESULT':6} FINDING"]
    for r in results:
        lines.append(f"{r.name:8} {r.status.upper():6} {r.finding}")
        if r.action and r.status != "ok":
            lines.append(f"{'':15} what to do: {r.action}")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "warn", "skip", "fail")}
    lines.append("selftest: " + ", ".join(f"{n} {s}" for s, n in counts.items())
                 + (": FAILED" if counts["fail"] else ": passed"))
    return "\n".join(lines)


def cmd_selftest(args) -> int:
    from firmware.config import load
    from firmware.system.selftest import failed, run_checks
    cfg = load(args.config)        # read only: no configuration change is recorded here
    results = run_checks(cfg, args.only, args.motion_share)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print(table(results))
    return EXIT_FAILED if failed(results) else 0


def add_parser(sub) -> None:
    p = sub.add_parser("selftest", help="check camera, encoder, disk, keys, clock, GPIO, "
                       "exportd and the units (hardware acceptance)")
    p.add_argument("--json", action="store_true",
                   help="print [{name, status, finding, action}]")
    p.add_argument("--only", type=_names, metavar="NAME,...",
                   help="only these checks: camera, encoder, disk, keys, clock, gpio, "
                        "exportd, units")
    p.add_argument("--motion-share", type=_share, default=MOTION_SHARE, metavar="SHARE",
                   help="share of the time with motion for the disk's room, as in nvr sizing "
                        f"(default {MOTION_SHARE}; 1 for continuous recording)")
    p.set_defaults(func=cmd_selftest)
