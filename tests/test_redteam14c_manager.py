"""Red team 14c: on the image, a password reset of the only manager bedrijfsvoering leaves the
device without a manager for good.

A reset puts every account but a technisch beheerder's back to "awaits approval" (accounts.py
`reset_password`: the technisch beheerder held the code), and only another manager approves.
With one manager (the usual device: the first boot enrols one) the way back is, in
docs/provisioning.md and tests/test_accounts.py, "only root on the device (no code) may make
one". On the image nobody is root: root has no password and no SSH login, `beheer` may run
`sudo nvr-admin` and nothing else (image/README.md, "SSH"), nvr-admin runs `user add` as
nvr-web, and the console's manager enrollment code comes only while no manager ever existed
(red team 14b). So after the manager forgets a password and the technisch beheerder does
what the firmware says (`nvr-admin user reset-code`), the device never again has a manager in
force: no account of a footage role is approved again, no reset of a beheerder or DPO comes
back into force, no role changes (art. 2, art. 3 lid 1), and no documented step helps short
of opening the case and editing the card. The same end is reached on a new device when the
technisch beheerder makes the manager's account the ordinary way before the manager enrolled
(second test): the manager's code is void from then on.

Real `nvr firstboot` as root on a device layout (tests/test_firstboot.py), then every step as
nvr-web, which is what `sudo nvr-admin` runs for the technisch beheerder."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from test_firstboot import Device, _new_root, codes_in

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: nvr firstboot is root's")

PW = "Kwartel vijfenveertig langs de Eem"
NEW = "Reiger zevenendertig boven de Grift"


@pytest.fixture
def device():
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def _codes(device: Device) -> list[str]:
    _done, _host, shown = device.firstboot()
    return codes_in(shown)


def test_the_only_manager_forgetting_a_password_does_not_leave_the_device_without_one_R11(
        device):
    """MEDIUM (availability of four eyes; HIGH for a municipality with one device and one
    manager). Expected once fixed, one of: resetting the only manager in force is refused
    with what to do (enrol a second manager first; hardware.md/provisioning.md say to keep
    two), or the image offers a documented way back that the technisch beheerder alone
    cannot use to become manager."""
    technical, manager = _codes(device)
    pw = {"NVR_NEW_PASSWORD": PW}
    assert device.nvr("nvr-web", "user", "add", "t.admin", "--role", "technisch-beheerder",
                      "--enrollment-code", technical, env=pw).returncode == 0
    made = device.nvr("nvr-web", "user", "add", "m.manager", "--role",
                      "manager-bedrijfsvoering", "--enrollment-code", manager, env=pw)
    assert made.returncode == 0, made.stderr

    issued = device.nvr("nvr-web", "user", "reset-code", "m.manager", "--user", "t.admin",
                        env={"NVR_PASSWORD": PW})
    if issued.returncode != 0:                     # a fix that refuses: it must say why
        assert "manager" in issued.stderr, issued.stderr
        return
    code = re.search(r"one-time reset code for m\.manager: (\S+)", issued.stdout).group(1)
    done = device.nvr("nvr-web", "user", "reset", "m.manager", "--code", code,
                      env={"NVR_NEW_PASSWORD": NEW})
    assert done.returncode == 0, done.stderr       # the owner chose a new password

    later = _codes(device)                          # a reboot: anything on the console?
    in_force = device.nvr("nvr-web", "user", "pending", "--user", "m.manager",
                          env={"NVR_PASSWORD": NEW})
    accounts = device.nvr("nvr-web", "user", "list").stdout
    assert in_force.returncode == 0 or later, (
        "the only manager awaits approval after the reset, no other manager can approve, no "
        "code is shown at the next boot and nobody is root on the image: the device has no "
        f"manager in force for good.\nuser list:\n{accounts}\nlogin: {in_force.stderr.strip()}")


def test_a_manager_account_made_by_the_technisch_beheerder_does_not_void_the_managers_code_R11(
        device):
    """MEDIUM-HIGH (reached by an ordinary step, by mistake as easily as on purpose). The
    first boot showed both codes; the technisch beheerder enrols first (as the console says)
    and then makes the manager's account the way every later account is made (`nvr-admin
    user add NAME --role manager-bedrijfsvoering --user YOU`, or the page Gebruikers). That
    account awaits a manager's approval; `Accounts._manager_ever` counts it ("a manager
    account exists in any state"), so the manager's own enrollment code stops working (the
    page /eerste-account answers 404) and the next boot shows none. No manager is in force,
    nobody can approve the one waiting, and nobody is root on the image: the device never
    gets a manager. Expected once fixed: while a role awaits its enrollment, an account of
    that role is not made another way (refused with the way to go: the code), or a pending
    account does not count as a manager that ever existed."""
    technical, manager = _codes(device)
    pw = {"NVR_NEW_PASSWORD": PW}
    assert device.nvr("nvr-web", "user", "add", "t.admin", "--role", "technisch-beheerder",
                      "--enrollment-code", technical, env=pw).returncode == 0
    device.nvr("nvr-web", "user", "add", "m.manager", "--role", "manager-bedrijfsvoering",
               "--user", "t.admin", env={"NVR_PASSWORD": PW})
    own = device.nvr("nvr-web", "user", "add", "m.eigen", "--role", "manager-bedrijfsvoering",
                     "--enrollment-code", manager, env=pw)
    later = _codes(device)
    accounts = device.nvr("nvr-web", "user", "list").stdout
    assert own.returncode == 0 or later, (
        "the manager's enrollment code no longer works and the next boot shows none; no "
        f"manager is in force and none can be approved:\n{accounts}\n{own.stderr.strip()}")
