"""First-boot provisioning (issue 14 item 2): what `nvr firstboot` makes, at every boot.

nvr-firstboot.service runs it as root at every boot, after the data partition is mounted and
tmpfiles made /var/lib/nvr, and before the recorder, the web interface and exportd, so that no
two services race to make a key. It makes what is missing and never replaces what exists
(docs/provisioning.md):

1. the hostname `nvr-` + the last 8 hex digits of the board's serial number (the Pi's device
   tree, else the DMI serial or UUID: the virtual device's), set at every boot (the root is
   read-only: /etc/hostname does not persist);
2. /etc/nvr/nvr.toml when missing, from the image's /usr/share/nvr/nvr.toml, else from
   `nvr init`'s template with the picamera2 camera, its [device] id the hostname;
3. the keys in key_dir, each owned as its service would have made it (docs/units.md): the
   master key and the logbook keys by the key directory's owner (the recorder), the TLS
   certificate and key and the client CA by nvr-web; and a finding when the keys share the
   footage's disk while another disk is there (system/disks.py);
4. the one-time enrollment codes of the first technisch-beheerder and the first manager
   bedrijfsvoering, while that account does not exist: a new code at every boot replaces the
   previous one, written ONLY to the console devices (never to stdout or stderr, which the
   journal keeps, never to a file), in Dutch, with the web address and the TLS certificate's
   SHA-256 fingerprint (and, while SSH is on, the SSH host keys' fingerprints). The index keeps
   only their hash (governance/accounts.py).

Seams for tests: NVR_SYSTEM_ROOT (the root below which /etc, /usr/share, /sys, /proc/self and
/dev are looked for) and NVR_CONSOLE (the console files, separated by ':').
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware.i18n import _, dutch
from firmware.system import safefile
from firmware.system.disks import index_beside_footage, keys_beside_footage, system_root
from firmware.system.keyfiles import WEB_SECRETS, WEB_USER

CONSOLE_ENV = "NVR_CONSOLE"
CONFIG = Path("etc/nvr/nvr.toml")
DEFAULT_CONFIG = Path("usr/share/nvr/nvr.toml")        # the image's, when it brings one
SERIALS = (Path("sys/firmware/devicetree/base/serial-number"),     # Raspberry Pi
           Path("sys/class/dmi/id/product_serial"),                # PC, QEMU -smbios serial=
           Path("sys/class/dmi/id/product_uuid"))
CONSOLES = (Path("dev/console"), Path("dev/tty1"))
STATE = Path("var/lib/nvr")                                       # data and keys, docs/units.md
SSH = STATE / "system" / "ssh"      # the image's host keys and SSH switch (image/README.md, "SSH")
GROUP = "nvr"
PREFIX = "nvr-"


class FirstbootError(Exception):
    """Provisioning cannot go on; the message says what is wrong and what to do."""


@dataclass
class Key:
    what: str                 # "master key", "device signing key", ...
    path: Path
    made: bool                # made by this run (else it existed and was left alone)
    fingerprint: str


@dataclass
class Report:
    hostname: str = ""
    hostname_source: str = ""
    config: Path | None = None
    config_made_from: str = ""       # "" when it existed
    keys: list[Key] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)   # English, for stdout
    todo: list[str] = field(default_factory=list)       # Dutch, for the console
    codes_for: list[str] = field(default_factory=list)  # roles a code was issued for
    consoles: list[Path] = field(default_factory=list)  # where the console text went
    url: str = ""
    tls_fingerprint: str = ""
    ssh_fingerprints: list[str] = field(default_factory=list)   # while SSH is on


# --- 1. the hostname ---------------------------------------------------------------------------

def hostname_from_serial(serial: str) -> str | None:
    """`nvr-` + the last 8 hex digits of `serial`; None for a serial without 8 hex digits or
    a placeholder (all zeros, "Not Specified", "To Be Filled By O.E.M.")."""
    digits = re.sub(r"[^0-9a-f]", "", serial.strip().strip("\x00").lower())
    if len(digits) < 8 or len(set(digits[-8:])) == 1:
        return None
    return PREFIX + digits[-8:]


def board_hostname(root: Path) -> tuple[str, Path] | None:
    """The hostname from the first serial number found, with the file it came from."""
    for relative in SERIALS:
        path = root / relative
        try:
            serial = path.read_text(errors="replace")
        except OSError:
            continue
        name = hostname_from_serial(serial)
        if name is not None:
            return name, path
    return None


def name_early(root: Path) -> str | None:
    """Step 1 alone, for the image's nvr-hostname.service: early in the boot, before the
    network (DHCP and mDNS announce the name) and before /var/lib/nvr is mounted. The same rule
    and writing as provision(), so the two never give a device two names. None: no usable
    serial, the name stays."""
    found = board_hostname(root)
    if found is None:
        return None
    set_hostname(found[0], root)
    return found[0]


def _own_uts_namespace() -> bool:
    """Whether this process has another UTS namespace than one of its ancestors (the test
    runner, outside `unshare --uts`)."""
    try:
        own = os.readlink("/proc/self/ns/uts")
        pid = os.getppid()
        while pid > 1:
            try:
                if os.readlink(f"/proc/{pid}/ns/uts") != own:
                    return True
            except PermissionError:
                pass
            with open(f"/proc/{pid}/stat") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return False


def set_hostname(name: str, root: Path) -> None:
    """The kernel's hostname, /etc/hostname and the 127.0.1.1 line of /etc/hosts (the tools that
    resolve the own name, sudo among them). Below a test's root only in a UTS namespace of its
    own (`unshare --uts`), so a test can never rename the machine it runs on."""
    if root != Path("/") and not _own_uts_namespace():
        raise FirstbootError(_("a test root (%(root)s) outside a UTS namespace of its own: the "
                               "hostname is not set; run it under unshare --uts", root=str(root)))
    socket.sethostname(name)
    etc = root / "etc"
    _write_if_changed(etc / "hostname", f"{name}\n")
    try:
        hosts = (etc / "hosts").read_text()
    except FileNotFoundError:
        hosts = "127.0.0.1\tlocalhost\n"
    lines = [line for line in hosts.splitlines() if not line.startswith("127.0.1.1")]
    _write_if_changed(etc / "hosts", "\n".join(lines + [f"127.0.1.1\t{name}"]) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    """In place (a file bind-mounted read-write into a read-only /etc cannot be renamed over)."""
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    with open(path, "w") as fh:
        fh.write(text)


# --- users and groups of the system (sysusers.d) ------------------------------------------------

def _ids(root: Path, table: str) -> dict[str, int]:
    """name -> id from ROOT/etc/passwd or ROOT/etc/group (what systemd-sysusers writes)."""
    found = {}
    try:
        lines = (root / "etc" / table).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split(":")
        if len(parts) > 2 and parts[2].isdigit():
            found[parts[0]] = int(parts[2])
    return found


# --- 2. the configuration ----------------------------------------------------------------------

def _with_key(text: str, section: str, key: str, value: str) -> str:
    """`text` with `key = value` (a TOML value) in [section], replaced or added."""
    lines, current, done = text.splitlines(), "", False
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            current = header.group(1)
        elif current == section and pattern.match(line):
            comment = line[line.index("#"):] if "#" in line.split("=", 1)[1] else ""
            lines[i] = f"{key} = {value}" + (f"   {comment}" if comment else "")
            done = True
            break
    if not done:
        for i, line in enumerate(lines):
            if re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", line):
                lines.insert(i + 1, f"{key} = {value}")
                done = True
                break
    if not done:
        lines = [f"[{section}]", f"{key} = {value}", ""] + lines
    return "\n".join(lines) + "\n"


def _toml(value: str) -> str:
    import json
    return json.dumps(value, ensure_ascii=False)


def new_config_text(root: Path, device_id: str) -> tuple[str, str]:
    """The text of a new configuration and where it came from: the image's default with
    [device] id set, else `nvr init`'s template for a Pi (picamera2, data and keys under
    /var/lib/nvr, the web reachable from the network). A camera without a DPIA does not record
    yet (the introduction of the regulation): the console says what is still to do."""
    default = root / DEFAULT_CONFIG
    if default.is_file():
        return _with_key(default.read_text(), "device", "id", _toml(device_id)), str(default)
    from firmware.provision import Introduction, config_text
    # Staff in view until someone answers art. 11: the camera then waits for that answer too.
    text = config_text("picamera2", Introduction(staff_in_view=True), device_id)
    text = _with_key(text, "storage", "data_dir", _toml(str(root / STATE / "data")))
    text = _with_key(text, "storage", "key_dir", _toml(str(root / STATE / "keys")))
    # the index (names, hashes, logbooks) on the card beside the keys, off the footage
    # disk that may be mounted at data_dir (docs/storage.md, "What lies where").
    text = _with_key(text, "storage", "index_dir", _toml(str(root / STATE / "index")))
    text = _with_key(text, "web", "host", _toml("0.0.0.0"))
    return text, _("the template of nvr init (picamera2)")


def ensure_config(path: Path, root: Path, device_id: str) -> str:
    """Write the configuration when it is missing (root:nvr 0640 in /etc/nvr 0750); "" when it
    existed, else where it came from."""
    if path.exists():
        return ""
    from firmware.config import ConfigError, parse
    text, origin = new_config_text(root, device_id)
    try:
        parse(text, str(path), path.parent)
    except ConfigError as exc:
        raise FirstbootError(_("the configuration made from %(origin)s is not valid "
                               "(%(problems)s); fix %(origin)s or write %(path)s by hand (nvr init)",
                               origin=origin, problems="; ".join(exc.problems),
                               path=str(path))) from None
    group = _ids(root, "group").get(GROUP, 0)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o750, parents=True)
        os.chown(path.parent, 0, group)
    try:
        safefile.write(path, text.encode(), 0o640, (0, group))
    except safefile.UnsafeFile as exc:
        raise FirstbootError(str(exc)) from None
    return origin


# --- 3. the keys -------------------------------------------------------------------------------

def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def certificate_fingerprint(pem: bytes) -> str:
    """SHA-256 over the DER certificate, as browsers show it (AB:CD:...)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    return _colon_hex(hashlib.sha256(der).digest())


def master_key_id(key: bytes) -> str:
    """An identifier of the master key that reveals nothing of it (to compare a backup)."""
    return hashlib.sha256(b"nvr master key id\x00" + key).hexdigest()[:16]


def _loads(path: Path, load: Callable[[bytes], object]) -> bool:
    """Whether the existing file at `path` loads (an empty or cut file does not)."""
    try:
        load(path.read_bytes())
    except (OSError, ValueError, TypeError):
        return False
    return True


def _aside_if_damaged(paths: list[Path], load: Callable[[bytes], object],
                      findings: list[str]) -> None:
    """A set of files made together (a key and its certificate) that is incomplete or does not
    load, after a power cut for instance: each one that exists is moved aside (never deleted)
    and named, so that it is made again."""
    present = [p for p in paths if safefile.refuse_link(p)]
    if not present or (len(present) == len(paths) and all(_loads(p, load) for p in paths)):
        return
    for path in present:
        aside = safefile.move_aside(path, "damaged")
        findings.append(f"{path} was incomplete or did not load (a power cut while it was "
                        f"made?): moved to {aside} and made again")


def _clock_synchronized() -> bool:
    """Whether the clock is synchronized, as /readyz and `nvr selftest` ask it (R-30)."""
    from firmware.system.clock import clock_state
    return clock_state().synchronised


def _certificate_for_now(cert: Path, tls_key: Path, findings: list[str], todo: list[str]) -> None:
    """A TLS certificate not valid at this clock's time: made under a wrong clock (no RTC, or
    a clock far ahead) or older than its 825 days. Named on the console and in the journal;
    moved aside to be made again only when the clock is synchronized (system/clock.py), else a
    good certificate would be replaced at every boot of a Pi 4 whose clock starts wrong."""
    import datetime as dt
    from cryptography import x509
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    now = dt.datetime.now(dt.timezone.utc)
    if c.not_valid_before_utc <= now <= c.not_valid_after_utc:
        return
    valid = f"{c.not_valid_before_utc:%Y-%m-%d} .. {c.not_valid_after_utc:%Y-%m-%d}"
    if _clock_synchronized():
        for path in (cert, tls_key):
            safefile.move_aside(path, "not-valid-now")
        findings.append(f"the TLS certificate {cert} was valid {valid}, not now "
                        f"({now:%Y-%m-%d}): moved aside and made again; the fingerprint changed")
        todo.append(dutch("the TLS certificate was not valid now (%(valid)s): a new one was "
                          "made; compare its fingerprint below", valid=valid))
        return
    findings.append(f"the TLS certificate {cert} is valid {valid}, not at this clock's time "
                    f"({now:%Y-%m-%d}) and the clock is not synchronized: check the network "
                    "time (timedatectl), then reboot; a certificate still not valid then is "
                    "made again")
    todo.append(dutch("the TLS certificate is not valid at the clock's time (%(valid)s) and the "
                      "clock is not synchronized: check the network time (timedatectl), then "
                      "restart", valid=valid))


def _certificate_pair(pem: bytes) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    if b"PRIVATE KEY" in pem:
        load_pem_private_key(pem, password=None)
    else:
        x509.load_pem_x509_certificate(pem)


def ensure_keys(cfg, root: Path, hostname: str, findings: list[str] | None = None,
                todo: list[str] | None = None) -> list[Key]:
    """Every key the services need at start, each made only when missing (docs/units.md), and
    at EVERY boot given the owner and mode its service would have given it (a power cut
    between making and chown leaves it root's): master key and logbook keys as the recorder
    makes them (its key_dir's owner and group, 0640 in the shared directory: storage/sharing.py
    decides), the web's TLS certificate (0640) and key and the client CA (0600) as nvr-web's.
    Nothing is written or chowned through a symbolic link (system/safefile.py): the key
    directory is writable by the services, this runs as root."""
    try:
        return _ensure_keys(cfg, root, hostname, [] if findings is None else findings,
                            [] if todo is None else todo)
    except safefile.UnsafeFile as exc:
        raise FirstbootError(str(exc)) from None


def _ensure_keys(cfg, root: Path, hostname: str, findings: list[str],
                 todo: list[str]) -> list[Key]:
    from firmware.governance.logbook import MAC_KEY, SIGNING_KEY, DeviceSigner
    from firmware.storage.keys import KEY_BYTES, FileKeyProvider
    from firmware.storage.sharing import private_mode
    from firmware.system import clients
    from firmware.system.tls import CERT, KEY, ensure_certificate
    key_dir = cfg.storage.key_dir
    try:
        st = os.stat(key_dir)
    except FileNotFoundError:
        raise FirstbootError(_("the key directory %(path)s does not exist: on a device "
                               "systemd-tmpfiles makes it (nvr.conf) after the data partition is "
                               "mounted; check nvr-storage.service and systemd-tmpfiles-setup",
                               path=str(key_dir))) from None
    recorder = (st.st_uid, st.st_gid)
    web = (_ids(root, "passwd").get(WEB_USER, st.st_uid), st.st_gid)
    recorders_mode = private_mode(key_dir)
    keys = []

    provider = FileKeyProvider(key_dir)
    made = not safefile.refuse_link(provider.path)
    if made:
        provider.create()
    safefile.set_owner(provider.path, recorder, recorders_mode)
    raw = provider.path.read_bytes()
    if len(raw) != KEY_BYTES:
        raise FirstbootError(_("the master key %(path)s is damaged (%(size)s bytes instead of "
                               "%(want)s): restore it from the key backup",
                               path=str(provider.path), size=len(raw), want=KEY_BYTES))
    keys.append(Key("master key", provider.path, made, master_key_id(raw)))

    signer_files = [key_dir / SIGNING_KEY, key_dir / MAC_KEY]
    made = not all([safefile.refuse_link(p) for p in signer_files])
    signer = DeviceSigner(key_dir)         # makes what is missing, replaces what is damaged
    for path in signer_files:
        safefile.set_owner(path, recorder, recorders_mode)
    keys.append(Key("device signing key", signer_files[0], made, signer.fingerprint))

    cert, tls_key = key_dir / CERT, key_dir / KEY
    _aside_if_damaged([cert, tls_key], _certificate_pair, findings)
    made = not (safefile.refuse_link(cert) and safefile.refuse_link(tls_key))
    ensure_certificate(key_dir, hostname, owner=web)
    if not made:
        _certificate_for_now(cert, tls_key, findings, todo)
        made = not (safefile.refuse_link(cert) and safefile.refuse_link(tls_key))
        ensure_certificate(key_dir, hostname, owner=web)
    safefile.set_owner(cert, web, WEB_SECRETS[CERT])
    safefile.set_owner(tls_key, web, WEB_SECRETS[KEY])
    keys.append(Key("TLS certificate", cert, made, certificate_fingerprint(cert.read_bytes())))

    ca = key_dir / clients.CA_FILE
    _aside_if_damaged([ca], _certificate_pair, findings)
    made = not safefile.refuse_link(ca)
    clients.ensure_ca(key_dir, cfg.device.id, owner=web)
    safefile.set_owner(ca, web, WEB_SECRETS[clients.CA_FILE])
    keys.append(Key("client CA", ca, made, certificate_fingerprint(ca.read_bytes())))
    return keys


def certificate_names(pem: bytes) -> list[str]:
    from cryptography import x509
    try:
        alt = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in alt.get_values_for_type(x509.DNSName)]


# --- 4. the enrollment codes -------------------------------------------------------------------

def _prepare_index(index_path: Path) -> None:
    """The index as tmpfiles makes it when it is missing (its directory's owner, 0660 in a
    shared (setgid) directory), so that root never owns it."""
    folder = index_path.parent
    if index_path.exists() or not folder.is_dir():
        return
    st = os.stat(folder)
    fd = os.open(index_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, 0o660 if st.st_mode & stat.S_ISGID else 0o600)
    finally:
        os.close(fd)


def issue_codes(cfg) -> dict[str, str]:
    """A new one-time code for each first account still to be made (role value -> code)."""
    from firmware.governance.accounts import ENROLLED_ROLES
    from firmware.governance.service import Governance
    for folder in (cfg.storage.data_dir, cfg.storage.index_dir):   # never made here as root
        if not folder.is_dir():
            raise FirstbootError(_("the data directory %(path)s does not exist: on a device "
                                   "systemd-tmpfiles makes it (nvr.conf) after the data "
                                   "partition is mounted; check nvr-storage.service and "
                                   "systemd-tmpfiles-setup", path=str(folder)))
    _prepare_index(cfg.storage.index_path)
    gov = Governance.open(cfg)
    try:
        return {role.value: gov.accounts.issue_enrollment_code(role)
                for role in ENROLLED_ROLES if gov.accounts.awaits_enrollment(role)}
    finally:
        gov.close()


def console_paths(root: Path) -> list[Path]:
    """The console devices that can be written (NVR_CONSOLE for tests)."""
    named = os.environ.get(CONSOLE_ENV)
    candidates = [Path(p) for p in named.split(":") if p] if named else \
        [root / c for c in CONSOLES]
    writable = []
    for path in candidates:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_APPEND)
        except OSError:
            continue
        os.close(fd)
        writable.append(path)
    return writable


def write_consoles(paths: list[Path], text: str) -> list[Path]:
    """`text` onto each console; the ones it reached."""
    reached = []
    data = text.encode("utf-8")
    for path in paths:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_APPEND)
        except OSError:
            continue
        try:
            os.write(fd, data)
            reached.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    return reached


# --- the web address ---------------------------------------------------------------------------

def ipv4_addresses() -> list[str]:
    """The device's IPv4 addresses now (none yet while DHCP has not answered)."""
    import fcntl
    import struct
    found = []
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _index, name in interfaces:
            if name == "lo":
                continue
            try:
                answer = fcntl.ioctl(s.fileno(), 0x8915,            # SIOCGIFADDR
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


def web_url(cfg, hostname: str) -> str:
    host = cfg.web.host
    if host in ("", "0.0.0.0", "::"):
        host = hostname
    return f"https://{host}:{cfg.web.port}"


# --- the SSH host keys -------------------------------------------------------------------------

def ssh_host_fingerprints(root: Path) -> list[str]:
    """`ssh-ed25519 SHA256:...` of each SSH host key the image keeps on the data partition, as
    `ssh` shows them at the first login, while SSH is on (nvr-ssh's switch `enabled` beside
    them); none while it is off. The person at the screen compares them before trusting the
    device over the network: nobody can log in on the console to run ssh-keygen there."""
    folder = root / SSH
    if not (folder / "enabled").is_file():
        return []
    found = []
    for public in sorted(folder.glob("ssh_host_*_key.pub")):
        try:
            kind, blob = public.read_text().split()[:2]
            raw = base64.b64decode(blob, validate=True)
        except (OSError, ValueError, binascii.Error):
            continue
        digest = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
        found.append(f"{kind} SHA256:{digest}")
    return found


# --- the whole run -----------------------------------------------------------------------------

def console_text(report: Report, codes: dict[str, str]) -> str:
    """What the person at the screen reads, in Dutch: address, fingerprint, codes, to do. The
    code is never shown inside a command line (sudo would log it, /proc shows it)."""
    from firmware.governance.accounts import SETUP_SECONDS
    lines = ["", "=" * 72,
             dutch("nvr %(host)s: provisioned at start", host=report.hostname),
             dutch("Web address: %(url)s", url=report.url)]
    addresses = ipv4_addresses()
    if addresses:
        lines.append(dutch("IP address(es) now: %(addresses)s", addresses=", ".join(addresses)))
    lines.append(dutch("TLS certificate SHA-256: %(fingerprint)s",
                       fingerprint=report.tls_fingerprint))
    lines.append(dutch("Check that the browser shows this fingerprint before you log in."))
    if report.ssh_fingerprints:
        lines.append(dutch("SSH is on. Its host keys (ssh shows one at the first login; log in "
                           "only when it is the same):"))
        lines += ["  " + fingerprint for fingerprint in report.ssh_fingerprints]
    for role, code in codes.items():
        lines += ["", dutch("One-time enrollment code for the first %(role)s: %(code)s",
                            role=role, code=code),
                  "  " + dutch("Type it in the browser on the web page %(url)s/eerste-account; "
                               "it is valid for %(days)s days after this start", url=report.url,
                               days=SETUP_SECONDS // 86400)]
    if codes:
        lines += ["", dutch("A new code appears at every start while the account does not "
                            "exist; it replaces the previous one. It is stored nowhere but here "
                            "on the screen.")]
    for item in report.todo:
        lines.append(dutch("Still to do: %(what)s", what=item))
    lines += ["=" * 72, ""]
    return "\n".join(lines)


def _name_the_device(report: Report, root: Path) -> None:
    found = board_hostname(root)
    if found is not None:
        report.hostname, source = found
        report.hostname_source = str(source)
        set_hostname(report.hostname, root)
        return
    report.hostname = socket.gethostname()
    report.findings.append("no serial number found (" + ", ".join(str(root / s) for s in SERIALS)
                           + f"): the hostname stays {report.hostname}")
    report.todo.append(dutch("no serial number found: the hostname stays %(host)s",
                             host=report.hostname))


def _load(path: Path):
    from firmware.config import ConfigError, load
    try:
        return load(path)
    except ConfigError as exc:
        raise FirstbootError(_("%(path)s is not a valid configuration (%(problems)s): fix it "
                               "(nvr config check), then reboot or run nvr firstboot",
                               path=str(path), problems="; ".join(exc.problems))) from None


def _findings(report: Report, cfg, root: Path) -> None:
    """What is still to do: in English for the journal, in Dutch for the console."""
    from firmware.governance.introduction import refusals, signage_warning
    from firmware.i18n import in_dutch
    tls = next(k for k in report.keys if k.what == "TLS certificate")
    if report.hostname not in certificate_names(tls.path.read_bytes()):
        report.findings.append(f"the TLS certificate {tls.path} does not name {report.hostname} "
                               "(made under another hostname): browsers warn; to make a new one, "
                               "delete web-cert.pem and web-key.pem and reboot")
        report.todo.append(dutch("the TLS certificate does not name %(host)s: delete "
                                 "web-cert.pem and web-key.pem and restart", host=report.hostname))
    medium = keys_beside_footage(cfg.storage.key_dir, cfg.storage.data_dir, root)
    if medium:
        report.findings.append(medium)
        report.todo.append(in_dutch(lambda: keys_beside_footage(cfg.storage.key_dir,
                                                                cfg.storage.data_dir, root)))
    index_medium = index_beside_footage(cfg.storage.index_dir, cfg.storage.data_dir, root)
    if index_medium:
        report.findings.append(index_medium)
        report.todo.append(in_dutch(lambda: index_beside_footage(cfg.storage.index_dir,
                                                                 cfg.storage.data_dir, root)))
    if signage_warning(cfg):
        report.findings.append(signage_warning(cfg))
        report.todo.append(dutch("no sign is recorded (art. 6 lid 3): list in [introduction] "
                                 "signage where the signs hang"))
    for refused in refusals(cfg).values():
        report.todo.append(dutch("camera %(camera)s does not record yet: %(why)s",
                                 camera=refused.camera, why=refused.dutch))
        report.findings.append(f"camera '{refused.camera}' does not record yet: "
                               f"{refused.message}")


def provision(config: Path | None = None, root: Path | None = None) -> Report:
    """One run of first-boot provisioning, in the order of the module's docstring. Raises
    FirstbootError when it cannot go on."""
    root = root or system_root()
    report = Report()
    os.umask(0o027)
    _name_the_device(report, root)
    report.config = Path(config) if config else root / CONFIG
    report.config_made_from = ensure_config(report.config, root, report.hostname)
    cfg = _load(report.config)
    report.keys = ensure_keys(cfg, root, report.hostname, report.findings, report.todo)
    report.tls_fingerprint = next(k.fingerprint for k in report.keys
                                  if k.what == "TLS certificate")
    report.url = web_url(cfg, report.hostname)
    report.ssh_fingerprints = ssh_host_fingerprints(root)
    _findings(report, cfg, root)
    # The codes only where a person can read them; issued only then (never stuck unread).
    report.consoles = console_paths(root)
    codes: dict[str, str] = {}
    refused = codes_refused(cfg, root, report)
    if report.consoles and not refused:
        codes = issue_codes(cfg)
        report.codes_for = list(codes)
    elif not report.consoles:
        report.findings.append("no console device to show enrollment codes on "
                               "(/dev/console, /dev/tty1): none issued")
    report.consoles = write_consoles(report.consoles, console_text(report, codes))
    if not refused:
        from firmware.system.provisioned import mark
        mark(cfg, root)
    return report


def codes_refused(cfg, root: Path, report: Report) -> bool:
    """R-11: whether enrollment codes may NOT be issued because the index is not this
    provisioned device's own (system/provisioned.py); then the journal and the console say
    why and what to do."""
    from firmware.system.provisioned import refusal
    why = refusal(cfg, root)
    if why is None:
        return False
    report.findings.append(why[0])
    report.todo.append(why[1])
    return True


if __name__ == "__main__":
    # The image's /usr/lib/nvr/nvr-hostname: `python3 -m firmware.system.firstboot
    # --hostname-only` (lighter than the whole `nvr` command line this early in the boot).
    import sys
    if sys.argv[1:] != ["--hostname-only"]:
        sys.exit("usage: python3 -m firmware.system.firstboot --hostname-only")
    try:
        named = name_early(system_root())
    except (FirstbootError, OSError) as exc:
        sys.exit(f"nvr-hostname: {exc}")
    print(f"nvr-hostname: {named}" if named else
          f"nvr-hostname: no usable serial number: the hostname stays {socket.gethostname()}")
