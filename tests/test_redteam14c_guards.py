"""Red team 14c, guards: promises that held when attacked (they pass today).

nvr-admin lets a command of its `with_account` list through when `--user` is among the words
(`has_user`): `--user ''` is such a word. nvr itself must then refuse the empty account, or the
technisch beheerder reads requests, exports, logbooks and the worklist without a password."""

from __future__ import annotations

import pytest
from conftest import nvr, staff, write_config

LISTED = ["export list", "request list", "client list", "scrape-token list", "user pending",
          "logbook verify", "work", "delegation list", "visit list", "decision list",
          "request show 1"]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp("rt14c-guards"))
    staff(path)
    return path


@pytest.mark.parametrize("command", LISTED)
def test_an_empty_user_is_no_account_R10(config, command):
    done = nvr("--config", str(config), *command.split(), "--user", "",
               env={"PATH": "/usr/bin:/bin", "NVR_PASSWORD": ""})
    assert done.returncode != 0 and "needs --user NAME" in done.stderr, done.stdout
