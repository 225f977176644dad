"""Updates that cannot brick the device (issue 14 item 3): the check of a RAUC bundle before
it is installed, and the install itself.

A bundle is installed only when all of this holds, each checked here and nowhere else:
- `rauc info --keyring KEYRING` accepts its signature: signed by a certificate of the CA the
  device trusts (the keyring of /etc/rauc/system.conf), the signed manifest unchanged;
- it is in RAUC's verity format, and its payload (the images) matches the verity root hash in
  the signed manifest. `rauc info` checks only the signature over the manifest, never the
  payload of a verity bundle (a byte changed in the image passes it), so the payload is checked
  here with `veritysetup verify`; on the device `rauc install` reads it through dm-verity too;
- its compatible string is the device's (system.conf [system] compatible);
- its version is not lower than the running firmware's, unless a downgrade is allowed with a
  reason in words (R-01's rule for every reason: governance/access.py visible_length), which
  goes into the usage logbook.
`install` first copies the bundle once into a private file (a fresh 0700 directory, the file
made with O_EXCL, 0600) and checks, hashes, logs and hands RAUC that copy, so the bytes RAUC
installs are the bytes checked and logged, whoever can write the folder the bundle came from
(a USB stick, /tmp); the copy is removed afterwards. It checks against RAUC's own system.conf
(SYSTEM_CONF, the one `rauc install` uses), never one of the caller's choosing.
Only the technisch beheerder installs (R-11: system configuration, Action.CONFIG); the install
is logged in the usage logbook (art. 7 lid 2, R-50) with the bundle's version and sha256,
before `rauc install` runs, and its outcome after. The layout, the keys and the fallback after a
failed boot are in image/updates/README.md.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from firmware import __version__
from firmware.governance.access import MIN_REASON, require, visible_length
from firmware.governance.roles import Action, Actor
from firmware.i18n import _

log = logging.getLogger(__name__)

SYSTEM_CONF = Path("/etc/rauc/system.conf")
# The test seam for `nvr update install`'s system.conf (tests/test_update.py): a test machine
# has no /etc/rauc. nvr-admin runs nvr with a clean environment under sudo, so an administrator
# cannot set it; only root's own environment can (docs/units.md).
SYSTEM_CONF_ENV = "NVR_RAUC_SYSTEM_CONF"
SYSTEM_CONF_MAX = 1 << 16          # RAUC's system.conf is a few hundred bytes
# `rauc install` writes a boot image (512 MiB) and a root image (4 GiB) into the other slot and
# reads the bundle through dm-verity. A worn microSD card may write no faster than 2 MB/s
# sustained (a Class 10 / V10 card promises 10 MB/s): 4.5 GiB / 2 MB/s = 2416 s; with the read
# of the bundle and RAUC's checks, an hour.
SLOT_BYTES = 4 * 2**30 + 512 * 2**20
SLOWEST_WRITE = 2 * 10**6
INSTALL_TIMEOUT = 3600
assert INSTALL_TIMEOUT >= 1.25 * SLOT_BYTES / SLOWEST_WRITE
BLOCK = 4096                       # RAUC's verity data and hash block size
VERSION = re.compile(r"\d+(\.\d+)*")
INFO_FIELDS = {"Compatible": "compatible", "Version": "version", "Bundle Format": "format",
               "Verity Salt": "salt", "Verity Hash": "root_hash", "Verity Size": "hash_size"}

Runner = Callable[[list[str]], subprocess.CompletedProcess]


class UpdateRefused(Exception):
    """The bundle is not installed; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Device:
    """What this device accepts, from RAUC's system.conf: the compatible string and the keyring
    (the CA certificate bundles must be signed under)."""

    compatible: str
    keyring: Path
    conf: Path

    @classmethod
    def from_system_conf(cls, path: Path = SYSTEM_CONF) -> Device:
        """The device's view from RAUC's system.conf at `path`. A file that is not one is
        refused by what it lacks, never with its lines (red team 14c: the message must not
        show a file the caller could not read themselves, R-11)."""
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, "rb") as f:
                raw = f.read(SYSTEM_CONF_MAX + 1)
        except OSError as exc:
            raise UpdateRefused(_("cannot read RAUC's system configuration %(path)s "
                                  "(%(problem)s): this device is not set up for updates; it "
                                  "comes with the image (image/updates/system.conf)",
                                  path=path, problem=exc.strerror)) from None
        try:
            if len(raw) > SYSTEM_CONF_MAX:
                raise ValueError
            parser.read_string(raw.decode("utf-8"), source=str(path))
        except (ValueError, configparser.Error):   # UnicodeDecodeError is a ValueError
            raise UpdateRefused(_("%(path)s is not RAUC's system configuration (a text file "
                                  "of [section]s with key = value lines); give "
                                  "/etc/rauc/system.conf, or restore it from "
                                  "image/updates/system.conf", path=path)) from None
        for section, key in (("system", "compatible"), ("keyring", "path")):
            if not parser.get(section, key, fallback="").strip():
                raise UpdateRefused(_("%(path)s has no %(key)s in its [%(section)s] section; "
                                      "restore it from image/updates/system.conf", path=path,
                                      key=key, section=section))
        compatible = parser["system"]["compatible"].strip()
        keyring = Path(parser["keyring"]["path"].strip())
        if not keyring.is_absolute():          # RAUC reads it relative to system.conf
            keyring = path.parent / keyring
        if not keyring.is_file():
            raise UpdateRefused(_("the keyring %(keyring)s named in %(path)s is missing: "
                                  "without it no bundle can be trusted; restore it from the "
                                  "image", keyring=keyring, path=path))
        return cls(compatible, keyring, path)


@dataclass(frozen=True)
class Bundle:
    """A bundle that passed the check."""

    path: str
    compatible: str
    version: str
    running: str
    sha256: str
    downgrade: bool

    def as_dict(self) -> dict:
        return asdict(self)


def version_key(text: str) -> tuple[int, ...]:
    """1.10.0 > 1.9.3: dotted numbers compared as numbers."""
    if not VERSION.fullmatch(text):
        raise UpdateRefused(_("the bundle's version %(version)r is not like 1.2.3: it was not "
                              "built by image/updates/make-bundle.sh; do not install it",
                              version=text))
    return tuple(int(part) for part in text.split("."))


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


def _kind(mode: int) -> str:
    """What a file that is not a regular one is, for a message."""
    return (_("a directory") if stat.S_ISDIR(mode)
            else _("a named pipe (fifo)") if stat.S_ISFIFO(mode) else _("a device or socket"))


def _not_regular(bundle: Path, mode: int) -> UpdateRefused:
    return UpdateRefused(_("%(bundle)s is not a regular file: %(kind)s; give the path of the "
                           "bundle file (.raucb)", bundle=bundle, kind=_kind(mode)))


def _regular(bundle: Path) -> None:
    """Raise UpdateRefused unless `bundle` is a regular file (following a symlink)."""
    try:
        mode = os.stat(bundle).st_mode
    except FileNotFoundError:
        raise UpdateRefused(_("there is no file %(bundle)s; give the path of the bundle "
                              "(.raucb)", bundle=bundle)) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(bundle, mode)


def _info(bundle: Path, device: Device, run: Runner) -> dict:
    """`rauc info` under the device's system.conf (its bundle formats) and keyring: the signed
    manifest's fields, or why the signature fails."""
    try:
        result = run(["rauc", "--conf", str(device.conf), "--keyring", str(device.keyring),
                      "info", str(bundle)])
    except FileNotFoundError:
        raise UpdateRefused(_("the rauc command is missing (Debian package rauc): it comes "
                              "with the image; without it no bundle can be checked")) from None
    if result.returncode != 0:
        raise UpdateRefused(_signature_problem(bundle, result.stderr))
    fields = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in INFO_FIELDS:
            fields[INFO_FIELDS[name.strip()]] = value.strip().strip("'")
    return fields


def _signature_problem(bundle: Path, stderr: str) -> str:
    """What `rauc info`'s refusal means, in words, with what to do."""
    detail = " ".join(line.strip() for line in stderr.splitlines()
                      if line.strip() and "rauc-Message" not in line)
    if "Failed to load system config" in stderr:
        return _("RAUC cannot load the device's system configuration (%(detail)s); restore "
                 "/etc/rauc/system.conf from the image", detail=detail)
    if "not allowed" in stderr:
        return _("%(bundle)s is in a bundle format this device does not accept (%(detail)s); "
                 "use a verity bundle made by image/updates/make-bundle.sh", bundle=bundle,
                 detail=detail)
    if "no valid CMS" in stderr:            # the signature's own bytes were changed
        return _("%(bundle)s was changed after it was signed (its signature is damaged: "
                 "%(detail)s); do not install it; get the bundle again from the supplier",
                 bundle=bundle, detail=detail)
    if "Invalid bundle format" in stderr:
        return _("%(bundle)s is not a signed update bundle (%(detail)s); use a bundle made by "
                 "image/updates/make-bundle.sh", bundle=bundle, detail=detail)
    if "unable to get local issuer certificate" in stderr or "self-signed" in stderr \
            or "unable to get issuer" in stderr:
        return _("%(bundle)s is signed by a key this device does not trust (%(detail)s); "
                 "install only bundles signed with the supplier's update key, and ask the "
                 "supplier if this one should be", bundle=bundle, detail=detail)
    if "certificate has expired" in stderr or "not yet valid" in stderr:
        return _("the signing certificate of %(bundle)s is not valid now (%(detail)s); check "
                 "the device's clock (nvr selftest), or ask the supplier for a bundle signed "
                 "anew", bundle=bundle, detail=detail)
    if "verification failure" in stderr or "signature verification failed" in stderr:
        return _("%(bundle)s was changed after it was signed (tampered with or damaged: "
                 "%(detail)s); do not install it; get the bundle again from the supplier",
                 bundle=bundle, detail=detail)
    return _("rauc refused %(bundle)s: %(detail)s; do not install it", bundle=bundle,
             detail=detail or _("no reason given"))


def _verify_payload(bundle: Path, fields: dict, run: Runner) -> None:
    """The payload against the verity root hash of the signed manifest. A RAUC verity bundle
    is payload | hash tree | signature | the signature's size (8 bytes, big-endian)."""
    size = bundle.stat().st_size
    with open(bundle, "rb") as f:
        f.seek(size - 8)
        (signature,) = struct.unpack(">Q", f.read(8))
    payload = size - 8 - signature - int(fields["hash_size"])
    if payload <= 0 or payload % BLOCK:
        raise UpdateRefused(_("the sizes in %(bundle)s do not add up (tampered with or "
                              "damaged); do not install it; get the bundle again from the "
                              "supplier", bundle=bundle))
    try:
        result = run(["veritysetup", "verify", "--no-superblock", "--format=1",
                      "--hash=sha256", f"--data-block-size={BLOCK}", f"--hash-block-size={BLOCK}",
                      f"--data-blocks={payload // BLOCK}", f"--hash-offset={payload}",
                      f"--salt={fields['salt']}", str(bundle), str(bundle), fields["root_hash"]])
    except FileNotFoundError:
        raise UpdateRefused(_("veritysetup is missing (Debian package cryptsetup-bin): "
                              "without it the bundle's content cannot be checked")) from None
    if result.returncode != 0:
        raise UpdateRefused(_("the content of %(bundle)s was changed after it was signed "
                              "(%(detail)s); do not install it; get the bundle again from the "
                              "supplier", bundle=bundle, detail=" ".join(result.stderr.split())))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check(bundle: Path, device: Device, *, allow_downgrade: str | None = None,
          running: str = __version__, run: Runner = _run) -> Bundle:
    """The check before install; raises UpdateRefused with what is wrong and what to do.
    `allow_downgrade` is the reason a lower version may go on (None: it may not)."""
    bundle = Path(bundle)
    _regular(bundle)
    fields = _info(bundle, device, run)
    if fields.get("format") != "verity":
        raise UpdateRefused(_("%(bundle)s is in RAUC's %(format)r format; this device "
                              "installs only verity bundles (image/updates/make-bundle.sh "
                              "makes them)", bundle=bundle,
                              format=fields.get("format") or "unknown"))
    if not all(fields.get(k) for k in ("salt", "root_hash", "hash_size", "version")):
        raise UpdateRefused(_("rauc info shows no verity hash or version for %(bundle)s; do "
                              "not install it", bundle=bundle))
    _verify_payload(bundle, fields, run)
    if fields.get("compatible") != device.compatible:
        raise UpdateRefused(_("%(bundle)s is for %(theirs)r, this device is %(ours)r: it "
                              "would not boot here; use the bundle for this device",
                              bundle=bundle, theirs=fields.get("compatible"),
                              ours=device.compatible))
    downgrade = version_key(fields["version"]) < version_key(running)
    if downgrade and not allow_downgrade:
        raise UpdateRefused(_("%(bundle)s holds version %(version)s, older than the running "
                              "%(running)s; a downgrade only on purpose: --allow-downgrade "
                              "'REASON' (the reason goes into the usage logbook)",
                              bundle=bundle, version=fields["version"], running=running))
    if downgrade and visible_length(allow_downgrade) < MIN_REASON:     # R-01's rule
        raise UpdateRefused(_("the reason for the downgrade to %(version)s must be in words, "
                              "at least %(count)s visible characters: why the older version "
                              "must go on (it goes into the usage logbook)",
                              version=fields["version"], count=MIN_REASON))
    return Bundle(str(bundle), fields["compatible"], fields["version"], running,
                  _sha256(bundle), downgrade)


def rauc_install(bundle: Path, timeout: float = INSTALL_TIMEOUT) -> None:
    """The seam to RAUC's service: `rauc install`, which writes the other slot and makes it
    the one tried at the next boot. Needs the device's RAUC service and slots."""
    try:
        result = subprocess.run(["rauc", "install", str(bundle)], capture_output=True,
                                text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UpdateRefused(_("rauc install did not finish within %(minutes)s minutes; RAUC "
                              "may still be writing the other slot: do not reboot into it; "
                              "see `rauc status` and the journal (journalctl -u rauc), and "
                              "install again when it is idle", minutes=round(timeout / 60))
                            ) from None
    except FileNotFoundError:
        raise UpdateRefused(_("the rauc command is missing (Debian package rauc): it comes "
                              "with the image; without it no bundle can be installed")) from None
    if result.returncode != 0:
        raise UpdateRefused(_("rauc install failed: %(detail)s; the running system is "
                              "unchanged; see `rauc status` and the journal (journalctl -u "
                              "rauc)", detail=" ".join(result.stderr.split())))


COPY_PREFIX = ".nvr-update-"        # a bundle's private copy: COPY_PREFIX + random, 0700
COPY_LOCK = ".nvr-update.lock"     # held across the room check and the copy (one at a time)


def _flock(fd: int) -> bool:
    """Take an exclusive flock on `fd` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _open_lock(path: Path) -> int:
    """The lock file, opened for flock; made when missing. An existing one is opened without
    O_CREAT: in the sticky data directory the kernel's fs.protected_regular=2 refuses O_CREAT
    on another user's file, even to root. O_NONBLOCK and the fstat: a named pipe planted under
    this name would otherwise block the open for good (and with it `nvr web`'s start)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o640)
        except FileExistsError:              # made by another command just now
            fd = os.open(path, flags)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UpdateRefused(_("the update lock %(path)s is not a regular file but %(kind)s: no "
                              "bundle can be copied while it is there (R-42); remove it (as "
                              "root: rm %(path)s) and try again", path=path, kind=_kind(mode)))
    return fd


@contextlib.contextmanager
def _copy_lock(folder: Path) -> Iterator[None]:
    """R-42: one bundle copy at a time into `folder`. Two commands that each asked the disk's
    room before either had copied would together pass the high-water mark; under this lock the
    room is asked with every finished copy already on the disk. A second caller is refused at
    once (a copy of a production bundle takes minutes), never left waiting without a bound."""
    try:
        fd = _open_lock(folder / COPY_LOCK)
    except OSError as exc:
        raise UpdateRefused(_("cannot open the update lock in %(folder)s (%(problem)s): the "
                              "data directory must be writable by the service user; run the "
                              "update through nvr-admin", folder=folder,
                              problem=exc.strerror)) from None
    try:
        if not _flock(fd):
            raise UpdateRefused(_("another update check or install is copying a bundle into "
                                  "%(folder)s now (one copy at a time, so that the footage "
                                  "disk stays below its high-water mark, R-42); wait until it "
                                  "has finished and try again", folder=folder))
        yield
    finally:
        os.close(fd)


def _remove_stale_copies(folder: Path) -> list[Path]:
    """Remove the private copies in `folder` whose process is gone (a power cut, SIGKILL, the
    OOM killer: no `finally` ran), or they would take a bundle's size of the footage disk for
    good (R-42). A live copy's process holds a flock on its directory until it removes it;
    the kernel drops that lock when the process ends, however it ends. Called under
    _copy_lock, so no copy is between its mkdtemp and its flock."""
    removed = []
    for entry in sorted(folder.glob(COPY_PREFIX + "*")):
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue                     # not a directory of ours (a file, a link): left alone
        try:
            if _flock(fd):
                shutil.rmtree(entry, ignore_errors=True)
                if not entry.exists():
                    removed.append(entry)
        finally:
            os.close(fd)
    return removed


def remove_stale_copies(folder: Path) -> list[Path]:
    """The private copies an interrupted update left in `folder`, removed (R-42); those of a
    command still running are kept. Nothing is removed while another command is copying (it
    sweeps itself), nor when the lock cannot be taken (logged: the caller, `nvr web`, starts
    anyway). Returns what was removed."""
    try:
        with _copy_lock(folder):
            return _remove_stale_copies(folder)
    except UpdateRefused as exc:
        log.warning("copies of interrupted updates not removed now: %s", exc)
        return []


def _copy_at_most(src, dst, size: int, chunk: int = 1 << 20) -> bool:
    """Copy at most `size` bytes from `src` to `dst` (R-42: the room was asked for `size`, a
    source that grows meanwhile must not fill the disk). True when `src` had more: one byte
    more is read to know."""
    left = size
    while left > 0:
        data = src.read(min(chunk, left))
        if not data:
            return False                 # shorter than checked: the check of the copy says so
        dst.write(data)
        left -= len(data)
    return bool(src.read(1))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGHUP, SIGTERM and SIGINT in this thread while a copy's directory is made and its
    removal registered: the CLI turns them into SystemExit (cli/update.py), which raised in
    between left the copy on the footage disk (seen under load: test_update_copies). Held,
    they arrive right after, and the removal runs."""
    held = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _private_copy(bundle: Path, folder: Path, high_water_percent: int = 100,
                  source: int | None = None) -> Iterator[Path]:
    """Copy `bundle` once into a new private file: a fresh directory of ours (0700) in
    `folder`, the file made there with O_EXCL, 0600; yields the copy and removes it after.
    What is checked, logged and installed is this copy; the path given may be swapped by
    anyone who can write its folder. The copy must leave `folder`'s disk below
    `high_water_percent`, or the store would erase footage for it (R-42): the room is asked
    and the copy made under _copy_lock, after the copies of interrupted updates are removed.
    While it exists this process holds a flock on its directory (_remove_stale_copies).
    `source`: the bundle already open (standard input: under sudo the caller's shell opens
    it, docs/units.md), `bundle` then only names it."""
    with contextlib.ExitStack() as stack:
        opened = source is None
        if opened:
            try:
                source = os.open(bundle, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                raise UpdateRefused(_("there is no file %(bundle)s; give the path of the "
                                      "bundle (.raucb)", bundle=bundle)) from None
            stack.callback(os.close, source)
        info = os.fstat(source)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(bundle, info.st_mode)
        with _copy_lock(folder):
            _remove_stale_copies(folder)
            usage = shutil.disk_usage(folder)
            if usage.total - usage.free + info.st_size > usage.total * high_water_percent // 100:
                raise UpdateRefused(_("%(folder)s has no room for a copy of %(bundle)s "
                                      "(%(size)s MB) below its %(percent)s%% high-water mark; "
                                      "the store would erase footage for it (R-42): free room "
                                      "on that disk and install again", folder=folder,
                                      bundle=bundle, size=round(info.st_size / 1e6),
                                      percent=high_water_percent))
            with _signals_held():    # a hangup between the mkdir and the callback left
                private = Path(tempfile.mkdtemp(prefix=COPY_PREFIX, dir=folder))   # the copy
                stack.callback(shutil.rmtree, private, ignore_errors=True)
            held = os.open(private, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            stack.callback(os.close, held)   # after the rmtree (the stack runs backwards)
            fcntl.flock(held, fcntl.LOCK_EX)
            copy = private / "bundle.raucb"
            target = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600)
            try:
                with open(source, "rb", closefd=False) as src, \
                        open(target, "wb", closefd=False) as dst:
                    grown = _copy_at_most(src, dst, info.st_size)
            finally:
                os.close(target)
            if grown:
                raise UpdateRefused(_("%(bundle)s grew while it was copied (more than the "
                                      "%(size)s MB it had when the footage disk's room was "
                                      "checked): the copy is removed, the disk must stay below "
                                      "its high-water mark (R-42); leave the bundle file "
                                      "unchanged while it is checked or installed, and try "
                                      "again", bundle=bundle, size=round(info.st_size / 1e6)))
        yield copy


def check_open(bundle: Path, source: int, device: Device, folder: Path, *,
               high_water_percent: int = 100, allow_downgrade: str | None = None,
               running: str = __version__, run: Runner = _run) -> Bundle:
    """`check` of a bundle the caller opened (`source`; the caller's shell opens it for the
    service user, who cannot read the technisch beheerder's folder): copied once into a private
    file in `folder` as for install, checked there, the copy removed. `bundle` names it."""
    with _private_copy(bundle, folder, high_water_percent, source) as copy:
        try:
            checked = check(copy, device, allow_downgrade=allow_downgrade, running=running,
                            run=run)
        except UpdateRefused as exc:
            raise UpdateRefused(str(exc).replace(str(copy), str(bundle))) from None
    return dataclasses.replace(checked, path=str(bundle))


def install(bundle: Path, device: Device, logbook, actor: Actor, *,
            allow_downgrade: str | None = None, running: str = __version__,
            run: Runner = _run, installer: Callable[[Path], None] = rauc_install,
            folder: Path | None = None, high_water_percent: int = 100,
            source: int | None = None) -> Bundle:
    """R-11: the technisch beheerder (Action.CONFIG) installs a bundle that passed `check`.
    The bundle is copied once into a private file in `folder` (the temporary directory by
    default; the CLI gives the data directory), which is checked, logged and handed to RAUC,
    and removed afterwards. The usage logbook gets the install (version, sha256, a
    downgrade's reason) before RAUC runs, and its failure after; a bundle refused by the check
    is logged as refused. `source`: a file descriptor of the bundle opened by the caller
    (standard input: under sudo nvr-admin's caller's shell opens it), `bundle` names it."""
    require(logbook, actor, Action.CONFIG, UpdateRefused)
    copied = False
    try:
        with _private_copy(Path(bundle), Path(folder or tempfile.gettempdir()),
                           high_water_percent, source) as copy:
            copied = True
            return _install_copy(bundle, copy, device, logbook, actor, allow_downgrade,
                                 running, run, installer)
    except UpdateRefused as exc:
        if not copied:
            logbook.append("usage", actor.name, "refused", subject="update-install",
                           details={"bundle": str(bundle), "why": str(exc)})
        raise


def _install_copy(bundle: Path, copy: Path, device: Device, logbook, actor: Actor,
                  allow_downgrade: str | None, running: str, run: Runner,
                  installer: Callable[[Path], None]) -> Bundle:
    try:
        checked = dataclasses.replace(
            check(copy, device, allow_downgrade=allow_downgrade, running=running, run=run),
            path=str(bundle))
    except UpdateRefused as exc:
        why = str(exc).replace(str(copy), str(bundle))
        logbook.append("usage", actor.name, "refused", subject="update-install",
                       details={"bundle": str(bundle), "why": why})
        raise UpdateRefused(why) from None
    logbook.append("usage", actor.name, "update-install", subject=f"firmware {checked.version}",
                   reason=allow_downgrade if checked.downgrade else "",
                   details={"bundle": checked.path, "version": checked.version,
                            "running": checked.running, "compatible": checked.compatible,
                            "sha256": checked.sha256, "downgrade": checked.downgrade})
    try:
        installer(copy)
    except UpdateRefused as exc:
        logbook.append("usage", actor.name, "update-install-failed",
                       subject=f"firmware {checked.version}",
                       details={"version": checked.version, "sha256": checked.sha256,
                                "why": str(exc)})
        raise
    return checked
