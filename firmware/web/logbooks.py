"""The two logbooks (R-50 usage, R-51 Logboek Inzien Beeldmateriaal): read, verify, export."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Blueprint, abort, g, request, send_file

from firmware.governance.documents import logbook_csv, logbook_pdf
from firmware.governance.logbook import BOOKS
from firmware.web.routes import Action, gov, integer, local_time, may, nvr, reply, rule

bp = Blueprint("logbooks", __name__)
PAGE = 200
TITLES = {"usage": "Logboek gebruik", "inzien": "Logboek Inzien Beeldmateriaal"}


def _book(book: str) -> str:
    if book not in BOOKS:
        abort(404, f"there is no logbook '{book}' (books: {', '.join(BOOKS)})")
    return book


@bp.route("/logbooks")
@rule(Action.LOGBOOK_READ)
def start():
    return index.__wrapped__("inzien")


@bp.route("/logbooks/<book>")
@bp.route("/api/logbooks/<book>", endpoint="api_index")
@rule(Action.LOGBOOK_READ)
def index(book: str):
    """Newest entries first, PAGE at a time (`?before=N` pages back)."""
    entries = gov().logbook.entries(_book(book))
    before = integer(request.args, "before") if request.args.get("before") else None
    if before is not None:
        entries = [e for e in entries if e["n"] < before]
    page = [{**e, "at_local": local_time(e["at"])} for e in reversed(entries[-PAGE:])]
    return reply("logbooks.html", page, book=book, books=TITLES, may_verify=may(
        Action.LOGBOOK_VERIFY), older=page[-1]["n"] if len(entries) > PAGE else None)


@bp.route("/logbooks/verify")
@bp.route("/api/logbooks/verify", endpoint="api_verify")
@rule(Action.LOGBOOK_VERIFY)
def verify():
    """Walk both hash chains and check the signed heads (R-50, R-51)."""
    result = gov().logbook.verify()
    gov().logbook.append("usage", g.actor.name, "logbook-verify",
                         details={"ok": result.ok, "problems": len(result.problems)})
    return reply("verify.html", result.to_json())


@bp.route("/logbooks/<book>/<fmt>")
@rule(Action.LOGBOOK_READ)
def download(book: str, fmt: str):
    entries = gov().logbook.entries(_book(book))
    if fmt not in ("csv", "pdf"):
        abort(404, "a logbook is exported as csv or pdf")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"logbook.{fmt}"
        if fmt == "csv":
            logbook_csv(entries, out)
        else:
            logbook_pdf(entries, book, nvr()["cfg"].device.id, gov().logbook.verify().ok, out)
        data = out.read_bytes()
    gov().logbook.append("usage", g.actor.name, "logbook-export", subject=book,
                         details={"format": fmt, "entries": len(entries)})
    return send_file(io.BytesIO(data), mimetype="text/csv" if fmt == "csv" else "application/pdf",
                     download_name=f"logboek-{book}.{fmt}")
