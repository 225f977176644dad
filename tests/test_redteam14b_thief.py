"""Red team 14b: a thief with the footage disk alone (issue 14 item 2, R-82).

docs/provisioning.md, "Keys and footage on one medium": "With **two** media (footage on an
SSD mounted at /var/lib/nvr/data) the keys stay on the card (partition 7) and an SSD taken
alone holds only ciphertext." The keys do stay off it (the guard below). But data_dir is the
SSD, and data_dir holds index.sqlite3, the one SQLite file of index AND governance
(tmpfiles nvr.conf): every account's name, role and Argon2 password hash (to guess offline,
without the device's throttle), and the logbooks in plain text (who did what, with the
addresses and the reasons people typed). The claim is false; what the SSD alone gives away is
written nowhere.

Real SQLite, the real Governance and Accounts, data_dir and key_dir in two folders standing
in for the two media.
"""

from __future__ import annotations

import base64

import pytest
from conftest import write_config

from firmware.config import load
from firmware.governance.accounts import AuthError
from firmware.governance.roles import Role
from firmware.governance.service import Governance

PASSWORD = "een lange eigen wachtzin 42"


def _everything(folder) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _device(tmp_path):
    # As the image installs it (firstboot.new_config_text, tools/vm/provision.sh): the index on
    # the card beside the keys, off the footage disk (test_indexdir.py checks that default).
    cfg = load(write_config(tmp_path, storage='index_dir = "index"'))
    gov = Governance.open(cfg)
    try:
        gov.accounts.add("t.jansen", Role.TECHNICAL, PASSWORD, as_root=True)
        with pytest.raises(AuthError):          # a refused login: the logbook keeps it
            gov.accounts.authenticate("t.jansen", "a wrong guess", source="192.0.2.77")
    finally:
        gov.close()
    return cfg


def test_the_footage_disk_alone_holds_only_ciphertext_as_provisioning_md_says_R82(tmp_path):
    cfg = _device(tmp_path)
    footage_disk = _everything(cfg.storage.data_dir)
    found = [what for what, needle in (("an Argon2 password hash", b"$argon2"),
                                       ("an account's name", b"t.jansen"),
                                       ("a client's address", b"192.0.2.77"))
             if needle in footage_disk]
    assert not found, f"the footage disk alone gives away, in plain text: {', '.join(found)}"


def test_no_key_is_on_the_footage_disk_R82(tmp_path):
    """A guard (passes today): the master key and the logbook keys stay in key_dir."""
    cfg = _device(tmp_path)
    footage_disk = _everything(cfg.storage.data_dir)
    keys = [p for p in cfg.storage.key_dir.iterdir() if p.suffix == ".key"]
    assert keys, "no key was made"
    for key in keys:
        raw = key.read_bytes()
        for form in (raw, raw.hex().encode(), base64.b64encode(raw)):
            assert form not in footage_disk, f"{key.name} is on the footage disk"
    assert b"PRIVATE KEY" not in footage_disk
