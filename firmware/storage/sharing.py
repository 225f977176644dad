"""Key files shared by the recorder and the web interface through a group (docs/units.md).

On a device the recorder (user nvr-recorder) and the web interface (user nvr-web) both read
the master key and the logbook keys and heads, through their common group nvr. tmpfiles.d
makes the key and data directories setgid to that group; a setgid directory is the sign that
its files are meant for the group. There a private file is made 0640 (the group reads, never
writes) instead of 0600, and a group-readable key is accepted. Anywhere else (a development
checkout, an existing device directory from `nvr init`) nothing changes: 0600, owner only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_ONLY = 0o600
GROUP_READS = 0o640


def shared(directory: Path) -> bool:
    """Whether `directory` is a group-shared (setgid) directory."""
    return bool(os.stat(directory).st_mode & stat.S_ISGID)


def private_mode(directory: Path) -> int:
    """The mode for a key or other private file made in `directory`."""
    return GROUP_READS if shared(directory) else OWNER_ONLY


def too_open(path: Path, st: os.stat_result) -> bool:
    """A key file others may read, or (outside a shared directory) the group may read; in a
    shared directory the group may read it, never write it."""
    allowed = GROUP_READS if shared(path.parent) else OWNER_ONLY
    return bool(st.st_mode & 0o777 & ~allowed)


def trusted_owner(path: Path, st: os.stat_result) -> bool:
    """This user's key, or in a shared directory the key of the directory's owner (the
    recorder) in the directory's group (a key another user planted does not count)."""
    if st.st_uid == os.geteuid():
        return True
    parent = os.stat(path.parent)
    return bool(parent.st_mode & stat.S_ISGID) and (st.st_uid, st.st_gid) == (
        parent.st_uid, parent.st_gid)


# In a key directory: the folder of the files both services replace (the signed logbook heads,
# the recorded configuration). The key directory itself is sticky on a device (3770,
# tmpfiles.d): there each user may replace or delete only its own files, so the web can never
# unlink the master key or rename a key of its own over it; this folder is not sticky.
BOTH_WRITE = "shared"


def both_write(key_dir: Path) -> Path:
    """key_dir/shared, made on first use: group-writable (2770) in a shared key directory, as
    tmpfiles.d makes it on a device; owner only (0700) elsewhere. A user who may not make it
    gets its path all the same (reading falls back to the key directory, `legacy`)."""
    folder = Path(key_dir) / BOTH_WRITE
    if not folder.is_dir():
        try:
            folder.mkdir(mode=0o700)
            if shared(Path(key_dir)):
                os.chmod(folder, 0o2770)
        except FileExistsError:
            pass
        except PermissionError:
            pass
    return folder


def to_read(path: Path) -> Path:
    """`path` in key_dir/shared, or where a device from before that folder kept it (the key
    directory itself) while the new one has not been written yet."""
    legacy = path.parent.parent / path.name
    if path.parent.name == BOTH_WRITE and not path.exists() and legacy.exists():
        return legacy
    return path
