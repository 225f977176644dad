"""Personal accounts (R-10, R-11, R-81): Argon2id, a password policy, four eyes on footage
accounts, password resets by one-time code, a growing delay instead of a lockout.

There are no default or shared accounts. The first technisch beheerder and the first manager
bedrijfsvoering are made on the device itself: by root, or with the one-time enrollment code of
their role that `nvr init` prints, and choose their own password. Every later account is made by
a technisch beheerder without a password: it gets a one-time setup code (the reset code's
mechanism, valid SETUP_SECONDS) that the technisch beheerder hands to the owner, who sets the
password with it. Every account whose role is not technisch-beheerder comes into force only when
a manager bedrijfsvoering approves it: at creation, after a role change, after a reset (art. 2:
the beheerder is appointed; art. 3.1: the manager carries the final responsibility). The manager
approves only an account whose owner has set its password, and approves the role they saw: a
role changed in between is refused. That covers designees (footage by delegation) and the DPO
(the Inzien logbook) too; a role change or a reset also ends the account's delegations (R-12). A
technisch beheerder never approves, never sets anyone's password (it issues one-time setup and
reset codes the owner uses) and so never holds a working password of an account that sees footage
or a logbook without a second pair of eyes.

Every refused login is answered alike (WRONG): unknown name, wrong password, missing or wrong
second-factor code, throttled, disabled or awaiting approval; same Argon2 work, so no answer
tells whether a name exists or a password was right; the reason is logged. Failures are counted atomically (BEGIN IMMEDIATE) per account and per source
and name; from THROTTLE_AFTER failures on, that source waits a doubling delay for that name,
while the owner at another desk still logs in (no lockout a third party can cause).
"""

from __future__ import annotations

import ipaddress
import math
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from firmware.governance import delegation, totp
from firmware.governance.logbook import Logbook
from firmware.governance.roles import Action, Actor, Role, decide
from firmware.governance.undo import undo_reason
from firmware.i18n import _
from firmware.storage.keys import KeyProblem, unwrap, wrap
from firmware.system.clock import BootClock, boot_clock, clock_state
from firmware.i18n import N_, _

MIN_PASSWORD = 12
MIN_GUESSES_LOG10 = 10          # zxcvbn's score 4: "very unguessable"
ORGANISATION_WORDS = ("soest", "gemeente", "gemeentehuis", "welkom", "camera", "beheerder",
                      "wachtwoord", "nvr")
THROTTLE_AFTER = 5              # failures from one source on one name before it must wait
THROTTLE_BASE = 30.0            # then 30 s, 60 s, 120 s, ... per further failure
THROTTLE_MAX = 15 * 60.0
# A login's failures count per exact address and also per IPv6 /64 (one host holds a whole
# /64), the /64 with more room: a host walking through its /64 waits after this many, while a
# colleague on the office's /64 must fail as often before the owner at another desk waits.
WIDE_THROTTLE_AFTER = 4 * THROTTLE_AFTER
RESET_SECONDS = 24 * 3600       # a reset code is good for a day
SETUP_SECONDS = 3 * 24 * 3600   # a new account's setup code, for three days
NO_PASSWORD = ""                # password_hash of an account whose owner has not set one yet
MIN_OWN_WORDS = 3               # runs of letters not the organisation's, device's or name's
# Roles whose accounts come into force only with a manager's approval (art. 2, art. 3.1): every
# role but the technisch beheerder's own. A designee plays footage on delegations and a DPO reads
# the Inzien logbook, so the technisch beheerder may not make, take over or move into either
# without a second pair of eyes.
APPROVAL_ROLES = frozenset(Role) - {Role.TECHNICAL}
# Roles whose first account is made on the device with a one-time code from `nvr init`.
ENROLLED_ROLES = (Role.TECHNICAL, Role.MANAGER)
# The name under which wrong enrollment codes are counted per source in login_throttle: with a
# space, so never an account's name.
ENROLLING = "enrollment code"
# The one answer to every refused login: wrong name, password or code, throttled, disabled
# or awaiting approval look alike; the reason goes to the logbook only.
WRONG = N_("login refused: wrong account name, password or second-factor code, or the "
           "account is not in force; if this keeps happening, ask the technisch-beheerder")
MAX_FAILURES = THROTTLE_AFTER   # the name older code and tests know

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


class EnrollmentRefused(AccountError):
    """A first account refused for its enrollment code: wrong, used, or tried too often from
    this source (`wait` seconds left, else 0). Counted against the source (R-81)."""

    def __init__(self, message: str, wait: float = 0.0):
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    disabled: bool
    pending: bool = False           # awaits a manager's approval: not in force

    def actor(self) -> Actor:
        return Actor(self.name, self.role, disabled=self.disabled or self.pending)

    @property
    def status(self) -> str:
        """In Dutch, for the old and new value of an account change in the logbook (art. 7.2)."""
        return ("uitgeschakeld" if self.disabled else "wacht op goedkeuring" if self.pending
                else "actief")


def check_password(name: str, password: str, extra: Iterable[str] = ()) -> None:
    """The password policy (R-81): long, not the name, hard to guess by zxcvbn's estimate
    (which also knows the organisation's words, the account's name and `extra`, the device),
    and, whatever the length, MIN_OWN_WORDS runs of letters that are not the organisation's
    words, the device's words or parts of the name: zxcvbn knows no Dutch, so "Stadhuis-Soest-
    2026!" or "Voorjaar2026!Zomer2026!" (one or two words with a year) pass it."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise AccountError(_("the password holds a character that is not text (a lone "
                             "surrogate); type it again")) from None
    if len(password) < MIN_PASSWORD:
        raise AccountError(_("the password needs at least %(count)s characters",
                             count=MIN_PASSWORD))
    if name.lower() in password.lower():
        raise AccountError(_("the password may not contain the account name"))
    words = [*ORGANISATION_WORDS, name, *name.replace("-", ".").split("."), *extra]
    # zxcvbn's dictionaries are English: a Dutch word plus a year passes it (Stadhuis2026!!).
    known = {w.lower() for word in words for w in _LETTER_RUN.findall(word)}
    own = [r for r in _LETTER_RUN.findall(password) if r.lower() not in known]
    if len(own) < MIN_OWN_WORDS:
        raise AccountError(_("the password is too easy to guess: it needs at least three words "
                             "(runs of letters) of your own besides the organisation's, the "
                             "device's and your name; choose a phrase of several words, e.g. "
                             "four unusual words and a digit"))
    if zxcvbn(password[:100], user_inputs=[w for w in words if w])["guesses_log10"] \
            < MIN_GUESSES_LOG10:
        raise AccountError(_("the password is too easy to guess (a word with digits, a name, "
                             "the organisation); choose a phrase of four or more unusual words"))


_LETTER_RUN = re.compile(r"[^\W\d_]+")     # a run of letters, in any script

WRAPPED = "w1:"            # totp_secret as stored: "w1:" + hex(nonce + sealed secret)


def throttle_source(source: str) -> str:
    """Where wrong enrollment codes are counted: an IPv4 address (an IPv4-mapped IPv6 one as
    IPv4), or the /64 of an IPv6 address, since one host holds a whole /64: counted one address
    at a time, a host walking through its own /64 was never delayed (reviewer B). "local",
    "cli" and other names stay as they are. The logbook keeps the exact address."""
    try:
        ip = ipaddress.ip_address(source)
    except ValueError:
        return source
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def _throttle_keys(name: str, source: str) -> tuple[tuple[str, int], ...]:
    """Where a failure of `source` on `name` is counted, and after how many it must wait.
    Wrong enrollment codes: per /64 (the first accounts are made once, on site). A login: per
    exact address (an IPv4-mapped one as IPv4), and per /64 with WIDE_THROTTLE_AFTER: with the
    /64 alone a colleague on the office's /64 delayed the owner at another desk (red team R2),
    with the address alone a host walking its /64 never waited (red team R3)."""
    wide = throttle_source(source)
    if name == ENROLLING:
        return ((wide, THROTTLE_AFTER),)
    exact = wide if "/" not in wide else source
    return ((exact, THROTTLE_AFTER),) + (((wide, WIDE_THROTTLE_AFTER),) if wide != exact else ())


def _code() -> str:
    return "-".join(secrets.token_hex(3).upper() for _ in range(3))


def _verify(stored: str | None, secret: str) -> bool:
    """Argon2 check of `secret` against `stored`; with nothing stored, the same work."""
    if not isinstance(secret, str):
        secret = ""
    try:
        return bool(HASHER.verify(stored or _DUMMY, secret.encode("utf-8", "surrogatepass"))) \
            and bool(stored)            # None, or NO_PASSWORD: nothing matches
    except (VerificationError, InvalidHashError):
        return False


class Accounts:
    """Personal accounts. `master_key` loads the device master key, which seals second-factor
    secrets at rest (a copied index reveals no TOTP secret); it is read only when a second
    factor is set up or checked. `words` are extra words a password may not lean on (the
    device's id and name)."""

    def __init__(self, db: sqlite3.Connection, logbook: Logbook,
                 master_key: Callable[[], bytes], words: Iterable[str] = ()):
        self.db, self.logbook, self._master_key = db, logbook, master_key
        self.words = tuple(words)

    def _seal(self, name: str, secret: str) -> str:
        return WRAPPED + wrap(self._master_key(), secret.encode(), f"totp:{name}").hex()

    def _open(self, name: str, stored: str) -> str:
        if not stored.startswith(WRAPPED):
            return stored                       # written before secrets were sealed
        return unwrap(self._master_key(), bytes.fromhex(stored[len(WRAPPED):]),
                      f"totp:{name}").decode()

    def _check_password(self, name: str, password: str) -> None:
        check_password(name, password, self.words)

    # --- enrollment ---------------------------------------------------------------------

    def issue_enrollment_code(self, role: Role = Role.TECHNICAL) -> str:
        """A one-time code for the first account of `role` (technisch-beheerder or manager),
        shown once and stored only as a hash; dated by the wall clock, whether that clock was
        synchronised, and this boot's own clock (see _code_fresh)."""
        if role not in ENROLLED_ROLES:
            raise AccountError(_("enrollment codes exist for the first technisch-beheerder and "
                                 "the first manager-bedrijfsvoering only"))
        code, booted = _code(), boot_clock()
        self.db.execute("INSERT OR REPLACE INTO enrollment_codes (role, code_hash, created, "
                        "synced, boot, uptime) VALUES (?, ?, ?, ?, ?, ?)",
                        (role.value, HASHER.hash(code), time.time(),
                         int(clock_state().synchronised), booted and booted.boot,
                         booted and booted.seconds))
        return code

    def _live_codes(self, now: float) -> dict[str, str]:
        """The unused enrollment codes still good now: role value -> code hash (R-10)."""
        booted = boot_clock()
        return {row["role"]: row["code_hash"] for row in self.db.execute(
            "SELECT role, code_hash, created, synced, boot, uptime FROM enrollment_codes "
            "WHERE used IS NULL").fetchall() if self._code_fresh(row, now, booted)}

    def _code_fresh(self, row, now: float, booted: BootClock | None) -> bool:
        """Whether a code is within its SETUP_SECONDS, counted on a clock that can be trusted.
        The first boot runs before NTP: a Pi 4 starts at the image's time, a new Pi 5 in 1970,
        a Pi 5 whose RTC runs ahead in the future; the wall clock then jumps. So a code shown
        in this boot counts its life on this boot's own clock (clock.boot_clock), which no
        setting of the time moves. A code from another boot (not replaced: no console then,
        or `nvr init` on a computer) has only the wall clock: one issued under an
        unsynchronised clock is dated anew at the first check under a synchronised one, and
        a date in the future under a synchronised clock is moved to now, each once, in the
        index; the code's life then counts on this boot's clock from that moment."""
        if booted is not None and row["boot"] == booted.boot and row["uptime"] is not None:
            return booted.seconds - row["uptime"] < SETUP_SECONDS
        created = row["created"]
        if row["synced"] == 0 or created > now:
            if not clock_state(max_age=60).synchronised:     # nothing to date it by:
                return now - SETUP_SECONDS < created <= now   # a future date is no date
            self.db.execute("UPDATE enrollment_codes SET created = ?, synced = 1, boot = ?, "
                            "uptime = ? WHERE role = ? AND code_hash = ? AND used IS NULL",
                            (now, booted and booted.boot, booted and booted.seconds,
                             row["role"], row["code_hash"]))
            return True
        return created > now - SETUP_SECONDS

    def awaiting(self) -> tuple[Role, ...]:
        """The roles whose first account is still to be made with an enrollment code."""
        return tuple(r for r in ENROLLED_ROLES if self.awaits_enrollment(r))

    def awaits_enrollment(self, role: Role) -> bool:
        """Whether the first account of `role` is still to be made with an enrollment code (the
        condition `add` applies, R-10): the first technisch-beheerder while no account exists,
        the first manager while no manager account has EVER existed on the device. A manager
        disabled later is followed the normal way (a technisch beheerder makes the account, a
        manager approves it): never by a new code that whoever reads the screen after a reboot
        could use alone. `nvr firstboot` issues codes only while this holds; the web's page
        opens only then (enrollable)."""
        if role is Role.TECHNICAL:
            return self.count() == 0
        return role is Role.MANAGER and not self._manager_ever()

    def _manager_ever(self) -> bool:
        """Whether a manager account ever existed on the device (R-11): one exists now in any
        state (accounts are never deleted), the manager's enrollment code was used, or the
        usage logbook (append-only: triggers refuse UPDATE and DELETE) records a manager made,
        approved or given the role. The logbook keeps it true after a role change, whoever
        made the manager (root makes one without a code: red team 14d)."""
        manager = Role.MANAGER.value
        return self.db.execute(
            "SELECT 1 FROM users WHERE role = ? UNION ALL SELECT 1 FROM enrollment_codes "
            "WHERE role = ? AND used IS NOT NULL UNION ALL SELECT 1 FROM logbook WHERE "
            "book = 'usage' AND ((action IN ('user-add', 'user-approve') AND "
            "json_extract(details, '$.role') = ?) OR (action = 'user-role' AND "
            "(json_extract(details, '$.to') = ? OR json_extract(details, '$.from') = ?))) "
            "LIMIT 1", (manager, manager, manager, manager, manager)).fetchone() is not None

    def _first_of_role(self, role: Role, as_root: bool = False) -> bool:
        """Whether `add` may make an account of `role` now (R-10, R-11): the technisch-beheerder
        while there is no account, then (only after it) the manager while awaits_enrollment
        holds. Root on the device (no code: whoever is root holds the index anyway) may also
        make a manager while none is in force, so that an account awaiting approval is never
        stuck without a manager to approve it; a code never can."""
        if role is Role.TECHNICAL:
            return self.count() == 0
        if role is not Role.MANAGER or self.count() == 0:
            return False
        return self.awaits_enrollment(role) or (as_root and not self._has_manager())

    def _only_manager(self, name: str) -> bool:
        """Whether no manager but `name` is in force (enabled and approved) and sure to stay
        so. A manager holding a reset code that is still good drops out of force whenever the
        code is used, so it does not count: else the technisch beheerder issued a code for each
        of two managers and used both (reviewer B). An expired code is dead for good, so it
        does not keep a manager in force for ever (red team R3): it is ended here, under the
        callers' write lock, so a clock that steps back inside its day cannot revive it (red
        team R4), and reset_password refuses a clock behind a code's issue (red team R2)."""
        now = time.time()
        self.db.execute("UPDATE users SET reset_hash = NULL, reset_expires = NULL, "
                        "reset_issued = NULL WHERE role = ? AND reset_hash IS NOT NULL AND "
                        "coalesce(reset_expires, 0) <= ?", (Role.MANAGER.value, now))
        return self.db.execute("SELECT 1 FROM users WHERE role = ? AND name != ? AND disabled "
                               "IS NULL AND approved IS NOT NULL AND (reset_hash IS NULL OR "
                               "coalesce(reset_expires, 0) <= ?)",
                               (Role.MANAGER.value, name, now)).fetchone() is None

    def _refuse_while_a_manager_resets(self, name: str) -> None:
        """The other managers in force all hold a reset code: say so, naming them, rather
        than "the only manager" (they still are in force, until the code is used)."""
        others = [r[0] for r in self.db.execute(
            "SELECT name FROM users WHERE role = ? AND name != ? AND disabled IS NULL AND "
            "approved IS NOT NULL ORDER BY name", (Role.MANAGER.value, name))]
        if others:
            raise AccountError(_("every other manager-bedrijfsvoering in force (%(others)s) "
                                 "holds a password reset code, and after its use that account "
                                 "awaits a manager's approval: then '%(name)s' would be the "
                                 "only manager who could give it (R-11). The owner ends the "
                                 "code by setting a new password of their own (or uses it, and "
                                 "'%(name)s' approves the account again), or it expires after a "
                                 "day; then try again", name=name,
                                 others=", ".join(others)))

    def _refuse_last_manager(self, user: User) -> None:
        """The only manager in force keeps the role and stays enabled (R-11, art. 2, art. 3
        lid 1): without one nobody approves accounts, and a technisch beheerder alone would
        end the second pair of eyes (red team 14d)."""
        if (user.role is Role.MANAGER and not user.pending and not user.disabled
                and self._only_manager(user.name)):
            self._refuse_while_a_manager_resets(user.name)
            raise AccountError(_("'%(name)s' is the only manager-bedrijfsvoering in force: "
                                 "without one nobody approves accounts (R-11). Make and approve "
                                 "a second manager first (nvr user add NAME --role "
                                 "manager-bedrijfsvoering --user YOU; '%(name)s' approves it). "
                                 "If '%(name)s' is gone: docs/provisioning.md, 'When the only "
                                 "manager is gone'", name=user.name))

    def _has_manager(self) -> bool:
        return self.db.execute("SELECT 1 FROM users WHERE role = ? AND disabled IS NULL AND "
                               "approved IS NOT NULL", (Role.MANAGER.value,)).fetchone() \
            is not None

    def enrollable(self) -> tuple[Role, ...]:
        """The roles whose first account its unused enrollment code can make now (the web's
        first-account page exists only while this is not empty)."""
        unused = self._live_codes(time.time())
        return tuple(r for r in ENROLLED_ROLES if r.value in unused and self._first_of_role(r))

    def _check_enrollment_code(self, role: Role, code: str | None, source: str,
                               now: float) -> str:
        """The stored hash of `role`'s unused code when `code` is it; else EnrollmentRefused.
        A source that gave THROTTLE_AFTER wrong codes waits the login's growing delay first,
        and its code is then not checked (R-81). Refusals go to the usage logbook with the
        source, never the code (R-50)."""
        wait = self._wait(ENROLLING, source, now)
        if wait:
            self.logbook.append("usage", "enrollment-code", "enrollment-throttled", at=now,
                                subject=role.value,
                                details={"source": source, "wait_seconds": round(wait)})
            raise EnrollmentRefused(_("too many wrong enrollment codes from %(source)s: wait "
                                      "%(seconds)s seconds, then type the code again",
                                      source=source, seconds=math.ceil(wait)), wait)
        # A code is good for SETUP_SECONDS, as a setup code (the next boot issues a new one).
        stored = self._live_codes(now).get(role.value)
        if code and stored is not None and _verify(stored, code):
            return stored
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._count_failure(ENROLLING, source, now)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", "enrollment-code", "enrollment-refused", at=now,
                            subject=role.value, details={"source": source})
        raise EnrollmentRefused(_("the first %(role)s can only be made on the device with its "
                                  "one-time enrollment code, and this code is wrong, used or "
                                  "expired (a code is good for %(days)s days from the start of "
                                  "the device that showed it; only the last code shown counts): "
                                  "type it exactly as the screen shows it, or restart the device "
                                  "to see a new code on its screen", role=role.value,
                                  days=SETUP_SECONDS // 86400))

    # --- accounts -----------------------------------------------------------------------

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM users").fetchone()[0]

    @staticmethod
    def _user(row) -> User:
        """A technisch beheerder's account is approved when made; it awaits approval only
        after being re-enabled (enable: four eyes)."""
        role = Role(row["role"])
        return User(row["name"], role, row["disabled"] is not None, row["approved"] is None)

    def _password_set(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM users WHERE name = ? AND password_hash != ?",
                               (name, NO_PASSWORD)).fetchone() is not None

    def get(self, name: str) -> User | None:
        row = self.db.execute("SELECT name, role, disabled, approved FROM users WHERE name = ?",
                              (name,)).fetchone()
        return None if row is None else self._user(row)

    def list(self) -> list[dict]:
        """Every account; `password_set` is False until the owner set a first password with
        the setup code."""
        return [{**dict(r), "password_set": bool(r["password_set"]),
                 "pending": self._user(r).pending} for r in self.db.execute(
            "SELECT name, role, created, created_by, disabled, approved, approved_by, "
            "failures, password_hash != '' AS password_set FROM users ORDER BY name")]

    def pending(self) -> list[dict]:
        """Accounts that await a manager's approval (every role but technisch-beheerder); the
        manager can approve those with `password_set`."""
        return [u for u in self.list() if u["pending"] and u["disabled"] is None]

    def _new_name(self, name: str) -> None:
        if not name or not name.replace(".", "").replace("-", "").isalnum() \
                or not name.isascii() or len(name) > 64:
            raise AccountError(_("a name is letters, digits, '.' and '-' (a personal account, "
                                 "e.g. j.jansen)"))
        if self.get(name) is not None:
            raise AccountError(_("account '%(name)s' exists already (accounts are never reused)",
                                 name=name))

    def create(self, name: str, role: Role, *, by: Actor) -> str:
        """A technisch beheerder makes an account WITHOUT a password and gets its one-time
        setup code (stored as a hash, good for SETUP_SECONDS) to hand to the owner, who sets
        the password with it (reset_password). The technisch beheerder never knows a working
        password; every role but its own then awaits the manager's approval (art. 2, 3.1)."""
        if not decide(by, Action.USERS):
            raise AccountError(_("only a technisch-beheerder may add accounts (R-11)"))
        self._manager_enrols_first(role)
        self._new_name(name)
        now, code = time.time(), _code()
        approved = None if role in APPROVAL_ROLES else now
        self.db.execute("INSERT INTO users (name, role, password_hash, created, created_by, "
                        "approved, approved_by, reset_hash, reset_expires, reset_issued) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (name, role.value, NO_PASSWORD, now, by.name, approved,
                         None if approved is None else by.name, HASHER.hash(code),
                         now + SETUP_SECONDS, now))
        self.logbook.append("usage", by.name, "user-add", subject=name,
                            details={"role": role.value, "awaits_approval": approved is None,
                                     "setup_code": True})
        return code

    def add(self, name: str, role: Role, password: str, *, by: Actor | None = None,
            as_root: bool = False, enrollment_code: str | None = None,
            source: str = "local") -> User:
        """The first technisch beheerder or first manager, on the device (as root or with
        the enrollment code), with the password they choose themselves. `source` is where the
        code came from (the client's address on the web), for the delay on wrong codes."""
        if by is not None:
            raise AccountError(_("a technisch-beheerder never chooses someone's password: create "
                                 "the account without one and hand its one-time setup code to "
                                 "the owner (nvr user add NAME --role ROLE --user YOU)"))
        now = time.time()
        if self.count() == 0 and role is not Role.TECHNICAL:
            raise AccountError(_("the first account must be a technisch-beheerder"))
        if not self._first_of_role(role, as_root):
            raise AccountError(_("only a technisch-beheerder may add accounts (R-11)"))
        # The code first (throttled per source), so nobody learns from the answers which
        # names exist before they hold it; it is used up only once name and password pass.
        code_hash = None if as_root else self._check_enrollment_code(role, enrollment_code,
                                                                     source, now)
        self._new_name(name)
        self._check_password(name, password)
        creator = "root" if as_root else "enrollment-code"
        hashed = HASHER.hash(password)
        # The code used up and the account made in one write transaction: of two at once one
        # wins, and a failed insert leaves the code unused.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if not self._first_of_role(role, as_root):
                raise AccountError(_("only a technisch-beheerder may add accounts (R-11)"))
            if code_hash is not None and self.db.execute(
                    "UPDATE enrollment_codes SET used = ? WHERE role = ? AND code_hash = ? AND "
                    "used IS NULL", (now, role.value, code_hash)).rowcount != 1:
                raise EnrollmentRefused(_("the enrollment code was used a moment ago; nothing "
                                          "was made"))
            self.db.execute("INSERT INTO users (name, role, password_hash, created, created_by, "
                            "approved, approved_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (name, role.value, hashed, now, creator, now, creator))
            if code_hash is not None:
                for key, _after in _throttle_keys(ENROLLING, source):
                    self.db.execute("DELETE FROM login_throttle WHERE name = ? AND source = ?",
                                    (ENROLLING, key))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        where = {} if code_hash is None else {"source": source}     # the code's address
        self.logbook.append("usage", creator, "user-add", subject=name,
                            details={"role": role.value, "awaits_approval": False, **where})
        return User(name, role, False, False)

    def approve(self, name: str, *, role: Role, by: Actor) -> None:
        """The manager bedrijfsvoering puts an account (any role but technisch-beheerder) into
        force (art. 2, art. 3.1): the second pair of eyes after the technisch beheerder. `role`
        is the role the manager saw; if the account has another one now, nothing is approved.
        Only an account whose owner has set its password (with the setup or reset code) is
        approved, so the owner can be present and the technisch beheerder holds nothing."""
        if by.role is not Role.MANAGER or by.disabled or by.visit is not None:
            raise AccountError(_("only a manager-bedrijfsvoering approves accounts (art. 2, "
                                 "art. 3.1); never a technisch-beheerder"))
        if by.name == name:
            raise AccountError(_("nobody approves their own account: ask another manager"))
        user = self.get(name)
        if user is None or not user.pending or user.disabled:
            raise AccountError(_("account '%(name)s' does not await approval", name=name))
        if user.role is not role:
            raise AccountError(_("account '%(name)s' now has the role %(role)s, not the %(seen)s "
                                 "you saw: nothing approved; look at it again", name=name,
                                 role=user.role.value, seen=role.value))
        if not self._password_set(name):
            raise AccountError(_("the owner of '%(name)s' has not set a password yet (password not "
                                 "set): they set it with the setup code from the technisch-"
                                 "beheerder; approve with the owner present after that",
                                 name=name))
        if not self.db.execute("UPDATE users SET approved = ?, approved_by = ? WHERE name = ? "
                               "AND approved IS NULL AND role = ? AND password_hash != ''",
                               (time.time(), by.name, name, role.value)).rowcount:
            raise AccountError(_("account '%(name)s' does not await approval as %(role)s",
                                 name=name, role=role.value))
        self.logbook.append("usage", by.name, "user-approve", subject=name,
                            details={"role": user.role.value, "old": {"status": user.status},
                                     "new": {"status": self.get(name).status}})

    def set_role(self, name: str, role: Role, *, by: Actor) -> None:
        """A new role for an account: its sessions and delegations end (R-12), and every role
        but technisch-beheerder awaits a manager's approval again (art. 2, art. 3.1)."""
        if not decide(by, Action.USERS):
            raise AccountError(_("only a technisch-beheerder may change roles (R-11)"))
        user = self.get(name)
        if user is None:
            raise AccountError(_("there is no account '%(name)s'", name=name))
        if role is user.role:      # the form's select shows the current role: no harm by one
            from firmware.governance.wording import ROLES     # click (issue 11 item 4)
            raise AccountError(_("account '%(name)s' has the role %(role)s already: nothing "
                                 "changed (choose another role)", name=name,
                                 role=ROLES.said(role.value, role.value)))
        self._manager_enrols_first(role)
        now = time.time()
        # The checks and the change in one write transaction, as in disable(): two technisch
        # beheerders (two web threads, the web and the CLI) who each change one of two
        # managers must not both pass "not the only manager" (reviewer B).
        self.db.execute("BEGIN IMMEDIATE")
        try:
            user = self.get(name)
            self._refuse_last_manager(user)
            if role is not Role.TECHNICAL and self._last_technical(name):
                raise AccountError(_("'%(name)s' is the last technisch beheerder in force: "
                                     "without one nobody can manage accounts; first make a "
                                     "second technisch beheerder whose owner has set a "
                                     "password (R-10)", name=name))
            # An account awaiting approval (new, reset, or proposed for enabling again) keeps
            # waiting for the manager whatever its new role: a role change is no side door
            # past the four eyes of enable() (issue 11 item 4).
            approved = None if role in APPROVAL_ROLES or user.pending else now
            self.db.execute("UPDATE users SET role = ?, approved = ?, approved_by = ?, "
                            "session_gen = session_gen + 1 WHERE name = ?",
                            (role.value, approved, None if approved is None else by.name, name))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", by.name, "user-role", subject=name,
                            details={"from": user.role.value, "to": role.value,
                                     "awaits_approval": approved is None,
                                     "old": {"role": user.role.value, "status": user.status},
                                     "new": {"role": role.value,
                                             "status": self.get(name).status}})
        self._end_delegations(name, by.name, now, "role-change")

    def _manager_enrols_first(self, role: Role) -> None:
        """While the first manager is still to enrol with their code, a technisch beheerder
        makes no manager account another way (create, set_role): it would await an approval
        nobody can give, and, being a manager account, end the manager's code (R-11)."""
        if role is Role.MANAGER and self.awaits_enrollment(Role.MANAGER):
            raise AccountError(_("the first manager-bedrijfsvoering makes their own account "
                                 "with the enrollment code the device's screen shows (web page "
                                 "/eerste-account); manager accounts are made this way only "
                                 "after that (R-11). No code on the screen, or expired: "
                                 "restart the device to see a new one"))

    def _end_delegations(self, name: str, by: str, now: float, why: str) -> None:
        ended = delegation.end_delegations(self.db, name, now)
        if ended:
            self.logbook.append("usage", by, "delegations-ended", subject=name,
                                details={"count": ended, "because": why})

    def _last_technical(self, name: str) -> bool:
        """Whether `name` is the only technisch beheerder in force (approved, enabled, with a
        password): nobody else could then manage accounts or the configuration (R-10)."""
        user = self.get(name)
        if user is None or user.role is not Role.TECHNICAL or user.disabled or user.pending:
            return False
        return self.db.execute(
            "SELECT 1 FROM users WHERE role = ? AND name != ? AND disabled IS NULL AND "
            "approved IS NOT NULL AND password_hash != ?",
            (Role.TECHNICAL.value, name, NO_PASSWORD)).fetchone() is None

    def disable(self, name: str, *, by: Actor, reason: str, as_root: bool = False) -> None:
        """Take an account out of force, with the reason the logbook records (issue 11 item
        4); its sessions end. The last technisch beheerder in force is never disabled, by
        themselves or anyone: make and hand over a second one first (R-10). Nor is the only
        manager in force (R-11), except by root on the device (`as_root`: a real root shell,
        physical access; `sudo nvr-admin` runs nvr as a service user), the first step of
        docs/provisioning.md 'When the only manager is gone'."""
        if not decide(by, Action.USERS):
            raise AccountError(_("only a technisch-beheerder may disable accounts (R-11)"))
        user = self.get(name)
        if user is None:
            raise AccountError(_("there is no account '%(name)s'", name=name))
        if user.disabled:
            raise AccountError(_("account '%(name)s' is already disabled", name=name))
        reason = undo_reason(reason, AccountError, _("Disabling an account (R-10)"))
        # The check and the change in one write transaction: two technisch beheerders who
        # disable each other at the same moment must not both pass "not the last one", and a
        # second tab confirming again finds the account disabled already.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.get(name).disabled:
                raise AccountError(_("account '%(name)s' is already disabled", name=name))
            if not as_root:
                self._refuse_last_manager(self.get(name))
            if self._last_technical(name):
                raise AccountError(_("'%(name)s' is the last technisch beheerder in force: "
                                     "without one nobody can manage accounts; first make a "
                                     "second technisch beheerder whose owner has set a "
                                     "password (R-10)", name=name))
            self.db.execute("UPDATE users SET disabled = ?, session_gen = session_gen + 1 "
                            "WHERE name = ?", (time.time(), name))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", by.name, "user-disable", subject=name, reason=reason,
                            details={"old": {"status": user.status},
                                     "new": {"status": self.get(name).status}})

    def enable(self, name: str, *, by: Actor, reason: str) -> None:
        """A disabled account proposed for use again by a technisch beheerder; it comes into
        force only when a manager bedrijfsvoering approves it (approve: the same four eyes as a
        new account, art. 2, art. 3.1), whatever its role. Its password stays; its delegations
        ended when it was disabled stay ended (R-12)."""
        if not decide(by, Action.USERS):
            raise AccountError(_("only a technisch beheerder proposes to enable an account "
                                 "again; a manager bedrijfsvoering then approves it (R-11)"))
        user = self.get(name)
        if user is None:
            raise AccountError(_("there is no account '%(name)s'", name=name))
        if not user.disabled:
            raise AccountError(_("account '%(name)s' is not disabled", name=name))
        reason = undo_reason(reason, AccountError, _("Enabling an account again (R-10)"))
        if not self.db.execute("UPDATE users SET disabled = NULL, approved = NULL, "
                               "approved_by = NULL, session_gen = session_gen + 1 "
                               "WHERE name = ? AND disabled IS NOT NULL", (name,)).rowcount:
            # a second tab (or a second technisch beheerder) proposed it a moment ago
            raise AccountError(_("account '%(name)s' is not disabled", name=name))
        self.logbook.append("usage", by.name, "user-enable", subject=name, reason=reason,
                            details={"role": user.role.value, "awaits_approval": True,
                                     "old": {"status": user.status},
                                     "new": {"status": self.get(name).status}})

    def set_password(self, name: str, new: str, *, by: Actor) -> None:
        """One's own new password; every session of the account ends."""
        if by.name != name:
            raise AccountError(_("you may change only your own password; a technisch-beheerder "
                                 "issues a one-time reset code to the account's owner instead"))
        self._check_password(name, new)
        # A reset code waiting for the owner is not needed any more, and ends: it would keep
        # the only-manager rule from counting them (_only_manager, red team R2).
        self.db.execute("UPDATE users SET password_hash = ?, failures = 0, reset_hash = NULL, "
                        "reset_expires = NULL, reset_issued = NULL, session_gen = session_gen + 1 "
                        "WHERE name = ?",
                        (HASHER.hash(new), name))
        self.logbook.append("usage", by.name, "user-passwd", subject=name)

    # --- password reset by one-time code ---------------------------------------------------

    def issue_reset_code(self, name: str, *, by: Actor) -> str:
        """A technisch beheerder's reset: a one-time code for the owner, good for a day. The
        password stays as it is until the owner sets a new one with the code."""
        if not decide(by, Action.USERS):
            raise AccountError(_("only a technisch-beheerder issues password reset codes (R-11)"))
        user = self.get(name)
        if user is None or user.disabled:
            raise AccountError(_("there is no active account '%(name)s'", name=name))
        code = _code()
        first = not self._password_set(name)
        digest = HASHER.hash(code)               # outside the write lock: Argon2id is slow
        self.db.execute("BEGIN IMMEDIATE")       # two codes at once: one sees the other's
        try:
            user = self.get(name)
            if user.role is Role.MANAGER and not user.pending and self._only_manager(name):
                self._refuse_while_a_manager_resets(name)
                raise AccountError(_(
                    "'%(name)s' is the only manager-bedrijfsvoering in force: after a reset the "
                    "account awaits a manager's approval, and no other manager could give it "
                    "(R-11). First make a second manager (nvr user add NAME --role "
                    "manager-bedrijfsvoering --user YOU) and have '%(name)s' approve it; then "
                    "issue the reset code. If '%(name)s' cannot log in at all: "
                    "docs/provisioning.md, 'When the only manager is gone'", name=name))
            issued = time.time()
            self.db.execute("UPDATE users SET reset_hash = ?, reset_expires = ?, reset_issued = ? "
                            "WHERE name = ?", (digest, issued + (SETUP_SECONDS if first
                                                                else RESET_SECONDS), issued, name))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", by.name, "user-reset-code", subject=name)
        return code

    def reset_password(self, name: str, code: str, new: str, now: float | None = None) -> User:
        """The owner sets a new password with the reset code, or the first one with the setup
        code (the same path). Every session and delegation of
        the account ends (R-12), and every account but a technisch-beheerder's awaits a
        manager's approval again: whoever held the code (the technisch beheerder issued it),
        nobody sees footage or the Inzien logbook on it without a second pair of eyes."""
        now = time.time() if now is None else now
        row = self.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        stored = row["reset_hash"] if row is not None else None
        fresh = row is not None and (row["reset_expires"] or 0) > now and (
            row["reset_issued"] is None or row["reset_issued"] <= time.time())
        if not (_verify(stored, code) and fresh and row["disabled"] is None):
            raise AccountError(_("the reset code is wrong, used or expired; ask the "
                                 "technisch-beheerder for a new one"))
        self._check_password(name, new)
        again = Role(row["role"]) in APPROVAL_ROLES
        hashed = HASHER.hash(new)
        # Fresh still when it is used, on the clock of that moment: the Argon2 work above
        # takes a while, and a code that expired meanwhile no longer keeps the only-manager
        # rule from counting this account (_only_manager, red team R2). And never on a clock
        # behind the code's issue: a boot before NTP would bring expired codes back.
        at = time.time()
        if not self.db.execute(
                "UPDATE users SET password_hash = ?, reset_hash = NULL, reset_expires = NULL, "
                "reset_issued = NULL, failures = 0, session_gen = session_gen + 1, "
                "approved = CASE WHEN ? THEN NULL ELSE approved END, "
                "approved_by = CASE WHEN ? THEN NULL ELSE approved_by END "
                "WHERE name = ? AND reset_hash = ? AND reset_expires > ? AND "
                "(reset_issued IS NULL OR reset_issued <= ?)",
                (hashed, again, again, name, stored, max(now, at), at)).rowcount:
            raise AccountError(_("the reset code is wrong, used or expired; ask the "
                                 "technisch-beheerder for a new one"))
        before = self._user(row)
        self.logbook.append("usage", name, "user-reset", subject=name,
                            details={"awaits_approval": again,
                                     "first_password": row["password_hash"] == NO_PASSWORD,
                                     "old": {"status": before.status},
                                     "new": {"status": self.get(name).status}})
        self._end_delegations(name, name, now, "password-reset")
        return self.get(name)

    # --- second factor ------------------------------------------------------------------

    def enable_totp(self, name: str, *, by: Actor, password: str, code: str | None = None,
                    now: float | None = None) -> str:
        """Turn on (or register anew) the second factor of one's own account; returns the
        secret to scan. Needs the password, and once a second factor exists its current code:
        a stolen session alone cannot move the second factor to another phone."""
        if by.name != name:
            raise AccountError(_("a second factor is set up by the account's own user"))
        now = time.time() if now is None else now
        row = self.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        if row is None or not _verify(row["password_hash"], password):
            if row is not None:
                self._failed(name, row is not None, now, "totp-setup")
            raise AccountError(_("the password is wrong: setting up the second factor needs "
                                 "your password"))
        if row["totp_secret"]:
            if not self._use_code(name, row, code, now):
                raise AccountError(_("this account has a second factor already: give its current "
                                     "code to register a new one"))
        secret = totp.new_secret()
        self.db.execute("UPDATE users SET totp_secret = ?, totp_last = -1 WHERE name = ?",
                        (self._seal(name, secret), name))
        self.logbook.append("usage", name, "totp-enabled",
                            details={"replaced": bool(row["totp_secret"])})
        return secret

    def _use_code(self, name: str, row, code: str | None, now: float) -> bool:
        """Check the TOTP code and record it as used, atomically: of parallel attempts with
        one code exactly one wins (the conditional UPDATE's row count says which)."""
        try:
            secret = self._open(name, row["totp_secret"])
        except KeyProblem as exc:
            raise AuthError(_("the second factor of '%(name)s' cannot be checked: %(problem)s. "
                              "Restore the device's master key (docs/storage.md).",
                              name=name, problem=exc)) from None
        counter = totp.match(secret, code or "", now, after=row["totp_last"])
        if counter is None:
            return False
        stored = row["totp_secret"]
        if not stored.startswith(WRAPPED):      # seal a secret from before sealing
            stored = self._seal(name, secret)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            won = self.db.execute("UPDATE users SET totp_last = ?, totp_secret = ? WHERE name = ? "
                                  "AND totp_last < ?", (counter, stored, name, counter)).rowcount
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return won == 1

    # --- login --------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, now: float | None = None,
                     code: str | None = None, source: str = "local") -> User:
        """The user, or AuthError(WRONG). Every refusal (unknown name, wrong password, missing
        or wrong second-factor code, `source` must wait, account disabled or awaiting
        approval) gets the same message after the same Argon2 work and counts as a failure, so
        no answer tells whether the password was right; the reason goes to the logbook. An
        account with a second factor also needs the current TOTP code, each code once."""
        now = time.time() if now is None else now
        name = name if isinstance(name, str) else ""
        row = self.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        good = _verify(row["password_hash"] if row else None, password)
        wait = self._wait(name, source, now)
        reason = None
        if wait:
            reason = "throttled"
            self.logbook.append("usage", name, "login-throttled", at=now,
                                details={"source": source, "wait_seconds": round(wait)})
        elif not good:
            reason = "password"
        elif row["disabled"] is not None:
            reason = "disabled"
        elif self._user(row).pending:
            reason = "pending"
        elif row["totp_secret"] and not self._use_code(name, row, code, now):
            reason = "second-factor"
        if reason:
            self._failed(name, row is not None, now, source, reason,
                         wide=reason != "throttled")
            raise AuthError(_(WRONG))
        self.db.execute("UPDATE users SET failures = 0 WHERE name = ?", (name,))
        # The owner's good login forgets its own address's failures, not the /64's: else a
        # host walking the /64 got its twenty guesses anew after each of the owner's logins.
        exact = _throttle_keys(name, source)[0][0]
        self.db.execute("DELETE FROM login_throttle WHERE name = ? AND source = ?", (name, exact))
        self.logbook.append("usage", name, "login", at=now, details={"source": source})
        return self._user(row)

    def _wait(self, name: str, source: str, now: float) -> float:
        """Seconds `source` must still wait before trying `name` again (0: none)."""
        wait = 0.0
        for key, after in _throttle_keys(name, source):
            row = self.db.execute("SELECT failures, last FROM login_throttle WHERE name = ? AND "
                                  "source = ?", (name, key)).fetchone()
            if row is None or row["failures"] < after:
                continue
            delay = min(THROTTLE_BASE * 2 ** (row["failures"] - after), THROTTLE_MAX)
            wait = max(wait, row["last"] + delay - now)
        return wait

    def _failed(self, name: str, known: bool, now: float, source: str,
                reason: str = "password", wide: bool = True) -> None:
        """Count one failure for the account and for (source, name), atomically: eight
        parallel failures count eight. `wide=False`: not on the /64 (a try refused while its
        address waits was no guess; counted there, one colleague's address alone brought the
        whole office /64 to its limit, red team R4)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._count_failure(name, source, now, wide)
            if known and self.db.execute("UPDATE users SET failures = failures + 1 WHERE "
                                         "name = ?", (name,)).rowcount != 1:
                raise AuthError(_(WRONG))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.logbook.append("usage", name, "login-failed", at=now,
                            details={"known": known, "source": source, "reason": reason})

    def _count_failure(self, name: str, source: str, now: float, wide: bool = True) -> None:
        """One more failure of `source` on `name` (inside the caller's transaction); a day
        without failures forgets them. `wide=False`: its exact address only."""
        for key, _after in _throttle_keys(name, source)[:None if wide else 1]:
            self.db.execute("INSERT INTO login_throttle (name, source, failures, last) "
                            "VALUES (?, ?, 1, ?) ON CONFLICT (name, source) DO UPDATE SET "
                            "failures = failures + 1, last = excluded.last", (name, key, now))
        self.db.execute("DELETE FROM login_throttle WHERE last < ?", (now - 86400,))
