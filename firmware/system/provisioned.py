"""Whether `nvr firstboot` may issue enrollment codes into the index it finds (R-11).

The codes make the first technisch-beheerder and the first manager bedrijfsvoering without
anyone's approval, so they belong to a device's very first index only. Once a device has been
provisioned (codes issued into its index, or accounts found in it), an index holding neither an
account nor a code is not this device's own: its storage paths were changed (`nvr.toml` edited
by root; `nvr config install` refuses it) or the index was lost. Codes there would hand both
first roles to whoever reads the screen (red team 14c): none are issued, and the console and the
journal say why and what to do.

The sign is a marker at a fixed place, not taken from the configuration: MARKER on the data
partition (`/var/lib/nvr`, root:nvr 0750, which no service and no technisch beheerder can write),
beside the image's own state (`system/`, image/README.md). A sign inside key_dir or data_dir
(the logbook keys, their signed heads) moves with the paths it should judge: swapping data_dir
and key_dir leaves the new key_dir without either.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from firmware.i18n import N_, _, dutch
from firmware.system import safefile

MARKER = Path("var/lib/nvr/system/provisioned")          # below the system root
INDEX_NAME = "index.sqlite3"
NOT_THIS_DEVICES_INDEX = N_(
    "NO ENROLLMENT CODE: this device was provisioned before (%(marker)s) but its index "
    "%(index)s holds no account and no code: it is not this device's own index (the storage "
    "paths of the configuration were changed, or the index was lost). Put back the image's "
    "storage paths (/usr/share/nvr/nvr.toml) into the configuration, or restore index.sqlite3 "
    "from its backup, then reboot; only to start the device anew (the manager bedrijfsvoering "
    "decides, R-11) does root remove %(marker)s")


def index_path(cfg) -> Path:
    """Where the index lives: storage.index_path once the index has its own directory
    (branch indexdir), else data_dir/index.sqlite3."""
    return getattr(cfg.storage, "index_path", None) or cfg.storage.data_dir / INDEX_NAME


def holds_enrollment(index: Path) -> bool:
    """Whether the index holds an account or an enrollment code (issued by a previous boot).
    A missing or empty file holds neither and is not opened (nothing is made)."""
    try:
        if index.stat().st_size == 0:
            return False
    except FileNotFoundError:
        return False
    conn = sqlite3.connect(index, timeout=30)   # read-write as Governance.open: its -wal and
    try:                                        # -shm go with the last connection's close
        return conn.execute("SELECT EXISTS (SELECT 1 FROM users) OR "
                            "EXISTS (SELECT 1 FROM enrollment_codes)").fetchone()[0] == 1
    except sqlite3.DatabaseError:               # no such table, or a damaged file
        return False
    finally:
        conn.close()


def refusal(cfg, root: Path) -> tuple[str, str] | None:
    """None when codes may be issued; else why not, in English (the journal) and in Dutch
    (the console)."""
    marker = root / MARKER
    if not os.path.lexists(marker):              # whatever lies there counts (a link too)
        return None                              # a device not provisioned yet
    index = index_path(cfg)
    if holds_enrollment(index):
        return None
    words = {"marker": str(marker), "index": str(index)}
    return _(NOT_THIS_DEVICES_INDEX, **words), dutch(NOT_THIS_DEVICES_INDEX, **words)


def mark(cfg, root: Path) -> bool:
    """Write MARKER (root's, 0644) once the index holds an account or a code; whether it was
    written now. A device provisioned before the marker existed gets it at its next boot."""
    marker = root / MARKER
    if os.path.lexists(marker) or not (root / MARKER.parent.parent).is_dir():
        return False
    index = index_path(cfg)
    if not holds_enrollment(index):
        return False
    marker.parent.mkdir(mode=0o755, exist_ok=True)
    text = (f"provisioned {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: enrollment "
            f"codes or accounts in {index}\n"
            "nvr firstboot issues no enrollment code into an index without accounts or codes "
            "while this file exists (docs/provisioning.md)\n")
    safefile.write(marker, text.encode(), 0o644, (0, 0))
    return True
