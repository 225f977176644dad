"""The first accounts of a new device by enrollment code (issue 14 item 2; R-10, R-81).

A new device shows two one-time codes on its screen: one for the first technisch beheerder,
one for the first manager bedrijfsvoering (after the technisch beheerder). SSH is off and
nobody logs in on the console, so each makes their account here, without logging in, and
chooses their own password. Whether a role may still enrol, the code, the password policy and
the logbook are governance's (`Accounts.enrollable`, `Accounts.add`); this page only asks.
Once no role can enrol any more the page answers 404 and checks nothing.

Wrong codes are limited here as the login is (auth.limit_logins), and more strictly: each
attempt takes its place in the window before the code is checked and gives it back unless the
code was wrong; PER_ADDRESS per address (an IPv6 /64 counts as one address) per minute (in
memory: one web process). Governance adds the login's growing delay per address, kept in the
index, so a restarted web process does not start that count again. There is no window for all
addresses together: strangers' wrong codes must not lock out the holder of the right one (red
team 14b); the 72-bit code, good for three days, needs none (docs/web.md counts it).
"""

from __future__ import annotations

import math
import time
from zoneinfo import ZoneInfo

from flask import (Blueprint, Flask, abort, current_app, flash, redirect, render_template,
                   request, url_for)
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from firmware.governance.accounts import (SETUP_SECONDS, AccountError, EnrollmentRefused,
                                          throttle_source)
from firmware.governance.bounds import when
from firmware.governance.roles import Role
from firmware.governance.wording import ROLES
from firmware.i18n import _
from firmware.web.routes import PUBLIC, InputError, gov, nvr, rule, text

bp = Blueprint("enrollment", __name__)

PER_ADDRESS = 5          # wrong codes per address per minute (the login allows 10)
ALL_ADDRESSES = 20       # no longer a limit: the number the tests send from four addresses
PAGE = "enrollment.html"


class _Limits:
    """The window of wrong codes per address, counted before the check (a burst in parallel
    gets no more checks than the limit) and given back when the code was not what failed."""

    def __init__(self):
        self.storage = MemoryStorage()
        self.window = FixedWindowRateLimiter(self.storage)
        self.address = RateLimitItemPerMinute(PER_ADDRESS)

    @staticmethod
    def _key(address: str) -> str:
        """An IPv4 address, or the /64 of an IPv6 one: as governance counts (one place)."""
        return throttle_source(address)

    def take(self, address: str) -> float | None:
        """Take a place in the window; None, or when it opens again."""
        key = self._key(address)
        if not self.window.hit(self.address, "enrol", key):
            return self.window.get_window_stats(self.address, "enrol", key).reset_time
        return None

    def give_back(self, address: str) -> None:
        self.storage.decr(self.address.key_for("enrol", self._key(address)))


def register(app: Flask) -> None:
    """The page and its limits, one set per app (one web process)."""
    app.register_blueprint(bp)
    app.extensions["nvr-enrollment-limits"] = _Limits()


@bp.app_context_processor
def _link():
    """`no_account_yet()` for the login page's link here: shown only while the device has no
    account at all (asked only where a template calls it)."""
    return {"no_account_yet": lambda: gov().accounts.count() == 0}


def _locked(until: float) -> str:
    """In the device's time zone with the zone named, rounded up to the minute (auth's way)."""
    tz = ZoneInfo(nvr()["cfg"].device.timezone)
    return _("Too many wrong enrollment codes: the next code is checked from %(time)s. Wait "
             "until then and type the code again exactly as the device shows it.",
             time=when(math.ceil(until / 60) * 60, tz, "%H:%M (%Z)"))


def _not_now(role: Role, roles: tuple[Role, ...]) -> str:
    if role is Role.MANAGER and Role.TECHNICAL in roles:
        return _("First the technisch beheerder makes an account with their own code; the "
                 "manager bedrijfsvoering's code works after that. Keep your code until then.")
    return _("Here only the first %(roles)s can be made now; an account of another role is "
             "made by the technisch beheerder on the page Users.",
             roles=", ".join(ROLES[r.value] for r in roles))


def _closed(awaiting: tuple[Role, ...]) -> str:
    """Why the page is closed: the first accounts exist, or a role still awaits its first
    account but no code of it is good now (expired, or none shown): never the one for the
    other (red team 14c)."""
    if not awaiting:
        return _("This device is set up already: its first accounts exist. Log in; new "
                 "accounts are made by the technisch beheerder on the page Users.")
    return _("No enrollment code is valid now for the first %(roles)s: a code is good for "
             "%(days)s days from the start of the device that showed it, and only the last "
             "code shown counts. Restart the device: its screen then shows a new code.",
             roles=", ".join(ROLES[r.value] for r in awaiting), days=SETUP_SECONDS // 86400)


def _page(roles: tuple[Role, ...], status: int = 200, error: str | None = None, name: str = ""):
    shown = [(role.value, ROLES[role.value]) for role in roles]
    return render_template(PAGE, roles=shown, error=error, name=name,
                           manager=ROLES[Role.MANAGER.value],
                           technical=ROLES[Role.TECHNICAL.value]), status


@bp.route("/eerste-account", methods=["GET", "POST"])
@rule(PUBLIC)
def first_account():
    roles = gov().accounts.enrollable()
    if not roles:                       # nothing to enrol now: say the true reason
        abort(404, _closed(gov().accounts.awaiting()))
    if request.method != "POST":
        return _page(roles)
    return _enrol(roles)


def _enrol(roles: tuple[Role, ...]):
    """The form sent: the role's turn and the two passwords are checked here without touching
    the code; the rest is Accounts.add's, inside the windows of wrong codes."""
    f = request.form
    name = text(f, "name", required=False)
    try:
        role = Role(text(f, "role", required=False))
    except ValueError:
        raise InputError(_("choose the role of your enrollment code")) from None
    if role not in roles:               # governance says whose turn it is; no code tried
        return _page(roles, 400, _not_now(role, roles), name)
    code, password = f.get("code", ""), f.get("password", "")
    if not isinstance(code, str) or not code.strip():
        return _page(roles, 400, _("Type the enrollment code the device shows."), name)
    if password != f.get("password2", ""):
        return _page(roles, 400, _("The two passwords differ; type the same password twice."),
                     name)
    address = request.remote_addr or "?"
    limits = current_app.extensions["nvr-enrollment-limits"]
    until = limits.take(address)
    if until is not None:
        return _page(roles, 429, _locked(until), name)
    try:
        user = gov().accounts.add(name, role, password, enrollment_code=code.strip(),
                                  source=address)
    except EnrollmentRefused as exc:
        if exc.wait:     # governance's delay for this address: nothing checked, still counted
            return _page(roles, 429, _locked(time.time() + exc.wait), name)
        return _page(roles, 400, _("The enrollment code is wrong or has been used already. "
                                   "Type the code of your role exactly as the device shows it "
                                   "(three groups of six characters)."), name)
    except AccountError as exc:         # the role's turn, the name, the password policy
        limits.give_back(address)
        return _page(roles, 400, str(exc), name)
    limits.give_back(address)
    flash(_("The account %(name)s is made. Log in with it.", name=user.name))
    return redirect(url_for("auth.login"))
