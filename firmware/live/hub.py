"""The recorder's live socket: a local Unix socket that streams a camera's live JPEGs.

Protocol (one camera per connection): the client sends the camera id and a newline (or
`?status`, answered with `OK` and a JSON object, then the hub closes); the hub
answers `OK\\n` or `ERR <why>\\n`, then sends frames as a header (`!dI`: capture time, JPEG
length) followed by the JPEG, newest first: a slow reader skips frames rather than falling
behind. Closing the connection stops the viewing; the last one to go stops the encoding.

The socket is made with mode 0660: only the recorder's user and group (the web service) may
connect. Who may watch is decided in the web process (R-01, R-11) before it connects.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from firmware.live import HEADER
from firmware.live.tap import LiveTap

log = logging.getLogger(__name__)
WAIT = 2.0                      # seconds without a frame before the hub checks the client


class LiveHub:
    """`status` answers the line `?status` with JSON: the recorder's view of its cameras."""

    def __init__(self, path: Path, taps: dict[str, LiveTap],
                 status: Callable[[], dict] | None = None):
        self.path, self.taps, self.status = Path(path), taps, status
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Left by a recorder that was killed, or put there by another user of the group nvr
        # (the data directory is group-writable): the recorder owns the store (owner.lock)
        # and the directory, so whatever has this name goes (redteam12).
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o117)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="live-hub", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="live-viewer",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                camera = conn.makefile("rb").readline(128).decode("ascii", "replace").strip()
            except OSError:
                return
            if camera == "?status":
                body = json.dumps(self.status() if self.status else {}).encode()
                conn.sendall(b"OK\n" + body)
                return
            tap = self.taps.get(camera)
            if tap is None:
                conn.sendall(f"ERR no live picture of camera {camera!r} here\n".encode())
                return
            conn.sendall(b"OK\n")
            tap.watch()
            try:
                self._stream(conn, tap)
            except OSError:
                pass                            # the viewer went away
            finally:
                tap.unwatch()

    def _stream(self, conn: socket.socket, tap: LiveTap) -> None:
        seq = 0
        while not self._stop.is_set():
            frame = tap.next_frame(seq, WAIT)
            if frame is None:
                conn.sendall(HEADER.pack(0.0, 0))    # keep-alive: finds a closed client
                continue
            seq = frame.seq
            conn.sendall(HEADER.pack(frame.t, len(frame.jpeg)) + frame.jpeg)

    def stop(self) -> None:
        self._stop.set()
        for tap in self.taps.values():
            tap.close()
        if self._sock is not None:
            self._sock.close()
        if self._thread is not None:
            self._thread.join(2)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
