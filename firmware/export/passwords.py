"""Passwords for the export medium (issue 13 item 2, R-61): a LUKS2 stick's passphrase and a
7z archive's password.

The device generates one unless the beheerder types one. A generated password is five groups of
five characters from an alphabet without look-alikes (no i, l, o, 0, 1), read out or written
down without doubt: 31 symbols, 25 drawn with `secrets`, so 25 * log2(31) = 123.8 bits. It is
shown once, to hand over apart from the stick (artikel 9 lid 2), and never stored or logged:
nothing here keeps it.
"""

from __future__ import annotations

import math
import secrets

from firmware.i18n import _

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"          # 31 symbols: no i l o 0 1
GROUPS, GROUP = 5, 5
BITS = GROUPS * GROUP * math.log2(len(ALPHABET))       # 123.8
MIN_TYPED = 16
MAX_LENGTH = 1024                                     # what exportd's protocol accepts


class PasswordError(ValueError):
    """A typed password that is refused; the message says why and what to do."""


def generate() -> str:
    """A new password of at least 100 bits, e.g. `k7m2q-xh4tw-9bnse-r3dfa-pv8cj`."""
    return "-".join("".join(secrets.choice(ALPHABET) for n in range(GROUP))
                    for g in range(GROUPS))


def check_typed(password: str) -> str:
    """A typed alternative: at least MIN_TYPED characters; returned unchanged."""
    if len(password) < MIN_TYPED:
        raise PasswordError(_("a typed password has at least %(count)s characters (R-61); "
                              "type a longer one or let the device generate one",
                              count=MIN_TYPED))
    if len(password) > MAX_LENGTH:
        raise PasswordError(_("a typed password has at most %(count)s characters; type a "
                              "shorter one", count=MAX_LENGTH))
    return password
