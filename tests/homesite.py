"""A device with work waiting for every role (issue 11 item 5), shared by tests/test_home.py and
tests/test_browser_home.py: an art. 10 request received ten days ago (overdue), a fresh one, an
approved one whose requester has not been identified, a registered art. 9 request whose officer
has not been identified, a hold whose footage turns 28 days old in two days, a storage alarm, an
account awaiting the manager's approval and an art. 12 question awaiting both advices."""

from __future__ import annotations

import time

from conftest import PASSWORD, recorded_site

from firmware.config import load
from firmware.governance.roles import Role
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore

DAY = 86400
ACCOUNTS = {"m.manager": Role.MANAGER, "d.dpo": Role.DPO, "g.secretaris":
            Role.EINDVERANTWOORDELIJKE}
# Names of requesters: the technisch beheerder may never read them.
OVERDUE, FRESH, APPROVED = "Jan Overdatum", "Piet Vers", "Anna Goedgekeurd"
POLICE = "Politie Eenheid Midden-Nederland"
PENDING = "n.nieuw"
QUESTION = "Mag de beheerder beelden tonen aan de verzekeraar zonder schriftelijk verzoek?"


def waiting_site(tmp) -> tuple:
    """recorded_site plus the waiting work above; returns (config path, {what: id})."""
    config = recorded_site(tmp, ACCOUNTS)
    cfg = load(config)
    gov = Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    login = lambda name: gov.login(name, PASSWORD)              # noqa: E731
    beheerder, officer, manager = login("b.beheerder"), login("p.officer"), login("m.manager")
    reqs = gov.requests(store)
    now = time.time()
    window = {"camera": "cam", "start": now - 3600, "end": now - 600}
    ids = {}
    art10 = {"requester_kind": "citizen", "motivation": "mijn fiets is beschadigd bij de "
             "ingang", **window}
    ids["fresh"] = reqs.add_article10(officer, requester=FRESH, received=now - 60,
                                      **art10)["id"]
    ids["overdue"] = reqs.add_article10(officer, requester=OVERDUE, received=now - 10 * DAY,
                                        **art10)["id"]
    ids["approved"] = reqs.add_article10(officer, requester=APPROVED, received=now - 120,
                                         **art10)["id"]
    reqs.decide(manager, ids["approved"], approve=True, reason="eigen beelden, gemotiveerd",
                weighing="alleen de aanvrager staat in beeld; niemand anders is herkenbaar")
    ids["art9"] = reqs.add_article9(beheerder, reference="PL0900-2026-4711", requester=POLICE,
                                    legal_basis="126nda", **window)["id"]
    lapse_start = now - 26 * DAY                     # its footage turns 28 days in 2 days
    ids["hold"] = gov.place_hold(beheerder, store, "cam", lapse_start, lapse_start + 3600,
                                 "vernieling fietsenstalling", "incident 2026-4")["id"]
    store.raise_alarm("storage-full", "test: the disk is full")
    admin = login("t.admin")
    code = gov.accounts.create(PENDING, Role.BEHEERDER, by=admin)
    gov.accounts.reset_password(PENDING, code, PASSWORD)          # awaits the manager
    ids["question"] = gov.decisions().open(beheerder, QUESTION)["id"]
    gov.close()
    return config, ids
