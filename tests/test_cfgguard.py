"""`nvr config install` cannot move the store, and `nvr firstboot` issues no enrollment code
into an index that is not the provisioned device's own (R-11, R-82; red team 14c,
tests/test_redteam14c_config_install.py). And `nvr selftest`'s keys check judges the web's
secrets by the table `nvr firstboot` gives them by (tests/test_redteam14c_selftest.py).

Real `nvr config install` subprocesses on real files; real `nvr firstboot` as root on a device
layout (tests/test_firstboot.py's Device); real `nvr selftest`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_firstboot import Device, _new_root, codes_in

from conftest import ROOT, nvr, write_config
from firmware.config import load
from firmware.config import StorageConfig

PW = "Kwartel vijfenveertig langs de Eem"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: nvr firstboot is root's")


def _install(live: Path, text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    new = tmp_path / "new.toml"
    new.write_text(text)
    return nvr("--config", str(live), "config", "install", str(new))


# --- (a) config install: the storage paths of the installed configuration stay ---------------

def test_the_fixed_keys_name_every_storage_path_R11():
    """index_dir is named before it exists (branch indexdir): then it compares equal."""
    from firmware.system.config_install import FIXED
    assert FIXED == ("storage.data_dir", "storage.index_dir", "storage.key_dir")


@pytest.mark.parametrize("key", ["data_dir", "key_dir", "index_dir"])
def test_config_install_refuses_to_move_a_storage_path_and_writes_nothing_R11(tmp_path, key):
    if key not in {f.name for f in __import__("dataclasses").fields(StorageConfig)}:
        pytest.skip(f"storage.{key} is not a key of this firmware yet (branch indexdir adds it)")
    live = write_config(tmp_path)
    old = live.read_text()
    (tmp_path / "elsewhere").mkdir()
    text = (old.replace('key_dir = "keys"', 'key_dir = "elsewhere"') if key == "key_dir" else
            old.replace('data_dir = "data"', 'data_dir = "elsewhere"') if key == "data_dir" else
            old.replace('key_dir = "keys"', 'key_dir = "keys"\nindex_dir = "elsewhere"'))
    assert text != old
    done = _install(live, text, tmp_path)
    assert done.returncode != 0, done.stdout
    assert f"storage.{key}" in done.stderr and "fixed by the image" in done.stderr, done.stderr
    assert "reflash" in done.stderr and "nothing is installed" in done.stderr
    assert live.read_text() == old
    assert [p.name for p in tmp_path.glob(".nvr.toml.*")] == []


def test_config_install_refuses_the_swap_of_data_and_key_dir_naming_both_R11(tmp_path):
    live = write_config(tmp_path)
    old = live.read_text()
    swapped = (old.replace('data_dir = "data"', 'data_dir = "@"')
               .replace('key_dir = "keys"', 'key_dir = "data"').replace('"@"', '"keys"'))
    done = _install(live, swapped, tmp_path)
    assert done.returncode != 0
    assert "storage.data_dir" in done.stderr and "storage.key_dir" in done.stderr, done.stderr
    assert f"{tmp_path / 'data'} -> {tmp_path / 'keys'}" in done.stderr
    assert live.read_text() == old


def test_a_path_through_a_link_of_the_callers_is_refused_though_it_leads_there_now_R11(tmp_path):
    """Reviewer A: compared by realpath() at install time, `data_dir = "/run/lock/b/d"` with
    beheer's link b/d -> the installed data_dir passed, and re-pointing the link afterwards
    moved the store without root and without a change of the file to log. Paths are compared
    as written (links not followed), so the link is refused now, and so is the swap of 14c
    done through two links."""
    live = write_config(tmp_path)
    old = live.read_text()
    before = load(live).storage
    home = tmp_path / "run-lock-b"                 # /run/lock is 1777: beheer's own folder
    home.mkdir()
    (home / "d").symlink_to(before.data_dir.resolve())
    (home / "k").symlink_to(before.key_dir.resolve())
    for text in (old.replace('data_dir = "data"', f'data_dir = "{home}/d"'),
                 old.replace('data_dir = "data"', f'data_dir = "{home}/d"')
                 .replace('key_dir = "keys"', f'key_dir = "{home}/k"')):
        done = _install(live, text, tmp_path)
        assert done.returncode != 0, done.stdout
        assert f"storage.data_dir: {before.data_dir} -> {home}/d" in done.stderr, done.stderr
        assert live.read_text() == old


def test_the_same_paths_written_otherwise_and_other_keys_install(tmp_path):
    """Absolute for relative, a trailing slash, `./`: the same directories."""
    live = write_config(tmp_path)
    old = live.read_text()
    text = (old.replace('data_dir = "data"', f'data_dir = "{tmp_path}/data/"')
            .replace('key_dir = "keys"', 'key_dir = "./keys"')
            .replace("[storage]", "[storage]\nretention_days = 14"))
    done = _install(live, text, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "storage.retention_days" in done.stdout
    assert live.read_text() == text


def test_a_first_install_may_name_any_paths(tmp_path):
    """No installed configuration (a development checkout, the fleet's tests): nothing to keep."""
    source = write_config(tmp_path)
    live = tmp_path / "etc" / "nvr.toml"
    live.parent.mkdir()
    done = nvr("--config", str(live), "config", "install", str(source))
    assert done.returncode == 0, done.stderr
    assert live.read_text() == source.read_text()


def test_an_unreadable_installed_configuration_is_not_replaced(tmp_path):
    live = write_config(tmp_path)
    new = live.read_text().replace("[storage]", "[storage]\nretention_days = 14")
    live.write_text("[storage\nbroken")
    done = _install(live, new, tmp_path)
    assert done.returncode != 0
    assert "cannot be read" in done.stderr and "root on the device repairs" in done.stderr
    assert live.read_text() == "[storage\nbroken"


@pytest.mark.parametrize("directory", ["usb-stand-in", "/var/lib/nvr/data/exports"])
def test_config_install_sends_no_export_into_a_folder_on_the_device_R61(tmp_path, directory):
    """`[export] directory` stands in for the encrypted stick on a development machine only:
    installed on a device, every export would land in a folder on the device (R-61). The
    technisch beheerder's `sudo nvr-admin config install` cannot set it; nothing is written."""
    live = write_config(tmp_path)             # as on a device: no [export] directory
    old = live.read_text()
    text = old + f'\n[export]\ndirectory = "{directory}"\n'
    done = _install(live, text, tmp_path)
    assert done.returncode != 0, done.stdout
    assert "export.directory" in done.stderr and "R-61" in done.stderr, done.stderr
    assert "nothing is installed" in done.stderr
    assert live.read_text() == old
    assert [p.name for p in tmp_path.glob(".nvr.toml.*")] == []
    empty = old + '\n[export]\ndirectory = ""\n'          # written out empty: the same
    assert _install(live, empty, tmp_path).returncode == 0


def test_a_development_stand_in_stays_and_may_not_move_R61(tmp_path):
    """A development configuration with the stand-in keeps it through an install; moving it
    elsewhere (or taking it out) is refused as well: one rule, the installed value stays."""
    live = write_config(tmp_path, extra='[export]\ndirectory = "usb-stand-in"')
    old = live.read_text()
    kept = old.replace("[storage]", "[storage]\nretention_days = 14")
    done = _install(live, kept, tmp_path)
    assert done.returncode == 0, done.stderr
    moved = kept.replace('directory = "usb-stand-in"', 'directory = "elsewhere"')
    done = _install(live, moved, tmp_path)
    assert done.returncode != 0 and "export.directory" in done.stderr, done.stderr
    assert live.read_text() == kept


# --- (b) firstboot: no enrollment code into an index that is not this device's own ------------

@pytest.fixture
def device():
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


def _enrolled(device: Device) -> None:
    _done, _host, shown = device.firstboot()
    for name, role, code in zip(("t.admin", "m.manager"),
                                ("technisch-beheerder", "manager-bedrijfsvoering"),
                                codes_in(shown)):
        done = device.nvr("nvr-web", "user", "add", name, "--role", role,
                          "--enrollment-code", code, env={"NVR_NEW_PASSWORD": PW})
        assert done.returncode == 0, done.stderr
    assert codes_in(device.firstboot()[2]) == []


def _marker(device: Device) -> Path:
    return device.root / "var" / "lib" / "nvr" / "system" / "provisioned"


@needs_root
def test_firstboot_marks_the_device_provisioned_at_the_first_codes(device):
    _done, _host, shown = device.firstboot()
    assert len(codes_in(shown)) == 2
    marker = _marker(device)
    st = marker.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644)
    assert str(device.data / "index.sqlite3") in marker.read_text()
    # the codes not yet used: the next boot shows new ones, the index being the same
    assert len(codes_in(device.firstboot()[2])) == 2


def _index(device: Device) -> Path:
    from firmware.config import load
    from firmware.system.provisioned import index_path
    return index_path(load(device.config))


@needs_root
@pytest.mark.parametrize("how", ["index elsewhere", "swapped", "index lost"])
def test_an_enrolled_device_shows_no_code_for_an_index_not_its_own_R11(device, how):
    """The configuration changed by root (config install refuses it) or the index gone, as
    tmpfiles leaves it after a boot (an empty file): no code, said in the journal and on the
    console with what to do, and the marker kept. "index elsewhere" moves the directory the
    index lies in (storage.index_dir once the index has its own, else data_dir)."""
    _enrolled(device)
    text = device.config.read_text()
    index = _index(device)
    if how == "index elsewhere":
        empty = device.root / "var" / "lib" / "nvr" / "empty"
        empty.mkdir()
        os.chown(empty, device.uid("nvr-recorder"), device.gid("nvr"))
        key = "index_dir" if f'index_dir = "{index.parent}"' in text else "data_dir"
        changed = text.replace(f'{key} = "{index.parent}"', f'{key} = "{empty}"')
        assert changed != text, text
        device.config.write_text(changed)
    elif how == "swapped":
        device.config.write_text(
            text.replace(f'data_dir = "{device.data}"', 'data_dir = "@@"')
            .replace(f'key_dir = "{device.keys}"', f'key_dir = "{device.data}"')
            .replace('"@@"', f'"{device.keys}"'))
    else:
        for name in ("", "-wal", "-shm"):
            Path(f"{index}{name}").unlink(missing_ok=True)
        subprocess.run(["systemd-tmpfiles", f"--root={device.root}", "--create", "nvr.conf"],
                       check=True, capture_output=True)
    moved = _index(device) != index or not index.exists() or index.stat().st_size == 0
    done, _host, shown = device.firstboot()
    assert codes_in(shown) == []
    if moved:                      # (a swap with the index in its own directory moves nothing)
        assert "GEEN INSCHRIJFCODE" in shown and "/usr/share/nvr/nvr.toml" in shown, shown
        assert "NO ENROLLMENT CODE" in done.stdout and "restore index.sqlite3" in done.stdout
    assert _marker(device).exists()
    if how != "index lost":               # put the paths back: the device is its own again
        device.config.write_text(text)
        done, _host, shown = device.firstboot()
        assert codes_in(shown) == [] and "NO ENROLLMENT CODE" not in done.stdout


@needs_root
def test_a_device_provisioned_before_the_marker_gets_it_at_its_next_boot(device):
    _enrolled(device)
    _marker(device).unlink()
    device.firstboot()
    assert _marker(device).exists()


# --- selftest: the web's secrets by firstboot's table ------------------------------------------

@needs_root
def test_firstboot_gives_the_web_secrets_the_modes_of_the_one_table(device):
    from firmware.system.keyfiles import WEB_SECRETS, WEB_USER
    device.firstboot()
    made = [name for name in WEB_SECRETS if (device.keys / name).exists()]
    assert set(made) == set(WEB_SECRETS) - {"web-session.key"}     # the web makes that one
    for name in made:
        st = (device.keys / name).stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (device.uid(WEB_USER),
                                                         WEB_SECRETS[name]), name


def test_the_keys_check_names_a_web_secret_of_another_owner_on_a_device(tmp_path):
    """Where the user nvr-web exists, a web secret of another owner fails with the chown."""
    from test_redteam14c_selftest import _with_web_keys
    from test_selftest import rows
    config, key_dir = _with_web_keys(tmp_path)
    if os.geteuid() != 0:
        pytest.skip("needs root: a passwd with the service users bind-mounted in a namespace")
    passwd = tmp_path / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text()
                      + f"nvr-recorder:x:{os.geteuid()}:0::/:/sbin/nologin\n"
                      + "nvr-web:x:64998:64998::/:/sbin/nologin\n")
    command = ["unshare", "--mount", "sh", "-c",
               f'mount --bind {passwd} /etc/passwd && exec "$@"', "sh",
               sys.executable, "-m", "firmware.cli", "--config", str(config), "selftest",
               "--json", "--only", "keys"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    row = rows(done)["keys"]
    assert row["status"] == "fail"
    assert "web-key.pem belongs to uid 0, not to nvr-web" in row["finding"], row["finding"]
    assert "chown nvr-web:nvr" in row["finding"]
    for name in ("web-cert.pem", "web-key.pem", "client-ca.pem", "web-session.key"):
        os.chown(key_dir / name, 64998, 64998)
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert rows(done)["keys"]["status"] == "ok", done.stdout


def test_check_only_looks_at_camera_files_and_files_checked_does_not_R11(tmp_path):
    """The two halves of nvr-admin's config install (tests/test_nvr_admin.py): `--check-only`
    (run as the caller) says a camera's file is missing and writes nothing; `--files-checked`
    (root's install after it) does not look at camera files at all."""
    live = write_config(tmp_path)
    old = live.read_text()
    text = old.replace('source = "synthetic"',
                       f'source = "file"\npath = "{tmp_path}/geheim/2026-11-01"')
    assert text != old
    new = tmp_path / "new.toml"
    new.write_text(text)
    checked = nvr("--config", str(live), "config", "install", "--check-only", str(new))
    assert checked.returncode != 0 and "is not a readable file" in checked.stderr
    assert live.read_text() == old
    first = tmp_path / "etc" / "nvr.toml"          # a first install: nothing to keep
    first.parent.mkdir()
    done = nvr("--config", str(first), "config", "install", "--files-checked", str(new))
    assert done.returncode == 0, done.stderr
    assert first.read_text() == text


@pytest.mark.parametrize("camera", [
    'source = "file"\npath = "/var/lib/nvr/data/segments/cam/2026-11-01"',
    'source = "synthetic"\nfreeze_file = "/var/lib/nvr/data/segments/cam/2026-11-01"',
    'source = "v4l2"\npath = "/dev/shm/link"',
    'source = "v4l2"\npath = "/dev/../var/lib/nvr/keys/master.key"'])
def test_config_install_gives_no_camera_a_path_the_services_would_open_for_you_R11(tmp_path,
                                                                                    camera):
    """Red team R3: the recorder (nvr-recorder, which reads the footage) and the root export
    helper open or stat a camera's `path` and `freeze_file`; whether that works told the
    technisch beheerder about paths they may not see. Through config install a camera is a
    picamera2 or a video device; the file source and freeze_file stay as installed."""
    live = write_config(tmp_path)
    old = live.read_text()
    text = old.replace('source = "synthetic"', camera)
    assert text != old
    done = _install(live, text, tmp_path)
    assert done.returncode != 0, done.stdout
    assert "refused, nothing is installed" in done.stderr and "R-11" in done.stderr, done.stderr
    assert live.read_text() == old
    video = old.replace('source = "synthetic"', 'source = "v4l2"\npath = "/dev/video0"')
    assert _install(live, video, tmp_path).returncode == 0       # a video device installs
