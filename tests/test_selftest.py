"""`nvr selftest` (issue 14 item 6): each check's pass and its fail, through real `nvr selftest`
processes, on this machine's twins: the synthetic camera, gpiozero's MockFactory, a real
`nvr exportd` (or none), tmpfs mounts for the data disk, the timedatectl seam of clock.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT, write_config
from firmware.config import load

FIELDS = {"name", "status", "finding", "action"}


def _device(tmp_path: Path, **kw) -> Path:
    """A configuration (one synthetic camera 320x240) with its three keys made as the
    recorder and the web make them, the key directory 0700 as keys.py makes it."""
    config = write_config(tmp_path, **kw)
    cfg = load(config)
    from firmware.governance.service import Governance
    from firmware.storage.store import EncryptedStore
    EncryptedStore.from_config(cfg)                      # the master key
    Governance.open(cfg).close()                          # the logbook's keys
    os.chmod(cfg.storage.key_dir, 0o700)
    return config


def _fake_timedatectl(tmp_path: Path, answer: str) -> Path:
    """The seam of system/clock.py: a `timedatectl` that answers NTPSynchronized=`answer`."""
    script = tmp_path / f"timedatectl-{answer}"
    script.write_text(f"#!/bin/sh\necho {answer}\n")
    script.chmod(0o755)
    return script


def selftest(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("NVR_EXPORTD_SOCKET", "NVR_RTC", "NVR_TIMEDATECTL",
                            "GPIOZERO_PIN_FACTORY")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                           "selftest", *args], capture_output=True, text=True, env=environ,
                          cwd=ROOT, timeout=120)


def rows(done: subprocess.CompletedProcess) -> dict[str, dict]:
    parsed = json.loads(done.stdout)
    assert isinstance(parsed, list) and all(set(r) == FIELDS for r in parsed), parsed
    return {r["name"]: r for r in parsed}


@contextmanager
def tmpfs(path: Path, size: str):
    """A tmpfs of `size` mounted at `path`: a data disk of a known size."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextmanager
def exportd(config: Path, sock: Path):
    """The real `nvr exportd` on its own socket, as tests/test_exportd.py starts it."""
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "exportd", "--socket", str(sock)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(500):
            if sock.exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.02)
        assert sock.exists(), proc.communicate(timeout=5)
        yield proc
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


# --- camera and encoder -------------------------------------------------------------------------

def test_camera_and_encoder_pass_with_the_synthetic_camera(tmp_path):
    done = selftest(_device(tmp_path), "--json", "--only", "camera,encoder")
    assert done.returncode == 0, done.stdout + done.stderr
    found = rows(done)
    assert list(found) == ["camera", "encoder"]
    assert found["camera"]["status"] == "ok" and "cam 320x240" in found["camera"]["finding"]
    assert "H.264 packets" in found["camera"]["finding"]
    assert found["encoder"]["status"] == "ok"
    assert "H.264, no audio" in found["encoder"]["finding"]
    assert "cam 320x240@25" in found["encoder"]["finding"]


def test_a_camera_source_that_cannot_open_fails_the_camera_check(tmp_path):
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video, a readable file all the same" * 100)
    config = _device(tmp_path, source=f'source = "file"\npath = "{junk}"')
    done = selftest(config, "--only", "camera")
    assert done.returncode == 1, done.stdout + done.stderr
    row = done.stdout.splitlines()[1]
    assert row.split()[:2] == ["camera", "FAIL"]
    assert "cannot be opened" in row and "junk.avi" in row
    assert "what to do:" in done.stdout and "FAILED" in done.stdout


# --- disk ---------------------------------------------------------------------------------------

def test_disk_passes_on_a_disk_with_room_and_leaves_no_file(tmp_path):
    """Room as `nvr sizing` computes it (system/sizing.py): 3 days at 250 kbit/s fit on 8 GiB
    at 30% of the time with motion (5.9 GB), not when it records all the time (9.7 GB)."""
    with tmpfs(tmp_path / "data", "8g") as data:
        config = _device(tmp_path, storage="retention_days = 3",
                         camera_extra="bitrate_kbps = 250")
        done = selftest(config, "--json", "--only", "disk")
        assert done.returncode == 0, done.stdout + done.stderr
        row = rows(done)["disk"]
        assert row["status"] == "ok"
        assert "needed for 3 days at 30% of the time with motion (nvr sizing" in row["finding"]
        assert "at least 4x" in row["finding"]
        continuous = selftest(config, "--json", "--only", "disk", "--motion-share", "1")
        assert continuous.returncode == 1
        assert "at 100% of the time with motion" in rows(continuous)["disk"]["finding"]
        assert not [p for p in data.iterdir() if p.name.startswith(".selftest")]


def test_disk_fails_on_a_tiny_data_disk_and_does_not_write_it_full_R42(tmp_path):
    """32 MB: the room fails; the speed is not measured, as a test file would take the disk
    past its high-water mark (the store then erases footage) or full."""
    with tmpfs(tmp_path / "data", "32m") as data:
        config = _device(tmp_path)
        done = selftest(config, "--json", "--only", "disk")
        assert done.returncode == 1, done.stdout + done.stderr
        row = rows(done)["disk"]
        assert row["status"] == "fail"
        assert "needed for 28 days" in row["finding"]
        assert "write speed not measured" in row["finding"] and "R-42" in row["finding"]
        assert "No space left" not in row["finding"]
        assert "larger data disk" in row["action"]
        assert not [p for p in data.iterdir() if p.name.startswith(".selftest")]


def test_disk_fails_when_the_bitrate_asks_more_than_the_disk_holds(tmp_path):
    with tmpfs(tmp_path / "data", "8g"):
        config = _device(tmp_path, camera_extra="bitrate_kbps = 25000")
        row = rows(done := selftest(config, "--json", "--only", "disk"))["disk"]
        assert done.returncode == 1 and row["status"] == "fail"
        assert "25,000 kbit/s" in row["finding"] and "writes" not in row["finding"]


# --- keys (R-82) --------------------------------------------------------------------------------

def test_keys_pass_and_their_content_is_never_printed(tmp_path):
    config = _device(tmp_path)
    done = selftest(config, "--json", "--only", "keys")
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows(done)["keys"]["status"] == "ok"
    for key in (tmp_path / "keys").iterdir():
        secret = key.read_bytes()
        assert secret.hex() not in done.stdout + done.stderr
        assert secret.hex().upper() not in done.stdout + done.stderr


def test_r82_a_world_readable_key_fails_the_keys_check(tmp_path):
    config = _device(tmp_path)
    (tmp_path / "keys" / "master.key").chmod(0o644)
    done = selftest(config, "--json", "--only", "keys")
    assert done.returncode == 1
    row = rows(done)["keys"]
    assert row["status"] == "fail" and "master.key is readable or writable by others" in \
        row["finding"] and "chmod 600" in row["finding"]


def test_r82_a_missing_key_and_an_open_key_directory_fail(tmp_path):
    config = _device(tmp_path)
    (tmp_path / "keys" / "logbook-mac.key").unlink()
    (tmp_path / "keys").chmod(0o755)
    row = rows(selftest(config, "--json", "--only", "keys"))["keys"]
    assert row["status"] == "fail"
    assert "logbook-mac.key is missing" in row["finding"]
    assert "is open to others" in row["finding"]


# --- clock (R-30) -------------------------------------------------------------------------------

def test_r30_clock_synchronised_with_rtc_passes_without_rtc_warns_unsynchronised_fails(tmp_path):
    config = _device(tmp_path)
    rtc = tmp_path / "rtc0"
    rtc.touch()
    yes, no = _fake_timedatectl(tmp_path, "yes"), _fake_timedatectl(tmp_path, "no")
    good = selftest(config, "--json", "--only", "clock", NVR_TIMEDATECTL=str(yes),
                    NVR_RTC=str(rtc))
    assert good.returncode == 0 and rows(good)["clock"]["status"] == "ok", good.stdout
    warned = selftest(config, "--json", "--only", "clock", NVR_TIMEDATECTL=str(yes),
                      NVR_RTC=str(tmp_path / "no-rtc"))
    assert warned.returncode == 0                        # a warning does not fail
    assert rows(warned)["clock"]["status"] == "warn"
    assert "no RTC" in rows(warned)["clock"]["finding"]
    bad = selftest(config, "--json", "--only", "clock", NVR_TIMEDATECTL=str(no),
                   NVR_RTC=str(rtc))
    assert bad.returncode == 1
    assert rows(bad)["clock"]["status"] == "fail"
    assert "not synchronised (according to timedatectl)" in rows(bad)["clock"]["finding"]


# --- gpio ---------------------------------------------------------------------------------------

GPIO = """[gpio]
enabled = true
pin_factory = "{factory}"
status_led = 17
tamper_switch = 27
"""


def test_gpio_pins_are_claimed_on_the_mock_factory(tmp_path):
    config = _device(tmp_path, extra=GPIO.format(factory="mock"))
    row = rows(done := selftest(config, "--json", "--only", "gpio"))["gpio"]
    assert done.returncode == 0 and row["status"] == "ok", row
    assert "status LED 17, tamper switch 27" in row["finding"] and "mock" in row["finding"]


def test_gpio_without_gpio_on_this_machine_is_a_skip_that_says_so(tmp_path):
    if list(Path("/dev").glob("gpiochip*")):
        pytest.skip("this machine has /dev/gpiochip*: the no-GPIO skip cannot be shown here")
    config = _device(tmp_path, extra=GPIO.format(factory="auto"))
    row = rows(done := selftest(config, "--json", "--only", "gpio"))["gpio"]
    assert done.returncode == 0
    assert row["status"] == "skip" and row["finding"].startswith("no GPIO on this machine")


# --- exportd ------------------------------------------------------------------------------------

def test_exportd_answering_list_passes_and_its_absence_fails_with_what_to_do(tmp_path):
    config = _device(tmp_path)
    sock = tmp_path / "run" / "exportd.sock"
    absent = selftest(config, "--only", "exportd", NVR_EXPORTD_SOCKET=str(sock))
    assert absent.returncode == 1
    assert "exportd is not running" in absent.stdout
    assert "what to do: systemctl start nvr-exportd" in absent.stdout
    with exportd(config, sock):
        done = selftest(config, "--json", "--only", "exportd", NVR_EXPORTD_SOCKET=str(sock))
    assert done.returncode == 0, done.stdout + done.stderr
    row = rows(done)["exportd"]
    assert row["status"] == "ok" and str(sock) in row["finding"]


# --- units, the whole run, exit codes -----------------------------------------------------------

def test_units_skip_when_systemd_is_not_pid_1(tmp_path):
    system = subprocess.run(["systemctl", "is-system-running"], capture_output=True,
                            text=True).stdout.strip() if shutil.which("systemctl") else ""
    if system not in ("", "offline"):
        pytest.skip(f"systemd runs this machine ({system}): the skip cannot be shown here")
    row = rows(selftest(_device(tmp_path), "--json", "--only", "units"))["units"]
    assert row["status"] == "skip" and "systemd is not PID 1" in row["finding"]


def _fake_systemctl(tmp_path: Path, inactive: str = "") -> Path:
    """The seam NVR_SYSTEMCTL: a `systemctl` of a booted system on which every unit is active
    and enabled but `inactive`, which is inactive (and disabled)."""
    script = tmp_path / "systemctl"
    script.write_text(f"""#!/bin/sh
case "$1 $2" in
  "is-system-running ") echo running ;;
  "is-active {inactive}") echo inactive; exit 3 ;;
  "is-enabled {inactive}") echo disabled; exit 1 ;;
  is-active*) echo active ;;
  is-enabled*) echo enabled ;;
esac
""")
    script.chmod(0o755)
    return script


def test_units_active_and_enabled_pass_an_inactive_unit_fails_and_is_named(tmp_path):
    config = _device(tmp_path)
    good = selftest(config, "--json", "--only", "units",
                    NVR_SYSTEMCTL=str(_fake_systemctl(tmp_path)))
    assert good.returncode == 0, good.stdout + good.stderr
    assert rows(good)["units"]["status"] == "ok"
    assert "nvr-recorder.service, nvr-web.service, nvr-exportd.service" in \
        rows(good)["units"]["finding"]
    bad = selftest(config, "--json", "--only", "units",
                   NVR_SYSTEMCTL=str(_fake_systemctl(tmp_path, "nvr-web.service")))
    assert bad.returncode == 1
    row = rows(bad)["units"]
    assert row["status"] == "fail"
    assert row["finding"] == "nvr-web.service is inactive and disabled"
    assert row["action"].startswith("systemctl enable --now nvr-web.service;")


# --- the camera while the recorder runs (readiness's check) -------------------------------------

def test_while_the_recorder_runs_the_camera_check_asks_the_recorder(tmp_path):
    """The recorder holds the cameras (a Pi's camera opens once): the check reuses /readyz's
    recorder_problems on the recorder's status instead of opening the camera again; a camera
    that stalls (the synthetic camera's freeze file) fails it."""
    freeze = tmp_path / "freeze"
    config = _device(tmp_path, camera_extra=f'freeze_file = "{freeze}"')
    recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run", "--no-web"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    try:
        row = {}
        for _ in range(60):                      # until the recorder answers and records
            row = rows(selftest(config, "--json", "--only", "camera"))["camera"]
            if "running recorder" in row["finding"] and row["status"] == "ok" \
                    or recorder.poll() is not None:
                break
            threading.Event().wait(0.5)
        assert row.get("status") == "ok", (row, recorder.poll())
        assert "the running recorder holds the 1 camera(s)" in row["finding"]
        freeze.touch()                           # the camera stalls
        for _ in range(60):
            row = rows(selftest(config, "--json", "--only", "camera"))["camera"]
            if row["status"] == "fail" or recorder.poll() is not None:
                break
            threading.Event().wait(0.5)
        assert row["status"] == "fail", (row, recorder.poll())
        assert "camera cam delivered no frame for more than 10 seconds" in row["finding"]
        assert "check the camera and its cable" in row["action"]
    finally:
        recorder.terminate()
        recorder.wait(30)


def test_the_whole_table_every_check_once_exit_1_on_a_fail(tmp_path):
    """Every check runs by default, in its order, and prints its row; exportd is absent here,
    so the run fails (exit 1) and says it."""
    config = _device(tmp_path)
    done = selftest(config, NVR_EXPORTD_SOCKET=str(tmp_path / "none.sock"))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "FINDING"]
    names = [line.split()[0] for line in lines[1:-1] if not line.startswith(" ")]
    assert names == ["camera", "encoder", "disk", "keys", "clock", "gpio", "exportd", "units"]
    assert lines[-1].startswith("selftest: ") and lines[-1].endswith("FAILED")


def test_an_unknown_check_name_is_a_usage_error_that_lists_the_checks(tmp_path):
    done = selftest(_device(tmp_path), "--only", "camera,coffee")
    assert done.returncode == 2
    assert "unknown check(s) coffee" in done.stderr and "exportd" in done.stderr


def test_a_camera_that_may_not_record_is_not_switched_on_before_the_dpia(tmp_path):
    """The introduction: the DPIA "wordt uitgevoerd voordat de camera's worden ingeschakeld".
    Without it the check opens no camera (a source that would fail to open is not even
    tried) and says why; a skip, not a failure of the hardware."""
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 100)
    config = _device(tmp_path, source=f'source = "file"\npath = "{junk}"', introduction="")
    done = selftest(config, "--json", "--only", "camera")
    assert done.returncode == 0, done.stdout + done.stderr
    row = rows(done)["camera"]
    assert row["status"] == "skip" and "cam not switched on" in row["finding"]
    assert "DPIA" in row["finding"] and "cannot be opened" not in row["finding"]


@contextmanager
def passwd_with_service_user(tmp_path: Path, uid: int = 64999):
    """This machine's /etc/passwd with the user nvr-recorder added, bind-mounted over
    /etc/passwd in a mount namespace of the selftest's own: the device's users, without
    touching this machine's."""
    passwd = tmp_path / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text()
                      + f"nvr-recorder:x:{uid}:{uid}:nvr recorder:/var/lib/nvr:/sbin/nologin\n")
    probe = subprocess.run(["unshare", "--mount", "sh", "-c",
                            f"mount --bind {passwd} /etc/passwd && getent passwd nvr-recorder"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here (needs root): {probe.stderr.strip()}")
    yield ["unshare", "--mount", "sh", "-c",
           f'mount --bind {passwd} /etc/passwd && exec "$@"', "sh"]


def test_r82_on_a_device_the_keys_belong_to_nvr_recorder(tmp_path):
    """Where the user nvr-recorder exists, a key of another owner (root's, made by a `sudo nvr`
    before the recorder's first start) fails and says the chown; nvr-recorder's passes."""
    config = _device(tmp_path)
    with passwd_with_service_user(tmp_path) as prefix:
        command = [*prefix, sys.executable, "-m", "firmware.cli", "--config", str(config),
                   "selftest", "--json", "--only", "keys"]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        row = rows(done)["keys"]
        assert "master.key belongs to uid 0, not to nvr-recorder" in row["finding"]
        assert "chown nvr-recorder:nvr" in row["finding"]
        for key in (tmp_path / "keys").iterdir():
            os.chown(key, 64999, 64999)
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "owned by nvr-recorder" in rows(done)["keys"]["finding"]


def test_disk_warns_without_measuring_when_the_store_is_near_its_mark_R42(tmp_path):
    """A disk that holds the store but has footage up to 16 MB below the high-water mark (a
    real ext4, the footage an fallocated file in data_dir): the room is fine, the speed is not
    measured (a test file there would make the recorder erase footage), a warning, exit 0."""
    from test_redteam14_sizing import ext4_disk
    with ext4_disk(tmp_path / "data", 8 * 2**30) as data:
        config = _device(tmp_path, storage="retention_days = 3",
                         camera_extra="bitrate_kbps = 250")
        usage = shutil.disk_usage(data)
        footage = usage.total * 90 // 100 - (usage.total - usage.free) - 16 * 2**20
        subprocess.run(["fallocate", "-l", str(footage), str(data / "footage")], check=True)
        done = selftest(config, "--json", "--only", "disk")
        row = rows(done)["disk"]
        assert done.returncode == 0 and row["status"] == "warn", done.stdout
        assert "write speed not measured" in row["finding"] and "R-42" in row["finding"]
