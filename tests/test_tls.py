"""The web server's TLS (issue 9, item 13): TLS 1.2 offers only AEAD suites with forward
secrecy (ECDHE with AES-GCM or ChaCha20-Poly1305, Mozilla's intermediate profile), TLS 1.3
works, TLS 1.0 and 1.1 are refused. Checked with the `ssl` module against the real cheroot
server with its device certificate, one suite at a time."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from firmware.web.server import WebServer


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    web = WebServer(hello, "127.0.0.1", 0, keys)
    web.start()
    yield web.server.bind_addr[:2]
    web.stop()


def client(minimum: ssl.TLSVersion, maximum: ssl.TLSVersion,
           cipher: str | None = None) -> ssl.SSLContext:
    """A client that may speak anything OpenSSL still knows (security level 0)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(f"{cipher or 'ALL:COMPLEMENTOFALL'}:@SECLEVEL=0")
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    return ctx


def handshake(address, ctx: ssl.SSLContext) -> tuple[str, str] | None:
    """(protocol, suite) when the server accepts the handshake, None when it refuses."""
    with socket.create_connection(address, timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                return tls.version(), tls.cipher()[0]
        except (ssl.SSLError, ConnectionResetError):
            return None


def tls12_suites() -> list[dict]:
    suites = client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2).get_ciphers()
    return [s for s in suites if s["protocol"] == "TLSv1.2"]


def test_tls12_accepts_only_aead_suites_with_forward_secrecy(server):
    accepted, refused = [], []
    suites = tls12_suites()
    assert len(suites) > 20                           # the client knows the old suites
    for suite in suites:
        got = handshake(server, client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                                       suite["name"]))
        (accepted if got else refused).append(suite)
    assert accepted, "no TLS 1.2 suite at all"
    for suite in accepted:
        assert suite["aead"] and suite["kea"] == "kx-ecdhe", suite["name"]
        assert "GCM" in suite["name"] or "CHACHA20" in suite["name"], suite["name"]
    refused_names = {s["name"] for s in refused}
    # The suites testssl named: CBC with ECDHE and the device's ECDSA key (LUCKY13), and
    # RSA key exchange without forward secrecy.
    for name in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",
                 "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256",
                 "AES256-SHA"):
        if any(s["name"] == name for s in suites):
            assert name in refused_names, name
    assert {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-CHACHA20-POLY1305"} <= {s["name"] for s in accepted}


def test_tls13_works(server):
    got = handshake(server, client(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    assert got is not None and got[0] == "TLSv1.3"


def permissive_server(tmp_path) -> tuple[tuple[str, int], threading.Thread]:
    """A server that still speaks TLS 1.0: proves the client below can offer it."""
    from firmware.web.server import ensure_certificate
    cert, key = ensure_certificate(tmp_path, "localhost")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn:
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except ssl.SSLError:
                pass
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[:2], thread


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls10_and_tls11_are_refused(server, version, tmp_path):
    address, thread = permissive_server(tmp_path)
    control = handshake(address, client(version, version))
    thread.join(5)
    if control is None:
        pytest.skip(f"this OpenSSL ({ssl.OPENSSL_VERSION}) cannot speak {version.name} at all, "
                    "so refusing it proves nothing here")
    assert handshake(server, client(version, version)) is None
