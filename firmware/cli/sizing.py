"""`nvr sizing`: the data disk the configured cameras need for 28 days (R-40, R-42), and
whether the disk of data_dir holds it (firmware/system/sizing.py, hardware.md)."""

from __future__ import annotations

import argparse

from firmware.cli.common import EXIT_FAILED, _print


def _share(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a share of time: give a fraction from 0 to 1 (0.3) or a "
            "percentage (30%)")
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 28:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole days from 1 to 28 (footage is "
                                         "kept at most 28 days, R-40)")
    return value


def _gb(n: float) -> str:
    from firmware.system.sizing import GB
    return f"{n / GB:,.1f} GB"


def cmd_sizing(args) -> int:
    # The configuration is only read: nothing is changed, so nothing goes to the logbook.
    from firmware.config import load
    from firmware.system.sizing import (FS_OVERHEAD_PERCENT, FS_RESERVE_PERCENT,
                                        LOGBOOK_YEARS, check_disk, plan)
    cfg = load(args.config)
    sizing = plan(cfg.cameras, args.motion_share, args.days, cfg.storage)
    disk = check_disk(cfg.storage.data_dir, sizing)
    failed = EXIT_FAILED if not disk.holds else 0        # as nvr selftest's disk check
    if args.json:
        _print({**sizing.to_json(), "data_disk": disk.to_json()}, True, "")
        return failed
    lines = [f"storage for {sizing.days} days at {sizing.motion_share:.0%} of the time with "
             "motion (hardware.md, Storage for 28 days):"]
    for c in sizing.cameras:
        lines.append(f"  camera {c.camera:12} {c.width}x{c.height} {c.fps} fps "
                     f"{c.bitrate_kbps} kbit/s, {c.recorded_share:.0%} recorded: {_gb(c.bytes)}")
    lines += [f"  logbooks ({LOGBOOK_YEARS} years of use): {_gb(sizing.logbook_bytes)}",
              f"  store total: {_gb(sizing.store_bytes)}",
              f"  free-space margin ({100 - sizing.high_water_percent} % above the mark, R-42, "
              f"and {FS_RESERVE_PERCENT + FS_OVERHEAD_PERCENT} % the file system takes): "
              f"{_gb(sizing.margin_bytes)}",
              f"  disk needed: {_gb(sizing.disk_bytes)}",
              f"data disk {disk.path}: {_gb(disk.total)}, {_gb(disk.other_bytes)} used by other "
              f"files, room for the store {_gb(max(0, disk.room))}"]
    if disk.holds:
        lines.append("  it holds the store")
    else:
        lines.append(f"  it does NOT hold the store: {_gb(disk.needed - disk.room)} short; use a "
                     "larger disk, a lower bitrate_kbps, fewer cameras or motion zones that see "
                     "less (the store would erase footage before its 28 days, R-42)")
    print("\n".join(lines))
    return failed


def add_parser(sub) -> None:
    s = sub.add_parser("sizing", help="the data disk the cameras need for 28 days, and whether "
                                      "data_dir's disk holds it")
    s.add_argument("--motion-share", type=_share, default=0.3, metavar="SHARE",
                   help="share of the time with motion: 0.3 or 30%% (default 0.3)")
    s.add_argument("--days", type=_days, default=28, metavar="DAYS",
                   help="days of footage (default and at most 28, R-40)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_sizing)
