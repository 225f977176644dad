"""Art. 12 (R-80): decisions in situations the regulation does not foresee.

"Als er iets gebeurt waar deze regeling niets over zegt, beslist gemeentesecretaris/ algemeen
directeur. Hij of zij doet dit na advies van de privacy officer en de functionaris
gegevensbescherming." The procedure, one step at a time, each from its own authenticated
account:

1. a question is opened (anyone with a task in the regulation);
2. the privacy officer and the functionaris gegevensbescherming each give their advice, from
   their own accounts; two different people, each advice once;
3. only then the decision is recorded: by the eindverantwoordelijke of art. 2 (the role
   `eindverantwoordelijke`), or by the manager bedrijfsvoering, to whom art. 3 lid 1 delegates
   the task, on the eindverantwoordelijke's behalf and naming them.

Which step an account may take is asked of `roles.decide` (the actions ADVISE_PRIVACY,
ADVISE_FG, DECISION_TAKE, DECISION_RECORD_FOR); this module never looks at a role. Opening and
advice are in the usage logbook; the decision, with the question and both advices, in both
logbooks (R-50, R-51). The records live in tables of their own (`decisions`, `decision_advice`),
so devices with earlier firmware only gain tables.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from firmware.governance.access import require, visible_length
from firmware.governance.logbook import Logbook
from firmware.governance.roles import Action, Actor, decide
from firmware.i18n import _

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id          INTEGER PRIMARY KEY,
    question    TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    opened      REAL NOT NULL,
    decision    TEXT,
    decided_by  TEXT,           -- the eindverantwoordelijke (gemeentesecretaris/alg. directeur)
    recorded_by TEXT,           -- the account that recorded it (themselves, or the manager)
    decided_at  REAL
);
CREATE TABLE IF NOT EXISTS decision_advice (
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    kind        TEXT NOT NULL CHECK (kind IN ('privacy-officer', 'fg')),
    adviser     TEXT NOT NULL,
    advice      TEXT NOT NULL,
    given       REAL NOT NULL,
    PRIMARY KEY (decision_id, kind)
);
"""

# The two advices art. 12 asks for, and the permission that gives each.
ADVICE = {"privacy-officer": Action.ADVISE_PRIVACY, "fg": Action.ADVISE_FG}
ADVISERS = {"privacy-officer": "privacy officer", "fg": "functionaris gegevensbescherming"}
MIN_TEXT = 10


class DecisionError(Exception):
    """A step of the art. 12 procedure is refused; the message says what is missing."""


class DecisionRefused(DecisionError):
    """The account's role may not take this step (R-11, art. 12); logged."""


@dataclass
class Decisions:
    db: sqlite3.Connection
    logbook: Logbook

    def __post_init__(self):
        self.db.executescript(SCHEMA)

    def open(self, actor: Actor, question: str) -> dict:
        """Step 1: the situation the regulation says nothing about, in words."""
        require(self.logbook, actor, Action.DECISION_OPEN, DecisionRefused)
        if visible_length(question) < MIN_TEXT:
            raise DecisionError(_("describe the situation the regulation does not provide for, at "
                                  "least %(count)s visible characters (artikel 12, R-80)",
                                  count=MIN_TEXT))
        cur = self.db.execute("INSERT INTO decisions (question, opened_by, opened) "
                              "VALUES (?, ?, ?)", (question.strip(), actor.name, time.time()))
        self.logbook.append("usage", actor.name, "decision-question-opened",
                            subject=f"decision {cur.lastrowid}", reason=question.strip())
        return self.show(cur.lastrowid)

    def advise(self, actor: Actor, decision_id: int, advice: str) -> dict:
        """Step 2: the advice of the privacy officer or of the functionaris
        gegevensbescherming, whichever the account is; each once, by two different people."""
        row = self._open_row(decision_id)
        kinds = [k for k, action in ADVICE.items() if decide(actor, action)]
        if not kinds:
            require(self.logbook, actor, Action.ADVISE_PRIVACY, DecisionRefused)  # logs, raises
        kind = kinds[0]
        if visible_length(advice) < MIN_TEXT:
            raise DecisionError(_("give the advice in words, at least %(count)s visible characters "
                                  "(artikel 12, R-80)", count=MIN_TEXT))
        given = self._advice(decision_id)
        if kind in given:
            raise DecisionError(_("the %(role)s has advised on question %(number)s already "
                                  "(%(adviser)s); that advice stays recorded as it was given "
                                  "(artikel 12)", role=ADVISERS[kind], number=decision_id,
                                  adviser=given[kind]['adviser']))
        if any(a["adviser"] == actor.name for a in given.values()):
            raise DecisionError(_("%(name)s has advised on question %(number)s already: the privacy "
                                  "officer and the functionaris gegevensbescherming are two "
                                  "people (artikel 12)", name=actor.name, number=decision_id))
        self.db.execute("INSERT INTO decision_advice (decision_id, kind, adviser, advice, given) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (row["id"], kind, actor.name, advice.strip(), time.time()))
        self.logbook.append("usage", actor.name, "decision-advice-given",
                            subject=f"decision {decision_id}", reason=advice.strip(),
                            details={"adviser": ADVISERS[kind]})
        return self.show(decision_id)

    def record(self, actor: Actor, decision_id: int, decision: str,
               on_behalf_of: str | None = None) -> dict:
        """Step 3: the decision of the eindverantwoordelijke, after both advices; recorded by
        them, or by the manager bedrijfsvoering naming them (art. 2, art. 3 lid 1, art. 12)."""
        row = self._open_row(decision_id)
        on_behalf_of = (on_behalf_of or "").strip()
        if decide(actor, Action.DECISION_TAKE):
            if on_behalf_of and on_behalf_of != actor.name:
                raise DecisionError(_("the eindverantwoordelijke records their own besluit; leave "
                                      "'on behalf of' empty"))
            decided_by = actor.name
        elif decide(actor, Action.DECISION_RECORD_FOR):
            if not visible_length(on_behalf_of) or on_behalf_of == actor.name:
                raise DecisionError(_("name the municipal secretary/general director on whose behalf "
                                      "you record the besluit (artikel 3 lid 1, artikel 12)"))
            decided_by = on_behalf_of
        else:
            require(self.logbook, actor, Action.DECISION_TAKE, DecisionRefused)  # logs, raises
        given = self._advice(decision_id)
        missing = [ADVISERS[k] for k in ADVICE if k not in given]
        if missing:
            raise DecisionError(_("question %(number)s still lacks the advice of the %(advisers)s: "
                                  "the besluit follows both advices (artikel 12, R-80)",
                                  number=decision_id, advisers=_(" and the ").join(missing)))
        if actor.name in {a["adviser"] for a in given.values()}:
            raise DecisionError(_("%(name)s advised on question %(number)s: an adviser does not also "
                                  "record the besluit (artikel 12)", name=actor.name,
                                  number=decision_id))
        if decided_by.casefold() in {a["adviser"].casefold() for a in given.values()}:
            raise DecisionError(_("%(name)s advised on question %(number)s: an adviser does not also "
                                  "take the besluit (artikel 12)", name=decided_by,
                                  number=decision_id))
        account = self.db.execute("SELECT role FROM users WHERE lower(name) = lower(?) "
                                  "AND role != 'eindverantwoordelijke'",
                                  (decided_by,)).fetchone()
        if decided_by != actor.name and account is not None:
            raise DecisionError(_("%(name)s is the account of a %(role)s, not of the municipal "
                                  "secretary/general director who decides (artikel 2, "
                                  "artikel 12)", name=decided_by, role=account[0]))
        if visible_length(decision) < MIN_TEXT:
            raise DecisionError(_("give the besluit in words, at least %(count)s visible characters "
                                  "(artikel 12, R-80)", count=MIN_TEXT))
        now = time.time()
        self.db.execute("UPDATE decisions SET decision = ?, decided_by = ?, recorded_by = ?, "
                        "decided_at = ? WHERE id = ?",
                        (decision.strip(), decided_by, actor.name, now, decision_id))
        details = {"question": row["question"], "decided_by": decided_by,
                   "recorded_by": actor.name,
                   "advice_privacy_officer": given["privacy-officer"]["advice"],
                   "privacy_officer": given["privacy-officer"]["adviser"],
                   "advice_fg": given["fg"]["advice"], "fg": given["fg"]["adviser"]}
        self.logbook.append("inzien", actor.name, "decision-outside-rules",
                            subject=f"decision {decision_id}", reason=decision.strip(),
                            details=details)
        self.logbook.append("usage", actor.name, "decision-outside-rules",
                            subject=f"decision {decision_id}", reason=decision.strip(),
                            details={"decided_by": decided_by})
        return self.show(decision_id)

    def show(self, decision_id: int) -> dict:
        row = self.db.execute("SELECT * FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        if row is None:
            raise DecisionError(_("there is no question %(number)s outside the regulation "
                                  "(artikel 12): see the list of besluiten", number=decision_id))
        out = dict(row)
        out["status"] = "decided" if row["decided_at"] is not None else "open"
        out["advice"] = self._advice(decision_id)
        return out

    def list(self) -> list[dict]:
        return [self.show(r["id"]) for r in self.db.execute("SELECT id FROM decisions "
                                                            "ORDER BY id")]

    def _open_row(self, decision_id: int):
        row = self.show(decision_id)
        if row["status"] != "open":
            raise DecisionError(_("question %(number)s has been decided already; a new situation is a "
                                  "new question (artikel 12)", number=decision_id))
        return row

    def _advice(self, decision_id: int) -> dict[str, dict]:
        rows = self.db.execute("SELECT kind, adviser, advice, given FROM decision_advice "
                               "WHERE decision_id = ?", (decision_id,))
        return {r["kind"]: dict(r) for r in rows}
