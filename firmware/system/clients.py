"""The workstations that may show footage (art. 4 lid 1: "op een speciale computer in een
beveiligde ruimte"): the device's own client CA, the certificates it issues to the computers of
the secured room, and the one check every footage route asks.

A computer counts as a workstation when it presents a client certificate this device issued
that is neither revoked nor expired (mutual TLS), or, the simpler option, when its address is in
`[web] footage_addresses` and `[web] footage_certificate_required` is false. Anything else (no
certificate, a revoked or expired one, one the device does not know) counts as no certificate.
A certificate of another CA never gets past the TLS handshake (`web/server.py`).

The CA key and certificate are one file in the key directory (`client-ca.pem`, mode 0600),
made once, never overwritten. A revocation is written first into an append-only list in the key
directory (`client-revoked`, mode 0600) and then into the table: whoever holds the data
directory but not the key directory (R-82) cannot undo it with sqlite3, nor by restoring an
older copy of the table; the check reads that list (cached by its mtime) on every request. The device keeps of each issued certificate its name, serial,
SHA-256 fingerprint, validity and who issued and revoked it (table `clients`); the private key
of a workstation exists only in the PKCS#12 bundle handed to its browser. Issuing and revoking
need the technisch beheerder (Action.CONFIG) and are written in the usage logbook with the old
and the new value (art. 7 lid 2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
import secrets
import sqlite3
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from firmware.i18n import _
from firmware.system import safefile

CA_FILE = "client-ca.pem"            # key and certificate of the device's client CA, 0600
REVOKED_FILE = "client-revoked"      # append-only: one revoked certificate a line, 0600
CA_YEARS = 20
DEFAULT_DAYS = 730                   # a workstation certificate, then issue a new one
MAX_DAYS = 1825
MIN_BUNDLE_PASSWORD = 12
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# The Dutch refusal every footage route gives (art. 4 lid 1); the reason follows it.
REFUSAL = "Beelden zijn alleen op de werkplek in de beveiligde ruimte (art. 4 lid 1) te zien"

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    serial       TEXT PRIMARY KEY,         -- hex, as in the certificate
    name         TEXT NOT NULL,            -- the workstation, e.g. centrale-ruimte
    fingerprint  TEXT NOT NULL UNIQUE,     -- SHA-256 of the certificate (DER), hex
    issued       REAL NOT NULL,
    issued_by    TEXT NOT NULL,
    not_after    REAL NOT NULL,
    revoked      REAL,
    revoked_by   TEXT
);
CREATE INDEX IF NOT EXISTS clients_name ON clients(name);
"""


class ClientError(Exception):
    """A refused operation on workstation certificates; the message says what to do."""


class RevocationsUnreadable(ClientError):
    """The key directory's revocation list cannot be read: no certificate counts (fail
    closed); the message (Dutch) says what to do."""


@dataclass(frozen=True)
class Workstation:
    """The answer of `footage_workstation`: may this computer show footage, and why."""

    allowed: bool
    reason: str                      # Dutch, for the person at the computer
    name: str | None = None          # the certificate's workstation, or the listed address

    def __bool__(self) -> bool:
        return self.allowed


# --- the device's client CA ----------------------------------------------------------------

def _ca_path(key_dir: Path) -> Path:
    return Path(key_dir) / CA_FILE


def ensure_ca(key_dir: Path, device_id: str, owner: tuple[int, int] | None = None) -> Path:
    """The client CA of this device, made at first use (by `nvr web`, `nvr client issue` or
    `nvr firstboot`, which gives it `owner`; whichever comes first: system/safefile links it
    into place whole and only once, never through a symbolic link)."""
    path = _ca_path(key_dir)
    if safefile.refuse_link(path):
        return path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"nvr {device_id} werkplekken"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, device_id)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) \
        + cert.public_bytes(serialization.Encoding.PEM)
    safefile.write(path, data, 0o600, owner, replace=False)   # never replaces a CA made meanwhile
    return path


def _load_ca(key_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    data = _ca_path(key_dir).read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    return key, x509.load_pem_x509_certificate(data)


def ca_certificate_pem(key_dir: Path) -> str:
    """The CA certificate alone (PEM), for the server's verification of client certificates."""
    return _load_ca(key_dir)[1].public_bytes(serialization.Encoding.PEM).decode("ascii")


# --- the revocations, kept in the key directory (art. 4 lid 1, R-20, R-82) --------------------

_revoked_cache: dict[Path, tuple[tuple[int, int, int], frozenset[str]]] = {}


def _revoked_path(key_dir: Path) -> Path:
    return Path(key_dir) / REVOKED_FILE


def revoked_certificates(key_dir: Path) -> frozenset[str]:
    """The serials and fingerprints of every revoked workstation certificate, from the key
    directory's append-only list; read again only when the file changed (the check of art. 4
    lid 1 runs on every footage request). A list that cannot be read raises: no footage then."""
    path = _revoked_path(key_dir)
    try:
        st = path.stat()
    except FileNotFoundError:
        return frozenset()
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _revoked_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RevocationsUnreadable(_(
            "the list of revoked workstation certificates (%(path)s) cannot be read "
            "(%(problem)s); until it can, no workstation shows footage. Let the technisch "
            "beheerder restore the list from the backup of the key directory", path=path,
            problem=exc.__class__.__name__)) from None
    for line in text.splitlines():
        found.update(line.split()[:2])         # serial, fingerprint, then when and which
    _revoked_cache[path] = (stamp, frozenset(found))
    return _revoked_cache[path][1]


def record_revocation(key_dir: Path, rows: Iterable[dict], now: float) -> None:
    """Append revoked certificates (serial, fingerprint, when, workstation) to the key
    directory's list and fsync it, before the table says so: the data directory alone cannot
    undo a revocation (R-82)."""
    text = "".join(f"{r['serial']} {r['fingerprint']} {_utc(now).replace(' ', '_')} "
                   f"{r['name']}\n" for r in rows)
    if not text:
        return
    fd = os.open(_revoked_path(key_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(key_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)                       # the file's name too, when it was just made
    finally:
        os.close(dir_fd)


# --- issue, list, revoke ---------------------------------------------------------------------

def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class Clients:
    """Workstation certificates on the governance database, logged in its usage logbook."""

    def __init__(self, db: sqlite3.Connection, logbook, key_dir: Path, device_id: str):
        self.db, self.logbook = db, logbook
        self.key_dir, self.device_id = Path(key_dir), device_id
        db.executescript(SCHEMA)
        self._keep_table_revocations()

    def _keep_table_revocations(self) -> None:
        """A revocation the table knows and the key directory's list not (made before the
        list existed) goes into the list now; the list only ever grows."""
        listed = revoked_certificates(self.key_dir)
        record_revocation(self.key_dir, [
            r for r in self._rows("WHERE revoked IS NOT NULL")
            if r["serial"] not in listed and r["fingerprint"] not in listed],
            time.time())

    def _revoked(self, row: dict) -> bool:
        """Revoked by the table or by the key directory's list (which sqlite3 cannot undo)."""
        listed = revoked_certificates(self.key_dir)
        return bool(row["revoked"]) or row["serial"] in listed or row["fingerprint"] in listed

    def _rows(self, where: str = "", args: Iterable = ()) -> list[dict]:
        return [dict(r) for r in self.db.execute(
            f"SELECT * FROM clients {where} ORDER BY issued, serial", tuple(args))]

    def list(self, now: float | None = None) -> list[dict]:
        """Every certificate ever issued, with its state: valid, revoked or expired."""
        now = time.time() if now is None else now
        return [{**r, "state": "revoked" if self._revoked(r) else
                 "expired" if r["not_after"] <= now else "valid"} for r in self._rows()]

    def issue(self, actor, name: str, *, password: str | None = None,
              days: int = DEFAULT_DAYS, now: float | None = None) -> tuple[bytes, str, dict]:
        """A certificate and key for workstation `name`, as a PKCS#12 bundle protected by
        `password` (made when not given). Returns (bundle, password, record). One valid
        certificate per workstation: revoke the old one first."""
        from firmware.governance.access import require
        from firmware.governance.roles import Action
        from firmware.governance.service import Refused
        require(self.logbook, actor, Action.CONFIG, Refused)
        if not isinstance(name, str) or not NAME.match(name):
            raise ClientError(_("%(name)s is not a name for a workstation: 1 to 32 characters of "
                                "a-z, 0-9, '-' and '_', for example centrale-ruimte "
                                "(artikel 4 lid 1)", name=repr(name)))
        if not 1 <= days <= MAX_DAYS:
            raise ClientError(_("a certificate for a workstation is valid 1 to %(most)s days, not "
                                "%(days)s (artikel 4 lid 1)", most=MAX_DAYS, days=days))
        if password is None:
            password = "-".join(secrets.token_hex(3) for _ in range(4))
        if len(password) < MIN_BUNDLE_PASSWORD:
            raise ClientError(_("the password of the certificate bundle has at least %(count)s "
                                "characters (artikel 4 lid 1)", count=MIN_BUNDLE_PASSWORD))
        now = time.time() if now is None else now
        self._no_valid_certificate(name, now)
        ensure_ca(self.key_dir, self.device_id)
        ca_key, ca = _load_ca(self.key_dir)
        key = ec.generate_private_key(ec.SECP256R1())
        start = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                                self.device_id)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start - dt.timedelta(minutes=5))
                .not_valid_after(start + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        der = cert.public_bytes(serialization.Encoding.DER)
        record = {"serial": format(cert.serial_number, "X"), "name": name,
                  "fingerprint": _fingerprint(der), "issued": now, "issued_by": actor.name,
                  "not_after": cert.not_valid_after_utc.timestamp()}
        bundle = pkcs12.serialize_key_and_certificates(
            f"nvr {self.device_id} {name}".encode(), key, cert, [ca],
            serialization.BestAvailableEncryption(password.encode()))
        self.db.execute("BEGIN IMMEDIATE")       # the check again, and the insert, as one
        try:
            self._no_valid_certificate(name, now)
            before = [r for r in self.list(now) if r["name"] == name]
            self.db.execute("INSERT INTO clients (serial, name, fingerprint, issued, issued_by, "
                            "not_after) VALUES (:serial, :name, :fingerprint, :issued, "
                            ":issued_by, :not_after)", record)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", actor.name, "client-issue", subject=f"werkplek {name}",
                            details={"old": {"certificate": before[-1]["serial"],
                                             "state": before[-1]["state"]} if before else None,
                                     "new": {"certificate": record["serial"],
                                             "fingerprint": record["fingerprint"],
                                             "valid_until": _utc(record["not_after"])}})
        return bundle, password, record

    def revoke(self, actor, name: str, now: float | None = None) -> list[dict]:
        """Revoke every certificate of workstation `name` not revoked yet; it shows footage
        no more from the next request on. First into the key directory's list (R-82), then
        into the table."""
        from firmware.governance.access import require
        from firmware.governance.roles import Action
        from firmware.governance.service import Refused
        require(self.logbook, actor, Action.CONFIG, Refused)
        now = time.time() if now is None else now
        rows = [r for r in self.list(now) if r["name"] == name and r["state"] != "revoked"]
        if not rows:
            known = sorted({r["name"] for r in self.list(now) if r["state"] != "revoked"})
            raise ClientError(_("workstation '%(name)s' has no certificate to revoke (not revoked: "
                                "%(known)s); see nvr client list (artikel 4 lid 1)", name=name,
                                known=", ".join(known) or _("none")))
        record_revocation(self.key_dir, rows, now)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for r in rows:
                self.db.execute("UPDATE clients SET revoked = ?, revoked_by = ? "
                                "WHERE serial = ? AND revoked IS NULL",
                                (now, actor.name, r["serial"]))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", actor.name, "client-revoke", subject=f"werkplek {name}",
                            details={"old": [{"certificate": r["serial"], "state": r["state"]}
                                             for r in rows],
                                     "new": [{"certificate": r["serial"], "state": "revoked"}
                                             for r in rows]})
        return rows

    def _no_valid_certificate(self, name: str, now: float) -> None:
        valid = [r for r in self.list(now) if r["name"] == name and r["state"] == "valid"]
        if valid:
            from firmware.governance.wording import moment
            raise ClientError(_("workstation '%(name)s' has a valid certificate until %(until)s; "
                                "revoke that first (nvr client revoke %(name)s) and then issue "
                                "a new one (artikel 4 lid 1)", name=name,
                                until=moment(valid[0]['not_after'])))

    def known(self, pem: str | None, now: float | None = None) -> tuple[dict | None, str]:
        """The record of a presented certificate (PEM) when it counts, else None and why."""
        if not pem:
            return None, "deze computer toont geen werkplekcertificaat van dit apparaat"
        try:
            der = ssl.PEM_cert_to_DER_cert(pem)
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return None, "het getoonde certificaat is onleesbaar"
        fingerprint = _fingerprint(der)
        row = self.db.execute("SELECT * FROM clients WHERE fingerprint = ?",
                              (fingerprint,)).fetchone()
        now = time.time() if now is None else now
        if row is None:
            return None, "het getoonde certificaat is niet door dit apparaat uitgegeven"
        # The certificate's own serial, fingerprint and end date (signed by the device's CA)
        # count, not only the row's: sqlite3 on the data directory changes the row, not these.
        facts = {"revoked": row["revoked"], "serial": format(cert.serial_number, "X"),
                 "fingerprint": fingerprint}
        if self._revoked(facts):
            return None, f"het certificaat van werkplek '{row['name']}' is ingetrokken"
        if min(row["not_after"], cert.not_valid_after_utc.timestamp()) <= now:
            return None, f"het certificaat van werkplek '{row['name']}' is verlopen"
        return dict(row), ""


# --- the check of art. 4 lid 1 ---------------------------------------------------------------

def _listed(address: str | None, networks: Iterable[str]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped                    # a dual-stack socket shows IPv4 as ::ffff:a.b.c.d
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def footage_workstation(clients: Clients, web, *, address: str | None,
                        verified: bool, certificate: str | None,
                        now: float | None = None) -> Workstation:
    """Art. 4 lid 1, R-20: may the computer at `address`, which presented `certificate` (PEM,
    `verified` by the TLS handshake against the device's client CA), show footage? `web` is
    the [web] configuration (footage_addresses, footage_certificate_required)."""
    record, why = clients.known(certificate if verified else None, now)
    if record is not None:
        return Workstation(True, f"werkplek {record['name']}", record["name"])
    if not web.footage_certificate_required and _listed(address, web.footage_addresses):
        return Workstation(True, f"werkplek op adres {address}", address)
    return Workstation(False, f"{REFUSAL}: {why}"
                              + ("" if web.footage_certificate_required else
                                 f", en het adres {address} staat niet in de lijst van "
                                 "werkplekken")
                              + ". Gebruik de computer in de beveiligde ruimte, of vraag de "
                                "technisch beheerder om een werkplekcertificaat voor deze "
                                "computer.")


# --- the same check for the command line (art. 4 lid 1, R-20) --------------------------------

SSH_DAEMONS = frozenset({"sshd", "sshd-session", "dropbear"})   # their /proc comm
SSH_VARIABLES = ("SSH_CONNECTION", "SSH_CLIENT")                # "client-address port ..."
PROC = Path("/proc")


@dataclass(frozen=True)
class Origin:
    """Where a command-line session comes from: the SSH client address of every hop its
    process and ancestors show, or why one cannot be read (Dutch)."""

    addresses: tuple[str, ...] = ()
    unknown: str | None = None


def _ssh_address(environ: Mapping[str, str] | None) -> str | None:
    for name in SSH_VARIABLES:
        fields = (environ or {}).get(name, "").split()
        if fields:
            return fields[0]
    return None


def _proc_environ(proc: Path, pid: int) -> dict[str, str] | None:
    """The environment process `pid` was started with, or None when it cannot be read (a
    process of another user, e.g. sudo's own)."""
    try:
        raw = (proc / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in pairs}


def _proc_stat(proc: Path, pid: int) -> tuple[str, int] | None:
    """(comm, parent pid) of process `pid`, or None when it cannot be read."""
    try:
        text = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    close = text.rfind(")")                    # comm may hold spaces and parentheses
    fields = text[close + 2:].split()
    if text.find("(") < 0 or close < 0 or len(fields) < 2:
        return None
    return text[text.find("(") + 1:close], int(fields[1])


def session_origin(environ: Mapping[str, str], pid: int, proc: Path = PROC) -> Origin:
    """The SSH hops of process `pid` (whose environment is `environ`): SSH_CONNECTION or
    SSH_CLIENT of the process and of every ancestor whose environment is readable (sudo drops
    them from its child, not from itself), and for every sshd among the ancestors the address
    it gave the first process of its session. An sshd ancestor whose session shows no
    address (`env -u SSH_CONNECTION`, or a process of another user): unknown."""
    chain: list[tuple[int, str, Mapping[str, str] | None]] = []
    seen: set[int] = set()
    current = pid
    while current > 0 and current not in seen:
        seen.add(current)
        stat = _proc_stat(proc, current)
        if stat is None:
            return Origin(unknown=f"de herkomst van proces {current} is niet te lezen in {proc}")
        env = environ if current == pid else _proc_environ(proc, current)
        chain.append((current, stat[0], env))
        current = stat[1]
    addresses = [a for a in (_ssh_address(env) for _, _, env in chain) if a]
    for i, (ancestor, comm, _) in enumerate(chain):
        if i and comm in SSH_DAEMONS and chain[i - 1][1] not in SSH_DAEMONS:
            address = _ssh_address(chain[i - 1][2])
            if address is None:
                return Origin(tuple(addresses), f"de sessie komt via SSH ({comm}, proces "
                                                f"{ancestor}), maar van welke computer is "
                                                "niet te lezen")
            addresses.append(address)
    return Origin(tuple(dict.fromkeys(addresses)))


def _loopback(address: str) -> bool:
    import ipaddress
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def footage_command_line(web, *, environ: Mapping[str, str] | None = None,
                         pid: int | None = None, proc: Path = PROC) -> Workstation:
    """Art. 4 lid 1, R-20, for `nvr segment play` and `nvr request play`: may this command
    line show footage? Only when `[web] footage_console` says the device's own console is a
    workstation of the secured room (off by default), and never with `[web]
    footage_certificate_required` (footage only in the browser of a certified workstation).
    An SSH session from a loopback address came through a tunnel or a hop: never. Otherwise a session over SSH counts only when every
    SSH client address it shows is in `[web] footage_addresses`; a session with no SSH at all
    is the device's own console, in the secured room (art. 4 lid 2)."""
    todo = (" Bekijk de beelden op de computer in de beveiligde ruimte (de browser van de "
            "werkplek of de console van het apparaat).")
    if not web.footage_console:
        return Workstation(False, f"{REFUSAL}: dit apparaat toont beelden niet op de "
                                  "opdrachtregel ([web] footage_console staat uit); alleen de "
                                  "browser van een werkplek toont ze." + todo)
    if web.footage_certificate_required:
        return Workstation(False, f"{REFUSAL}: dit apparaat toont beelden alleen aan een "
                                  "werkplek met een certificaat ([web] "
                                  "footage_certificate_required), dus niet via de "
                                  "opdrachtregel." + todo)
    origin = session_origin(os.environ if environ is None else environ,
                            os.getpid() if pid is None else pid, proc)
    if origin.unknown:
        return Workstation(False, f"{REFUSAL}: {origin.unknown}." + todo)
    tunnelled = [a for a in origin.addresses if _loopback(a)]
    if tunnelled:            # an SSH session from the device itself came through a tunnel or hop
        return Workstation(False, f"{REFUSAL}: de sessie komt via SSH van {tunnelled[0]}, het "
                                  "apparaat zelf: een tunnel of tussenstap, geen werkplek in de "
                                  "beveiligde ruimte." + todo)
    outside = [a for a in origin.addresses if not _listed(a, web.footage_addresses)]
    if outside:
        return Workstation(False, f"{REFUSAL}: de sessie komt via SSH van {', '.join(outside)}"
                                  ", en dat adres staat niet in de lijst van werkplekken "
                                  "([web] footage_addresses)." + todo)
    if origin.addresses:
        return Workstation(True, f"werkplek op adres {origin.addresses[-1]} (SSH)",
                           origin.addresses[-1])
    return Workstation(True, "de console van het apparaat in de beveiligde ruimte "
                             "(art. 4 lid 2)", "console")
