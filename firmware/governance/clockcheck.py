"""Erasing by a clock declared right by hand (R-40, R-50).

The retention sweep destroys no key by a clock that is far ahead of the index and not
synchronised (storage/retention.py, `clock_ahead`): the clock may have been moved forward, and a
destroyed key cannot be brought back. A person who has checked the time may declare it right
(`nvr retention run --clock-checked`), and the sweep then erases by it. Because that erasure is
irreversible and rests on that person's word alone, the usage logbook gets, before any key is
destroyed, who declared it, the clock read, the index's own time, whether the clock was
synchronised and the slots whose keys go. When the logbook does not take the entry, nothing is
erased.

Who may declare it: the clock is system configuration, the technisch beheerder's column of
R-11 (`DECLARE`); under `sudo nvr-admin` an account is required (systemd/nvr-admin). root's own
shell (the console) may declare it without an account: root holds the keys anyway, and the
entry names the operating-system account.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
from datetime import datetime, timezone

from firmware.governance.logbook import Logbook, LogbookError
from firmware.governance.roles import Action
from firmware.i18n import _
from firmware.storage.retention import SweepReport, sweep

DECLARE = Action.CONFIG          # system configuration (the technisch beheerder)
LOGGED = "retention-clock-checked"


class NotLogged(Exception):
    """The usage logbook did not take the declaration: nothing was erased."""


def os_account() -> str:
    """The operating-system account this process runs as, for an entry without a personal
    account (root's own shell, or nvr-admin there: nvr-recorder)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat()


def erase_by_declared_clock(logbook: Logbook, store, who: str, *,
                            account: bool) -> SweepReport:
    """One sweep by the clock as it reads, declared right by `who` (a personal account when
    `account`, else the operating-system account); logged before any key is destroyed."""
    def declare(facts: dict) -> None:
        try:
            logbook.append("usage", who, LOGGED, subject=f"{len(facts['slots'])} slot key(s)",
                           details={**facts, "clock": _iso(facts["clock"]),
                                    "index_time": _iso(facts["index_time"]),
                                    "personal_account": account})
        except (OSError, sqlite3.Error, LogbookError) as exc:
            raise NotLogged(_("the usage logbook did not take the declaration of the clock "
                              "(%(error)s): nothing was erased (R-40, R-50); check it with "
                              "`nvr logbook verify` and the key directory, then try again",
                              error=exc)) from exc
    return sweep(store, purge=True, clock_checked=True, logbook=logbook, declare=declare)
