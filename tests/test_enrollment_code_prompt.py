"""The one-time enrollment code is typed, never put on a command line (red team 14b: sudo logs
the command line, /proc/PID/cmdline shows it): `nvr user add ... --enrollment-code -` reads it
from stdin, and without the flag a user that is not root is asked for it. Real `nvr firstboot`
and `nvr user add` subprocesses as the service user nvr-web, as `sudo nvr-admin` runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from test_firstboot import NEW_PASSWORD, Device, _new_root, codes_in

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a real `nvr firstboot` "
                                "on a test root and `nvr` as the service user nvr-web")


def _add(device: Device, *args: str, typed: str) -> subprocess.CompletedProcess:
    return subprocess.run([*device.as_user("nvr-web"), sys.executable, "-m", "firmware.cli",
                           "--config", str(device.config), "user", "add", *args],
                          input=typed, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": os.environ["PATH"], "HOME": "/nonexistent",
                               "LANG": "C.UTF-8", "NVR_NEW_PASSWORD": NEW_PASSWORD})


def test_the_code_is_read_from_stdin_and_never_needed_on_the_command_line_R10():
    root = _new_root()
    try:
        device = Device(root)
        _done, _host, shown = device.firstboot()
        technical, manager = codes_in(shown)
        made = _add(device, "t.admin", "--role", "technisch-beheerder", typed=technical + "\n")
        assert made.returncode == 0, made.stderr               # no flag: asked for (stdin)
        made = _add(device, "m.manager", "--role", "manager-bedrijfsvoering",
                    "--enrollment-code", "-", typed=manager + "\n")
        assert made.returncode == 0, made.stderr
        empty = _add(device, "m.other", "--role", "manager-bedrijfsvoering",
                     "--enrollment-code", "-", typed="")
        assert empty.returncode != 0 and "no enrollment code" in empty.stderr, empty.stderr
    finally:
        shutil.rmtree(root)
