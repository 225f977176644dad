"""The export helper and its USB sticks (issue 13 items 1 and 4): `nvr exportd` runs the
privileged daemon (as root, from nvr-exportd.service); `nvr usb list|unlock|format|eject` talk
to it over its socket, as the web interface does. Formatting, unlocking and ejecting need
--user and are logged in the usage logbook (export/media_log.py, art. 7 lid 2)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from firmware.cli.common import CliError, _action, _group, _password, _print

log = logging.getLogger("nvr.exportd")


def _socket_arg(parser) -> None:
    from firmware.export import protocol
    parser.add_argument("--socket", metavar="PATH", default=None,
                        help=f"exportd's socket (default: ${protocol.SOCKET_ENV} or "
                             f"{protocol.DEFAULT_SOCKET})")


def _call(args, request: dict, timeout: float = 30) -> dict:
    from firmware.export import protocol
    try:
        return protocol.call(args.socket or protocol.socket_path(), request, timeout=timeout)
    except protocol.ProtocolError as exc:
        raise CliError(str(exc)) from None


def cmd_exportd(args) -> int:
    """Run the daemon until SIGTERM; on the way out every unlocked stick is unmounted and
    locked."""
    from firmware.config import load
    from firmware.export import protocol
    from firmware.export.daemon import Daemon, SubprocessRunner, serve
    from firmware.export.udev import UdevSource, system_disks
    from firmware.system.notify import Notifier
    cfg = load(args.config)             # read only: exportd never writes the data directory
    system = system_disks([Path("/"), Path("/boot"), Path("/boot/firmware"),
                           cfg.storage.data_dir, cfg.storage.index_dir, cfg.storage.key_dir])
    runtime = Path(args.socket or protocol.socket_path()).parent
    runtime.mkdir(mode=0o750, exist_ok=True)
    daemon = Daemon(SubprocessRunner(), system, runtime)
    source = UdevSource()
    daemon.follow(source)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("exportd: listening on %s; system disks %s", args.socket or protocol.socket_path(),
             ", ".join(sorted(system)))
    try:
        serve(daemon, Path(args.socket or protocol.socket_path()),
              protocol.PeerPolicy.for_group(args.group), stop,
              ready=lambda: Notifier().send("READY=1", "STATUS=answering on its socket"))
    finally:
        source.close()
        for stick in daemon.list():
            if stick["state"] == "unlocked":
                daemon.eject(stick["device"])
    return 0


def cmd_usb_list(args) -> int:
    devices = _call(args, {"cmd": "list"})["devices"]
    lines = [f"{d['device']}  {d['model']}  {d['size']}  {d['kind']}"
             f"{' (hardware-encrypted: the package goes into a 7z archive)' if d['hardware_encrypted'] else ''}"
             f"  {d['state']}" for d in devices]
    _print(devices, args.json, "\n".join(lines) or "no USB stick")
    return 0


def _desk(args):
    """Governance, the logged-in --user and the helper for a stick command that is logged
    (export/media_log.py: art. 7 lid 2, R-50)."""
    from firmware.cli.common import _config, _governance, _login
    from firmware.export.helpers import ExportdHelper
    gov = _governance(_config(args))
    return gov, _login(gov, args, None), ExportdHelper(args.socket)


def _logged(args, step, *params) -> dict:
    """Run a media_log step (format_stick, unlock_stick, eject_stick) as --user."""
    from firmware.export.helpers import ExportError
    from firmware.governance.service import Refused
    gov, actor, helper = _desk(args)
    try:
        return step(gov, actor, helper, args.device, *params)
    except (ExportError, Refused) as exc:
        raise CliError(str(exc)) from None
    finally:
        gov.close()


def cmd_usb_unlock(args) -> int:
    from firmware.export import media_log
    password = _password("NVR_USB_PASSWORD", f"password of the stick {args.device}: ")
    stick = _logged(args, media_log.unlock_stick, password)
    _print(stick, args.json, f"{args.device} is unlocked; export, then nvr usb eject "
                             f"{args.device}")
    return 0


def cmd_usb_format(args) -> int:
    if not args.confirm:
        devices = {d["device"]: d for d in _call(args, {"cmd": "list"})["devices"]}
        if args.device not in devices:
            raise CliError(f"{args.device} is not a USB stick exportd offers; see nvr usb list")
        raise CliError(f"formatting erases everything on {args.device}; confirm with "
                       f"--confirm {devices[args.device]['confirm']!r}")
    import os

    from firmware.export import media_log
    from firmware.export.passwords import PasswordError, check_typed, generate
    generated = None
    if args.type_password or os.environ.get("NVR_USB_PASSWORD"):
        password = _password("NVR_USB_PASSWORD", "new password of the stick (at least 16 "
                             "characters): ", confirm=True)
        try:
            check_typed(password)
        except PasswordError as exc:
            raise CliError(str(exc)) from None
    else:
        password = generated = generate()           # shown once below, never stored
    stick = _logged(args, media_log.format_stick, args.confirm, password)
    text = f"{args.device} is formatted as LUKS2 and locked"
    if generated is not None:
        stick["password"] = generated
        text += (f"; its password, shown only now (write it down; give it to the recipient "
                 f"apart from the stick): {generated}")
    _print(stick, args.json, text)
    return 0


def cmd_usb_eject(args) -> int:
    from firmware.export import media_log
    done = _logged(args, media_log.eject_stick)
    _print(done, args.json, done["message"])
    return 0


def _user_arg(parser) -> None:
    parser.add_argument("--user", help="your personal account (password from NVR_PASSWORD); "
                        "the step is logged in the usage logbook")


def add_parser(sub) -> None:
    p = sub.add_parser("exportd", help="run the export helper (root; nvr-exportd.service)")
    _socket_arg(p)
    p.add_argument("--group", default="nvr-export",
                   help="the group allowed to use the socket (default: nvr-export)")
    p.set_defaults(func=cmd_exportd)
    usb = _group(sub, "usb", "USB sticks for exports, through exportd")
    _socket_arg(_action(usb, "list", cmd_usb_list, "the USB sticks exportd offers"))
    p = _action(usb, "unlock", cmd_usb_unlock, "unlock and mount a stick (password: "
                "$NVR_USB_PASSWORD or a prompt)")
    p.add_argument("device")
    _user_arg(p)
    _socket_arg(p)
    p = _action(usb, "format", cmd_usb_format, "erase a stick and make it LUKS2; prints the "
                "generated password once")
    p.add_argument("device")
    p.add_argument("--confirm", metavar="TEXT", help="the device, model and size as "
                   "nvr usb list shows them")
    p.add_argument("--type-password", action="store_true", help="type the password (at least "
                   "16 characters; or $NVR_USB_PASSWORD) instead of the generated one")
    _user_arg(p)
    _socket_arg(p)
    p = _action(usb, "eject", cmd_usb_eject, "sync, unmount and lock a stick")
    p.add_argument("device")
    _user_arg(p)
    _socket_arg(p)
