"""Red team 14c, guard: `nvr firstboot` run again beside a running recorder (the system test's
`systemctl restart nvr-firstboot`, or the unit started late) changes no key under it, and the
recorder records on and stops cleanly; the owners and modes stay those of docs/provisioning.md.

Real `nvr firstboot` as root on a device layout (tests/test_firstboot.py) while `nvr run
--no-web` runs as nvr-recorder."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
from test_firstboot import Device, _new_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: nvr firstboot is root's")


@pytest.fixture
def device():
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def test_firstboot_beside_a_running_recorder_changes_nothing_under_it(device):
    device.firstboot()
    keys = device.key_files()
    modes = {p.name: (p.stat().st_uid, p.stat().st_mode) for p in device.keys.iterdir()
             if p.name in keys}
    recorder = device.start("nvr-recorder", "run", "--no-web")
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = recorder.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("recording 1 camera"):
                break
        assert any(x.startswith("recording 1 camera") for x in lines), "".join(lines)
        device.firstboot()                         # asserts exit 0 itself
        time.sleep(2)
        assert recorder.poll() is None, "the recorder stopped beside firstboot"
    finally:
        recorder.send_signal(signal.SIGTERM)
        rest, _ = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, "".join(lines) + rest
    assert device.key_files() == keys
    assert {p.name: (p.stat().st_uid, p.stat().st_mode) for p in device.keys.iterdir()
            if p.name in keys} == modes
