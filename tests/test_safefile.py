"""system/safefile.py as the services use it (tls.ensure_certificate, clients.ensure_ca, both
also called by the web and `nvr client issue`): a symbolic link in the key directory is
refused with its name and what to do, its target never made; without one the files are made
as before, whole, with their modes. Real files, real keys."""

from __future__ import annotations

import os
import stat

import pytest

from firmware.system import clients, safefile
from firmware.system.tls import CERT, KEY, ensure_certificate


def test_a_dangling_link_is_refused_by_name_and_its_target_not_made(tmp_path):
    keys, target = tmp_path / "keys", tmp_path / "elsewhere"
    keys.mkdir()
    (keys / CERT).symlink_to(target)
    with pytest.raises(safefile.UnsafeFile, match=r"web-cert\.pem is a symbolic link .*rm "):
        ensure_certificate(keys, "nvr-a1c0ffee")
    (keys / clients.CA_FILE).symlink_to(target)
    with pytest.raises(safefile.UnsafeFile, match=r"client-ca\.pem is a symbolic link"):
        clients.ensure_ca(keys, "nvr-a1c0ffee")
    assert not target.exists() and not os.path.exists(keys / KEY)


def test_without_links_the_services_files_are_made_whole_with_their_modes(tmp_path):
    cert, key = ensure_certificate(tmp_path, "nvr-a1c0ffee")
    ca = clients.ensure_ca(tmp_path, "nvr-a1c0ffee")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (cert, key, ca)}
    assert modes == {CERT: 0o640, KEY: 0o600, clients.CA_FILE: 0o600}
    assert clients.ca_certificate_pem(tmp_path).startswith("-----BEGIN CERTIFICATE")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CERT, KEY, clients.CA_FILE])
    assert ensure_certificate(tmp_path, "other") == (cert, key)      # existing: left alone
    assert ca.read_bytes() == clients.ensure_ca(tmp_path, "other").read_bytes()
