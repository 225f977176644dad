"""Red team of issue 12: the users and the data directory (docs/units.md, systemd/).

The data directory is 3770 (setgid, sticky, group nvr may create files), so that the web can
make SQLite's -wal and -shm. docs/units.md promises that the web "cannot forge or replace
footage: it cannot write a segment file". But the recorder wrote its restart marker through a
fixed name in that directory, `recorder.running.tmp`, following whatever was there: the web's
user planted a symlink by that name to a segment, and at the recorder's next start (a reboot,
a watchdog restart) the recorder itself overwrote the segment. The kernel's
fs.protected_symlinks does not help: it guards sticky directories writable by all, not by a
group. Written first; it failed on that code (the segment became the marker's JSON)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from test_permissions import _clip, _ok, device, needs_root  # noqa: F401  (device: fixture)

from firmware.storage.restarts import MARKER


@needs_root
def test_the_web_user_cannot_make_the_recorder_overwrite_a_segment_through_its_marker_R82(
        device):
    start = (datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat()
    _ok(device.nvr("nvr-recorder", "ingest", str(_clip(device)), "--camera", "cam",
                   "--start", start))
    rows = json.loads(_ok(device.nvr("nvr-web", "recordings", "list", "--json")).stdout)
    segment = Path(rows[0]["path"])
    before = hashlib.sha256(segment.read_bytes()).hexdigest()

    planted = device.data / f"{MARKER}.tmp"
    _ok(device.run("nvr-web", sys.executable, "-c",
                   "import os, sys; os.symlink(sys.argv[1], sys.argv[2])",
                   str(segment), str(planted)))
    assert planted.is_symlink()

    proc = device.start("nvr-recorder", "run", "--no-web")
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("recording ") or line.startswith("stopped"):
                break
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert any(line.startswith("recording 1 camera") for line in seen), "".join(seen) + out

    after = hashlib.sha256(segment.read_bytes()).hexdigest()
    assert after == before, f"the recorder overwrote the segment: {segment.read_bytes()[:80]!r}"
    assert not (device.data / MARKER).is_symlink()
    verified = subprocess.run(
        [*device.as_user("nvr-recorder"), sys.executable, "-m", "firmware.cli", "--config",
         str(device.config), "recordings", "verify", "--json"],
        capture_output=True, text=True, env=device.env(), cwd=device.root, umask=0o027)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]


@needs_root
def test_a_file_the_web_user_left_at_live_sock_does_not_keep_the_recorder_from_starting_R82(
        device):
    """The same directory: a plain file (or a symlink) by the name of the recorder's live
    socket made the bind fail, so the recorder could not start at all, restarted by systemd
    until it gave up. The recorder, the directory's owner, removes what is there."""
    live = device.data / "live.sock"
    live.unlink(missing_ok=True)
    _ok(device.run("nvr-web", sys.executable, "-c",
                   "import sys; open(sys.argv[1], 'x').close()", str(live)))
    proc = device.start("nvr-recorder", "run", "--no-web")
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("recording ") or line.startswith("stopped"):
                break
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert any(line.startswith("recording 1 camera") for line in seen), "".join(seen) + out
    assert proc.returncode == 0, "".join(seen) + out
