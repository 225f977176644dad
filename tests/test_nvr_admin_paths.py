"""`sudo nvr-admin` opens no file the caller names (red team 14b, R-11): the technisch beheerder
(OS account `beheer`, no group, sudo for nvr-admin only) must not make root, nor a service user,
read or write a path beheer could not: a key, a footage segment, a symlink raced into place.
A bundle or a scan comes on standard input, opened by the caller's own shell with the caller's
rights (`--stdin < FILE`); an option naming a path for nvr-web to open (`--out`, `--to`,
`--system-conf`, `--socket`, a segment FILE) is refused before anything runs.

Real sudo (with Debian's `Defaults use_pty`), real setpriv, the image's nvr-first-user, the real
nvr-admin; the device's users in a mount namespace of the test's own. /usr/local/bin/nvr is a
script there that writes who ran it, with which arguments, and what its standard input was."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_USER = ROOT / "image" / "rootfs" / "overlay" / "usr" / "lib" / "nvr" / "nvr-first-user"
ADMIN = ROOT / "systemd" / "nvr-admin"
SECRET = b"ROOT-ONLY-SECRET-BYTES"
BUNDLE = b"the caller's own bundle bytes"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("setpriv", "unshare", "sudo",
                                                           "visudo", "useradd")),
    reason="needs root, setpriv, unshare, sudo, visudo and useradd (debian-packages.txt)")

INSIDE = r"""
set -u
for f in passwd group shadow gshadow; do mount --bind "$W/etc/$f" /etc/$f; done
mount --bind "$W/sudoers" /etc/sudoers
mount --bind "$W/bin" /usr/local/bin
mount --bind "$W/sbin" /usr/local/sbin
exec "$@"
"""
# Stands in for /usr/local/bin/nvr: who runs it, its arguments, what its stdin is and holds.
SHOW = """#!/bin/sh
{ echo "ran $(id -un) $*"
  [ -t 0 ] || echo "stdin $(stat -L -c %F /proc/self/fd/0): $(cat)"
} >> LOGDIR/ran.log
"""


@pytest.fixture(scope="module")
def device():
    """A copy of /etc with the image's account `beheer` (nvr-first-user: sudo for nvr-admin
    only), Debian's /etc/sudoers defaults (env_reset, use_pty), the service users; a root-only
    file, a symlink to it in beheer's folder, and beheer's own bundle (0600 in a 0700 folder,
    as the fleet's update-bundle.yml leaves it)."""
    w = Path(tempfile.mkdtemp(prefix="adminopen-"))
    try:
        w.chmod(0o755)
        (w / "etc" / "sudoers.d").mkdir(parents=True)
        for name in ("passwd", "group", "shadow", "gshadow"):
            shutil.copy2(f"/etc/{name}", w / "etc" / name)
        subprocess.run(["useradd", "--root", str(w), "-m", "-U", "beheer"], check=True)
        done = subprocess.run(["sh", str(FIRST_USER), str(w), "beheer"], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        with open(w / "etc" / "passwd", "a") as f:
            f.write("nvr-web:x:64102:64100::/nonexistent:/usr/sbin/nologin\n"
                    "nvr-recorder:x:64101:64100::/nonexistent:/usr/sbin/nologin\n")
        with open(w / "etc" / "group", "a") as f:
            f.write("nvr:x:64100:nvr-recorder,nvr-web\nnvr-update:x:64110:\n")
        (w / "sudoers").write_text("Defaults env_reset\nDefaults use_pty\n"
                                   "root ALL=(ALL:ALL) ALL\n"
                                   f"@includedir {w}/etc/sudoers.d\n")
        (w / "sudoers").chmod(0o440)
        for d in ("bin", "sbin", "log", "keys"):
            (w / d).mkdir(mode=0o755)
        (w / "log").chmod(0o1777)
        (w / "bin" / "nvr").write_text(SHOW.replace("LOGDIR", str(w / "log")))
        (w / "bin" / "nvr").chmod(0o755)
        shutil.copy(ADMIN, w / "sbin" / "nvr-admin")
        (w / "sbin" / "nvr-admin").chmod(0o755)
        (w / "keys").chmod(0o700)
        (w / "keys" / "master.key").write_bytes(SECRET)
        (w / "keys" / "master.key").chmod(0o600)
        uid = _uid(w, "beheer")
        own = w / "beheer"
        own.mkdir(mode=0o700)
        (own / "b.raucb").write_bytes(BUNDLE)
        (own / "b.raucb").chmod(0o600)
        (own / "link.raucb").symlink_to(w / "keys" / "master.key")
        for path in (own, own / "b.raucb"):
            os.chown(path, uid, uid)
        os.chown(own / "link.raucb", uid, uid, follow_symlinks=False)
        (w / "inside.sh").write_text(INSIDE)
        yield w
    finally:
        shutil.rmtree(w, ignore_errors=True)


def _uid(w: Path, name: str) -> int:
    return next(int(line.split(":")[2]) for line in (w / "etc" / "passwd").read_text()
                .splitlines() if line.startswith(name + ":"))


def _as_beheer(w: Path, command: str) -> subprocess.CompletedProcess:
    """`command` in a shell of beheer's (what an SSH login or the fleet's shell task runs)."""
    (w / "log" / "ran.log").unlink(missing_ok=True)
    return subprocess.run(
        ["unshare", "--mount", "sh", str(w / "inside.sh"), "setpriv", "--reuid=beheer",
         "--regid=beheer", "--clear-groups", "sh", "-c", f"cd {w}/beheer && {command}"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "W": str(w), "NVR_PASSWORD": "secret"})


def _ran(w: Path) -> str:
    log = w / "log" / "ran.log"
    return log.read_text() if log.exists() else ""


ADMIN_CMD = "sudo -n /usr/local/sbin/nvr-admin"


@pytest.mark.parametrize("action", ["check", "install --user t.admin"])
@pytest.mark.parametrize("path", ["keys/master.key", "beheer/link.raucb", "beheer/b.raucb"])
def test_sudo_update_with_a_path_opens_nothing_and_names_the_stdin_form_R11(device, action,
                                                                            path):
    """A root-only key, a symlink to it, even beheer's own bundle: under sudo no path form
    (root, or nvr-web, would open it); the message gives the form that works."""
    done = _as_beheer(device, f"{ADMIN_CMD} update {action} {device / path}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("nvr-admin: ") and "--stdin <" in done.stderr
    assert _ran(device) == ""
    assert "SECRET" not in done.stdout + done.stderr


@pytest.mark.parametrize("action,account", [("check", ""), ("install", " --user t.admin")])
def test_the_stdin_form_gives_nvr_the_file_the_callers_shell_opened(device, action, account):
    """`sudo nvr-admin update ... NAME --stdin < FILE`: nvr (as nvr-web) reads the very file
    beheer's shell opened, a regular file (nvr copies it once into a private file), through
    sudo's use_pty; NAME only names it, even when it names a root-only file."""
    bundle = device / "beheer" / "b.raucb"
    for name in (bundle, device / "keys" / "master.key"):
        done = _as_beheer(device, f"{ADMIN_CMD} update {action} {name} --stdin{account} "
                                  f"< {bundle}")
        assert done.returncode == 0, done.stdout + done.stderr
        ran = _ran(device).splitlines()
        assert ran[0] == (f"ran nvr-web --config /etc/nvr/nvr.toml update {action} {name} "
                          f"--stdin{account}")
        assert ran[1] == f"stdin regular file: {BUNDLE.decode()}"


def test_a_file_the_caller_cannot_read_never_reaches_nvr_in_the_stdin_form(device):
    for path in ("keys/master.key", "beheer/link.raucb"):
        done = _as_beheer(device, f"{ADMIN_CMD} update check x --stdin < {device / path}")
        assert done.returncode != 0 and "Permission denied" in done.stderr
        assert _ran(device) == "" and "SECRET" not in done.stdout + done.stderr


@pytest.mark.parametrize("args", [
    "update check x --stdin --system-conf KEY",
    "update check x --stdin --system-c=KEY",
    "usb list --socket KEY",
    "usb list --sock=KEY",
    "logbook export --book usage --format csv --out OUT --user a.b",
    "logbook export --book usage --format csv --ou=OUT --user a.b",
    "report --since 2026-01-01 --to 2026-01-31 --out OUT --user a.b",
    "request letter 1 --out OUT --user a.b",
    "request declaration-pdf 1 --out OUT --user a.b",
    "export declaration 1 --out OUT --user a.b",
    "export create --request 1 --to OUT --user a.b",
    "client issue pc-1 --user a.b",
    "client issue pc-1 --user a.b --out OUT",
    "client issue pc-1 --user a.b --out - --out=OUT",
    "client issue pc-1 --user a.b --ou -",
    "segment play KEY --user a.b",
    "request attach 1 KEY --kind declaration --user a.b",
])
def test_sudo_refuses_a_path_nvr_web_would_open_for_the_caller_R11(device, args):
    """Read (a key, a segment file, RAUC's keyring, a socket) or written (a document, an
    export, a client certificate) by nvr-web where beheer points: refused, nothing runs."""
    args = args.replace("KEY", str(device / "keys" / "master.key"))
    args = args.replace("OUT", str(device / "log" / "out"))
    done = _as_beheer(device, f"{ADMIN_CMD} {args}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("nvr-admin: ") and _ran(device) == ""
    assert not (device / "log" / "out").exists()


def test_a_scan_comes_on_stdin_opened_by_the_caller(device):
    scan = device / "beheer" / "b.raucb"
    done = _as_beheer(device, f"{ADMIN_CMD} request attach 1 verzoek.pdf --stdin "
                              f"--kind declaration --user a.b < {scan}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _ran(device).splitlines() == [
        "ran nvr-web --config /etc/nvr/nvr.toml request attach 1 verzoek.pdf --stdin --kind "
        "declaration --user a.b", f"stdin regular file: {BUNDLE.decode()}"]


def test_client_issue_writes_to_stdout_into_the_callers_file(device):
    """`sudo nvr-admin client issue NAME --user U --out - > NAME.p12`: what nvr writes to its
    standard output (sudo's use_pty relays it through a pipe) lands in the file beheer's shell
    made; nvr-web writes no file."""
    (device / "bin" / "nvr").write_text(SHOW.replace("LOGDIR", str(device / "log"))
                                        + "printf 'the p12 bytes'\n")
    try:
        done = _as_beheer(device, f"{ADMIN_CMD} client issue pc-1 --user a.b --out - > pc-1.p12")
    finally:
        (device / "bin" / "nvr").write_text(SHOW.replace("LOGDIR", str(device / "log")))
    assert done.returncode == 0, done.stderr
    assert _ran(device).splitlines()[0] == (
        "ran nvr-web --config /etc/nvr/nvr.toml client issue pc-1 --user a.b --out -")
    made = device / "beheer" / "pc-1.p12"
    assert made.read_bytes() == b"the p12 bytes" and made.stat().st_uid == _uid(device, "beheer")


def test_nvr_runs_in_the_root_directory_not_in_the_callers(device):
    """A relative path (a segment id that is also a file name in beheer's folder) does not
    resolve in the caller's folder."""
    done = _as_beheer(device, f"{ADMIN_CMD} user list")
    assert done.returncode == 0, done.stderr
    (device / "bin" / "nvr").write_text(
        SHOW.replace("LOGDIR", str(device / "log")).replace("ran $(id -un)", "ran $(pwd)"))
    try:
        done = _as_beheer(device, f"{ADMIN_CMD} user list")
    finally:
        (device / "bin" / "nvr").write_text(SHOW.replace("LOGDIR", str(device / "log")))
    assert done.returncode == 0, done.stderr
    assert _ran(device).startswith("ran / ")


def test_config_install_reads_a_symlink_to_a_root_only_file_as_the_caller(device):
    """`config install FILE` reads FILE as beheer (setpriv to SUDO_UID): a symlink beheer made
    to a root-only file is refused, and nvr never runs."""
    done = _as_beheer(device, f"{ADMIN_CMD} config install {device / 'beheer' / 'link.raucb'}")
    assert done.returncode == 2 and "cannot read" in done.stderr, done.stdout + done.stderr
    assert _ran(device) == "" and "SECRET" not in done.stdout + done.stderr
