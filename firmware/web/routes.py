"""Who may reach a route. Every view is wrapped by `rule`, which the URL-map test checks."""

from __future__ import annotations

import functools

from flask import current_app, g, redirect, request, session, url_for

from firmware.governance.roles import Action, Actor, Role, decide

PUBLIC = "public"


def nvr():
    return current_app.extensions["nvr"]


def current_actor() -> Actor | None:
    name = session.get("user")
    if not name:
        return None
    user = nvr()["gov"].accounts.get(name)
    if user is None or user.disabled:
        session.clear()
        return None
    return nvr()["gov"].grants.with_delegations(Actor(user.name, user.role))


def rule(access):
    """`access` is PUBLIC, an Action (checked with decide), or "login" (any account)."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if access == PUBLIC:
                return view(*args, **kwargs)
            actor = current_actor()
            if actor is None:
                if request.path.startswith("/api/"):
                    return {"error": "log in first"}, 401
                return redirect(url_for("auth.login", next=request.path))
            g.actor = actor
            if isinstance(access, Action):
                camera = kwargs.get("camera")
                decision = decide(actor, access, camera=camera)
                if not decision:
                    return {"error": decision.reason}, 403
            return view(*args, **kwargs)
        inner.nvr_access = access
        return inner
    return wrap


__all__ = ["rule", "PUBLIC", "Action", "Role", "nvr", "current_actor"]
