"""Scrape tokens for the central room's Prometheus (/metrics, issue 12 item 3):
`nvr scrape-token issue|list|revoke`."""

from __future__ import annotations

from firmware.cli.common import (CliError, _action, _config, _governance, _group, _iso, _login,
                                 _print)


def _tokens(args):
    """Log in as a technisch-beheerder (Action.CONFIG); the device's scrape tokens."""
    from firmware.governance.roles import Action
    from firmware.system.scrape import ScrapeTokens
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.CONFIG)
    return actor, ScrapeTokens(gov.accounts.db, gov.logbook)


def cmd_issue(args) -> int:
    from firmware.system.scrape import ScrapeTokenError
    actor, tokens = _tokens(args)
    try:
        token = tokens.issue(actor, args.name)
    except ScrapeTokenError as exc:
        raise CliError(str(exc)) from None
    print(f"scrape token for {args.name} (shown once; the device keeps only its hash):")
    print(token)
    print("Put it in Prometheus' scrape job as `authorization: {credentials: <token>}` "
          "(docs/operations.md); it opens /metrics and the reasons of /readyz, never footage.")
    return 0


def cmd_list(args) -> int:
    _, tokens = _tokens(args)
    rows = [{**r, "created": _iso(r["created"]), "revoked": _iso(r["revoked"])}
            for r in tokens.list()]
    _print(rows, args.json, "\n".join(
        f"{r['name']:32} {r['state']:8} made {r['created']} by {r['created_by']}"
        + (f", revoked {r['revoked']} by {r['revoked_by']}" if r["revoked"] else "")
        for r in rows) or "no scrape tokens")
    return 0


def cmd_revoke(args) -> int:
    from firmware.system.scrape import ScrapeTokenError
    actor, tokens = _tokens(args)
    try:
        n = tokens.revoke(actor, args.name)
    except ScrapeTokenError as exc:
        raise CliError(str(exc)) from None
    print(f"revoked {n} scrape token(s) of {args.name}: refused from the next scrape on")
    return 0


def add_parser(sub) -> None:
    tokens = _group(sub, "scrape-token", "tokens with which the central room's Prometheus "
                    "reads /metrics")
    c = _action(tokens, "issue", cmd_issue, "make a token for a scraper (shown once)",
                json=False)
    c.add_argument("name", help="the scraper, e.g. prometheus-centrale-ruimte")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    c = _action(tokens, "list", cmd_list, "every token made, with its state")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    c = _action(tokens, "revoke", cmd_revoke, "revoke the tokens of a scraper", json=False)
    c.add_argument("name")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
