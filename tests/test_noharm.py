"""No harm by one click (issue 11 item 4), the rules below the web: releasing a hold, closing a
request, disabling an account, revoking a delegation and ending a visit ask for a reason that
the logbook records; a request's hold goes only with the request; a disabled account can be
enabled again with four eyes; the last technisch beheerder stays."""

from __future__ import annotations

import time

import pytest

from firmware.governance.accounts import AccountError, Accounts
from firmware.governance.delegation import GrantError, Grants
from firmware.governance.requests import RequestError
from firmware.governance.roles import Action, Role
from firmware.governance.service import Governance
from firmware.governance.sessions import Sessions
from firmware.governance.undo import MIN_UNDO_REASON
from firmware.storage.holds import HoldError, list_holds

from conftest import new_account
from test_governance import MASTER, NOW, PW, desk, gov, grants  # noqa: F401 (fixtures)

WHY = "incident afgehandeld, zie mail van de privacy officer"


def _governance(reqs, logbook) -> Governance:
    return Governance(logbook, Accounts(reqs.db, logbook, lambda: MASTER),
                      Grants(reqs.db, logbook), Sessions(reqs.db))


def _last(logbook, book: str, action: str) -> dict:
    return [e for e in logbook.entries(book) if e["action"] == action][-1]


# --- a reason for every undoing step, in the logbook --------------------------------------------

def test_releasing_a_hold_asks_a_reason_and_logs_it_R41(desk):
    reqs, people, store, logbook = desk
    g = _governance(reqs, logbook)
    t0 = time.time()
    hold = g.place_hold(people["b.beheerder"], store, "entree", t0 - 600, t0 - 60,
                        "vechtpartij bij de ingang", "INC-7")
    for reason in ("", "  ", "ok", "\u200b\u200b\u200b\u200b\u200b\u200b"):
        with pytest.raises(HoldError, match=f"at least {MIN_UNDO_REASON} visible"):
            g.release_hold(people["b.beheerder"], store, hold["id"], reason=reason)
    assert list_holds(store)[0]["released"] is None           # nothing released
    g.release_hold(people["b.beheerder"], store, hold["id"], reason=WHY)
    entry = _last(logbook, "usage", "hold-release")
    assert entry["reason"] == WHY and entry["actor"] == "b.beheerder"


def test_a_hold_of_an_open_request_is_released_only_by_closing_the_request_R41_R74(desk):
    reqs, people, store, logbook = desk
    g = _governance(reqs, logbook)
    req = reqs.add_article9(people["b.beheerder"], reference="PL0900-2026-77",
                            requester="Politie Midden-Nederland", legal_basis="126nd",
                            camera="entree", start=NOW - 600, end=NOW)
    with pytest.raises(HoldError, match=f"request {req['id']}, which is not closed"):
        g.release_hold(people["b.beheerder"], store, req["hold_id"], reason=WHY)
    assert list_holds(store)[0]["released"] is None
    reqs.close(people["b.beheerder"], req["id"], "beelden overgedragen aan de politie")
    assert list_holds(store)[0]["released"] is not None       # closing released it
    assert _last(logbook, "inzien", "request-closed")["reason"] == \
        "beelden overgedragen aan de politie"


def test_closing_a_request_asks_a_reason_R74(desk):
    reqs, people, _, _ = desk
    req = reqs.add_article9(people["b.beheerder"], reference="PL-2", requester="Politie",
                            legal_basis="126nd", camera="entree", start=NOW - 600, end=NOW)
    with pytest.raises(RequestError, match=f"at least {MIN_UNDO_REASON} visible"):
        reqs.close(people["b.beheerder"], req["id"], "ok")
    assert reqs.show(req["id"])["status"] == "registered"


def test_revoking_a_delegation_asks_a_reason_and_logs_it_R12(grants):
    g, people, accounts = grants
    did = g.delegate(people["b.beheerder"], "a.designee", Role.DESIGNEE, {Action.PLAYBACK},
                     {"entree"}, "holiday cover", time.time() + 3600)
    with pytest.raises(GrantError, match="Revoking a delegation .R-12. asks for a reason"):
        g.revoke(people["b.beheerder"], did, reason="")
    assert g.list_delegations()[0]["revoked"] is None
    g.revoke(people["b.beheerder"], did, reason="vakantie voorbij")
    assert _last(g.logbook, "usage", "delegation-revoke")["reason"] == "vakantie voorbij"


def test_ending_a_visit_asks_a_reason_and_logs_it_art5_4(grants):
    g, people, _ = grants
    t0 = time.time()
    vid = g.open_visit(people["b.beheerder"], visitor="agent K. Bakker",
                       organisation="politie", identity="dienstpas gecontroleerd",
                       legal_basis="126nd", reason="aangifte mishandeling", cameras={"entree"},
                       start=t0 - 3600, end=t0 - 1800, minutes=30)
    with pytest.raises(GrantError, match="Ending a visit .art. 5 lid 4. asks for a reason"):
        g.close_visit(people["b.beheerder"], vid, reason="\t")
    assert not g.visit_actor(vid).visit.closed
    g.close_visit(people["b.beheerder"], vid, reason="bezoekers vertrokken")
    assert _last(g.logbook, "inzien", "visit-closed")["reason"] == "bezoekers vertrokken"


# --- accounts: disable with a reason, enable with four eyes, the last technisch beheerder ------

def test_disabling_an_account_asks_a_reason_and_logs_it_R10(desk):
    reqs, people, _, logbook = desk
    accounts = Accounts(reqs.db, logbook, lambda: MASTER)
    with pytest.raises(AccountError, match="Disabling an account .R-10. asks for a reason"):
        accounts.disable("b.beheerder", by=people["t.admin"], reason="weg")
    assert not accounts.get("b.beheerder").disabled
    accounts.disable("b.beheerder", by=people["t.admin"], reason="uit dienst per 1 december")
    assert accounts.get("b.beheerder").disabled
    assert _last(logbook, "usage", "user-disable")["reason"] == "uit dienst per 1 december"


def test_the_last_technisch_beheerder_is_never_disabled_R10(desk):
    reqs, people, _, logbook = desk
    accounts = Accounts(reqs.db, logbook, lambda: MASTER)
    with pytest.raises(AccountError, match="last technisch beheerder in force"):
        accounts.disable("t.admin", by=people["t.admin"], reason="ik vertrek vandaag")
    with pytest.raises(AccountError, match="last technisch beheerder in force"):
        accounts.set_role("t.admin", Role.BEHEERDER, by=people["t.admin"])
    assert not accounts.get("t.admin").disabled
    # with a second technisch beheerder in force, the first may go
    new_account(accounts, "t.tweede", Role.TECHNICAL, people["t.admin"], password=PW)
    accounts.disable("t.admin", by=people["t.admin"], reason="ik vertrek vandaag")
    assert accounts.get("t.admin").disabled
    second = accounts.authenticate("t.tweede", PW).actor()
    with pytest.raises(AccountError, match="last technisch beheerder in force"):
        accounts.disable("t.tweede", by=second, reason="per ongeluk geklikt")


def test_a_disabled_account_is_enabled_again_with_four_eyes_R10_art2(desk):
    reqs, people, _, logbook = desk
    accounts = Accounts(reqs.db, logbook, lambda: MASTER)
    accounts.disable("b.beheerder", by=people["t.admin"], reason="langdurig afwezig")
    with pytest.raises(AccountError, match="asks for a reason"):
        accounts.enable("b.beheerder", by=people["t.admin"], reason="")
    with pytest.raises(AccountError, match="only a technisch beheerder proposes"):
        accounts.enable("b.beheerder", by=people["m.manager"], reason="weer terug in dienst")
    accounts.enable("b.beheerder", by=people["t.admin"], reason="weer terug in dienst")
    user = accounts.get("b.beheerder")
    assert not user.disabled and user.pending                 # not in force yet
    assert user.actor().disabled
    assert _last(logbook, "usage", "user-enable")["reason"] == "weer terug in dienst"
    assert [u["name"] for u in accounts.pending()] == ["b.beheerder"]
    with pytest.raises(AccountError, match="only a manager-bedrijfsvoering approves"):
        accounts.approve("b.beheerder", role=Role.BEHEERDER, by=people["t.admin"])
    accounts.approve("b.beheerder", role=Role.BEHEERDER, by=people["m.manager"])
    assert not accounts.authenticate("b.beheerder", PW).actor().disabled
    with pytest.raises(AccountError, match="is not disabled"):
        accounts.enable("b.beheerder", by=people["t.admin"], reason="weer terug in dienst")


def test_a_technisch_beheerder_enabled_again_waits_for_the_manager_too_R10_art2(desk):
    reqs, people, _, logbook = desk
    accounts = Accounts(reqs.db, logbook, lambda: MASTER)
    new_account(accounts, "t.tweede", Role.TECHNICAL, people["t.admin"], password=PW)
    accounts.disable("t.tweede", by=people["t.admin"], reason="account gedeeld, fout")
    accounts.enable("t.tweede", by=people["t.admin"], reason="eigen account hersteld")
    assert accounts.get("t.tweede").pending
    assert accounts.get("t.tweede").actor().disabled
    accounts.approve("t.tweede", role=Role.TECHNICAL, by=people["m.manager"])
    assert not accounts.authenticate("t.tweede", PW).actor().disabled


# --- the command line: --reason required, the same rules ----------------------------------------

def test_cli_asks_a_reason_for_every_undoing_step_R41_R74_R10_R12(tmp_path):
    from datetime import datetime, timedelta

    from conftest import nvr, staff, write_config
    config = write_config(tmp_path)
    env = staff(config)
    run = lambda *args, user="b.beheerder": nvr("--config", str(config), *args,  # noqa: E731
                                                "--user", user, env=env)
    for args in (("hold", "release", "1"), ("request", "close", "1"),
                 ("user", "disable", "p.officer"), ("user", "enable", "p.officer"),
                 ("delegation", "revoke", "1"), ("visit", "close", "1")):
        refused = run(*args)
        assert refused.returncode == 2 and "--reason" in refused.stderr, (args, refused.stderr)
    now = datetime.now().astimezone()
    window = ("--start", (now - timedelta(minutes=20)).isoformat(timespec="seconds"),
              "--end", (now - timedelta(minutes=10)).isoformat(timespec="seconds"))
    added = run("request", "add", "--article", "9", "--reference", "PL-77", "--requester",
                "Politie", "--legal-basis", "126nd", "--camera", "cam", *window, "--json")
    assert added.returncode == 0, added.stderr
    import json
    req = json.loads(added.stdout)
    held = run("hold", "release", str(req["hold_id"]), "--reason", "niet meer nodig")
    assert held.returncode != 0 and f"request {req['id']}, which is not closed" in held.stderr
    closed = run("request", "close", str(req["id"]), "--reason", "beelden overgedragen")
    assert closed.returncode == 0, closed.stderr

    disabled = run("user", "disable", "p.officer", "--reason", "uit dienst", user="t.admin")
    assert disabled.returncode == 0, disabled.stderr
    last = run("user", "disable", "t.admin", "--reason", "ik vertrek", user="t.admin")
    assert last.returncode != 0 and "last technisch beheerder in force" in last.stderr
    enabled = run("user", "enable", "p.officer", "--reason", "terug in dienst", user="t.admin")
    assert enabled.returncode == 0 and "awaits" in enabled.stdout, enabled.stderr
    listed = json.loads(nvr("--config", str(config), "user", "list", "--json", env=env).stdout)
    officer = next(u for u in listed if u["name"] == "p.officer")
    assert officer["disabled"] is None and officer["pending"]
    approved = run("user", "approve", "p.officer", "--role", "privacy-officer", user="m.manager")
    assert approved.returncode == 0, approved.stderr
