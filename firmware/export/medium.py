"""Ejecting the export medium: the seam between the device (the eject button, later the web)
and the privileged export helper, exportd (issue 13).

exportd will own the encrypted USB stick: unlock, mount, write, sync, unmount, lock. Until it
exists there is never a medium to eject, so `eject` says so; issue 13 replaces its body by a
call to exportd's socket and keeps the signature, so the callers stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.config import Config
from firmware.i18n import _


@dataclass(frozen=True)
class EjectResult:
    ejected: bool          # True: the medium may be pulled out now
    message: str           # what happened, for the log and the person at the device


def eject(cfg: Config) -> EjectResult:
    """Ask the export helper to finish writing, unmount and lock the export medium."""
    if cfg.export_directory is not None:
        return EjectResult(False, _(
            "no export medium: exports go into the development directory %(directory)s, "
            "which is never ejected", directory=cfg.export_directory))
    return EjectResult(False, _(
        "no export medium: the export helper (exportd) is not running on this device, so "
        "there is no stick to eject; pull a stick out only after exportd has ejected it"))
