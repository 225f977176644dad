"""Red team R1 (2026-11-30): `sudo nvr-admin config install` after 1568d57 / f64cae7.
Both fixed the same day: NVR_LANG is only a language of the firmware (firmware/i18n.py
`known_language`), and root compares the storage paths as written before the check that
resolves them (system/config_install.py `install`).

Both findings are reviewer A's oracle ("root's yes or no tells about paths the caller may not
see") one step over from the camera file that --files-checked now skips:

1. f64cae7 passes the caller's NVR_LANG to root's `nvr config install`. firmware/i18n.py
   po_path() joins it to the catalogue directory (an absolute value replaces it), and root
   stat()s and opens `<NVR_LANG>/LC_MESSAGES/messages.po` the first time a message is
   translated. The caller's --check-only run translates nothing for a file that parses, so
   it passes; root's run then refuses (a moved data_dir) and translates: FileNotFoundError
   when the target of the caller's link is missing, babel's ValueError when root found it.
2. root's parse() still resolve()s storage paths as root (config.py _check_index_dir,
   _check_cross) and prints the resolved path: index_dir = /proc/PID/fd/N names the file a
   root (or service) process holds open; the caller's own run cannot read that link and passes.

The real systemd/nvr-admin under a simulated sudo (SUDO_UID=1000), the real setpriv and the
real firmware as /usr/local/bin/nvr, in a mount namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ROOT / "systemd" / "nvr-admin"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("setpriv", "unshare")),
    reason="needs root, setpriv and unshare")

_real = Path(os.path.realpath(sys.executable))
PYHOME = str(_real.parents[1])                           # .../versions/3.11.7
PYREL = str(_real.relative_to(_real.parents[1]))
SITE = next(p for p in sys.path if p.endswith("site-packages"))

INSIDE = r"""
set -u
mount --bind "$PYHOME" "$W/py"             # the interpreter lies below root's 0700 /root
mount -t tmpfs tmpfs /usr/local/bin
printf '#!/bin/sh\nPYTHONPATH=%s exec %s -m firmware.cli "$@"\n' "$ROOTDIR:$SITE" "$W/py/$PYREL" \
    > /usr/local/bin/nvr
chmod 755 /usr/local/bin/nvr
mkdir -p /etc/nvr
mount -t tmpfs tmpfs /etc/nvr
cp "$W/installed.toml" /etc/nvr/nvr.toml
mkdir -p /run/r1-secret
mount -t tmpfs -o mode=0700 tmpfs /run/r1-secret
echo x > /run/r1-secret/2026-11-01
echo x > "/run/r1-secret/inzageverzoek-J.Jansen-1962.pdf"
sleep 30 < "/run/r1-secret/inzageverzoek-J.Jansen-1962.pdf" &
holder=$!
sed "s|HOLDER|$holder|" "$W/new.toml" > "$W/new-now.toml"
chmod 644 "$W/new-now.toml"
SUDO_UID=1000 SUDO_GID=1000 SUDO_USER=beheer NVR_LANG="$ASKED" NVR_SYSTEMCTL=true \
    "$ADMIN" config install "$W/new-now.toml" 2>&1
echo "rc=$?"
kill $holder
"""

CONFIG = """[device]
id = "r1"
[storage]
data_dir = "{data}"
key_dir = "{w}/keys"
{extra}
[[cameras]]
id = "cam"
name = "c"
location = "l"
source = "synthetic"
staff_in_view = false
"""


def _run(w: Path, new_text: str, asked: str = "") -> str:
    (w / "new.toml").write_text(new_text)
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", str(w / "inside.sh")],
        capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "W": str(w), "ADMIN": str(ADMIN), "ASKED": asked,
             "ROOTDIR": str(ROOT), "PYHOME": PYHOME, "PYREL": PYREL, "SITE": SITE})
    return done.stdout + done.stderr


@pytest.fixture
def work():
    w = Path(tempfile.mkdtemp(prefix="r1-admin-"))         # pytest's tmp is root's 0700
    w.chmod(0o755)
    (w / "keys").mkdir()
    (w / "py").mkdir()
    (w / "inside.sh").write_text(INSIDE)
    (w / "installed.toml").write_text(CONFIG.format(data="/var/lib/nvr/data", w=w, extra=""))
    yield w
    shutil.rmtree(w, ignore_errors=True)


def test_nvr_lang_gives_root_s_yes_or_no_about_a_root_only_path(work):
    """Finding 1: the same refused file, NVR_LANG naming the caller's own folder whose
    LC_MESSAGES/messages.po links to a root-only path that exists, or does not."""
    moved = CONFIG.format(data="/var/lib/nvr/elsewhere", w=work, extra="")
    shown = {}
    for day in ("2026-11-01", "2026-11-02"):
        own = work / f"lang-{day}" / "LC_MESSAGES"          # beheer's own folder
        own.mkdir(parents=True)
        (own / "messages.po").symlink_to(f"/run/r1-secret/{day}")
        shown[day] = _run(work, moved, asked=str(own.parent))
        assert "passes the check" not in shown[day]           # the caller's run said nothing
    for out in shown.values():          # fixed: NVR_LANG is a language or English, never a path
        assert "refused, nothing is installed: storage.data_dir" in out, out
        assert "is not a language of this firmware" in out and "Traceback" not in out, out
    assert shown["2026-11-01"].replace("2026-11-01", "DAY") == \
        shown["2026-11-02"].replace("2026-11-02", "DAY")
    assert ("FileNotFoundError" in shown["2026-11-01"]) == (
        "FileNotFoundError" in shown["2026-11-02"]), (
        "root stat()ed the caller's NVR_LANG path: it tells 2026-11-01 exists in a root-only "
        "folder and 2026-11-02 does not")


def test_root_s_parse_prints_where_a_link_the_caller_cannot_read_leads(work):
    """Finding 2: index_dir = /proc/PID/fd/0 of a root process holding a root-only file open.
    The caller's --check-only cannot lstat it (passes); root's parse resolves it and prints."""
    new = CONFIG.format(data="/run", w=work, extra='index_dir = "/proc/HOLDER/fd/0"')
    out = _run(work, new)
    # fixed: the paths are compared as written before the check, which would resolve them
    assert "refused, nothing is installed" in out and "-> /proc/" in out, out
    assert "J.Jansen" not in out, "root's parse printed the name of a file open in a root process"
