"""The Dutch words for what the firmware keeps in English: logbook actions, the keys of their
details, request statuses and roles; and how a stored time reads for a person.

The words themselves live in the one catalogue (firmware/translations/nl/.../messages.po): each
table maps a code to the English message id of its words (`N_` marks it for the catalogue), and
reading a table (`[]`, `get`, `items`) gives the Dutch of documents and pages (`dutch`);
`Words.said` gives the reader's language instead (Dutch on a page, English on the command line),
for messages raised by the rules.

One place, used by the logbook documents (CSV, PDF), the web logbook page and the DPIA/FG
report, so that a privacy officer reads the same words everywhere. The logbook itself keeps the
English action ids (they are hashed into the chain and must never change); this module only
translates what is shown. `tests/test_paperwork.py` checks that every action the code appends
has a wording here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo

from firmware.capture.tamper_kinds import parse_alarm_kind
from firmware.governance.bounds import when
from firmware.i18n import N_, dutch, gettext


class Words(dict):
    """Codes and the English message ids of their words, read in Dutch (documents, pages)."""

    def __getitem__(self, key: str) -> str:
        return dutch(dict.__getitem__(self, key))

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def values(self) -> list[str]:
        return [self[key] for key in self]

    def items(self) -> list[tuple[str, str]]:
        return [(key, self[key]) for key in self]

    def said(self, key: str, default: str | None = None) -> str | None:
        """The words of `key` in the reader's language (a rule's message: Dutch on a page,
        English on the command line)."""
        return gettext(dict.__getitem__(self, key)) if key in self else default

# Every action written to a logbook, in the regulation's words.
ACTIONS: Words = Words({
    # who used the system (art. 7.2)
    "login": N_("signed in"),
    "login-failed": N_("sign-in failed"),
    "login-throttled": N_("sign-in refused for a while (too many attempts)"),
    "enrollment-refused": N_("first account refused: enrollment code wrong or used"),
    "enrollment-throttled": N_("first account refused for a while (too many wrong enrollment "
                               "codes)"),
    "logout": N_("signed out"),
    "refused": N_("action refused (no authority)"),
    "footage-refused": N_("access to footage refused"),
    "live": N_("live footage watched"),
    "playback": N_("recordings played back"),
    "export": N_("footage exported"),
    "hold-add": N_("hold placed (footage kept longer)"),
    "hold-release": N_("hold released"),
    "user-add": N_("account created"),
    "user-approve": N_("account approved (four eyes)"),
    "user-role": N_("role of account changed"),
    "config-recorded": N_("configuration recorded at the first start (art. 7 lid 2)"),
    "config-change": N_("configuration changed (art. 7 lid 2)"),
    "recorder-restart": N_("recorder started again after an unclean end (crash, watchdog or "
                           "power loss)"),
    "client-issue": N_("certificate issued for a workstation in the secured room (art. 4 lid 1)"),
    "client-revoke": N_("certificate of a workstation revoked (art. 4 lid 1)"),
    "scrape-token-issue": N_("token made for the monitoring of the central room (/metrics)"),
    "scrape-token-revoke": N_("token of the monitoring of the central room revoked"),
    "user-disable": N_("account disabled"),
    "user-enable": N_("account proposed for use again (awaits approval, four eyes)"),
    "user-passwd": N_("own password changed"),
    "user-reset-code": N_("password reset code issued"),
    "user-reset": N_("password reset with a reset code"),
    "totp-enabled": N_("second factor set up"),
    "delegation-grant": N_("delegation by the beheerder granted"),
    "delegation-revoke": N_("delegation revoked"),
    "delegations-ended": N_("delegations ended"),
    "logbook-verify": N_("logbooks verified"),
    "logbook-export": N_("logbook exported"),
    "logbook-break": N_("logbook found not intact when appending"),
    "report": N_("report for the DPIA and the FG made"),
    "decision-question-opened": N_("question outside the regulation put forward (art. 12)"),
    "decision-advice-given": N_("advice on a question outside the regulation given (art. 12)"),
    "decision-outside-rules": N_("decision outside the regulation recorded (art. 12)"),
    # Logboek Inzien Beeldmateriaal (art. 10.6)
    "request-art9-registered": N_("written request of police/prosecutor registered (art. 9)"),
    "request-art10-intake": N_("request for inzage received (art. 10)"),
    "request-art10-refused-at-intake": N_("request for inzage not taken into consideration"),
    "request-approved": N_("request for inzage approved"),
    "request-refused": N_("request for inzage refused"),
    "request-closed": N_("request closed"),
    "identity-checked": N_("identity checked (in person)"),
    "declaration-signed": N_("verklaring signed"),
    "declaration-printed": N_("verklaring printed"),
    "export-authorized": N_("export allowed on an art. 9 request"),
    "export-written": N_("overdracht package written"),
    "export-failed": N_("export failed"),
    # the export sticks (exportfix item 2, export/media_log.py)
    "usb-format": N_("USB stick formatted for exports (LUKS2)"),
    "usb-unlock": N_("USB stick unlocked for an export"),
    "usb-unlock-refused": N_("unlocking a USB stick refused (wrong password or another fault)"),
    "usb-eject": N_("USB stick ejected and locked"),
    "export-handed-over": N_("export handed over to police or prosecutor (art. 9 lid 2-4)"),
    "segment-hashes": N_("recording-time hashes of the segments sealed"),
    "segment-hashes-pruned": N_("recording-time hashes of erased segments removed"),
    "retention-clock-checked": N_("footage erased by a clock declared right by hand (R-40)"),
    "visit-opened": N_("visit of police/prosecutor registered"),
    "visit-closed": N_("visit of police/prosecutor ended"),
    "visit-session-started": N_("session of a visit of police/prosecutor started"),
    "visit-session-ended": N_("session of a visit of police/prosecutor ended"),
    "scan-attached": N_("scan added to a request"),
    "scan-read": N_("scan of a request read"),
    # what was shown (art. 7.2, art. 10.4-6; governance/viewing.py, weighing.py, letters.py)
    "playback-segment-shown": N_("recording shown in playback"),
    "viewing-opened": N_("inzage of a request opened (art. 10)"),
    "viewing-segment-shown": N_("recording shown at an inzage (art. 10)"),
    "request-weighing": N_("weighing of others in view recorded with the besluit"),
    "decision-letter": N_("besluit letter made (art. 10)"),
    # the case tamper switch (system/case.py)
    "case-opened": N_("case of the recorder opened"),
    "case-closed": N_("case of the recorder closed again"),
    "case-tamper-acknowledged": N_("opening of the case acknowledged by the technisch beheerder"),
    # firmware updates (system/update.py, issue 14 item 3)
    "update-install": N_("installation of a firmware update started (bundle checked: signature, "
                         "content, device type, version)"),
    "update-install-failed": N_("installation of a firmware update failed; the running system "
                                "is unchanged"),
})

# The keys of the details of logbook entries, as a label a person reads.
DETAIL_KEYS: Words = Words({
    "action": N_("action"), "actions": N_("actions"), "advice": N_("advice"),
    "archive_sha256": N_("SHA-256 of the package"), "awaits_approval": N_("awaits approval"),
    "because": N_("because"), "bytes": N_("size (bytes)"), "camera": N_("camera"), "cameras": N_("cameras"),
    "clock": N_("clock declared right"), "index_time": N_("latest time in the index"),
    "personal_account": N_("by a personal account"),
    "count": N_("count"), "device_clock": N_("device clock"), "due": N_("decide by"),
    "end": N_("until"), "entries": N_("lines"), "erase_complete": N_("erasure complete"),
    "expires": N_("valid until"), "export": N_("export"), "fault": N_("fault found"),
    "files": N_("files"), "format": N_("format"), "from": N_("from"), "id": N_("number"),
    "identity": N_("identity"), "kind": N_("kind of requester"), "known": N_("known account"),
    "late": N_("late"), "legal_basis": N_("legal basis"), "ok": N_("intact"),
    "organisation": N_("organisation"), "problems": N_("problems"), "purpose": N_("purpose"),
    "reason": N_("reason"), "reference": N_("reference"), "released_segments": N_("released segments"),
    "replaced": N_("replaced"), "requester": N_("requester"), "role": N_("role"),
    "segments": N_("segments"), "setup_code": N_("setup code issued"),
    "signed_head": N_("signed head"),
    "source": N_("source"), "start": N_("from"), "tail": N_("last line"), "to": N_("until"),
    "visitor": N_("visitor"), "wait_seconds": N_("waiting time (seconds)"), "why": N_("why"),
    "n": N_("line"), "hash": N_("hash"), "chain": N_("hash chain head"),
    "hashes": N_("recording-time hashes"), "hashes_sealed": N_("hashes sealed"),
    "manifest_sha256": N_("SHA-256 of manifest.json"), "reason_text": N_("reason given"), "kind_of_scan": N_("kind of scan"), "size": N_("size (bytes)"),
    "sha256": N_("SHA-256"), "media_type": N_("file type"), "scan": N_("scan"),
    "first_password": N_("first password"),
    "article": N_("article"), "document_type": N_("kind of document"), "last_digits": N_("last characters"),
    "medium": N_("data carrier"), "recipient": N_("recipient"),
    "values": N_("values"), "file": N_("file"), "noticed_by": N_("noticed by"),
    "file_modified": N_("file modified at"), "file_owner": N_("owner of the file"),
    "os_user": N_("operating system user"), "key": N_("setting"), "old": N_("old"), "new": N_("new"),
    "status": N_("status"),
    "acts_for": N_("lawyer acts for"), "adviser": N_("adviser"), "decided_by": N_("decided by"),
    "segment": N_("recording (segment)"), "request": N_("request"), "window_start": N_("window from"),
    "window_end": N_("window until"), "blur": N_("blurring"), "detect": N_("people automatically"),
    "regions": N_("drawn areas"), "grant": N_("on the grounds of logbook line"),
    "decision": N_("besluit"), "address": N_("address"), "certificate": N_("certificate"),
    "fingerprint": N_("fingerprint"), "state": N_("state"),
    # an art. 12 decision: the question, both advices and their advisers, who recorded it
    "question": N_("question"), "recorded_by": N_("recorded by"),
    "advice_privacy_officer": N_("advice of the privacy officer"), "privacy_officer": N_("privacy officer"),
    "advice_fg": N_("advice of the functionaris gegevensbescherming"),
    "fg": N_("functionaris gegevensbescherming"),
    "required_blur": N_("blurring the besluit requires"), "via": N_("asked through"),
    "local_time": N_("local time"), "at_start": N_("already open when the recorder started"),
    "pin": N_("GPIO pin"),
    # a restart of the recorder after an unclean end (storage/restarts.py)
    "previous_start": N_("previous recorder started at"),
    "previous_pid": N_("process number of the previous recorder"),
    "nrestarts": N_("restarts by systemd"),
    # an export stick (export/media_log.py) and how a package was packed
    "device": N_("USB stick (device)"), "model": N_("model"),
    "container": N_("packed as"),
    # a firmware update (system/update.py)
    "bundle": N_("update bundle (file)"), "version": N_("version"),
    "running": N_("running version"), "compatible": N_("device type (compatible)"),
    "downgrade": N_("older version (downgrade)"),
})
# Who wrote an entry when it was not a person's account.
ACTORS: Words = Words({
    "nvr": N_("the device itself"), "root": N_("administration as root on the device"),
    "enrollment-code": N_("one-time enrollment code from nvr init"),
})
# The order in which details are shown (who, what, where, when, then the rest by name).
ORDER = ("requester", "kind", "visitor", "organisation", "identity", "legal_basis", "role",
         "from", "to", "action", "actions", "purpose", "camera", "cameras", "start", "end",
         "due", "expires", "kind_of_scan", "scan", "export", "files", "media_type", "size",
         "bytes", "sha256", "archive_sha256")
# Keys whose values are codes with a wording in VALUES (other values are shown as written).
CODE_KEYS = frozenset({"role", "from", "to", "kind", "purpose", "action", "actions", "format",
                       "because", "source", "decision", "why", "required_blur"})
# Keys whose values are stored times (epoch seconds), shown as local times.
TIME_KEYS = frozenset({"start", "end", "due", "expires", "device_clock", "window_start",
                       "window_end", "previous_start"})

STATUSES: Words = Words({
    "registered": N_("registered"), "open": N_("in progress"), "approved": N_("approved"),
    "refused": N_("refused"), "closed": N_("closed"),
})
ROLES: Words = Words({
    "beheerder": N_("beheerder"), "aangewezen-persoon": N_("designated person"),
    "technisch-beheerder": N_("technisch beheerder"), "privacy-officer": N_("privacy officer"),
    "manager-bedrijfsvoering": N_("manager bedrijfsvoering"),
    "functionaris-gegevensbescherming": N_("functionaris gegevensbescherming"),
    "eindverantwoordelijke": N_("eindverantwoordelijke (municipal secretary/general director)"),
})
VALUES: Words = Words({
    **STATUSES, **ROLES,
    "citizen": N_("citizen"), "company": N_("company"), "insurer": N_("insurer"), "lawyer": N_("lawyer"),
    "other": N_("other"), "safety": N_("safety of persons"),
    "property": N_("protection of property"), "access": N_("access to the building"),
    "incident": N_("recording incidents"), "art10": N_("art. 10 inzage (a request of someone else)"),
    "live": N_("live"), "playback": N_("playback"),
    # the blurring an art. 10 decision requires (governance/weighing.py BLUR_CHOICES)
    "none": N_("no blurring"), "detect": N_("blur people (automatic detection)"),
    "regions": N_("blur drawn areas"),
    "csv": N_("CSV"), "pdf": N_("PDF"), "usage": N_("usage logbook"),
    "inzien": N_("Logboek Inzien Beeldmateriaal"), "role-change": N_("role change"),
    "reset": N_("password reset"), "local": N_("on the device (command line)"),
    # the rights of R-11, as the subject of a refused action
    "hold": N_("holds"), "hold-request": N_("hold for a request"),
    "request-art9": N_("register an art. 9 request"), "request-intake": N_("take in an art. 10 request"),
    "request-decide": N_("decide on an art. 10 request"), "request-read": N_("read requests"),
    "identify": N_("record identities and verklaringen"), "logbook-read": N_("read logbooks"),
    "logbook-verify": N_("verify logbooks"), "config": N_("configuration"), "users": N_("accounts"),
    "delegate": N_("delegate"), "scan-attach": N_("add a scan"), "export": N_("export (art. 9)"),
    "decision-open": N_("put forward a question outside the regulation (art. 12)"),
    "decision-read": N_("read questions outside the regulation (art. 12)"),
    "advise-privacy-officer": N_("advise as privacy officer (art. 12)"),
    "advise-fg": N_("advise as functionaris gegevensbescherming (art. 12)"),
    "decision-take": N_("decide outside the regulation (art. 12)"),
    "decision-record-for": N_("record a besluit on behalf of the municipal secretary/general director (art. 12)"),
    # what a lawyer acts for (art. 10 lid 2) and who advises (art. 12)
    "defence-of-suspect": N_("defence of a suspect"), "victim": N_("victim"),
    "civil-claim": N_("civil claim"),
    "fg": N_("functionaris gegevensbescherming"),
    # why a segment was refused (governance/viewing.py)
    "outside the window": N_("outside the camera or the window of the request"),
})


class AlarmWords(Words):
    """The store's alarms by kind; a camera tamper alarm (camera-tamper:<camera>:<condition>,
    firmware/capture/tamper_kinds.py) reads as the words of its condition with the camera named."""

    @staticmethod
    def _tamper(key: object) -> tuple[str, str] | None:
        return parse_alarm_kind(key) if isinstance(key, str) else None

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._tamper(key) is not None

    def __getitem__(self, key: str) -> str:
        found = self._tamper(key)
        if found is None:
            return super().__getitem__(key)
        return dutch(TAMPER_ALARMS[found[1]], camera=found[0])

    def said(self, key: str, default: str | None = None) -> str | None:
        found = self._tamper(key)
        if found is None:
            return super().said(key, default)
        return gettext(TAMPER_ALARMS[found[1]], camera=found[0])


# What each camera tamper condition means for the central room (issue 12 item 5).
TAMPER_ALARMS = {
    "dark": N_("camera %(camera)s: the picture is dark, the lens may be covered; look at the camera"),
    "uniform": N_("camera %(camera)s: the picture is one flat colour, the camera may be blinded by a light or sprayed over; look at the camera"),
    "frozen": N_("camera %(camera)s: the picture has not changed at all for too long, the camera delivers a frozen picture; look at the camera and restart the recorder"),
    "defocused": N_("camera %(camera)s: the picture has lost its sharpness, the camera may be out of focus or its lens smeared; look at the camera"),
    "turned": N_("camera %(camera)s: the whole view has changed and stays changed, the camera may have been turned away; look at the camera (after a deliberate change of view, restart the recorder)"),
}
# The alarms the store keeps in its index (every process sees them), for the system page and
# the report.
ALARMS: Words = AlarmWords({
    "wal-not-purged": N_("erased keys may still be in index.sqlite3-wal: a reader keeps an old snapshot open; the recorder tries again every minute"),
    "storage-full": N_("the disk is full and all footage still on it is held: recording has stopped (R-42); release a hold or make room"),
    "clock-ahead": N_("the clock is more than a day ahead of the last recording and is not synchronised: erasure follows the index's time, not this clock (R-40); synchronise the clock"),
    "clock-behind": N_("the clock is behind the last recording: the recorder records, but erasure follows the index's time (R-40); synchronise the clock"),
    "case-open": N_("the case of the recorder is open"),
    "case-tamper": N_("the case of the recorder was opened: check the device, close the case; the technisch beheerder acknowledges it with nvr device tamper-ack"),
    "gpio-failed": N_("the GPIO pins could not be opened: no status LED, no case tamper switch, no eject button; check [gpio] in the configuration"),
})
# Internal ids a person never reads (issue 10, documents: "no internal ids"): a segment is shown
# as its camera (by name and location) and its start and end with the zone, which its entries
# carry beside the id (governance/viewing.py); the id stays in the stored entry, hashed into the
# chain, for `nvr logbook verify` and the auditor's hash column.
INTERNAL_KEYS = frozenset({"segment"})
SEGMENT_SUBJECT = N_("recording (camera and times in the details)")
# A segment named by id alone (a refused request for a segment outside a window): no camera or
# time is known to show, and the id is not shown either.
UNKNOWN_SEGMENT = N_("a recording asked for (camera and times not recorded)")
SUBJECTS: Words = Words({
    "request": N_("request"), "hold": N_("hold"), "visit": N_("visit"),
    "delegation": N_("delegation"), "camera": N_("camera"), "export": N_("export"), "scan": N_("scan"),
    "decision": N_("question outside the regulation (art. 12)"), "segment": N_("recording (segment)"),
})


def actor_text(actor: str) -> str:
    """An account's name as it is; the device's own writers in words."""
    return ACTORS.get(actor, actor)


def action_text(action: str) -> str:
    """The Dutch wording of a logbook action; an action without one shows its id, marked, so
    nothing is lost (the test keeps that from happening)."""
    if action in ACTIONS:
        return ACTIONS[action]
    return dutch("%(action)s (no Dutch wording)", action=action)


def moment(t: object, tz: tzinfo | str = "Europe/Amsterdam", seconds: bool = True) -> str:
    """A stored time as a person reads it: '29-11-2026 14:05:07 (CET)'; never raises."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return when(t, zone, "%d-%m-%Y %H:%M:%S (%Z)" if seconds else "%d-%m-%Y %H:%M (%Z)")


def device_label(cfg) -> str:
    """The device as people know it: its name with its id, or its id alone."""
    return f"{cfg.device.name} ({cfg.device.id})" if cfg.device.name else cfg.device.id


class Names:
    """Cameras by name and location, for subjects and details (never a bare id)."""

    def __init__(self, cameras: Mapping[str, str] | None = None,
                 tz: tzinfo | str = "Europe/Amsterdam"):
        self.cameras = dict(cameras or {})
        self.tz = tz

    @classmethod
    def of(cls, cfg) -> "Names":
        return cls({c.id: f"{c.name} ({c.location})" for c in cfg.cameras},
                   cfg.device.timezone)

    def camera(self, camera_id: object) -> str:
        if camera_id is None:
            return "-"
        return self.cameras.get(str(camera_id), str(camera_id))

    def subject(self, subject: str) -> str:
        """'request 3' -> 'verzoek 3', 'camera cam' -> 'camera Hal (Gemeentehuis, hal)'; an
        action id as subject (a refused action) -> its wording."""
        kind, _, rest = (subject or "").partition(" ")
        if kind == "segment" and rest:      # an internal id: the details name camera and times
            return dutch(SEGMENT_SUBJECT)
        if kind == "request" and re.fullmatch(r"\d+:.*", rest, re.S):   # a hold's reference
            return dutch("request %(reference)s", reference=rest)
        if kind == "camera" and rest:
            return dutch("camera %(camera)s", camera=self.camera(rest))
        if kind in SUBJECTS and rest:
            return f"{SUBJECTS[kind]} {rest}"
        return VALUES.get(subject, ACTIONS.get(subject, subject or ""))

    def value(self, key: str, value: object) -> str:
        if key in TIME_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return moment(value, self.tz)
        if key in ("camera", "camera_id"):
            return self.camera(value)
        if key == "cameras" and isinstance(value, list):
            return ", ".join(self.camera(v) for v in value)
        if isinstance(value, bool):
            return dutch("yes") if value else dutch("no")
        if value is None:
            return "-"
        if isinstance(value, list):
            return ", ".join(self.value(key, v) for v in value)
        if isinstance(value, dict):
            return "(" + self.details(value) + ")"
        return VALUES.get(str(value), str(value)) if key in CODE_KEYS else str(value)

    def details(self, details: Mapping | str | None) -> str:
        """The details of an entry as 'sleutel: waarde; ...' in Dutch, every key shown."""
        if isinstance(details, str):
            try:
                details = json.loads(details) if details else {}
            except ValueError:
                return details
        if not isinstance(details, Mapping):
            return "" if details is None else str(details)
        keys = sorted((k for k in details if k not in INTERNAL_KEYS),
                      key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
        shown = [f"{DETAIL_KEYS.get(k, k)}: {self.value(k, details[k])}" for k in keys]
        if "segment" in details and not {"camera", "start"} <= set(details):
            shown.append(f"{DETAIL_KEYS['segment']}: {dutch(UNKNOWN_SEGMENT)}")
        return "; ".join(shown)
