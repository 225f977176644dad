"""Time-based one-time passwords (RFC 6238, SHA-1, 6 digits, 30 s), the optional second factor
of R-81. Standard library only; works with every authenticator app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def code_at(secret: str, counter: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** DIGITS).zfill(DIGITS)


def match(secret: str, code: str, now: float, after: int = -1) -> int | None:
    """The counter the code belongs to (this step or one either side), if newer than `after`:
    a code is accepted once."""
    current = int(now // STEP)
    for counter in (current - 1, current, current + 1):
        if counter > after and hmac.compare_digest(code_at(secret, counter), code.strip()):
            return counter
    return None


def uri(secret: str, account: str, issuer: str) -> str:
    return (f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}"
            f"&issuer={quote(issuer)}&digits={DIGITS}&period={STEP}")
