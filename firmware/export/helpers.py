"""Where an export package is written: the seam between the web and the privileged helper."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from firmware.export.package import write_7z
from firmware.i18n import _


class ExportError(Exception):
    """The export could not be written; the message says why and what to do."""


class ExportHelper(Protocol):
    def write(self, name: str, members: Iterable[tuple[str, bytes]], password: str) -> dict:
        """Write the package; return its path, size and SHA-256."""


class DirectoryHelper:
    """Development stand-in for the USB stick: the package goes into a directory."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def write(self, name: str, members: Iterable[tuple[str, bytes]], password: str) -> dict:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return write_7z(self.directory / f"{name}.7z", members, password)
        except OSError as exc:
            raise ExportError(_("the export medium %(directory)s could not be written "
                                "(%(problem)s); the footage is still on the recorder. Check the "
                                "medium (removed? full?) and export again.",
                                directory=self.directory, problem=exc.strerror or exc)) from None


class ExportdHelper:
    """The USB stick exportd offers (firmware/export/daemon.py): the package is built in this
    process's private temporary directory and handed to exportd as an open file, which writes
    it onto the one unlocked stick (unlocked with `nvr usb unlock` or the web)."""

    def __init__(self, socket_path: str | None = None):
        from firmware.export import protocol
        self.socket_path = socket_path or protocol.socket_path()

    def stick(self) -> dict:
        """The one unlocked stick; ExportError when there is none or more than one."""
        from firmware.export import protocol
        try:
            devices = protocol.call(self.socket_path, {"cmd": "list"})["devices"]
        except protocol.ProtocolError as exc:
            raise ExportError(str(exc)) from None
        unlocked = [d for d in devices if d["state"] == "unlocked"]
        if len(unlocked) > 1:
            raise ExportError(_("more than one USB stick is unlocked (%(devices)s): eject the "
                                "one that is not for this export and try again",
                                devices=", ".join(d["device"] for d in unlocked)))
        if not unlocked:
            raise ExportError(_("no unlocked USB stick: insert the export stick and unlock it "
                                "(nvr usb unlock DEVICE), then export again"))
        return unlocked[0]

    def write(self, name: str, members: Iterable[tuple[str, bytes]], password: str) -> dict:
        import tempfile
        from firmware.export import protocol
        stick = self.stick()
        with tempfile.TemporaryDirectory(prefix="nvr-export-") as tmp:
            archive = write_7z(Path(tmp) / f"{name}.7z", members, password)
            with open(archive["path"], "rb") as f:
                try:
                    protocol.call(self.socket_path, {"cmd": "write", "device": stick["device"],
                                                     "name": name, "files": [f"{name}.7z"]},
                                  fds=[f.fileno()], timeout=None)
                except protocol.ProtocolError as exc:
                    raise ExportError(str(exc)) from None
        return {**archive, "path": f"{stick['device']}:{name}/{name}.7z"}


def helper_for(cfg) -> ExportHelper:
    """The development directory when [export] directory is set, else exportd's stick."""
    directory = cfg.export_directory
    return DirectoryHelper(directory) if directory else ExportdHelper()
