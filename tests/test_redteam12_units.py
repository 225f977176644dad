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
import os
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

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


ASK_EJECT = r"""
import json, sys
from firmware.config import load
from firmware.export.medium import eject
result = eject(load(sys.argv[1]))
print(json.dumps({"ejected": result.ejected, "message": result.message}))
"""

ASK_MORE = r"""
import json, os
from firmware.export import protocol
asks = {"unlock": {"device": "/dev/sdz", "password": "x" * 20},
        "format": {"device": "/dev/sdz", "confirm": "x", "password": "x" * 20},
        "write": {"device": "/dev/sdz", "name": "n", "step": "abort"}}
why = {}
for cmd, fields in asks.items():
    try:
        protocol.call(os.environ["NVR_EXPORTD_SOCKET"], {"cmd": cmd, **fields})
        why[cmd] = "ANSWERED"
    except protocol.ProtocolError as exc:
        why[cmd] = str(exc)
print(json.dumps(why))
"""


def _group(root: Path, name: str) -> tuple[int, list[str]]:
    for line in (root / "etc" / "group").read_text().splitlines():
        group, _, gid, members = line.split(":")
        if group == name:
            return int(gid), members.split(",") if members else []
    raise AssertionError(f"no group {name} in {root}/etc/group")


@needs_root
def test_the_eject_button_in_the_recorder_reaches_exportd_R61(device):
    """hardware.md: a press of the eject button asks exportd to eject the stick. exportd as its
    unit makes it (socket directory 0750 root:nvr-export, the peers for_group admits), asked
    from the recorder's user as the recorder's GPIO worker asks."""
    import os
    import threading

    from firmware.export import protocol
    from firmware.export.daemon import Daemon, serve

    class NoCommands:                      # `list` and an empty `eject` run no command
        def run(self, argv, stdin=None):
            raise AssertionError(f"no privileged step expected: {argv}")

    gid, members = _group(device.root, "nvr-export")
    uids = {device.ids["users"][m]["uid"] for m in members if m in device.ids["users"]}
    _, eject_members = _group(device.root, "nvr-eject")
    eject = {device.ids["users"][m]["uid"] for m in eject_members if m in device.ids["users"]}
    policy = protocol.PeerPolicy(frozenset({0, *uids}), frozenset({gid}),  # as for_group
                                 frozenset(eject))
    runtime = device.root / "run" / "nvr-exportd"
    runtime.mkdir(parents=True)
    os.chown(runtime, 0, gid)
    runtime.chmod(0o750)
    sock = runtime / "exportd.sock"
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(Daemon(NoCommands(), set(), runtime), sock,
                                                  policy, stop), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if sock.exists():
                break
            threading.Event().wait(0.05)
        os.chown(sock, 0, gid)             # exportd runs as root with Group=nvr-export
        answers = {}
        for user in ("nvr-web", "nvr-recorder"):
            answers[user] = json.loads(_ok(device.run(
                user, sys.executable, "-c", ASK_EJECT, str(device.config),
                env={"NVR_EXPORTD_SOCKET": str(sock)})).stdout)
        # The button may eject, nothing more: no unlock, format or write from the recorder.
        refused = json.loads(_ok(device.run(
            "nvr-recorder", sys.executable, "-c", ASK_MORE,
            env={"NVR_EXPORTD_SOCKET": str(sock)})).stdout)
    finally:
        stop.set()
        thread.join(5)
    assert "did not eject" not in answers["nvr-web"]["message"], answers     # the control
    assert "did not eject" not in answers["nvr-recorder"]["message"], answers
    assert set(refused) == {"unlock", "format", "write"}
    assert all("may only list and eject" in why for why in refused.values()), refused


def test_a_symlink_planted_at_a_logbook_keys_temporary_name_is_not_written_through(tmp_path):
    """The key directory is shared with the group nvr: a name planted there by another
    service's user must not make a key's writer truncate or fill the link's target."""
    import threading

    from firmware.governance.logbook import _write_private
    keys = tmp_path / "keys"
    keys.mkdir()
    victim = tmp_path / "segment.bin"
    victim.write_bytes(b"recorded footage")
    key = keys / "logbook-mac.key"
    planted = keys / f".{key.name}.{os.getpid()}.{threading.get_ident()}.part"
    planted.symlink_to(victim)
    _write_private(key, b"k" * 32, replace=True)
    assert victim.read_bytes() == b"recorded footage"
    assert key.read_bytes() == b"k" * 32 and not key.is_symlink()
    assert not planted.exists() and not planted.is_symlink()
