"""Time-based one-time passwords (RFC 6238, SHA-1, 6 digits, 30 s), the optional second factor
of R-81, computed by `pyotp` (a small, well-kept library that every authenticator app agrees
with). What pyotp's own `verify` does not give is the counter a code belongs to, which
`accounts` records so that each code is accepted once."""

from __future__ import annotations

import hmac

import pyotp

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return pyotp.random_base32()                    # 160 bits


def code_at(secret: str, counter: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).generate_otp(counter)


def match(secret: str, code: str, now: float, after: int = -1) -> int | None:
    """The counter the code belongs to (this step or one either side), if newer than `after`:
    a code is accepted once."""
    code = code.strip()
    if not (code.isascii() and code.isdigit()):
        return None
    current = int(now // STEP)
    for counter in (current - 1, current, current + 1):
        if counter > after and hmac.compare_digest(code_at(secret, counter), code):
            return counter
    return None


def uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=account, issuer_name=issuer)
