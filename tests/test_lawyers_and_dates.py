"""Issue 10, items 3 and 8: art. 10 lid 2 (lawyers) and the dates of a request (R-71, R-72).

Art. 10 lid 2 of the regulation: "Een advocaat mag alleen via de officier van justitie een
verzoek doen als het om de verdediging van een verdachte gaat." Only that case is refused,
whatever kind the form says; a lawyer acting for anything else is taken in.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from webutil import api, login

from firmware.config import load
from firmware.governance.requests import AMSTERDAM, RequestError
from firmware.governance.service import Governance

from conftest import nvr, staff, write_config

DAY = 86400


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """A device with t.admin, m.manager, b.beheerder and p.officer; no footage is needed to
    take in a request (its window lies in the last 28 days)."""
    tmp = tmp_path_factory.mktemp("office")
    config = write_config(tmp)
    return config, staff(config)


def window(received: float) -> dict:
    return {"start": received - 2 * 3600, "end": received - 3600}


def intake(config, **kw):
    gov = Governance.open(load(config))
    try:
        officer = gov.login("p.officer", "a long pass phrase 42")
        received = kw.pop("received", time.time() - 60)
        fields = dict(requester="J. de Vries", requester_kind="citizen",
                      motivation="beelden van de ingang nodig", received=received,
                      camera="cam", **window(received))
        fields.update(kw)
        return gov.requests(_store(config)).add_article10(officer, **fields)
    finally:
        gov.close()


def _store(config):
    from firmware.storage.store import EncryptedStore
    return EncryptedStore.from_config(load(config))


def inzien(config) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [{**e, "details": json.loads(e["details"] or "{}")}
                for e in gov.logbook.entries("inzien")]
    finally:
        gov.close()


# --- art. 10 lid 2 --------------------------------------------------------------------------

@pytest.mark.parametrize("kind,fields", [
    ("lawyer", {}),
    ("other", {"requester": "mr. B. Jansen, ADVOCAAT"}),
    ("citizen", {"motivation": "ik ben de advocaât van de verdachte"}),
    ("company", {"requester": "Jansen Advocaten B.V."}),
    ("insurer", {"reference": "Lawyer ref. 2026/118"}),
])
def test_art10_lid2_lawyer_for_a_suspect_is_refused_whatever_kind_R71(office, kind, fields):
    config, _ = office
    with pytest.raises(RequestError, match="only through the public prosecutor"):
        intake(config, requester_kind=kind, acts_for="defence-of-suspect", **fields)
    last = inzien(config)[-1]
    assert last["action"] == "request-art10-refused-at-intake"
    assert last["details"]["acts_for"] == "defence-of-suspect"


def test_art10_lid2_a_lawyer_says_what_they_act_for_also_as_kind_other_R71(office):
    # Today's bug: the same lawyer registered as kind "other" is taken in without a question.
    config, _ = office
    with pytest.raises(RequestError, match="say what the lawyer acts for"):
        intake(config, requester_kind="other", requester="Mr. A. Advocaat")


@pytest.mark.parametrize("acts_for", ["victim", "civil-claim", "other"])
def test_art10_lid2_a_lawyer_for_anything_else_is_taken_in_R71(office, acts_for):
    config, _ = office
    row = intake(config, requester_kind="lawyer", requester="mr. C. de Wit, advocaat",
                 motivation="namens het slachtoffer van de mishandeling", acts_for=acts_for)
    assert row["status"] == "open" and row["acts_for"] == acts_for
    last = inzien(config)[-1]
    assert last["action"] == "request-art10-intake" and last["details"]["acts_for"] == acts_for


def test_art10_lid2_cli_asks_what_the_lawyer_acts_for_R71(office):
    config, env = office
    received = datetime.now(AMSTERDAM).replace(microsecond=0) - timedelta(minutes=5)
    common = ("--config", str(config), "request", "add", "--article", "10", "--requester",
              "mr. D. Smit (advocaat)", "--requester-kind", "other", "--motivation",
              "beelden van de ingang voor mijn cliënt", "--received", received.isoformat(),
              "--camera", "cam", "--start", (received - timedelta(hours=2)).isoformat(),
              "--end", (received - timedelta(hours=1)).isoformat(), "--user", "p.officer")
    refused = nvr(*common, "--acts-for", "defence-of-suspect", env=env)
    assert refused.returncode == 1 and "public prosecutor" in refused.stderr
    asked = nvr(*common, env=env)
    assert asked.returncode == 1 and "--acts-for" not in asked.stdout
    assert "say what the lawyer acts for" in asked.stderr
    taken = nvr(*common, "--acts-for", "victim", "--json", env=env)
    assert taken.returncode == 0, taken.stderr
    assert json.loads(taken.stdout)["acts_for"] == "victim"


def test_art10_lid2_web_form_and_api_R71(office):
    config, _ = office
    from firmware.web import create_app
    app = create_app(load(config))
    app.config["TESTING"] = True
    officer = login(app, "p.officer")
    page = officer.get("/requests").get_data(as_text=True)
    assert 'name="acts_for"' in page and "verdediging van een verdachte" in page
    now = datetime.now(AMSTERDAM).replace(tzinfo=None, microsecond=0)
    body = {"requester": "Advocatenkantoor De Wit", "requester_kind": "company",
            "motivation": "schade aan de auto van onze cliënt", "camera": "cam",
            "start": (now - timedelta(hours=2)).isoformat(),
            "end": (now - timedelta(hours=1)).isoformat()}
    refused = api(officer, "POST", "/api/requests/art10", {**body,
                                                          "acts_for": "defence-of-suspect"})
    assert refused.status_code == 400 and "art. 10 lid 2" in refused.get_json()["error"]
    assert "alleen via de officier van justitie" in refused.get_json()["error"]   # Dutch
    taken = api(officer, "POST", "/api/requests/art10", {**body, "acts_for": "civil-claim"})
    assert taken.status_code == 201, taken.get_json()
    shown = officer.get(f"/requests/{taken.get_json()['id']}").get_data(as_text=True)
    assert "Advocaat handelt voor" in shown and "een civiele vordering" in shown


# --- item 8: dates --------------------------------------------------------------------------

@pytest.mark.parametrize("article", [9, 10])
def test_item8_a_received_date_in_the_future_is_refused_cli_R72(office, article):
    config, env = office
    now = datetime.now(AMSTERDAM).replace(microsecond=0)
    tomorrow = now + timedelta(days=1)
    args = ["--config", str(config), "request", "add", "--article", str(article),
            "--requester", "Politie Midden-Nederland" if article == 9 else "J. de Vries",
            "--received", tomorrow.isoformat(), "--camera", "cam",
            "--start", (now - timedelta(hours=2)).isoformat(),
            "--end", (now - timedelta(hours=1)).isoformat()]
    if article == 9:
        args += ["--reference", "PL0900-2026-1", "--legal-basis", "126nd", "--user",
                 "b.beheerder"]
    else:
        args += ["--motivation", "mijn fiets is gestolen", "--user", "p.officer"]
    run = nvr(*args, env=env)
    assert run.returncode == 1 and "lies in the future" in run.stderr, run.stderr


def test_item8_a_received_date_in_the_future_is_refused_web_R72(office):
    config, _ = office
    from firmware.web import create_app
    app = create_app(load(config))
    app.config["TESTING"] = True
    now = datetime.now(AMSTERDAM).replace(tzinfo=None, microsecond=0)
    window_ = {"camera": "cam", "start": (now - timedelta(hours=2)).isoformat(),
               "end": (now - timedelta(hours=1)).isoformat()}
    officer = login(app, "p.officer")
    ahead = api(officer, "POST", "/api/requests/art10", {
        "requester": "J. de Vries", "requester_kind": "citizen",
        "motivation": "mijn fiets is gestolen", "received": (now + timedelta(days=1)).isoformat(),
        **window_})
    assert ahead.status_code == 400 and "ligt in de toekomst" in ahead.get_json()["error"]
    # Art. 9 in the web: the form has no date received; registering takes now, never ahead.
    beheerder = login(app, "b.beheerder")
    before = time.time()
    reg = api(beheerder, "POST", "/api/requests/art9", {
        "reference": "PL0900-2026-2", "requester": "Politie", "legal_basis": "126nd",
        **window_})
    assert reg.status_code == 201, reg.get_json()
    assert before - 1 <= reg.get_json()["received"] <= time.time()


def test_item8_a_decision_after_the_due_date_is_te_laat_never_op_tijd_R72(office):
    config, env = office
    late = intake(config, received=time.time() - 10 * DAY)           # due days ago
    in_time = intake(config, received=time.time() - 60)
    from firmware.web import create_app
    app = create_app(load(config))
    app.config["TESTING"] = True
    manager = login(app, "m.manager")
    assert "te laat: nog niet beslist" in manager.get(f"/requests/{late['id']}").get_data(
        as_text=True)
    assert ">loopt</td>" in manager.get(f"/requests/{in_time['id']}").get_data(as_text=True)
    for req, approve in ((late, "--approve"), (in_time, "--refuse")):
        run = nvr("--config", str(config), "request", "decide", str(req["id"]), approve,
                  "--reason", "afgewogen tegen de privacy van anderen", "--weighing",
                  "alleen de aanvrager is herkenbaar in beeld", "--user", "m.manager", env=env)
        assert run.returncode == 0, run.stderr
    shown = nvr("--config", str(config), "request", "show", str(late["id"]), "--user",
                "m.manager", env=env)
    assert "DECIDED LATE" in shown.stdout and "in time" not in shown.stdout
    listed = json.loads(nvr("--config", str(config), "request", "list", "--json", "--user",
                            "m.manager", env=env).stdout)
    flags = {r["id"]: r["decided_late"] for r in listed}
    assert flags[late["id"]] is True and flags[in_time["id"]] is False
    decided = [e for e in inzien(config) if e["subject"] == f"request {late['id']}"
               and e["action"] == "request-approved"]
    assert decided[0]["details"]["late"] is True
    page = manager.get(f"/requests/{late['id']}").get_data(as_text=True)
    assert "te laat beslist" in page and "op tijd" not in page
    assert "op tijd beslist" in manager.get(f"/requests/{in_time['id']}").get_data(as_text=True)
    rows = manager.get("/requests").get_data(as_text=True)
    assert "(te laat beslist)" in rows and "(op tijd beslist)" in rows
