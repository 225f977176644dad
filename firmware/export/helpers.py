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


class MissingHelper:
    """No export medium is configured and the export helper is not installed yet."""

    def write(self, name: str, members: Iterable[tuple[str, bytes]], password: str) -> dict:
        raise ExportError(_("no export medium: the export helper (exportd) is not running on "
                            "this device, and [export] directory is empty. Insert the export "
                            "USB stick and start nvr-exportd, or set [export] directory in "
                            "development."))


def helper_for(cfg) -> ExportHelper:
    directory = cfg.export_directory
    return DirectoryHelper(directory) if directory else MissingHelper()
