"""What every command group shares: the configuration, the store, login, output, the
argument types and the parser's shape of `nvr GROUP ACTION`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from firmware.config import Config, load
from firmware.i18n import _

EXIT_USAGE = 2
EXIT_FAILED = 1

log = logging.getLogger("nvr")


class CliError(Exception):
    """A command failed for a reason the user can fix; the message says how."""


def _iso_time(text: str) -> float:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-04-24T14:30:00+02:00") from None
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add one, e.g. +02:00 or Z")
    return dt.timestamp()


# Commands that do not record configuration changes when they load the configuration: `config
# check` is a dry run; `run` and `web` record them themselves, at the point of their start.
_CONFIG_UNRECORDED = ("config", "run", "web")


def _config(args) -> Config:
    """The configuration, with any change since it was last recorded put in the usage logbook
    first (art. 7 lid 2, R-50): a change a command uses is on the record even when the file is
    set back before the next start of the recorder or the web."""
    cfg = load(args.config)
    command = getattr(args, "command", None)
    if command and command not in _CONFIG_UNRECORDED:
        _record_config_changes(cfg, f"nvr {command}", out=sys.stderr)
    return cfg


def _store(cfg: Config, owner: str | None = None):
    """The store as a reader; with `owner` (what the command owns it for: record, ingest,
    sweep) as its owner for the command's life: checked, reconciled and swept first. Refused
    with StoreBusy while another process (the recorder) owns it."""
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore.from_config(cfg)
    if owner:
        store.take_ownership(owner)
    return store


def _reconciled(rec) -> str:
    if rec is None or not (rec.quarantined or rec.partial or rec.missing):
        return ""
    return (f"reconciled the store: {len(rec.partial)} partial file(s) removed, "
            f"{len(rec.quarantined)} unexplained file(s) moved to the quarantine folder, "
            f"{len(rec.missing)} segment(s) without a file")


def _iso(t: float | None) -> str | None:
    from firmware.governance.bounds import when
    return None if t is None else when(t, timezone.utc, iso=True)


def _record_config_changes(cfg: Config, noticed_by: str, out=sys.stdout) -> None:
    """Art. 7 lid 2, R-50: every configuration change into the usage logbook."""
    from firmware.governance.configlog import record_changes
    gov = _governance(cfg)
    try:
        found = record_changes(gov, cfg, noticed_by)
    finally:
        gov.close()
    if found:
        print(f"configuration changed since the last start: {', '.join(c['key'] for c in found)}"
              " (recorded in the usage logbook)", file=out, flush=True)


def _requests(args):
    cfg = _config(args)
    gov = _governance(cfg)
    return cfg, gov, gov.requests(_store(cfg))


def nvr_command() -> str:
    """How to type `nvr` in this shell, for the commands a command prints: `nvr` when the `nvr`
    on PATH is this installation's, else the path of its console script (e.g. `.venv/bin/nvr`
    after `make run`, which does not activate the venv)."""
    import shlex
    import shutil
    script = Path(sys.executable).parent / "nvr"     # beside the venv's (or system's) python
    if not script.is_file():
        return "nvr"
    found = shutil.which("nvr")
    if found and Path(found).resolve() == script.resolve():
        return "nvr"
    try:
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))


def _print(obj, as_json: bool, text: str) -> None:
    print(json.dumps(obj, indent=2) if as_json else text)


def _refuse_unless_pipe(target: str) -> None:
    """Issue 9 item 7: stdout must be a pipe (a player); a terminal gets a hint, a file is no
    place for plaintext footage (a file leaves the device only as an export)."""
    import stat
    mode = os.fstat(sys.stdout.fileno()).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return
    hint = f"nvr segment play {target} --user ... | ffplay -   (or: | mpv -)"
    if sys.stdout.isatty():
        raise CliError(f"refusing to write video to a terminal: pipe it into a player: {hint}")
    raise CliError("refusing to write plaintext video into a file: footage leaves the device "
                   "as a file only as an export for a registered request (nvr request, the "
                   f"web's Exports); to look at it, pipe it into a player: {hint}")


def _footage_here(cfg: Config, gov, actor, subject: str) -> None:
    """Art. 4 lid 1 (R-20): footage on the command line only in the secured room, checked by
    system.clients.footage_command_line before anything is decrypted; a refusal goes into the
    usage logbook and says what to do."""
    from firmware.system.clients import footage_command_line
    place = footage_command_line(cfg.web)
    if not place:
        gov.logbook.append("usage", actor.name, "refused", subject=subject,
                           details={"why": place.reason, "via": "opdrachtregel"})
        raise CliError(place.reason)


def _governance(cfg: Config):
    from firmware.governance.service import Governance
    return Governance.open(cfg)


def _has_terminal() -> bool:
    """Whether the process has a controlling terminal to ask a password on."""
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return False


def _password(env: str, prompt: str, confirm: bool = False) -> str:
    import getpass
    import os
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty() and not _has_terminal():
        raise CliError(_("no password: set %(env)s or run the command in a terminal", env=env))
    try:                                # on the terminal (/dev/tty), also when stdin
        value = getpass.getpass(prompt)  # carries a file (`--stdin < FILE`, reviewer B)
        if confirm and getpass.getpass("again: ") != value:
            raise CliError(_("the two passwords differ"))
    except EOFError:
        raise CliError(_("no password given (the terminal closed): type it, or set %(env)s",
                         env=env)) from None
    return value


def _login(gov, args, action):
    """Authenticate --user; with an action, also check that the role may do it (R-11)."""
    from firmware.governance.accounts import AuthError
    from firmware.governance.service import Refused
    if not getattr(args, "user", None):
        raise CliError("this command needs --user NAME (a personal account, R-10)")
    import os
    password = _password("NVR_PASSWORD", f"password of {args.user}: ")
    code = os.environ.get("NVR_TOTP")
    try:
        if action is None:
            return gov.login(args.user, password, code)
        return gov.authorize(args.user, password, action, code=code)
    except (AuthError, Refused) as exc:
        raise CliError(str(exc)) from None


def _footage_arguments(parser) -> None:
    """R-01: who, for which purpose of article 1, and why in words."""
    from firmware.governance.access import PURPOSES
    parser.add_argument("--user", help="your personal account; password from NVR_PASSWORD")
    parser.add_argument("--purpose", choices=list(PURPOSES), help="purpose from article 1")
    parser.add_argument("--reason", help="why, in words (request, incident)")


def _device_label(cfg) -> str:
    """The device as people know it in documents: its name, else its configured id."""
    return cfg.device.name or cfg.device.id


def _iso_date(text: str):
    from datetime import date
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-04-24") from None


def _group(sub, name: str, help: str):
    """A command with actions of its own: `nvr NAME ACTION ...`."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_action", required=True,
                                                          metavar="ACTION")


def _action(group, name: str, func, help: str, json: bool = True) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help)
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=func)
    return parser
