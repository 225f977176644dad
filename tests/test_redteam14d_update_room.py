"""Red team 14d: the bundle copy's room is asked for the size the bundle HAD; a bundle file that
grows while it is copied fills the footage disk past the high-water mark (R-42).

firmware/system/update.py `_private_copy` takes `os.fstat(source).st_size` once, asks
shutil.disk_usage whether that many bytes stay below `high_water_percent` (the room check of
updfix), and then `shutil.copyfileobj`s the source until EOF. Under sudo the source is the
caller's own file on standard input (`sudo nvr-admin update check NAME --stdin < FILE`, a
command that needs NO password, docs/units.md). The caller passes the check with a small file
and, once the copy has started, makes it huge: `truncate -s 100G FILE` (sparse: instant, and
free on the overlay root's RAM-backed home). The copy then writes until the footage disk is
full. While it fills, the recorder's store erases the oldest unheld footage above its
high-water mark (days before the 28 promised, R-40/R-42) and, the disk at 100 %, stops storing
segments (ENOSPC: the watchdog keeps pinging by design, so nothing restarts either). `update
check` logs nothing; the technisch beheerder can repeat it. Severity: medium-high (footage
erased early and recording stopped by the technisch beheerder without a password or a trace).

Real `nvr update check --stdin` in a subprocess, a real (small tmpfs) data disk, a real
sparse file grown by truncate once the private copy exists.
Suggested fix: copy at most the st_size checked (read exactly that many bytes and refuse a
source that is longer at the end: fstat again / one more read returns data), or check the room
again per chunk and abort above the mark."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config

ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mounts a small data disk")


def test_a_bundle_growing_during_its_copy_never_takes_the_disk_over_high_water_R42(tmp_path):
    config = write_config(tmp_path, storage="high_water_percent = 50")
    data = tmp_path / "data"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", str(data)], check=True)
    try:
        (tmp_path / "ca.pem").write_text("not used: the copy comes before any check\n")
        conf = tmp_path / "system.conf"
        conf.write_text("[system]\ncompatible=nvr-test\n[keyring]\npath=ca.pem\n")
        bundle = tmp_path / "b.raucb"                  # the caller's own file
        with open(bundle, "wb") as f:
            f.write(b"\0" * (200 * MB))                # 200 MB: below the 256 MB mark, passes
        env = {**os.environ, "NVR_RAUC_SYSTEM_CONF": str(conf)}
        proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "update", "check", "b.raucb", "--stdin"],
                                stdin=open(bundle, "rb"), cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".nvr-update-") for p in os.scandir(data)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        os.truncate(bundle, 4096 * MB)                 # the copy has started: now it is 4 GB
        peak = 0.0
        while proc.poll() is None and time.monotonic() < deadline:
            usage = shutil.disk_usage(data)
            peak = max(peak, (usage.total - usage.free) / usage.total)
        out, err = proc.communicate(timeout=60)
        assert peak <= 0.5, (f"the bundle copy took the footage disk to {peak:.0%}, past its "
                             f"50 % high-water mark (R-42): {err[-400:]}")
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
