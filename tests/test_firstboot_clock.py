"""`nvr firstboot` and a TLS certificate not valid at the clock's time (red team 14b, clock):
remade when the clock is synchronized, kept and named on the console when it is not (a Pi 4
starts every boot with a wrong clock: a good certificate must not be replaced at each).
Real `nvr firstboot` subprocesses as root; the wrong first clock is faketime's, the clock's
state the seam NVR_TIMEDATECTL of system/clock.py (a script answering yes or no)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest
from cryptography import x509

from conftest import ROOT
from test_firstboot import Device, _new_root

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: nvr firstboot is root's"),
    pytest.mark.skipif(shutil.which("faketime") is None,
                       reason="faketime is not installed: it gives the first boot its wrong clock"),
]


def _boot(device: Device, synchronized: str, *clock: str) -> tuple[int, str, str]:
    answer = device.root / f"timedatectl-{synchronized}"
    answer.write_text(f"#!/bin/sh\necho {synchronized}\n")
    answer.chmod(0o755)
    before = device.console.stat().st_size
    done = subprocess.run(["unshare", "--uts", *clock, sys.executable, "-m", "firmware.cli",
                           "firstboot"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=device.env(NVR_TIMEDATECTL=str(answer)))
    with device.console.open("rb") as fh:
        fh.seek(before)
        return done.returncode, done.stdout + done.stderr, fh.read().decode()


def _valid_now(device: Device) -> bool:
    cert = x509.load_pem_x509_certificate((device.keys / "web-cert.pem").read_bytes())
    return cert.not_valid_before_utc <= dt.datetime.now(dt.timezone.utc) <= \
        cert.not_valid_after_utc


@pytest.fixture
def device():
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def test_a_certificate_made_under_a_clock_behind_is_remade_once_the_clock_is_synchronized(
        device):
    assert _boot(device, "no", "faketime", "2020-01-01 00:00:00")[0] == 0
    old = (device.keys / "web-cert.pem").read_bytes()

    code, journal, shown = _boot(device, "no")                  # clock right, not synced yet
    assert code == 0 and (device.keys / "web-cert.pem").read_bytes() == old
    assert any(line.startswith("Nog te doen") and "TLS" in line and "timedatectl" in line
               for line in shown.splitlines()), shown
    assert "not synchronized" in journal

    code, journal, shown = _boot(device, "yes")                 # synchronized: made again
    assert code == 0 and _valid_now(device), journal
    assert (device.keys / "web-cert.pem.not-valid-now-1").read_bytes() == old   # kept aside
    assert "nieuw" in shown and "made again" in journal
    st = (device.keys / "web-cert.pem").stat()
    assert (st.st_uid, st.st_mode & 0o777) == (device.uid("nvr-web"), 0o640)

    now = (device.keys / "web-cert.pem").read_bytes()
    assert _boot(device, "no", "faketime", "2020-01-01 00:00:00")[0] == 0  # a Pi 4's start
    assert (device.keys / "web-cert.pem").read_bytes() == now, "a good certificate was replaced"
