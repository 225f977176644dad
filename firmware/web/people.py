"""Accounts (technisch beheerder, R-10, R-81), one's own account, and delegations (beheerder,
R-12). The rules live in governance.accounts and governance.delegation."""

from __future__ import annotations

import json

from flask import Blueprint, g, url_for

from firmware.governance import totp
from firmware.governance.roles import FOOTAGE, Action, Role
from firmware.web.routes import (InputError, done, fields, gov, is_api, local_time, moment, nvr,
                                 reply, rule, text)

bp = Blueprint("people", __name__)
ROLE_NAMES = {Role.BEHEERDER: "beheerder", Role.DESIGNEE: "aangewezen persoon",
              Role.TECHNICAL: "technisch beheerder", Role.PRIVACY_OFFICER: "privacy officer",
              Role.MANAGER: "manager bedrijfsvoering",
              Role.DPO: "functionaris gegevensbescherming"}


def _list(f, name: str) -> list[str]:
    value = f.getlist(name) if hasattr(f, "getlist") else f.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"'{name}' must be a list")
    return value


# --- accounts ---------------------------------------------------------------------------------

@bp.route("/users")
@bp.route("/api/users", endpoint="api_users")
@rule(Action.USERS)
def users():
    rows = [{**u, "created_local": local_time(u["created"]),
             "disabled_local": local_time(u["disabled"])} for u in gov().accounts.list()]
    return reply("users.html", rows, roles=ROLE_NAMES)


@bp.route("/users", methods=["POST"])
@bp.route("/api/users", methods=["POST"], endpoint="api_user_add")
@rule(Action.USERS)
def user_add():
    f = fields()
    try:
        role = Role(text(f, "role"))
    except ValueError:
        raise InputError("'role' is one of " + ", ".join(r.value for r in Role)) from None
    user = gov().accounts.add(text(f, "name"), role, text(f, "password", required=False),
                              by=g.actor)
    return done({"name": user.name, "role": user.role.value},
                f"Account {user.name} ({ROLE_NAMES[role]}) aangemaakt.", url_for("people.users"),
                201)


@bp.route("/users/<name>/disable", methods=["POST"])
@bp.route("/api/users/<name>/disable", methods=["POST"], endpoint="api_user_disable")
@rule(Action.USERS)
def user_disable(name: str):
    gov().accounts.disable(name, by=g.actor)
    return done({"name": name, "disabled": True}, f"Account {name} uitgeschakeld.",
                url_for("people.users"))


@bp.route("/users/<name>/password", methods=["POST"])
@bp.route("/api/users/<name>/password", methods=["POST"], endpoint="api_user_password")
@rule(Action.USERS)
def user_password(name: str):
    if gov().accounts.get(name) is None:
        raise InputError(f"there is no account '{name}'")
    gov().accounts.set_password(name, text(fields(), "password", required=False), by=g.actor)
    return done({"name": name}, f"Nieuw wachtwoord voor {name} ingesteld.",
                url_for("people.users"))


# --- one's own account -------------------------------------------------------------------------

@bp.route("/account")
@bp.route("/api/account", endpoint="api_account")
@rule("account")
def account():
    user = gov().accounts.get(g.actor.name)
    return reply("account.html", {"name": user.name, "role": user.role.value,
                                  "delegations": [d.__dict__ | {"actions": sorted(
                                      a.value for a in d.actions), "cameras": sorted(d.cameras)}
                                      for d in g.actor.delegations]},
                 roles=ROLE_NAMES, secret=None)


@bp.route("/account/password", methods=["POST"])
@bp.route("/api/account/password", methods=["POST"], endpoint="api_own_password")
@rule("account")
def own_password():
    f = fields()
    gov().accounts.authenticate(g.actor.name, text(f, "current", required=False))
    gov().accounts.set_password(g.actor.name, text(f, "password", required=False), by=g.actor)
    return done({"name": g.actor.name}, "Uw wachtwoord is gewijzigd.", url_for("people.account"))


@bp.route("/account/totp", methods=["POST"])
@bp.route("/api/account/totp", methods=["POST"], endpoint="api_own_totp")
@rule("account")
def own_totp():
    """Turn on the second factor (R-81); the secret is shown once, to be scanned."""
    secret = gov().accounts.enable_totp(g.actor.name, by=g.actor)
    link = totp.uri(secret, g.actor.name, f"nvr {nvr()['cfg'].device.id}")
    if is_api():
        return {"secret": secret, "uri": link}
    user = gov().accounts.get(g.actor.name)
    return reply("account.html", {"name": user.name, "role": user.role.value, "delegations": []},
                 roles=ROLE_NAMES, secret=secret, uri=link)


# --- delegations (R-12) ------------------------------------------------------------------------

@bp.route("/delegations")
@bp.route("/api/delegations", endpoint="api_delegations")
@rule(Action.DELEGATE)
def delegations():
    rows = [{**d, "actions": json.loads(d["actions"]), "cameras": json.loads(d["cameras"]),
             "expires_local": local_time(d["expires"]), "revoked_local": local_time(d["revoked"])}
            for d in gov().grants.list_delegations()]
    designees = [u["name"] for u in gov().accounts.list()
                 if u["role"] == Role.DESIGNEE.value and u["disabled"] is None]
    return reply("delegations.html", rows, designees=designees, cameras=nvr()["cfg"].cameras,
                 actions=sorted(a.value for a in FOOTAGE))


@bp.route("/delegations", methods=["POST"])
@bp.route("/api/delegations", methods=["POST"], endpoint="api_delegation_add")
@rule(Action.DELEGATE)
def delegation_add():
    f = fields()
    grantee = text(f, "grantee")
    user = gov().accounts.get(grantee)
    try:
        actions = {Action(a) for a in _list(f, "actions")}
    except ValueError:
        raise InputError("'actions' are live, playback and/or export") from None
    cameras = set(_list(f, "cameras"))
    unknown = cameras - {c.id for c in nvr()["cfg"].cameras}
    if unknown:
        raise InputError(f"unknown camera(s): {', '.join(sorted(unknown))}")
    delegation_id = gov().grants.delegate(g.actor, grantee, user.role if user else None, actions,
                                          cameras, text(f, "reason"), moment(f, "expires"))
    return done({"id": delegation_id}, f"Delegatie {delegation_id} aan {grantee} verleend.",
                url_for("people.delegations"), 201)


@bp.route("/delegations/<int:delegation_id>/revoke", methods=["POST"])
@bp.route("/api/delegations/<int:delegation_id>/revoke", methods=["POST"],
          endpoint="api_delegation_revoke")
@rule(Action.DELEGATE)
def delegation_revoke(delegation_id: int):
    gov().grants.revoke(g.actor, delegation_id)
    return done({"id": delegation_id, "revoked": True}, f"Delegatie {delegation_id} ingetrokken.",
                url_for("people.delegations"))
