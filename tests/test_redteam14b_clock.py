"""Red team 14b: time, and `nvr firstboot`'s TLS certificate (issue 14 item 2).

nvr-firstboot.service runs before time-sync.target (it is ordered after local-fs and
nvr-storage only): at the first boot of a Pi 4 (no RTC; the read-only root brings back the
image's fake-hwclock time at every boot) or a Pi 5 whose RTC was never set, the clock is the
image's build time or 1970, and the certificate is made for that time. It is kept forever
(firstboot makes only what is missing and checks only the names), so a certificate that is
already expired, or not yet valid, once the clock is right is never made again and never
reported: browsers refuse it, and the technisch beheerder learns nothing from the journal or
the screen. The same at day 826 (the certificate's 825 days), with no renewal and no warning.

Real `nvr firstboot` subprocesses; the wrong clock of the first boot is faketime's.
"""

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


def _firstboot(device: Device, *clock: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--uts", *clock, sys.executable, "-m", "firmware.cli",
                           "firstboot"], capture_output=True, text=True, env=device.env(),
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("first_clock", ["2020-01-01 00:00:00",     # RTC unset / old image time
                                         (dt.datetime.now() + dt.timedelta(days=1000))
                                         .strftime("%Y-%m-%d %H:%M:%S")],   # a clock far ahead
                         ids=["clock-behind", "clock-ahead"])
def test_a_certificate_made_under_a_wrong_clock_is_remade_or_reported(first_clock):
    root = _new_root()
    try:
        device = Device(root)
        assert _firstboot(device, "faketime", first_clock).returncode == 0
        before = device.console.stat().st_size
        nxt = _firstboot(device)                         # a later boot, the clock now right
        assert nxt.returncode == 0, nxt.stderr
        cert = x509.load_pem_x509_certificate((device.keys / "web-cert.pem").read_bytes())
        now = dt.datetime.now(dt.timezone.utc)
        valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        with device.console.open("rb") as fh:
            fh.seek(before)
            shown = fh.read().decode()
        told = [line for line in shown.splitlines()
                if line.startswith("Nog te doen") and "TLS" in line]
        assert valid or told, (
            f"the TLS certificate is valid {cert.not_valid_before_utc} .. "
            f"{cert.not_valid_after_utc}, not now ({now:%Y-%m-%d}); firstboot kept it and said "
            f"nothing:\n{nxt.stdout}")
    finally:
        shutil.rmtree(root)

