from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from firmware.config import load
from firmware.provision import Introduction, init_device
from firmware.storage.keys import FileKeyProvider
from firmware.storage.store import EncryptedStore

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEO = ROOT.parent / "shared" / "data" / "video"
VIDEO02 = SHARED_VIDEO / "video02.avi"
VIDEO03 = SHARED_VIDEO / "video03.avi"


# The store's high-water mark by default (nvr init: high_water_percent = 90), counted as the store
# counts (`EncryptedStore.disk_used`: everything not free). Above it every test device evicts or
# refuses what it records, and tests fail far from the cause; a little below it (margin for what
# the tests write) the run stops at once, saying so.
HOST_DISK_LIMIT = 0.87


def _clear_stale_faketime_files() -> None:
    """Debian's `faketime` wrapper makes /dev/shm/sem.faketime_sem_PID and faketime_shm_PID
    with O_EXCL and removes them when it ends; a wrapper killed (a test's timeout) leaves them,
    and a later wrapper that gets the same pid then stops with "sem_open: File exists". Only
    the files of processes no longer alive are removed."""
    shm = Path("/dev/shm")
    for prefix in ("sem.faketime_sem_", "faketime_shm_"):
        for path in shm.glob(prefix + "*"):
            pid = path.name[len(prefix):]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                path.unlink(missing_ok=True)


def pytest_sessionstart(session) -> None:
    import shutil
    import tempfile
    _clear_stale_faketime_files()
    usage = shutil.disk_usage(tempfile.gettempdir())
    used = (usage.total - usage.free) / usage.total
    if used > HOST_DISK_LIMIT:
        pytest.exit(f"the disk of {tempfile.gettempdir()} is {used:.0%} used (counted as the "
                    f"store counts: all but the free bytes); the test devices record on it and "
                    f"evict above 90 %: free space (old VM images in ~/.cache/nvr-vm, old "
                    f"checkouts) and run again", returncode=3)


def shared_clip(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real footage {path} is not present (it lives in ../shared/data/video)")
    return path


@pytest.fixture
def device(tmp_path):
    """A device directory from `nvr init`, loaded: no staff in view, the DPIA done."""
    path = init_device(tmp_path / "dev", introduction=INIT_ANSWERS)
    return load(path)


# The introduction of the regulation: a DPIA before the cameras are switched on, and the signs
# at the entrances (art. 6 lid 3). Pass introduction="" for a device without them.
INTRODUCTION = """[introduction]
dpia_reference = "DPIA-2026-07"
dpia_date = "2026-03-02"
signage = ["hoofdingang", "ingang Raadhuisplein"]
"""


# What `nvr init` asks, answered for the tests (art. 11, the introduction, art. 6 lid 3).
INIT_ANSWERS = Introduction(staff_in_view=False, dpia_reference="DPIA-2026-07",
                            dpia_date="2026-03-02", signage=("hoofdingang",))
INIT_FLAGS = ("--staff-in-view", "no", "--dpia-reference", "DPIA-2026-07", "--dpia-date",
              "2026-03-02", "--signage", "hoofdingang")


def write_config(tmp_path: Path, camera_extra: str = "", motion: str = "",
                 storage: str = "", source: str = 'source = "synthetic"',
                 data_dir: str = "data", extra: str = "",
                 introduction: str = INTRODUCTION) -> Path:
    """A small configuration for tests: one camera 'cam', 320x240, without staff in view
    unless `camera_extra` says so (art. 11), and the DPIA of `introduction`."""
    if "staff_in_view" not in camera_extra:
        camera_extra = "staff_in_view = false\n" + camera_extra
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "keys").mkdir(exist_ok=True)
    text = f"""
[device]
id = "test-device"

[storage]
data_dir = "{data_dir}"
key_dir = "keys"
{storage}

[web]
port = 0
footage_console = true

[[cameras]]
id = "cam"
name = "Testcamera"
location = "Gemeentehuis Soest, testgang"
{source}
width = 320
height = 240
fps = 25
lores_width = 320
lores_height = 240
{camera_extra}

[cameras.motion]
{motion}

{introduction}
{extra}
"""
    path = tmp_path / "nvr.toml"
    path.write_text(text)
    return path


def nvr(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `nvr` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "firmware.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def render_scene(scene, frames: int, path: Path) -> Path:
    """Write a scene to a near-lossless H.264 file, the input for `nvr ingest` tests."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(scene.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
        stream.options = {"crf": "4", "preset": "ultrafast"}
        buf = np.empty((scene.height * 3 // 2, scene.width), np.uint8)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(scene.i420(i, buf), format="yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_store(root: Path, *, retention_days: int = 28, high_water_percent: int = 90,
               data_dir: Path | None = None, owner: bool = False) -> EncryptedStore:
    """A real encrypted store with its master key in root/keys; a reader unless `owner`."""
    return EncryptedStore(data_dir or root / "data", "test-device",
                          FileKeyProvider(root / "keys"), retention_days=retention_days,
                          high_water_percent=high_water_percent, owner=owner)


def decrypt_to(store: EncryptedStore, segment_id: str, path: Path) -> Path:
    with open(path, "wb") as f:
        for chunk in store.read_segment(segment_id):
            f.write(chunk)
    return path


def recordings(config: Path, *extra: str, clock: str | None = None) -> list[dict]:
    """`nvr recordings list`; with `clock` (e.g. "-29d") in a process whose clock faketime
    moved, which sees footage as it was then."""
    cmd = [sys.executable, "-m", "firmware.cli", "--config", str(config), "recordings", "list",
           "--json", *extra]
    result = subprocess.run(["faketime", "-f", clock, *cmd] if clock else cmd,
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


PASSWORD = "a long pass phrase 42"
FOOTAGE = ("--user", "b.beheerder", "--purpose", "incident", "--reason",
           "checking the recorded output")


def staff(config: Path) -> dict:
    """Personal accounts t.admin (technisch beheerder), m.manager (manager bedrijfsvoering),
    b.beheerder and p.officer, made the way a new device makes them: the first two with their
    enrollment codes from `nvr init`, the others by t.admin and approved by m.manager (art. 2,
    art. 3.1); returns an environment with their password for `nvr`."""
    import os
    from firmware.governance.roles import Role
    from firmware.governance.service import Governance
    gov = Governance.open(load(config))
    for name, role in (("t.admin", Role.TECHNICAL), ("m.manager", Role.MANAGER)):
        if gov.accounts.get(name) is None:
            code = gov.accounts.issue_enrollment_code(role)
            gov.accounts.add(name, role, PASSWORD, enrollment_code=code)
    add_accounts(gov, {"b.beheerder": Role.BEHEERDER, "p.officer": Role.PRIVACY_OFFICER})
    gov.close()
    return {**os.environ, "NVR_PASSWORD": PASSWORD}


def new_account(accounts, name: str, role, admin, manager=None, password: str = PASSWORD):
    """An account made the only way a technisch beheerder can (R-11, art. 2): `admin` creates
    it without a password, the owner sets `password` with the one-time setup code, and
    `manager` (if given) approves it as `role`."""
    code = accounts.create(name, role, by=admin)
    accounts.reset_password(name, code, password)
    if manager is not None:
        accounts.approve(name, role=role, by=manager)


def add_accounts(gov, accounts: dict) -> None:
    """Accounts {name: Role} added by t.admin, their owner setting PASSWORD with the one-time
    setup code, and approved by m.manager where their role needs it (every role but
    technisch-beheerder, art. 2, art. 3.1)."""
    admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
    manager = None
    for name, role in accounts.items():
        if gov.accounts.get(name) is None:
            new_account(gov.accounts, name, role, admin)
        user = gov.accounts.get(name)
        if user.pending:
            manager = manager or gov.accounts.authenticate("m.manager", PASSWORD).actor()
            gov.accounts.approve(name, role=user.role, by=manager)


def decrypt_all(config: Path, rows: list[dict], out_dir: Path) -> list[Path]:
    """Decrypt every listed segment through the real `nvr segment play`, as a beheerder: the
    MP4 comes out of its pipe (stdout), the way a player would read it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = staff(config)
    paths = []
    for row in rows:
        result = subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "segment", "play", row["path"], *FOOTAGE],
                                capture_output=True, env=env, cwd=ROOT, timeout=300)
        assert result.returncode == 0, result.stderr.decode()
        out = out_dir / f"{row['id']}.mp4"          # the test's copy, for ffprobe and PyAV
        out.write_bytes(result.stdout)
        paths.append(out)
    return paths


def recorded_site(tmp: Path, accounts: dict) -> Path:
    """A device with the staff accounts, the given extra accounts ({name: Role}), an export
    directory standing in for the USB stick, and 10 s of footage on camera 'cam' recorded
    20 minutes ago; returns the configuration path."""
    from datetime import datetime, timedelta, timezone

    from firmware.capture.synthetic import Mover, Scene
    from firmware.governance.service import Governance
    config = write_config(tmp, storage="segment_seconds = 4",
                          extra='[export]\ndirectory = "usb-stand-in"')
    staff(config)
    gov = Governance.open(load(config))
    add_accounts(gov, accounts)
    gov.close()
    scene = Scene(320, 240, 25, [Mover(1, 7, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2,
                  clock=False)
    video = render_scene(scene, 25 * 10, tmp / "clip.mp4")
    start = datetime.now(timezone.utc) - timedelta(minutes=20)
    assert nvr("--config", str(config), "ingest", str(video), "--camera", "cam", "--start",
               start.isoformat()).returncode == 0
    return config


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """recorded_site with an account per role (webutil.ROLE_USERS); the Flask app and the
    configuration path."""
    from firmware.web import create_app
    from webutil import ROLE_USERS
    config = recorded_site(tmp_path_factory.mktemp("web"),
                           {name: role for role, name in ROLE_USERS.items()})
    app = create_app(load(config))
    app.config["TESTING"] = True
    return app, config
