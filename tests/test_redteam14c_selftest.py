"""Red team 14c: `nvr selftest`'s keys check passes while the web's secret keys are open.

Issue 14 item 6 asks the self-test to check "keys and their permissions". The keys check
(firmware/system/selftest.py `check_keys`) looks at the recorder's three keys only
(readiness.KEY_FILES: master.key, device-signing.key, logbook-mac.key). The key directory
also holds three secrets of the web, each made 0600 by its maker and each as dangerous:
- `client-ca.pem`: the client CA's private key (system/clients.py): whoever reads it issues
  workstation certificates, the gate of art. 4 lid 1 (`footage_certificate_required`);
- `web-key.pem`: the TLS key: whoever reads it poses as the device to the browsers of the
  secured room and reads the passwords typed into it;
- `web-session.key`: the web's session secret.
A key restored from a backup with the wrong mode (`cp` under umask 0022, a FAT stick) or the
wrong owner passes the hardware acceptance checklist (hardware.md) and the update verdict.

Real `nvr selftest` processes on a development layout (the model: tests/test_selftest.py),
the keys made by the code the web and firstboot use."""

from __future__ import annotations

import os

import pytest
from test_selftest import _device, rows, selftest

from firmware.config import load


def _with_web_keys(tmp_path):
    config = _device(tmp_path)
    cfg = load(config)
    from firmware.system.clients import ensure_ca
    from firmware.system.tls import ensure_certificate
    from firmware.web import _secret_key
    ensure_certificate(cfg.storage.key_dir, "nvr-test")
    ensure_ca(cfg.storage.key_dir, cfg.device.id)
    _secret_key(cfg.storage.key_dir)
    return config, cfg.storage.key_dir


def test_guard_the_keys_check_passes_with_every_key_closed(tmp_path):
    config, key_dir = _with_web_keys(tmp_path)
    for name in ("client-ca.pem", "web-key.pem", "web-session.key"):
        assert (key_dir / name).stat().st_mode & 0o077 == 0, name
    assert rows(selftest(config, "--json", "--only", "keys"))["keys"]["status"] == "ok"


@pytest.mark.parametrize("name", ["client-ca.pem", "web-key.pem", "web-session.key"])
def test_a_world_readable_web_secret_fails_the_keys_check_R82(tmp_path, name):
    """LOW (a false pass of the acceptance check). Expected: every secret in key_dir is
    judged as the recorder's keys are (no bits for others; owner nvr-web on a device)."""
    config, key_dir = _with_web_keys(tmp_path)
    os.chmod(key_dir / name, 0o644)
    row = rows(selftest(config, "--json", "--only", "keys"))["keys"]
    assert row["status"] == "fail" and name in row["finding"], (
        f"{name} is readable by every local user (0644) and the keys check says "
        f"{row['status']}: {row['finding']}")
