"""What the DPIA / DPO report (R-83) says, gathered from config, store and logbooks.

Everything over the period start..end: who saw footage (per role, per purpose of art. 1), the
exports and who received them (art. 9), the visits of police and prosecutor (art. 5 lid 4), the
beheerder's delegations (art. 5 lid 1), holds (art. 7 lid 1), requests with their status and
deadline (art. 10), storage alarms, and the legal bases. `documents.report_pdf` renders it in
Dutch; the keys `dpia`, `works_council` and `signage` (the introduction's, art. 6 lid 3 and
art. 11) are rendered when present.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from firmware.config import Config
from firmware.governance.access import PURPOSES
from firmware.governance.introduction import (dpia_refusal, dutch_date, today,
                                              works_council_refusal)
from firmware.storage.holds import list_holds
from firmware.storage.store import EncryptedStore

FOOTAGE_ACTIONS = {"live": "live", "playback": "playback", "export": "export",
                   "export-written": "export", "viewing-opened": "inzage",
                   "footage-refused": "refused"}
# The grounds of the camera surveillance (toelichting art. 1) and of sharing (art. 5, art. 9).
LEGAL_BASES = (
    ("art. 6 lid 1 sub e AVG", "taak van algemeen belang: de gemeentelijke taken "
                               "(toelichting art. 1)"),
    ("art. 6 lid 1 sub f AVG", "gerechtvaardigd belang van de gemeente als werkgever "
                               "(toelichting art. 1)"),
    ("art. 126nd Sv", "vordering door de officier van justitie (art. 5 lid 3, art. 9)"),
    ("art. 126nda Sv", "vordering door de politie (art. 5 lid 3, art. 9)"),
)


def _within(t: float | None, start: float, end: float) -> bool:
    return t is not None and start <= t <= end


def _footage_access(gov, start: float, end: float) -> tuple[dict, dict]:
    """Footage accesses in the period per role and per purpose of art. 1 (R-01)."""
    by_role: dict[str, Counter] = defaultdict(Counter)
    by_purpose: Counter = Counter()
    for e in gov.logbook.entries("usage"):
        if not (start <= e["at"] <= end and e["action"] in FOOTAGE_ACTIONS):
            continue
        user = gov.accounts.get(e["actor"])
        role = user.role.value if user else "bezoek politie/OM"
        by_role[role][FOOTAGE_ACTIONS[e["action"]]] += 1
        if e["action"] not in ("footage-refused", "export-written"):
            purpose = json.loads(e["details"] or "{}").get("purpose")
            by_purpose[purpose or "none"] += 1
    return {k: dict(v) for k, v in by_role.items()}, dict(by_purpose)


def _exports(gov, requests: dict[int, dict], start: float, end: float) -> list[dict]:
    from firmware.export.service import list_exports
    out = []
    for x in list_exports(gov.accounts.db):
        if not _within(x["made"], start, end):
            continue
        req = requests.get(x["request_id"], {})
        out.append({"made": x["made"], "made_by": x["made_by"], "camera_id": x["camera_id"],
                    "start": x["start"], "end": x["end"], "files": len(x["files"]),
                    "reference": req.get("reference", ""),
                    "requester": req.get("requester", ""),
                    # art. 9 lid 2-4: who received it, on which medium, when (handover.py)
                    "recipient": (x.get("handover") or {}).get("recipient"),
                    "medium": (x.get("handover") or {}).get("medium"),
                    "handed_over_at": (x.get("handover") or {}).get("handed_over_at"),
                    "legal_basis": req.get("legal_basis"),
                    "declaration_signed_by": req.get("declaration_signed_by"),
                    "declaration_at": req.get("declaration_at")})
    return out


def _in_time(r: dict) -> str:
    if r["article"] == 9:
        return "n.v.t."
    if r["decided_at"] is None:
        return "te laat" if r["overdue"] else "nog open"
    return "op tijd" if r["decided_at"] <= r["decision_due"] else "te laat"


def introduction_data(cfg: Config) -> dict:
    """The DPIA (the regulation's introduction), the works council's approval per camera with
    staff in view (art. 11) and where the signs hang (art. 6 lid 3); `refused` says in Dutch
    why recording waits, '' when it does not."""
    on, intro = today(cfg), cfg.introduction
    dpia = dpia_refusal(cfg, on)
    council = []
    for c in cfg.cameras:
        if c.staff_in_view:
            refused = works_council_refusal(c, on)
            council.append({"camera": c.id, "name": c.name, "location": c.location,
                            "reference": c.works_council_reference,
                            "date": c.works_council_date,
                            "date_text": dutch_date(c.works_council_date),
                            "refused": refused[1] if refused else ""})
    return {"dpia": {"reference": intro.dpia_reference, "date": intro.dpia_date,
                     "date_text": dutch_date(intro.dpia_date),
                     "refused": dpia[1] if dpia else ""},
            "works_council": council, "signage": list(intro.signage)}


def report_data(cfg: Config, store: EncryptedStore, gov, start: float, end: float) -> dict:
    cameras = [{"id": c.id, "name": c.name, "location": c.location,
                "masks": len(c.privacy_masks), "staff_in_view": c.staff_in_view,
                "works_council": (f"{c.works_council_reference} ({c.works_council_date})"
                                  if c.works_council_reference else "")}
               for c in cfg.cameras]
    horizon = store.horizon()
    holds = [h for h in list_holds(store)
             if h["created"] <= end and (h["released"] is None or h["released"] >= start)]
    access, purposes = _footage_access(gov, start, end)
    all_requests = {r["id"]: r for r in gov.requests(store).list()}
    requests = [{**r, "in_time": _in_time(r)} for r in all_requests.values()
                if _within(r["received"], start, end)
                or (r["status"] in ("open", "registered", "approved") and r["received"] <= end)]
    overdue = [r for r in requests if r["in_time"] == "te laat"]
    visits = [{**v, "cameras": json.loads(v["cameras"])} for v in gov.grants.list_visits()
              if v["opened"] <= end and (v["closed"] or v["expires"]) >= start]
    delegations = [{**d, "actions": json.loads(d["actions"]),
                    "cameras": json.loads(d["cameras"])}
                   for d in gov.grants.list_delegations()
                   if d["granted"] <= end and (d["revoked"] or d["expires"]) >= start]
    verification = gov.logbook.verify()
    return {**introduction_data(cfg),
            "device": {"id": cfg.device.id, "name": cfg.device.name,
                       "timezone": cfg.device.timezone},
            "cameras": cameras, "retention_days": cfg.storage.retention_days,
            "horizon_days": None if horizon is None else horizon / 86400,
            "segments": len(store.list_segments()), "holds": holds,
            "access": access, "purposes": {"defined": PURPOSES, "used": purposes},
            "legal_bases": LEGAL_BASES, "requests": requests, "overdue": overdue,
            "exports": _exports(gov, all_requests, start, end), "visits": visits,
            "delegations": delegations, "alarms": store.alarms(),
            "logbook_ok": verification.ok,
            "logbook_problems": [str(p) for p in verification.problems]}
