"""Who reads a hold's reason and reference (R-11's holds column; red team 14c, adminfix).

A hold's reason names an incident and often the people in it, its reference a request. The web's
Holds page and `nvr hold list` ask one rule (Governance.holds, R-11 Action.HOLD), so the command
line that `sudo nvr-admin` gives the technisch beheerder shows them no more than the web does.
Real `nvr` subprocesses and the real Flask app on one device with an account per role.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta

from conftest import PASSWORD, nvr
from test_store import now_utc
from webutil import ROLE_USERS, login

from firmware.config import load
from firmware.governance.roles import Role

REASON = "aangifte fietsdiefstal, gemeld door buurman P. Bakker"


def test_the_cli_and_the_web_show_holds_to_the_same_roles_only_the_beheerder_R11(site):
    app, config = site
    env = {"NVR_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
    start = now_utc() - timedelta(minutes=30)
    made = nvr("--config", str(config), "hold", "add", "--camera", "cam", "--start",
               start.isoformat(), "--end", (start + timedelta(minutes=20)).isoformat(),
               "--reason", REASON, "--reference", "PV-2026-0042", "--user", "b.beheerder",
               env=env)
    assert made.returncode == 0, made.stderr
    cli, web = {}, {}
    for role, name in ROLE_USERS.items():
        listed = nvr("--config", str(config), "hold", "list", "--json", "--user", name, env=env)
        cli[role] = listed.returncode == 0
        if cli[role]:
            assert REASON in json.dumps(json.loads(listed.stdout)), listed.stdout
        else:
            assert listed.returncode == 1 and re.search(r"R-1[12]", listed.stderr), listed.stderr
            assert REASON not in listed.stdout + listed.stderr
        page = login(app, name).get("/api/holds")
        web[role] = page.status_code == 200
        assert web[role] or page.status_code == 403, (name, page.status_code)
    assert cli == web, (cli, web)
    assert {role for role, ok in cli.items() if ok} == {Role.BEHEERDER}
    db = sqlite3.connect(load(config).storage.data_dir / "index.sqlite3")
    try:
        refused = {r[0] for r in db.execute(
            "SELECT actor FROM logbook WHERE book = 'usage' AND action = 'refused' AND "
            "subject = 'hold'")}
    finally:
        db.close()
    assert ROLE_USERS[Role.TECHNICAL] in refused              # logged, R-50


def test_hold_list_without_an_account_says_what_to_give(site):
    _app, config = site
    listed = nvr("--config", str(config), "hold", "list", "--json")
    assert listed.returncode == 1 and "--user NAME" in listed.stderr, listed.stderr
    assert listed.stdout == ""
