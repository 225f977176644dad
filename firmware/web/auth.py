"""Login and logout (R-10, R-81): personal accounts, optional TOTP, rate limited, fresh session."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from flask import Blueprint, redirect, render_template, request, session, url_for

from firmware.governance.accounts import AuthError
from firmware.web.routes import PUBLIC, nvr, rule

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


@bp.route("/login", methods=["GET", "POST"])
@rule(PUBLIC)
def login():
    error = None
    if request.method == "POST":
        now = time.time()
        failures = _failures(request.remote_addr or "?", now)
        if len(failures) >= PER_WINDOW:
            return render_template("login.html", error="Te veel mislukte pogingen; wacht een "
                                                       "minuut."), 429
        name = request.form.get("name", "")
        try:
            user = nvr()["gov"].accounts.authenticate(name, request.form.get("password", ""),
                                                      code=request.form.get("code") or None)
        except AuthError as exc:
            failures.append(now)
            error = str(exc)
        else:
            csrf = session.get("csrf")
            session.clear()                          # no session fixation
            session.update(user=user.name, since=now, seen=now, csrf=csrf)
            target = request.args.get("next", "/")
            return redirect(target if target.startswith("/") and not
                            target.startswith("//") else "/")
    return render_template("login.html", error=error)


@bp.route("/logout", methods=["POST"])
@rule("login")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
