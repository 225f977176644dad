"""`nvr config install`: a new configuration file put in place by the technisch beheerder's
`sudo nvr-admin config install FILE` (issue 14, R-11: system configuration without root).

The text is checked exactly as `nvr config check` checks a file; only a text that passes
replaces the configuration, atomically (a temporary file in the same directory, fsynced, then
renamed), owned root:nvr with mode 0640 when root installs it (docs/units.md). The change is
not logged here: the recorder and the web record old and new values at their next start
(governance/configlog.py), as for every other change of the file."""

from __future__ import annotations

import grp
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from firmware.config import parse

CONFIG_GROUP = "nvr"
CONFIG_MODE = 0o640


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


def install(text: str, target: Path) -> Installed:
    """Check TEXT as `nvr config check` would (ConfigError names every problem, nothing is
    written), then put it at TARGET unless it is already there byte for byte."""
    parse(text, source=str(target), base=target.parent)
    try:
        old = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    if old == text:
        return Installed(False, ())
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
