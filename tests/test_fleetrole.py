"""Issue 14, red team (R-11): the technisch beheerder is not root on the device. The OS account
`beheer` has no password, no group and sudo for /usr/local/sbin/nvr-admin only
(image/rootfs/overlay/usr/lib/nvr/nvr-first-user); nvr-admin runs a fixed list of commands
(the footage commands only with --user, whose password nvr asks), a few root actions for the
fleet, and `config install` (firmware/system/config_install.py). Real sudo, visudo, setpriv,
shadow's useradd/usermod on a copy of /etc, real nvr-admin; the device's users in a mount
namespace of the test's own (bind-mounted /etc/passwd, /etc/group, /etc/sudoers)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import nvr, write_config

ROOT = Path(__file__).resolve().parents[1]
FIRST_USER = ROOT / "image" / "rootfs" / "overlay" / "usr" / "lib" / "nvr" / "nvr-first-user"
ADMIN = ROOT / "systemd" / "nvr-admin"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("setpriv", "unshare", "sudo",
                                                           "visudo", "useradd")),
    reason="needs root, setpriv, unshare, sudo, visudo and useradd (debian-packages.txt)")

SHOW = """#!/bin/sh
echo "ran $(id -un) $*" >> "LOGDIR/ran.log"
[ -t 0 ] || cat > /dev/null
echo "ran $(id -un)"
"""


def _etc_copy(root: Path) -> None:
    (root / "etc" / "sudoers.d").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    for name in ("sudo", "video", "adm", "gpio"):
        if f"\n{name}:" not in "\n" + (root / "etc" / "group").read_text():
            subprocess.run(["groupadd", "--root", str(root), name], check=True)


@pytest.fixture(scope="module")
def piroot():
    """A copy of /etc as pi-gen leaves it: the first user `beheer` with a password, in sudo,
    video, adm and gpio, and Raspberry Pi OS's 010_pi-nopasswd; then nvr-first-user runs."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("useradd --root on a copy of /etc needs root")
    root = Path(tempfile.mkdtemp(prefix="fleetrole-root-"))
    try:
        root.chmod(0o755)
        _etc_copy(root)
        subprocess.run(["useradd", "--root", str(root), "-m", "-U", "-G", "sudo,video,adm,gpio",
                        "-p", "$6$x$notreallyahash", "beheer"], check=True)
        (root / "etc" / "sudoers.d" / "010_pi-nopasswd").write_text(
            "beheer ALL=(ALL) NOPASSWD: ALL\n")
        (root / "etc" / "sudoers.d" / "README").write_text("# left alone\n")
        done = subprocess.run(["sh", str(FIRST_USER), str(root), "beheer"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _entry(path: Path, name: str) -> list[str]:
    return next(line.split(":") for line in path.read_text().splitlines()
                if line.startswith(name + ":"))


def test_the_first_user_has_no_password_no_group_and_no_sudo_for_all_R11(piroot):
    assert _entry(piroot / "etc" / "shadow", "beheer")[1] == "*"
    assert _entry(piroot / "etc" / "shadow", "root")[1] == "*"
    uid_gid = _entry(piroot / "etc" / "passwd", "beheer")[3]
    for line in (piroot / "etc" / "group").read_text().splitlines():
        name, _, gid, members = line.split(":")
        assert "beheer" not in members.split(","), f"beheer is still in the group {name}"
        if gid == uid_gid:
            assert name == "beheer"
    sudoers = piroot / "etc" / "sudoers.d"
    assert sorted(p.name for p in sudoers.iterdir()) == ["README", "nvr-admin"]
    rule = sudoers / "nvr-admin"
    assert stat.S_IMODE(rule.stat().st_mode) == 0o440
    checked = subprocess.run(["visudo", "-cf", str(rule)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = rule.read_text()
    rules_only = "\n".join(l for l in text.splitlines() if not l.startswith("#"))
    assert "SETENV" not in rules_only and "env_reset" in text and "!setenv" in text
    rules = [l for l in text.splitlines() if l.startswith("beheer ")]
    assert rules == ["beheer ALL=(root) NOPASSWD: /usr/local/sbin/nvr-admin"]


def test_nvr_first_user_runs_again_without_change(piroot):
    before = {n: (piroot / "etc" / n).read_text() for n in ("passwd", "group", "shadow")}
    rule = (piroot / "etc" / "sudoers.d" / "nvr-admin").read_text()
    done = subprocess.run(["sh", str(FIRST_USER), str(piroot), "beheer"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert {n: (piroot / "etc" / n).read_text() for n in before} == before
    assert (piroot / "etc" / "sudoers.d" / "nvr-admin").read_text() == rule


def test_the_image_and_the_virtual_device_both_run_nvr_first_user():
    install = (ROOT / "image" / "rootfs" / "install.sh").read_text()
    assert '/usr/lib/nvr/nvr-first-user / "${NVR_FIRST_USER:-${FIRST_USER_NAME:-beheer}}"' \
        in install
    pigen = (ROOT / "image" / "pi-gen" / "stage-nvr" / "00-nvr" / "03-run.sh").read_text()
    assert '/usr/lib/nvr/nvr-first-user / "${FIRST_USER_NAME}"' in pigen
    sshd = (ROOT / "image" / "rootfs" / "overlay" / "etc" / "ssh" / "sshd_config.d"
            / "nvr.conf").read_text()
    assert "\nPermitRootLogin no\n" in sshd


# --- sudo as the real user beheer, in a mount namespace --------------------------------------

INSIDE = r"""
set -u
mount --bind "$W/etc/passwd" /etc/passwd
mount --bind "$W/etc/group" /etc/group
mount --bind "$W/etc/shadow" /etc/shadow
mount --bind "$W/sudoers" /etc/sudoers
mount --bind "$W/bin" /usr/local/bin
mount --bind "$W/sbin" /usr/local/sbin
exec "$@"
"""


@pytest.fixture(scope="module")
def device(piroot):
    """piroot's /etc, a /etc/sudoers that includes only its sudoers.d, nvr-admin in
    /usr/local/sbin and a /usr/local/bin whose nvr, systemctl, reboot and journalctl write
    who ran them with which arguments."""
    if not all(shutil.which(c) for c in ("setpriv", "unshare", "sudo", "visudo")):
        pytest.skip("needs setpriv, unshare, sudo and visudo (debian-packages.txt)")
    w = piroot
    with open(w / "etc" / "passwd", "a") as f:
        f.write("nvr-web:x:64102:64100::/nonexistent:/usr/sbin/nologin\n"
                "nvr-recorder:x:64101:64100::/nonexistent:/usr/sbin/nologin\n")
    with open(w / "etc" / "group", "a") as f:
        f.write("nvr:x:64100:nvr-recorder,nvr-web\nnvr-update:x:64110:\n")
    (w / "sudoers").write_text("Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n"
                               f"@includedir {w}/etc/sudoers.d\n")
    (w / "sudoers").chmod(0o440)
    for d in ("bin", "sbin", "log"):
        (w / d).mkdir(mode=0o755, exist_ok=True)
    (w / "log").chmod(0o1777)                    # the service users write who ran what
    for name in ("nvr", "systemctl", "reboot", "journalctl"):
        (w / "bin" / name).write_text(SHOW.replace("LOGDIR", str(w / "log")))
        (w / "bin" / name).chmod(0o755)
    shutil.copy(ADMIN, w / "sbin" / "nvr-admin")
    (w / "sbin" / "nvr-admin").chmod(0o755)
    (w / "inside.sh").write_text(INSIDE)
    return w


def _as_beheer(w: Path, command: str, env: str = "") -> subprocess.CompletedProcess:
    (w / "log" / "ran.log").unlink(missing_ok=True)
    return subprocess.run(
        ["unshare", "--mount", "sh", str(w / "inside.sh"), "setpriv", "--reuid=beheer",
         "--regid=beheer", "--clear-groups", "sh", "-c", f"cd /tmp && {env} {command}"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "W": str(w)})


def _ran(w: Path) -> list[str]:
    log = w / "log" / "ran.log"
    return log.read_text().splitlines() if log.exists() else []


@needs_root
def test_beheer_runs_nothing_but_nvr_admin_with_sudo_R11(device):
    for command in ("sudo -n true", "sudo -n cat /var/lib/nvr/keys/master.key",
                    "sudo -n -u nvr-web /usr/local/bin/nvr user list",
                    "sudo -n -E /usr/local/sbin/nvr-admin user list",
                    "sudo -n NVR=/tmp/evil /usr/local/sbin/nvr-admin user list"):
        done = _as_beheer(device, command)
        assert done.returncode != 0, command
        assert _ran(device) == [], command
    done = _as_beheer(device, "sudo -n /usr/local/sbin/nvr-admin user list")
    assert done.returncode == 0, done.stderr
    assert _ran(device) == ["ran nvr-web --config /etc/nvr/nvr.toml user list"]


@needs_root
@pytest.mark.parametrize("args", [
    "run", "web --help", "init /tmp/x", "ingest cam x.mp4", "exportd", "export verify /tmp/x",
    "--config /tmp/evil.toml user list", "-v user list", "segment play 1",
    "export create --request 1", "logbook export", "request play 1", "usb unlock",
    "recordings", "shell", "", "hold list", "hold list --json",
    "retention run --clock-checked", "retention run --json --clock", "retention run --c"])
def test_nvr_admin_refuses_what_is_not_listed_and_footage_without_an_account_R11(device, args):
    done = _as_beheer(device, f"sudo -n /usr/local/sbin/nvr-admin {args}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("nvr-admin: ") and _ran(device) == []


@needs_root
def test_nvr_admin_passes_a_footage_command_only_with_an_account_the_password_from_sudo(device):
    """With --user, nvr gets the command and asks the password itself (R-10, R-11)."""
    segment = "0123456789abcdef" * 2
    done = _as_beheer(device, f"sudo -n /usr/local/sbin/nvr-admin segment play {segment} "
                              "--user b.b", env="NVR_PASSWORD=secret")
    assert done.returncode == 0, done.stderr
    assert _ran(device) == [f"ran nvr-web --config /etc/nvr/nvr.toml segment play {segment} "
                            "--user b.b"]


def test_what_runs_without_a_password_is_the_documented_table_with_its_R11_column():
    """docs/units.md's table of what `sudo nvr-admin` runs without an account, with the
    technisch beheerder's R-11 column per row, is exactly nvr-admin's `no_password` list
    (red team 14c: a read command added there must be argued against R-11 in the doc)."""
    import re
    script = ADMIN.read_text()
    listed = set(re.search(r'no_password="([^"]*)"', script).group(1).split())
    doc = (ROOT / "docs" / "units.md").read_text()
    table = doc.split("| without a password | runs as | what it shows or does | R-11, "
                      "technisch beheerder |\n|---|---|---|---|\n")[1].split("\n\n")[0]
    documented = set()
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert len(cells) == 4 and cells[3], row          # every row argues its R-11 column
        for command in re.findall(r"`([^`]+)`", cells[0]):
            words = command.split()
            second = words[1] if len(words) > 1 and re.fullmatch(r"[a-z]+", words[1]) else ""
            documented.add(f"{words[0]}-{second}")
    assert documented == listed
    assert "hold-list" not in listed


@needs_root
@pytest.mark.parametrize("args,user", [
    ("hold list --json --user b.b", "nvr-web"),
    ("retention run --clock-checked --user t.a", "nvr-recorder"),
    ("retention run --json", "nvr-recorder")])
def test_nvr_admin_passes_holds_and_a_declared_clock_only_with_an_account_R11_R50(device, args,
                                                                                   user):
    """Red team 14c: a hold's reason and reference, and an erasure by a clock declared right,
    go through nvr-admin only with --user (nvr checks the role and logs); a plain sweep
    needs none."""
    done = _as_beheer(device, f"sudo -n /usr/local/sbin/nvr-admin {args}",
                      env="NVR_PASSWORD=secret")
    assert done.returncode == 0, done.stderr
    assert _ran(device) == [f"ran {user} --config /etc/nvr/nvr.toml {args}"]


@needs_root
@pytest.mark.parametrize("args,expected", [
    ("restart", "ran root restart nvr-recorder.service nvr-web.service"),
    ("reboot-trial", "ran root 0 tryboot"),
    ("journal -n 5", "ran root --no-pager -n 5 -u nvr-recorder -u nvr-web -u nvr-exportd "
                     "-u nvr-storage -u nvr-update-verdict"),
])
def test_nvr_admin_root_actions_do_exactly_their_action(device, args, expected):
    done = _as_beheer(device, f"sudo -n /usr/local/sbin/nvr-admin {args}")
    assert done.returncode == 0, done.stderr
    assert _ran(device) == [expected], done.stdout + done.stderr


@needs_root
@pytest.mark.parametrize("args", ["restart nvr-exportd", "journal -u ssh", "journal -n x",
                                  "reboot-trial now", "web-cert /etc/shadow"])
def test_nvr_admin_root_actions_take_no_other_arguments(device, args):
    done = _as_beheer(device, f"sudo -n /usr/local/sbin/nvr-admin {args}")
    assert done.returncode == 2 and _ran(device) == [], done.stdout + done.stderr


@needs_root
def test_config_install_reads_the_file_as_the_caller_never_as_root(device):
    secret = device / "root-only.toml"
    secret.write_text("[device]\nid = \"x\"\n")
    secret.chmod(0o600)
    done = _as_beheer(device, f"sudo -n /usr/local/sbin/nvr-admin config install {secret}")
    assert done.returncode == 2 and "cannot read" in done.stderr
    assert _ran(device) == []


# --- nvr config install, and nvr-admin config install with the real nvr -----------------------

def test_nvr_config_install_checks_like_config_check_and_says_what_changed(tmp_path):
    live = write_config(tmp_path)
    old = live.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(old.replace('location = "', 'locatoin = "'))
    done = nvr("--config", str(live), "config", "install", str(bad))
    assert done.returncode != 0 and "locatoin" in done.stderr
    assert live.read_text() == old
    new = tmp_path / "new.toml"
    new.write_text(old.replace('name = "Testcamera"', 'name = "Hal"'))
    done = nvr("--config", str(live), "config", "install", str(new))
    assert done.returncode == 0, done.stderr
    assert "changed: cameras" in done.stdout
    assert live.read_text() == new.read_text()
    assert stat.S_IMODE(live.stat().st_mode) == 0o640
    done = nvr("--config", str(live), "config", "install", str(new))
    assert done.returncode == 0 and "unchanged" in done.stdout
    assert [p.name for p in tmp_path.glob(".nvr.toml.*")] == []


@needs_root
def test_nvr_admin_config_install_restarts_the_units_only_when_it_changed(tmp_path):
    """As root (no sudo): the real nvr through the NVR seam, a systemctl that notes its call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text('#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls"\n')
    (bin_dir / "systemctl").chmod(0o755)
    nvr_script = bin_dir / "nvr"
    nvr_script.write_text(f"#!/bin/sh\nexec {os.sys.executable} -m firmware.cli \"$@\"\n")
    nvr_script.chmod(0o755)
    live = write_config(tmp_path)
    new = tmp_path / "new.toml"
    new.write_text(live.read_text().replace("[storage]", "[storage]\nretention_days = 14"))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "NVR": str(nvr_script),
           "NVR_CONFIG": str(live), "PYTHONPATH": str(ROOT)}
    # the group nvr of the device, as the file's group (docs/units.md)
    group = tmp_path / "group"
    group.write_text(Path("/etc/group").read_text().rstrip("\n") + "\nnvr:x:64100:\n")
    run = ["unshare", "--mount", "sh", "-c", f'mount --bind {group} /etc/group && exec "$@"',
           "-", "sh", str(ADMIN), "config", "install", str(new)]
    done = subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "changed: storage.retention_days" in done.stdout
    assert (bin_dir / "calls").read_text() == "restart nvr-recorder.service nvr-web.service\n"
    assert live.stat().st_gid == 64100 and stat.S_IMODE(live.stat().st_mode) == 0o640
    done = subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "unchanged" in done.stdout
    assert (bin_dir / "calls").read_text().count("restart") == 1
