"""Files written by root into directories a service can write (the key and data directories,
docs/provisioning.md): never through a symbolic link a service planted, never half-written.

A file is made under a temporary name in the same directory (O_CREAT|O_EXCL|O_NOFOLLOW: nothing
that exists is opened), written, fsync'ed, given its owner and mode on the descriptor, and then
renamed (or linked, when an existing file must win) into place: a rename replaces a link itself,
never its target. A name that is a symbolic link is refused with what to do.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from firmware.i18n import _


class UnsafeFile(OSError):
    """A key's name is a symbolic link or not a regular file; the message says what to do."""


def refuse_link(path: Path) -> bool:
    """Whether `path` exists (a regular file or directory); UnsafeFile when it is a symbolic
    link (dangling or not) or another kind of file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFile(_("%(path)s is a symbolic link (to %(target)s), not a file: nothing is "
                           "written through it; remove it (rm %(path)s), find out who made it, "
                           "then start again", path=str(path), target=os.readlink(path)))
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(_("%(path)s is not a regular file: nothing is written to it; move it "
                           "away, then start again", path=str(path)))
    return True


def write(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None = None,
          replace: bool = True) -> bool:
    """`data` at `path` as described above; with `replace` False an existing file wins (then
    False is returned and nothing changes). `owner` None keeps the process's own."""
    path = Path(path)
    refuse_link(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.rename(tmp, path)
            made = True
        else:
            try:
                os.link(tmp, path, follow_symlinks=False)
                made = True
            except FileExistsError:
                made = False
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    _sync_dir(path.parent)
    return made


def set_owner(path: Path, owner: tuple[int, int], mode: int) -> bool:
    """Give an existing regular file (one link, not a symbolic link) `owner` and `mode`, on its
    descriptor; False when it is missing. UnsafeFile for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return False
    except OSError:
        refuse_link(path)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise UnsafeFile(_("%(path)s is not a regular file of its own (%(links)s links): "
                               "its owner is not changed; move it away, then start again",
                               path=str(path), links=st.st_nlink))
        if (st.st_uid, st.st_gid) != owner:
            os.fchown(fd, *owner)
        if stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


def move_aside(path: Path, why: str) -> Path:
    """Rename a damaged file to NAME.damaged-N beside it (never deleted); the new name."""
    path = Path(path)
    n = 1
    while True:
        aside = path.with_name(f"{path.name}.{why}-{n}")
        if not os.path.lexists(aside):
            os.rename(path, aside)
            return aside
        n += 1


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
