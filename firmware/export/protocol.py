"""exportd's socket protocol: a small, strict command set over a Unix socket (issue 13 item 1).

One request per connection: a JSON object on one line (at most `MAX_REQUEST` bytes), answered
by one JSON line: `{"ok": true, ...}` or `{"ok": false, "error": "..."}`. The commands are
`list`, `unlock`, `format`, `write` and `eject`, each with exactly its own fields; anything else
is refused. `write` `open` answers with open file descriptors (SCM_RIGHTS) of the package's
files in a hidden folder on the stick: the client streams the package into them, so neither a
plaintext copy lands on the device's disk nor does exportd read the recorder's data directory
(its unit makes that inaccessible); `write` `finish` syncs and renames, `abort` removes.
Only the web interface's user or group (and root) may talk: the peer's credentials
(SO_PEERCRED) are checked before a byte is read.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware.i18n import N_, _

log = logging.getLogger("nvr.exportd")

MAX_REQUEST = 16 * 1024                 # one line of JSON: no package passes through it
MAX_FILES = 64                          # file descriptors with one `write`
MAX_PASSWORD = 1024
# A request line must arrive within this many seconds of connecting; a peer that connects and
# sends nothing would otherwise hold one of exportd's threads for good (redteam13).
REQUEST_TIMEOUT = 10.0
# Where exportd listens: its RuntimeDirectory (systemd/nvr-exportd.service), open to the group
# nvr-export only; NVR_EXPORTD_SOCKET moves it (tests, development).
DEFAULT_SOCKET = "/run/nvr-exportd/exportd.sock"
SOCKET_ENV = "NVR_EXPORTD_SOCKET"

# Each command with its required fields (name: type); no other field is accepted.
COMMANDS: dict[str, dict[str, type]] = {
    "list": {},
    "unlock": {"device": str, "password": str},
    "format": {"device": str, "confirm": str, "password": str},
    "write": {"device": str, "name": str, "step": str},
    "eject": {"device": str},
}
# `write` in three steps, each with its own further fields: `open` (exportd checks the space,
# creates the hidden folder NAME.part, opens the named files and hands their descriptors back),
# `finish` (fsync, rename to NAME, sync) and `abort` (the .part folder removed).
WRITE_STEPS: dict[str, dict[str, type]] = {
    "open": {"files": list, "bytes": int},
    "finish": {},
    "abort": {},
}


class ProtocolError(Exception):
    """A request exportd refuses; the message says what was wrong and what to do."""


class ConnectionBroke(ProtocolError):
    """The connection broke after the request was sent: exportd may have done the work
    (redteam13c: a `write` `finish` whose answer is lost may have renamed the package)."""


class BadRequest(ProtocolError):
    """A malformed request (parse_request): English only, since a person never sends a raw
    request; the web and the CLI send only well-formed ones."""


class Refusal(Exception):
    """A refusal a person reads: an English msgid (`N_`) with its parameters. exportd runs as
    root and speaks English; the answer carries msgid and params so that the client translates
    it in its own reader's language (`translate`)."""

    def __init__(self, msgid: str, **params):
        self.msgid = msgid
        self.params = {k: v if isinstance(v, (int, float)) else str(v)
                       for k, v in params.items()}
        super().__init__(msgid % self.params if self.params else msgid)

    def answer(self) -> dict:
        return {"ok": False, "error": str(self), "msgid": self.msgid, "params": self.params}


def translate(reply: dict) -> str:
    """The refusal in `reply` in the reader's language (Dutch in a web request, the CLI's
    language elsewhere); its English text when the msgid is not in the catalogue or the
    params do not fit it."""
    from firmware.i18n import WEB_LOCALE, gettext, translations
    english = str(reply.get("error") or "exportd refused the request")
    msgid, params = reply.get("msgid"), reply.get("params") or {}
    if not isinstance(msgid, str) or not isinstance(params, dict):
        return english
    if translations(WEB_LOCALE).gettext(msgid) == msgid:        # not in the catalogue
        return english
    try:
        return gettext(msgid, **params)
    except (KeyError, TypeError, ValueError):
        return english


# What the eject button may ask (the recorder's GPIO worker, group nvr-eject): to see the
# sticks and to eject one, never to unlock, format or write (redteam12, R-61).
EJECT_ONLY = frozenset({"list", "eject"})


@dataclass(frozen=True)
class PeerPolicy:
    """Who may talk to exportd, and what they may ask: `uids` and `gids` every command,
    `eject_only` (user ids) only EJECT_ONLY, even when they are in `uids` too."""
    uids: frozenset[int] = field(default_factory=frozenset)
    gids: frozenset[int] = field(default_factory=frozenset)
    eject_only: frozenset[int] = field(default_factory=frozenset)

    def rights(self, uid: int, gid: int) -> frozenset[str]:
        """The commands a peer with these ids may send (empty: none, the connection is
        refused)."""
        if uid in self.eject_only and uid != 0:
            return EJECT_ONLY
        if uid in self.uids or gid in self.gids:
            return frozenset(COMMANDS)
        return frozenset()

    @classmethod
    def for_group(cls, group: str, extra_uids: tuple[int, ...] = (),
                  eject_group: str = "nvr-eject") -> "PeerPolicy":
        """Root, the members of `group` (nvr-export: the web interface's user), and
        `extra_uids`; the members of `eject_group` (the recorder, for the eject button) may
        only list and eject."""
        import grp
        import pwd
        try:
            e = grp.getgrnam(eject_group)
            eject = frozenset(pwd.getpwnam(m).pw_uid for m in e.gr_mem if _has_user(m))
        except KeyError:
            eject = frozenset()
        try:
            g = grp.getgrnam(group)
        except KeyError:
            return cls(frozenset({0, *extra_uids}), frozenset(), eject)
        uids = {pwd.getpwnam(m).pw_uid for m in g.gr_mem if _has_user(m)}
        return cls(frozenset(uids | {0, *extra_uids}), frozenset({g.gr_gid}), eject)


def _has_user(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of `conn`."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


def peer_allowed(conn: socket.socket, policy: PeerPolicy) -> bool:
    _, uid, gid = peer_credentials(conn)
    return bool(policy.rights(uid, gid))


def parse_request(line: bytes) -> dict:
    """The request in `line`, checked against the command set; ProtocolError otherwise."""
    if len(line) > MAX_REQUEST:
        raise BadRequest(f"request too long (more than {MAX_REQUEST} bytes); exportd takes "
                            "one short JSON line per request")
    try:
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("the request is not JSON; send one JSON object per line") from None
    if not isinstance(request, dict):
        raise BadRequest("the request is not a JSON object")
    cmd = request.get("cmd")
    if cmd not in COMMANDS:
        raise BadRequest(f"unknown command {str(cmd)[:40]!r}: exportd knows only "
                            f"{', '.join(COMMANDS)}")
    fields = COMMANDS[cmd]
    if cmd == "write":
        step = request.get("step")
        if step not in WRITE_STEPS:
            raise BadRequest(f"write needs the field step, one of {', '.join(WRITE_STEPS)}")
        fields = {**fields, **WRITE_STEPS[step]}
    extra = set(request) - set(fields) - {"cmd"}
    if extra:
        raise BadRequest(f"{cmd} takes no field {', '.join(sorted(extra))[:80]}; it takes "
                            f"{', '.join(fields) or 'none'}")
    for name, kind in fields.items():
        if not isinstance(request.get(name), kind) or isinstance(request.get(name), bool):
            raise BadRequest(f"{cmd} needs the field {name} ({kind.__name__})")
    if len(request.get("password", "")) > MAX_PASSWORD:
        raise BadRequest("the password is too long")
    if cmd == "write" and request["step"] == "open":
        if request["bytes"] < 0:
            raise BadRequest("write needs the bytes the package takes (0 or more)")
        files = request["files"]
        if not files or len(files) > MAX_FILES or not all(isinstance(f, str) for f in files):
            raise BadRequest(f"write needs 1 to {MAX_FILES} file names")
    return request


def receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    """One request line and the file descriptors sent with it; BadRequest when it has not
    arrived within REQUEST_TIMEOUT seconds."""
    conn.settimeout(REQUEST_TIMEOUT)
    fds: list[int] = []
    try:
        data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST + 1, MAX_FILES)
        while b"\n" not in data and len(data) <= MAX_REQUEST:
            more = conn.recv(MAX_REQUEST + 1 - len(data))
            if not more:
                break
            data += more
    except TimeoutError:
        for fd in fds:
            os.close(fd)
        raise BadRequest(f"no request arrived in time ({REQUEST_TIMEOUT:g} s); send one JSON "
                         "line right after connecting") from None
    finally:
        conn.settimeout(None)
    return data.split(b"\n", 1)[0], fds


def send(conn: socket.socket, obj: dict, fds: list[int] = ()) -> None:
    payload = json.dumps(obj).encode() + b"\n"
    if fds:
        sent = socket.send_fds(conn, [payload], list(fds))
        conn.sendall(payload[sent:])
    else:
        conn.sendall(payload)


def socket_path() -> str:
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def call(path: str | os.PathLike, request: dict, timeout: float | None = 30) -> dict:
    """Send one request to exportd at `path`; the answer, or ProtocolError with its error
    (translated into the reader's language)."""
    reply, fds = call_fds(path, request, timeout)
    for fd in fds:
        os.close(fd)
    return reply


def call_fds(path: str | os.PathLike, request: dict, timeout: float | None = 30
             ) -> tuple[dict, list[int]]:
    """`call`, and the file descriptors exportd sent with its answer (`write` `open`); the
    caller owns and closes them."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(os.fspath(path))
        except OSError as exc:
            raise ProtocolError(_("exportd is not running (no answer at %(path)s: "
                                  "%(problem)s); start nvr-exportd (systemctl start "
                                  "nvr-exportd) and try again", path=os.fspath(path),
                                  problem=exc.strerror or exc)) from None
        answer, fds = b"", []
        try:
            conn.sendall(json.dumps(request).encode() + b"\n")
            while not answer.endswith(b"\n"):
                chunk, more, _flags, _addr = socket.recv_fds(conn, 65536, MAX_FILES)
                fds += more
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            for fd in fds:
                os.close(fd)
            raise ProtocolError(_("exportd did not answer %(command)s within %(seconds)s s; "
                                  "it may still be working: see nvr usb list and its log "
                                  "(journalctl -u nvr-exportd) before trying again",
                                  command=request.get("cmd", "?"),
                                  seconds=int(timeout or 0))) from None
        except OSError as exc:                  # ECONNRESET, EPIPE: exportd died meanwhile
            for fd in fds:
                os.close(fd)
            raise ConnectionBroke(_broken(exc.strerror or exc)) from None
    if not answer.endswith(b"\n"):            # an empty or cut-off read: the same
        for fd in fds:
            os.close(fd)
        raise ConnectionBroke(_broken(_("no complete answer")))
    try:
        reply = json.loads(answer)
    except json.JSONDecodeError:
        reply = None
    if not isinstance(reply, dict) or not reply.get("ok"):
        for fd in fds:
            os.close(fd)
        if reply is None:
            raise ProtocolError(_("exportd sent an answer this client cannot read (not one "
                                  "JSON object); see its log (journalctl -u nvr-exportd)"))
        raise ProtocolError(translate(reply))
    return reply, fds


def _broken(problem) -> str:
    """The connection broke after it was made (exportd stopped or restarted while it had the
    request): not a timeout, and exportd was running."""
    return _("the connection to exportd broke (it stopped or restarted; %(problem)s); check "
             "`systemctl status nvr-exportd` and try again", problem=problem)


Answer = Callable[[dict, list[int]], dict]


def serve(path: Path, answer: Answer, policy: PeerPolicy, stop: threading.Event,
          refusals: tuple[type[Exception], ...] = (),
          ready: Callable[[], None] | None = None) -> None:
    """Answer requests on the Unix socket at `path` (0660) until `stop` is set: each checked
    by `parse_request`, then `answer(request, fds)`; a `refusals` error becomes its answer.

    The socket is bound under a temporary name and renamed into place once it listens, so a
    client never finds a socket that refuses the connection; `ready` is called then (systemd's
    READY=1: the unit is active only when exportd answers)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(tmp))
        os.chmod(tmp, 0o660)
        server.listen(8)
        os.replace(tmp, path)
        server.settimeout(0.5)
        if ready is not None:
            ready()
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_one, args=(conn, answer, policy, refusals),
                             daemon=True).start()


def _one(conn: socket.socket, answer: Answer, policy: PeerPolicy,
         refusals: tuple[type[Exception], ...]) -> None:
    fds: list[int] = []
    out: list[int] = []                 # descriptors sent back with the answer (write open)
    with conn:
        try:
            _, uid, gid = peer_credentials(conn)
            rights = policy.rights(uid, gid)
            if not rights:
                log.warning("refused a connection from uid %s gid %s", uid, gid)
                send(conn, Refusal(N_("not allowed: only the web interface's user (group "
                                      "nvr-export) and root may use exportd")).answer())
                return
            line, fds = receive(conn)
            request = parse_request(line)
            if request["cmd"] not in rights:
                log.warning("refused %s from uid %s (may only %s)", request["cmd"], uid,
                            ", ".join(sorted(rights)))
                raise Refusal(N_("not allowed: the eject button may only list and eject "
                                 "sticks, not %(command)s"), command=request["cmd"])
            reply = answer(request, fds)
            out = reply.pop("_fds", [])
        except Refusal as exc:
            reply = exc.answer()
        except (ProtocolError, *refusals) as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:                    # logged; the daemon keeps serving
            log.exception("request failed")
            reply = Refusal(N_("exportd failed (%(problem)s); see its log (journalctl -u "
                               "nvr-exportd)"), problem=exc).answer()
        finally:
            for fd in fds:
                os.close(fd)
        try:
            send(conn, reply, out)
            _drain(conn)
        except OSError:
            pass
        finally:
            for fd in out:
                os.close(fd)


def _drain(conn: socket.socket) -> None:
    """Read what the peer still sends (a refused, too long request) until it closes, so that
    closing with unread data does not reset the connection before it has read the answer."""
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(2)
    for _ in range(64):
        if not conn.recv(65536):
            return
