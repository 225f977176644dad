"""Firmware updates (issue 14 item 3): `nvr update check BUNDLE` and `nvr update install
BUNDLE --user NAME`. The checks, the role (R-11) and the logbook entries are
firmware/system/update.py's; this prints their outcome."""

from __future__ import annotations

from pathlib import Path

from firmware.cli.common import CliError, _action, _group, _print
from firmware.i18n import _


def _device(args):
    from firmware.system.update import Device, UpdateRefused
    try:
        return Device.from_system_conf(Path(args.system_conf or _install_conf()))
    except UpdateRefused as exc:
        raise CliError(str(exc)) from None


def _text(bundle) -> str:
    return (f"{bundle.path}: nvr {bundle.version} for {bundle.compatible}, signed and intact "
            f"(sha256 {bundle.sha256}); running {bundle.running}"
            + (" (a DOWNGRADE, allowed with a reason)" if bundle.downgrade else ""))


def _end_cleanly_on_hangup() -> None:
    """SIGHUP (the SSH session of `sudo nvr-admin update ...` closed) and SIGTERM end Python
    without its `finally`, which removes the bundle's private copy from the footage disk
    (R-42); as SystemExit they run it. (SIGKILL and a power cut cannot be caught: the next
    update command and `nvr web` at its start remove what they left, update.py.)"""
    import signal

    def end(signum, _frame):
        raise SystemExit(128 + signum)
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, end)


def cmd_check(args) -> int:
    from firmware.system.update import UpdateRefused, check, check_open
    _end_cleanly_on_hangup()
    try:
        if args.stdin:
            from firmware.cli.common import _config
            cfg = _config(args)
            bundle = check_open(Path(args.bundle), 0, _device(args), cfg.storage.data_dir,
                                high_water_percent=cfg.storage.high_water_percent,
                                allow_downgrade=args.allow_downgrade)
        else:
            bundle = check(Path(args.bundle), _device(args),
                           allow_downgrade=args.allow_downgrade)
    except UpdateRefused as exc:
        raise CliError(f"refused: {exc}") from None
    how = (f"sudo nvr-admin update install {args.bundle} --user NAME --stdin < {args.bundle}"
           if args.stdin else f"nvr update install {args.bundle} --user NAME")
    _print(bundle.as_dict(), args.json, _text(bundle) + f"\nit may be installed: {how}")
    return 0


def _install_conf() -> Path:
    """RAUC's own system.conf, the one `rauc install` uses (R-50: what is logged as checked
    is what the device trusts); SYSTEM_CONF_ENV is the tests' seam, which nvr-admin does not
    pass on (docs/units.md)."""
    import os

    from firmware.system.update import SYSTEM_CONF, SYSTEM_CONF_ENV
    return Path(os.environ.get(SYSTEM_CONF_ENV) or SYSTEM_CONF)


def cmd_install(args) -> int:
    from firmware.cli.common import _config, _governance, _login
    from firmware.system.update import UpdateRefused, install
    _end_cleanly_on_hangup()
    if args.system_conf is not None:
        raise CliError(f"refused: install checks a bundle against {_install_conf()} only, the "
                       "configuration RAUC's service installs with; --system-conf is for "
                       "nvr update check")
    device = _device(args)
    cfg = _config(args)
    gov = _governance(cfg)
    try:
        actor = _login(gov, args, None)
        bundle = install(Path(args.bundle), device, gov.logbook, actor,
                         allow_downgrade=args.allow_downgrade, folder=cfg.storage.data_dir,
                         high_water_percent=cfg.storage.high_water_percent,
                         source=0 if args.stdin else None)
    except UpdateRefused as exc:
        raise CliError(f"refused: {exc}") from None
    finally:
        gov.close()
    _print(bundle.as_dict(), args.json, _text(bundle) + "\n" + _(
           "installed into the other slot; try it with: sudo nvr-admin reboot-trial (a reboot "
           "once into the new system). It is kept when nvr selftest passes there; otherwise "
           "the device comes back to this system (image/updates/README.md)"))
    return 0


def add_parser(sub) -> None:
    from firmware.system.update import SYSTEM_CONF
    update = _group(sub, "update", "check and install signed firmware updates (RAUC bundles)")
    for name, func, text in (
            ("check", cmd_check, "check a bundle: signature, content, device type, version"),
            ("install", cmd_install, "check a bundle, then install it into the other slot "
                                     "(technisch-beheerder; logged)")):
        p = _action(update, name, func, text)
        p.add_argument("bundle", metavar="BUNDLE", help="the update bundle (.raucb)")
        p.add_argument("--allow-downgrade", metavar="REASON",
                       help="accept a version older than the running one, for this reason "
                            "(logged in the usage logbook when installed)")
        p.add_argument("--system-conf", metavar="FILE",
                       help=f"RAUC's system configuration: compatible and keyring (default "
                            f"{SYSTEM_CONF}; check only: install uses {SYSTEM_CONF}, the one "
                            "RAUC installs with)")
        p.add_argument("--stdin", action="store_true",
                       help="read the bundle from standard input, BUNDLE only names it (in "
                            "the logbook for install; under sudo nvr-admin takes only this "
                            "form: your shell opens the bundle)")
        if name == "install":
            p.add_argument("--user", required=True,
                           help="your account (technisch-beheerder); password from "
                                "NVR_PASSWORD")
