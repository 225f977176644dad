"""The private copies of update bundles on the footage disk (red team 14c, R-42): one copy at a
time, the copies of a killed update removed by the next update command and by `nvr web` at its
start, SIGHUP and SIGTERM running the cleanup; `--system-conf` refusing a file by what it
lacks; hardware.md's checklist asking the account `beheer` only for what sudo lets it run.

Real parts: real `nvr` subprocesses, processes killed with SIGKILL while they hold a copy, real
flocks, real files; sudo as the real user beheer in tests/test_fleetrole.py's namespace."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import nvr, write_config
from test_fleetrole import _as_beheer, device, needs_root, piroot  # noqa: F401

from firmware.config import load
from firmware.system import update

ROOT = Path(__file__).resolve().parents[1]
NVR = [sys.executable, "-m", "firmware.cli"]

HOLD = """
import sys, time
from pathlib import Path
from firmware.system.update import _private_copy
with _private_copy(Path(sys.argv[1]), Path(sys.argv[2])) as copy:
    print(copy, flush=True)
    time.sleep(600)
"""


def _holder(bundle: Path, folder: Path) -> tuple[subprocess.Popen, Path]:
    """A real process that made a private copy with update.py's code and still holds it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(bundle), str(folder)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    copy = Path(proc.stdout.readline().strip())
    assert copy.is_file(), copy
    return proc, copy.parent


def _killed_copy(bundle: Path, folder: Path) -> Path:
    """What a power cut leaves: the copy of a process ended by SIGKILL (no finally ran)."""
    proc, private = _holder(bundle, folder)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert private.is_dir()
    return private


def _system_conf(tmp_path: Path, text: str = "[system]\ncompatible=nvr-test\n\n"
                                              "[keyring]\npath=keyring.pem\n") -> Path:
    conf = tmp_path / "rauc" / "system.conf"
    conf.parent.mkdir(exist_ok=True)
    (conf.parent / "keyring.pem").write_text("not read before the copy\n")
    conf.write_text(text)
    return conf


def _check(config: Path, conf: Path, bundle: Path) -> subprocess.Popen:
    return subprocess.Popen([*NVR, "--config", str(config), "update", "check", str(bundle),
                             "--stdin", "--system-conf", str(conf)], stdin=open(bundle, "rb"),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _copy_begun(proc: subprocess.Popen, data_dir: Path) -> None:
    """Wait until `proc` has begun its private copy in data_dir (or ended)."""
    deadline = time.monotonic() + 60
    while not list(data_dir.glob(update.COPY_PREFIX + "*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no copy was begun"
        time.sleep(0.001)


def _web_start(config: Path) -> list[str]:
    """What `nvr web` says until it serves (at most 50 lines); then it is stopped."""
    web = subprocess.Popen([*NVR, "--config", str(config), "web"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in web.stdout:
            lines.append(line)
            if line.startswith("web interface:") or len(lines) > 50:
                break
    finally:
        web.terminate()
        web.wait(30)
    return lines


def test_a_copy_whose_process_lives_is_kept_one_whose_process_was_killed_is_removed_R42(
        tmp_path):
    bundle = tmp_path / "b.raucb"
    bundle.write_bytes(os.urandom(1 << 16))
    folder = tmp_path / "data"
    folder.mkdir()
    alive, kept = _holder(bundle, folder)
    try:
        dead = _killed_copy(bundle, folder)
        assert update.remove_stale_copies(folder) == [dead]
        assert not dead.exists() and (kept / "bundle.raucb").is_file()
        again = _killed_copy(bundle, folder)
        following, left = _holder(bundle, folder)   # the next copy sweeps before it copies
        following.kill()
        following.wait(30)
        assert not again.exists() and kept.exists()
    finally:
        alive.kill()
        alive.wait(30)
    assert update.remove_stale_copies(folder) == sorted([kept, left])


def test_a_second_copy_while_one_is_being_made_is_refused_saying_what_to_do_R42(tmp_path):
    config = write_config(tmp_path)
    data_dir = load(config).storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    bundle = tmp_path / "b.raucb"
    bundle.write_bytes(os.urandom(1 << 16))
    with open(data_dir / update.COPY_LOCK, "a") as held:     # a copy under way elsewhere
        fcntl.flock(held, fcntl.LOCK_EX)
        done = _check(config, _system_conf(tmp_path), bundle)
        out, err = done.communicate(timeout=120)
    assert done.returncode == 1
    assert "another update check or install is copying a bundle" in err, err
    assert "try again" in err and not list(data_dir.glob(update.COPY_PREFIX + "*"))


def test_a_hangup_during_the_copy_removes_it_R42(tmp_path):
    """SIGHUP: the SSH session of `sudo nvr-admin update check` closed while it copies."""
    config = write_config(tmp_path)
    data_dir = load(config).storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    bundle = tmp_path / "big.raucb"
    with open(bundle, "wb") as f:
        f.write(os.urandom(1 << 20) * 256)
    proc = _check(config, _system_conf(tmp_path), bundle)
    _copy_begun(proc, data_dir)
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGHUP     # the signal ended it, as SystemExit
    assert not list(data_dir.glob(update.COPY_PREFIX + "*"))


def test_nvr_web_at_its_start_removes_the_copy_a_killed_update_left_R42(tmp_path):
    """nvr-web makes the copies (nvr-admin runs `nvr update` as nvr-web) and alone may remove
    them; the web starts at every boot, after any power cut."""
    config = write_config(tmp_path)
    data_dir = load(config).storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    bundle = tmp_path / "b.raucb"
    bundle.write_bytes(os.urandom(1 << 16))
    dead = _killed_copy(bundle, data_dir)
    lines = _web_start(config)
    assert any(line.startswith(f"removed {dead}:") for line in lines), lines
    assert not dead.exists()


def test_a_bundle_that_grows_during_its_copy_is_refused_and_its_copy_removed_R42(tmp_path):
    """Red team 14d: the room is asked for the size the bundle had; more is never copied."""
    config = write_config(tmp_path)
    data_dir = load(config).storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    bundle = tmp_path / "big.raucb"
    with open(bundle, "wb") as f:
        f.write(b"\1" * (256 << 20))
    proc = _check(config, _system_conf(tmp_path), bundle)
    _copy_begun(proc, data_dir)
    os.truncate(bundle, 1 << 30)                       # sparse: 1 GB at once, mid-copy
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert f"{bundle} grew while it was copied" in err and "try again" in err, err
    assert not list(data_dir.glob(update.COPY_PREFIX + "*"))


def test_a_fifo_as_update_lock_is_refused_by_update_and_skipped_by_nvr_web_R42(tmp_path):
    """Red team 14d: a named pipe planted as the lock neither hangs an update nor the web."""
    config = write_config(tmp_path)
    data_dir = load(config).storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    os.mkfifo(data_dir / update.COPY_LOCK)
    bundle = tmp_path / "b.raucb"
    bundle.write_bytes(os.urandom(1 << 16))
    check = _check(config, _system_conf(tmp_path), bundle)
    try:
        out, err = check.communicate(timeout=60)
    finally:
        check.kill()                                   # only if it hung on the pipe
        check.wait(30)
    assert f"the update lock {data_dir / update.COPY_LOCK} is not a regular file but a " \
           "named pipe (fifo)" in err and "rm " in err, err
    lines = _web_start(config)
    assert any(line.startswith("web interface:") for line in lines), lines
    assert any("copies of interrupted updates not removed now: the update lock" in line
               for line in lines), lines


def test_a_system_conf_without_a_keyring_says_which_key_is_missing(tmp_path):
    config = write_config(tmp_path)
    conf = _system_conf(tmp_path, "[system]\ncompatible=nvr-test\n")
    done = nvr("--config", str(config), "update", "check", "/etc/hostname",
               "--system-conf", str(conf))
    assert done.returncode == 1
    assert f"{conf} has no path in its [keyring] section" in done.stderr, done.stderr


@needs_root
def test_every_sudo_command_of_hardwares_checklist_runs_for_beheer_R11(device):  # noqa: F811
    """hardware.md's acceptance checklist: whatever it asks with sudo, sudo gives `beheer`
    (red team 14c found `sudo systemctl stop|start` in step 9)."""
    text = (ROOT / "hardware.md").read_text()
    checklist = text[text.index("## Hardware acceptance checklist"):]
    commands = re.findall(r"`(sudo [^`]+)`", checklist)
    assert len(commands) >= 2, commands
    for command in commands:
        done = _as_beheer(device, command.replace("sudo ", "sudo -n ", 1))
        assert done.returncode == 0, (command, done.stderr)
