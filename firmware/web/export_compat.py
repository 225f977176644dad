"""TEMPORARY adapter (issue 13, until branch `stickwrite` is merged): the export helper API the
web pages are built against, for the helpers and `make_package` on main.

The pages call `helper.devices()`, `confirmation`, `format`, `unlock`, `eject` and
`service.make_package(..., helper=, reason=, password=, progress=)` (stickwrite's API). Where a
helper already has them (stickwrite merged) `stick_helper` returns it unchanged and `package`
calls make_package as is; this module can then be deleted. Where not, the development
directory is offered as one pseudo-stick, and exportd is asked over its socket.
"""

from __future__ import annotations

import inspect
import shutil

from firmware.export.helpers import DirectoryHelper, ExportError, helper_for
from firmware.i18n import _


class _Directory:
    def __init__(self, helper: DirectoryHelper):
        self.directory = helper.directory

    def devices(self) -> list[dict]:
        free = shutil.disk_usage(self.directory if self.directory.exists()
                                 else self.directory.parent).free
        return [{"device": str(self.directory), "model": "map", "size": free,
                 "size_text": f"{free / 1e9:.1f}GB", "kind": "directory", "state": "unlocked",
                 "package": "files"}]

    def confirmation(self, device: str) -> str:
        return f"{device} map"

    def _never(self, *args) -> None:
        raise ExportError(_("the development folder %(directory)s stands in for the USB stick: "
                            "it is never formatted, locked or ejected",
                            directory=self.directory))

    format = unlock = eject = _never


class _Exportd:
    def __init__(self, helper):
        self.helper = helper

    def _call(self, request: dict) -> dict:
        from firmware.export import protocol
        try:
            return protocol.call(self.helper.socket_path, request)
        except protocol.ProtocolError as exc:
            raise ExportError(str(exc)) from None

    def devices(self) -> list[dict]:
        return [{**d, "size_text": d.get("size"), "size": d.get("bytes")}
                for d in self._call({"cmd": "list"})["devices"]]

    def confirmation(self, device: str) -> str:
        for d in self._call({"cmd": "list"})["devices"]:
            if d["device"] == device:
                return d["confirm"]
        raise ExportError(_("there is no USB stick %(device)s (any more): insert it again and "
                            "reload the page", device=device))

    def format(self, device: str, confirmation: str, password: str) -> None:
        self._call({"cmd": "format", "device": device, "confirm": confirmation,
                    "password": password})

    def unlock(self, device: str, password: str) -> None:
        self._call({"cmd": "unlock", "device": device, "password": password})

    def eject(self, device: str) -> None:
        self._call({"cmd": "eject", "device": device})


def stick_helper(cfg):
    """The export helper with stickwrite's API."""
    helper = helper_for(cfg)
    if hasattr(helper, "devices"):
        return helper
    return _Directory(helper) if isinstance(helper, DirectoryHelper) else _Exportd(helper)


def package(gov, store, actor, *, request_id, camera, start, end, helper, reason, password,
            progress, device: str) -> dict:
    """service.make_package with stickwrite's signature, or main's (into the folder)."""
    from firmware.export import service
    if "helper" in inspect.signature(service.make_package).parameters:
        return service.make_package(gov, store, actor, request_id=request_id, camera=camera,
                                    start=start, end=end, helper=helper, reason=reason,
                                    password=password, progress=progress)
    if not isinstance(helper, _Directory):
        raise ExportError(_("writing onto a USB stick from the web needs the new export "
                            "helper; use the development folder"))
    result = service.make_package(gov, store, actor, request_id=request_id, camera=camera,
                                  start=start, end=end, to=helper.directory, device=device,
                                  reason=reason)
    progress(result["package"]["bytes"], result["package"]["bytes"])
    return {**result, "bytes": result["package"]["bytes"]}


class _Passwords:
    """export/passwords.py's API until it is merged: 8 groups of 4 from 32 unambiguous
    characters (160 bits), read aloud group by group; a typed one has at least 16."""

    ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789A"

    @classmethod
    def generate(cls) -> str:
        import secrets
        return "-".join("".join(secrets.choice(cls.ALPHABET) for _ in range(4))
                        for _ in range(8))

    @staticmethod
    def check_typed(password: str) -> str:
        if len(password) < 16:
            raise ValueError(_("a typed password has at least 16 characters"))
        return password


def passwords():
    """export/passwords.py, or the stand-in above while it is not merged."""
    try:
        from firmware.export import passwords as module
    except ImportError:
        return _Passwords
    return module
