"""Login, logout and the password reset by one-time code (R-10, R-81): personal accounts,
optional TOTP, rate limited, a fresh session kept on the server.

The JSON API logs in the same way: GET /api/session gives the CSRF token, POST /api/login
sets the session cookie; later calls send the cookie and the token (X-CSRF-Token).

Failed logins are limited per client address by Flask-Limiter (in memory: there is one web
process); governance adds its own delay per source and account name, for the CLI too.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from firmware.governance.accounts import AccountError, AuthError
from firmware.web.routes import (PUBLIC, current_actor, fields, forget_session, gov, is_api,
                                 new_session, rule, text)

bp = Blueprint("auth", __name__)

PER_MINUTE = 10                        # failed logins (or reset attempts) per address
LIMITED = ("auth.login", "auth.api_login", "auth.reset", "auth.api_reset")
# A path on this device, nothing a browser could read as another host (no "//", "\", tabs,
# spaces or line breaks, no scheme): where a login may send the user back to.
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9._~/-]*")


def limit_logins(app: Flask) -> None:
    """Answer 429 after PER_MINUTE failed attempts per address and minute; only failures
    count (`g.failed`)."""
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                      default_limits=[], headers_enabled=False)
    limit = limiter.limit(f"{PER_MINUTE} per minute", deduct_when=lambda _: g.get("failed",
                                                                                   False),
                          error_message="Te veel mislukte pogingen; wacht een minuut.")
    for endpoint in LIMITED:
        app.view_functions[endpoint] = limit(app.view_functions[endpoint])


def local_target(target: str | None) -> str:
    """`target` if it is a plain path on this device, else the start page."""
    if isinstance(target, str) and _LOCAL_PATH.fullmatch(target) and "//" not in target:
        return target
    return "/"


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
    except AuthError as exc:
        return _refuse("login.html", str(exc), 401 if is_api() else 200)
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
