"""Thumbnails in a child process, so the web process never loads PyAV and OpenCV.

Making a thumbnail (playback/thumbnail.py) needs PyAV and OpenCV, which cost a process about
44 MB that it keeps for good (docs/benchmarks.md). A day page asks for up to ~40 thumbnails at
once, so unlike blurring (one child per segment, blur_process.py) one worker serves them all:
`python -m firmware.playback.thumbnail_process` is started on the first request, reads
decrypted segments from a pipe and writes JPEGs back to a pipe (memory only, never a file),
and ends by itself after IDLE_SECONDS without a request, giving its memory back. The web keeps
only the JPEGs (recordings.THUMBNAILS).

The pipe carries frames: a segment is its length (8 bytes, big-endian) and its bytes; an
answer is a status byte (OK, NO_PICTURE, FAILED), a length and a JPEG or a message.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time

from firmware.playback.thumbnail import NoPicture

IDLE_SECONDS = 45.0          # the worker ends after this long without a request
TIMEOUT_SECONDS = 60.0       # one thumbnail; a segment's keyframes take well under a second
OK, NO_PICTURE, FAILED = 0, 1, 2
_LENGTH = 8


class ThumbnailFailed(Exception):
    """The worker could not make the thumbnail (it crashed or took too long)."""


def _read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """Exactly `n` bytes from `fd`; None at end of file before the first byte. TimeoutError
    once `deadline` (time.monotonic) passes."""
    parts, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            if got == 0:
                return None
            raise EOFError(f"the pipe closed after {got} of {n} bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(_LENGTH, "big") + data


class ThumbnailWorker:
    """The parent's side: `make(mp4)` gives the JPEG, starting the worker when none runs.
    Requests are served one at a time (a lock); safe across the web server's threads."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, timeout: float = TIMEOUT_SECONDS):
        self.idle_seconds, self.timeout = idle_seconds, timeout
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def alive(self) -> bool:
        """Whether the worker runs (an ended one is reaped here)."""
        return self._child is not None and self._child.poll() is None

    def make(self, mp4: bytes) -> bytes:
        """The thumbnail JPEG of `mp4` (NoPicture if it holds none, ThumbnailFailed if the
        worker failed). A worker that ended on its idle timeout just as the request came is
        started again once."""
        with self._lock:
            for attempt in (1, 2):
                child = self._running()
                try:
                    _write_all(child.stdin.fileno(), _frame(mp4))
                    deadline = time.monotonic() + self.timeout
                    head = _read_exact(child.stdout.fileno(), 1 + _LENGTH, deadline)
                    if head is None:
                        raise EOFError("the worker ended")
                    body = _read_exact(child.stdout.fileno(),
                                       int.from_bytes(head[1:], "big"), deadline) or b""
                except (BrokenPipeError, EOFError) as exc:
                    self._end()
                    if attempt == 2:
                        raise ThumbnailFailed(f"the thumbnail worker ended ({exc})") from None
                    continue
                except TimeoutError:
                    self._end()
                    raise ThumbnailFailed(f"no thumbnail within {self.timeout:.0f} s") from None
                if head[0] == OK:
                    return body
                message = body.decode("utf-8", "replace")
                if head[0] == NO_PICTURE:
                    raise NoPicture(message)
                raise ThumbnailFailed(message)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        with self._lock:
            self._end()

    def _running(self) -> subprocess.Popen:
        if not self.alive():
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self.idle_seconds)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        return self._child

    def _end(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        child.stdin.close()                   # the worker reads the end and exits
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()


def serve(idle_seconds: float, requests: int = 0, answers: int = 1) -> int:
    """The worker: segments from `requests`, answers to `answers`, until the pipe closes or
    `idle_seconds` pass without a request."""
    import av

    from firmware.playback.thumbnail import make_thumbnail
    while select.select([requests], [], [], idle_seconds)[0]:
        head = _read_exact(requests, _LENGTH)
        if head is None:
            return 0
        mp4 = _read_exact(requests, int.from_bytes(head, "big")) or b""
        try:
            status, out = OK, make_thumbnail(mp4)
        except (NoPicture, av.error.FFmpegError) as exc:     # FFmpeg's: not a video
            status, out = NO_PICTURE, str(exc).encode()
        except Exception as exc:                             # noqa: BLE001 - told the web
            status, out = FAILED, f"{type(exc).__name__}: {exc}".encode()
        _write_all(answers, bytes([status]) + _frame(out))
    return 0


def main(argv: list[str]) -> int:
    answers = os.dup(1)
    os.dup2(2, 1)             # a library's print goes to stderr, never into the answers
    return serve(float(argv[0]) if argv else IDLE_SECONDS, 0, answers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
