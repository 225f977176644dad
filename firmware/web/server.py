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

import socket
import ssl
import threading
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from firmware.system.tls import CERT, KEY, ensure_certificate  # noqa: F401 (here before)

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
        self.app = app
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        self.server.prepare()
        host, port = self.server.bind_addr[:2]
        self._thread = threading.Thread(target=self.server.serve, name="web", daemon=True)
        self._thread.start()
        return f"https://{host}:{port}"

    def stop(self) -> None:
        """End the live streams first: the server waits for every thread, a stream's too."""
        from firmware.web.live import end_streams
        if hasattr(self.app, "extensions"):        # a Flask app (tests serve plain WSGI too)
            end_streams(self.app)
        self.server.stop()
