"""Exports for police and prosecutor (R-60..R-62): from a registered art. 9 request, after the
officer's identity and signed declaration (art. 9 lid 3-4, checked in make_export), to a
password-protected package on the export medium, its handover, and the art. 9 declaration."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Blueprint, g, send_file, url_for

from firmware.export.helpers import ExportError, helper_for
from firmware.export.service import hand_over, list_exports, make_export, show_export
from firmware.governance.handover import officer_record
from firmware.governance.paperwork import export_declaration_file
from firmware.i18n import _, ngettext
from firmware.web.routes import (Action, InputError, done, fields, footage_client, gov, integer,
                                 local_time, moment, nvr, reply, rule, text)

bp = Blueprint("exports", __name__)


@bp.route("/exports")
@bp.route("/api/exports", endpoint="api_index")
@rule(Action.EXPORT)
def index():
    reqs = gov().requests(nvr()["store"])
    open_requests = [{**r, "start_local": local_time(r["start"]), "end_local": local_time(r["end"]),
                      "ready": _ready(reqs.db, r["id"])}
                     for r in reqs.list() if r["article"] == 9 and r["status"] == "registered"]
    exports = [{**e, "made_local": local_time(e["made"]),
                "handed_over_local": local_time((e["handover"] or {}).get("handed_over_at"))}
               for e in list_exports(reqs.db)]
    medium = nvr()["cfg"].export_directory
    return reply("exports.html", exports, requests=open_requests,
                 medium=str(medium) if medium else None)


def _ready(db, req_id: int) -> bool:
    """Whether the officer's identity and signed declaration are recorded (art. 9 lid 3-4);
    only a hint for the page: make_export refuses without them."""
    record = officer_record(db, req_id)
    return bool(record and record["declaration_signed_by"])


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
    return done(export, ngettext(
        "Export %(number)s written: %(num)s file. Record the handover (medium) and print the "
        "declaration.",
        "Export %(number)s written: %(num)s files. Record the handover (medium) and print the "
        "declaration.", len(export["files"]), number=export["id"]),
                url_for("exports.index"), 201)


@bp.route("/exports/<int:export_id>/handover", methods=["POST"])
@bp.route("/api/exports/<int:export_id>/handover", methods=["POST"], endpoint="api_handover")
@rule(Action.EXPORT)
def handover(export_id: int):
    """Art. 9 lid 2-4: the export on its medium given to the identified officer."""
    try:
        row = hand_over(gov(), nvr()["store"], g.actor, export_id,
                        medium=text(fields(), "medium"))
    except ExportError as exc:
        raise InputError(str(exc)) from None
    return done(row, _("Handover recorded: export %(number)s on %(medium)s to %(recipient)s. "
                       "Print the declaration and have both sign it.", number=export_id,
                       medium=row["medium"], recipient=row["recipient"]),
                url_for("exports.index"))


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
        device = nvr()["cfg"].device
        export_declaration_file(gov(), g.actor, nvr()["store"], export,
                                device.name or device.id, out)
        data = out.read_bytes()
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"verklaring-export-{export_id}.pdf")
