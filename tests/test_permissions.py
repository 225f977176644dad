"""Each service its own user; only the recorder owns the data directory (issue 12 item 1, R-82).

The design (docs/units.md): users nvr-recorder and nvr-web share the group nvr; the data and
key directories are setgid to nvr, so what either makes there belongs to the group, and the
store makes its key files 0640 there instead of 0600 (firmware/storage/sharing.py). Segments
live in a directory only the recorder may write; the data directory is sticky, so the web can
make its SQLite -wal/-shm there but cannot rename what the recorder made.

The first tests run as any user. The device test needs root: it makes the users with the
real `systemd-sysusers --root`, the directories with the real `systemd-tmpfiles --root`, and
runs the real `nvr` as each user with `setpriv`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from firmware.governance import db as gdb
from firmware.governance.logbook import DeviceSigner, Logbook
from firmware.storage.keys import FileKeyProvider, KeyProblem

from conftest import FOOTAGE, PASSWORD, ROOT, render_scene, write_config

SYSTEMD = ROOT / "systemd"
NOBODY = 65534


def shared_dir(path: Path) -> Path:
    """A directory as tmpfiles.d makes the key directory on a device: setgid, group rwx."""
    path.mkdir()
    path.chmod(0o2770)
    return path


# --- the modes the store makes (any user) ----------------------------------------------------

def test_master_key_in_a_plain_directory_stays_owner_only_R82(tmp_path):
    """Backwards compatible: a key directory that is not shared keeps 0600 and refuses 0640."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    FileKeyProvider(keys).create()
    key = keys / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o640)
    with pytest.raises(KeyProblem, match="readable by others"):
        FileKeyProvider(keys).load()


def test_master_key_in_a_shared_key_directory_is_group_readable_R82(tmp_path):
    keys = shared_dir(tmp_path / "keys")
    key = FileKeyProvider(keys).create()
    path = keys / "master.key"
    assert path.stat().st_mode & 0o777 == 0o640
    assert FileKeyProvider(keys).load() == key
    path.chmod(0o644)                      # others: still refused
    with pytest.raises(KeyProblem, match="readable by others"):
        FileKeyProvider(keys).load()
    path.chmod(0o660)                      # the group may read, never write
    with pytest.raises(KeyProblem, match="readable by others"):
        FileKeyProvider(keys).load()


def test_logbook_keys_and_heads_in_a_shared_key_directory_are_group_readable_R50(tmp_path):
    keys = shared_dir(tmp_path / "keys")
    logbook = Logbook(gdb.connect(tmp_path / "data"), DeviceSigner(keys))
    logbook.append("usage", "a", "login")
    for name in ("logbook-mac.key", "device-signing.key", "shared/logbook-usage.signed-head"):
        assert (keys / name).stat().st_mode & 0o777 == 0o640, name


# --- the device: real users, real tmpfiles, real processes (root) ---------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: makes users with systemd-sysusers --root and runs "
    "nvr as them through setpriv (run the suite as root, as .ci/run does)")


def _ids(root: Path) -> dict:
    """uid, gid and groups of each user systemd-sysusers made in root/etc."""
    groups = {}
    for line in (root / "etc" / "group").read_text().splitlines():
        name, _, gid, members = line.split(":")
        groups[name] = (int(gid), members.split(",") if members else [])
    users = {}
    for line in (root / "etc" / "passwd").read_text().splitlines():
        name, _, uid, gid, *_ = line.split(":")
        extra = [g for g, (_, members) in groups.items() if name in members]
        users[name] = {"uid": int(uid), "gid": int(gid),
                       "groups": [int(gid)] + [groups[g][0] for g in extra]}
    return {"users": users, "nvr_gid": groups["nvr"][0]}


class Device:
    """A root directory laid out by the project's sysusers.d and tmpfiles.d files."""

    def __init__(self, root: Path):
        self.root = root
        for kind in ("sysusers.d", "tmpfiles.d"):
            target = root / "usr" / "lib" / kind
            target.mkdir(parents=True)
            shutil.copy(SYSTEMD / kind / "nvr.conf", target / "nvr.conf")
        (root / "etc").mkdir()
        subprocess.run(["systemd-sysusers", f"--root={root}", "nvr.conf"], check=True,
                       capture_output=True)
        self.ids = _ids(root)
        self.data = root / "var" / "lib" / "nvr" / "data"
        self.keys = root / "var" / "lib" / "nvr" / "keys"
        self.index = root / "var" / "lib" / "nvr" / "index"      # storage.index_dir
        etc = root / "etc" / "nvr"
        etc.mkdir()
        text = write_config(etc).read_text()
        shutil.rmtree(etc / "data")
        shutil.rmtree(etc / "keys")
        self.config = etc / "nvr.toml"
        self.config.write_text(text.replace('data_dir = "data"', f'data_dir = "{self.data}"')
                               .replace('key_dir = "keys"', f'key_dir = "{self.keys}"\n'
                                                            f'index_dir = "{self.index}"'))
        subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create", "nvr.conf"],
                       check=True, capture_output=True)

    def as_user(self, user: str | int) -> list[str]:
        """setpriv for `user` (a name from sysusers, or a bare uid in no group)."""
        if isinstance(user, int):
            uid, gid, groups = user, user, [user]
        else:
            ids = self.ids["users"][user]
            uid, gid, groups = ids["uid"], ids["gid"], ids["groups"]
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}",
                f"--groups={','.join(map(str, groups))}", "--inh-caps=-all"]

    @staticmethod
    def env(extra: dict | None = None) -> dict:
        return {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1", **(extra or {})}

    def run(self, user: str | int, *cmd: str, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """`cmd` as `user`, umask 0027 as the units set it, without capabilities."""
        return subprocess.run([*self.as_user(user), *cmd], capture_output=True,
                              env=self.env(env), cwd=ROOT, umask=0o027, timeout=timeout)

    def start(self, user: str, *args: str) -> subprocess.Popen:
        """`nvr ARGS` as `user`, running; its output (both streams) line by line."""
        return subprocess.Popen(
            [*self.as_user(user), sys.executable, "-m", "firmware.cli", "--config",
             str(self.config), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=ROOT, umask=0o027, env=self.env())

    def nvr(self, user: str | int, *args: str, env: dict | None = None):
        return self.run(user, sys.executable, "-m", "firmware.cli", "--config",
                        str(self.config), *args, env=env)


@pytest.fixture(scope="module")
def device():
    if os.geteuid() != 0:
        pytest.skip("needs root: makes users with systemd-sysusers --root and runs nvr as "
                    "them through setpriv")
    # The service users must reach this checkout and its Python, as on a device (/opt/nvr).
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                            "--clear-groups", sys.executable, "-c", "import firmware.cli"],
                           capture_output=True, text=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"the checkout {ROOT} or its Python {sys.executable} is closed to other "
                    f"users, so nvr cannot run as the service users: {probe.stderr.strip()[-300:]}")
    # Not under pytest's own temporary directory: that one is 0700, closed to the users.
    root = Path(tempfile.mkdtemp(prefix="nvr-units-"))
    root.chmod(0o755)
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def _clip(device: Device) -> Path:
    from firmware.capture.synthetic import Mover, Scene
    scene = Scene(320, 240, 25, [Mover(1, 7, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2,
                  clock=False)
    clip = render_scene(scene, 25 * 6, device.root / "clip.mp4")
    clip.chmod(0o644)
    return clip


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    return result


ATTEMPTS = r"""
import json, os, sys
seg, data, index = sys.argv[1], sys.argv[2], sys.argv[3]
folder = os.path.dirname(seg)
def attempt(fn):
    try:
        fn()
        return "done"
    except PermissionError:
        return "refused"
def replace():
    spare = os.path.join(data, "spare.seg")
    open(spare, "wb").close()             # the sticky data directory allows this much
    try:
        os.replace(spare, seg)
    finally:
        os.unlink(spare)
print(json.dumps({
    "read": attempt(lambda: open(seg, "rb").read(16)),
    "unlink": attempt(lambda: os.unlink(seg)),
    "write": attempt(lambda: open(seg, "r+b")),
    "truncate": attempt(lambda: os.truncate(seg, 0)),
    "chmod": attempt(lambda: os.chmod(seg, 0o666)),
    "create beside": attempt(lambda: open(os.path.join(folder, "forged.seg"), "xb")),
    "replace": attempt(replace),
    "rename its folder": attempt(lambda: os.rename(folder, folder + ".old")),
    "rename segments": attempt(lambda: os.rename(os.path.join(data, "segments"),
                                                 os.path.join(data, "segments.old"))),
    "unlink index": attempt(lambda: os.unlink(os.path.join(index, "index.sqlite3"))),
}))
"""


@needs_root
def test_a_master_key_of_another_user_in_a_shared_directory_is_refused_R82(tmp_path):
    """Group-readable is allowed there, a key someone else planted is not."""
    keys = shared_dir(tmp_path / "keys")
    FileKeyProvider(keys).create()
    os.chown(keys / "master.key", NOBODY, -1)
    with pytest.raises(KeyProblem, match="belongs to uid 65534"):
        FileKeyProvider(keys).load()


@needs_root
def test_each_service_its_own_user_only_the_recorder_writes_segments(device):
    users = device.ids["users"]
    assert users["nvr-recorder"]["uid"] != users["nvr-web"]["uid"]
    assert device.ids["nvr_gid"] in users["nvr-web"]["groups"]

    # The recorder records (ingest is the recorder's own path into the store).
    start = (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat()
    _ok(device.nvr("nvr-recorder", "ingest", str(_clip(device)), "--camera", "cam",
                   "--start", start))

    # The administrator makes the first account as root (`sudo nvr ... user add`, sudo's
    # umask 0022, docs/units.md): what root makes must not lock either service out.
    _ok(subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(device.config),
                        "user", "add", "t.admin", "--role", "technisch-beheerder"],
                       capture_output=True, cwd=ROOT, umask=0o022,
                       env={**os.environ, "NVR_NEW_PASSWORD": PASSWORD}))

    # The web user: makes accounts (governance rows), lists, plays a segment (the playback
    # is a logbook entry), verifies the logbook.
    _ok(device.run("nvr-web", sys.executable, "-c",
                   "import sys; sys.path.insert(0, 'tests'); from pathlib import Path; "
                   f"from conftest import staff; staff(Path({str(device.config)!r}))"))
    rows = json.loads(_ok(device.nvr("nvr-web", "recordings", "list", "--json")).stdout)
    assert rows, "the recorder stored no segment"
    env = {"NVR_PASSWORD": PASSWORD}
    played = _ok(device.nvr("nvr-web", "segment", "play", rows[0]["path"], *FOOTAGE, env=env))
    assert played.stdout[4:8] == b"ftyp"
    verified = json.loads(_ok(device.run("nvr-web", sys.executable, "-c", (
        "import json; from firmware.config import load; "
        "from firmware.governance.service import Governance; "
        f"gov = Governance.open(load({str(device.config)!r})); "
        "print(json.dumps(gov.logbook.verify().to_json()))"))).stdout)
    assert verified["ok"] and verified["entries"]["usage"] > 1, verified
    for user in ("nvr-web", "nvr-recorder"):     # the signed heads: each reads the other's
        _ok(device.nvr(user, "logbook", "head", "--json"))

    # ... but cannot add, change, replace or delete a segment file.
    segment = Path(rows[0]["path"])
    before = hashlib.sha256(segment.read_bytes()).hexdigest()
    tried = json.loads(_ok(device.run("nvr-web", sys.executable, "-c", ATTEMPTS, str(segment),
                                      str(device.data), str(device.index))).stdout)
    assert tried == {"read": "done", "unlink": "refused", "write": "refused",
                     "truncate": "refused", "chmod": "refused", "create beside": "refused",
                     "replace": "refused", "rename its folder": "refused",
                     "rename segments": "refused", "unlink index": "refused"}, tried
    assert hashlib.sha256(segment.read_bytes()).hexdigest() == before

    # Nobody else reads anything: configuration, index, segments, keys.
    tried = json.loads(_ok(device.run(NOBODY, sys.executable, "-c", r"""
import json, os, sys
def attempt(fn):
    try:
        fn()
        return "done"
    except PermissionError:
        return "refused"
print(json.dumps({p: attempt(lambda p=p: open(p, "rb").read(1)) for p in sys.argv[1:]}))
""", str(device.config), str(device.index / "index.sqlite3"), str(segment),
        str(device.keys / "master.key"), str(device.keys / "logbook-mac.key"))).stdout)
    assert set(tried.values()) == {"refused"}, tried

    # The recorder goes on after the web wrote the logbook heads and the index: it reads what
    # the web made, and owns the store (reconcile, sweep) once more.
    _ok(device.nvr("nvr-recorder", "ingest", str(device.root / "clip.mp4"), "--camera", "cam",
                   "--start", (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()))
    checked = json.loads(_ok(device.nvr("nvr-recorder", "recordings", "verify", "--json")
                             ).stdout)
    assert checked["checked"] >= 2 and not checked["problems"] and checked["owner"], checked

    # What is in the data and key directories: the group nvr, nothing for others; segments
    # belong to the recorder and nobody in the group may write them.
    recorder = users["nvr-recorder"]["uid"]
    for path in [*device.data.rglob("*"), *device.index.rglob("*"), *device.keys.rglob("*")]:
        st = path.lstat()
        assert st.st_mode & 0o007 == 0, f"{path} is open to others: {stat.filemode(st.st_mode)}"
        assert st.st_gid == device.ids["nvr_gid"], f"{path}: group {st.st_gid}"
    for path in (device.data / "segments").rglob("*"):
        st = path.lstat()
        assert st.st_uid == recorder and st.st_mode & 0o022 == 0, (
            f"{path}: {stat.filemode(st.st_mode)} uid {st.st_uid}")


@needs_root
def test_the_web_interface_starts_as_its_own_user(device):
    """`nvr web` as nvr-web: makes its TLS certificate and session secret in the shared key
    directory, reads the master key the recorder made, and answers /healthz."""
    if not (device.keys / "master.key").exists():
        _ok(device.nvr("nvr-recorder", "ingest", str(_clip(device)), "--camera", "cam"))
    proc = device.start("nvr-web", "web")
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("web interface:"):
                break
        found = re.search(r"https://\S+", "".join(seen))
        assert found, "".join(seen)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        url = found.group(0).rstrip("/") + "/healthz"
        with urllib.request.urlopen(url, context=context, timeout=30) as answer:
            assert answer.status == 200
    finally:
        proc.terminate()
        proc.wait(30)
    web = device.ids["users"]["nvr-web"]["uid"]
    made = [p for p in device.keys.iterdir() if p.stat().st_uid == web]
    assert made, "the web interface made nothing in the key directory"
    for path in made:
        assert path.stat().st_mode & 0o077 in (0o000, 0o040), path


@needs_root
def test_the_running_recorder_gives_the_web_user_live_frames(device):
    """`nvr run --no-web` as nvr-recorder (the unit's command) takes the store and binds its
    live socket in the sticky data directory; nvr-web reads the status and a live frame."""
    proc = device.start("nvr-recorder", "run", "--no-web")
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("recording "):
                break
        assert any(line.startswith("recording 1 camera") for line in seen), "".join(seen)
        live = device.data / "live.sock"
        got = json.loads(_ok(device.run("nvr-web", sys.executable, "-c", (
            "import json, sys; from pathlib import Path; "
            "from firmware.live.client import live_frames, recorder_status; "
            "t, jpeg = next(live_frames(Path(sys.argv[1]), 'cam', timeout=30)); "
            "print(json.dumps({'jpeg': jpeg[:2].hex(), "
            "'status': recorder_status(Path(sys.argv[1])) is not None}))"), str(live),
            timeout=120)).stdout)
        assert got == {"jpeg": "ffd8", "status": True}, got
        assert stat.S_ISSOCK(live.lstat().st_mode)
        assert live.lstat().st_mode & 0o007 == 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(seen) + out


MASTER_ATTEMPTS = r"""
import json, os, sys
keys = sys.argv[1]
master = os.path.join(keys, "master.key")
def attempt(fn):
    try:
        fn()
        return "done"
    except PermissionError:
        return "refused"
    except OSError as exc:                # gone already: an earlier attempt succeeded
        return type(exc).__name__
def replace():
    spare = os.path.join(keys, "forged.key")
    with open(spare, "wb") as f:          # the group may create its own files here
        f.write(os.urandom(32))
    try:
        os.replace(spare, master)
    finally:
        if os.path.exists(spare):
            os.unlink(spare)
print(json.dumps({
    "read": attempt(lambda: open(master, "rb").read(1)),
    "unlink": attempt(lambda: os.unlink(master)),
    "rename": attempt(lambda: os.rename(master, master + ".old")),
    "replace": attempt(replace),
    "write": attempt(lambda: open(master, "r+b")),
    "chmod": attempt(lambda: os.chmod(master, 0o600)),
}))
"""


@needs_root
def test_the_web_cannot_replace_or_delete_the_master_key_R82(device):
    """The key directory is group-writable (the web makes its TLS key, session secret and CA
    there); without the sticky bit nvr-web could unlink master.key or rename a key of its own
    over it, and a compromised web process would then have the recorder encrypt with a key it
    knows. Sticky (3770): each user may replace and delete only its own files, the recorder
    (the directory's owner) any. Both services still write the files they share (logbook
    heads, the recorded configuration) in keys/shared/ (2770)."""
    master = device.keys / "master.key"
    if not master.exists():
        _ok(device.run("nvr-recorder", sys.executable, "-c",
                       "import sys; from firmware.storage.keys import FileKeyProvider; "
                       "FileKeyProvider(sys.argv[1]).create()", str(device.keys)))
    before = master.read_bytes()
    assert master.stat().st_uid == device.ids["users"]["nvr-recorder"]["uid"]
    tried = json.loads(_ok(device.run("nvr-web", sys.executable, "-c", MASTER_ATTEMPTS,
                                      str(device.keys))).stdout)
    assert tried == {"read": "done", "unlink": "refused", "rename": "refused",
                     "replace": "refused", "write": "refused", "chmod": "refused"}, tried
    assert master.read_bytes() == before
    assert not (device.keys / "forged.key").exists()
    # the web still replaces what it shares with the recorder: a head the recorder wrote
    _ok(device.nvr("nvr-recorder", "logbook", "head", "--json"))
    _ok(device.run("nvr-recorder", sys.executable, "-c",
                   "import sys; from firmware.config import load; "
                   "from firmware.governance.service import Governance; "
                   "gov = Governance.open(load(sys.argv[1])); "
                   "gov.logbook.append('usage', 'nvr-recorder', 'test-entry')", str(device.config)))
    _ok(device.run("nvr-web", sys.executable, "-c",
                   "import sys; from firmware.config import load; "
                   "from firmware.governance.service import Governance; "
                   "gov = Governance.open(load(sys.argv[1])); "
                   "gov.logbook.append('usage', 'nvr-web', 'test-entry'); "
                   "assert gov.logbook.verify().ok", str(device.config)))
