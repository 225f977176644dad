"""image/rootfs/install.sh enables every unit of systemd/ or fails the image (issue 12 item 6,
"every service active"): a unit whose `nvr COMMAND` the installed firmware lacks used to be left
silently not enabled, and the device then lacked a service nobody was told about.

The loop of install.sh that enables the units runs here as it is written, in `sh`, with the
unit directory pointed at a temporary one and `nvr`/`systemctl` as small scripts that record
what they were asked; the real image build runs it chrooted (docs/system-test.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from conftest import ROOT

INSTALL = ROOT / "image" / "rootfs" / "install.sh"


def enabling_loop() -> str:
    text = INSTALL.read_text()
    found = re.search(r"^for unit in \$units; do\n.*?^done\n", text, re.S | re.M)
    assert found, "install.sh has no loop `for unit in $units; do ... done`"
    return found.group(0)


def run_loop(tmp_path, commands: set[str]) -> subprocess.CompletedProcess:
    """The loop over the units of systemd/, with an `nvr` that knows `commands` only."""
    units = tmp_path / "units"
    units.mkdir()
    for unit in (ROOT / "systemd").glob("*.service"):
        shutil.copy(unit, units / unit.name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvr").write_text("#!/bin/sh\ncase \" %s \" in *\" $1 \"*) exit 0;; esac\n"
                                 "exit 2\n" % " ".join(sorted(commands)))
    (bin_dir / "systemctl").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/enabled\n")
    for tool in ("nvr", "systemctl"):
        (bin_dir / tool).chmod(0o755)
    script = "set -eu\nunits=\"%s\"\n" % " ".join(sorted(p.name for p in units.iterdir())) + \
        enabling_loop().replace("/etc/systemd/system/", f"{units}/")
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})


def test_every_unit_enabled_when_the_firmware_has_its_command(tmp_path):
    done = run_loop(tmp_path, {"run", "web", "exportd", "firstboot"})
    assert done.returncode == 0, done.stderr
    enabled = (tmp_path / "enabled").read_text().split()
    assert sorted(e for e in enabled if e != "enable") == sorted(
        p.name for p in (ROOT / "systemd").glob("*.service"))


def test_a_unit_whose_command_is_missing_fails_the_build(tmp_path):
    done = run_loop(tmp_path, {"run", "web", "firstboot"})          # no `nvr exportd`
    assert done.returncode != 0
    assert "nvr-exportd.service runs 'nvr exportd'" in done.stderr, done.stderr
