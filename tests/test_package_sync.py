"""The evidence package is durable before it is renamed into place (issue 13 item 3: "renamed
only when complete and synced"): every file in it was fsynced, the remuxed video too, which
FFmpeg writes and never syncs itself. os.fsync is observed, not replaced: the real call runs
and the test notes which file (by inode) each descriptor was."""

from __future__ import annotations

import os

import pytest
from conftest import recorded_site

from firmware.config import load
from firmware.storage.store import EncryptedStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = EncryptedStore.from_config(load(recorded_site(tmp_path_factory.mktemp("sync"), {})))
    yield s
    s.close()


def test_every_file_of_the_package_is_fsynced_before_the_rename_R62(store, tmp_path,
                                                                    monkeypatch):
    from firmware.export import manifest
    from firmware.governance.logbook import DeviceSigner
    synced: set[int] = set()
    real = os.fsync

    def observed(fd):
        synced.add(os.fstat(fd).st_ino)
        return real(fd)

    monkeypatch.setattr(os, "fsync", observed)
    segments = store.list_segments("cam")
    info = {"export": 1, "reference": "R", "operator": "o", "recipient": "r", "device": "d",
            "camera": "cam", "camera_name": "c", "location": "l",
            "start": segments[0]["start"], "end": segments[-1]["end"]}
    (tmp_path / "stick").mkdir()
    out = manifest.write_package(tmp_path / "stick", "export-x", store=store,
                                 signer=DeviceSigner(tmp_path / "keys"), segments=segments,
                                 recorded={}, info=info)
    files = {p.name: p.stat().st_ino for p in (tmp_path / "stick" / "export-x").iterdir()}
    assert out["video"] in files and len(files) == 7
    assert {name for name, inode in files.items() if inode not in synced} == set()
