"""What the DPIA / DPO report (R-83) says, gathered from config, store and logbooks."""

from __future__ import annotations

from collections import Counter, defaultdict

from firmware.config import Config
from firmware.governance.introduction import (dpia_refusal, dutch_date, today,
                                              works_council_refusal)
from firmware.storage.holds import list_holds
from firmware.storage.store import EncryptedStore

FOOTAGE_ACTIONS = {"live": "live", "playback": "playback", "export": "export",
                   "footage-refused": "refused"}


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
    cameras = [{"id": c.id, "location": c.location, "masks": len(c.privacy_masks),
                "staff_in_view": c.staff_in_view,
                "works_council": (f"{c.works_council_reference} ({c.works_council_date})"
                                  if c.works_council_reference else "")}
               for c in cfg.cameras]
    horizon = store.horizon()
    holds = [h for h in list_holds(store)
             if h["created"] <= end and (h["released"] is None or h["released"] >= start)]
    access: dict[str, Counter] = defaultdict(Counter)
    for e in gov.logbook.entries("usage"):
        if start <= e["at"] <= end and e["action"] in FOOTAGE_ACTIONS:
            user = gov.accounts.get(e["actor"])
            role = user.role.value if user else "bezoek politie/OM"
            access[role][FOOTAGE_ACTIONS[e["action"]]] += 1
    requests = []
    for r in gov.requests(store).list():
        if not start <= r["received"] <= end:
            continue
        if r["article"] == 9:
            in_time = "n.v.t."
        elif r["decided_at"] is None:
            in_time = "te laat" if r["overdue"] else "open"
        else:
            in_time = "ja" if r["decided_at"] <= r["decision_due"] else "nee"
        requests.append({**r, "in_time": in_time})
    verification = gov.logbook.verify()
    return {**introduction_data(cfg), "cameras": cameras,
            "retention_days": cfg.storage.retention_days,
            "horizon_days": None if horizon is None else horizon / 86400,
            "segments": len(store.list_segments()), "holds": holds,
            "access": {k: dict(v) for k, v in access.items()}, "requests": requests,
            "logbook_ok": verification.ok,
            "logbook_problems": [str(p) for p in verification.problems]}
