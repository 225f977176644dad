"""Red team 14b: the one-time enrollment codes and /eerste-account (issue 14 item 2; R-10, R-11,
R-81), attacked as someone on the network, someone at the screen, and a technisch beheerder.

Real SQLite index and logbook, Flask's test client for the page (tests/test_web_enrollment.py's
helpers), and the real `firstboot.issue_codes` that `nvr firstboot` calls at every boot; the
full boot (a real `nvr firstboot` subprocess as root) where the console's text is the point.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from test_web_enrollment import GOOD, MANAGER, PAGE, TB, enrol, fresh, governance, text, wrong  # noqa: F401
from webutil import client, csrf_of

from firmware.config import load
from firmware.governance.accounts import SETUP_SECONDS
from firmware.governance.roles import Role
from firmware.system import firstboot

# --- a technisch beheerder, or anyone who can power-cycle the device and read its screen ------


def test_disabling_the_only_manager_does_not_reopen_manager_enrollment_at_the_next_boot_R10(
        fresh):  # noqa: F811
    """The first manager is made once, by its code. When the technisch beheerder disables the
    only manager, the next boot's `nvr firstboot` (awaits_enrollment: "no manager in force")
    issues a NEW manager code on the console and /eerste-account opens again to the public.
    Whoever reads the screen after a power cut (or the technisch beheerder alone: disable,
    reboot, read the code) then makes a manager of their own choosing, with no second pair of
    eyes: that manager approves the technisch beheerder's accounts (art. 2, art. 3.1).
    tests/test_web_enrollment.py's test_a_used_code_does_not_come_back_when_its_account_is_
    disabled_R10 proves only the web process before a reboot."""
    app, codes, config = fresh
    assert enrol(client(app), TB, codes[TB], "t.eerste").status_code == 302
    assert enrol(client(app), MANAGER, codes[MANAGER], "m.eerste").status_code == 302
    gov = governance(config)
    admin = gov.accounts.authenticate("t.eerste", GOOD).actor()
    # the only manager in force: only root on the device disables it (mgrrole, R-11)
    gov.accounts.disable("m.eerste", by=admin, reason="left the municipality in May",
                         as_root=True)
    gov.close()

    issued = firstboot.issue_codes(load(config))          # the next boot, as nvr firstboot does
    assert Role.MANAGER.value not in issued, \
        "a new manager enrollment code was issued after the first manager was disabled"
    assert client(app).get(PAGE).status_code == 404, \
        "/eerste-account is open again to the network after the first manager was disabled"


# --- the code's life -------------------------------------------------------------------------


def test_an_enrollment_code_does_not_outlive_a_setup_code(fresh):  # noqa: F811
    """A setup code is good for SETUP_SECONDS (three days); an enrollment code has no end at
    all: a device left unprovisioned on a shelf or in a ceiling keeps a code valid (and the
    page open to its network) for as long as it is not rebooted, months if need be. The
    `created` column is stored and never read.

    enrollfix: a code shown in this boot counts its life on the boot's own clock (its
    `uptime`, clock.boot_clock; red team 14c: the wall clock jumps when NTP sets it), so the
    code is made old on both clocks."""
    app, codes, config = fresh
    gov = governance(config)
    old = SETUP_SECONDS + 3600
    gov.accounts.db.execute("UPDATE enrollment_codes SET created = ?, uptime = uptime - ?",
                            (time.time() - old, old))
    gov.close()
    late = enrol(client(app), TB, codes[TB], "t.laat")
    gov = governance(config)
    try:
        assert gov.accounts.count() == 0, \
            f"a code issued more than {SETUP_SECONDS // 3600} h ago still made an account"
    finally:
        gov.close()
    assert late.status_code in (400, 404), text(late)


# --- anyone on the network -------------------------------------------------------------------


def test_strangers_wrong_codes_do_not_lock_the_holder_of_the_right_code_out_R81(
        fresh):  # noqa: F811
    """ALL_ADDRESSES wrong codes a minute from anywhere (four addresses suffice) and the
    technisch beheerder with the right code, from their own address, gets 429 for as long as
    the stranger keeps it up: a denial of the device's set-up (SSH is off; the page is the way
    in). The 72-bit code needs no global window to stay unguessable (docs/web.md counts it);
    the per-address window and governance's delay per address already bound each source.
    NOTE for the lead: tests/test_web_enrollment.py's
    test_wrong_codes_from_many_addresses_together_are_throttled_R81 asserts today's 429."""
    from firmware.web.enrollment import ALL_ADDRESSES, PER_ADDRESS
    app, codes, config = fresh
    for i in range(ALL_ADDRESSES):
        enrol(client(app), TB, wrong(codes[TB]), "x.vreemd", address=f"198.51.100.{i // PER_ADDRESS}")
    holder = enrol(client(app), TB, codes[TB], "t.eerste", address="192.0.2.10")
    assert holder.status_code == 302, "the holder of the right code was locked out by strangers"


def test_x_forwarded_for_does_not_give_a_new_window(fresh):  # noqa: F811
    """A guard (passes today): the windows count the socket's address, not a header."""
    from firmware.web.enrollment import PER_ADDRESS
    app, codes, _ = fresh
    c = client(app)
    for i in range(PER_ADDRESS):
        c.post(PAGE, data={"role": TB, "code": wrong(codes[TB]), "name": "x.vreemd",
                           "password": GOOD, "password2": GOOD,
                           "csrf": csrf_of(c)},
               headers={"X-Forwarded-For": f"10.0.0.{i}", "X-Real-IP": f"10.0.1.{i}"},
               environ_base={"REMOTE_ADDR": "192.0.2.50"})
    locked = c.post(PAGE, data={"role": TB, "code": codes[TB], "name": "x.vreemd",
                                "password": GOOD, "password2": GOOD,
                                "csrf": csrf_of(c)},
                    headers={"X-Forwarded-For": "10.9.9.9"},
                    environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert locked.status_code == 429


# --- the console: the code must not be sent to the journal by the command it suggests ---------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a real `nvr firstboot` on a test root")
def test_the_console_does_not_tell_to_type_the_code_into_a_sudo_command_line():
    """The console says: `sudo nvr-admin user add NAAM --role ... --enrollment-code CODE`.
    sudo logs every command line it runs (COMMAND=... to syslog, which the journal keeps), and
    the code sits in /proc/PID/cmdline, readable by every local user, for as long as `nvr user
    add` waits at its password prompt. When that run fails (a name taken, a password the policy
    refuses, Ctrl-C at the prompt) the code is NOT used up and stays valid, now in the journal:
    against docs/provisioning.md "Never to stdout or stderr (the journal would keep them)"."""
    from test_firstboot import CODE, Device, _new_root
    root = _new_root()
    try:
        device = Device(root)
        _done, _host, shown = device.firstboot()
        assert CODE.findall(shown), shown
        on_a_command_line = [line for line in shown.splitlines()
                             if "nvr-admin" in line and CODE.search(line)]
        assert not on_a_command_line, on_a_command_line
    finally:
        shutil.rmtree(root)
