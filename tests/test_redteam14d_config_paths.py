"""Red team 14d: `nvr config install` compares storage paths as TEXT (os.path.normpath), the
kernel follows them through symlinks: "<symlink>/.." is the same path to the guard and another
directory to the store.

system/config_install.py promises that the new file may not move storage.data_dir, index_dir or
key_dir (R-11, R-82). storage_paths() normalizes each value with os.path.normpath, which folds
"X/.." away without asking whether X is a symlink. On the image's Debian root /var/lock is a
symlink to /run/lock (and /var/run to /run), so the technisch beheerder's

    [storage]
    data_dir  = "/var/lock/../lib/nvr/data"     # normpath: /var/lib/nvr/data  (unchanged)
    key_dir   = "/var/lock/../lib/nvr/keys"     # the kernel: /run/lib/nvr/keys
    index_dir = "/var/lock/../lib/nvr/index"

passes `sudo nvr-admin config install` as "unchanged paths", while every service then opens
/run/lib/nvr/...: a RAM folder with no index, no accounts and no keys (firstboot, root, makes a
new master key there; the recorder records nowhere that survives a reboot, or nothing at all
under its sandbox). The `provisioned` marker stops new enrollment codes, so the four-eyes
take-over of 14c stays closed; what remains is the FIXED promise broken: the store moved by a
configuration the guard called unchanged. Severity: medium.

The test uses a symlink of its own under tmp_path standing for /var/lock (real `nvr config
install`, a real symlink, the real config parser): the paths the store would use must be the
installed ones, or the install refused.
Suggested fix: compare Path.resolve() (or os.path.realpath) of old and new, and refuse any value
that contains ".." or a symlink component (a device's paths are plain absolute directories)."""

from __future__ import annotations

from pathlib import Path

from conftest import nvr, write_config
from firmware.config import load


def test_config_install_does_not_move_the_store_through_a_symlink_and_dotdot_R11_R82(tmp_path):
    live = write_config(tmp_path)
    old = live.read_text()
    before = load(live).storage
    # A symlink in a folder on the way, as /var/lock -> /run/lock on the image's root.
    (tmp_path / "run" / "lock").mkdir(parents=True)
    (tmp_path / "lock").symlink_to(tmp_path / "run" / "lock")
    text = (old.replace('data_dir = "data"', f'data_dir = "{tmp_path}/lock/../data"')
            .replace('key_dir = "keys"', f'key_dir = "{tmp_path}/lock/../keys"'))
    assert text != old
    new = tmp_path / "new.toml"
    new.write_text(text)
    done = nvr("--config", str(live), "config", "install", str(new))
    if done.returncode != 0:
        assert live.read_text() == old          # refused: the store stays where it was
        return
    after = load(live).storage
    assert after.data_dir.resolve() == before.data_dir.resolve(), (
        f"config install called the paths unchanged, but the store now opens "
        f"{after.data_dir.resolve()} instead of {before.data_dir.resolve()}")
    assert after.key_dir.resolve() == before.key_dir.resolve()
