"""Exports for police and prosecutor (R-60..R-62): from a registered art. 9 request to a
password-protected package on the export medium, and the pre-filled declaration."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Blueprint, g, send_file, url_for

from firmware.export.helpers import ExportError, helper_for
from firmware.export.service import list_exports, make_export, show_export
from firmware.governance.paperwork import export_declaration_file
from firmware.web.routes import (Action, InputError, done, fields, footage_client, gov, integer,
                                 local_time, moment, nvr, reply, rule, text)

bp = Blueprint("exports", __name__)


@bp.route("/exports")
@bp.route("/api/exports", endpoint="api_index")
@rule(Action.EXPORT)
def index():
    reqs = gov().requests(nvr()["store"])
    open_requests = [{**r, "start_local": local_time(r["start"]), "end_local": local_time(r["end"])}
                     for r in reqs.list() if r["article"] == 9 and r["status"] == "registered"]
    exports = [{**e, "made_local": local_time(e["made"])} for e in list_exports(reqs.db)]
    medium = nvr()["cfg"].export_directory
    return reply("exports.html", exports, requests=open_requests,
                 medium=str(medium) if medium else None)


@bp.route("/exports", methods=["POST"])
@bp.route("/api/exports", methods=["POST"], endpoint="api_create")
@rule(Action.EXPORT)
@footage_client
def create():
    f = fields()
    cfg = nvr()["cfg"]
    reqs = gov().requests(nvr()["store"])
    req = reqs.show(integer(f, "request"))
    start = moment(f, "start") if text(f, "start", required=False) else req["start"]
    end = moment(f, "end") if text(f, "end", required=False) else req["end"]
    try:
        export = make_export(gov(), nvr()["store"], helper_for(cfg), g.actor,
                             request_id=req["id"], camera=req["camera_id"], start=start, end=end,
                             password=text(f, "password", required=False),
                             min_password=cfg.export.min_password)
    except ExportError as exc:
        raise InputError(str(exc)) from None
    return done(export, f"Export {export['id']} geschreven: {len(export['files'])} bestand(en). "
                        "Druk de verklaring af en laat die ondertekenen.",
                url_for("exports.index"), 201)


@bp.route("/exports/<int:export_id>/declaration.pdf")
@rule(Action.EXPORT)
def declaration(export_id: int):
    """R-62: the declaration of careful use, pre-filled with the package's files and hashes."""
    reqs = gov().requests(nvr()["store"])
    try:
        export = show_export(reqs.db, export_id)
    except ExportError as exc:
        raise InputError(str(exc)) from None
    with tempfile.TemporaryDirectory() as tmp:           # a form, not footage
        out = Path(tmp) / "v.pdf"
        export_declaration_file(gov(), g.actor, nvr()["store"], export, nvr()["cfg"].device.id,
                                out)
        data = out.read_bytes()
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"verklaring-export-{export_id}.pdf")
