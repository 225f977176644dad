"""Who may reach a route, and the small helpers every view shares.

Every view is wrapped by `rule`, which the URL-map test checks. A view registered under /api
answers JSON (`reply`, `done`); the same view under a page path renders or redirects.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (abort, current_app, flash, g, jsonify, redirect, render_template, request,
                   session, url_for)
from werkzeug.exceptions import HTTPException
from markupsafe import Markup
from werkzeug.routing import IntegerConverter

from firmware.governance.access import (AccessRefused, grant_footage, grant_live_view,
                                         visible_length)
from firmware.governance.bounds import when
from firmware.governance.accounts import AccountError
from firmware.governance.delegation import GrantError
from firmware.governance.letters import LetterError
from firmware.governance.paperwork import PaperworkError
from firmware.governance.requests import RequestError
from firmware.governance.roles import Action, Actor, Role, decide
from firmware.governance.decisions import DecisionError, DecisionRefused
from firmware.governance.service import Governance, Refused
from firmware.i18n import _, lazy_gettext
from firmware.storage.holds import HoldError

PUBLIC = "public"
GRANT_SECONDS = 30 * 60          # a stated reason holds this long per camera and action
# A path on this device, nothing a browser could read as another host (no "//", "\", tabs,
# spaces or line breaks, no scheme), with a plain query string if any: where a form may send
# the user back to.
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9._~/-]*(\?[A-Za-z0-9._~=&%+-]*)?")


class InputError(Exception):
    """A form field or JSON member is missing or malformed; `field` names it when known."""

    field: str | None = None


# Errors that carry a rule's or an input's reason, shown to the user (403 for a Refusal).
Refusal = (AccessRefused, Refused, DecisionRefused)
RuleError = (InputError, AccountError, GrantError, RequestError, HoldError, DecisionError,
             PaperworkError, LetterError, *Refusal)


def nvr() -> dict:
    return current_app.extensions["nvr"]


def gov() -> Governance:
    """The governance layer on its own SQLite connection for this request."""
    if "gov" not in g:
        g.gov = Governance.open(nvr()["cfg"])
    return g.gov


def is_api() -> bool:
    return request.path.startswith("/api/")


def current_actor(*, touch: bool = True) -> Actor | None:
    """The account of this session, with its delegations, or the visit it was handed to; the
    server's session table decides (R-81), the cookie holds only a token. `touch=False` for a
    request that is no activity of the person (a page polling its state)."""
    token = session.get("sid")
    if not token:
        return None
    actor = gov().session_actor(token, touch=touch)
    if actor is None:
        forget_session()                 # ended, idle, disabled, closed: the cookie is spent
    return actor


def forget_session() -> None:
    """Drop what the cookie holds except its CSRF token (a fresh one if it had none)."""
    csrf = session.get("csrf") or secrets.token_urlsafe(32)
    session.clear()
    session["csrf"] = csrf


VISIT_ONLY = lazy_gettext("a visit of police or public prosecutor sees only its own cameras and "
                          "its own time window (article 5 paragraph 4)")


def refusal_text(actor: Actor, action: Action) -> str:
    """The page's Dutch wording of a refusal by `decide` (the API keeps decide's reason)."""
    from firmware.governance.wording import ROLES, VALUES
    what = VALUES.get(action.value, action.value)
    if actor.disabled:
        return _("this account is disabled")
    if actor.visit is not None:
        return _("%(visit_only)s; this is outside it: %(what)s", visit_only=VISIT_ONLY,
                 what=what)
    role = ROLES.get(actor.role.value, actor.role.value)
    if actor.role is Role.DESIGNEE:
        return _("no valid designation by the beheerder for: %(what)s (article 5 paragraph 1, "
                 "R-12)", what=what)
    return _("the role %(role)s may not do this: %(what)s (articles 3 and 5, R-11)", role=role,
             what=what)


def rule(access, *, touch: bool = True):
    """`access` is PUBLIC, an Action (checked with decide), "login" (any account or a visit) or
    "account" (a personal account: not a visit of police or prosecutor). `touch=False`: the
    request does not count as activity, so it keeps no idle session alive (R-81)."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if access == PUBLIC:
                return view(*args, **kwargs)
            actor = current_actor(touch=touch)
            if actor is None:
                if is_api():
                    return {"error": _("log in first")}, 401
                return redirect(url_for("auth.login", next=request.path))
            g.actor = actor
            if access == "account" and actor.visit is not None:
                if is_api():
                    return {"error": str(VISIT_ONLY)}, 403
                return render_template("error.html", message=VISIT_ONLY), 403
            if isinstance(access, Action):
                decision = decide(actor, access, camera=kwargs.get("camera"))
                if not decision:
                    if is_api():
                        return {"error": decision.reason}, 403
                    return render_template("error.html",
                                           message=refusal_text(actor, access)), 403
            return view(*args, **kwargs)
        inner.nvr_access = access
        return inner
    return wrap


def workstation(governance: Governance, cfg, address: str | None, environ: Mapping):
    """Art. 4 lid 1: whether the computer of this request is a workstation of the secured
    room (system.clients.footage_workstation), from the TLS facts cheroot put in `environ`."""
    from firmware.system.clients import (REFUSAL, Clients, RevocationsUnreadable, Workstation,
                                         footage_workstation)
    try:
        clients = Clients(governance.accounts.db, governance.logbook, cfg.storage.key_dir,
                          cfg.device.id)
        return footage_workstation(clients, cfg.web, address=address,
                                   verified=environ.get("SSL_CLIENT_VERIFY") == "SUCCESS",
                                   certificate=environ.get("SSL_CLIENT_CERT"))
    except RevocationsUnreadable as exc:        # fail closed, and say why
        return Workstation(False, f"{REFUSAL}: {exc}.")


def footage_client(view):
    """Art. 4 lid 1 (R-20): footage is shown only on a workstation of the secured room. Put it
    under `rule` on every route that shows or hands out footage (live, playback, exports, the
    art. 10 inzage); the rule itself is `system.clients.footage_workstation`. A refusal is a
    403 with the Dutch reason and is written in the usage logbook."""
    @functools.wraps(view)
    def inner(*args, **kwargs):
        place = workstation(gov(), nvr()["cfg"], request.remote_addr, request.environ)
        if not place:
            actor = g.get("actor")
            gov().logbook.append("usage", actor.name if actor else "-", "refused",
                                 subject=request.path, details={
                                     "why": place.reason, "address": request.remote_addr})
            if is_api():
                return {"error": place.reason}, 403
            return render_template("error.html", message=place.reason), 403
        g.workstation = place.name
        return view(*args, **kwargs)
    inner.nvr_footage = True
    return inner


def new_session(**identity) -> str:
    """Replace the session by a fresh one for `identity` (user= or visit=), kept on the server;
    the session it replaces ends there too. Only the CSRF token stays: no session fixation
    (R-81). Returns the token."""
    old = session.get("sid")
    if old:
        gov().sessions.end(old, "replaced")
    forget_session()
    session["sid"] = gov().sessions.start(**identity)
    return session["csrf"]


def may(action: Action, camera: str | None = None) -> bool:
    actor = g.get("actor")
    return actor is not None and bool(decide(actor, action, camera=camera))


# Pages in the menu, each shown only to whom it is for.
_MENU = (("home.index", lazy_gettext("Start"), "login"),
         ("live.grid", lazy_gettext("Live"), Action.LIVE),
         ("casework.holds", lazy_gettext("Holds"), Action.HOLD),
         ("casework.visits", lazy_gettext("Visits"), Action.IDENTIFY),
         ("casework.requests", lazy_gettext("Requests"), Action.REQUEST_READ),
         ("exports.index", lazy_gettext("Export"), Action.EXPORT),
         ("logbooks.start", lazy_gettext("Logbooks"), Action.LOGBOOK_READ),
         ("decisions.index", lazy_gettext("Decisions"), Action.DECISION_READ),
         ("people.users", lazy_gettext("Users"), Action.USERS),
         ("people.users_pending", lazy_gettext("Approve"), Role.MANAGER),
         ("people.delegations", lazy_gettext("Delegations"), Action.DELEGATE),
         ("system.page", lazy_gettext("System"), "account"))


def navigation() -> list[tuple[str, str]]:
    actor = g.get("actor")
    if actor is None:
        return []
    items = []
    for endpoint, label, access in _MENU:
        if access == Action.LIVE:
            ok = any(decide(actor, access, camera=c.id) for c in nvr()["cfg"].cameras)
        elif access == "account":
            ok = actor.visit is None
        elif access == "login":
            ok = True
        elif isinstance(access, Role):
            ok = actor.role is access
        else:
            ok = bool(decide(actor, access))
        if ok:
            items.append((url_for(endpoint), str(label)))
    return items


def reply(template: str, payload, **page):
    """A GET answer: `payload` as JSON under /api, else the page (which gets it as `data`)."""
    if is_api():
        return jsonify(payload)
    return render_template(template, data=payload, **page)


# --- a refused form comes back filled in (issue 11 item 4) -------------------------------------

class FormState:
    """What a person typed into a POST form that a rule refused, for the page that shows the
    form again: the values, and the message next to the field it concerns (`field`, named by
    the InputError or the rule's exception; None: a message for the whole form)."""

    def __init__(self, endpoint: str | None = None, values: Mapping | None = None,
                 field: str | None = None, message: str = ""):
        self.endpoint, self.values = endpoint, values or {}
        self.field, self.message = field, message

    def _list(self, name: str) -> list[str]:
        if hasattr(self.values, "getlist"):
            return self.values.getlist(name)
        value = self.values.get(name)
        return value if isinstance(value, list) else [] if value is None else [value]

    def value(self, name: str, default: str = "") -> str:
        values = self._list(name)
        return str(values[0]) if values else default

    def attrs(self, name: str, default: str | None = None) -> Markup:
        """` value="..."` (what was typed, else `default`) and, on the refused field,
        aria-invalid and aria-describedby pointing at its message."""
        value = self.value(name, default or "")
        out = Markup(' value="%s"') % value if value else Markup("")
        if self.field == name:
            out += Markup(' aria-invalid="true" aria-describedby="error-%s"') % name
        return out

    def marks(self, name: str) -> Markup:
        """aria-invalid and aria-describedby for a field with no value of its own (checkboxes,
        radio groups, selects)."""
        if self.field == name:
            return Markup(' aria-invalid="true" aria-describedby="error-%s"') % name
        return Markup("")

    def chosen(self, name: str, option: str, word: str = "selected") -> Markup:
        """` selected` (or `word`, e.g. checked) when `option` was submitted for `name`."""
        return Markup(" " + word) if str(option) in self._list(name) else Markup("")

    def error(self, name: str | None = None) -> Markup:
        """The message, where it belongs: next to field `name`, or (name None) at the top of
        the form when the rule named no field."""
        if not self.message or self.field != name:
            return Markup("")
        ident = Markup(' id="error-%s"') % name if name else Markup("")
        return Markup('<span class="error field-error" role="alert" style="margin: 0 .5rem"'
                      '%s>%s</span>') % (ident, self.message)


def form_state(endpoint: str) -> FormState:
    """The refused submission of the form that posts to `endpoint`, or an empty state."""
    state = g.get("form_state")
    return state if state is not None and state.endpoint == endpoint else FormState()


def keeps_form(page: str):
    """Declare that a POST view's form lives on the page of endpoint `page` (called with the
    same path arguments): a rule error then shows that page again with the form filled in
    (form_again), not an error page."""
    def mark(view):
        view.nvr_form_page = page
        return view
    return mark


def form_again(exc: Exception):
    """The page of a refused POST form, shown again with what was typed and the message next to
    its field, status 400; None when the view declared no page (keeps_form) or under /api."""
    view = current_app.view_functions.get(request.endpoint or "")
    page = getattr(view, "nvr_form_page", None)
    if page is None or is_api() or request.method != "POST":
        return None
    g.form_state = FormState(request.endpoint, request.form, getattr(exc, "field", None),
                             str(exc))
    try:
        response = current_app.make_response(current_app.view_functions[page](
            **(request.view_args or {})))
    except RuleError:                   # the page itself is refused (no such request): the
        return None                     # error page says what the rule said
    if response.status_code == 200:
        response.status_code = 400
    return response


def _names_field(parse):
    """An InputError raised while reading field `name` names it (FormState marks it). The
    default name is camera_id's, the one reader called without a name."""
    @functools.wraps(parse)
    def inner(f, name: str = "camera", *args, **kwargs):
        try:
            return parse(f, name, *args, **kwargs)
        except InputError as exc:
            if exc.field is None:
                exc.field = name
            raise
    return inner


def done(result, message: str, back: str, status: int = 200):
    """A POST answer: the result as JSON under /api, else a message and back to a page."""
    if is_api():
        return jsonify(result), status
    flash(message)
    return redirect(back)


# --- input ------------------------------------------------------------------------------------

def _has_surrogate(value) -> bool:
    """Whether a decoded JSON value holds a lone surrogate (valid JSON as \\ud800, but no
    character: it cannot be stored, hashed into a logbook or shown)."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


SURROGATE_MESSAGE = lazy_gettext("the text holds a lone surrogate (an escape such as \\ud800 that "
                                 "is no character); send UTF-8 text")


# The Dutch words for the fields of the forms and the API, in the refusals a person reads.
FIELD_LABELS = {
    "action": lazy_gettext("action"), "acts_for": lazy_gettext("acts for"),
    "blur": lazy_gettext("blurring"), "code": lazy_gettext("code"),
    "current": lazy_gettext("current password"), "decision": lazy_gettext("decision"),
    "document_type": lazy_gettext("type of identity document"), "end": lazy_gettext("end"),
    "expires": lazy_gettext("expires"), "grantee": lazy_gettext("grantee"),
    "identity": lazy_gettext("identity"), "last_digits": lazy_gettext("last characters"),
    "legal_basis": lazy_gettext("legal basis"), "method": lazy_gettext("method"),
    "minutes": lazy_gettext("minutes"), "motivation": lazy_gettext("motivation"),
    "name": lazy_gettext("name"), "officer": lazy_gettext("officer"),
    "on_behalf_of": lazy_gettext("on behalf of"), "organisation": lazy_gettext("organisation"),
    "password": lazy_gettext("password"), "purpose": lazy_gettext("purpose"),
    "reason": lazy_gettext("reason"), "received": lazy_gettext("received on"),
    "reference": lazy_gettext("reference"), "request": lazy_gettext("request"),
    "requester": lazy_gettext("requester"), "requester_kind": lazy_gettext("kind of requester"),
    "role": lazy_gettext("role"), "start": lazy_gettext("start"),
    "visitor": lazy_gettext("visitor"), "weighing": lazy_gettext("weighing"),
    "medium": lazy_gettext("medium"), "signed_by": lazy_gettext("signed by"),
    "camera": lazy_gettext("camera"), "approve": lazy_gettext("grant"),
    "question": lazy_gettext("situation"), "advice": lazy_gettext("advice"),
    "from": lazy_gettext("from"), "to": lazy_gettext("to"), "kind": lazy_gettext("kind"),
    "file": lazy_gettext("file"), "before": lazy_gettext("older than entry"),
}


def field_label(name: str) -> str:
    """The Dutch word for field `name` (the name itself when none is known)."""
    return str(FIELD_LABELS.get(name, name))


def fields() -> Mapping:
    """The form, or under /api the JSON object of the body; text that is no Unicode (lone
    surrogates) is bad input. Forms, query strings and paths come as bytes that werkzeug
    decodes with replacement, so they cannot carry surrogates."""
    if is_api():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InputError(_("the body of the request is a JSON object"))
        if _has_surrogate(body):
            raise InputError(str(SURROGATE_MESSAGE))
        return body
    return request.form


@_names_field
def text(f: Mapping, name: str, *, required: bool = True, default: str = "") -> str:
    """A text field, stripped; a required one needs visible characters (a value of
    zero-width or control characters is missing)."""
    value = f.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise InputError(_("'%(field)s' is text", field=field_label(name)))
    if _has_surrogate(value):
        raise InputError(_("'%(field)s': %(problem)s", field=field_label(name),
                           problem=SURROGATE_MESSAGE))
    value = value.strip()
    if required and not visible_length(value):
        raise InputError(_("fill in '%(field)s': this field is required",
                           field=field_label(name)))
    return value


@_names_field
def integer(f: Mapping, name: str, *, low: int = 1, high: int = 10**9) -> int:
    value = f.get(name)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):        # JSON Infinity, NaN, 1e400
        raise InputError(_("'%(field)s' is a whole number", field=field_label(name))) from None
    if isinstance(value, bool) or not low <= number <= high:
        raise InputError(_("'%(field)s' lies between %(low)s and %(high)s",
                           field=field_label(name), low=low, high=high))
    return number


@_names_field
def moment(f: Mapping, name: str) -> float:
    """A date and time: ISO 8601 (e.g. 2026-11-29T14:05); without an offset it is the
    device's local time."""
    value = text(f, name)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(_("'%(field)s' is a date and time like 2026-11-29T14:05, not "
                           "%(value)s", field=field_label(name), value=repr(value))) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(nvr()["cfg"].device.timezone))
    return t.timestamp()


class IdConverter(IntegerConverter):
    """`<int:...>` in paths: a whole number that fits SQLite's INTEGER; a larger one matches no
    route (404) instead of overflowing in a query."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def camera_or_404(camera: str):
    """The configuration of camera `camera` (a URL part), or a 404."""
    for c in nvr()["cfg"].cameras:
        if c.id == camera:
            return c
    abort(404, _("there is no camera '%(camera)s'", camera=camera))


@_names_field
def camera_id(f: Mapping, name: str = "camera") -> str:
    value = text(f, name)
    known = [c.id for c in nvr()["cfg"].cameras]
    if value not in known:
        raise InputError(_("there is no camera '%(camera)s' (cameras: %(known)s)", camera=value,
                           known=", ".join(known)))
    return value


# What a person reads for an HTTP error that carries werkzeug's default (English) description.
HTTP_DESCRIPTIONS = {
    400: lazy_gettext("The browser sent something this device cannot handle. Go back, reload "
                      "the page and try again."),
    401: lazy_gettext("Log in first."),
    403: lazy_gettext("You may not open this page."),
    404: lazy_gettext("This page does not exist. Check the address, or go back to the "
                      "overview."),
    405: lazy_gettext("This page cannot be opened this way; use the buttons and links of the "
                      "pages."),
    410: lazy_gettext("This is no longer here."),
    413: lazy_gettext("What was sent is too large."),
    429: lazy_gettext("Too many attempts; wait a minute and try again."),
}


def http_description(exc: HTTPException) -> str:
    """The description of an HTTP error as a person reads it: the view's own words, or for
    werkzeug's English default the catalogue's sentence for its code."""
    if exc.description != type(exc).description:
        return str(exc.description)
    if exc.code in HTTP_DESCRIPTIONS:
        return str(HTTP_DESCRIPTIONS[exc.code])
    return _("Something went wrong on this device (HTTP %(code)s); try again, and tell the "
             "technisch beheerder if it stays.", code=exc.code)


def local_time(t: float | None) -> str:
    """A stored time in the device's time zone, as people here read it, with the zone named
    ('29-11-2026 14:05 (CET)'); never raises (bounds.when), so one bad row cannot break a
    page."""
    return when(t, ZoneInfo(nvr()["cfg"].device.timezone), "%d-%m-%Y %H:%M (%Z)")


# --- footage grants (R-01) ---------------------------------------------------------------------

def footage_grant(action: Action, camera: str, purpose: str | None, reason: str | None) -> None:
    """R-01: check and log purpose and reason, then remember them in the session for
    GRANT_SECONDS. Raises AccessRefused with the reason when refused (also logged)."""
    entry = grant_footage(gov(), g.actor, action, camera=camera, purpose=purpose,
                          reason=reason, subject=f"camera {camera}")
    grants = session.get("grants", {})
    grants[f"{action.value}:{camera}"] = time.time() + GRANT_SECONDS
    session["grants"] = grants
    entries = session.get("grant_entries", {})       # the grant's logbook entry: what each
    entries[f"{action.value}:{camera}"] = entry       # served segment is logged under
    session["grant_entries"] = entries


def footage_grant_live(cameras: list[str], purpose: str | None, reason: str | None) -> None:
    """R-01 for the live grid: one purpose and reason for all `cameras`, logged once
    (governance.access.grant_live_view), remembered per camera for GRANT_SECONDS."""
    entry = grant_live_view(gov(), g.actor, cameras, purpose=purpose, reason=reason)
    until = time.time() + GRANT_SECONDS
    grants, entries = session.get("grants", {}), session.get("grant_entries", {})
    for camera in cameras:
        grants[f"{Action.LIVE.value}:{camera}"] = until
        entries[f"{Action.LIVE.value}:{camera}"] = entry
    session["grants"], session["grant_entries"] = grants, entries


def local_target(target: str | None, default: str = "/") -> str:
    """`target` if it is a plain path on this device, else `default`: the one check for every
    redirect a request names (the login's `next`, the reason form's `back`)."""
    if isinstance(target, str) and _LOCAL_PATH.fullmatch(target) and "//" not in target:
        return target
    return default


def grant_entry(action: Action, camera: str) -> int | None:
    """The number of the current grant's entry in the Logboek Inzien Beeldmateriaal."""
    if not granted_until(action, camera):
        return None
    return session.get("grant_entries", {}).get(f"{action.value}:{camera}")


def granted_until(action: Action, camera: str) -> float:
    """Until when a stated reason covers `action` on `camera` (0: no grant)."""
    until = session.get("grants", {}).get(f"{action.value}:{camera}", 0)
    return until if until > time.time() else 0


__all__ = ["rule", "PUBLIC", "Action", "Role", "nvr", "gov", "current_actor", "footage_grant",
           "granted_until", "grant_entry", "AccessRefused", "GRANT_SECONDS", "reply", "done", "fields", "text",
           "integer", "moment", "camera_id", "camera_or_404", "may", "InputError", "local_time",
           "new_session", "forget_session", "local_target", "footage_client", "workstation",
           "FormState", "form_state", "keeps_form", "form_again", "footage_grant_live"]
