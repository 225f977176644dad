"""The two logbooks (R-50 usage, R-51 Logboek Inzien Beeldmateriaal): read, verify, export;
and the DPIA / DPO report (R-83)."""

from __future__ import annotations

import io
import tempfile
from datetime import date
from pathlib import Path

from flask import Blueprint, abort, g, render_template, request, send_file

from firmware.governance.logbook import BOOKS
from firmware.governance.paperwork import logbook_file, report_file
from firmware.governance.wording import Names, action_text, actor_text, moment
from firmware.i18n import _, lazy_gettext
from firmware.web.routes import Action, InputError, gov, integer, may, nvr, reply, rule

bp = Blueprint("logbooks", __name__)
PAGE = 200
TITLES = {"usage": lazy_gettext("Usage logbook"),
          "inzien": lazy_gettext("Logbook of footage viewing")}


def _book(book: str) -> str:
    if book not in BOOKS:
        abort(404, _("there is no logbook '%(book)s' (logbooks: %(books)s)", book=book,
                     books=", ".join(str(TITLES.get(b, b)) for b in BOOKS)))
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
    names = Names.of(nvr()["cfg"])
    page = [{**e, "at_local": moment(e["at"], names.tz), "action_nl": action_text(e["action"]),
             "actor_nl": actor_text(e["actor"]),
             "subject_nl": names.subject(e["subject"]), "details_nl": names.details(e["details"])}
            for e in reversed(entries[-PAGE:])]
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
    return reply("verify.html", result.to_json(), books=TITLES)


@bp.route("/logbooks/<book>/<fmt>")
@rule(Action.LOGBOOK_READ)
def download(book: str, fmt: str):
    _book(book)
    if fmt not in ("csv", "pdf"):
        abort(404, _("a logbook is exported as CSV or PDF"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"logbook.{fmt}"
        logbook_file(gov(), g.actor, book, fmt, nvr()["cfg"], out)
        data = out.read_bytes()
    return send_file(io.BytesIO(data), mimetype="text/csv" if fmt == "csv" else "application/pdf",
                     download_name=f"logboek-{book}.{fmt}")


@bp.route("/report")
@rule(Action.LOGBOOK_READ)
def report():
    """R-83: the report for the DPIA and the DPO over a period, as PDF (`?from=&to=` dates)."""
    if not request.args.get("from"):
        return render_template("report.html")
    try:
        first, last = (date.fromisoformat(request.args.get(k, "")) for k in ("from", "to"))
    except ValueError:
        raise InputError(_("give the period as two dates like 2026-11-01")) from None
    with tempfile.TemporaryDirectory() as tmp:
        pdf = report_file(gov(), g.actor, nvr()["cfg"], nvr()["store"], first, last,
                          Path(tmp) / "report.pdf").read_bytes()
    return send_file(io.BytesIO(pdf), mimetype="application/pdf",
                     download_name=f"rapportage-{first}-{last}.pdf")
