"""The web's self-signed device certificate (docs/web.md): made at the first start of the web, or
by `nvr firstboot` before it (docs/provisioning.md), kept in the key directory as web-cert.pem and
web-key.pem (mode 0600). Here, outside firmware/web, so that making it needs no Flask."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firmware.system import safefile
from firmware.system.safefile import refuse_link

CERT, KEY = "web-cert.pem", "web-key.pem"


def ensure_certificate(key_dir: Path, hostname: str,
                       owner: tuple[int, int] | None = None) -> tuple[Path, Path]:
    """The pair, made when either is missing (the key 0600, the certificate 0640), written as
    system/safefile writes (no symbolic link followed, fsync'ed); `owner` for `nvr firstboot`,
    which makes them as root for nvr-web."""
    cert_path, key_path = Path(key_dir) / CERT, Path(key_dir) / KEY
    if refuse_link(cert_path) and refuse_link(key_path):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.timezone.utc)
    alt = [x509.DNSName(hostname), x509.DNSName("localhost"),
           x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    safefile.write(key_path, key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), 0o600, owner)
    safefile.write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o640, owner)
    return cert_path, key_path
