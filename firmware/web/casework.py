"""Holds, visits of police and prosecutor, and requests (art. 9 and art. 10).

Each view is a page and, under /api, a JSON call; the rules live in governance (R-41, R-60,
R-70..R-74, art. 5.4), the views only read fields and show results.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

from flask import Blueprint, g, request, send_file, url_for

from firmware.governance.handover import CITIZEN_DOCUMENT_TYPES, DOCUMENT_TYPES, officer_record
from firmware.governance.letters import article10_declaration_file
from firmware.governance.paperwork import request_declaration_file
from firmware.governance.requests import ACTS_FOR, LEGAL_BASES, REQUESTER_KINDS
from firmware.governance.weighing import BLUR_CHOICES
from firmware.i18n import _
from firmware.storage.holds import list_holds
from firmware.web.confirm import confirm_step
from firmware.web.routes import (Action, FormState, InputError, camera_id, done, fields, gov,
                                 integer, keeps_form, local_time, may, moment, new_session, nvr,
                                 reply, rule, text)

bp = Blueprint("casework", __name__)


def _times(row: dict, *names: str) -> dict:
    return {**row, **{f"{n}_local": local_time(row.get(n)) for n in names}}


# --- holds (R-41) -----------------------------------------------------------------------------

@bp.route("/holds")
@bp.route("/api/holds", endpoint="api_holds")
@rule(Action.HOLD)
def holds():
    # the one rule for who sees a hold's reason and reference, as `nvr hold list`
    rows = [_times(h, "start", "end", "created", "released")
            for h in gov().holds(g.actor, nvr()["store"])]
    # a link from an event on the day page fills the form in (camera, from, until)
    prefill = FormState("casework.hold_add", {k: request.args[k] for k in ("camera", "start",
                                              "end") if request.args.get(k)})
    return reply("holds.html", rows, cameras=nvr()["cfg"].cameras, prefill=prefill)


@bp.route("/holds", methods=["POST"])
@bp.route("/api/holds", methods=["POST"], endpoint="api_hold_add")
@rule(Action.HOLD)
@keeps_form("casework.holds")
def hold_add():
    f = fields()
    hold = gov().place_hold(g.actor, nvr()["store"], camera_id(f), moment(f, "start"),
                            moment(f, "end"), text(f, "reason"), text(f, "reference"))
    return done(hold, _("Hold %(id)s placed on %(count)s segment(s).", id=hold["id"],
                        count=hold["segments"]), url_for("casework.holds"), 201)


@bp.route("/holds/<int:hold_id>/release", methods=["POST"])
@bp.route("/api/holds/<int:hold_id>/release", methods=["POST"], endpoint="api_hold_release")
@rule(Action.HOLD)
def hold_release(hold_id: int):
    """Confirmed, with a reason; a hold of a request not yet closed goes with the request
    (governance: R-41, R-74)."""
    def release(reason: str):
        result = gov().release_hold(g.actor, nvr()["store"], hold_id, reason=reason)
        return done(result, _("Hold %(id)s released; the footage falls under the retention "
                              "period again.", id=hold_id), url_for("casework.holds"))
    hold = next((h for h in list_holds(nvr()["store"]) if h["id"] == hold_id), None)
    detail = "" if hold is None else _(
        "Camera %(camera)s, %(start)s – %(end)s; reason: %(reason)s; reference: %(reference)s.",
        camera=hold["camera_id"], start=local_time(hold["start"]), end=local_time(hold["end"]),
        reason=hold["reason"], reference=hold["reference"])
    return confirm_step(release, title=_("Release hold %(id)s", id=hold_id), detail=detail,
                        consequence=_("The footage of this hold falls under the retention "
                                      "period of 28 days again and is erased when that has "
                                      "passed. This cannot be undone."),
                        button=_("Release"), back=url_for("casework.holds"))


# --- visits of police and prosecutor (R-11, art. 5.4) ------------------------------------------

@bp.route("/visits")
@bp.route("/api/visits", endpoint="api_visits")
@rule(Action.IDENTIFY)
def visits():
    rows = [_times(v, "start", "end", "expires", "opened", "closed")
            for v in gov().grants.list_visits()]
    return reply("visits.html", rows, cameras=nvr()["cfg"].cameras, bases=LEGAL_BASES,
                 now=time.time())


def _cameras(f) -> set[str]:
    value = f.getlist("cameras") if hasattr(f, "getlist") else f.get("cameras")
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        error = InputError(_("choose one or more cameras"))
        error.field = "cameras"
        raise error
    for c in value:
        camera_id({"camera": c})
    return set(value)


@bp.route("/visits", methods=["POST"])
@bp.route("/api/visits", methods=["POST"], endpoint="api_visit_open")
@rule(Action.IDENTIFY)
@keeps_form("casework.visits")
def visit_open():
    f = fields()
    visit_id = gov().grants.open_visit(
        g.actor, visitor=text(f, "visitor"), organisation=text(f, "organisation"),
        identity=text(f, "identity"), legal_basis=text(f, "legal_basis"),
        reason=text(f, "reason"), cameras=_cameras(f), start=moment(f, "start"),
        end=moment(f, "end"), minutes=integer(f, "minutes", high=240))
    return done({"id": visit_id}, _("Visit %(id)s registered.", id=visit_id),
                url_for("casework.visits"), 201)


@bp.route("/visits/<int:visit_id>/close", methods=["POST"])
@bp.route("/api/visits/<int:visit_id>/close", methods=["POST"], endpoint="api_visit_close")
@rule(Action.IDENTIFY)
def visit_close(visit_id: int):
    """Confirmed, with a reason the Logboek Inzien records (art. 5 lid 4)."""
    def close(reason: str):
        gov().grants.close_visit(g.actor, visit_id, reason=reason)
        return done({"id": visit_id, "closed": True}, _("Visit %(id)s ended.", id=visit_id),
                    url_for("casework.visits"))
    return confirm_step(close, title=_("End visit %(id)s", id=visit_id),
                        consequence=_("The visitors' session ends at once; they see no more "
                                      "footage. To continue, register a new visit."),
                        button=_("End visit"), back=url_for("casework.visits"))


@bp.route("/visits/<int:visit_id>/start", methods=["POST"])
@bp.route("/api/visits/<int:visit_id>/start", methods=["POST"], endpoint="api_visit_start")
@rule(Action.IDENTIFY)
def visit_start(visit_id: int):
    """Hand this browser to the visit: the beheerder's own session ends, and the visitors see
    only their cameras and window until the visit expires or is closed (art. 5.4)."""
    visit = gov().grants.visit_actor(visit_id)
    if visit.visit.closed or visit.visit.expires < time.time():
        raise InputError(_("visit %(id)s has ended or expired: register a new visit",
                           id=visit_id))
    gov().logbook.append("inzien", g.actor.name, "visit-session-started",
                         subject=f"visit {visit_id}")
    csrf = new_session(visit=visit_id)
    return done({"visit": visit_id, "csrf": csrf},
                _("Session for visit %(id)s started.", id=visit_id), url_for("home.index"))


# --- requests (art. 9, art. 10) ------------------------------------------------------------

def _request_rows() -> list[dict]:
    return [_times(r, "start", "end", "received", "decision_due", "decided_at")
            for r in gov().requests(nvr()["store"]).list()]


@bp.route("/requests")
@bp.route("/api/requests", endpoint="api_requests")
@rule(Action.REQUEST_READ)
def requests():
    return reply("requests.html", _request_rows(), cameras=nvr()["cfg"].cameras,
                 bases=LEGAL_BASES, kinds=REQUESTER_KINDS, acts_for=ACTS_FOR, may=may)


@bp.route("/requests/<int:req_id>")
@bp.route("/api/requests/<int:req_id>", endpoint="api_request_detail")
@rule(Action.REQUEST_READ)
def request_detail(req_id: int):
    reqs = gov().requests(nvr()["store"])
    row = _times(reqs.show(req_id), "start", "end", "received", "decision_due", "decided_at",
                 "declaration_at")
    ready, why = reqs.may_view(req_id)
    row["viewing"] = {"ready": ready, "why": why}
    if row["article"] == 9:
        row["handover"] = _art9_handover(reqs.db, req_id)
    day = row["start_local"][:10]
    return reply("request.html", row, may=may, day=day, document_types=DOCUMENT_TYPES,
                 citizen_documents=CITIZEN_DOCUMENT_TYPES, blur_choices=BLUR_CHOICES)


def _art9_handover(db, req_id: int) -> dict:
    """Art. 9 lid 3-4: the officer's identity and declaration, and the request's exports with
    their handovers, for the request page."""
    from firmware.export.service import list_exports
    officer = officer_record(db, req_id)
    if officer:
        officer = _times(officer, "checked_at", "declaration_at")
    exports = [{**e, "made_local": local_time(e["made"]),
                "handed_over_local": local_time((e["handover"] or {}).get("handed_over_at"))}
               for e in list_exports(db) if e["request_id"] == req_id]
    return {"officer": officer, "exports": exports}


@bp.route("/requests/art9", methods=["POST"])
@bp.route("/api/requests/art9", methods=["POST"], endpoint="api_request_art9")
@rule(Action.REQUEST_ART9)
@keeps_form("casework.requests")
def request_art9():
    f = fields()
    row = gov().requests(nvr()["store"]).add_article9(
        g.actor, reference=text(f, "reference"), requester=text(f, "requester"),
        legal_basis=text(f, "legal_basis"), camera=camera_id(f), start=moment(f, "start"),
        end=moment(f, "end"))
    return done(row, _("Request %(id)s (article 9) registered; the footage is kept.",
                       id=row["id"]),
                url_for("casework.request_detail", req_id=row["id"]), 201)


@bp.route("/requests/art10", methods=["POST"])
@bp.route("/api/requests/art10", methods=["POST"], endpoint="api_request_art10")
@rule(Action.REQUEST_INTAKE)
@keeps_form("casework.requests")
def request_art10():
    f = fields()
    received = moment(f, "received") if text(f, "received", required=False) else time.time()
    row = gov().requests(nvr()["store"]).add_article10(
        g.actor, requester=text(f, "requester"), requester_kind=text(f, "requester_kind"),
        motivation=text(f, "motivation"), received=received, camera=camera_id(f),
        start=moment(f, "start"), end=moment(f, "end"),
        reference=text(f, "reference", required=False),
        acts_for=text(f, "acts_for", required=False) or None)
    return done(row, _("Request %(id)s (article 10) taken in; decision due by %(due)s.",
                       id=row["id"], due=local_time(row["decision_due"])),
                url_for("casework.request_detail", req_id=row["id"]), 201)


def _yes(f, name: str) -> bool:
    value = f.get(name)
    if isinstance(value, bool):
        return value
    if value in ("yes", "no"):
        return value == "yes"
    from firmware.web.routes import field_label
    error = InputError(_("'%(field)s' is yes or no (true or false in JSON)",
                         field=field_label(name)))
    error.field = name
    raise error


@bp.route("/requests/<int:req_id>/decision", methods=["POST"])
@bp.route("/api/requests/<int:req_id>/decision", methods=["POST"], endpoint="api_request_decide")
@rule(Action.REQUEST_DECIDE)
@keeps_form("casework.request_detail")
def request_decide(req_id: int):
    f = fields()
    row = gov().requests(nvr()["store"]).decide(g.actor, req_id, approve=_yes(f, "approve"),
                                                reason=text(f, "reason"),
                                                weighing=text(f, "weighing", required=False),
                                                blur=text(f, "blur", required=False))
    message = (_("Request %(id)s approved.", id=req_id) if row["status"] == "approved"
               else _("Request %(id)s refused.", id=req_id))
    return done(row, message,
                url_for("casework.request_detail", req_id=req_id))


@bp.route("/requests/<int:req_id>/identity", methods=["POST"])
@bp.route("/api/requests/<int:req_id>/identity", methods=["POST"], endpoint="api_request_identity")
@rule(Action.IDENTIFY)
@keeps_form("casework.request_detail")
def request_identity(req_id: int):
    """Art. 10 lid 4: the document type and its last digits (a free `method` is refused);
    art. 9 lid 3: the officer too (governance chooses by the request's article)."""
    f = fields()
    row = gov().requests(nvr()["store"]).record_identity(
        g.actor, req_id, text(f, "method", required=False),
        officer=text(f, "officer", required=False),
        document_type=text(f, "document_type", required=False),
        last_digits=text(f, "last_digits", required=False))
    return done(row, _("Identity recorded."), url_for("casework.request_detail", req_id=req_id))


@bp.route("/requests/<int:req_id>/declaration", methods=["POST"])
@bp.route("/api/requests/<int:req_id>/declaration", methods=["POST"],
          endpoint="api_request_declaration")
@rule(Action.IDENTIFY)
@keeps_form("casework.request_detail")
def request_declaration(req_id: int):
    row = gov().requests(nvr()["store"]).record_declaration(g.actor, req_id,
                                                            text(fields(), "signed_by"))
    return done(row, _("Signed declaration recorded."),
                url_for("casework.request_detail", req_id=req_id))


@bp.route("/requests/<int:req_id>/declaration.pdf")
@rule(Action.IDENTIFY)
def request_declaration_pdf(req_id: int):
    """R-73: the viewing declaration, pre-filled with the segments to be shown and their
    SHA-256, printed for the requester to sign."""
    with tempfile.TemporaryDirectory() as tmp:          # a form, not footage
        out = Path(tmp) / "v.pdf"
        device = nvr()["cfg"].device
        if gov().requests(nvr()["store"]).show(req_id)["article"] == 10:   # once approved
            article10_declaration_file(gov(), g.actor, nvr()["cfg"], nvr()["store"], req_id,
                                       out)
        else:
            request_declaration_file(gov(), g.actor, nvr()["store"], req_id,
                                     device.name or device.id, out)
        pdf = out.read_bytes()
    return send_file(io.BytesIO(pdf), mimetype="application/pdf",
                     download_name=f"verklaring-verzoek-{req_id}.pdf")


@bp.route("/requests/<int:req_id>/close", methods=["POST"])
@bp.route("/api/requests/<int:req_id>/close", methods=["POST"], endpoint="api_request_close")
@rule(Action.REQUEST_READ)
def request_close(req_id: int):
    """Confirmed, with the reason the Logboek Inzien records (R-74); releases the request's
    hold (R-41)."""
    def close(reason: str):
        row = gov().requests(nvr()["store"]).close(g.actor, req_id, reason)
        return done(row, _("Request %(id)s closed; its hold is released.", id=req_id),
                    url_for("casework.request_detail", req_id=req_id))
    back = url_for("casework.request_detail", req_id=req_id)
    return confirm_step(close, title=_("Close request %(id)s", id=req_id),
                        consequence=_("Closing ends the handling of this request and releases "
                                      "its hold: the footage falls under the retention period "
                                      "again. This cannot be undone."),
                        button=_("Close request"), back=back)

