"""Scans of a request's paper file on the request page: upload, list, download (art. 10 lid 6).

The rules (who may attach or read, type by content, size, encryption, logging) live in
`governance/scans.py`; this module only carries the upload in and the bytes out. An upload is
kept in memory, never spooled to a temporary file, so no plaintext copy reaches a disk.
"""

from __future__ import annotations

import io

from flask import Blueprint, g, render_template, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from firmware.governance.scans import KINDS, MAX_BYTES, MEDIA, ScanError, ScanRefused, Scans
from firmware.governance.wording import moment
from firmware.i18n import _, lazy_gettext
from firmware.web.routes import (InputError, done, gov, http_description, is_api, nvr, rule,
                                 text)

bp = Blueprint("scans", __name__)
UPLOAD = "scans.upload"
FORM_SLACK = 256 * 1024           # the multipart framing and the other fields of the form
TOO_LARGE = lazy_gettext("The file is too large (at most %(mb)s MB). Scan at a lower resolution "
                         "or in greyscale and try again.", mb=MAX_BYTES // 1048576)


def _scans() -> Scans:
    return Scans.open(gov(), nvr()["cfg"])


@bp.before_app_request
def _upload_in_memory() -> None:
    """For the upload only: room for one scan (the app allows 64 kB elsewhere), and the file
    part in memory instead of werkzeug's temporary file. Registered with the blueprint, so it
    runs before the app's CSRF check reads the form."""
    if request.endpoint == UPLOAD:
        request.max_content_length = MAX_BYTES + FORM_SLACK
        request._get_file_stream = lambda *args, **kwargs: io.BytesIO()


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    message = str(TOO_LARGE) if request.endpoint == UPLOAD else http_description(exc)
    if is_api():
        return {"error": message}, 413
    return render_template("error.html", message=message), 413


@bp.errorhandler(ScanError)
def _scan_error(exc: ScanError):
    status = 403 if isinstance(exc, ScanRefused) else 400
    return render_template("error.html", message=str(exc)), status


@bp.app_context_processor
def _scan_list():
    """`scans_of(req_id)` for the request page: the scans with Dutch labels and local times
    (listing checks the role and is refused, and logged, for others)."""
    def scans_of(req_id: int) -> list[dict]:
        tz = nvr()["cfg"].device.timezone
        return [{**s, "kind_nl": KINDS[s["kind"]], "type_nl": MEDIA[s["media_type"]],
                 "added_local": moment(s["added"], tz, seconds=False),
                 "url": url_for("scans.download", req_id=req_id, scan_id=s["id"])}
                for s in _scans().list(g.actor, req_id)]
    return {"scans_of": scans_of, "scan_kinds": KINDS, "scan_max_mb": MAX_BYTES // 1048576}


@bp.route("/requests/<int:req_id>/scans", methods=["POST"])
@rule("account")
def upload(req_id: int):
    """Attach a scan (PDF, PNG, JPEG); the roles that handle requests (governance/scans.py)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InputError(_("Choose a file: the scan as PDF, PNG or JPEG."))
    kind = text(request.form, "kind")
    data = upload.read(MAX_BYTES + 1)
    scan = _scans().attach(g.actor, req_id, kind, data, upload.filename)
    return done(scan, _("Scan added: %(kind)s (%(file)s), stored encrypted.", kind=KINDS[kind],
                        file=scan["filename"]),
                url_for("casework.request_detail", req_id=req_id))


@bp.route("/requests/<int:req_id>/scans/<int:scan_id>")
@rule("account")
def download(req_id: int, scan_id: int):
    """The scan as uploaded; only for the roles that read requests, and logged (R-11, R-51)."""
    meta, data = _scans().read(g.actor, req_id, scan_id)
    response = send_file(io.BytesIO(data), mimetype=meta["media_type"], as_attachment=True,
                         download_name=meta["filename"])
    response.headers["Cache-Control"] = "no-store"
    return response
