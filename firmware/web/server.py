"""Serve the web interface over TLS with cheroot, a production WSGI server in pure Python.

Without a configured certificate, a self-signed device certificate is made at first start and
kept in the key directory (web-cert.pem, web-key.pem with mode 0600).

TLS follows Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only; in TLS 1.2 only AEAD suites
with forward secrecy (ECDHE with AES-GCM or ChaCha20-Poly1305), so no CBC suite (LUCKY13) and no
RSA key exchange. TLS 1.3 suites are all AEAD with forward secrecy and keep OpenSSL's defaults.

Art. 4 lid 1: the server asks every browser for a client certificate (CERT_OPTIONAL) signed by
the device's client CA (firmware/system/clients.py). A browser without one connects as before;
one of another CA is refused in the handshake. OpenSSL checks the chain but not the validity
dates: an expired certificate must count as none (administration pages stay reachable), and the
footage check (`clients.footage_workstation`) accepts only certificates it issued, not revoked,
not expired. cheroot's BuiltinSSLAdapter puts a verified peer certificate into the WSGI environ
as SSL_CLIENT_CERT (PEM) with SSL_CLIENT_VERIFY = "SUCCESS" (cheroot/ssl/builtin.py,
get_environ); without one SSL_CLIENT_VERIFY is "NONE".
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT, KEY = "web-cert.pem", "web-key.pem"
TLS12_SUITES = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"))
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (x509_vfy.h), which the ssl module has no name for.
X509_V_FLAG_NO_CHECK_TIME = 0x200000


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Mozilla intermediate: TLS 1.2 at least, AEAD suites with ECDHE only in TLS 1.2."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_SUITES)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def ask_client_certificates(context: ssl.SSLContext, ca_pem: str) -> ssl.SSLContext:
    """Art. 4 lid 1: request an optional client certificate of the device's client CA; its
    dates are checked by the footage check, not here (see the module's docstring)."""
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=ca_pem)
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    return context


def ensure_certificate(key_dir: Path, hostname: str) -> tuple[Path, Path]:
    cert_path, key_path = Path(key_dir) / CERT, Path(key_dir) / KEY
    if cert_path.exists() and key_path.exists():
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
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.close(fd)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


PAGE_THREADS = 8                 # server threads beside the live streams


class WebServer:
    def __init__(self, app, host: str, port: int, key_dir: Path, device_id: str = "nvr"):
        from firmware.system import clients
        from firmware.system.memory import limit_malloc_arenas, return_large_blocks
        # The web process's memory stays where it started (issue 11, bench/web.py): large
        # blocks go back to the system when freed, and the server's threads share 2 heaps.
        return_large_blocks()
        limit_malloc_arenas()
        cert, key = ensure_certificate(key_dir, socket.gethostname())
        from firmware.web.live import MAX_STREAMS
        # Every live stream holds a thread while it plays (a grid: one per tile); the pages,
        # the tiles' status and playback get PAGE_THREADS of their own.
        self.server = wsgi.Server((host, port), app, numthreads=PAGE_THREADS + MAX_STREAMS,
                                  server_name="nvr")
        adapter = BuiltinSSLAdapter(str(cert), str(key))
        harden(adapter.context)
        clients.ensure_ca(key_dir, device_id)
        ask_client_certificates(adapter.context, clients.ca_certificate_pem(key_dir))
        self.server.ssl_adapter = adapter
        self.cert = cert
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        self.server.prepare()
        host, port = self.server.bind_addr[:2]
        self._thread = threading.Thread(target=self.server.serve, name="web", daemon=True)
        self._thread.start()
        return f"https://{host}:{port}"

    def stop(self) -> None:
        self.server.stop()
