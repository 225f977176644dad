"""An enrollment code's three days on a clock that can be trusted (R-10; red team 14c, clock).

The first boot issues the codes before NTP has set the clock. A code shown in this boot counts
its life on the boot's own clock (clock.boot_clock: /proc/uptime, which no setting of the time
moves): tests/test_redteam14c_clock.py proves that with real `nvr firstboot` under faketime. A
code from another boot has only the wall clock; these tests prove what happens then, on real
SQLite, with the clock's state from the seam NVR_TIMEDATECTL (a script answering yes or no) and
another boot from the seam NVR_SYSTEM_ROOT/proc/sys/kernel/random/boot_id."""

from __future__ import annotations

import time

import pytest
from conftest import write_config

from firmware.config import load
from firmware.governance.accounts import SETUP_SECONDS
from firmware.governance.roles import Role
from firmware.governance.service import Governance
from firmware.storage.keys import FileKeyProvider

DAY = 86400


@pytest.fixture
def gov(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    FileKeyProvider(tmp_path / "keys").create()
    for answer in ("yes", "no"):
        script = tmp_path / f"timedatectl-{answer}"
        script.write_text(f"#!/bin/sh\necho {answer}\n")
        script.chmod(0o755)
    opened = Governance.open(load(config))
    yield opened
    opened.close()


def _clock(monkeypatch, tmp_path, synchronised: bool) -> None:
    monkeypatch.setenv("NVR_TIMEDATECTL",
                       str(tmp_path / f"timedatectl-{'yes' if synchronised else 'no'}"))


def _another_boot(monkeypatch, tmp_path, uptime: float | None = None) -> None:
    proc = tmp_path / "root" / "proc"
    (proc / "sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (proc / "sys/kernel/random/boot_id").write_text("another-boot\n")
    if uptime is not None:
        (proc / "uptime").write_text(f"{uptime:.2f} 0.00\n")
    monkeypatch.setenv("NVR_SYSTEM_ROOT", str(tmp_path / "root"))


def _row(gov):
    return gov.accounts.db.execute("SELECT created, synced, boot, uptime FROM enrollment_codes "
                                   "WHERE role = ?", (Role.TECHNICAL.value,)).fetchone()


def _real_uptime() -> float:
    with open("/proc/uptime") as fh:
        return float(fh.read().split()[0])


def test_a_code_of_another_boot_issued_unsynchronised_is_dated_at_the_first_synced_check_R10(
        gov, monkeypatch, tmp_path):
    _clock(monkeypatch, tmp_path, synchronised=False)
    gov.accounts.issue_enrollment_code(Role.TECHNICAL)
    assert _row(gov)["synced"] == 0
    gov.accounts.db.execute("UPDATE enrollment_codes SET created = ?",   # the image's clock
                            (time.time() - 30 * DAY,))
    _another_boot(monkeypatch, tmp_path)
    assert gov.accounts.enrollable() == (), "30 days old by the only clock there is"

    _clock(monkeypatch, tmp_path, synchronised=True)
    assert gov.accounts.enrollable() == (Role.TECHNICAL,)
    row = _row(gov)
    assert abs(row["created"] - time.time()) < 60 and row["synced"] == 1
    assert row["boot"] == "another-boot"                  # from now on, this boot's clock
    _another_boot(monkeypatch, tmp_path, uptime=row["uptime"] + SETUP_SECONDS - 60)
    assert gov.accounts.enrollable() == (Role.TECHNICAL,)
    _another_boot(monkeypatch, tmp_path, uptime=row["uptime"] + SETUP_SECONDS + 60)
    assert gov.accounts.enrollable() == (), "three days after it was dated, the code is done"


def test_a_date_in_the_future_is_moved_to_now_under_a_synchronised_clock_only_R10(
        gov, monkeypatch, tmp_path):
    _clock(monkeypatch, tmp_path, synchronised=True)
    gov.accounts.issue_enrollment_code(Role.TECHNICAL)
    gov.accounts.db.execute("UPDATE enrollment_codes SET created = ?",   # a clock ahead then
                            (time.time() + 30 * DAY,))
    _another_boot(monkeypatch, tmp_path)
    _clock(monkeypatch, tmp_path, synchronised=False)
    assert gov.accounts.enrollable() == (), "a future date on an unsynchronised clock is no date"
    assert _row(gov)["created"] > time.time() + 29 * DAY            # and not moved

    _clock(monkeypatch, tmp_path, synchronised=True)
    assert gov.accounts.enrollable() == (Role.TECHNICAL,)
    assert abs(_row(gov)["created"] - time.time()) < 60


def test_a_code_of_this_boot_counts_on_the_boots_clock_whatever_the_wall_clock_says_R10(
        gov, monkeypatch, tmp_path):
    _clock(monkeypatch, tmp_path, synchronised=False)
    gov.accounts.issue_enrollment_code(Role.TECHNICAL)
    gov.accounts.db.execute("UPDATE enrollment_codes SET created = ?", (time.time() - 30 * DAY,))
    assert gov.accounts.enrollable() == (Role.TECHNICAL,)
    gov.accounts.db.execute("UPDATE enrollment_codes SET created = ?", (time.time() + 30 * DAY,))
    assert gov.accounts.enrollable() == (Role.TECHNICAL,)
    monkeypatch.setenv("NVR_SYSTEM_ROOT", str(tmp_path / "root"))    # same boot id, 3 days on
    (tmp_path / "root/proc").mkdir(parents=True)
    (tmp_path / "root/proc/uptime").write_text(f"{_real_uptime() + SETUP_SECONDS + 60} 0\n")
    assert gov.accounts.enrollable() == ()


def test_the_page_says_the_code_expired_not_that_accounts_exist_R10(tmp_path):
    """An expired code on a device without any account: the 404 says the true reason (restart
    for a new code), never that the first accounts exist (red team 14c)."""
    from webutil import client

    from firmware.web import create_app
    config = write_config(tmp_path)
    opened = Governance.open(load(config))
    opened.accounts.issue_enrollment_code(Role.TECHNICAL)
    old = SETUP_SECONDS + 60
    opened.accounts.db.execute("UPDATE enrollment_codes SET created = ?, uptime = uptime - ?",
                               (time.time() - old, old))
    opened.close()
    app = create_app(load(config))
    app.config["TESTING"] = True
    page = client(app).get("/eerste-account")
    said = page.get_data(as_text=True)
    assert page.status_code == 404
    assert "Start het apparaat opnieuw" in said and "technisch beheerder" in said, said
    assert "bestaan al" not in said and "al ingericht" not in said, said
