"""Login, logout and the password reset by one-time code (R-10, R-81): personal accounts,
optional TOTP, rate limited, a fresh session kept on the server.

The JSON API logs in the same way: GET /api/session gives the CSRF token, POST /api/login
sets the session cookie; later calls send the cookie and the token (X-CSRF-Token).

Login and reset attempts are limited per client address with the `limits` library (the one
Flask-Limiter is built on; in memory: there is one web process). The attempt is counted BEFORE
the password is checked and given back when it succeeds, so even a burst of parallel requests
gets at most PER_MINUTE failed checks per address and minute; Flask-Limiter's decorator can
only count a failure after the response, which let bursts through. Governance adds its own
delay per source and account name, for the CLI too.

Every refused login gets one answer (governance.accounts.WRONG, here in Dutch): the real reason
is in the logbook, and the technisch beheerder sees an account's state on /users. When the
address is locked out, the answer says until when, in the device's time zone with the zone.
"""

from __future__ import annotations

import functools
import math
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from firmware.governance.accounts import AccountError, AuthError
from firmware.governance.bounds import when
from firmware.i18n import _, lazy_gettext
from firmware.web.routes import (PUBLIC, current_actor, fields, forget_session, gov, is_api,
                                 local_target, new_session, nvr, rule, text)

bp = Blueprint("auth", __name__)

PER_MINUTE = 10                        # failed logins (or reset attempts) per address
LIMITED = ("auth.login", "auth.api_login", "auth.reset", "auth.api_reset")
REFUSED = lazy_gettext("Login failed: name, password or code (second factor) wrong, or the "
                       "account is not (yet) in use. If it keeps failing, ask the technisch "
                       "beheerder, who sees the state of your account.")


def locked_until(reset_time: float) -> str:
    """The lockout's message: until when, in the device's time zone with the zone named
    ('tot 14:05 (CET)'), never in UTC; rounded up to the minute, so the lock has ended then."""
    tz = ZoneInfo(nvr()["cfg"].device.timezone)
    reset_time = math.ceil(reset_time / 60) * 60
    return _("Too many failed attempts from this address: logging in is locked until "
             "%(time)s. Wait until then, or ask the technisch beheerder.",
             time=when(reset_time, tz, "%H:%M (%Z)"))


def limit_logins(app: Flask) -> None:
    """Answer 429 once PER_MINUTE attempts from an address failed within the minute. Each
    POST takes its place in the window atomically before the view runs (the storage counts
    under a lock) and gives it back unless a check failed (`g.failed`, set by `_refuse`)."""
    storage = MemoryStorage()
    window, item = FixedWindowRateLimiter(storage), RateLimitItemPerMinute(PER_MINUTE)

    def guard(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if request.method != "POST":
                return view(*args, **kwargs)
            address = request.remote_addr or "?"
            if not window.hit(item, "login", address):
                stats = window.get_window_stats(item, "login", address)
                raise TooManyRequests(locked_until(stats.reset_time))
            try:
                return view(*args, **kwargs)
            finally:        # a success, or input refused before any check, costs nothing
                if not g.get("failed", False):
                    storage.decr(item.key_for("login", address))
        return guarded

    for endpoint in LIMITED:
        app.view_functions[endpoint] = guard(app.view_functions[endpoint])


def _refuse(template: str, message: str, status: int):
    g.failed = True
    if is_api():
        return {"error": message}, status
    return render_template(template, error=message), status


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/api/login", methods=["POST"], endpoint="api_login")
@rule(PUBLIC)
def login():
    if request.method != "POST":
        return render_template("login.html", error=None)
    f = fields()
    try:
        user = gov().accounts.authenticate(text(f, "name", required=False),
                                           text(f, "password", required=False),
                                           code=text(f, "code", required=False) or None,
                                           source=request.remote_addr or "?")
    except AuthError:                   # one answer for every refusal
        return _refuse("login.html", str(REFUSED), 401 if is_api() else 200)
    csrf = new_session(user=user.name)
    if is_api():
        return {"user": user.name, "role": user.role.value, "csrf": csrf}
    return redirect(local_target(request.args.get("next")))


@bp.route("/api/session")
@rule(PUBLIC)
def whoami():
    """Who is logged in (if anyone) and the CSRF token for the next POST."""
    actor = current_actor()
    return {"user": actor.name if actor else None,
            "role": actor.role.value if actor and actor.role else None,
            "visit": actor.visit.visit_id if actor and actor.visit else None,
            "csrf": session["csrf"]}


@bp.route("/logout", methods=["POST"])
@bp.route("/api/logout", methods=["POST"], endpoint="api_logout")
@rule("login")
def logout():
    """The session ends on the server: a copy of the cookie is worth nothing after (R-81)."""
    if g.actor.visit is not None:
        gov().logbook.append("inzien", g.actor.name, "visit-session-ended",
                             subject=f"visit {g.actor.visit.visit_id}")
    else:
        gov().logbook.append("usage", g.actor.name, "logout")
    gov().sessions.end(session.get("sid", ""), "logout")
    forget_session()
    if is_api():
        return {"user": None}
    return redirect(url_for("auth.login"))


@bp.route("/reset", methods=["GET", "POST"])
@bp.route("/api/reset", methods=["POST"], endpoint="api_reset")
@rule(PUBLIC)
def reset():
    """The owner of an account sets a new password with the one-time code a technisch
    beheerder issued (governance.accounts.reset_password)."""
    if request.method != "POST":
        return render_template("reset.html", error=None, done=None)
    f = fields()
    try:
        user = gov().accounts.reset_password(text(f, "name", required=False),
                                             text(f, "code", required=False),
                                             text(f, "password", required=False))
    except AccountError as exc:
        return _refuse("reset.html", str(exc), 400)
    if is_api():
        return {"name": user.name, "awaits_approval": user.pending}
    return render_template("reset.html", error=None, done=user)
