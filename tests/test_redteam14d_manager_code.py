"""Red team 14d: the technisch beheerder alone re-opens the first manager's enrollment code by
changing the role of a manager that root made (no code was ever used for it).

governance/accounts.py `_manager_ever` (what `awaits_enrollment(MANAGER)` and so `nvr
firstboot`'s code issuing and the web's /eerste-account ask) counts "a manager account in any
state, or the manager's enrollment code ever used". A manager made by root without a code
(`nvr user add NAME --role manager-bedrijfsvoering` as root: allowed while the role awaits its
code, and the documented recovery of docs/provisioning.md "When the only manager is gone")
leaves no used code. `set_role` needs only Action.USERS (the technisch beheerder), has no
"only manager in force" check (issue_reset_code has one) and turns that manager into any other
role. Then no account has the role manager and no manager code was used: the device awaits its
"first" manager again; the next boot's console shows a new manager code to whoever stands at it
(the technisch beheerder who installs and reboots the device: `sudo nvr-admin reboot-trial`),
who makes a manager of their own, approves a second account of their own: four eyes gone
(art. 2, art. 3 lid 1, R-11). Severity: medium (needs a manager that root made; then the
technisch beheerder alone, logged only as a role change).

Real Governance on a real index; the question asked is the one firstboot and the web ask.
Suggested fix: record "a manager was ever in force" durably (a row/flag set at every manager
creation and approval, never cleared), and refuse set_role/disable of the only manager in force
as issue_reset_code does."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, write_config

from firmware.config import load
from firmware.governance.roles import Role
from firmware.governance.service import Governance
from firmware.storage.keys import FileKeyProvider


def test_a_role_change_by_the_technisch_beheerder_never_reopens_the_managers_code_R11(tmp_path):
    config = write_config(tmp_path)
    FileKeyProvider(tmp_path / "keys").create()
    gov = Governance.open(load(config))
    try:
        gov.accounts.add("t.admin", Role.TECHNICAL, PASSWORD, as_root=True)
        gov.accounts.add("m.manager", Role.MANAGER, PASSWORD, as_root=True)   # root, no code
        assert not gov.accounts.awaits_enrollment(Role.MANAGER)
        admin = gov.login("t.admin", PASSWORD)
        try:
            gov.accounts.set_role("m.manager", Role.BEHEERDER, by=admin)
        except Exception as refused:        # refusing to demote the only manager also holds
            assert "manager" in str(refused)
            return
        assert not gov.accounts.awaits_enrollment(Role.MANAGER), (
            "after the technisch beheerder changed the only manager's role, the device awaits "
            "its first manager again: the next boot shows a manager code on the console")
    finally:
        gov.close()
