"""exportd: the only privileged process (issue 13 items 1-2, R-60..R-62).

It keeps the USB sticks udev reports (`firmware.export.udev`) in one of three states, present
(locked), unlocked (opened and mounted) or gone, and does the privileged steps through a
`Runner`: `cryptsetup luksFormat/open/close`, `mkfs`, `mount -o nosuid,nodev,noexec` in its
private directory, `sync`, `umount`. `SubprocessRunner` runs the commands; tests use a twin
that records and simulates them. Two kinds of stick: a LUKS2 stick (the password protects the
medium), and a plain file system, which is what a stick that encrypts in hardware (keypad)
shows once unlocked: the package then goes into the 7z archive. A package is written into a
hidden folder on the stick and renamed only when complete and synced, so a half-written
package never looks valid.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firmware.export import protocol
from firmware.export.faults import STICK_GONE, stick_gone
from firmware.export.udev import (DeviceEvent, DeviceSource, disk_of, disks_in_use,
                                  is_export_candidate)
from firmware.i18n import N_
from firmware.storage.durable import fsync_dir

log = logging.getLogger("nvr.exportd")

MOUNT_OPTIONS = "nosuid,nodev,noexec,noatime"
MIN_PASSWORD = 16                       # a typed password (issue 13 item 2)
SLACK = 1 << 20                        # free space kept beyond the announced bytes
_SAFE_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,120}$")


class ExportdError(protocol.Refusal):
    """A step on a stick failed or was refused; the message says why and what to do. Raised
    with an English msgid and its parameters (`N_`): the client translates it into its
    reader's language (exportd, root, does not decide it)."""


class RunError(Exception):
    def __init__(self, argv: list[str], returncode: int, stderr: str):
        super().__init__(f"{argv[0]} failed ({returncode}): {stderr.strip()[:300]}")
        self.argv, self.returncode, self.stderr = argv, returncode, stderr


class Runner(Protocol):
    def run(self, argv: list[str], stdin: bytes | None = None) -> str:
        """Run `argv`; its stdout, or RunError."""


class SubprocessRunner:
    """The real privileged steps."""

    def run(self, argv: list[str], stdin: bytes | None = None) -> str:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=600)
        if proc.returncode != 0:
            raise RunError(argv, proc.returncode, proc.stderr.decode(errors="replace"))
        return proc.stdout.decode(errors="replace")


def luks_format_argv(device: str) -> list[str]:
    """LUKS2 with AES-XTS (512-bit key: AES-256) and Argon2id; the password on stdin. The
    memory cost stays at 256 MiB so a Pi with 1 GB can open what it formatted."""
    return ["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2",
            "--cipher", "aes-xts-plain64", "--key-size", "512", "--hash", "sha256",
            "--pbkdf", "argon2id", "--pbkdf-memory", "262144", "--label", "NVR-EXPORT",
            "--key-file", "-", device]


@dataclass
class Stick:
    devname: str
    disk: str                           # the whole disk, "major:minor"
    devtype: str                        # disk or partition
    model: str
    serial: str
    size: int                           # bytes
    kind: str                           # luks2, plain (a hardware-encrypted stick), blank
    fstype: str
    mapper: str | None = None           # /dev/mapper/NAME while a LUKS2 stick is open
    mountpoint: Path | None = None      # while unlocked
    pulled: bool = False

    @property
    def state(self) -> str:
        return "unlocked" if self.mountpoint else "locked"

    def confirmation(self) -> str:
        """What `format` must be confirmed with: the device, its model and its size."""
        return f"{self.devname} {self.model} {size_text(self.size)}"

    def public(self) -> dict:
        return {"device": self.devname, "model": self.model, "serial": self.serial,
                "bytes": self.size, "size": size_text(self.size), "kind": self.kind,
                "filesystem": self.fstype, "state": self.state,
                "hardware_encrypted": self.kind == "plain",
                "package": "7z" if self.kind == "plain" else "files",
                "confirm": self.confirmation()}


def size_text(size: int) -> str:
    return f"{size / 1e9:.1f}GB"


def kind_of(props: dict) -> str:
    fstype = props.get("ID_FS_TYPE", "")
    if fstype == "crypto_LUKS":
        return "luks2" if props.get("ID_FS_VERSION", "2") == "2" else "luks1"
    return "plain" if fstype else "blank"


class Daemon:
    def __init__(self, runner: Runner, system_disks: set[str], runtime_dir: Path):
        self.runner = runner
        self.system = set(system_disks)
        self.runtime_dir = Path(runtime_dir)
        self.sticks: dict[str, Stick] = {}
        self.writes: dict[tuple[str, str], Path] = {}   # (device, name) -> its .part folder
        self.announced: dict[tuple[str, str], int] = {}  # (device, name) -> bytes announced
        self.pulled: set[tuple[str, str]] = set()   # (device, name): writes a pull ended
        self.lock = threading.RLock()

    # -- udev ------------------------------------------------------------------------------
    def handle_event(self, event: DeviceEvent) -> None:
        props, devname = event.props, event.devname
        with self.lock:
            if event.action == "remove":
                stick = self.sticks.pop(devname, None)
                if stick is not None:
                    stick.pulled = True
                    for key in [k for k in self.writes if k[0] == devname]:
                        del self.writes[key]
                        self.announced.pop(key, None)
                        self.pulled.add(key)         # its finish says so (not the next write)
                    log.warning("%s removed (%s)", devname, stick.state)
                    if stick.mountpoint:
                        self._release(stick, lazy=True)
                return
            if not is_export_candidate(props, self.system):
                return
            held = self.sticks.get(devname)
            if held is None and disk_of(props) in disks_in_use():
                log.warning("%s holds a mounted file system or swap: not offered", devname)
                return
            if held is not None and (held.mountpoint or held.mapper):
                # A "change" (udevadm trigger, the inotify watch on a closed writer) of a
                # stick that is open: its mount, mapping and write stay (redteam13, R-61).
                log.info("%s %s while %s: kept", devname, event.action, held.state)
                return
            size = self._size(devname)
            self.sticks[devname] = Stick(
                devname=devname, disk=disk_of(props) or "", devtype=props.get("DEVTYPE", ""),
                model=props.get("ID_MODEL", "?").replace("_", " "),
                serial=props.get("ID_SERIAL_SHORT", ""), size=size, kind=kind_of(props),
                fstype=props.get("ID_FS_TYPE", ""))
            log.info("%s present: %s", devname, self.sticks[devname].public())

    def follow(self, source: DeviceSource) -> threading.Thread:
        def loop():
            for event in source.events():
                try:
                    self.handle_event(event)
                except Exception:                   # one odd device must not stop the watch
                    log.exception("device event %s %s", event.action, event.devname)
        thread = threading.Thread(target=loop, name="exportd-udev", daemon=True)
        thread.start()
        return thread

    def _size(self, devname: str) -> int:
        try:
            return int(self.runner.run(["blockdev", "--getsize64", devname]).strip())
        except (RunError, ValueError):
            return 0

    # -- commands --------------------------------------------------------------------------
    def list(self) -> list[dict]:
        """The sticks; a disk whose partitions are listed is left out (its partition is the
        medium)."""
        # A snapshot, without the lock: a `write finish` holds it while it syncs a whole
        # package, and the sticks must stay visible meanwhile (redteam13).
        sticks = list(self.sticks.values())
        parted = {s.disk for s in sticks if s.devtype == "partition"}
        return [s.public() for s in sticks if not (s.devtype == "disk" and s.disk in parted)]

    def stick(self, device: str) -> Stick:
        stick = self.sticks.get(device)
        if stick is None:
            raise ExportdError(N_("%(device)s is not a USB stick exportd offers (only USB disks, "
                                  "never the system's own disks); see nvr usb list"),
                               device=device[:80])
        return stick

    def _not_in_use(self, stick: Stick) -> None:
        """A disk the system has mounted (or swaps on) is never opened or formatted, also when
        it was mounted after exportd offered it (redteam13, R-61)."""
        if stick.disk in disks_in_use():
            raise ExportdError(N_("%(device)s is in use by the system (a mounted file system "
                                  "or swap): it is not an export stick; use another"),
                               device=stick.devname)

    def unlock(self, device: str, password: str) -> dict:
        with self.lock:
            stick = self.stick(device)
            if stick.mountpoint:
                return stick.public()
            self._not_in_use(stick)
            if stick.kind == "blank":
                raise ExportdError(N_("%(device)s has no file system; format it first "
                                      "(nvr usb format)"), device=device)
            if stick.kind == "luks1":
                raise ExportdError(N_("%(device)s is LUKS1; format it as LUKS2 (nvr usb format)"),
                                   device=device)
            source = device
            if stick.kind == "luks2":
                mapper = self._mapper_name(stick)
                try:
                    self.runner.run(["cryptsetup", "open", "--type", "luks2", "--key-file", "-",
                                     device, mapper], stdin=password.encode())
                except RunError as exc:
                    if exc.returncode == 2:
                        raise ExportdError(N_("wrong passphrase for %(device)s; type it again"),
                                          device=device) from None
                    raise ExportdError(N_("%(device)s could not be unlocked (%(problem)s); check the "
                                          "stick"), device=device, problem=exc) from None
                stick.mapper = f"/dev/mapper/{mapper}"
                source = stick.mapper
            stick.mountpoint = self._mount(stick, source)
            log.info("%s unlocked at %s", device, stick.mountpoint)
            return stick.public()

    def format(self, device: str, confirm: str, password: str) -> dict:
        with self.lock:
            stick = self.stick(device)
            if confirm != stick.confirmation():
                raise ExportdError(N_("formatting erases %(device)s: confirm with exactly "
                                      "'%(confirm)s'"), device=device,
                                   confirm=stick.confirmation())
            if len(password) < MIN_PASSWORD:
                raise ExportdError(N_("the stick's password has at least %(count)s characters "
                                      "(R-61)"), count=MIN_PASSWORD)
            if stick.mountpoint:
                raise ExportdError(N_("%(device)s is unlocked; eject it first"), device=device)
            self._not_in_use(stick)
            mapper = self._mapper_name(stick)
            try:
                self.runner.run(luks_format_argv(device), stdin=password.encode())
                self.runner.run(["cryptsetup", "open", "--type", "luks2", "--key-file", "-",
                                 device, mapper], stdin=password.encode())
                try:
                    self.runner.run(["mkfs.ext4", "-q", "-L", "NVR-EXPORT", "-m", "0",
                                     f"/dev/mapper/{mapper}"])
                finally:
                    self.runner.run(["cryptsetup", "close", mapper])
            except RunError as exc:
                raise ExportdError(N_("%(device)s could not be formatted (%(problem)s); the stick "
                                      "may be read-only or damaged: try another"),
                                   device=device, problem=exc) from None
            stick.kind, stick.fstype = "luks2", "crypto_LUKS"
            log.info("%s formatted as LUKS2", device)
            return stick.public()

    def write_open(self, device: str, name: str, files: list[str], need: int
                   ) -> tuple[dict, list[int]]:
        """Step 1 of a write: check the space (a stick too small is refused before a byte is
        written), create the hidden folder `.NAME.part` and open `files` in it; their
        descriptors go back to the client, which streams the package into them."""
        with self.lock:
            stick = self.stick(device)
            if not stick.mountpoint:
                raise ExportdError(N_("%(device)s is locked; unlock it first"), device=device)
            for n in (name, *files):
                if not _SAFE_NAME.match(n):
                    raise ExportdError(N_("'%(name)s' is no safe file name (letters, digits, . "
                                          "_ -)"), name=n[:80])
            root = stick.mountpoint
            # The open writes on this stick still to come count as taken (redteam13).
            free = shutil.disk_usage(root).free - sum(
                max(0, self.announced.get(k, 0) - _written(part))
                for k, part in self.writes.items() if k[0] == device)
            if need + SLACK > free:                    # checked before starting
                raise ExportdError(N_("the stick %(device)s is too small: the package needs "
                                      "%(need)s bytes, %(free)s are free; use a larger stick"),
                                   device=device, need=need, free=free)
            final, part = root / name, root / f".{name}.part"
            if final.exists() or (device, name) in self.writes:
                raise ExportdError(N_("%(name)s is already on the stick; nothing was written"),
                                   name=name)
            _remove(part)                              # a leftover of a write never finished
            fds: list[int] = []
            try:
                part.mkdir()
                for n in files:
                    fds.append(os.open(part / n, os.O_RDWR | os.O_CREAT | os.O_EXCL
                                       | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
            except OSError as exc:
                for fd in fds:
                    os.close(fd)
                _remove(part)
                raise self._write_failed(stick, exc) from None
            self.writes[(device, name)] = part
            self.announced[(device, name)] = need
            self.pulled.discard((device, name))        # a new write of that name
            log.info("%s: writing %s (%s files, %s bytes announced)", device, name, len(files),
                     need)
            return {"device": device, "path": name, "files": list(files)}, fds

    def write_finish(self, device: str, name: str) -> dict:
        """Step 2: every file synced, `.NAME.part` renamed to `NAME`, the file system synced:
        only now does the package exist under its name."""
        with self.lock:
            part = self._open_write(device, name)
            stick = self.sticks[device]
            root, final = stick.mountpoint, stick.mountpoint / name
            try:
                written = 0
                for child in part.iterdir():
                    fd = os.open(child, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                    try:
                        os.fsync(fd)
                        written += os.fstat(fd).st_size
                    finally:
                        os.close(fd)
                fsync_dir(part)
                os.rename(part, final)
                fsync_dir(root)
                self.runner.run(["sync", "--file-system", str(root)])
            except OSError as exc:
                _remove(part)
                raise self._write_failed(stick, exc) from None
            except RunError as exc:
                _remove(final)
                raise ExportdError(N_("writing to %(device)s failed (%(problem)s); nothing on "
                                      "it is valid: check the stick and export again"),
                                   device=device, problem=exc) from None
            finally:
                self.writes.pop((device, name), None)
                self.announced.pop((device, name), None)
            log.info("%s: %s written (%s bytes)", device, name, written)
            return {"device": device, "path": name, "bytes": written}

    def write_abort(self, device: str, name: str) -> dict:
        """Step 2 instead of finish: the `.NAME.part` folder is removed."""
        with self.lock:
            part = self._open_write(device, name, aborting=True)
            self.writes.pop((device, name), None)
            self.announced.pop((device, name), None)
            if part is not None:
                _remove(part)
                self._still_there(self.sticks[device])
            log.info("%s: %s aborted, nothing written", device, name)
            return {"device": device, "path": name, "bytes": 0}

    def _open_write(self, device: str, name: str, aborting: bool = False) -> Path | None:
        if (device, name) in self.pulled:
            self.pulled.discard((device, name))
            if aborting:
                return None
            raise ExportdError(N_("the stick %(device)s was pulled out mid-write; nothing on "
                                  "it is valid: insert it and export again"), device=device)
        stick = self.stick(device)
        part = self.writes.get((device, name))
        if part is None or not stick.mountpoint:
            if aborting:
                return None
            raise ExportdError(N_("no write of %(name)s is open on %(device)s; export again"),
                               name=name, device=device)
        return part

    def _write_failed(self, stick: Stick, exc: OSError) -> ExportdError:
        device = stick.devname
        if stick_gone(exc):                # pulled, or its mapping errors (EIO, ENODEV, ...)
            self._drop(stick, exc)
            return ExportdError(STICK_GONE, device=device)
        if exc.errno == errno.EROFS:
            return ExportdError(N_("the stick %(device)s is read-only; use another"),
                                device=device)
        if exc.errno == errno.ENOSPC:
            return ExportdError(N_("the stick %(device)s is full; nothing on it is valid: use "
                                   "a larger stick and export again"), device=device)
        return ExportdError(N_("writing to %(device)s failed (%(problem)s); nothing on it is "
                               "valid: check the stick and export again"), device=device,
                            problem=exc.strerror or exc)

    def _still_there(self, stick: Stick) -> None:
        """After an abort (the client's writes may have failed with EIO): the removal of the
        .part folder synced; a stick that fails that is dropped as after a pull."""
        if not stick.mountpoint:
            return
        try:
            fsync_dir(stick.mountpoint)
        except OSError as exc:
            if stick_gone(exc):
                self._drop(stick, exc)
            else:
                log.warning("%s: syncing after an abort failed: %s", stick.devname, exc)

    def _drop(self, stick: Stick, exc: OSError) -> None:
        """A stick that fails with EIO (or is gone) mid-write: its mount and mapping are
        released as after udev's remove (lazy unmount, cryptsetup close), its other open
        writes end as pulled; it stays listed, locked, if it is still plugged in."""
        log.warning("%s failed mid-write (%s): released", stick.devname, exc)
        for key in [k for k in self.writes if k[0] == stick.devname]:
            del self.writes[key]
            self.announced.pop(key, None)
            self.pulled.add(key)
        if stick.mountpoint:
            self._release(stick, lazy=True)

    def eject(self, device: str) -> dict:
        with self.lock:
            stick = self.stick(device)
            for key in [k for k in self.writes if k[0] == device]:
                _remove(self.writes.pop(key))          # an unfinished write never stays
                self.announced.pop(key, None)
            if stick.mountpoint:
                self.runner.run(["sync", "--file-system", str(stick.mountpoint)])
                self._release(stick, lazy=False)
            log.info("%s ejected", device)
            return {**stick.public(), "message": f"{device} is locked: pull it out now"}

    # -- steps -----------------------------------------------------------------------------
    def _mapper_name(self, stick: Stick) -> str:
        return "nvr-export-" + Path(stick.devname).name

    def _mount(self, stick: Stick, source: str) -> Path:
        point = self.runtime_dir / "mnt" / Path(stick.devname).name
        point.parent.mkdir(mode=0o700, exist_ok=True)
        point.mkdir(mode=0o700, exist_ok=True)
        try:
            # -w: a write-protected stick fails here instead of being mounted read-only.
            self.runner.run(["mount", "-w", "-o", MOUNT_OPTIONS, source, str(point)])
        except RunError as exc:
            if stick.mapper:
                self.runner.run(["cryptsetup", "close", Path(stick.mapper).name])
                stick.mapper = None
            point.rmdir()
            if "read-only" in exc.stderr or "write-protected" in exc.stderr:
                raise ExportdError(N_("%(device)s is read-only (write-protected); use another "
                                      "stick or unlock its write protection"),
                                   device=stick.devname) from None
            raise ExportdError(N_("%(device)s could not be mounted (%(problem)s): unknown or "
                                  "damaged file system; format it (nvr usb format)"),
                               device=stick.devname, problem=exc) from None
        return point

    def _release(self, stick: Stick, lazy: bool) -> None:
        """Unmount and lock; after a pull (lazy) every step is tried and failures logged."""
        steps = [["umount", *(["--lazy"] if lazy else []), str(stick.mountpoint)]]
        if stick.mapper:
            steps.append(["cryptsetup", "close", Path(stick.mapper).name])
        for argv in steps:
            try:
                self.runner.run(argv)
            except RunError as exc:
                if not lazy:
                    raise ExportdError(N_("%(device)s could not be ejected (%(problem)s); do not "
                                          "pull it out, try again"), device=stick.devname,
                                       problem=exc) from None
                log.warning("after the pull of %s: %s", stick.devname, exc)
        try:
            stick.mountpoint.rmdir()
        except OSError:
            pass
        stick.mountpoint, stick.mapper = None, None

    # -- the socket ------------------------------------------------------------------------
    def answer(self, request: dict, fds: list[int]) -> dict:
        """One request, already checked by `protocol.parse_request`."""
        cmd = request["cmd"]
        if cmd == "list":
            return {"ok": True, "devices": self.list()}
        if cmd == "unlock":
            return {"ok": True, "device": self.unlock(request["device"], request["password"])}
        if cmd == "format":
            return {"ok": True, "device": self.format(request["device"], request["confirm"],
                                                      request["password"])}
        if cmd == "eject":
            return {"ok": True, **self.eject(request["device"])}
        device, name, step = request["device"], request["name"], request["step"]
        if step == "open":
            reply, out = self.write_open(device, name, request["files"], request["bytes"])
            return {"ok": True, **reply, "_fds": out}
        if step == "finish":
            return {"ok": True, **self.write_finish(device, name)}
        return {"ok": True, **self.write_abort(device, name)}


def serve(daemon: Daemon, path: Path, policy: protocol.PeerPolicy,
          stop: threading.Event | None = None, ready=None) -> None:
    """Answer requests for `daemon` on the Unix socket at `path` until `stop` is set;
    `ready()` once the socket answers."""
    protocol.serve(path, daemon.answer, policy, stop or threading.Event(), (ExportdError,),
                   ready)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _written(part: Path) -> int:
    """Bytes written so far into a write's .part folder."""
    try:
        return sum(child.lstat().st_size for child in part.iterdir())
    except OSError:
        return 0
