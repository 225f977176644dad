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
    """R-73 (and R-62 without an export): the declaration for a request, listing the segment
    files of its window with their SHA-256; returns how many."""
    from firmware.governance.documents import declaration_pdf, file_sha256
    require(gov.logbook, actor, Action.IDENTIFY, Refused)
    req = gov.requests(store).show(req_id)
    segments = [{**s, "sha256": file_sha256(store.data_dir / s["path"])}
                for s in store.list_segments(req["camera_id"], req["start"], req["end"])]
    declaration_pdf(req, segments, device, out)
    gov.logbook.append("inzien", actor.name, "declaration-printed", subject=f"request {req_id}",
                       details={"files": len(segments)})
    return len(segments)


def export_declaration_file(gov: Governance, actor: Actor, store, export: dict, device: str,
                            out: Path) -> None:
    """R-62: the declaration for an export, with every file's and the archive's SHA-256."""
    from firmware.governance.documents import declaration_pdf
    require(gov.logbook, actor, Action.EXPORT, Refused, camera=export["camera_id"])
    req = gov.requests(store).show(export["request_id"])
    files = [{"id": f["name"], "start": f["start"], "end": f["end"], "sha256": f["sha256"]}
             for f in export["files"]]
    declaration_pdf(req, files, device, out, archive=export["archive"])
    gov.logbook.append("inzien", actor.name, "declaration-printed",
                       subject=f"request {req['id']}", details={"export": export["id"]})
