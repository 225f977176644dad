"""The documents people take away, made and logged in one place for the CLI and the web:
logbook exports (R-50, R-51), the DPIA / DPO report (R-83) and the declarations of careful use
(R-62, R-73). Each checks the permission, writes the file and records that it was made.

fpdf2 is imported only here and only when a document is made (it costs the web process 20 MB).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.governance.access import require
from firmware.governance.roles import Action, Actor
from firmware.governance.service import Governance, Refused
from firmware.i18n import _


class PaperworkError(Exception):
    """The document cannot be made as asked; the message says why."""


def logbook_file(gov: Governance, actor: Actor, book: str, fmt: str, cfg, out: Path) -> int:
    """One logbook as CSV or PDF in Dutch, cameras by name and location (`cfg`), with the
    signed statement of its head (the PDF on its first page, and whether the chains verify);
    returns the number of entries written."""
    from firmware.governance.documents import logbook_csv, logbook_pdf
    from firmware.governance.wording import Names, device_label
    require(gov.logbook, actor, Action.LOGBOOK_READ, Refused)
    entries, head = gov.logbook.snapshot(book)
    names = Names.of(cfg)
    if fmt == "csv":
        logbook_csv(entries, out, head, names)
    else:
        logbook_pdf(entries, book, device_label(cfg), gov.logbook.verify().ok, out, head,
                    names)
    gov.logbook.append("usage", actor.name, "logbook-export", subject=book,
                       details={"format": fmt, "entries": len(entries)})
    return len(entries)


def report_file(gov: Governance, actor: Actor, cfg, store, first: date, last: date,
                out: Path) -> Path:
    """The report for the DPIA and the DPO over the days first..last (device time)."""
    from firmware.governance.documents import report_pdf
    from firmware.governance.report import report_data
    from firmware.governance.bounds import report_period
    require(gov.logbook, actor, Action.LOGBOOK_READ, Refused)
    tz = ZoneInfo(cfg.device.timezone)
    report_period(first, last, datetime.now(tz).date(), error=PaperworkError)
    start = datetime(first.year, first.month, first.day, tzinfo=tz).timestamp()
    end = (datetime(last.year, last.month, last.day, tzinfo=tz)
           + timedelta(days=1)).timestamp() - 1
    data = report_data(cfg, store, gov, start, end)
    data.update({"from": first.isoformat(), "to": last.isoformat()})
    report_pdf(data, cfg, out)
    gov.logbook.append("usage", actor.name, "report",
                       details={"from": data["from"], "to": data["to"]})
    return out


def request_declaration_file(gov: Governance, actor: Actor, store, req_id: int, device: str,
                             out: Path) -> int:
    """R-62: the art. 9 declaration of a request, the same document as the web's export
    declaration: that of the request's latest export (the files the recipient gets); returns
    how many files it lists. The art. 10 declaration is `letters.article10_declaration_file`."""
    require(gov.logbook, actor, Action.IDENTIFY, Refused)
    req = gov.requests(store).show(req_id)
    if req["article"] != 9:
        raise PaperworkError(_("request %(number)s is an artikel 10 request: its verklaring is "
                               "the verklaring inzage (artikel 10 lid 5)", number=req_id))
    from firmware.export.service import list_exports
    exports = [e for e in list_exports(gov.requests(store).db) if e["request_id"] == req_id]
    export = exports[-1] if exports else None
    _art9_declaration(gov, actor, store, req, export, device, out)
    return len(export["files"]) if export else 0


def export_declaration_file(gov: Governance, actor: Actor, store, export: dict, device: str,
                            out: Path) -> None:
    """R-62: the declaration for an export, with every file's and the archive's SHA-256."""
    require(gov.logbook, actor, Action.EXPORT, Refused, camera=export["camera_id"])
    req = gov.requests(store).show(export["request_id"])
    _art9_declaration(gov, actor, store, req, export, device, out)


def _art9_declaration(gov: Governance, actor: Actor, store, req: dict, export: dict | None,
                      device: str, out: Path) -> None:
    """The art. 9 declaration (documents.art9_declaration_pdf), made and logged (R-51)."""
    from firmware.governance.documents import art9_declaration_pdf
    from firmware.governance.handover import DOCUMENT_TYPES, handover_of, officer_record
    db = gov.requests(store).db
    officer = officer_record(db, req["id"])
    if officer:
        officer["document_type_text"] = DOCUMENT_TYPES.get(officer["document_type"],
                                                           officer["document_type"])
    camera = db.execute("SELECT name, location FROM cameras WHERE id = ?",
                        (req["camera_id"],)).fetchone()
    art9_declaration_pdf({
        "request": req, "officer": officer, "export": export,
        "handover": handover_of(db, export["id"]) if export else None,
        "camera": camera["name"] if camera else req["camera_id"],
        "location": camera["location"] if camera else "onbekend (camera niet meer ingesteld)",
        "device": device,
        # The device's own key, never the fingerprint stored with the export: anyone with
        # sqlite3 could change that one, and this is the check out of band (redteam13).
        "fingerprint": gov.logbook.signer.fingerprint}, out)
    gov.logbook.append("inzien", actor.name, "declaration-printed",
                       subject=f"request {req['id']}",
                       details={"export": export["id"] if export else None})
