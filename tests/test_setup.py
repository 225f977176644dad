"""Issue 11 item 8: the README's two commands are all the set-up.

`make test` on a fresh Debian machine installs what the tests need when it can (root, or sudo
without a password) and otherwise stops with the command to run (tools/debian-setup.sh, shared
with .ci/run). The script runs for real here, with a PATH of stubs for the commands that need
root (`id`, `sudo`, `apt-get`, `sed`, `locale`, `locale-gen`): they record their arguments, and
`apt-get install` and `locale-gen` leave behind what the real ones would, so the script's own
check afterwards sees the machine set up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SCRIPT = ROOT / "tools" / "debian-setup.sh"
PACKAGES = [line for line in (ROOT / "debian-packages.txt").read_text().splitlines()
            if line and not line.startswith("#")]
NEEDED = ("ffprobe", "pdftotext", "7z", "chromium", "faketime")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

STUBS = {
    "id": 'echo "$FAKE_UID"',
    "sudo": 'log sudo "$@"; [ "$1" = -n ] && shift\n'
            '[ "$FAKE_SUDO" = ok ] || exit 1\nexec "$@"',
    "apt-get": 'log apt-get "$@"\n'
               '[ "$1" = install ] || exit 0\n'
               f'for c in {" ".join(NEEDED)}; do printf "#!/bin/sh\\n" > "$BIN/$c"; '
               'chmod +x "$BIN/$c"; done',
    "sed": 'log sed "$@"',
    "locale-gen": 'log locale-gen "$@"; touch "$BIN/.locale-made"',
    "locale": '[ -f "$BIN/.locale-made" ] && echo nl_NL.utf8; exit 0',
}


def _machine(tmp_path: Path, uid: int, sudo: str | None, set_up: bool = False) -> dict:
    """A PATH of stubs and of the few real tools the script uses; the environment to run in."""
    if not FONT.is_file():
        pytest.skip(f"{FONT} is absent (fonts-dejavu-core); the script checks that real file")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "grep", "tr", "env", "touch", "chmod", "true"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "python3").symlink_to(sys.executable)    # has ensurepip: python3-venv present
    for name, body in STUBS.items():
        if name == "sudo" and sudo is None:
            continue
        (bin_dir / name).write_text('#!/bin/sh\nlog() { echo "$*" >> "$LOG"; }\n' + body + "\n")
        (bin_dir / name).chmod(0o755)
    if set_up:
        for c in NEEDED:
            (bin_dir / c).write_text("#!/bin/sh\n")
            (bin_dir / c).chmod(0o755)
        (bin_dir / ".locale-made").touch()
    return {"PATH": str(bin_dir), "BIN": str(bin_dir), "LOG": str(tmp_path / "calls.log"),
            "FAKE_UID": str(uid), "FAKE_SUDO": sudo or ""}


def _run(env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run(["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60)
    log = Path(env["LOG"])
    return done, log.read_text().splitlines() if log.exists() else []


def test_as_root_it_installs_the_packages_and_the_locale(tmp_path):
    done, calls = _run(_machine(tmp_path, uid=0, sudo=None))
    assert done.returncode == 0, done.stderr
    assert calls == ["apt-get update -qq", "apt-get install -y -qq " + " ".join(PACKAGES),
                     calls[2], "locale-gen"]
    assert calls[2].startswith("sed -i ") and calls[2].endswith("/etc/locale.gen")
    assert not any(c.startswith("sudo") for c in calls)
    assert "installing debian-packages.txt" in done.stderr


def test_with_sudo_without_a_password_it_installs_through_sudo(tmp_path):
    done, calls = _run(_machine(tmp_path, uid=1000, sudo="ok"))
    assert done.returncode == 0, done.stderr
    by_sudo = [c for c in calls if c.startswith("sudo ")]        # each then runs its stub
    apt = "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get"
    assert by_sudo[:3] == ["sudo -n true", f"{apt} update -qq",
                           f"{apt} install -y -qq " + " ".join(PACKAGES)]
    assert by_sudo[3].startswith("sudo -n sed -i ") and by_sudo[4:] == ["sudo -n locale-gen"]
    assert "locale-gen" in calls and "with sudo" in done.stderr


@pytest.mark.parametrize("sudo", ["refused", None], ids=["sudo-asks-a-password", "no-sudo"])
def test_without_root_it_stops_with_the_command_to_run(tmp_path, sudo):
    done, calls = _run(_machine(tmp_path, uid=1000, sudo=sudo))
    assert done.returncode == 1
    assert not any("apt-get" in c or "locale-gen" in c for c in calls), calls
    assert "The tests need python3-venv" not in done.stderr         # python3 has ensurepip
    assert f"The tests need {' '.join(NEEDED)} the locale nl_NL.UTF-8." in done.stderr
    assert "\n  sudo sh tools/debian-setup.sh\n" in done.stderr


def test_a_machine_set_up_already_is_left_alone(tmp_path):
    done, calls = _run(_machine(tmp_path, uid=1000, sudo=None, set_up=True))
    assert (done.returncode, done.stdout, done.stderr, calls) == (0, "", "", [])


def test_make_test_and_ci_share_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "test: debian-setup $(STAMP)" in makefile                  # before the venv
    assert "\tsh tools/debian-setup.sh" in makefile or "@sh tools/debian-setup.sh" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "sh tools/debian-setup.sh\nmake test" in ci and "apt-get" not in ci
    assert os.access(SCRIPT, os.X_OK)


# --- `make run` prints commands that work as printed -------------------------------------------

NVR = Path(sys.executable).parent / "nvr"          # the venv's console script, as `make run` has it
PASSWORD = "Vier-kleine-olifanten-dansen-2026"
NO_VENV_PATH = "/usr/local/bin:/usr/bin:/bin"      # `make run` does not activate the venv


def _printed(out: str, after: str) -> str:
    """The command printed after `after`: on the same line, or on the next when none follows."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if after in line:
            rest = line.split(after, 1)[1].strip()
            return rest or lines[i + 1].strip()
    raise AssertionError(f"{after!r} not printed in:\n{out}")


def _line(out: str, containing: str) -> str:
    found = [line.strip() for line in out.splitlines() if containing in line]
    assert len(found) == 1, f"{containing!r} not printed once in:\n{out}"
    return found[0]


def _shell(command: str, **env: str) -> subprocess.CompletedProcess:
    """Run a printed command as a person would paste it, from the checkout like `make run`."""
    return subprocess.run(["/bin/sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PATH": NO_VENV_PATH, "HOME": os.environ["HOME"],
                                            **env})


def test_the_commands_nvr_init_and_nvr_run_print_work_as_printed(tmp_path):
    from conftest import INIT_FLAGS
    assert NVR.is_file(), f"{NVR}: the console script of pyproject's [project.scripts] is absent"
    init = _shell(f"{NVR} init {tmp_path / 'dev'} {' '.join(INIT_FLAGS)}")
    assert init.returncode == 0, init.stderr
    config = tmp_path / "dev" / "nvr.toml"
    config.write_text(config.read_text().replace("port = 8443", "port = 0"))   # a free port
    add_technical = _line(init.stdout, "--role technisch-beheerder --enrollment-code ")
    add_manager = _line(init.stdout, "--role manager-bedrijfsvoering --enrollment-code ")
    start = _printed(init.stdout, "start the recorder with:")

    recorder = subprocess.Popen(["/bin/sh", "-c", f"exec {start}"], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={"PATH": NO_VENV_PATH, "HOME": os.environ["HOME"]})
    out = ""
    try:
        for line in recorder.stdout:                # until the web's hint is complete
            out += line
            if line.startswith("or as any user"):
                break
    finally:
        recorder.send_signal(2)                     # Ctrl-C
        out += recorder.communicate(timeout=60)[0]
    assert "recording 1 camera(s)" in out, out
    as_root = _printed(out, "as root:")             # from the web process (python -m firmware.cli)
    other = _printed(out, "other commands:")

    first = as_root if os.geteuid() == 0 else add_technical
    made = _shell(first.replace("NAME", "t.admin"), NVR_NEW_PASSWORD=PASSWORD)
    assert made.returncode == 0, (first, made.stderr)
    made = _shell(add_manager.replace("NAME", "m.manager"), NVR_NEW_PASSWORD=PASSWORD)
    assert made.returncode == 0, (add_manager, made.stderr)
    listed = _shell(other.split(" COMMAND")[0] + " user list")
    assert listed.returncode == 0, (other, listed.stderr)
    assert "t.admin" in listed.stdout and "m.manager" in listed.stdout


def test_with_the_venv_active_the_printed_commands_say_nvr(tmp_path):
    from conftest import INIT_FLAGS
    active = f"{NVR.parent}:{NO_VENV_PATH}"                 # what `. .venv/bin/activate` does
    init = _shell(f"nvr init {tmp_path / 'dev'} {' '.join(INIT_FLAGS)}", PATH=active)
    assert init.returncode == 0, init.stderr
    start = _printed(init.stdout, "start the recorder with:")
    assert start.startswith("nvr --config "), start
    check = _shell(start.replace(" run", " config check"), PATH=active)
    assert check.returncode == 0 and ": OK, 1 camera(s)" in check.stdout, check.stderr
