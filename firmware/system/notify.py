"""The sd_notify protocol, in the few lines it takes (systemd's sd_notify(3)).

A service of `Type=notify` tells systemd how it is doing by sending datagrams of `KEY=value`
lines to the AF_UNIX socket named in `$NOTIFY_SOCKET` (a leading `@` names a socket in the
abstract namespace): `READY=1` once it works, `WATCHDOG=1` to say it is still well,
`STATUS=...` a line `systemctl status` shows, `STOPPING=1` when it shuts down. With
`WatchdogSec=` in the unit, systemd sets `$WATCHDOG_USEC` (and `$WATCHDOG_PID`, the process
meant) and restarts the service when no `WATCHDOG=1` came within that time.

Without `$NOTIFY_SOCKET` (started by hand, in most tests) every call does nothing. A failed
send is logged once and never stops the caller: the recorder records on, and systemd, missing
its pings, restarts it.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages to the socket the environment names (or nowhere)."""

    def __init__(self, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + path[1:] if path.startswith("@") else path
        self.watchdog_interval = watchdog_seconds(env)
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> bool:
        """One datagram of `lines`; True when it was sent (False without a socket)."""
        if not self.address:
            return False
        data = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self.address)
                s.sendall(data)
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify to %s failed: %s (systemd does not hear from the "
                            "recorder; is NOTIFY_SOCKET right?)", self.address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))


def watchdog_seconds(environ: dict[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd set for this process, in seconds; None when there is none
    (no `$WATCHDOG_USEC`, an unreadable value, or `$WATCHDOG_PID` naming another process)."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None
