"""The web side of the live socket: frames of one camera, as (capture time, JPEG)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

from firmware.live import HEADER


class LiveUnavailable(Exception):
    """No live picture: the recorder is not running or does not record this camera."""


def _read_exact(f, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise LiveUnavailable("the recorder closed the live connection")
    return data


def live_frames(path: Path, camera: str, timeout: float = 10.0,
                keepalive: bool = False) -> Iterator[tuple[float, bytes]]:
    """Yield the camera's live frames until the caller stops; keep-alives are skipped, or with
    `keepalive` yielded as (0.0, b""): the hub sends one every 2 s without a frame, so a caller
    that must look at the clock (access that ends, a camera that stalled) is not blocked for
    as long as the camera gives no picture."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        raise LiveUnavailable(f"the recorder's live socket {path} does not answer ({exc}): "
                              "is the recorder running?") from None
    with sock, sock.makefile("rb") as f:
        sock.sendall(camera.encode("ascii") + b"\n")
        answer = f.readline(256).decode("ascii", "replace").strip()
        if answer != "OK":
            raise LiveUnavailable(answer.removeprefix("ERR ").strip() or "no answer")
        while True:
            t, size = HEADER.unpack(_read_exact(f, HEADER.size))
            if size:
                yield t, _read_exact(f, size)
            elif keepalive:
                yield 0.0, b""


def recorder_status(path: Path, timeout: float = 2.0) -> dict | None:
    """The recorder's own view of its cameras, or None when it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"?status\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\n")
    return json.loads(body) if head == b"OK" else None
