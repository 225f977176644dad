"""Personal accounts (R-10, R-81): Argon2id, a password policy, lockout, disable not delete.

There are no default or shared accounts. The very first account is a technisch beheerder and can
only be made on the device itself: by root, or with the one-time enrollment code that `nvr init`
prints. Every later account is made by a user whose role may manage users.

Login failures are answered alike for unknown names and wrong passwords, with the same Argon2
work, so neither the message nor the time tells whether a name exists. After MAX_FAILURES
failures in a row an account is locked for LOCK_SECONDS, and that is logged.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from firmware.governance import totp
from firmware.governance.logbook import Logbook
from firmware.governance.roles import Action, Actor, Role, decide
from firmware.storage.keys import KeyProblem, unwrap, wrap

MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
_COMMON = {"welkom01welkom", "wachtwoord123", "password1234", "gemeente2026!", "123456789012"}

# OWASP's Argon2id minimum (19 MiB, 2 passes): about 40 ms here, well under a second on a Pi 4.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against for unknown names, so they cost the same Argon2 work as known ones. A constant
# (the hash of a random string nobody kept, with HASHER's parameters): hashing it at import
# would cost every process 19 MiB of peak memory.
_DUMMY = "$argon2id$v=19$m=19456,t=2,p=1$JLY+tHqKt3PG0EC+ck+Bgw$6W0NvJYSp3PCRchrufo1Q18xKaTCZzS34WPBCR50B0E"


class AccountError(Exception):
    """A refused account operation; the message says why and what to do."""


class AuthError(AccountError):
    """A refused login."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    disabled: bool

    def actor(self) -> Actor:
        return Actor(self.name, self.role, disabled=self.disabled)


def check_password(name: str, password: str) -> None:
    """The password policy: long, not the name, not a well-known one."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if name.lower() in password.lower():
        raise AccountError("the password may not contain the account name")
    if password.lower() in _COMMON or len(set(password)) < 5:
        raise AccountError("the password is too easy to guess; choose a longer phrase")


WRAPPED = "w1:"            # totp_secret as stored: "w1:" + hex(nonce + sealed secret)


class Accounts:
    """Personal accounts. `master_key` loads the device master key, which seals second-factor
    secrets at rest (a copied index reveals no TOTP secret); it is read only when a second
    factor is set up or checked."""

    def __init__(self, db: sqlite3.Connection, logbook: Logbook,
                 master_key: Callable[[], bytes]):
        self.db, self.logbook, self._master_key = db, logbook, master_key

    def _seal(self, name: str, secret: str) -> str:
        return WRAPPED + wrap(self._master_key(), secret.encode(), f"totp:{name}").hex()

    def _open(self, name: str, stored: str) -> str:
        if not stored.startswith(WRAPPED):
            return stored                       # written before secrets were sealed
        return unwrap(self._master_key(), bytes.fromhex(stored[len(WRAPPED):]),
                      f"totp:{name}").decode()

    # --- enrollment ---------------------------------------------------------------------

    def issue_enrollment_code(self) -> str:
        """A one-time code for the first account, shown once and stored only as a hash."""
        code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
        self.db.execute("INSERT OR REPLACE INTO enrollment (id, code_hash, created) "
                        "VALUES (1, ?, ?)", (HASHER.hash(code), time.time()))
        return code

    def _use_enrollment_code(self, code: str) -> bool:
        row = self.db.execute("SELECT code_hash, used FROM enrollment WHERE id = 1").fetchone()
        if row is None or row["used"] is not None:
            return False
        try:
            HASHER.verify(row["code_hash"], code)
        except (VerificationError, InvalidHashError):
            return False
        self.db.execute("UPDATE enrollment SET used = ? WHERE id = 1", (time.time(),))
        return True

    # --- accounts -----------------------------------------------------------------------

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM users").fetchone()[0]

    def get(self, name: str) -> User | None:
        row = self.db.execute("SELECT name, role, disabled FROM users WHERE name = ?",
                              (name,)).fetchone()
        return None if row is None else User(row["name"], Role(row["role"]),
                                             row["disabled"] is not None)

    def list(self) -> list[dict]:
        return [dict(r) for r in self.db.execute(
            "SELECT name, role, created, created_by, disabled, locked_until FROM users "
            "ORDER BY name")]

    def add(self, name: str, role: Role, password: str, *, by: Actor | None = None,
            as_root: bool = False, enrollment_code: str | None = None) -> User:
        if not name or not name.replace(".", "").replace("-", "").isalnum():
            raise AccountError("a name is letters, digits, '.' and '-' (a personal account, "
                               "e.g. j.jansen)")
        if self.get(name) is not None:
            raise AccountError(f"account '{name}' exists already (accounts are never reused)")
        check_password(name, password)
        if self.count() == 0:
            if role is not Role.TECHNICAL:
                raise AccountError("the first account must be a technisch-beheerder")
            if not as_root and not (enrollment_code and
                                    self._use_enrollment_code(enrollment_code)):
                raise AccountError("the first account can only be made on the device: as root, "
                                   "or with the one-time enrollment code from `nvr init`")
            creator = "root" if as_root else "enrollment-code"
        else:
            if by is None or not decide(by, Action.USERS):
                raise AccountError("only a technisch-beheerder may add accounts (R-11)")
            creator = by.name
        self.db.execute("INSERT INTO users (name, role, password_hash, created, created_by) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (name, role.value, HASHER.hash(password), time.time(), creator))
        self.logbook.append("usage", creator, "user-add", subject=name,
                            details={"role": role.value})
        return User(name, role, False)

    def disable(self, name: str, *, by: Actor) -> None:
        if not decide(by, Action.USERS):
            raise AccountError("only a technisch-beheerder may disable accounts (R-11)")
        if self.get(name) is None:
            raise AccountError(f"there is no account '{name}'")
        self.db.execute("UPDATE users SET disabled = ? WHERE name = ?", (time.time(), name))
        self.logbook.append("usage", by.name, "user-disable", subject=name)

    def set_password(self, name: str, new: str, *, by: Actor) -> None:
        if by.name != name and not decide(by, Action.USERS):
            raise AccountError("you may change only your own password")
        check_password(name, new)
        self.db.execute("UPDATE users SET password_hash = ?, failures = 0, locked_until = NULL "
                        "WHERE name = ?", (HASHER.hash(new), name))
        self.logbook.append("usage", by.name, "user-passwd", subject=name)

    # --- login --------------------------------------------------------------------------

    def enable_totp(self, name: str, *, by: Actor) -> str:
        """Turn on the second factor for one's own account; returns the secret to scan."""
        if by.name != name:
            raise AccountError("a second factor is set up by the account's own user")
        secret = totp.new_secret()
        self.db.execute("UPDATE users SET totp_secret = ?, totp_last = -1 WHERE name = ?",
                        (self._seal(name, secret), name))
        self.logbook.append("usage", name, "totp-enabled")
        return secret

    def authenticate(self, name: str, password: str, now: float | None = None,
                     code: str | None = None) -> User:
        """The user, or AuthError. Unknown names cost the same Argon2 work as wrong passwords.
        An account with a second factor also needs the current TOTP code, each code once."""
        now = time.time() if now is None else now
        row = self.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        try:
            HASHER.verify(row["password_hash"] if row else _DUMMY, password)
            good = row is not None
        except (VerificationError, InvalidHashError):
            good = False
        if row is not None and row["locked_until"] and row["locked_until"] > now:
            until = time.strftime("%H:%M", time.localtime(row["locked_until"]))
            self.logbook.append("usage", name, "login-refused-locked", at=now)
            raise AuthError(f"account '{name}' is locked until {until} after {MAX_FAILURES} "
                            "failed logins; wait, or ask a technisch-beheerder")
        if not good:
            self._failed(name, row, now)
            raise AuthError("wrong account name or password")
        if row["disabled"] is not None:
            self.logbook.append("usage", name, "login-refused-disabled", at=now)
            raise AuthError(f"account '{name}' is disabled")
        if row["totp_secret"]:
            try:
                secret = self._open(name, row["totp_secret"])
            except KeyProblem as exc:
                raise AuthError(f"the second factor of '{name}' cannot be checked: {exc}. "
                                "Restore the device's master key (docs/storage.md).") from None
            counter = totp.match(secret, code or "", now, after=row["totp_last"])
            if counter is None:
                self._failed(name, row, now)
                raise AuthError("this account needs its current second-factor code "
                                "(NVR_TOTP or the prompt); the code was missing, wrong or used")
            stored = row["totp_secret"]
            if not stored.startswith(WRAPPED):      # seal a secret from before sealing
                stored = self._seal(name, secret)
            self.db.execute("UPDATE users SET totp_last = ?, totp_secret = ? WHERE name = ?",
                            (counter, stored, name))
        self.db.execute("UPDATE users SET failures = 0, locked_until = NULL WHERE name = ?",
                        (name,))
        self.logbook.append("usage", name, "login", at=now)
        return User(row["name"], Role(row["role"]), False)

    def _failed(self, name: str, row, now: float) -> None:
        self.logbook.append("usage", name, "login-failed", at=now,
                            details={"known": row is not None})
        if row is None:
            return
        failures = row["failures"] + 1
        locked = now + LOCK_SECONDS if failures >= MAX_FAILURES else None
        self.db.execute("UPDATE users SET failures = ?, locked_until = ? WHERE name = ?",
                        (0 if locked else failures, locked, name))
        if locked:
            self.logbook.append("usage", name, "account-locked", at=now,
                                details={"until": locked, "failures": failures})
