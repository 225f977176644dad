"""The `nvr` command: the top-level parser and `main`.

One module per command group, mirroring the web's blueprints, so a rule's CLI face sits beside
its web face: each has `add_parser(sub)` registering its subcommands, with the handlers next to
them. Shared helpers (configuration, login, output) are in `common.py`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from pathlib import Path

from firmware import __version__
from firmware.cli import (clients, decisions, device, exports, grants, holds, home, logbooks,
                          monitoring, people, recordings, reports, requests, selftest, sizing,
                          update, usb)
from firmware.cli import firstboot
from firmware.cli.common import EXIT_FAILED, EXIT_USAGE, CliError, _config, _store  # noqa: F401
from firmware.config import CONFIG_ENV, ConfigError
from firmware.storage.sink import StorageError

# In the order `nvr --help` lists them.
GROUPS = (device, recordings, holds, people, requests, exports, grants, home, reports, decisions,
          logbooks, clients, monitoring, usb, sizing, selftest, update)
GROUPS += (firstboot,)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nvr", description="Compliance-first video recorder.")
    p.add_argument("--version", action="version", version=f"nvr {__version__}")
    p.add_argument("--config", metavar="FILE",
                   help=f"configuration file (default: ${CONFIG_ENV})")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(sub)
    return p


def _undecodable(argv: list[str]) -> str | None:
    """An argument whose bytes were not UTF-8 (Python keeps them as lone surrogates, which
    cannot be stored or logged), or None."""
    for arg in argv:
        if any("\ud800" <= ch <= "\udfff" for ch in arg):
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    bad = _undecodable(sys.argv[1:] if argv is None else argv)
    if bad is not None:
        print(f"nvr: the argument {ascii(bad)} is not UTF-8 text; type it again in a UTF-8 "
              "terminal", file=sys.stderr)
        return EXIT_USAGE
    from firmware.i18n import LANGUAGES, known_language
    asked = os.environ.get("NVR_LANG")
    if asked and known_language(asked) is None:
        print(f"nvr: NVR_LANG={ascii(asked)} is not a language of this firmware "
              f"({', '.join(LANGUAGES)}): the messages are in English", file=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.command == "ingest" and not args.verbose:
        logging.getLogger("firmware").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, StorageError) as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as exc:                  # documents.FontsMissing (fpdf not imported
        documents = sys.modules.get("firmware.governance.documents")   # for every command)
        if documents is None or not isinstance(exc, documents.FontsMissing):
            raise
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.DatabaseError as exc:         # the index, found damaged or busy on the way
        from firmware.storage import index
        problem = index.damaged(Path("index.sqlite3"), exc) if index.is_damage(exc) else \
            f"the index could not be read ({exc}); try again"
        print(f"nvr: {problem}", file=sys.stderr)
        return EXIT_FAILED

