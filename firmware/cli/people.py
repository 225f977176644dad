"""Personal accounts (R-10, R-11, R-81): `nvr user ...`; the web's face is people.py."""

from __future__ import annotations

import os
import sys

from firmware.cli.common import (CliError, _action, _config, _governance, _group, _iso, _login,
                                 _password, _print, nvr_command)
from firmware.i18n import _


def _typed(args) -> str:
    """`nvr --config FILE` as this shell runs it, for the commands printed for someone to type
    (`make run` neither activates the venv nor sets NVR_CONFIG)."""
    import shlex
    from firmware.config import load
    return f"{nvr_command()} --config {shlex.quote(str(load(args.config).source))}"


def cmd_user_add(args) -> int:
    import os
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action, Role
    gov = _governance(_config(args))
    by = None
    # The first of a role whose code awaits (the manager after the technisch beheerder) is
    # made with the code, asked for when the flag is omitted, not by someone's login.
    enrolling = gov.accounts.awaits_enrollment(Role(args.role))
    if args.user or (gov.accounts.count() > 0 and not args.enrollment_code and not enrolling
                     and not (os.geteuid() == 0 and args.role == Role.MANAGER.value)):
        by = _login(gov, args, Action.USERS)
        return _user_create(gov, args, by)
    code = _enrollment_code(args.enrollment_code, as_root=os.geteuid() == 0)
    password = _password("NVR_NEW_PASSWORD", f"new password for {args.name}: ", confirm=True)
    try:
        user = gov.accounts.add(args.name, Role(args.role), password,
                                as_root=os.geteuid() == 0 and code is None,
                                enrollment_code=code)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {user.name} ({user.role.value}) created"
          + ("; it comes into force when a manager-bedrijfsvoering approves it "
             "(%s user approve)" % _typed(args) if user.pending else ""))
    return 0


def _enrollment_code(given: str | None, as_root: bool) -> str | None:
    """The one-time code: `-` reads it from a prompt (a terminal) or one line of stdin, as does
    an omitted flag when not root; never wanted on the command line, where sudo logs it and
    /proc/PID/cmdline shows it (the flag with the code itself is kept for scripts and tests)."""
    import getpass
    if given not in (None, "-") or (given is None and as_root):
        return given
    if sys.stdin.isatty():
        code = getpass.getpass("one-time enrollment code (from the device's screen): ")
    else:
        code = sys.stdin.readline()
    if not code.strip():
        raise CliError("no enrollment code: type the code the device's screen shows "
                       "(--enrollment-code - reads it from stdin)")
    return code.strip()


def _user_create(gov, args, by) -> int:
    """A technisch-beheerder's new account: no password, a one-time setup code for the owner
    (R-11, art. 2)."""
    import os
    from firmware.governance.accounts import APPROVAL_ROLES, SETUP_SECONDS, AccountError
    from firmware.governance.roles import Role
    if os.environ.get("NVR_NEW_PASSWORD"):
        print("NVR_NEW_PASSWORD is not used: the owner sets the password with the setup code",
              file=sys.stderr)
    try:
        code = gov.accounts.create(args.name, Role(args.role), by=by)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {args.name} ({args.role}) created without a password")
    print(f"one-time setup code for {args.name}: {code}")
    print(f"  give it to {args.name} in person; valid for {SETUP_SECONDS // 86400} days, once. "
          "The owner runs:")
    print(f"  {_typed(args)} user reset {args.name} --code {code}   (or the web page /reset)")
    if Role(args.role) in APPROVAL_ROLES:
        print("  then a manager-bedrijfsvoering approves it, with the owner present "
              f"({_typed(args)} user approve {args.name} --role {args.role})")
    return 0


def cmd_user_list(args) -> int:
    gov = _governance(_config(args))
    users = [{**u, "created": _iso(u["created"]), "disabled": _iso(u["disabled"]),
              "approved": _iso(u["approved"])} for u in gov.accounts.list()]
    _print(users, args.json, "\n".join(
        f"{u['name']:20} {u['role']:32} "
        f"{'disabled' if u['disabled'] else 'awaits approval' if u['pending'] else 'active'}"
        for u in users) or "no accounts")
    return 0


def cmd_user_disable(args) -> int:
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        gov.accounts.disable(args.name, by=actor, reason=args.reason,
                             as_root=os.geteuid() == 0)     # R-11 recovery: root only
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {args.name} disabled (kept, so the logbook keeps its name); its sessions "
          "ended")
    return 0


def cmd_user_enable(args) -> int:
    """Propose a disabled account for use again; a manager-bedrijfsvoering approves it
    (`user approve`) before it is in force (four eyes)."""
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        gov.accounts.enable(args.name, by=actor, reason=args.reason)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    role = gov.accounts.get(args.name).role.value
    print(f"account {args.name} proposed for use again; it awaits a manager-bedrijfsvoering's "
          f"approval ({_typed(args)} user approve {args.name} --role {role})")
    return 0


def cmd_user_passwd(args) -> int:
    """One's own new password (a technisch-beheerder issues reset codes instead)."""
    from firmware.governance.accounts import AccountError
    gov = _governance(_config(args))
    if args.user and args.user != args.name:
        raise CliError("a password is changed only by its owner; a technisch-beheerder gives "
                       f"the owner a one-time code: {_typed(args)} user reset-code {args.name} "
                       f"--user {args.user}")
    args.user = args.name
    actor = _login(gov, args, None)
    try:
        gov.accounts.set_password(args.name, _password("NVR_NEW_PASSWORD", "new password: ",
                                                       confirm=True), by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {args.name} changed; its sessions ended")
    return 0


def cmd_user_reset_code(args) -> int:
    from firmware.governance.accounts import APPROVAL_ROLES, AccountError
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        code = gov.accounts.issue_reset_code(args.name, by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"one-time reset code for {args.name}: {code}")
    print(f"  give it to {args.name} in person; valid for a day, once. The owner runs:")
    print(f"  {_typed(args)} user reset {args.name} --code {code}   (or the web page /reset)")
    if gov.accounts.get(args.name).role in APPROVAL_ROLES:
        print("  afterwards the account awaits a manager-bedrijfsvoering's approval again")
    return 0


def cmd_user_reset(args) -> int:
    from firmware.governance.accounts import AccountError
    gov = _governance(_config(args))
    try:
        user = gov.accounts.reset_password(args.name, args.code, _password(
            "NVR_NEW_PASSWORD", f"new password for {args.name}: ", confirm=True))
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {args.name} set" + ("; the account awaits a manager-bedrijfsvoering's "
                                            "approval (%s user approve)" % _typed(args)
                                            if user.pending else ""))
    return 0


def cmd_user_pending(args) -> int:
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    from firmware.governance.roles import Role
    if actor.role is not Role.MANAGER:
        raise CliError("only a manager-bedrijfsvoering approves accounts (art. 2, art. 3.1)")
    rows = [{**u, "created": _iso(u["created"])} for u in gov.accounts.pending()]
    _print(rows, args.json, "\n".join(f"{u['name']:20} {u['role']:32} added by "
                                       f"{u['created_by']}; password "
                                       f"{'set' if u['password_set'] else 'not set'}"
                                       for u in rows)
           or "no accounts await approval")
    return 0


def cmd_user_approve(args) -> int:
    """Approve the account as the role the manager names (`user pending` shows it): if the
    technisch-beheerder changed the role, nothing is approved."""
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Role
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    try:
        gov.accounts.approve(args.name, role=Role(args.role), by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {args.name} ({args.role}) approved by {actor.name}: in force")
    return 0


def cmd_user_role(args) -> int:
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action, Role
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        gov.accounts.set_role(args.name, Role(args.role), by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    pending = gov.accounts.get(args.name).pending
    print(f"{args.name} is now {args.role}; its sessions ended"
          + ("; it awaits a manager-bedrijfsvoering's approval" if pending else ""))
    return 0


def cmd_user_totp(args) -> int:
    """Set up the second factor: the password, and once one exists its current code."""
    from firmware.governance import totp
    from firmware.governance.accounts import AccountError
    cfg = _config(args)
    gov = _governance(cfg)
    password = _password("NVR_PASSWORD", f"password of {args.user}: ")
    try:
        actor = gov.accounts.get(args.user)
        if actor is None or actor.disabled or actor.pending:
            raise AccountError(_("'%(name)s' is not an account in force", name=args.user))
        secret = gov.accounts.enable_totp(args.user, by=actor.actor(), password=password,
                                          code=os.environ.get("NVR_TOTP"))
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"second factor on for {args.user}; add it to an authenticator app:")
    print(f"  secret {secret}")
    print(f"  {totp.uri(secret, args.user, f'nvr {cfg.device.id}')}")
    return 0


def add_parser(sub) -> None:
    from firmware.governance.roles import Role
    users = _group(sub, "user", "personal accounts (R-10, R-81)")
    c = _action(users, "add", cmd_user_add, "add an account: by a technisch-beheerder with a "
                "one-time setup code for the owner; the first technisch-beheerder and manager "
                "choose a password (NVR_NEW_PASSWORD or a prompt)", json=False)
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--enrollment-code", help="`-`: read the one-time code from a prompt or "
                   "stdin (the first technisch-beheerder, the first manager-bedrijfsvoering); "
                   "asked for when omitted and not root")
    c.add_argument("--user", help="your account (a technisch-beheerder); NVR_PASSWORD")
    _action(users, "list", cmd_user_list, "list accounts")
    c = _action(users, "disable", cmd_user_disable, "disable an account", json=False)
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user", required=True)
    c = _action(users, "enable", cmd_user_enable, "propose a disabled account for use again "
                "(a manager-bedrijfsvoering approves it)", json=False)
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user", required=True)
    c = _action(users, "passwd", cmd_user_passwd, "change your own password", json=False)
    c.add_argument("name")
    c.add_argument("--user", help="your account (must be NAME)")
    c = _action(users, "reset-code", cmd_user_reset_code,
                "a one-time code for the owner to set a new password (technisch-beheerder)",
                json=False)
    c.add_argument("name")
    c.add_argument("--user", required=True)
    c = _action(users, "reset", cmd_user_reset, "set your new password with a reset code; "
                "password from NVR_NEW_PASSWORD or a prompt", json=False)
    c.add_argument("name")
    c.add_argument("--code", required=True)
    c = _action(users, "pending", cmd_user_pending, "accounts awaiting approval (manager)")
    c.add_argument("--user", required=True)
    c = _action(users, "approve", cmd_user_approve, "approve an account of any role but "
                "technisch-beheerder (manager-bedrijfsvoering, art. 2, art. 3.1)", json=False)
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=[r.value for r in Role],
                   help="the role you approve, as `user pending` shows it")
    c.add_argument("--user", required=True)
    c = _action(users, "role", cmd_user_role, "change an account's role (technisch-beheerder)",
                json=False)
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--user", required=True)
    c = _action(users, "totp", cmd_user_totp, "turn on the second factor for your account",
                json=False)
    c.add_argument("--user", required=True)
