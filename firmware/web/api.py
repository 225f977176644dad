"""The JSON API's description: an OpenAPI 3.1 document at /api/openapi.json.

The API is the pages' views answering JSON under /api (same rules, same governance calls).
Login: GET /api/session for the CSRF token, POST /api/login with name and password; later calls
send the session cookie and the token as X-CSRF-Token. A test checks that this document and
the app's URL map list the same operations.
"""

from __future__ import annotations

from flask import Blueprint

from firmware.web.routes import PUBLIC, rule

bp = Blueprint("api", __name__)

_TEXT = {"type": "string"}
_TIME = {"type": "string", "description": "ISO 8601, e.g. 2026-11-29T14:05; without an offset "
                                          "it is the device's local time"}
_LIST = {"type": "array", "items": {"type": "string"}}
_ERROR = {"type": "object", "properties": {"error": _TEXT}, "required": ["error"]}


def _body(required: list[str], **props) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": props, "required": required}}}}


# Undoing a safeguard (issue 11 item 4): a reason the logbook records.
_REASON = _body(["reason"], reason={"type": "string"})


def _op(summary: str, body: dict | None = None, ok: int = 200, public: bool = False,
        content: str = "application/json") -> dict:
    responses = {str(ok): {"description": "done",
                           "content": {content: {"schema": {} if content != "application/json"
                                                 else {"type": ["object", "array"]}}}},
                 "400": {"description": "refused by a rule, or bad input; the error says which",
                         "content": {"application/json": {"schema": _ERROR}}},
                 "404": {"description": "no such thing",
                         "content": {"application/json": {"schema": _ERROR}}}}
    if not public:
        responses["401"] = {"description": "log in first",
                            "content": {"application/json": {"schema": _ERROR}}}
        responses["403"] = {"description": "the role may not (R-11) or no reason stated (R-01)",
                            "content": {"application/json": {"schema": _ERROR}}}
    op = {"summary": summary, "responses": responses}
    if public:
        op["security"] = []
    if body:
        op["requestBody"] = body
    return op


def _path(*params: tuple[str, str]) -> list[dict]:
    return [{"name": n, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 0} if t == "int" else {"type": "string"}}
            for n, t in params]


def _document() -> dict:
    cam, day = ("camera", "str"), ("day", "str")
    paths = {
        "/api/session": {"get": _op("who is logged in, and the CSRF token", public=True)},
        "/api/login": {"post": _op("log in (R-10, R-81)", _body(
            ["name", "password"], name=_TEXT, password=_TEXT, code=_TEXT), public=True)},
        "/api/logout": {"post": _op("log out")},
        "/api/cameras": {"get": _op("cameras, and what the caller may do with each")},
        "/api/work": {"get": _op("the work waiting for the caller's role, overdue first, and "
                                 "the next step of each open request (issue 11 item 5)")},
        "/api/cameras/{camera}/segments/{day}": {
            "parameters": _path(cam, day), "get": _op("segments of one camera on one day")},
        "/api/cameras/{camera}/events/{day}": {
            "parameters": _path(cam, day),
            "get": _op("events of one camera on one day (start, duration, held, request, "
                       "segments, thumbnail)")},
        "/api/cameras/{camera}/access": {
            "parameters": _path(cam), "post": _op(
                "state purpose and reason before footage is shown (R-01); logged",
                _body(["purpose", "reason"], action={"enum": ["playback", "live"]},
                      purpose={"enum": ["safety", "property", "access", "incident"]},
                      reason=_TEXT))},
        "/api/segments/{segment_id}/video": {
            "parameters": _path(("segment_id", "str")),
            "get": _op("one segment as MP4, decrypted into the response", content="video/mp4")},
        "/api/segments/{segment_id}/thumbnail": {
            "parameters": _path(("segment_id", "str")),
            "get": _op("a JPEG of the segment's motion, made in memory; logged as a showing",
                       content="image/jpeg")},
        "/api/holds": {"get": _op("holds (R-41)"),
                       "post": _op("place a hold", _body(
                           ["camera", "start", "end", "reason", "reference"], camera=_TEXT,
                           start=_TIME, end=_TIME, reason=_TEXT, reference=_TEXT), 201)},
        "/api/holds/{hold_id}/release": {"parameters": _path(("hold_id", "int")), "post": _op(
            "release a hold, with the reason the logbook records; not one of a request still "
            "open (close the request)", _REASON)},
        "/api/visits": {"get": _op("visits of police and prosecutor"),
                        "post": _op("register a visit (art. 5.4)", _body(
                            ["visitor", "organisation", "identity", "legal_basis", "reason",
                             "cameras", "start", "end", "minutes"], visitor=_TEXT,
                            organisation=_TEXT, identity=_TEXT,
                            legal_basis={"enum": ["126nd", "126nda"]}, reason=_TEXT,
                            cameras=_LIST, start=_TIME, end=_TIME,
                            minutes={"type": "integer"}), 201)},
        "/api/visits/{visit_id}/close": {"parameters": _path(("visit_id", "int")),
                                         "post": _op("end a visit, with a reason", _REASON)},
        "/api/visits/{visit_id}/start": {"parameters": _path(("visit_id", "int")),
                                         "post": _op("hand this session to the visit")},
        "/api/requests": {"get": _op("requests (art. 9 and 10) with deadlines")},
        "/api/requests/{req_id}": {"parameters": _path(("req_id", "int")),
                                   "get": _op("one request")},
        "/api/requests/art9": {"post": _op("register a written request of police or "
                                           "prosecutor (R-60)", _body(
            ["reference", "requester", "legal_basis", "camera", "start", "end"],
            reference=_TEXT, requester=_TEXT, legal_basis={"enum": ["126nd", "126nda"]},
            camera=_TEXT, start=_TIME, end=_TIME), 201)},
        "/api/requests/art10": {"post": _op("take in a request to view (R-70, R-71)", _body(
            ["requester", "requester_kind", "motivation", "camera", "start", "end"],
            requester=_TEXT, requester_kind={"enum": ["citizen", "company", "insurer", "lawyer",
                                                      "other"]},
            motivation=_TEXT, received=_TIME, camera=_TEXT, start=_TIME, end=_TIME,
            reference=_TEXT, acts_for={"enum": ["defence-of-suspect", "victim", "civil-claim",
                                                "other"]}), 201)},
        "/api/requests/{req_id}/decision": {
            "parameters": _path(("req_id", "int")),
            "post": _op("decide an art. 10 request (R-72)", _body(
                ["approve", "reason"], approve={"type": "boolean"}, reason=_TEXT,
                weighing=_TEXT, blur={"enum": ["none", "detect", "regions"]}))},
        "/api/requests/{req_id}/inzage": {
            "parameters": _path(("req_id", "int")),
            "get": _op("the inzage of an approved art. 10 request: its camera, window and "
                       "segments, each to be played at its url (art. 10 lid 4-5); logged")},
        "/api/requests/{req_id}/identity": {
            "parameters": _path(("req_id", "int")),
            "post": _op("record the in-person identity check: the document type and the last "
                        "2-4 characters of its number, never the full number or a BSN (art. 10 "
                        "lid 4, R-73); art. 9 lid 3 also the officer (R-62)",
                        _body(["document_type", "last_digits"], officer=_TEXT,
                              document_type={"enum": ["dienstpas", "paspoort",
                                                      "identiteitskaart", "rijbewijs",
                                                      "verblijfsdocument"]},
                              last_digits={"type": "string", "pattern": "^[0-9A-Za-z]{2,4}$"}))},
        "/api/requests/{req_id}/declaration": {
            "parameters": _path(("req_id", "int")),
            "post": _op("record the signed declaration (R-62, R-73)",
                        _body(["signed_by"], signed_by=_TEXT))},
        "/api/requests/{req_id}/close": {
            "parameters": _path(("req_id", "int")),
            "post": _op("close a request; its hold is released", _body(["reason"],
                                                                       reason=_TEXT))},
        "/api/exports": {"get": _op("exports made"),
                         "post": _op("write the evidence package of a registered art. 9 "
                                     "request onto the one unlocked stick and wait for it: "
                                     "path, manifest SHA-256, the device key's fingerprint, "
                                     "files, bytes, the 7z's SHA-256 and a generated password "
                                     "once; a typed password has at least 16 characters "
                                     "(R-60..R-62)",
                                     _body(["request", "reason"], request={"type": "integer"},
                                           reason=_TEXT, start=_TIME, end=_TIME,
                                           password=_TEXT), 201)},
        "/api/requests/{req_id}/export": {
            "parameters": _path(("req_id", "int")),
            "get": _op("the export of a registered art. 9 request: whether identity and "
                       "declaration are recorded, the USB sticks exportd offers (device, model, "
                       "size, kind, state) or why none, the export under way (R-60, R-61)")},
        "/api/requests/{req_id}/export/start": {
            "parameters": _path(("req_id", "int")),
            "post": _op("write the evidence package onto the one unlocked stick in the "
                        "background; poll the status (R-60..R-62)",
                        _body(["reason"], reason=_TEXT, start=_TIME, end=_TIME,
                              password=_TEXT), 202)},
        "/api/requests/{req_id}/export/result": {
            "parameters": _path(("req_id", "int")),
            "get": _op("the finished export: path, manifest SHA-256, the device key's "
                       "fingerprint, files, bytes, and a generated password once")},
        "/api/requests/{req_id}/export/status": {
            "parameters": _path(("req_id", "int")),
            "get": _op("the export under way: state (running, done, failed), bytes done and "
                       "total, the error; never a password")},
        "/api/exports/{export_id}/handover": {
            "parameters": _path(("export_id", "int")),
            "post": _op("record the handover of an export to the identified officer: the "
                        "medium's label or serial (art. 9 lid 2-4, R-62)",
                        _body(["medium"], medium=_TEXT))},
        "/api/logbooks/{book}": {
            "parameters": [{"name": "book", "in": "path", "required": True,
                            "schema": {"enum": ["usage", "inzien"]}}],
            "get": _op("logbook entries, newest first (R-50, R-51)")},
        "/api/logbooks/verify": {"get": _op("verify both hash chains and signed heads")},
        "/api/decisions": {
            "get": _op("questions and decisions outside the rules (art. 12, R-80)"),
            "post": _op("open a question for the eindverantwoordelijke (art. 12)",
                        _body(["question"], question=_TEXT), 201)},
        "/api/decisions/{decision_id}/advice": {
            "parameters": _path(("decision_id", "int")),
            "post": _op("the advice of the privacy officer or the FG (art. 12)",
                        _body(["advice"], advice=_TEXT))},
        "/api/decisions/{decision_id}/decision": {
            "parameters": _path(("decision_id", "int")),
            "post": _op("record the decision of the gemeentesecretaris/algemeen directeur, "
                        "after both advices (art. 12, R-80)",
                        _body(["decision"], decision=_TEXT, on_behalf_of=_TEXT))},
        "/api/users": {"get": _op("accounts"),
                       "post": _op("add an account without a password; answers its "
                                   "one-time setup code for the owner (art. 2)",
                                   _body(["name", "role"], name=_TEXT, role=_TEXT), 201)},
        "/api/users/{name}/disable": {"parameters": _path(("name", "str")),
                                      "post": _op("disable an account, with a reason; never "
                                                  "the last technisch beheerder", _REASON)},
        "/api/users/{name}/enable": {"parameters": _path(("name", "str")),
                                     "post": _op("propose a disabled account for use again, "
                                                 "with a reason; a manager approves it",
                                                 _REASON)},
        "/api/users/{name}/reset-code": {"parameters": _path(("name", "str")),
                                         "post": _op("a one-time code for the owner to set a "
                                                     "new password with (art. 2)")},
        "/api/users/{name}/role": {"parameters": _path(("name", "str")),
                                   "post": _op("change an account's role; its sessions end",
                                               _body(["role"], role=_TEXT))},
        "/api/users/pending": {"get": _op("accounts awaiting a manager's approval")},
        "/api/users/{name}/approve": {"parameters": _path(("name", "str")),
                                      "post": _op("approve an account as the role the "
                                                  "manager saw (manager, art. 3.1)",
                                                  _body(["role"], role=_TEXT))},
        "/api/reset": {"post": _op("set a (first) password with a one-time reset or setup "
                                   "code", _body(
            ["name", "code", "password"], name=_TEXT, code=_TEXT, password=_TEXT),
            public=True)},
        "/api/account": {"get": _op("one's own account")},
        "/api/account/password": {"post": _op("change one's own password", _body(
            ["current", "password"], current=_TEXT, password=_TEXT, code=_TEXT))},
        "/api/account/totp": {"post": _op("turn on the second factor; returns the secret",
                                          _body(["password"], password=_TEXT, code=_TEXT))},
        "/api/delegations": {"get": _op("delegations (R-12)"),
                             "post": _op("delegate to a designee", _body(
                                 ["grantee", "actions", "cameras", "reason", "expires"],
                                 grantee=_TEXT, actions=_LIST, cameras=_LIST, reason=_TEXT,
                                 expires=_TIME), 201)},
        "/api/delegations/{delegation_id}/revoke": {
            "parameters": _path(("delegation_id", "int")),
            "post": _op("revoke a delegation, with a reason", _REASON)},
        "/api/system": {"get": _op("cameras, storage, retention horizon, time sync")},
        "/api/openapi.json": {"get": _op("this document", public=True)},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Recorder API", "version": "1",
                 "description": __doc__.strip()},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "nvr_session"}}},
        "security": [{"session": []}],
        "paths": paths,
    }


@bp.route("/api/openapi.json")
@rule(PUBLIC)
def openapi():
    return _document()
