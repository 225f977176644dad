"""The web interface for the central room (R-20): a Flask app factory with blueprints.

Every route declares who may reach it (`routes.rule`), so a test can walk the URL map and prove
that no endpoint is reachable without a rule. Permissions come from governance.decide, footage
access from governance.access: the web adds no rules of its own.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from flask import Flask, abort, g, request, session

from firmware.config import Config
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore

IDLE_SECONDS = 15 * 60
ABSOLUTE_SECONDS = 12 * 3600
SECRET_FILE = "web-session.key"


def _secret_key(key_dir: Path) -> bytes:
    path = Path(key_dir) / SECRET_FILE
    if not path.exists():
        import os
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_bytes(32))
        os.close(fd)
    return path.read_bytes()


def create_app(cfg: Config, store: EncryptedStore | None = None,
               gov: Governance | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(cfg.storage.key_dir),
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="nvr_session",
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions["nvr"] = {"cfg": cfg, "store": store or EncryptedStore.from_config(cfg),
                             "gov": gov or Governance.open(cfg)}

    from firmware.web import auth, recordings, system
    app.register_blueprint(auth.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(system.bp)

    @app.before_request
    def _session_and_csrf():
        now = time.time()
        if session.get("user"):
            idle = now - session.get("seen", 0) > IDLE_SECONDS
            old = now - session.get("since", 0) > ABSOLUTE_SECONDS
            if idle or old:                       # sessions expire
                session.clear()
            else:
                session["seen"] = now
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            token = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not token or not secrets.compare_digest(token, session["csrf"]):
                abort(400, "missing or wrong CSRF token: reload the page and try again")
        g.now = now

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
