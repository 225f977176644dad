"""The logbooks (R-50, R-51): `nvr logbook verify|head|export`; the web's face is logbooks.py."""

from __future__ import annotations

from pathlib import Path

from firmware.cli.common import (EXIT_FAILED, CliError, _action, _config, _governance, _group,
                                 _login, _print)


def cmd_logbook_verify(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.LOGBOOK_VERIFY)
    result = gov.logbook.verify()
    gov.logbook.append("usage", actor.name, "logbook-verify",
                       details={"ok": result.ok, "problems": len(result.problems)})
    text = ("logbooks intact: " if result.ok else "logbooks NOT intact: ") + ", ".join(
        f"{b} {n} entries" for b, n in result.entries.items()) + "".join(
        f"\n  first bad entry: {b} {n}" for b, n in result.first_bad.items()) + "".join(
        f"\n  {p}" for p in result.problems)
    _print(result.to_json(), args.json, text)
    return 0 if result.ok else EXIT_FAILED


def cmd_logbook_head(args) -> int:
    """The signed heads, for the central room to record outside the device (no login: a
    head names no person, only how long a book is and its last hash)."""
    from firmware.governance.logbook import BOOKS, LogbookError
    gov = _governance(_config(args))
    try:
        heads = {book: gov.logbook.head_statement(book) for book in (args.book or BOOKS)}
    except LogbookError as exc:
        raise CliError(str(exc)) from None
    text = "\n".join(f"{h['message']}signature: {h['signature']}\n"
                     f"public_key: {h['public_key']}\n" for h in heads.values())
    _print(heads, args.json, text.rstrip("\n"))
    return 0


def cmd_logbook_export(args) -> int:
    from firmware.governance.paperwork import logbook_file
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.LOGBOOK_READ)
    count = logbook_file(gov, actor, args.book, args.format, cfg, Path(args.out))
    print(f"wrote {args.out} ({count} entries)")
    return 0


def add_parser(sub) -> None:
    books = _group(sub, "logbook", "the logbooks (R-50, R-51)")
    c = _action(books, "verify", cmd_logbook_verify, "verify the hash chains and signed heads")
    c.add_argument("--user", required=True)
    c = _action(books, "head", cmd_logbook_head, "the signed head of each book, to record "
                "outside the device")
    c.add_argument("--book", choices=["usage", "inzien"], action="append")
    c = _action(books, "export", cmd_logbook_export, "export a logbook", json=False)
    c.add_argument("--book", choices=["usage", "inzien"], required=True)
    c.add_argument("--format", choices=["csv", "pdf"], required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
