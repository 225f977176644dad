"""Governance: the R-11 role matrix, delegations, accounts, lockout, logbook tamper evidence."""

from __future__ import annotations

import os
import re
import statistics
import time

import pytest

from firmware.governance import db as gdb
from firmware.governance.accounts import (MAX_FAILURES, WRONG, AccountError, Accounts, AuthError,
                                          check_password)
from firmware.governance.logbook import DeviceSigner, Logbook
from firmware.governance.roles import Action, Actor, Delegation, Role, decide

from conftest import ROOT, new_account, nvr, write_config

# The requirement list the firmware implements, kept in the project (issue 10): the tests read
# this copy and fail, never skip, when it is missing.
REQUIREMENTS = ROOT / "docs" / "regulation" / "REQUIREMENTS.md"
SHARED_REQUIREMENTS = ROOT.parent / "shared" / "regulation" / "REQUIREMENTS.md"

# How the words in the cells of the R-11 table translate into actions. Who handles requests
# may read them; "read + verify" is both; the beheerder, who registers art. 9 requests, is also
# the one to whom visitors and approved requesters identify in person (R-11 visits, R-73).
CELLS = {
    "live view": {"yes": {Action.LIVE}},
    "playback": {"yes": {Action.PLAYBACK}},
    "export": {"yes": {Action.EXPORT}},
    "holds": {"yes": {Action.HOLD}, "request": {Action.HOLD_REQUEST}},
    "requests": {"register art. 9": {Action.REQUEST_ART9, Action.REQUEST_READ,
                                     Action.IDENTIFY},
                 "art. 10 intake": {Action.REQUEST_INTAKE, Action.REQUEST_READ},
                 "decide": {Action.REQUEST_DECIDE, Action.REQUEST_READ},
                 "read": {Action.REQUEST_READ}},
    "logbook": {"read": {Action.LOGBOOK_READ},
                "read + verify": {Action.LOGBOOK_READ, Action.LOGBOOK_VERIFY}},
    "users/config": {"designees": {Action.DELEGATE},
                     "system config, users": {Action.CONFIG, Action.USERS}},
}
# Art. 12 (R-80) is not in the R-11 table: "Als er iets gebeurt waar deze regeling niets over
# zegt, beslist gemeentesecretaris/ algemeen directeur. Hij of zij doet dit na advies van de
# privacy officer en de functionaris gegevensbescherming." The role of the eindverantwoordelijke
# (art. 2) and these actions are stated here, not derived from the table, and kept in the one
# matrix test below; docs/governance.md says the same. Everyone with a task in the regulation
# (art. 3) may put a question and read the decisions; a designee has no standing rights.
OUTSIDE_TABLE_ROLES = {Role.EINDVERANTWOORDELIJKE}
ART12 = {
    Action.DECISION_OPEN: set(Role) - {Role.DESIGNEE},
    Action.DECISION_READ: set(Role) - {Role.DESIGNEE},
    Action.ADVISE_PRIVACY: {Role.PRIVACY_OFFICER},
    Action.ADVISE_FG: {Role.DPO},
    Action.DECISION_TAKE: {Role.EINDVERANTWOORDELIJKE},
    Action.DECISION_RECORD_FOR: {Role.MANAGER},          # art. 3 lid 1: delegated the task
}
ROLE_NAMES = {"beheerder": Role.BEHEERDER, "aangewezen persoon": Role.DESIGNEE,
              "technisch beheerder": Role.TECHNICAL, "privacy officer": Role.PRIVACY_OFFICER,
              "manager bedrijfsvoering": Role.MANAGER,
              "functionaris gegevensbescherming": Role.DPO}


def r11_table() -> dict[Role, dict[str, str]]:
    """The R-11 table as written in REQUIREMENTS.md: role -> column -> cell."""
    assert REQUIREMENTS.is_file(), f"{REQUIREMENTS} is missing: the project keeps its copy"
    lines = [ln for ln in REQUIREMENTS.read_text().splitlines() if ln.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip().strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.sub(r"\s*\(.*", "", cells[0])
        table[ROLE_NAMES[name]] = dict(zip(header[1:], cells[1:], strict=True))
    return table


def expected_rights(row: dict[str, str]) -> tuple[set[Action], bool]:
    """(actions the role has outright, whether footage comes only by delegation)."""
    rights: set[Action] = set()
    delegated = False
    for column, cell in row.items():
        if cell == "no":
            continue
        if cell == "as delegated":
            delegated = True
            continue
        assert cell in CELLS[column], f"unknown cell {cell!r} in column {column!r}"
        rights |= CELLS[column][cell]
    return rights, delegated


def test_the_projects_regulation_is_the_shared_one():
    """The copies in docs/regulation/ are the texts the firmware implements; when the shared
    originals change, this test says so, and the copy is updated on purpose."""
    shared = SHARED_REQUIREMENTS.parent
    if not shared.is_dir():
        pytest.skip(f"{shared} is not beside the project: nothing to compare the copy with")
    for name in ("REQUIREMENTS.md", "regeling-cameratoezicht-gemeentehuis-soest.txt"):
        assert (REQUIREMENTS.parent / name).read_bytes() == (shared / name).read_bytes(), name


def test_r11_table_is_read_completely():
    table = r11_table()
    assert set(table) == set(Role) - OUTSIDE_TABLE_ROLES
    assert all(len(row) == 7 for row in table.values())


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_action_matrix_follows_the_R11_table_and_art12(role, action):
    if action in ART12:
        expected, delegated = role in ART12[action], role is Role.DESIGNEE
    elif role in OUTSIDE_TABLE_ROLES:
        expected, delegated = False, False          # the eindverantwoordelijke: art. 12 only
    else:
        rights, delegated = expected_rights(r11_table()[role])
        expected = action in rights
    decision = decide(Actor("someone", role), action, camera="entree")
    assert bool(decision) == expected, decision.reason
    assert ("R-11" in decision.reason) or delegated


NOW = 1_800_000_000.0


def designee(*delegations: Delegation) -> Actor:
    return Actor("a.designee", Role.DESIGNEE, tuple(delegations))


def delegation(**kw) -> Delegation:
    base = dict(grantee="a.designee", actions=frozenset({Action.PLAYBACK}),
                cameras=frozenset({"entree"}), reason="vacation of the beheerder",
                expires=NOW + 3600)
    base.update(kw)
    return Delegation(**base)


def test_designee_gets_exactly_what_is_delegated_R12():
    actor = designee(delegation())
    assert decide(actor, Action.PLAYBACK, camera="entree", now=NOW)
    assert not decide(actor, Action.PLAYBACK, camera="hal", now=NOW)
    assert not decide(actor, Action.LIVE, camera="entree", now=NOW)
    assert not decide(actor, Action.EXPORT, camera="entree", now=NOW)


def test_expired_and_revoked_delegations_grant_nothing_R12():
    assert not decide(designee(delegation(expires=NOW - 1)), Action.PLAYBACK, camera="entree",
                      now=NOW)
    assert not decide(designee(delegation(revoked=True)), Action.PLAYBACK, camera="entree",
                      now=NOW)


def test_delegation_cannot_grant_more_than_footage_R12():
    actor = designee(delegation(actions=frozenset({Action.HOLD, Action.USERS})))
    assert not decide(actor, Action.HOLD, camera="entree", now=NOW)
    assert not decide(actor, Action.USERS, now=NOW)


def test_disabled_account_may_do_nothing():
    actor = Actor("b.beheerder", Role.BEHEERDER, disabled=True)
    assert not any(decide(actor, a) for a in Action)


# --- accounts ---------------------------------------------------------------------------

@pytest.fixture
def gov(tmp_path):
    conn = gdb.connect(tmp_path / "data")
    logbook = Logbook(conn, DeviceSigner(tmp_path / "keys"))
    return Accounts(conn, logbook, lambda: MASTER), logbook, conn


PW = "a long pass phrase 42"
MASTER = bytes(range(32))                   # a device master key for the account tests


def test_first_account_only_on_the_device_R10(gov):
    accounts, logbook, _ = gov
    with pytest.raises(AccountError, match="only be made on the device"):
        accounts.add("t.admin", Role.TECHNICAL, PW)
    code = accounts.issue_enrollment_code()
    with pytest.raises(AccountError, match="only be made on the device"):
        accounts.add("t.admin", Role.TECHNICAL, PW, enrollment_code="WRONG-CODE")
    with pytest.raises(AccountError, match="must be a technisch-beheerder"):
        accounts.add("b.beheerder", Role.BEHEERDER, PW, enrollment_code=code)
    accounts.add("t.admin", Role.TECHNICAL, PW, enrollment_code=code)
    with pytest.raises(AccountError, match="only a technisch-beheerder"):
        accounts.add("x.other", Role.TECHNICAL, PW, enrollment_code=code)   # used up
    admin = accounts.authenticate("t.admin", PW).actor()
    new_account(accounts, "b.beheerder", Role.BEHEERDER, admin)
    accounts.add("m.manager", Role.MANAGER, PW,
                 enrollment_code=accounts.issue_enrollment_code(Role.MANAGER))
    accounts.approve("b.beheerder", role=Role.BEHEERDER,
                     by=accounts.authenticate("m.manager", PW).actor())
    beheerder = accounts.authenticate("b.beheerder", PW).actor()
    with pytest.raises(AccountError, match="only a technisch-beheerder"):
        new_account(accounts, "c.other", Role.BEHEERDER, beheerder)
    assert [e["action"] for e in logbook.entries("usage")].count("user-add") == 3


@pytest.mark.parametrize("password,message", [
    ("short", "at least 12"), ("t.admin-and-more", "may not contain"),
    ("aaaaaaaaaaaaaaa", "too easy"), ("wachtwoord123", "too easy")])
def test_password_policy_R81(password, message):
    with pytest.raises(AccountError, match=message):
        check_password("t.admin", password)


def test_repeated_failures_make_that_source_wait_longer_and_are_logged_R81(gov):
    """No hard lock anyone could trigger: from THROTTLE_AFTER failures on, the same source
    waits a doubling delay for that name, answered like a wrong password (issue 9 item 11)."""
    accounts, logbook, _ = gov
    accounts.add("t.admin", Role.TECHNICAL, PW, as_root=True)
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError, match="wrong account name"):
            accounts.authenticate("t.admin", "not the password!", now=NOW, source="10.0.0.9")
    with pytest.raises(AuthError, match="^login refused: wrong account name"):
        accounts.authenticate("t.admin", PW, now=NOW + 10, source="10.0.0.9")   # must wait
    # Each refusal counts too: after 7 failures the wait is 120 s from the last.
    with pytest.raises(AuthError, match="^login refused: wrong account name"):
        accounts.authenticate("t.admin", PW, now=NOW + 60, source="10.0.0.9")
    assert accounts.authenticate("t.admin", PW, now=NOW + 60 + 121, source="10.0.0.9").name \
        == "t.admin"
    assert accounts.authenticate("t.admin", PW, now=NOW + 10, source="local").name == "t.admin"
    actions = [e["action"] for e in logbook.entries("usage")]
    assert actions.count("login-failed") == MAX_FAILURES + 2
    assert actions.count("login-throttled") == 2


def test_unknown_user_and_wrong_password_look_and_take_the_same(gov):
    accounts, _, _ = gov
    accounts.add("t.admin", Role.TECHNICAL, PW, as_root=True)
    timings = {"unknown": [], "wrong": []}
    messages = set()
    for i in range(24):
        for kind, name in (("unknown", f"nobody{i}"), ("wrong", "t.admin")):
            t = time.perf_counter()
            with pytest.raises(AuthError) as info:
                accounts.authenticate(name, "not the password!", now=NOW + i * 10_000)
            timings[kind].append(time.perf_counter() - t)
            messages.add(str(info.value))
    assert messages == {WRONG}
    unknown, wrong = statistics.median(timings["unknown"]), statistics.median(timings["wrong"])
    assert abs(unknown - wrong) / wrong < 0.25, (unknown, wrong)


def test_disabled_accounts_are_kept_and_refused(gov):
    accounts, _, _ = gov
    accounts.add("t.admin", Role.TECHNICAL, PW, as_root=True)
    admin = accounts.authenticate("t.admin", PW).actor()
    new_account(accounts, "p.officer", Role.PRIVACY_OFFICER, admin)
    accounts.disable("p.officer", by=admin, reason="uit dienst getreden")
    assert [u["name"] for u in accounts.list()] == ["p.officer", "t.admin"]
    with pytest.raises(AuthError, match="not in force"):     # the answer of every refusal
        accounts.authenticate("p.officer", PW)


# --- logbooks: tests/test_logbook.py -----------------------------------------


# --- through the command line ---------------------------------------------------------------

def test_cli_accounts_and_logbook_verify_by_role(tmp_path):
    config = write_config(tmp_path)
    env = {**os.environ, "NVR_NEW_PASSWORD": PW}
    assert nvr("--config", str(config), "user", "add", "t.admin", "--role",
               "technisch-beheerder", env=env).returncode == 0
    env["NVR_PASSWORD"] = PW
    result = nvr("--config", str(config), "user", "add", "d.dpo", "--role",
                 "functionaris-gegevensbescherming", "--user", "t.admin", env=env)
    assert result.returncode == 0, result.stderr
    code = re.search(r"one-time setup code for d\.dpo: (\S+)", result.stdout).group(1)
    assert nvr("--config", str(config), "user", "reset", "d.dpo", "--code", code,   # the owner
               env=env).returncode == 0
    assert nvr("--config", str(config), "user", "add", "m.manager", "--role",       # as root
               "manager-bedrijfsvoering", env=env).returncode == 0
    approved = nvr("--config", str(config), "user", "approve", "d.dpo", "--role",
                   "functionaris-gegevensbescherming", "--user", "m.manager", env=env)
    assert approved.returncode == 0, approved.stderr            # four eyes
    ok = nvr("--config", str(config), "logbook", "verify", "--user", "d.dpo", "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    refused = nvr("--config", str(config), "logbook", "verify", "--user", "t.admin", env=env)
    assert refused.returncode == 1
    assert "technisch-beheerder logbook-verify)" in refused.stderr
    wrong = nvr("--config", str(config), "logbook", "verify", "--user", "d.dpo",
                env={**env, "NVR_PASSWORD": "wrong password!!"})
    assert wrong.returncode == 1 and "wrong account name" in wrong.stderr
    listed = nvr("--config", str(config), "user", "list", "--json")
    assert [u["name"] for u in __import__("json").loads(listed.stdout)] == ["d.dpo", "m.manager",
                                                                          "t.admin"]


# --- requests (R-41, R-60, R-70..R-74) --------------------------------------------------------

from datetime import datetime, timedelta  # noqa: E402

from firmware.governance.requests import (AMSTERDAM, RequestError, Requests,  # noqa: E402
                                          decision_due)
from firmware.storage.holds import list_holds  # noqa: E402


@pytest.mark.parametrize("received,due", [
    ("2026-04-24 10:00", "2026-04-29"),   # Friday; Koningsdag Monday 27 April
    ("2026-04-01 16:30", "2026-04-07"),   # Wednesday; Good Friday (art. 3 lid 2 Atw), Easter Monday
    ("2026-04-02 09:00", "2026-04-08"),   # Thursday; Good Friday, weekend, Easter Monday
    ("2026-12-23 12:00", "2026-12-28"),   # Wednesday; Christmas Friday, Boxing Day Saturday
    ("2026-12-24 12:00", "2026-12-29"),   # Thursday before Christmas
    ("2026-05-04 12:00", "2026-05-07"),   # Monday; Liberation Day Tuesday 5 May
    ("2026-05-13 23:30", "2026-05-19"),   # Wednesday late; Ascension, Friday by decree (lid 3)
    ("2026-03-06 12:00", "2026-03-10"),   # an ordinary Friday
])
def test_decision_deadline_counts_dutch_working_days_R72(received, due):
    got = decision_due(datetime.fromisoformat(received).replace(tzinfo=AMSTERDAM))
    assert got.date().isoformat() == due
    assert (got.hour, got.minute) == (23, 59)


@pytest.fixture
def desk(tmp_path, gov):
    accounts, logbook, conn = gov
    from conftest import make_store
    store = make_store(tmp_path)
    accounts.add("t.admin", Role.TECHNICAL, PW, as_root=True)
    admin = accounts.authenticate("t.admin", PW).actor()
    people = {}
    accounts.add("m.manager", Role.MANAGER, PW,
                 enrollment_code=accounts.issue_enrollment_code(Role.MANAGER))
    manager = accounts.authenticate("m.manager", PW).actor()
    for name, role in (("b.beheerder", Role.BEHEERDER), ("p.officer", Role.PRIVACY_OFFICER),
                       ("d.dpo", Role.DPO)):
        new_account(accounts, name, role, admin)
        accounts.approve(name, role=role, by=manager)       # four eyes (art. 2, art. 3.1)
        people[name] = accounts.authenticate(name, PW).actor()
    people["m.manager"] = manager
    people["t.admin"] = admin
    return Requests(conn, logbook, store, clock=lambda: NOW), people, store, logbook


def art10(reqs, people, kind="citizen", received=NOW):
    return reqs.add_article10(people["p.officer"], requester="J. de Vries", requester_kind=kind,
                              motivation="my bicycle was stolen at the entrance",
                              received=received, camera="entree", start=NOW - 3600, end=NOW)


def test_lawyer_may_only_ask_through_the_prosecutor_R71(desk):
    reqs, people, _, logbook = desk
    with pytest.raises(RequestError, match="alleen via de officier van justitie"):
        reqs.add_article10(people["p.officer"], requester="J. de Vries", requester_kind="lawyer",
                           motivation="my client is suspected of the theft", received=NOW,
                           camera="entree", start=NOW - 3600, end=NOW,
                           acts_for="defence-of-suspect")
    assert reqs.list() == []
    assert logbook.entries("inzien")[-1]["action"] == "request-art10-refused-at-intake"


def test_only_the_roles_of_the_table_handle_requests_R11(desk):
    reqs, people, _, _ = desk
    with pytest.raises(RequestError, match="request-intake\\)"):
        reqs.add_article10(people["b.beheerder"], requester="x", requester_kind="citizen",
                           motivation="long enough motivation", received=NOW, camera="entree",
                           start=NOW - 10, end=NOW)
    req = art10(reqs, people)
    with pytest.raises(RequestError, match="request-decide\\)"):
        reqs.decide(people["p.officer"], req["id"], approve=True, reason="fine by me")
    with pytest.raises(RequestError, match="request-art9\\)"):
        reqs.add_article9(people["p.officer"], reference="PL-1", requester="Politie",
                          legal_basis="126nd", camera="entree", start=NOW - 10, end=NOW)


def test_refusal_releases_the_hold_R41(desk):
    reqs, people, store, logbook = desk
    req = art10(reqs, people)
    holds = {h["id"]: h for h in list_holds(store)}
    assert holds[req["hold_id"]]["released"] is None
    reqs.decide(people["m.manager"], req["id"], approve=False, reason="no legitimate interest")
    holds = {h["id"]: h for h in list_holds(store)}
    assert holds[req["hold_id"]]["released"] is not None
    actions = [e["action"] for e in logbook.entries("inzien")]
    assert actions == ["request-art10-intake", "request-refused"]


def test_identity_and_declaration_before_viewing_R73(desk):
    reqs, people, _, logbook = desk
    req = art10(reqs, people)
    ok, why = reqs.may_view(req["id"])
    assert not ok and why.startswith(f"verzoek {req['id']} is in behandeling, niet toegewezen")
    assert "artikel 10 lid 3, R-72" in why
    with pytest.raises(RequestError, match="alleen gecontroleerd bij een toegewezen verzoek"):
        reqs.record_identity(people["b.beheerder"], req["id"], document_type="paspoort",
                             last_digits="4567")
    reqs.decide(people["m.manager"], req["id"], approve=True, reason="victim of the theft",
                weighing="no one else in view of the bicycle stand")
    ok, why = reqs.may_view(req["id"])
    assert not ok and "identiteit" in why
    with pytest.raises(RequestError, match="identiteit .* dan pas de verklaring"):
        reqs.record_declaration(people["b.beheerder"], req["id"], "J. de Vries")
    with pytest.raises(RequestError, match="niet als vrije tekst"):      # art. 10 lid 4
        reqs.record_identity(people["b.beheerder"], req["id"], "passport NX1234567 checked")
    reqs.record_identity(people["b.beheerder"], req["id"], document_type="paspoort",
                         last_digits="4567")
    ok, why = reqs.may_view(req["id"])
    assert not ok and "verklaring nog niet ondertekend" in why
    reqs.record_declaration(people["b.beheerder"], req["id"], "J. de Vries")
    assert reqs.may_view(req["id"]) == (True, "ready")
    assert [e["action"] for e in logbook.entries("inzien")] == [
        "request-art10-intake", "request-weighing", "request-approved", "identity-checked",
        "declaration-signed"]


def test_overdue_requests_are_flagged_R72(desk):
    reqs, people, _, _ = desk
    friday = datetime(2026, 4, 24, 10, tzinfo=AMSTERDAM).timestamp()
    req = art10(reqs, people, received=friday)
    due = datetime(2026, 4, 29, 23, 59, 59, tzinfo=AMSTERDAM).timestamp()
    assert req["decision_due"] == due
    assert not reqs.show(req["id"], now=due - 1)["overdue"]
    assert reqs.show(req["id"], now=due + 1)["overdue"]


def test_article9_registers_holds_and_close_releases_R60(desk):
    reqs, people, store, logbook = desk
    req = reqs.add_article9(people["b.beheerder"], reference="PL0900-2026-77",
                            requester="Politie Midden-Nederland", legal_basis="126nd",
                            camera="entree", start=NOW - 600, end=NOW)
    assert req["status"] == "registered" and req["hold_id"]
    with pytest.raises(RequestError, match="126nd of art. 126nda"):
        reqs.add_article9(people["b.beheerder"], reference="x", requester="y",
                          legal_basis="art. 8", camera="entree", start=NOW - 1, end=NOW)
    reqs.close(people["b.beheerder"], req["id"], "footage handed over on USB")
    assert list_holds(store)[0]["released"] is not None
    assert logbook.verify().ok


def test_cli_request_workflow(tmp_path):
    import json as _json
    config = write_config(tmp_path)
    from conftest import staff
    env = staff(config)
    # Footage windows lie in the last 28 days (bounds): received ten days ago.
    received = datetime.fromtimestamp(time.time() - 10 * 86400, AMSTERDAM).replace(
        microsecond=0)
    window = ("--start", (received - timedelta(hours=2)).isoformat(),
              "--end", (received - timedelta(hours=1)).isoformat())
    add = nvr("--config", str(config), "request", "add", "--article", "10", "--requester",
              "J. de Vries", "--motivation", "my bicycle was stolen", "--received",
              received.isoformat(), "--camera", "cam", *window,
              "--user", "p.officer", "--json", env=env)
    assert add.returncode == 0, add.stderr
    req = _json.loads(add.stdout)
    assert req["decision_due"] == decision_due(received).isoformat() and req["overdue"]
    decided = nvr("--config", str(config), "request", "decide", str(req["id"]), "--approve",
                  "--reason", "victim of the theft", "--weighing",
                  "passers-by in view are blurred at the viewing", "--user", "m.manager",
                  "--json", env=env)
    assert decided.returncode == 0, decided.stderr
    assert _json.loads(decided.stdout)["status"] == "approved"
    lawyer = nvr("--config", str(config), "request", "add", "--article", "10", "--requester",
                 "Mr. X", "--requester-kind", "lawyer", "--motivation", "for my client",
                 "--received", received.isoformat(), "--camera", "cam", *window,
                 "--user", "p.officer", env=env)
    assert lawyer.returncode == 1 and "R-71" in lawyer.stderr
    listed = nvr("--config", str(config), "request", "list", "--json", "--user", "b.beheerder",
                 env=env)
    assert [r["status"] for r in _json.loads(listed.stdout)] == ["approved"]


# --- stored delegations and visits (R-11, R-12) ----------------------------------------------

from firmware.governance.delegation import GrantError, Grants  # noqa: E402


@pytest.fixture
def grants(desk):
    reqs, people, store, logbook = desk
    accounts = Accounts(reqs.db, logbook, lambda: MASTER)
    new_account(accounts, "a.designee", Role.DESIGNEE, people["t.admin"])
    accounts.approve("a.designee", role=Role.DESIGNEE, by=people["m.manager"])
    return Grants(reqs.db, logbook), people, accounts


def test_stored_delegation_is_loaded_at_login_and_revocable_R12(grants):
    g, people, accounts = grants
    did = g.delegate(people["b.beheerder"], "a.designee", Role.DESIGNEE, {Action.PLAYBACK},
                     {"entree"}, "holiday cover", time.time() + 3600)
    actor = g.with_delegations(accounts.authenticate("a.designee", PW).actor())
    assert decide(actor, Action.PLAYBACK, camera="entree")
    assert not decide(actor, Action.PLAYBACK, camera="hal")
    g.revoke(people["b.beheerder"], did, reason="vakantie voorbij")
    actor = g.with_delegations(accounts.authenticate("a.designee", PW).actor())
    assert not decide(actor, Action.PLAYBACK, camera="entree")


def test_only_the_beheerder_delegates_and_only_footage_to_designees_R12(grants):
    g, people, _ = grants
    with pytest.raises(GrantError, match="delegate\\)"):
        g.delegate(people["p.officer"], "a.designee", Role.DESIGNEE, {Action.LIVE}, {"entree"},
                   "because", time.time() + 60)
    with pytest.raises(GrantError, match="geen account met de rol aangewezen persoon"):
        g.delegate(people["b.beheerder"], "m.manager", Role.MANAGER, {Action.LIVE}, {"entree"},
                   "because", time.time() + 60)
    with pytest.raises(GrantError, match="alleen live kijken, terugkijken en/of exporteren"):
        g.delegate(people["b.beheerder"], "a.designee", Role.DESIGNEE, {Action.HOLD},
                   {"entree"}, "because", time.time() + 60)


def test_visit_is_limited_to_its_cameras_window_and_time_R11(grants):
    g, people, _ = grants
    t0 = time.time()
    vid = g.open_visit(people["b.beheerder"], visitor="agent K. Bakker",
                       organisation="politie", identity="dienstpas gecontroleerd",
                       legal_basis="126nd", reason="aangifte mishandeling", cameras={"entree"},
                       start=t0 - 3600, end=t0 - 1800, minutes=30)
    visit = g.visit_actor(vid)
    assert decide(visit, Action.LIVE, camera="entree")
    assert decide(visit, Action.PLAYBACK, camera="entree", at=t0 - 2000)
    assert not decide(visit, Action.PLAYBACK, camera="entree", at=t0 - 100)    # out of window
    assert not decide(visit, Action.PLAYBACK, camera="hal", at=t0 - 2000)
    assert not decide(visit, Action.EXPORT, camera="entree", at=t0 - 2000)     # via art. 9 only
    assert not decide(visit, Action.LIVE, camera="entree", now=t0 + 31 * 60)   # time box over
    g.close_visit(people["b.beheerder"], vid, reason="bezoekers vertrokken")
    assert not decide(g.visit_actor(vid), Action.LIVE, camera="entree")
    with pytest.raises(GrantError, match="126nd of 126nda"):
        g.open_visit(people["b.beheerder"], visitor="x", organisation="politie", identity="pas",
                     legal_basis="none", reason="reason", cameras={"entree"}, start=t0 - 10,
                     end=t0, minutes=10)
    with pytest.raises(GrantError, match="identify\\)"):
        g.open_visit(people["p.officer"], visitor="x", organisation="politie", identity="pas",
                     legal_basis="126nd", reason="reason", cameras={"entree"}, start=t0 - 10,
                     end=t0, minutes=10)


# --- second factor (R-81) -------------------------------------------------------------------

from firmware.governance import totp  # noqa: E402


def test_totp_matches_the_rfc6238_test_vector():
    secret = __import__("base64").b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59 // 30) == "287082"          # RFC 6238, T = 59 s (6 digits)
    assert totp.code_at(secret, 1111111109 // 30) == "081804"


def test_second_factor_is_required_once_enabled_and_codes_are_single_use_R81(gov):
    accounts, logbook, _ = gov
    accounts.add("t.admin", Role.TECHNICAL, PW, as_root=True)
    me = accounts.authenticate("t.admin", PW).actor()
    secret = accounts.enable_totp("t.admin", by=me, password=PW)
    with pytest.raises(AuthError, match="second-factor code"):
        accounts.authenticate("t.admin", PW, now=NOW)
    code = totp.code_at(secret, int(NOW // 30))
    assert accounts.authenticate("t.admin", PW, now=NOW, code=code).name == "t.admin"
    with pytest.raises(AuthError, match="second-factor code"):
        accounts.authenticate("t.admin", PW, now=NOW + 1, code=code)      # replayed
    with pytest.raises(AuthError):
        accounts.authenticate("t.admin", "wrong password!!", now=NOW + 60,
                              code=totp.code_at(secret, int((NOW + 60) // 30)))
    assert "totp-enabled" in [e["action"] for e in logbook.entries("usage")]


def test_second_factor_secrets_are_sealed_under_the_master_key_R81(gov):
    accounts, _, conn = gov
    accounts.add("t.admin", Role.TECHNICAL, PW, as_root=True)
    me = accounts.authenticate("t.admin", PW).actor()
    secret = accounts.enable_totp("t.admin", by=me, password=PW)
    stored = conn.execute("SELECT totp_secret FROM users").fetchone()[0]
    assert secret not in stored and stored.startswith("w1:")
    other = Accounts(conn, accounts.logbook, lambda: bytes(32))       # another master key
    with pytest.raises(AuthError, match="cannot be checked.*master key"):
        other.authenticate("t.admin", PW, now=NOW, code=totp.code_at(secret, int(NOW // 30)))


def test_export_needs_a_registered_art9_request_covering_it_R60(desk):
    reqs, people, _, logbook = desk
    art10_req = art10(reqs, people)
    with pytest.raises(RequestError, match="geen geregistreerd verzoek op grond van artikel 9"):
        reqs.authorize_export(people["b.beheerder"], art10_req["id"], "entree", NOW - 60, NOW)
    req = reqs.add_article9(people["b.beheerder"], reference="PL-9", requester="Politie",
                            legal_basis="126nda", camera="entree", start=NOW - 600, end=NOW)
    with pytest.raises(RequestError, match="valt buiten dat tijdvak"):
        reqs.authorize_export(people["b.beheerder"], req["id"], "entree", NOW - 900, NOW)
    with pytest.raises(RequestError, match="valt buiten dat tijdvak"):
        reqs.authorize_export(people["b.beheerder"], req["id"], "hal", NOW - 60, NOW)
    with pytest.raises(RequestError, match="privacy-officer export\\)"):
        reqs.authorize_export(people["p.officer"], req["id"], "entree", NOW - 60, NOW)
    with pytest.raises(RequestError, match=r"art\. 9 lid 3"):
        reqs.authorize_export(people["b.beheerder"], req["id"], "entree", NOW - 60, NOW)
    reqs.record_identity(people["b.beheerder"], req["id"], officer="agent J. Smit",
                         document_type="dienstpas", last_digits="123")
    reqs.record_declaration(people["b.beheerder"], req["id"], "agent J. Smit")
    assert reqs.authorize_export(people["b.beheerder"], req["id"], "entree", NOW - 60,
                                 NOW)["reference"] == "PL-9"
    assert logbook.entries("inzien")[-1]["action"] == "export-authorized"
    reqs.close(people["b.beheerder"], req["id"], "handed over")
    with pytest.raises(RequestError, match="geen geregistreerd verzoek op grond van artikel 9"):
        reqs.authorize_export(people["b.beheerder"], req["id"], "entree", NOW - 60, NOW)


def test_what_a_visit_sees_is_logged_under_the_visit_R11(grants):
    from types import SimpleNamespace

    from firmware.governance.access import AccessRefused, grant_footage
    g, people, _ = grants
    t0 = time.time()
    vid = g.open_visit(people["b.beheerder"], visitor="mr. A. Smit",
                       organisation="openbaar ministerie", identity="dienstpas gecontroleerd",
                       legal_basis="126nda", reason="onderzoek inbraak", cameras={"entree"},
                       start=t0 - 3600, end=t0, minutes=20)
    visit = g.visit_actor(vid)
    gov = SimpleNamespace(logbook=g.logbook)
    grant_footage(gov, visit, Action.PLAYBACK, camera="entree", purpose="incident",
                  reason="beelden van de inbraak bekijken", subject="camera entree")
    with pytest.raises(AccessRefused, match="outside the scope"):
        grant_footage(gov, visit, Action.PLAYBACK, camera="hal", purpose="incident",
                      reason="beelden van de inbraak bekijken", subject="camera hal")
    seen = [e for e in g.logbook.entries("inzien") if e["actor"].startswith(f"visit {vid}:")]
    assert [e["action"] for e in seen] == ["playback"]
    assert "openbaar ministerie" in seen[0]["actor"]
