"""Login and logout (R-10, R-81): personal accounts, optional TOTP, rate limited, fresh session.

The JSON API logs in the same way: GET /api/session gives the CSRF token, POST /api/login
sets the session cookie; later calls send the cookie and the token (X-CSRF-Token).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from firmware.governance.accounts import AuthError
from firmware.web.routes import (PUBLIC, current_actor, fields, gov, is_api, new_session, nvr,
                                 rule, text)

bp = Blueprint("auth", __name__)

WINDOW = 60.0
PER_WINDOW = 10                        # failed logins per client address per minute


def _failures(address: str, now: float) -> deque:
    """Recent failed logins from one address (per app, in memory)."""
    table = nvr().setdefault("login_failures", defaultdict(deque))
    recent = table[address]
    while recent and recent[0] < now - WINDOW:
        recent.popleft()
    return recent


def _refuse(message: str, status: int):
    if is_api():
        return {"error": message}, status
    return render_template("login.html", error=message), status


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/api/login", methods=["POST"], endpoint="api_login")
@rule(PUBLIC)
def login():
    if request.method != "POST":
        return render_template("login.html", error=None)
    now = time.time()
    failures = _failures(request.remote_addr or "?", now)
    if len(failures) >= PER_WINDOW:
        return _refuse("Te veel mislukte pogingen; wacht een minuut.", 429)
    f = fields()
    try:
        user = gov().accounts.authenticate(text(f, "name", required=False),
                                           text(f, "password", required=False),
                                           code=text(f, "code", required=False) or None)
    except AuthError as exc:
        failures.append(now)
        return _refuse(str(exc), 401 if is_api() else 200)
    csrf = new_session(user=user.name)
    if is_api():
        return {"user": user.name, "role": user.role.value, "csrf": csrf}
    target = request.args.get("next", "/")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


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
    if g.actor.visit is not None:
        gov().logbook.append("inzien", g.actor.name, "visit-session-ended",
                             subject=f"visit {g.actor.visit.visit_id}")
    session.clear()
    if is_api():
        return {"user": None}
    return redirect(url_for("auth.login"))
