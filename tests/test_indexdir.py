"""storage.index_dir: the index and governance database off the footage disk (issue 14, R-82).

index.sqlite3 holds the recording index and governance: account names, Argon2 hashes, the
logbooks with addresses and reasons, wrapped segment keys. On the image the footage disk (an
SSD at /var/lib/nvr/data) may be taken alone, so the image keeps the index on the card beside
the keys (/var/lib/nvr/index). Real configuration files, real SQLite, real `nvr` processes.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, nvr, write_config

from firmware.config import ConfigError, load, parse
from firmware.governance.roles import Role
from firmware.governance.service import Governance
from firmware.storage import index
from firmware.storage.store import EncryptedStore
from firmware.system import firstboot

IMAGE_INDEX = "/var/lib/nvr/index"


def _index_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("index.sqlite3*"))


# --- where the image puts it ------------------------------------------------------------------

def test_the_images_default_config_keeps_the_index_off_the_footage_disk_R82(tmp_path):
    """firstboot writes this configuration on a device without /etc/nvr/nvr.toml."""
    text, _origin = firstboot.new_config_text(tmp_path, "nvr-test")
    cfg = parse(text, "nvr.toml", tmp_path)
    s = cfg.storage
    assert s.index_dir == tmp_path / "var/lib/nvr/index"
    assert s.index_path == tmp_path / "var/lib/nvr/index/index.sqlite3"
    assert s.data_dir == tmp_path / "var/lib/nvr/data"
    assert s.data_dir not in s.index_dir.parents and s.index_dir != s.data_dir
    assert s.index_dir.parent == s.key_dir.parent            # on the card, beside the keys


def test_the_fleet_the_virtual_device_and_tmpfiles_agree_on_the_index_dir_R82():
    fleet = (ROOT / "image/fleet/roles/nvr/templates/nvr.toml.j2").read_text()
    assert re.search(rf'^index_dir = "{IMAGE_INDEX}"', fleet, re.M)
    vm = (ROOT / "tools/vm/provision.sh").read_text()
    assert f'index_dir = "{IMAGE_INDEX}"' in vm
    tmpfiles = (ROOT / "systemd/tmpfiles.d/nvr.conf").read_text()
    assert re.search(rf"^d {IMAGE_INDEX} +3770 nvr-recorder nvr -$", tmpfiles, re.M)
    assert re.search(rf"^f {IMAGE_INDEX}/index.sqlite3 +0660 nvr-recorder nvr -$", tmpfiles, re.M)
    assert "/var/lib/nvr/data/index" not in tmpfiles
    for unit in ("nvr-recorder.service", "nvr-web.service"):
        text = (ROOT / "systemd" / unit).read_text()
        writable = re.search(r"^ReadWritePaths=(.*)$", text, re.M).group(1).split()
        assert IMAGE_INDEX in writable, unit


# --- the key and its validation ---------------------------------------------------------------

def test_without_index_dir_the_index_stays_in_data_dir(tmp_path):
    cfg = load(write_config(tmp_path))
    assert cfg.storage.index_dir == cfg.storage.data_dir
    assert cfg.storage.index_path == tmp_path / "data" / "index.sqlite3"


@pytest.mark.parametrize("index_dir, says", [
    ('"data/index"', "lies inside storage.data_dir"),
    ('"keys"', "lie one in the other"),
    ('"keys/index"', "lie one in the other"),
    ('"."', "lie one in the other"),                  # the keys inside the index directory
    ('""', "must not be empty"),
])
def test_index_dir_is_refused_inside_data_dir_or_mixed_with_the_keys_R82(tmp_path, index_dir,
                                                                         says):
    config = write_config(tmp_path, storage=f"index_dir = {index_dir}")
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert any(p.startswith("storage.index_dir") and says in p for p in caught.value.problems), \
        caught.value.problems
    checked = nvr("--config", str(config), "config", "check")
    assert checked.returncode == 2 and "storage.index_dir" in checked.stderr


# --- a device that moves its index ------------------------------------------------------------

@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from conftest import render_scene
    from test_store import busy_scene
    return render_scene(busy_scene(12), 25 * 12, tmp_path_factory.mktemp("v") / "busy.mp4")


def _ingest(config: Path, video: Path) -> None:
    done = nvr("--config", str(config), "ingest", str(video), "--camera", "cam", "--json")
    assert done.returncode == 0, done.stderr


def test_a_moved_index_dir_refuses_to_start_empty_until_the_index_is_moved_R82(tmp_path, video):
    old_config = write_config(tmp_path, storage="segment_seconds = 4")
    _ingest(old_config, video)
    old = tmp_path / "data" / "index.sqlite3"
    assert old.stat().st_size > 0
    before = nvr("--config", str(old_config), "recordings", "list", "--json")
    segments = len(json.loads(before.stdout))
    assert segments > 0
    # The new configuration, as an update of the image brings it; tmpfiles made an empty index.
    new_config = write_config(tmp_path, storage='segment_seconds = 4\nindex_dir = "index"')
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "index.sqlite3").touch()
    kept = old.read_bytes()
    cfg = load(new_config)
    for opening in (lambda: EncryptedStore.from_config(cfg), lambda: Governance.open(cfg)):
        with pytest.raises(index.IndexLeftBehind) as caught:
            opening()
        message = str(caught.value)
        assert str(old) in message and str(tmp_path / "index" / "index.sqlite3") in message
        assert f"mv {old} {old}-wal {old}-shm {tmp_path / 'index'}/" in message
    for command in (("recordings", "list"), ("recordings", "verify"), ("run", "--no-web"),
                    ("web",), ("user", "list")):
        refused = nvr("--config", str(new_config), *command, timeout=120)
        assert refused.returncode != 0, command
        assert "is still in storage.data_dir" in refused.stderr, refused.stderr
    assert old.read_bytes() == kept
    assert (tmp_path / "index" / "index.sqlite3").stat().st_size == 0     # nothing was started

    # What the message says to do, and everything is found again.
    moved = subprocess.run(f"mv {old} {old}-wal {old}-shm {tmp_path / 'index'}/",
                           shell=True, capture_output=True, text=True)
    assert (tmp_path / "index" / "index.sqlite3").stat().st_size > 0, moved.stderr
    after = nvr("--config", str(new_config), "recordings", "verify", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["checked"] == segments
    assert _index_files(tmp_path / "data") == []


# --- recorder, CLI and web find it there ------------------------------------------------------

def _start(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    return out


def test_recorder_cli_and_web_use_the_index_in_index_dir_R82(tmp_path):
    config = write_config(tmp_path, storage='segment_seconds = 2\nindex_dir = "index"',
                          camera_extra="postroll_seconds = 2\npreroll_seconds = 1")
    data, index_dir = tmp_path / "data", tmp_path / "index"
    recorder = _start(config, "run", "--no-web")
    try:
        for _ in range(600):                    # until the recorder indexed two segments
            if recorder.poll() is not None:
                break
            if index_dir.exists() and len(list((data / "segments").rglob("*.seg"))) >= 2:
                break
            time.sleep(0.1)
    finally:
        out = _stop(recorder)
    assert len(list((data / "segments").rglob("*.seg"))) >= 2, out
    assert _index_files(data) == [] and "index.sqlite3" in _index_files(index_dir), out

    listed = nvr("--config", str(config), "recordings", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) >= 1
    verified = nvr("--config", str(config), "recordings", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["checked"] >= 1
    assert json.loads(verified.stdout)["problems"] == []

    cfg = load(config)                          # governance, as the CLI and the web open it
    gov = Governance.open(cfg)
    try:
        gov.accounts.add("t.jansen", Role.TECHNICAL, "een lange eigen wachtzin 42", as_root=True)
    finally:
        gov.close()
    users = nvr("--config", str(config), "user", "list")
    assert users.returncode == 0 and "t.jansen" in users.stdout, users.stderr

    web = _start(config, "web")
    try:
        url = None
        for line in web.stdout:
            found = re.search(r"web interface: (https://\S+)", line)
            if found:
                url = found.group(1).rstrip("/")
                break
        assert url, "nvr web printed no address"
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(url + "/healthz", context=context, timeout=30) as reply:
            assert reply.status == 200
    finally:
        _stop(web)
    assert _index_files(data) == [], "the web made an index in data_dir"
    # After recording, an account and the web: the footage side holds no name and no hash.
    footage_disk = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    assert b"t.jansen" not in footage_disk and b"$argon2" not in footage_disk


# --- firstboot and selftest say it when the index shares the footage's disk -------------------

def _config_with_keys(tmp_path: Path, keys: Path, index_dir: Path | None = None) -> Path:
    path = write_config(tmp_path, storage=f'index_dir = "{index_dir}"' if index_dir else "")
    path.write_text(path.read_text().replace('key_dir = "keys"', f'key_dir = "{keys}"'))
    return path


def test_selftest_warns_when_the_index_shares_the_footage_disk_R82(tmp_path, monkeypatch):
    """The fake sysfs puts tmp_path on disk vda with an SSD sda mounted too; a tmpfs folder
    (/dev/shm) is on no disk, so keys there are never beside the footage."""
    from test_firstboot import _fake_disks
    from firmware.system.selftest import OK, WARN, check_keys
    root = tmp_path / "root"
    _fake_disks(root, tmp_path)
    shm = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="nvr-indexdir-"))
    try:
        cfg = load(_config_with_keys(tmp_path, shm / "keys"))     # the index in data_dir
        EncryptedStore.from_config(cfg).db.close()                # the master key
        Governance.open(cfg).close()                              # the signing and MAC keys
        monkeypatch.setenv("NVR_SYSTEM_ROOT", str(root))
        result = check_keys(cfg)
        assert result.status == WARN, result
        assert "the index (" in result.finding and "sda is mounted too" in result.finding
        assert "index_dir" in result.action
        apart = load(_config_with_keys(tmp_path, shm / "keys", shm / "index"))
        assert check_keys(apart).status == OK
    finally:
        shutil.rmtree(shm)


def test_firstboot_finds_an_index_on_the_footage_disk_R82():
    """nvr firstboot on a device whose configuration keeps the index in data_dir while an
    SSD is mounted: a finding in the journal and a line to do on the console, in Dutch."""
    from test_firstboot import Device, _fake_disks, _new_root
    root = _new_root()
    try:
        device = Device(root)                       # the image's config: no index_dir
        _fake_disks(root, device.keys)
        done, _host, shown = device.firstboot()
        assert "finding: the index (" in done.stdout, done.stdout
        assert "Nog te doen: de index (" in shown, shown
    finally:
        shutil.rmtree(root)
