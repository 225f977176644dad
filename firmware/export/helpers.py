"""Where an export package is written: the seam between the web (or the CLI) and the medium.

A helper offers the media (`devices`), prepares them (`format`, `unlock`, `eject`) and opens a
`Target` for one package: `open(name)` gives a new file to stream a package file into,
`finish()` makes the package appear under its name (synced), `abort()` leaves nothing.
`ExportdHelper` is the USB stick exportd offers (the files are opened by exportd on the stick
and handed over as descriptors: no plaintext copy on the device's disk); `DirectoryHelper` is
the development stand-in (and `nvr export create --to DIR`). A medium takes the package as
plain files (`package: files`, a LUKS2 stick) or inside a 7z archive (`package: 7z`, a stick
that encrypts in hardware, and the directory stand-in): `ArchiveTarget` then holds the package
files in memory files and writes the archive into the medium's one file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

from firmware.export.package import write_7z_to
from firmware.i18n import _


class ExportError(Exception):
    """The export could not be written; the message says why and what to do."""


class AnswerLost(ExportError):
    """exportd's answer was lost after the request reached it (it stopped or restarted): what
    it did is unknown (redteam13c)."""


class Target(Protocol):
    def open(self, name: str) -> BinaryIO:
        """A new file `name` of the package: writable, readable, seekable."""

    def finish(self) -> dict:
        """Every file synced, the package under its name: {path, bytes}."""

    def abort(self) -> None:
        """Nothing of the package is left."""


class ExportHelper(Protocol):
    def devices(self) -> list[dict]:
        """The media: device, model, size, size_text, kind, state, package (files or 7z)."""

    def confirmation(self, device: str) -> str:
        """The exact text a person types to format `device`: device, model and size."""

    def format(self, device: str, confirmation: str, password: str) -> dict: ...

    def unlock(self, device: str, password: str) -> dict: ...

    def eject(self, device: str) -> dict: ...

    def stick(self) -> dict:
        """The one unlocked medium; ExportError when there is none or more than one."""

    def target(self, stick: dict, name: str, files: list[str], need: int) -> Target:
        """Open the package `name` with `files` on `stick`; `need` bytes are checked first."""


def _one_unlocked(devices: list[dict]) -> dict:
    unlocked = [d for d in devices if d["state"] == "unlocked"]
    if len(unlocked) > 1:
        raise ExportError(_("more than one USB stick is unlocked (%(devices)s): eject the "
                            "one that is not for this export and try again",
                            devices=", ".join(d["device"] for d in unlocked)))
    if not unlocked:
        raise ExportError(_("no unlocked USB stick: insert the export stick and unlock it "
                            "(nvr usb unlock DEVICE), then export again"))
    return unlocked[0]


def _size_text(size: int) -> str:
    return f"{size / 1e9:.1f}GB"


# -- the development directory -------------------------------------------------------------------

class FolderTarget:
    """A package folder: files in `.NAME.part`, renamed to NAME when complete and synced."""

    def __init__(self, directory: Path, name: str):
        self.directory, self.name = Path(directory), name
        self.part = self.directory / f".{name}.part"
        self.final = self.directory / name
        self.files: list[BinaryIO] = []
        if self.final.exists():
            raise ExportError(_("%(name)s is already on the stick; nothing was written",
                                name=name))
        shutil.rmtree(self.part, ignore_errors=True)
        self.part.mkdir(parents=True)

    def open(self, name: str) -> BinaryIO:
        self.files.append(open(self.part / name, "x+b"))
        return self.files[-1]

    def finish(self) -> dict:
        from firmware.storage.durable import fsync_dir
        size = 0
        for f in self.files:
            f.flush()
            os.fsync(f.fileno())
            size += os.fstat(f.fileno()).st_size
            f.close()
        fsync_dir(self.part)
        os.rename(self.part, self.final)
        fsync_dir(self.directory)
        return {"path": str(self.final), "bytes": size}

    def abort(self) -> None:
        for f in self.files:
            try:
                f.close()
            except OSError:                     # the medium failed: the error was said
                pass
        shutil.rmtree(self.part, ignore_errors=True)


class DirectoryHelper:
    """Development stand-in for the USB stick, and `nvr export create --to DIR`: one
    pseudo-stick, always unlocked. `package` is what it stands in for: "7z" (a stick that
    encrypts in hardware: the package inside the password-protected archive; the default) or
    "files" (a LUKS2 stick: the package as plain files)."""

    def __init__(self, directory: Path, package: str = "7z"):
        self.directory = Path(directory)
        self.package = package

    def devices(self) -> list[dict]:
        try:                                # pulled, read-only, a file in the way (redteam13c)
            self.directory.mkdir(parents=True, exist_ok=True)
            size = shutil.disk_usage(self.directory).total
        except OSError as exc:
            raise self._failed(exc) from None
        return [{"device": str(self.directory), "model": _("folder (development)"),
                 "size": size, "size_text": _size_text(size),
                 "kind": "plain" if self.package == "7z" else "luks2", "state": "unlocked",
                 "package": self.package,
                 "confirm": f"{self.directory} {_size_text(size)}"}]

    def confirmation(self, device: str) -> str:
        return self._device(device)["confirm"]

    def format(self, device: str, confirmation: str, password: str) -> dict:
        """A folder is never erased: the confirmation is checked, nothing else happens."""
        d = self._device(device)
        if confirmation != d["confirm"]:
            raise ExportError(_("formatting erases %(device)s: confirm with exactly "
                                "'%(confirm)s'", device=device, confirm=d["confirm"]))
        return d

    def unlock(self, device: str, password: str) -> dict:
        return self._device(device)

    def eject(self, device: str) -> dict:
        return {**self._device(device), "ejected": False, "message": _(
            "no export medium: exports go into the development directory %(directory)s, "
            "which is never ejected", directory=self.directory)}

    def stick(self) -> dict:
        return self.devices()[0]

    def target(self, stick: dict, name: str, files: list[str], need: int) -> Target:
        self._device(stick["device"])
        try:
            free = shutil.disk_usage(self.directory).free
            if need + (1 << 20) > free:
                raise ExportError(_("the stick %(device)s is too small: the package needs "
                                    "%(need)s bytes, %(free)s are free; use a larger stick",
                                    device=self.directory, need=need, free=free))
            return FolderTarget(self.directory, name)
        except OSError as exc:
            raise self._failed(exc) from None

    def _device(self, device: str) -> dict:
        d = self.devices()[0]
        if device != d["device"]:
            raise ExportError(_("%(device)s is not a USB stick exportd offers (only USB disks, "
                                "never the system's own disks); see nvr usb list",
                                device=device))
        return d

    def _failed(self, exc: OSError) -> ExportError:
        return ExportError(_("the export medium %(directory)s could not be written "
                             "(%(problem)s); the footage is still on the recorder. Check the "
                             "medium (removed? full?) and export again.",
                             directory=self.directory, problem=exc.strerror or exc))


# -- exportd's stick -----------------------------------------------------------------------------

class ExportdTarget:
    """The package's files on the stick: exportd opened them in `.NAME.part` and handed over
    the descriptors; `finish` asks exportd to sync and rename, `abort` to remove."""

    def __init__(self, helper: "ExportdHelper", device: str, name: str, fds: dict[str, int]):
        self.helper, self.device, self.name = helper, device, name
        self.fds = fds
        self.files: list[BinaryIO] = []

    def open(self, name: str) -> BinaryIO:
        fd = self.fds.pop(name, None)
        if fd is None:
            raise ExportError(_("writing to %(device)s failed (%(problem)s); nothing on it is "
                                "valid: check the stick and export again", device=self.device,
                                problem=name))
        self.files.append(os.fdopen(fd, "w+b"))
        return self.files[-1]

    def finish(self) -> dict:
        for f in self.files:
            f.flush()
            f.close()
        self._close_unused()
        done = self.helper._call({"cmd": "write", "device": self.device, "name": self.name,
                                  "step": "finish"}, timeout=None)
        return {"path": f"{self.device}:{self.name}", "bytes": done["bytes"]}

    def abort(self) -> None:
        for f in self.files:
            try:
                f.close()
            except OSError:                     # the stick is gone: its data with it
                pass
        self._close_unused()
        try:
            self.helper._call({"cmd": "write", "device": self.device, "name": self.name,
                               "step": "abort"})
        except ExportError:
            pass                                # exportd gone or the stick pulled: said before

    def _close_unused(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


class ExportdHelper:
    """The USB stick exportd offers (firmware/export/daemon.py), over its socket."""

    def __init__(self, socket_path: str | None = None):
        from firmware.export import protocol
        self.socket_path = socket_path or protocol.socket_path()

    def _call(self, request: dict, timeout: float | None = 30, fds: bool = False):
        from firmware.export import protocol
        try:
            reply, got = protocol.call_fds(self.socket_path, request, timeout)
        except protocol.ConnectionBroke as exc:
            raise AnswerLost(str(exc)) from None
        except protocol.ProtocolError as exc:
            raise ExportError(str(exc)) from None
        if fds:
            return reply, got
        for fd in got:
            os.close(fd)
        return reply

    def devices(self) -> list[dict]:
        return [{**d, "size": d["bytes"], "size_text": d["size"]}
                for d in self._call({"cmd": "list"})["devices"]]

    def confirmation(self, device: str) -> str:
        for d in self.devices():
            if d["device"] == device:
                return d["confirm"]
        raise ExportError(_("%(device)s is not a USB stick exportd offers (only USB disks, "
                            "never the system's own disks); see nvr usb list", device=device))

    # format and unlock wait for cryptsetup's Argon2id (256 MiB), which can take longer than
    # the socket's usual 30 s on a slow CPU: the system test's emulated one took 25 to 81 s to
    # format (docs/system-test.md); eject waits for sync.
    SLOW = 900

    def format(self, device: str, confirmation: str, password: str) -> dict:
        return self._call({"cmd": "format", "device": device, "confirm": confirmation,
                           "password": password}, timeout=self.SLOW)["device"]

    def unlock(self, device: str, password: str) -> dict:
        return self._call({"cmd": "unlock", "device": device, "password": password},
                          timeout=self.SLOW)["device"]

    def eject(self, device: str) -> dict:
        return self._call({"cmd": "eject", "device": device}, timeout=self.SLOW)

    def stick(self) -> dict:
        return _one_unlocked(self.devices())

    def target(self, stick: dict, name: str, files: list[str], need: int) -> Target:
        reply, fds = self._call({"cmd": "write", "device": stick["device"], "name": name,
                                 "step": "open", "files": files, "bytes": need}, fds=True)
        if len(fds) != len(files):
            for fd in fds:
                os.close(fd)
            raise ExportError(_("writing to %(device)s failed (%(problem)s); nothing on it is "
                                "valid: check the stick and export again",
                                device=stick["device"], problem="descriptors"))
        return ExportdTarget(self, stick["device"], name, dict(zip(files, fds)))


# -- the 7z archive around the package ----------------------------------------------------------

class ArchiveTarget:
    """The package inside a 7z archive (AES-256, encrypted headers) on a medium that takes one
    (`package: 7z`): the package's files are kept in memory files (memfd: RAM, never the
    device's disk) and, at `finish`, archived under `NAME/` into the medium's file NAME.7z."""

    def __init__(self, outer: Target, name: str, password: str):
        self.outer, self.name, self.password = outer, name, password
        self.files: dict[str, BinaryIO] = {}

    def open(self, name: str) -> BinaryIO:
        self.files[name] = os.fdopen(os.memfd_create(f"nvr-{name}", os.MFD_CLOEXEC), "w+b")
        return self.files[name]

    def finish(self) -> dict:
        archive = write_7z_to(self.outer.open(f"{self.name}.7z"),
                              ((f"{self.name}/{n}", f) for n, f in self.files.items()),
                              self.password)
        self._close()
        done = self.outer.finish()
        return {**done, "path": f"{done['path']}/{self.name}.7z",
                "archive_sha256": archive["sha256"]}

    def abort(self) -> None:
        self._close()
        self.outer.abort()

    def _close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files = {}


def memory_available() -> int:
    """Bytes of memory available (MemAvailable), for the 7z's memory files."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def helper_for(cfg) -> ExportHelper:
    """The development directory when [export] directory is set, else exportd's stick."""
    directory = cfg.export_directory
    return DirectoryHelper(directory) if directory else ExportdHelper()
