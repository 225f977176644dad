"""`nvr config install`: a new configuration file put in place by the technisch beheerder's
`sudo nvr-admin config install FILE` (issue 14, R-11: system configuration without root).

The text is checked exactly as `nvr config check` checks a file; only a text that passes
replaces the configuration, atomically (a temporary file in the same directory, fsynced, then
renamed), owned root:nvr with mode 0640 when root installs it (docs/units.md). The change is
not logged here: the recorder and the web record old and new values at their next start
(governance/configlog.py), as for every other change of the file.

What the file may not change (FIXED): the storage paths of the installed configuration. A
device's data, index and key directories are fixed by the image (docs/units.md); pointing them
elsewhere opens a store without this device's index and keys, where `nvr firstboot` would show
new enrollment codes for both first roles (R-11, red team 14c) and make a new master key in
whatever directory key_dir names (R-82). Moving them is a reflash, or root's work on the
device, never the technisch beheerder's through `sudo nvr-admin config install`.

Nor may it change `[export] directory` (EXPORT_KEY): the development stand-in for the encrypted
USB stick. Set on a device, every export would be written into a folder on the device instead of
going through the export helper onto an encrypted stick (R-61)."""

from __future__ import annotations

import dataclasses
import grp
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from firmware.config import StorageConfig, parse
from firmware.i18n import _

CONFIG_GROUP = "nvr"
CONFIG_MODE = 0o640
# the keys whose change would re-provision the device. storage.index_dir arrives
# with the index's own directory (branch indexdir); until then both files lack it and it
# compares equal. Not here: device.id (a name in segment headers, the client CA and the
# logbooks' wording; no key, account or index follows it, and the fleet's first push sets it),
# and no TLS path (the certificate lives in key_dir under a fixed name).
FIXED = ("storage.data_dir", "storage.index_dir", "storage.key_dir")
EXPORT_KEY = "export.directory"


class FixedKeyChanged(ValueError):
    """The new text moves a storage path of the installed configuration; nothing is written."""


@dataclass(frozen=True)
class Installed:
    changed: bool
    keys: tuple[str, ...]      # the dotted keys whose values differ, "cameras" as one key


def _group_id() -> int | None:
    """The device's group nvr; None on a machine without it (a development checkout)."""
    try:
        return grp.getgrnam(CONFIG_GROUP).gr_gid
    except KeyError:
        return None


def _flat(table: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(table, dict):
        return {prefix: table}
    out: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flat(value, name))
        else:
            out[name] = value
    return out


def changed_keys(old_text: str, new_text: str) -> tuple[str, ...]:
    """The keys whose values differ between two configuration texts (an unreadable old text
    counts as empty)."""
    try:
        old = _flat(tomllib.loads(old_text))
    except tomllib.TOMLDecodeError:
        old = {}
    new = _flat(tomllib.loads(new_text))
    return tuple(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))


def _meaning(path: Path) -> str:
    """A path as the text means it, links NOT followed: `./`, `//` and a trailing `/` folded,
    but a path with ".." kept as written ("<link>/.." is another directory to the kernel than
    to os.path.normpath: red team 14d). Compared as text, so a link the caller owns cannot make
    another directory look like the installed one now and be re-pointed later (reviewer A:
    realpath() at install time let `/run/lock/b/d -> /var/lib/nvr/data` pass)."""
    if ".." in path.parts:
        return str(path)
    return os.path.normpath(path)


def storage_paths(text: str, base: Path) -> dict[str, str]:
    """The FIXED keys' values as the configuration means them (`_meaning`): a missing key its
    default (a missing index_dir: data_dir), a relative path taken from `base` (the file's
    directory, as config.parse does). Only the [storage] table is read, so an installed file
    that an older firmware accepted still answers. Raises ValueError when it cannot be read."""
    table = tomllib.loads(text).get("storage", {})
    if not isinstance(table, dict):
        raise ValueError(_("[storage] is not a table"))
    known = {f.name for f in dataclasses.fields(StorageConfig)}
    given = {}
    for key in FIXED:
        name = key.split(".", 1)[1]
        if name in known and name in table:
            if not isinstance(table[name], str):
                raise ValueError(_("%(key)s is not a path", key=key))
            given[name] = base / table[name]
    storage = StorageConfig(**given)
    return {key: _meaning(value) if (value := getattr(storage, key.split(".", 1)[1], None))
            is not None else "" for key in FIXED}


def export_directory(text: str, base: Path) -> str:
    """`[export] directory` as the configuration means it (config.Config.export_directory),
    or "" when it is not set. Raises ValueError when it cannot be read."""
    table = tomllib.loads(text).get("export", {})
    if not isinstance(table, dict):
        raise ValueError(_("[export] is not a table"))
    value = table.get("directory", "")
    if not isinstance(value, str):
        raise ValueError(_("%(key)s is not a path", key=EXPORT_KEY))
    return _meaning(base / value) if value else ""


def refuse_moved_paths(old_text: str, new_text: str, target: Path) -> None:
    """R-11, R-82: raise FixedKeyChanged naming each storage path the new text would move, or
    an installed file whose paths cannot be read (then nothing can be compared)."""
    base = target.parent
    try:
        old = storage_paths(old_text, base)
    except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
        raise FixedKeyChanged(_(
            "the installed configuration %(path)s cannot be read (%(problem)s), so the new "
            "file's storage paths cannot be compared with it: nothing is installed; root on "
            "the device repairs %(path)s (the image's paths are in /usr/share/nvr/nvr.toml)",
            path=str(target), problem=str(exc))) from None
    try:
        new = storage_paths(new_text, base)
        new_export = export_directory(new_text, base)
    except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
        # The check names the problem (it stops before any path is followed), or this does.
        parse(new_text, source=str(target), base=base, files=False)
        raise FixedKeyChanged(str(exc)) from None
    moved = tuple(key for key in FIXED if old[key] != new[key])
    _refuse_export_directory(old_text, new_export, base)
    _refuse_camera_paths(old_text, new_text)
    if moved:
        changes = "; ".join(f"{key}: {old[key]} -> {new[key]}" for key in moved)
        raise FixedKeyChanged(_(
            "refused, nothing is installed: %(changes)s. A device's storage paths are fixed by "
            "the image: in another directory the store opens without this device's index and "
            "keys, and the next start would show new enrollment codes for the first accounts "
            "(R-11) and make a new master key there (R-82). Keep the installed values in the "
            "new file; moving them is a reflash, or root's work on the device "
            "(docs/provisioning.md)", changes=changes))


# A camera device the services may open for the technisch beheerder: a V4L2 node, never a
# path through a folder anyone may write (/dev/shm), which could lead anywhere.
V4L2_DEVICE = re.compile(r"/dev/(video[0-9]+|v4l/by-(id|path)/[A-Za-z0-9:._-]+)")


def _camera_files(text: str) -> set[tuple[str, str, str]]:
    cameras = tomllib.loads(text).get("cameras", [])
    return {(str(c.get("source", "")), str(c.get("path", "")), str(c.get("freeze_file", "")))
            for c in cameras if isinstance(c, dict)} if isinstance(cameras, list) else set()


def _refuse_camera_paths(old_text: str, new_text: str) -> None:
    """R-11: a camera's `file` source and `freeze_file` (development and test seams) stay as
    installed, and a `v4l2` camera names a video device: the recorder (nvr-recorder, which
    reads the footage) and the root export helper open or stat these paths, and whether one
    works would tell the technisch beheerder about files they may not see, such as which days
    a camera recorded (red team R3)."""
    try:
        installed = _camera_files(old_text)
    except tomllib.TOMLDecodeError:
        installed = set()
    for source, path, frozen in _camera_files(new_text):
        if source == "v4l2" and not V4L2_DEVICE.fullmatch(path):
            raise FixedKeyChanged(_(
                "refused, nothing is installed: the v4l2 camera's path %(path)s is not a video "
                "device; give /dev/videoN or /dev/v4l/by-id/... (R-11)", path=path))
        if (source == "file" or frozen) and (source, path, frozen) not in installed:
            raise FixedKeyChanged(_(
                "refused, nothing is installed: a camera with source = \"file\" or a "
                "freeze_file is a development and test seam, not set through config install on "
                "a device (the recorder would open %(path)s for you, R-11); use picamera2 or a "
                "v4l2 device", path=path or frozen))


def _refuse_export_directory(old_text: str, new: str, base: Path) -> None:
    """R-61: `[export] directory` stays as installed: empty on a device (exports through the
    export helper onto an encrypted stick only)."""
    try:
        old = export_directory(old_text, base)
    except (tomllib.TOMLDecodeError, ValueError):
        old = ""                   # an unreadable [export] table means no directory was set
    if old != new:
        raise FixedKeyChanged(_(
            "refused, nothing is installed: %(key)s: %(old)s -> %(new)s. The directory stands "
            "in for the encrypted USB stick on a development machine only; on a device every "
            "export goes through the export helper onto an encrypted stick (R-61), never into a "
            "folder on the device. Keep the installed value in the new file (on a device: "
            "directory = \"\")", key=EXPORT_KEY, old=old or '""', new=new or '""'))


def install(text: str, target: Path, files: bool = True) -> Installed:
    """Check TEXT as `nvr config check` would (ConfigError names every problem, nothing is
    written), refuse a change of the FIXED storage paths (FixedKeyChanged, nothing written),
    then put it at TARGET unless it is already there byte for byte."""
    try:
        old = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None                 # a first install (a development checkout, a test): no paths
    if old is not None and old != text:
        # First, before the check: the check follows the storage paths (resolve()) and names
        # where they lead, which as root would tell the caller about links and paths they may
        # not see (red team R1). Equal to the installed ones, they are root's own.
        refuse_moved_paths(old, text, target)
    parse(text, source=str(target), base=target.parent, files=files)
    if old == text:
        return Installed(False, ())
    old = old or ""
    keys = changed_keys(old, text)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".nvr.toml.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if os.geteuid() == 0 and _group_id() is not None:
                os.fchown(f.fileno(), 0, _group_id())
            os.fchmod(f.fileno(), CONFIG_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return Installed(True, keys)
