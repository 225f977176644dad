"""A stick pulled mid-write, told apart from other faults of an export (issue 13, "Faults that
end cleanly"; R-61).

On a real device a pulled stick (or one whose device-mapper mapping errors) shows up as an
OSError on write, fsync, rename or close of the files on its mount: EIO, or ENODEV, ENXIO or
ENOENT once the device or its mount is gone. The export path (`service.make_package`, the
helpers' targets) and exportd's `write` steps turn these into one message a person can act on
(`STICK_GONE`); the recorder's own disk failing while a segment is read is said apart
(`reading`), so that it is never blamed on the stick.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable

from firmware.i18n import N_, gettext
from firmware.storage.sink import StorageError

GONE_ERRNOS = frozenset({errno.EIO, errno.ENODEV, errno.ENXIO, errno.ENOENT})

STICK_GONE = N_("the USB stick %(device)s was removed during writing or gave a write error; "
                "there is no valid package on it. Insert the stick again and start the "
                "export again.")


def unwrapped(exc: BaseException) -> BaseException:
    """The OSError behind `exc` when a write failed inside PyAV's muxer (the MP4 streamed
    into the stick's file): PyAV raises its callback error around it; else `exc`."""
    inner = exc.__context__
    if type(exc).__name__ == "PyAVCallbackError" and isinstance(inner, OSError):
        return inner
    return exc


def stick_gone(exc: BaseException) -> bool:
    """Whether `exc`, raised while writing onto the stick, means the stick is gone or
    failing."""
    return isinstance(exc, OSError) and exc.errno in GONE_ERRNOS


def stick_gone_error(device: str) -> Exception:
    """The ExportError that says the stick `device` was pulled or failed mid-write."""
    from firmware.export.helpers import ExportError
    return ExportError(gettext(STICK_GONE, device=device))


class DiskReadError(StorageError):
    """A segment could not be read from the recorder's own disk: said as it is, never wrapped
    in the message of a failed write to the stick (redteam13c)."""


def reading(read: Callable[[str], Iterable[bytes]]) -> Callable[[str], Iterable[bytes]]:
    """`read(segment_id)` with an OSError of the recorder's own disk turned into a
    DiskReadError that says so: only an OSError of the writes is the stick's."""
    from firmware.i18n import _

    def guarded(segment_id: str) -> Iterable[bytes]:
        try:
            yield from read(segment_id)
        except OSError as exc:
            raise DiskReadError(_("segment %(segment)s could not be read from the recorder's "
                                  "disk (%(problem)s); the stick is not at fault. Run nvr "
                                  "recordings verify and tell the technisch beheerder",
                                  segment=segment_id, problem=exc.strerror or exc)) from exc
    return guarded
