"""The work waiting for a role (issue 11 item 5): `nvr work`; the web's face is home.py."""

from __future__ import annotations

from firmware.cli.common import _action, _config, _governance, _login, _print, _store


def cmd_work(args) -> int:
    """The work waiting for --user's role, overdue first (governance/worklist.py)."""
    from firmware.governance.worklist import desk_for, work_for
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, None)
    items = [i.as_dict() for i in work_for(actor, desk_for(actor, cfg, _store(cfg),
                                                            gov.accounts.db))]
    text = "\n".join(("! " if i["overdue"] else "- ") + f"{i['text']}  [{i['link']}]"
                     for i in items) or "nothing waits for you"
    _print({"items": items}, args.json, text)
    return 0


def add_parser(sub) -> None:
    c = _action(sub, "work", cmd_work, "the work waiting for your role, overdue first "
                "(issue 11 item 5)")
    c.add_argument("--user", required=True)
