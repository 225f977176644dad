"""Red team 14b: a power cut in the middle of `nvr firstboot` (issue 14 item 2).

firstboot's `_make` makes a key as root and gives it to its service afterwards (os.chown). A
cut between the two leaves the key on disk owned by root; at the next boot the key exists, so
`_make` does nothing, and nothing ever gives it to its service: the recorder refuses a master
key it does not trust (storage/sharing.trusted_owner) and nvr-web cannot read web-key.pem
(0600 root). The device does not record and does not serve, and firstboot says all is well.

The cut is real: the actual `nvr firstboot` subprocess is killed (SIGKILL, as a power cut stops
it: no finally, no cleanup) by strace at its N-th chown, every N of a first boot in turn; the
next boot is a plain `nvr firstboot`. Then every key must have the owner of
docs/provisioning.md's table, or firstboot must have failed saying what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from test_firstboot import Device, _new_root

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: nvr firstboot is root's"),
    pytest.mark.skipif(shutil.which("strace") is None,
                       reason="strace is not installed: it stands in for the power cut"),
]

OWNERS = {"master.key": "nvr-recorder", "device-signing.key": "nvr-recorder",
          "logbook-mac.key": "nvr-recorder", "web-cert.pem": "nvr-web",
          "web-key.pem": "nvr-web", "client-ca.pem": "nvr-web"}
CHOWNS_IN_A_FIRST_BOOT = 7      # the configuration, master, signing, MAC, cert, TLS key, CA


def _firstboot(device: Device, cut_at_chown: int | None = None) -> subprocess.CompletedProcess:
    cut = [] if cut_at_chown is None else [
        "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=chown,fchown,fchownat,lchown",
        "-e", f"inject=chown,fchown,fchownat,lchown:signal=KILL:when={cut_at_chown}"]
    return subprocess.run(["unshare", "--uts", *cut, sys.executable, "-m", "firmware.cli",
                           "firstboot"], capture_output=True, text=True, env=device.env(),
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("n", range(1, CHOWNS_IN_A_FIRST_BOOT + 1))
def test_a_power_cut_at_any_chown_of_the_first_boot_is_mended_by_the_next_boot(n):
    root = _new_root()
    try:
        device = Device(root)
        cut = _firstboot(device, cut_at_chown=n)
        assert cut.returncode != 0, "strace did not cut the run (fewer chowns than counted?)"
        nxt = _firstboot(device)
        wrong = {}
        for name, user in OWNERS.items():
            path = device.keys / name
            if not path.exists():
                wrong[name] = "missing"
            elif path.stat().st_uid != device.uid(user):
                wrong[name] = f"owned by uid {path.stat().st_uid}, not {user}"
        assert nxt.returncode != 0 or not wrong, (
            f"cut at chown {n}; the next boot said all is well, but: {wrong}\n{nxt.stdout}")
    finally:
        shutil.rmtree(root)


# --- a cut before the data reached the disk: a key file of zero bytes ---------------------------
# ensure_certificate (system/tls.py) and clients.ensure_ca write without fsync; ext4's delayed
# allocation then leaves a file of zero bytes after a power cut (no rename: auto_da_alloc does
# not help). The next boot must mend it or stop saying which file and what to do, never die
# with a Python traceback (the journal then tells the technisch beheerder nothing).

@pytest.mark.parametrize("name", ["web-cert.pem", "client-ca.pem"])
def test_a_key_file_left_empty_by_a_power_cut_gives_no_traceback(name):
    root = _new_root()
    try:
        device = Device(root)
        assert _firstboot(device).returncode == 0
        (device.keys / name).write_bytes(b"")
        nxt = _firstboot(device)
        assert "Traceback" not in nxt.stderr, nxt.stderr[-600:]
        assert nxt.returncode == 0 or name in nxt.stderr, nxt.stderr[-600:]
    finally:
        shutil.rmtree(root)


def test_a_device_signing_key_replaced_at_boot_keeps_the_recorders_owner():
    """An unusable device-signing.key (zero bytes after a cut) is moved aside and replaced by
    governance/logbook.DeviceSigner, called by firstboot (as root) for the fingerprint it
    prints: the new key is root's, not the recorder's as docs/provisioning.md's table says."""
    root = _new_root()
    try:
        device = Device(root)
        assert _firstboot(device).returncode == 0
        (device.keys / "device-signing.key").write_bytes(b"")
        nxt = _firstboot(device)
        key = device.keys / "device-signing.key"
        assert nxt.returncode != 0 or key.stat().st_uid == device.uid("nvr-recorder"), \
            f"the new device-signing.key is owned by uid {key.stat().st_uid}"
    finally:
        shutil.rmtree(root)
