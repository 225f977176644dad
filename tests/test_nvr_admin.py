"""`sudo nvr-admin` (systemd/nvr-admin, docs/units.md) with the device's users, as the red team
of issue 14 asked: `update install` alone gets the group nvr-update (RAUC's D-Bus policy), and
an administrator with sudo for nvr-admin only runs no program of their choosing as a service
user: under sudo (SUDO_UID set) NVR, SETPRIV and every other variable but the passwords and the
language are dropped. The real nvr-admin and setpriv; the device's users exist in a mount
namespace of the test's own (/etc/passwd, /etc/group bind-mounted copies), and
/usr/local/bin/nvr is a script there that shows who runs it, with which groups and environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not all(shutil.which(c) for c in ("setpriv", "unshare")),
    reason="needs setpriv and unshare (util-linux)")

INSIDE = r"""
set -u
mount --bind "$W/passwd" /etc/passwd
mount --bind "$W/group" /etc/group
mount --bind "$W/bin" /usr/local/bin
SUDO_UID=1000 SUDO_USER=admin NVR="$W/evil" SETPRIV="$W/evil" PYTHONPATH="$W/py" \
    NVR_SYSTEMCTL="$W/evil" NVR_PASSWORD='two words "and" $quotes' "$ADMIN" "$@"
"""
SHOW = """#!/bin/sh
echo "user $(id -un)"
echo "groups $(id -Gn)"
env | sort | sed 's/^/env /'
echo "args $*"
[ -t 0 ] || echo "stdin $(cat)"
"""
EVIL = """#!/bin/sh
touch "$(dirname "$0")/evil-ran"
"""


@pytest.fixture(scope="module")
def device():
    if os.geteuid() != 0:
        pytest.skip("setpriv to the device's users and a mount namespace need root")
    work = Path(tempfile.mkdtemp(prefix="fix14-admin-"))
    try:
        work.chmod(0o755)
        (work / "bin").mkdir(mode=0o755)
        (work / "bin" / "nvr").write_text(SHOW)
        (work / "bin" / "nvr").chmod(0o755)
        (work / "evil").write_text(EVIL)
        (work / "evil").chmod(0o755)
        (work / "passwd").write_text(
            Path("/etc/passwd").read_text().rstrip("\n") + "\n"
            "nvr-web:x:64102:64100::/nonexistent:/usr/sbin/nologin\n"
            "nvr-recorder:x:64101:64100::/nonexistent:/usr/sbin/nologin\n")
        (work / "group").write_text(
            Path("/etc/group").read_text().rstrip("\n") + "\n"
            "nvr:x:64100:nvr-recorder,nvr-web\nnvr-export:x:64111:nvr-web,nvr-recorder\n"
            "nvr-update:x:64110:\n")
        (work / "inside.sh").write_text(INSIDE)
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _as_admin(work: Path, *args: str, stdin=subprocess.DEVNULL) -> dict:
    env = {"PATH": os.environ["PATH"], "W": str(work),
           "ADMIN": str(ROOT / "systemd" / "nvr-admin")}
    done = subprocess.run(["unshare", "--mount", "sh", str(work / "inside.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=60, stdin=stdin)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = {"env": {}}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "env":
            name, _, val = value.partition("=")
            shown["env"][name] = val
        else:
            shown[key] = value
    return shown


def test_sudo_nvr_admin_update_install_runs_as_nvr_web_with_the_group_nvr_update(device):
    """A bundle the caller's shell opened (the fleet's: 0600 in beheer's 0700 folder) comes on
    standard input (--stdin), which nvr-web reads; nvr-admin opens no path under sudo
    (tests/test_nvr_admin_paths.py)."""
    private = device / "own"
    private.mkdir(mode=0o700, exist_ok=True)
    (private / "b.raucb").write_bytes(b"the bundle's bytes")
    (private / "b.raucb").chmod(0o600)
    with open(private / "b.raucb", "rb") as bundle:
        shown = _as_admin(device, "update", "install", "b.raucb", "--user", "t.admin",
                          "--stdin", stdin=bundle)
    assert shown["user"] == "nvr-web"
    assert set(shown["groups"].split()) == {"nvr", "nvr-export", "nvr-update"}
    assert shown["args"] == ("--config /etc/nvr/nvr.toml update install b.raucb "
                             "--user t.admin --stdin")
    assert shown["stdin"] == "the bundle's bytes"


@pytest.mark.parametrize("args", [("user", "list"), ("update", "check", "b.raucb", "--stdin")])
def test_no_other_command_gets_the_group_nvr_update(device, args):
    shown = _as_admin(device, *args)
    assert shown["user"] == "nvr-web" and "nvr-update" not in shown["groups"].split()


def test_under_sudo_no_program_of_the_callers_choosing_runs_as_a_service_user(device):
    """NVR, SETPRIV, PYTHONPATH and the selftest's command seams (NVR_SYSTEMCTL) are the
    caller's choice of program: dropped under sudo; the password passes unchanged."""
    (device / "evil-ran").unlink(missing_ok=True)
    shown = _as_admin(device, "selftest", "--only", "units")
    assert not (device / "evil-ran").exists()
    assert "args" in shown                                    # the real /usr/local/bin/nvr ran
    assert {"PYTHONPATH", "NVR_SYSTEMCTL", "NVR", "SETPRIV", "W"}.isdisjoint(shown["env"])
    assert shown["env"]["NVR_PASSWORD"] == 'two words "and" $quotes'
