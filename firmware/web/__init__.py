"""The web interface for the central room (R-20): a Flask app factory with blueprints.

Every route declares who may reach it (`routes.rule`), so a test can walk the URL map and prove
that no endpoint is reachable without a rule. Permissions come from governance.decide, footage
access from governance.access: the web adds no rules of its own. Most views answer twice: as a
page, and under /api as JSON (described in /api/openapi.json).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from pathlib import Path

from flask import Flask, abort, g, render_template, request, session
from flask_babel import Babel, Domain
from werkzeug.exceptions import HTTPException

from firmware import i18n
from firmware.i18n import _, lazy_gettext

from firmware.config import Config
from firmware.governance import sessions
from firmware.storage import index
from firmware.storage.store import EncryptedStore
from firmware.web import routes

# The words for the states the code keeps in English (API values stay English), from the one
# catalogue: the `nl` filter of the templates shows them in Dutch.
DUTCH = {"open": lazy_gettext("in progress"), "approved": lazy_gettext("granted"),
         "refused": lazy_gettext("refused"), "registered": lazy_gettext("registered"),
         "closed": lazy_gettext("closed"), "citizen": lazy_gettext("citizen"),
         "company": lazy_gettext("company"), "insurer": lazy_gettext("insurer"),
         "lawyer": lazy_gettext("lawyer"), "other": lazy_gettext("other"),
         "police-or-prosecutor": lazy_gettext("police or public prosecutor"),
         "recording": lazy_gettext("recording"), "stopped": lazy_gettext("stopped"),
         "stalled": lazy_gettext("stalled"), "unknown": lazy_gettext("unknown"),
         "not started": lazy_gettext("not started"), "live": lazy_gettext("live"),
         "playback": lazy_gettext("playback"), "export": lazy_gettext("to export"),
         "defence-of-suspect": lazy_gettext("the defence of a suspect"),
         "victim": lazy_gettext("a victim"), "civil-claim": lazy_gettext("a civil claim")}
IDLE_SECONDS = sessions.IDLE_SECONDS            # kept on the server (governance.sessions)
ABSOLUTE_SECONDS = sessions.ABSOLUTE_SECONDS
SECRET_FILE = "web-session.key"


def _secret_key(key_dir: Path) -> bytes:
    path = Path(key_dir) / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_bytes(32))
        os.close(fd)
    return path.read_bytes()


def _open_store(cfg: Config) -> EncryptedStore:
    """A reader of the store (the recorder owns it): every page of the index read once, so a
    damaged index stops `nvr web` at start with its recovery instead of failing later."""
    store = EncryptedStore.from_config(cfg)
    index.check(store.db, store.index_path)
    return store


def _index_problem(exc: Exception) -> str:
    if isinstance(exc, index.IndexDamaged) or index.is_damage(exc):
        return _("The index of the recordings (index.sqlite3) is damaged and cannot be read "
                 "(%(problem)s). Stop the recorder, set index.sqlite3 aside with its -wal and "
                 "-shm files and restore the backup; nothing is erased while the index is "
                 "missing.", problem=exc)
    return _("The index of the recordings cannot be reached just now (%(problem)s); try "
             "again.", problem=exc)


class _Catalogue(Domain):
    """Flask-Babel's domain, reading the one catalogue (firmware.i18n) compiled from its .po."""

    def get_translations(self):
        return i18n.translations(i18n.WEB_LOCALE)


def create_app(cfg: Config, store: EncryptedStore | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(cfg.storage.key_dir),
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="nvr_session",
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions["nvr"] = {"cfg": cfg, "store": store or _open_store(cfg)}
    app.url_map.converters["int"] = routes.IdConverter      # ids that fit SQLite (issue 9)
    babel = Babel(app, locale_selector=lambda: i18n.WEB_LOCALE,
                  timezone_selector=lambda: cfg.device.timezone)
    babel.domain_instance = _Catalogue()                    # Dutch pages, one catalogue

    from firmware.web import (api, auth, casework, decisions, exports, home, live, logbooks,
                              people, recordings, scans, system, viewing)
    for module in (auth, home, recordings, live, casework, exports, logbooks, people, system, api,
                   decisions, scans, viewing):
        app.register_blueprint(module.bp)
    auth.limit_logins(app)
    from firmware.web import enrollment
    enrollment.register(app)              # the first accounts by enrollment code (issue 14)

    app.jinja_env.filters["nl"] = lambda value: str(DUTCH.get(value, value))

    @app.before_request
    def _csrf():
        # Who the session stands for, and whether it still lives, is the server's session
        # table's to say (routes.current_actor, R-81); the cookie keeps the CSRF token.
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            token = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not isinstance(token, str) or not secrets.compare_digest(
                    token.encode("utf-8", "surrogatepass"),
                    session["csrf"].encode("utf-8", "surrogatepass")):
                abort(400, _("missing or wrong CSRF token: reload the page and try again"))
        g.now = time.time()

    @app.teardown_appcontext
    def _close_governance(exc):
        gov = g.pop("gov", None)
        if gov is not None:
            gov.close()

    @app.context_processor
    def _navigation():
        return {"nav": routes.navigation(), "Action": routes.Action,
                "device": cfg.device, "form_state": routes.form_state}

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = routes.http_description(exc)
        if routes.is_api():
            return {"error": message}, exc.code
        return render_template("error.html", message=message), exc.code

    def _rule_error(exc: Exception):
        """A governance rule refused the operation: say which, lose nothing. Refused access
        is 403; everything else (bad input, a rule of the workflow) is 400."""
        status = 403 if isinstance(exc, routes.Refusal) else 400
        if status == 400:
            again = routes.form_again(exc)       # the form, filled in, with the message
            if again is not None:
                return again
        if routes.is_api():
            return {"error": str(exc)}, status
        return render_template("error.html", message=str(exc)), status

    for error in routes.RuleError:
        app.register_error_handler(error, _rule_error)

    def _index_error(exc: Exception):
        """A damaged or unreachable index: say so and how to recover, never a traceback."""
        if routes.is_api():
            return {"error": _index_problem(exc)}, 503
        return render_template("error.html", message=_index_problem(exc)), 503

    def _fonts_missing(exc: Exception):
        """A document cannot be printed without its fonts: say which package, in Dutch."""
        if routes.is_api():
            return {"error": str(exc)}, 503
        return render_template("error.html", message=str(exc)), 503

    from firmware.governance.documents import FontsMissing
    app.register_error_handler(FontsMissing, _fonts_missing)
    app.register_error_handler(sqlite3.DatabaseError, _index_error)
    app.register_error_handler(index.IndexDamaged, _index_error)

    @app.after_request
    def _headers(response):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:;"
                                                       " style-src 'self' 'unsafe-inline'; "
                                                       "frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
