"""Red team 14d: the update copy lock is opened without O_NONBLOCK, so a FIFO named
`.nvr-update.lock` in data_dir hangs `nvr web` at its start (and every `nvr update`) for good.

firmware/system/update.py `_open_lock` opens an existing `data_dir/.nvr-update.lock` with
O_RDONLY | O_NOFOLLOW and no O_NONBLOCK, and never checks that it is a regular file. open(2) of
a FIFO for reading blocks until a writer comes. `nvr web` calls remove_stale_copies(data_dir) at
every start (cli/device.py `_remove_stale_update_copies`) before it serves: with a FIFO there it
never serves; systemd's start timeout kills and restarts it, in a loop. Who can put it there:
the recorder (owner of the sticky data directory), nvr-web itself (a planted file survives the
compromise's end, the web then never comes back), or anyone with the footage disk on another
computer (the SSD holds only ciphertext, "a thief ... learns nothing": but a returned/swapped
disk then takes the web interface down). Severity: low (availability of the web and of updates).

Real update.py, a real FIFO, a subprocess with a bound.
Suggested fix: open the lock with O_NONBLOCK too and refuse anything but a regular file
(fstat S_ISREG), as _private_copy already does for the bundle."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_a_fifo_named_like_the_update_lock_does_not_hang_the_webs_start_R42(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / ".nvr-update.lock")
    code = ("import sys; from pathlib import Path; "
            "from firmware.system.update import remove_stale_copies; "
            "print(remove_stale_copies(Path(sys.argv[1])))")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(data)], cwd=ROOT,
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("remove_stale_copies (what `nvr web` runs at every start) hung "
                             "20 s on a FIFO named .nvr-update.lock: the web never serves")
    assert done.returncode == 0, done.stderr
