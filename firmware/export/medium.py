"""Ejecting the export medium: the seam between the device (the eject button, later the web)
and the privileged export helper, exportd (issue 13).

exportd owns the encrypted USB stick: unlock, mount, write, sync, unmount, lock. `eject` asks
it, over its socket, to eject every unlocked stick.
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
    from firmware.export import protocol
    if cfg.export_directory is not None:
        return EjectResult(False, _(
            "no export medium: exports go into the development directory %(directory)s, "
            "which is never ejected", directory=cfg.export_directory))
    try:
        devices = protocol.call(protocol.socket_path(), {"cmd": "list"})["devices"]
        unlocked = [d["device"] for d in devices if d["state"] == "unlocked"]
        for device in unlocked:
            protocol.call(protocol.socket_path(), {"cmd": "eject", "device": device})
    except protocol.ProtocolError as exc:
        return EjectResult(False, _(
            "no export medium: the export helper (exportd) did not eject (%(problem)s); pull "
            "a stick out only after exportd has ejected it", problem=exc))
    if not unlocked:
        return EjectResult(False, _("no export medium: no USB stick is unlocked, so there is "
                                    "nothing to eject; a locked stick may be pulled out"))
    return EjectResult(True, _("the USB stick %(devices)s is locked: pull it out now",
                               devices=", ".join(unlocked)))
