"""Exports for police and prosecutor (R-60..R-62): from a registered art. 9 request, after the
officer's identity and signed declaration (art. 9 lid 3-4, checked in make_package), to a
password-protected package on the export medium, its handover, and the art. 9 declaration.

The export page of a request (`request_page`) shows the sticks exportd offers and formats,
unlocks and ejects them through the export helper (firmware/export/helpers.py); the package is
written in a background thread (web/export_jobs.py) whose progress the page polls. Every answer
of the app is `Cache-Control: no-store` (web/__init__.py), so a password shown once does not
come back from a cache or the back button."""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path

from flask import (Blueprint, current_app, g, make_response, redirect, render_template, send_file,
                   session, url_for)

from firmware.export import media_log
from firmware.export.helpers import ExportError, helper_for
from firmware.export.service import hand_over, list_exports, show_export
from firmware.governance.handover import officer_record
from firmware.governance.paperwork import export_declaration_file
from firmware.governance.requests import RequestError
from firmware.i18n import _, lazy_gettext
from firmware.web.export_jobs import DONE, FAILED, INTERRUPTED, Busy, Job, Jobs
from firmware.web.routes import (Action, FormState, InputError, done, field_label, fields,
                                 footage_client, gov, integer, is_api, keeps_form, local_time,
                                 moment, nvr, reply, rule, text)

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
    only a hint for the page: make_package refuses without them."""
    record = officer_record(db, req_id)
    return bool(record and record["declaration_signed_by"])


@bp.route("/api/exports", methods=["POST"], endpoint="api_create")
@rule(Action.EXPORT)
@footage_client
def create():
    """The evidence package of a registered art. 9 request onto the one unlocked stick,
    written while the API waits (the page writes it in the background: `start`): the same
    `make_package` as the page and the CLI. The answer is what the export's result shows, with
    a generated 7z password once. API only: a page form posting here would lose that password
    in a redirect, so the pages export through `start` and its status page."""
    from firmware.export.service import make_package
    f = fields()
    cfg = nvr()["cfg"]
    req = _art9(integer(f, "request"))
    reason = text(f, "reason")
    begin, end = _window(f, req)
    typed = _typed_password(f) if f.get("password") else None
    try:
        export = make_package(gov(), nvr()["store"], g.actor, request_id=req["id"],
                              camera=req["camera_id"], start=begin, end=end,
                              helper=helper_for(cfg), reason=reason, password=typed,
                              device=cfg.device.name or cfg.device.id, zone=cfg.device.timezone)
    except (ExportError, RequestError) as exc:
        raise InputError(str(exc)) from None
    return {**_result(export), **({"password": export["password"]}
                                  if "password" in export else {})}, 201


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


# --- the export page of an art. 9 request: sticks, progress, result (issue 13) -----------------

# The words for what exportd (or the development directory) says a stick is and in which state.
KINDS = {"luks2": lazy_gettext("LUKS2, encrypted (the package as files)"),
         "plain": lazy_gettext("encrypts in hardware (keypad stick; the package in a 7z "
                               "archive with a password)"),
         "blank": lazy_gettext("empty: format it first"),
         "luks1": lazy_gettext("LUKS1: not supported, format it as LUKS2")}
STATES = {"locked": lazy_gettext("locked"), "unlocked": lazy_gettext("unlocked"),
          "busy": lazy_gettext("being written")}


def jobs() -> Jobs:
    """This web process's background exports (one registry per app)."""
    return nvr().setdefault("export_jobs", Jobs())


# The session remembers, per request, the export its person started last: {request id:
# [web process, started]}. Jobs live in memory; a restarted web process (another
# `Jobs.process`) no longer knows the job and says what became of it (`_gone`).
STARTED = "export_started"


def _remember(job: Job) -> None:
    session[STARTED] = {**(session.get(STARTED) or {}),
                        str(job.request_id): [jobs().process, job.started]}


def _job(req_id: int) -> tuple[Job | None, dict | None]:
    """The export of `req_id` this person started in this web process; or, when their session
    remembers one started by an earlier web process, what became of it (`_gone`)."""
    job = jobs().latest(req_id, g.actor.name)
    mark = (session.get(STARTED) or {}).get(str(req_id))
    if (isinstance(mark, list) and len(mark) == 2 and mark[0] != jobs().process
            and (job is None or job.started < mark[1])):
        return None, _gone(req_id, float(mark[1]))
    return job, None


def _gone(req_id: int, started: float) -> dict:
    """An export started by a web process that has restarted since: written, when it was
    recorded (with its package) before the restart; otherwise interrupted, with nothing that
    verifies on the stick (the package is renamed into place only when complete)."""
    reqs = gov().requests(nvr()["store"])
    made = [e for e in list_exports(reqs.db) if e["request_id"] == req_id and e["archive"]
            and e["made_by"] == g.actor.name and e["made"] >= started - 1]
    back = url_for("exports.request_page", req_id=req_id)
    if made:
        return {"state": DONE, "export": made[-1]["id"], "request_url": back,
                "message": _("Export %(number)s of this request was written before the web "
                             "interface restarted; its result can no longer be shown here: "
                             "see the list of exports. A password the device generated for "
                             "it was not kept: if it was not noted, export again.",
                             number=made[-1]["id"])}
    return {"state": INTERRUPTED, "export": None, "request_url": back,
            "error": _("The export was interrupted (the web interface restarted); there is no "
                       "valid package on the stick. Start the export again.")}


def _art9(req_id: int) -> dict:
    """The registered art. 9 request `req_id` (R-60), or a message saying why it is not one."""
    req = gov().requests(nvr()["store"]).show(req_id)
    if req["article"] != 9:
        raise InputError(_("request %(number)s is an article 10 request: only a written request "
                           "of police or public prosecutor (article 9) is exported (R-60)",
                           number=req_id))
    if req["status"] != "registered":
        raise InputError(_("request %(number)s is %(status)s: only a registered article 9 "
                           "request is exported (R-60)", number=req_id,
                           status=str(DUTCH_STATUS.get(req["status"], req["status"]))))
    return req


DUTCH_STATUS = {"closed": lazy_gettext("closed"), "refused": lazy_gettext("refused"),
                "open": lazy_gettext("in progress"), "approved": lazy_gettext("granted")}


def _sticks(helper) -> tuple[list[dict], str]:
    """The sticks the helper offers, each with the text that confirms its formatting; or none
    and the message why (exportd not running, ...)."""
    try:
        sticks = [dict(s) for s in helper.devices()]
        for s in sticks:
            s["confirmation"] = helper.confirmation(s["device"])
            s["kind_text"] = str(KINDS.get(s.get("kind"), s.get("kind", "")))
            s["state_text"] = str(STATES.get(s.get("state"), s.get("state", "")))
    except ExportError as exc:
        return [], str(exc)
    return sticks, ""


@bp.route("/requests/<int:req_id>/export")
@bp.route("/api/requests/<int:req_id>/export", endpoint="api_request_page")
@rule(Action.EXPORT)
def request_page(req_id: int):
    """The export of one art. 9 request: the request, whether identity and declaration are
    recorded, the sticks with their forms, the export form and the export under way."""
    req = _art9(req_id)
    session.pop(FORMATTED, None)        # the sticks' state is seen: a new format may be asked
    sticks, problem = _sticks(helper_for(nvr()["cfg"]))
    job = jobs().latest(req_id, g.actor.name)
    reqs = gov().requests(nvr()["store"])
    data = {"request": {k: req[k] for k in ("id", "reference", "requester", "camera_id",
                                             "start", "end", "status")},
            "ready": _ready(reqs.db, req_id), "sticks": sticks, "problem": problem,
            "job": job.status() if job else None}
    zone = nvr()["cfg"].device.timezone
    window = {"start": _local_input(req["start"], zone),
              "end": _local_input(math.ceil(req["end"] / 60) * 60, zone)}   # whole minutes
    return reply("export_request.html", data, req=req, window=window,
                 start_local=local_time(req["start"]), end_local=local_time(req["end"]),
                 seven_z=any(s.get("package") == "7z" for s in sticks
                             if s.get("state") == "unlocked"))


def _local_input(t: float, zone: str) -> str:
    """A time as a datetime-local field shows it (the device's time zone)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    return datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def _stick_error(exc: ExportError, field: str | None = None) -> InputError:
    error = InputError(str(exc))
    error.field = field
    return error


def _typed_password(f, name: str = "password") -> str:
    """A password a person typed (never stripped, never echoed back): at least 16 characters
    (export/passwords.py `check_typed`, item 2)."""
    from firmware.export import passwords
    value = f.get(name) or ""
    if not isinstance(value, str):
        raise InputError(_("'%(field)s' is text", field=field_label("password")))
    try:
        passwords.check_typed(value)
    except (ValueError, ExportError) as exc:
        error = InputError(str(exc))
        error.field = name
        raise error from None
    return value


def _offered(helper, device: str) -> dict:
    sticks, problem = _sticks(helper)
    if problem:
        raise InputError(problem)
    for s in sticks:
        if s["device"] == device:
            return s
    error = InputError(_("there is no USB stick %(device)s (any more): insert it again and "
                         "reload the page", device=device))
    error.field = "device"
    raise error


@bp.route("/requests/<int:req_id>/export/format", methods=["POST"])
@rule(Action.EXPORT)
@keeps_form("exports.request_page")
def format_stick(req_id: int):
    """Formatteren: erases the stick and makes it LUKS2 (exportd), after the person typed the
    confirmation naming device, model and size exactly; the password is generated unless one is
    typed, and a generated one is shown once on the answer to this POST (never in a URL).
    Logged in the usage logbook (export/media_log.py), as unlocking and ejecting are."""
    from firmware.export import passwords
    _art9(req_id)
    f = fields()
    helper = helper_for(nvr()["cfg"])
    stick = _offered(helper, text(f, "device"))
    if stick["device"] in session.get(FORMATTED, []):
        # The same form sent again (the browser's reload of the password page): formatting
        # again would erase the stick under a new password (redteam13, R-61).
        raise InputError(_("this form was sent already: %(device)s was formatted just now and "
                           "its password shown once. To format it again, open the export "
                           "page anew and confirm again.", device=stick["device"]))
    confirmation = f.get("confirmation") or ""
    if confirmation != stick["confirmation"]:
        error = InputError(_("formatting erases everything on %(device)s: type exactly "
                             "\"%(confirmation)s\" to confirm", device=stick["device"],
                             confirmation=stick["confirmation"]))
        error.field = "confirmation"
        raise error
    typed = f.get("password_choice") == "typed"
    password = _typed_password(f) if typed else passwords.generate()
    try:
        media_log.format_stick(gov(), g.actor, helper, stick["device"], confirmation, password)
    except ExportError as exc:
        raise _stick_error(exc) from None
    session[FORMATTED] = [*session.get(FORMATTED, []), stick["device"]]
    if typed:
        return done({"device": stick["device"]}, _(
            "USB stick %(device)s is formatted (LUKS2) with the password you typed; unlock it "
            "to write the export.", device=stick["device"]),
                    url_for("exports.request_page", req_id=req_id))
    return make_response(render_template("export_password.html", password=password,
                                         stick=stick, req_id=req_id, formatted=True))


FORMATTED = "export_formatted"       # session: sticks formatted since the export page was shown


@bp.route("/requests/<int:req_id>/export/unlock", methods=["POST"])
@rule(Action.EXPORT)
@keeps_form("exports.request_page")
def unlock_stick(req_id: int):
    """Ontgrendelen: opens a LUKS2 stick with the typed password and mounts it (exportd)."""
    _art9(req_id)
    f = fields()
    helper = helper_for(nvr()["cfg"])
    stick = _offered(helper, text(f, "device"))
    password = f.get("password") or ""
    if not isinstance(password, str) or not password:
        error = InputError(_("fill in '%(field)s': this field is required",
                             field=field_label("password")))
        error.field = "password"
        raise error
    try:
        media_log.unlock_stick(gov(), g.actor, helper, stick["device"], password)
    except ExportError as exc:
        raise _stick_error(exc, "password") from None
    return done({"device": stick["device"]}, _("USB stick %(device)s is unlocked.",
                                               device=stick["device"]),
                url_for("exports.request_page", req_id=req_id))


@bp.route("/requests/<int:req_id>/export/eject", methods=["POST"])
@rule(Action.EXPORT)
@keeps_form("exports.request_page")
def eject_stick(req_id: int):
    """Uitwerpen: sync, unmount and lock (exportd); refused while an export writes to it."""
    _art9(req_id)
    helper = helper_for(nvr()["cfg"])
    stick = _offered(helper, text(fields(), "device"))
    if any(j.device == stick["device"] for j in jobs().running()):
        raise InputError(_("the USB stick %(device)s is being written: wait until the export "
                           "is done, then eject it", device=stick["device"]))
    try:
        ejected = media_log.eject_stick(gov(), g.actor, helper, stick["device"])
    except ExportError as exc:
        raise _stick_error(exc) from None
    message = _("USB stick %(device)s is ejected and locked: pull it out now.",
                device=stick["device"])
    if ejected.get("ejected") is False:          # the development folder says it stays
        message = ejected.get("message") or message
    return done({"device": stick["device"]}, message,
                url_for("exports.request_page", req_id=req_id))


def _target(helper) -> dict:
    """The one unlocked stick the package goes to; none or two are refused (issue 13 faults)."""
    sticks, problem = _sticks(helper)
    if problem:
        raise InputError(problem)
    unlocked = [s for s in sticks if s.get("state") == "unlocked"]
    if not unlocked:
        raise InputError(_("no unlocked USB stick: insert the export stick, unlock it (or "
                           "format a new one) on this page, then export again"))
    if len(unlocked) > 1:
        raise InputError(_("more than one USB stick is unlocked (%(devices)s): eject the one "
                           "that is not for this export and try again",
                           devices=", ".join(s["device"] for s in unlocked)))
    return unlocked[0]


def _window(f, req: dict) -> tuple[float, float]:
    """The window asked on the form, the request's when left empty. The fields hold minutes
    (datetime-local), so the request's own window shows rounded: a start or end within the
    minute around the request's is taken as the request's (the rule, authorize_export, still
    refuses anything outside it)."""
    begin = moment(f, "start") if text(f, "start", required=False) else req["start"]
    end = moment(f, "end") if text(f, "end", required=False) else req["end"]
    if 0 < req["start"] - begin < 60:
        begin = req["start"]
    if 0 < end - req["end"] < 60:
        end = req["end"]
    return begin, end


@bp.route("/requests/<int:req_id>/export", methods=["POST"])
@bp.route("/api/requests/<int:req_id>/export/start", methods=["POST"], endpoint="api_start")
@rule(Action.EXPORT)
@footage_client
@keeps_form("exports.request_page")
def start(req_id: int):
    """Exporteren: the package for the request's camera and window (narrowed if asked) is
    written onto the unlocked stick in a background thread; the answer is its status page.
    The reason is asked and logged with the export (make_package)."""
    from firmware.export.service import make_package
    from firmware.governance.service import Governance
    req = _art9(req_id)
    f = fields()
    reason = text(f, "reason")
    begin, end = _window(f, req)
    if not _ready(gov().requests(nvr()["store"]).db, req_id):
        raise InputError(_("first record the identity and the signed declaration of the "
                           "recipient on the page of the request (article 9 paragraphs 3 and "
                           "4)"))
    cfg, store, actor = nvr()["cfg"], nvr()["store"], g.actor
    app = current_app._get_current_object()
    helper = helper_for(cfg)
    stick = _target(helper)
    typed = _typed_password(f) if f.get("password") else None

    def work(progress):
        with app.test_request_context():        # messages of the rules in Dutch
            governance = Governance.open(cfg)
            try:
                return make_package(governance, store, actor, request_id=req_id,
                                    camera=req["camera_id"], start=begin, end=end,
                                    helper=helper, reason=reason, password=typed,
                                    progress=progress, device=cfg.device.name or cfg.device.id,
                                    zone=cfg.device.timezone)
            except (ExportError, RequestError):      # a rule's words, as they are
                raise
            except Exception as exc:           # noqa: BLE001 - said, not swallowed
                raise RuntimeError(_(
                    "the export stopped unexpectedly (%(problem)s); nothing that verifies was "
                    "left on the stick. Try again, and tell the technisch beheerder if it "
                    "stays.", problem=exc)) from None
            finally:
                governance.close()

    form = {k: f.get(k) or "" for k in ("reason", "start", "end")}
    try:
        job = jobs().start(request_id=req_id, device=stick["device"], user=actor.name,
                           form=form, work=work)
    except Busy as exc:
        raise InputError(str(exc)) from None
    _remember(job)
    status_url = url_for("exports.status_page", req_id=req_id)
    if is_api():
        return {**job.status(), "status_url": url_for("exports.api_status", req_id=req_id)}, 202
    return redirect(status_url, 303)


@bp.route("/api/requests/<int:req_id>/export/status")
@rule(Action.EXPORT, touch=False)
def api_status(req_id: int):
    """What the status page polls: bytes done and total, the state and the error (Dutch);
    never the password. Polling is no activity of the person (R-81)."""
    job, gone = _job(req_id)
    if gone is not None:                # started by a web process that has restarted since
        return gone
    if job is None:
        return {"error": _("no export of request %(number)s was started here by you",
                           number=req_id)}, 404
    return job.status()


@bp.route("/api/requests/<int:req_id>/export/result")
@rule(Action.EXPORT)
def api_result(req_id: int):
    """The API's end of an export: what the result page shows, a generated password included
    once (the next call has none); 404 while running or when none was started."""
    job, gone = _job(req_id)
    if gone is not None:
        return {**gone, "error": gone.get("error") or gone["message"]}, 404
    if job is None or job.state != DONE:
        return {"error": _("no finished export of request %(number)s was started here by you",
                           number=req_id)}, 404
    result = _result(job.result)
    password = jobs().take_password(job)
    return {**result, **({"password": password} if password else {})}


@bp.route("/requests/<int:req_id>/export/status")
@rule(Action.EXPORT)
def status_page(req_id: int):
    """The export under way (a progress bar; the page refreshes itself without JavaScript),
    then its result: the package's path, the manifest's SHA-256, the device key's fingerprint,
    the link to the declaration and, once, a generated password. A failed export shows the
    request's page again with the form filled in and the message."""
    job, gone = _job(req_id)
    if gone is not None:                # started by a web process that has restarted since
        return render_template("export_gone.html", gone=gone, req_id=req_id)
    if job is None:
        return redirect(url_for("exports.request_page", req_id=req_id))
    if job.state == FAILED:
        g.form_state = FormState("exports.start", job.form, None, job.error)
        return request_page(req_id=req_id)
    result, password = {}, None
    if job.state == DONE:
        result = _result(job.result)
        password = jobs().take_password(job)
    return render_template("export_status.html", job=job, req_id=req_id, result=result,
                           password=password,
                           done_text=_size(job.done_bytes), total_text=_size(job.total_bytes))


def _result(export: dict) -> dict:
    archive = export.get("archive") or {}
    package = export.get("package") or {}
    return {"id": export.get("id"), "path": export.get("path") or archive.get("path"),
            "manifest_sha256": (export.get("manifest_sha256") or package.get("manifest_sha256")
                                or archive.get("sha256")),
            "fingerprint": archive.get("fingerprint"), "bytes": export.get("bytes"),
            "files": export.get("files") or [],
            **({"archive_sha256": archive["archive_sha256"]}
               if archive.get("archive_sha256") else {})}


def _size(n: int) -> str:
    """Megabytes as written here (a decimal comma)."""
    return f"{n / 1e6:.1f} MB".replace(".", ",")
