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


WEB_CERT = r"""
set -eu
mount --bind "$W/passwd" /etc/passwd
mount --bind "$W/group" /etc/group
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/nvr/keys /var/lib/nvr/system
chown root:nvr /var/lib/nvr /var/lib/nvr/keys
chmod 0750 /var/lib/nvr
chmod 3770 /var/lib/nvr/keys
printf 'ROOT-ONLY-HOST-KEY\n' > /var/lib/nvr/system/ssh_host_ed25519_key
chmod 0600 /var/lib/nvr/system/ssh_host_ed25519_key
printf -- '-----BEGIN CERTIFICATE-----\nDE-CERTIFICAAT\n' > /var/lib/nvr/keys/web-cert.pem
chown nvr-web:nvr /var/lib/nvr/keys/web-cert.pem
chmod 0644 /var/lib/nvr/keys/web-cert.pem
SUDO_UID=1000 SUDO_GID=1000 SUDO_USER=beheer "$ADMIN" web-cert || echo "refused $?"
# nvr-web, with its own rights only, replaces its certificate by a link
setpriv --reuid=nvr-web --regid=nvr --init-groups \
    ln -sf /var/lib/nvr/system/ssh_host_ed25519_key /var/lib/nvr/keys/web-cert.pem
SUDO_UID=1000 SUDO_GID=1000 SUDO_USER=beheer "$ADMIN" web-cert || echo "refused $?"
"""


def test_web_cert_reads_as_nvr_web_so_its_link_shows_no_root_only_file_R11(device):
    """Reviewer C: `sudo nvr-admin web-cert` ran `cat` as root; nvr-web may replace its own
    certificate in the sticky key folder, also by a link to a file only root reads (an SSH
    host key), which the fleet's central-room playbook then copied off the device. It reads
    as nvr-web now: the certificate shows, the link's target does not."""
    (device / "webcert.sh").write_text(WEB_CERT)
    done = subprocess.run(["unshare", "--mount", "sh", str(device / "webcert.sh")],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "W": str(device),
                               "ADMIN": str(ROOT / "systemd" / "nvr-admin")})
    assert done.stdout.startswith("-----BEGIN CERTIFICATE-----\nDE-CERTIFICAAT\n"), (
        done.stdout + done.stderr)
    assert "ROOT-ONLY-HOST-KEY" not in done.stdout, done.stdout
    assert done.stdout.rstrip().endswith("refused 1"), done.stdout + done.stderr
    assert "Permission denied" in done.stderr


LANG_INSIDE = r"""
set -u
mount --bind "$W/passwd" /etc/passwd
mount --bind "$W/group" /etc/group
mount --bind "$W/bin" /usr/local/bin
SUDO_UID=1000 SUDO_USER=beheer NVR_LANG="$LANGUAGE_ASKED" "$ADMIN" "$@"
"""


@pytest.mark.parametrize("asked", ["nl", "nl /bin/sh -c id"])
def test_config_install_under_sudo_speaks_the_language_asked_R11(device, asked):
    """Reviewer A: `sudo NVR_LANG=nl nvr-admin config install FILE` ran nvr without NVR_LANG
    (every other command passes it), so its refusals read in English. The value is passed as
    one word, whatever it holds: nothing of it runs."""
    (device / "inside-lang.sh").write_text(LANG_INSIDE)
    new = device / "new.toml"
    new.write_text('[device]\nid = "x"\n')
    new.chmod(0o644)
    done = subprocess.run(
        ["unshare", "--mount", "sh", str(device / "inside-lang.sh"), "config", "install",
         str(new)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "W": str(device), "LANGUAGE_ASKED": asked,
             "ADMIN": str(ROOT / "systemd" / "nvr-admin")})
    assert "args --config /etc/nvr/nvr.toml config install -" in done.stdout, (
        done.stdout + done.stderr)
    assert f"env NVR_LANG={asked}\n" in done.stdout, done.stdout
    assert "uid=" not in done.stdout


ORACLE_INSIDE = r"""
set -u
mount --bind "$W/passwd" /etc/passwd
mount --bind "$W/group" /etc/group
mount --bind "$W/bin2" /usr/local/bin
SUDO_UID=1000 SUDO_GID=1000 SUDO_USER=beheer NVR_SYSTEMCTL=true "$ADMIN" "$@"
"""
NOTE_NVR = """#!/bin/sh
echo "uid=$(id -u) $*" >> CALLS
cat > /dev/null
"""


def test_config_install_checks_camera_files_with_the_callers_rights_only_R11(device):
    """Reviewer A: root checked whether a camera's file exists (`source = "file"`), and its
    yes or no told the technisch beheerder about paths below /var/lib/nvr (which days a
    camera recorded). nvr-admin runs the check as the caller first (--check-only), then root
    installs without looking at files (--files-checked)."""
    (device / "bin2").mkdir(mode=0o755, exist_ok=True)
    (device / "bin2" / "nvr").write_text(NOTE_NVR.replace("CALLS", str(device / "calls")))
    (device / "bin2" / "nvr").chmod(0o755)
    (device / "calls").write_text("")
    (device / "calls").chmod(0o666)
    (device / "oracle.sh").write_text(ORACLE_INSIDE)
    new = device / "new.toml"
    new.write_text('[device]\nid = "x"\n')
    new.chmod(0o644)
    done = subprocess.run(["unshare", "--mount", "sh", str(device / "oracle.sh"), "config",
                           "install", str(new)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL,
                          env={"PATH": os.environ["PATH"], "W": str(device),
                               "ADMIN": str(ROOT / "systemd" / "nvr-admin")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (device / "calls").read_text().splitlines() == [
        "uid=1000 --config /etc/nvr/nvr.toml config install --check-only -",
        "uid=0 --config /etc/nvr/nvr.toml config install --files-checked -"]
