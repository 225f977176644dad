"""Accounts (technisch beheerder, R-10, R-81), their approval (manager bedrijfsvoering, art. 2,
3.1), one's own account, and delegations (beheerder, R-12). The rules live in
governance.accounts and governance.delegation."""

from __future__ import annotations

import json

from flask import Blueprint, g, render_template, request, url_for

from firmware.governance import totp
from firmware.governance.accounts import APPROVAL_ROLES, AccountError
from firmware.governance.roles import FOOTAGE, Action, Role
from firmware.governance.service import Refused
from firmware.i18n import _, lazy_gettext
from firmware.web.confirm import confirm_step
from firmware.web.routes import (InputError, done, field_label, fields, gov, is_api, keeps_form,
                                 local_time, moment, new_session, nvr, reply, rule, text)

bp = Blueprint("people", __name__)
# The regulation's names of the roles (art. 2, 3), as a person reads them.
ROLE_NAMES = {Role.BEHEERDER: lazy_gettext("beheerder"),
              Role.DESIGNEE: lazy_gettext("aangewezen persoon"),
              Role.TECHNICAL: lazy_gettext("technisch beheerder"),
              Role.PRIVACY_OFFICER: lazy_gettext("privacy officer"),
              Role.MANAGER: lazy_gettext("manager bedrijfsvoering"),
              Role.DPO: lazy_gettext("functionaris gegevensbescherming"),
              Role.EINDVERANTWOORDELIJKE: lazy_gettext("gemeentesecretaris/algemeen directeur "
                                                       "(eindverantwoordelijke)")}


def _input_error(message: str, name: str) -> InputError:
    error = InputError(message)
    error.field = name
    return error


def _list(f, name: str) -> list[str]:
    value = f.getlist(name) if hasattr(f, "getlist") else f.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _input_error(_("'%(field)s' is a list", field=field_label(name)), name)
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
@keeps_form("people.users")
def user_add():
    """A new account without a password: its one-time setup code, for the technisch beheerder
    to hand to the owner, who sets the password on /reset (R-11, art. 2)."""
    f = fields()
    role, name = _role(f), text(f, "name")
    try:
        code = gov().accounts.create(name, role, by=g.actor)
    except AccountError as exc:             # a name that is malformed or taken
        exc.field = getattr(exc, "field", None) or "name"
        raise
    if is_api():
        return {"name": name, "role": role.value, "setup_code": code,
                "awaits_approval": role in APPROVAL_ROLES}, 201
    return render_template("reset_code.html", name=name, code=code, setup=True,
                           approval=role in APPROVAL_ROLES), 201


@bp.route("/users/<name>/disable", methods=["POST"])
@bp.route("/api/users/<name>/disable", methods=["POST"], endpoint="api_user_disable")
@rule(Action.USERS)
def user_disable(name: str):
    """Confirmed, with a reason the logbook records; never the last technisch beheerder
    (governance.accounts.disable, R-10)."""
    def disable(reason: str):
        gov().accounts.disable(name, by=g.actor, reason=reason)
        return done({"name": name, "disabled": True},
                    _("Account %(name)s disabled.", name=name), url_for("people.users"))
    return confirm_step(disable, title=_("Disable account %(name)s", name=name),
                        consequence=_("The account's sessions end at once and it can no longer "
                                      "log in. It can be enabled again later: a technisch "
                                      "beheerder proposes it, a manager bedrijfsvoering "
                                      "approves it."),
                        button=_("Disable"), back=url_for("people.users"))


@bp.route("/users/<name>/enable", methods=["POST"])
@bp.route("/api/users/<name>/enable", methods=["POST"], endpoint="api_user_enable")
@rule(Action.USERS)
def user_enable(name: str):
    """A disabled account proposed for use again, with a reason; a manager bedrijfsvoering
    approves it before it is in force (four eyes, governance.accounts.enable)."""
    def enable(reason: str):
        gov().accounts.enable(name, by=g.actor, reason=reason)
        return done({"name": name, "awaits_approval": True},
                    _("Account %(name)s proposed for use again; it awaits the approval of a "
                      "manager bedrijfsvoering.", name=name), url_for("people.users"))
    return confirm_step(enable, title=_("Enable account %(name)s again", name=name),
                        consequence=_("The account comes into force again only when a manager "
                                      "bedrijfsvoering approves it (four eyes). Its earlier "
                                      "delegations stay ended."),
                        button=_("Propose enabling"), back=url_for("people.users"))


@bp.route("/users/<name>/reset-code", methods=["POST"])
@bp.route("/api/users/<name>/reset-code", methods=["POST"], endpoint="api_user_reset_code")
@rule(Action.USERS)
def user_reset_code(name: str):
    """A one-time code for the owner to set a new password with (/reset); the technisch
    beheerder never sets or learns a password (R-11, art. 2)."""
    code = gov().accounts.issue_reset_code(name, by=g.actor)
    user = gov().accounts.get(name)
    if is_api():
        return {"name": name, "code": code, "awaits_approval_after_reset":
                user.role in APPROVAL_ROLES}
    return render_template("reset_code.html", name=name, code=code,
                           approval=user.role in APPROVAL_ROLES)


@bp.route("/users/<name>/role", methods=["POST"])
@bp.route("/api/users/<name>/role", methods=["POST"], endpoint="api_user_role")
@rule(Action.USERS)
def user_role(name: str):
    """A new role; the account's sessions and delegations end, and every role but
    technisch-beheerder waits for a manager's approval again."""
    role = _role(fields())
    gov().accounts.set_role(name, role, by=g.actor)
    pending = gov().accounts.get(name).pending
    message = (_("The role of %(name)s is now %(role)s (awaits approval).", name=name,
                 role=ROLE_NAMES[role]) if pending else
               _("The role of %(name)s is now %(role)s.", name=name, role=ROLE_NAMES[role]))
    return done({"name": name, "role": role.value, "awaits_approval": pending}, message,
                url_for("people.users"))


# --- approval by the manager bedrijfsvoering (art. 2, art. 3.1) ------------------------------

@bp.route("/users/pending")
@bp.route("/api/users/pending", endpoint="api_users_pending")
@rule("account")
def users_pending():
    _manager_only()
    rows = [{**u, "created_local": local_time(u["created"])} for u in gov().accounts.pending()]
    return reply("pending.html", rows, roles=ROLE_NAMES)


@bp.route("/users/<name>/approve", methods=["POST"])
@bp.route("/api/users/<name>/approve", methods=["POST"], endpoint="api_user_approve")
@rule("account")
def user_approve(name: str):
    """Approve `name` as the role the manager saw (the form sends it): a role changed since
    is refused by governance.accounts.approve."""
    _manager_only()
    role = _role(fields())
    gov().accounts.approve(name, role=role, by=g.actor)
    return done({"name": name, "role": role.value, "approved": True},
                _("Account %(name)s (%(role)s) approved.", name=name, role=ROLE_NAMES[role]),
                url_for("people.users_pending"))


def _manager_only() -> None:
    """Approval is the manager bedrijfsvoering's (governance.accounts.approve checks again)."""
    if g.actor.role is not Role.MANAGER:
        raise Refused(_("only the manager bedrijfsvoering approves accounts (art. 2, 3.1)"))


def _role(f) -> Role:
    try:
        return Role(text(f, "role"))
    except ValueError:
        raise _input_error(_("'%(field)s' is one of %(roles)s", field=field_label("role"),
                             roles=", ".join(r.value for r in Role)), "role") from None


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
    """A new password for oneself: every session of the account ends, this browser gets a
    fresh one (R-81)."""
    f = fields()
    gov().accounts.authenticate(g.actor.name, text(f, "current", required=False),
                                code=text(f, "code", required=False) or None,
                                source=request.remote_addr or "?")
    gov().accounts.set_password(g.actor.name, text(f, "password", required=False), by=g.actor)
    new_session(user=g.actor.name)
    return done({"name": g.actor.name}, _("Your password has been changed."),
                url_for("people.account"))


@bp.route("/account/totp", methods=["POST"])
@bp.route("/api/account/totp", methods=["POST"], endpoint="api_own_totp")
@rule("account")
def own_totp():
    """Turn on, or register anew, the second factor (R-81): needs the password, and the
    current code once a second factor exists. The secret is shown once, to be scanned."""
    f = fields()
    secret = gov().accounts.enable_totp(g.actor.name, by=g.actor,
                                        password=text(f, "password", required=False),
                                        code=text(f, "code", required=False) or None)
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
@keeps_form("people.delegations")
def delegation_add():
    f = fields()
    grantee = text(f, "grantee")
    user = gov().accounts.get(grantee)
    try:
        actions = {Action(a) for a in _list(f, "actions")}
    except ValueError:
        raise _input_error(_("choose live, playback and/or export"), "actions") from None
    cameras = set(_list(f, "cameras"))
    unknown = cameras - {c.id for c in nvr()["cfg"].cameras}
    if unknown:
        raise _input_error(_("unknown camera(s): %(cameras)s",
                             cameras=", ".join(sorted(unknown))), "cameras")
    delegation_id = gov().grants.delegate(g.actor, grantee, user.role if user else None, actions,
                                          cameras, text(f, "reason"), moment(f, "expires"))
    return done({"id": delegation_id}, _("Delegation %(id)s granted to %(name)s.",
                                         id=delegation_id, name=grantee),
                url_for("people.delegations"), 201)


@bp.route("/delegations/<int:delegation_id>/revoke", methods=["POST"])
@bp.route("/api/delegations/<int:delegation_id>/revoke", methods=["POST"],
          endpoint="api_delegation_revoke")
@rule(Action.DELEGATE)
def delegation_revoke(delegation_id: int):
    """Confirmed, with a reason the logbook records (R-12)."""
    def revoke(reason: str):
        gov().grants.revoke(g.actor, delegation_id, reason=reason)
        return done({"id": delegation_id, "revoked": True},
                    _("Delegation %(id)s revoked.", id=delegation_id),
                    url_for("people.delegations"))
    return confirm_step(revoke, title=_("Revoke delegation %(id)s", id=delegation_id),
                        consequence=_("The designee's sessions end at once and the footage of "
                                      "this delegation is closed to them. To continue, grant a "
                                      "new delegation."),
                        button=_("Revoke"), back=url_for("people.delegations"))
