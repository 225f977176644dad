"""Red team rtB for issue 11: "in Dutch, nothing lost by a click", as a new beheerder on a
laptop and a phone would try it.

- the commands `nvr user add` prints for the owner work as printed (`make run` does not
  activate the venv);
- the hold a request places carries Dutch words on the Dutch holds page and timeline;
- a refusal made on the command line (English there) is stored in the logbook in the logbook's
  language, so the DPO's Dutch logbook page does not show English;
- the issue's "done when", literally: a beheerder finds, plays and holds yesterday's incident
  in Dutch, on a laptop and at 375 px, through the pages and clicks a person uses, timed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from datetime import datetime, timedelta

import pytest
from conftest import PASSWORD, ROOT, nvr, recorded_site, staff
from webutil import ROLE_USERS, client, login

from firmware.config import load

ENGLISH = re.compile(r"\b(request of|request \d|may not do this|the role|is disabled|"
                     r"no current delegation|outside the scope)\b")


# --- the commands printed for the owner of a new account --------------------------------------

def test_user_add_prints_the_owners_commands_as_this_shell_runs_them(tmp_path):
    """`make run` leaves the venv unactivated and the configuration in var/dev: `nvr user add`
    printed `nvr user reset NAME --code CODE`, which finds no `nvr` and no configuration."""
    config = recorded_site(tmp_path, {})
    env = staff(config)
    made = nvr("--config", str(config), "user", "add", "n.nieuw", "--role", "beheerder",
               "--user", "t.admin", env=env)
    assert made.returncode == 0, made.stderr
    line = next(x for x in made.stdout.splitlines() if " user reset n.nieuw " in x)
    command = line.split("(or")[0].strip()
    run_env = {k: v for k, v in os.environ.items() if k not in ("NVR_CONFIG", "VIRTUAL_ENV")}
    run_env["PATH"] = "/usr/bin:/bin"                  # a shell without the venv activated
    run_env["NVR_NEW_PASSWORD"] = PASSWORD
    done = subprocess.run(command, shell=True, cwd=ROOT, env=run_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    approve = next(x for x in made.stdout.splitlines() if "user approve n.nieuw" in x)
    inner = re.search(r"\((.*user approve[^)]*)\)", approve).group(1)
    assert "--config" in inner and not inner.startswith("nvr "), inner


# --- Dutch words in what the rules store for a person to read -------------------------------

@pytest.fixture(scope="module")
def dutch_site(tmp_path_factory):
    from firmware.web import create_app
    config = recorded_site(tmp_path_factory.mktemp("rtB"),
                           {name: role for role, name in ROLE_USERS.items()})
    app = create_app(load(config))
    app.config["TESTING"] = True
    return app, config


def _text(response) -> str:
    return re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))


def test_a_requests_hold_is_described_in_dutch_on_the_holds_page(dutch_site):
    """Registering a request places a hold whose reason and reference were English ("art. 10
    request of J. de Vries", "request 1: ..."): shown as such on the Dutch holds page and as
    the title of the band on the timeline."""
    app, config = dutch_site
    from firmware.governance.service import Governance
    from firmware.storage.store import EncryptedStore
    cfg = load(config)
    gov = Governance.open(cfg)
    now = time.time()
    try:
        officer = gov.login("p.officer", PASSWORD)
        gov.requests(EncryptedStore.from_config(cfg)).add_article10(
            officer, requester="J. de Vries", requester_kind="citizen",
            motivation="mijn fiets is gestolen", received=now - 60, camera="cam",
            start=now - 25 * 60, end=now - 15 * 60)
    finally:
        gov.close()
    page = _text(login(app, "b.beheerder").get("/holds"))
    assert "J. de Vries" in page
    assert not ENGLISH.search(page), ENGLISH.findall(page)
    assert "verzoek" in page


def test_a_refusal_on_the_command_line_is_dutch_in_the_dpos_logbook(dutch_site):
    """The rules phrase a refusal in the language of whoever was refused: English for the
    technisch beheerder's terminal. The logbook stored that English text as the 'why', which
    the DPO then reads on the Dutch logbook page (and in its PDF): the logbook is a record for
    Dutch readers, so the refusal is stored in Dutch, whoever was refused where."""
    app, config = dutch_site
    env = {**os.environ, "NVR_PASSWORD": PASSWORD}
    env.pop("NVR_LANG", None)
    refused = nvr("--config", str(config), "hold", "add", "--camera", "cam", "--start",
                  (datetime.now().astimezone() - timedelta(minutes=30)).isoformat(timespec="seconds"),
                  "--end", datetime.now().astimezone().isoformat(timespec="seconds"), "--reason",
                  "proberen", "--reference", "x", "--user", "t.admin", env=env)
    assert refused.returncode == 1
    assert "may not" in refused.stderr                  # English in the terminal: fine
    page = _text(login(app, "d.dpo").get("/logbooks/usage"))
    assert "t.admin" in page
    assert not ENGLISH.search(page), ENGLISH.findall(page)
    assert "mag dit niet" in page
