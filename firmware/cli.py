"""The `nvr` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from firmware import __version__
from firmware.config import CONFIG_ENV, Config, ConfigError, load
from firmware.storage.sink import StorageError

EXIT_USAGE = 2
EXIT_FAILED = 1

log = logging.getLogger("nvr")


class CliError(Exception):
    """A command failed for a reason the user can fix; the message says how."""


def _iso_time(text: str) -> float:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-04-24T14:30:00+02:00") from None
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add one, e.g. +02:00 or Z")
    return dt.timestamp()


# Commands that do not record configuration changes when they load the configuration: `config
# check` is a dry run; `run` and `web` record them themselves, at the point of their start.
_CONFIG_UNRECORDED = ("config", "run", "web")


def _config(args) -> Config:
    """The configuration, with any change since it was last recorded put in the usage logbook
    first (art. 7 lid 2, R-50): a change a command uses is on the record even when the file is
    set back before the next start of the recorder or the web."""
    cfg = load(args.config)
    command = getattr(args, "command", None)
    if command and command not in _CONFIG_UNRECORDED:
        _record_config_changes(cfg, f"nvr {command}", out=sys.stderr)
    return cfg


def cmd_init(args) -> int:
    from firmware.governance.introduction import refusals, signage_warning
    from firmware.provision import InitError, NoAnswer, ask_introduction, init_device
    try:
        introduction = ask_introduction(
            staff_in_view=args.staff_in_view, dpia_reference=args.dpia_reference,
            dpia_date=args.dpia_date, signage=args.signage,
            works_council_reference=args.works_council_reference,
            works_council_date=args.works_council_date)
    except NoAnswer as exc:
        print(f"nvr: {exc}; nothing was written", file=sys.stderr)
        return EXIT_USAGE
    try:
        path = init_device(Path(args.directory), args.source, introduction=introduction)
    except InitError as exc:
        raise CliError(str(exc)) from None
    from firmware.config import load as load_config
    from firmware.governance.roles import Role
    cfg = load_config(path)
    accounts = _governance(cfg).accounts
    print(f"wrote {path}")
    for refused in refusals(cfg).values():
        print(f"note: camera '{refused.camera}' will not record yet: {refused.message}")
    if signage_warning(cfg):
        print(f"note: {signage_warning(cfg)}")
    for role in (Role.TECHNICAL, Role.MANAGER):
        code = accounts.issue_enrollment_code(role)
        print(f"one-time enrollment code for the first {role.value}: {code}")
        print(f"  nvr --config {path} user add NAME --role {role.value} "
              f"--enrollment-code {code}")
    print(f"start the recorder with: nvr --config {path} run")
    return 0


def cmd_config_check(args) -> int:
    from firmware.governance.introduction import refusals, signage_warning
    cfg = _config(args)
    print(f"{cfg.source}: OK, {len(cfg.cameras)} camera(s)")
    for refused in refusals(cfg).values():
        print(f"  warning: camera '{refused.camera}' will not record: {refused.message}")
    signs = signage_warning(cfg)
    if signs:
        print(f"  warning: {signs} (art. 6 lid 3)")
    return 0


def _store(cfg: Config, owner: str | None = None):
    """The store as a reader; with `owner` (what the command owns it for: record, ingest,
    sweep) as its owner for the command's life: checked, reconciled and swept first. Refused
    with StoreBusy while another process (the recorder) owns it."""
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore.from_config(cfg)
    if owner:
        store.take_ownership(owner)
    return store


def _reconciled(rec) -> str:
    if rec is None or not (rec.quarantined or rec.partial or rec.missing):
        return ""
    return (f"reconciled the store: {len(rec.partial)} partial file(s) removed, "
            f"{len(rec.quarantined)} unexplained file(s) moved to the quarantine folder, "
            f"{len(rec.missing)} segment(s) without a file")


def _iso(t: float | None) -> str | None:
    from firmware.governance.bounds import when
    return None if t is None else when(t, timezone.utc, iso=True)


def cmd_ingest(args) -> int:
    from firmware.capture.sources import SourceError
    from firmware.recording.ingest import ingest
    cfg = _config(args)
    video = Path(args.video)
    if not video.is_file():
        raise CliError(f"{video}: no such file")
    try:
        summary = ingest(cfg, args.camera, video, _store(cfg, owner="ingest"),
                         start=args.start, realtime=args.realtime)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['frames']} frames, {len(summary['events'])} event(s), "
              f"{summary['segments']} segment(s), {summary['bytes']} bytes")
        for e in summary["events"]:
            print(f"  event {e['start']} .. {e['end']} ({e['segments']} segment(s))")
    return 0


def _warn_swap() -> None:
    """Decrypted video and keys must not reach swap (docs/storage.md, Swap)."""
    from firmware.system.swap import swap_warning
    warning = swap_warning()
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def cmd_run(args) -> int:
    from firmware.recording.service import RecorderService
    from firmware.storage.retention import RetentionThread
    from firmware.system.memory import limit_malloc_arenas
    from firmware.governance.introduction import refusals
    cfg = _config(args)
    _warn_swap()
    _record_config_changes(cfg, "nvr run")
    refused = refusals(cfg)                 # the DPIA (introduction), art. 11
    if len(refused) == len(cfg.cameras):    # before anything starts
        messages = list(dict.fromkeys(r.message for r in refused.values()))
        raise CliError("no camera may record: " + "; ".join(messages))
    limit_malloc_arenas()
    store = _store(cfg, owner="record")          # owned for the recorder's life (issue 9)
    if _reconciled(store.reconciliation):
        print(_reconciled(store.reconciliation), flush=True)
    service = RecorderService(cfg, store)
    stop: list[int] = []

    def _stop(signum, frame):
        stop.append(signum)
        service.stop_event.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    # The web interface is its own process (docs/architecture: it never shares the recorder's
    # memory or privileges); `--no-web` leaves it to its own service unit.
    web = None if args.no_web else subprocess.Popen(
        [sys.executable, "-m", "firmware.cli", "--config", str(cfg.source), "web"])
    retention = RetentionThread(store, service.stop_event)
    retention.start()
    try:
        service.start()
        print(f"recording {len(service.workers)} camera(s) into {cfg.storage.data_dir}; "
              "Ctrl-C stops", flush=True)
        while service.alive() and not stop:
            service.stop_event.wait(0.5)
    finally:
        service.stop()
        if web is not None:
            web.terminate()
            web.wait(10)
        retention.join(10)
        store.close()
    failed = [w for w in service.workers if w.error]
    print("stopped; open segments closed", flush=True)
    return EXIT_FAILED if failed and not stop else 0


WEB_NICE = 10


def _record_config_changes(cfg: Config, noticed_by: str, out=sys.stdout) -> None:
    """Art. 7 lid 2, R-50: every configuration change into the usage logbook."""
    from firmware.governance.configlog import record_changes
    gov = _governance(cfg)
    try:
        found = record_changes(gov, cfg, noticed_by)
    finally:
        gov.close()
    if found:
        print(f"configuration changed since the last start: {', '.join(c['key'] for c in found)}"
              " (recorded in the usage logbook)", file=out, flush=True)


def _first_account_hint(cfg) -> None:
    gov = _governance(cfg)
    if gov.accounts.count() == 0:
        print("no accounts yet. Make the first (a technisch-beheerder), as root:\n"
              f"  nvr --config {cfg.source} user add NAME --role technisch-beheerder\n"
              "or as any user with the one-time code `nvr init` printed: add "
              "--enrollment-code CODE. Then log in at the web interface's URL.", flush=True)
    gov.close()


def cmd_web(args) -> int:
    """Serve the web interface (R-20) until SIGINT or SIGTERM."""
    import threading
    from firmware.web import create_app
    from firmware.web.server import WebServer
    cfg = _config(args)
    _warn_swap()
    _record_config_changes(cfg, "nvr web")
    # Recording comes first: on a busy device the web interface waits, the camera does not.
    os.nice(WEB_NICE)
    server = WebServer(create_app(cfg), cfg.web.host, cfg.web.port, cfg.storage.key_dir,
                       cfg.device.id)
    try:
        url = server.start()
    except OSError as exc:
        raise CliError(f"the web interface cannot listen on {cfg.web.host}:{cfg.web.port}: "
                       f"{exc}; change [web] port in {cfg.source}") from None
    print(f"web interface: {url} (device certificate {server.cert})", flush=True)
    print("footage (art. 4 lid 1) only on workstations with a certificate from `nvr client "
          "issue`" + ("" if cfg.web.footage_certificate_required else
                      f" or at {', '.join(cfg.web.footage_addresses) or 'no address'}"),
          flush=True)
    _first_account_hint(cfg)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


def _print(obj, as_json: bool, text: str) -> None:
    print(json.dumps(obj, indent=2) if as_json else text)


def cmd_recordings_list(args) -> int:
    store = _store(_config(args))
    rows = store.list_segments(args.camera)
    out = [{"id": r["id"], "camera": r["camera_id"], "event": r["event_id"],
            "start": _iso(r["start"]), "end": _iso(r["end"]), "bytes": r["bytes"],
            "path": str(store.data_dir / r["path"]), "held": bool(r["held"]),
            "frames": r["frames"], "location": r["location"],
            "clock_synced": bool(r["clock_synced"]), "status": r["status"]} for r in rows]
    lines = [f"{r['start']}  {r['camera']:12} {r['bytes']:>10} B  "
             f"{'held ' if r['held'] else ''}{r['status']}  {r['id']}" for r in out]
    _print(out, args.json, "\n".join(lines) or "no recordings")
    return 0


def cmd_recordings_verify(args) -> int:
    """Decrypt and authenticate everything. With no recorder running it owns the store for its
    reconcile only (never sweeps: a read-only command erases nothing), then gives it back
    before it decrypts, so the recorder can start meanwhile; beside the recorder it only reads
    and reports."""
    from firmware.storage.ownership import StoreBusy
    from firmware.storage.store import Reconciliation
    store = _store(_config(args))
    try:
        rec = store.settle("verify")
    except StoreBusy:
        rec = None                              # the recorder owns it: reconciling is its job
    checked, problems = store.verify()
    alarms = store.alarms()
    waiting = store.quarantined()
    result = {"checked": checked, "ok": checked - len(problems), "problems": problems,
              "owner": rec is not None, "alarms": alarms, "in_quarantine": waiting,
              **(rec or Reconciliation([], [], [])).to_json()}
    text = "\n".join(filter(None, [_reconciled(rec), *(
        f"in quarantine (the index does not explain it; inspect, then delete): {q}"
        for q in waiting), *(
        f"alarm {a['kind']}: {a['detail']}" for a in alarms),
        f"{checked} segment(s) checked, {len(problems)} problem(s)"])) + "".join(
        f"\n  {p['segment']}: {p['error']}" for p in problems)
    _print(result, args.json, text)
    return EXIT_FAILED if problems else 0


HEX = "0123456789abcdef"


def _segment_source(store, target: str):
    """FILE or ID: (segment id, a function that yields the plaintext)."""
    from firmware.storage.segcrypt import SegmentError, read_header
    if len(target) == 32 and all(c in HEX for c in target) and not Path(target).exists():
        row = store.segment_row(target)
        if row is None:
            raise CliError(f"there is no segment {target} in the index; see nvr recordings list")
        if not (store.data_dir / row["path"]).is_file():
            raise CliError(f"segment {target}: its file {store.data_dir / row['path']} is "
                           "missing; run `nvr recordings verify` to reconcile the index")
        return target, lambda: store.read_segment(target)
    src = Path(target)
    if not src.is_file():
        raise CliError(f"{src}: no such file, and not a segment id (32 hex digits)")
    try:
        header = read_header(src)
    except SegmentError as exc:
        raise CliError(str(exc)) from None
    return header.segment_id, lambda: store.decrypt_file(src)


def _refuse_unless_pipe(target: str) -> None:
    """Issue 9 item 7: stdout must be a pipe (a player); a terminal gets a hint, a file is no
    place for plaintext footage (a file leaves the device only as an export)."""
    import stat
    mode = os.fstat(sys.stdout.fileno()).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return
    hint = f"nvr segment play {target} --user ... | ffplay -   (or: | mpv -)"
    if sys.stdout.isatty():
        raise CliError(f"refusing to write video to a terminal: pipe it into a player: {hint}")
    raise CliError("refusing to write plaintext video into a file: footage leaves the device "
                   "as a file only as an export for a registered request (nvr request, the "
                   f"web's Exports); to look at it, pipe it into a player: {hint}")


def _footage_here(cfg: Config, gov, actor, subject: str) -> None:
    """Art. 4 lid 1 (R-20): footage on the command line only in the secured room, checked by
    system.clients.footage_command_line before anything is decrypted; a refusal goes into the
    usage logbook and says what to do."""
    from firmware.system.clients import footage_command_line
    place = footage_command_line(cfg.web)
    if not place:
        gov.logbook.append("usage", actor.name, "refused", subject=subject,
                           details={"why": place.reason, "via": "opdrachtregel"})
        raise CliError(place.reason)


def cmd_segment_play(args) -> int:
    """R-01, issue 9 item 7: the plaintext MP4 goes only into a pipe (a player), never into a
    file nor onto a terminal; logged as playback in both logbooks."""
    from firmware.governance.access import AccessRefused, grant_footage
    from firmware.governance.roles import Action
    from firmware.storage.segcrypt import SegmentError
    from firmware.storage.store import KeyErased, SegmentMissing
    _refuse_unless_pipe(args.target)
    cfg = _config(args)
    store = _store(cfg)
    segment_id, plaintext = _segment_source(store, args.target)
    gov = _governance(cfg)
    actor = _login(gov, args, None)
    _footage_here(cfg, gov, actor, f"segment {segment_id}")
    row = store.segment_row(segment_id)
    try:
        grant_footage(gov, actor, Action.PLAYBACK, camera=row["camera_id"] if row else None,
                      purpose=args.purpose, reason=args.reason, subject=f"segment {segment_id}",
                      window=(row["start"], row["end"]) if row else None)
    except AccessRefused as exc:
        raise CliError(str(exc)) from None
    out = sys.stdout.buffer
    try:
        for chunk in plaintext():
            out.write(chunk)
        out.flush()
    except (KeyErased, SegmentError, SegmentMissing) as exc:
        raise CliError(str(exc)) from None
    except BrokenPipeError:                    # the player was closed: fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_retention_run(args) -> int:
    from firmware.storage.retention import sweep
    store = _store(_config(args))
    report = sweep(store, purge=True, clock_checked=args.clock_checked)  # refused while the
    #                                                   recorder runs (sweep owns the store)
    horizon = report.horizon_seconds
    text = (f"destroyed {len(report.slots_destroyed)} slot key(s), erased "
            f"{len(report.segments_erased)} segment(s), freed {report.bytes_freed} bytes; "
            f"oldest footage kept: " + (f"{horizon / 86400:.2f} days" if horizon is not None
                                        else "none"))
    if report.clock_refused:
        text += ("\nerased by the index's time, not the clock (alarm clock-ahead): "
                 f"{report.clock_refused}")
    if not report.erase_complete:
        text += ("\nNOT complete: destroyed keys may still be in index.sqlite3-wal because a "
                 "reader holds an old snapshot; alarm wal-not-purged raised, retried at the "
                 "next sweep")
    _print(report.to_json(), args.json, text)
    if report.clock_refused:
        print(f"nvr: {report.clock_refused}", file=sys.stderr)
    return 0 if report.erase_complete and not report.clock_refused else EXIT_FAILED


def cmd_hold_add(args) -> int:
    from firmware.governance.roles import Action
    from firmware.storage.holds import HoldError
    cfg = _config(args)
    cfg.camera(args.camera)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.HOLD)
    try:
        hold = gov.place_hold(actor, _store(cfg), args.camera, args.start, args.end, args.reason,
                              args.reference)
    except HoldError as exc:
        raise CliError(str(exc)) from None
    hold.update(start=_iso(hold["start"]), end=_iso(hold["end"]))
    _print(hold, args.json, f"hold {hold['id']} placed on {hold['segments']} segment(s)")
    return 0


def cmd_hold_release(args) -> int:
    from firmware.governance.roles import Action
    from firmware.storage.holds import HoldError
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.HOLD)
    try:
        result = gov.release_hold(actor, _store(cfg), args.id, reason=args.reason)
    except HoldError as exc:
        raise CliError(str(exc)) from None
    _print(result, args.json, f"hold {args.id} released; {result['released_segments']} "
           "segment(s) fall back under retention")
    if not result["erase_complete"]:
        print("warning: the released keys may still be in index.sqlite3-wal (a reader holds "
              "an old snapshot); alarm wal-not-purged raised, the recorder retries every "
              "minute", file=sys.stderr)
    return 0


def cmd_hold_list(args) -> int:
    from firmware.storage.holds import list_holds
    holds = [{**h, "start": _iso(h["start"]), "end": _iso(h["end"]),
              "created": _iso(h["created"]), "released": _iso(h["released"])}
             for h in list_holds(_store(_config(args)))]
    text = "\n".join(f"{h['id']:>4} {h['camera_id']:12} {h['start']} .. {h['end']} "
                     f"{'released' if h['released'] else 'active'}  {h['reference']}"
                     for h in holds) or "no holds"
    _print(holds, args.json, text)
    return 0


def _governance(cfg: Config):
    from firmware.governance.service import Governance
    return Governance.open(cfg)


def _password(env: str, prompt: str, confirm: bool = False) -> str:
    import getpass
    import os
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"no password: set {env} or run the command in a terminal")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != value:
        raise CliError("the two passwords differ")
    return value


def _login(gov, args, action):
    """Authenticate --user; with an action, also check that the role may do it (R-11)."""
    from firmware.governance.accounts import AuthError
    from firmware.governance.service import Refused
    if not getattr(args, "user", None):
        raise CliError("this command needs --user NAME (a personal account, R-10)")
    import os
    password = _password("NVR_PASSWORD", f"password of {args.user}: ")
    code = os.environ.get("NVR_TOTP")
    try:
        if action is None:
            return gov.login(args.user, password, code)
        return gov.authorize(args.user, password, action, code=code)
    except (AuthError, Refused) as exc:
        raise CliError(str(exc)) from None


def cmd_user_add(args) -> int:
    import os
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action, Role
    gov = _governance(_config(args))
    by = None
    if args.user or (gov.accounts.count() > 0 and not args.enrollment_code
                     and not (os.geteuid() == 0 and args.role == Role.MANAGER.value)):
        by = _login(gov, args, Action.USERS)
        return _user_create(gov, args, by)
    password = _password("NVR_NEW_PASSWORD", f"new password for {args.name}: ", confirm=True)
    try:
        user = gov.accounts.add(args.name, Role(args.role), password,
                                as_root=os.geteuid() == 0 and args.enrollment_code is None,
                                enrollment_code=args.enrollment_code)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {user.name} ({user.role.value}) created"
          + ("; it comes into force when a manager-bedrijfsvoering approves it "
             "(nvr user approve)" if user.pending else ""))
    return 0


def _user_create(gov, args, by) -> int:
    """A technisch-beheerder's new account: no password, a one-time setup code for the owner
    (R-11, art. 2)."""
    import os
    from firmware.governance.accounts import APPROVAL_ROLES, SETUP_SECONDS, AccountError
    from firmware.governance.roles import Role
    if os.environ.get("NVR_NEW_PASSWORD"):
        print("NVR_NEW_PASSWORD is not used: the owner sets the password with the setup code",
              file=sys.stderr)
    try:
        code = gov.accounts.create(args.name, Role(args.role), by=by)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {args.name} ({args.role}) created without a password")
    print(f"one-time setup code for {args.name}: {code}")
    print(f"  give it to {args.name} in person; valid for {SETUP_SECONDS // 86400} days, once. "
          "The owner runs:")
    print(f"  nvr user reset {args.name} --code {code}   (or the web page /reset)")
    if Role(args.role) in APPROVAL_ROLES:
        print("  then a manager-bedrijfsvoering approves it, with the owner present "
              f"(nvr user approve {args.name} --role {args.role})")
    return 0


def cmd_user_list(args) -> int:
    gov = _governance(_config(args))
    users = [{**u, "created": _iso(u["created"]), "disabled": _iso(u["disabled"]),
              "approved": _iso(u["approved"])} for u in gov.accounts.list()]
    _print(users, args.json, "\n".join(
        f"{u['name']:20} {u['role']:32} "
        f"{'disabled' if u['disabled'] else 'awaits approval' if u['pending'] else 'active'}"
        for u in users) or "no accounts")
    return 0


def cmd_user_disable(args) -> int:
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        gov.accounts.disable(args.name, by=actor, reason=args.reason)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {args.name} disabled (kept, so the logbook keeps its name); its sessions "
          "ended")
    return 0


def cmd_user_enable(args) -> int:
    """Propose a disabled account for use again; a manager-bedrijfsvoering approves it
    (`user approve`) before it is in force (four eyes)."""
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        gov.accounts.enable(args.name, by=actor, reason=args.reason)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    role = gov.accounts.get(args.name).role.value
    print(f"account {args.name} proposed for use again; it awaits a manager-bedrijfsvoering's "
          f"approval (nvr user approve {args.name} --role {role})")
    return 0


def cmd_user_passwd(args) -> int:
    """One's own new password (a technisch-beheerder issues reset codes instead)."""
    from firmware.governance.accounts import AccountError
    gov = _governance(_config(args))
    if args.user and args.user != args.name:
        raise CliError("a password is changed only by its owner; a technisch-beheerder gives "
                       f"the owner a one-time code: nvr user reset-code {args.name} --user "
                       f"{args.user}")
    args.user = args.name
    actor = _login(gov, args, None)
    try:
        gov.accounts.set_password(args.name, _password("NVR_NEW_PASSWORD", "new password: ",
                                                       confirm=True), by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {args.name} changed; its sessions ended")
    return 0


def cmd_user_reset_code(args) -> int:
    from firmware.governance.accounts import APPROVAL_ROLES, AccountError
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        code = gov.accounts.issue_reset_code(args.name, by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"one-time reset code for {args.name}: {code}")
    print(f"  give it to {args.name} in person; valid for a day, once. The owner runs:")
    print(f"  nvr user reset {args.name} --code {code}   (or the web page /reset)")
    if gov.accounts.get(args.name).role in APPROVAL_ROLES:
        print("  afterwards the account awaits a manager-bedrijfsvoering's approval again")
    return 0


def cmd_user_reset(args) -> int:
    from firmware.governance.accounts import AccountError
    gov = _governance(_config(args))
    try:
        user = gov.accounts.reset_password(args.name, args.code, _password(
            "NVR_NEW_PASSWORD", f"new password for {args.name}: ", confirm=True))
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {args.name} set" + ("; the account awaits a manager-bedrijfsvoering's "
                                            "approval (nvr user approve)" if user.pending else ""))
    return 0


def cmd_user_pending(args) -> int:
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    from firmware.governance.roles import Role
    if actor.role is not Role.MANAGER:
        raise CliError("only a manager-bedrijfsvoering approves accounts (art. 2, art. 3.1)")
    rows = [{**u, "created": _iso(u["created"])} for u in gov.accounts.pending()]
    _print(rows, args.json, "\n".join(f"{u['name']:20} {u['role']:32} added by "
                                       f"{u['created_by']}; password "
                                       f"{'set' if u['password_set'] else 'not set'}"
                                       for u in rows)
           or "no accounts await approval")
    return 0


def cmd_user_approve(args) -> int:
    """Approve the account as the role the manager names (`user pending` shows it): if the
    technisch-beheerder changed the role, nothing is approved."""
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Role
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    try:
        gov.accounts.approve(args.name, role=Role(args.role), by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"account {args.name} ({args.role}) approved by {actor.name}: in force")
    return 0


def cmd_user_role(args) -> int:
    from firmware.governance.accounts import AccountError
    from firmware.governance.roles import Action, Role
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.USERS)
    try:
        gov.accounts.set_role(args.name, Role(args.role), by=actor)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    pending = gov.accounts.get(args.name).pending
    print(f"{args.name} is now {args.role}; its sessions ended"
          + ("; it awaits a manager-bedrijfsvoering's approval" if pending else ""))
    return 0


def cmd_user_totp(args) -> int:
    """Set up the second factor: the password, and once one exists its current code."""
    from firmware.governance import totp
    from firmware.governance.accounts import AccountError
    cfg = _config(args)
    gov = _governance(cfg)
    password = _password("NVR_PASSWORD", f"password of {args.user}: ")
    try:
        actor = gov.accounts.get(args.user)
        if actor is None or actor.disabled or actor.pending:
            raise AccountError(f"'{args.user}' is not an account in force")
        secret = gov.accounts.enable_totp(args.user, by=actor.actor(), password=password,
                                          code=os.environ.get("NVR_TOTP"))
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"second factor on for {args.user}; add it to an authenticator app:")
    print(f"  secret {secret}")
    print(f"  {totp.uri(secret, args.user, f'nvr {cfg.device.id}')}")
    return 0


def cmd_logbook_verify(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    actor = _login(gov, args, Action.LOGBOOK_VERIFY)
    result = gov.logbook.verify()
    gov.logbook.append("usage", actor.name, "logbook-verify",
                       details={"ok": result.ok, "problems": len(result.problems)})
    text = ("logbooks intact: " if result.ok else "logbooks NOT intact: ") + ", ".join(
        f"{b} {n} entries" for b, n in result.entries.items()) + "".join(
        f"\n  first bad entry: {b} {n}" for b, n in result.first_bad.items()) + "".join(
        f"\n  {p}" for p in result.problems)
    _print(result.to_json(), args.json, text)
    return 0 if result.ok else EXIT_FAILED


def cmd_logbook_head(args) -> int:
    """The signed heads, for the central room to record outside the device (no login: a
    head names no person, only how long a book is and its last hash)."""
    from firmware.governance.logbook import BOOKS, LogbookError
    gov = _governance(_config(args))
    try:
        heads = {book: gov.logbook.head_statement(book) for book in (args.book or BOOKS)}
    except LogbookError as exc:
        raise CliError(str(exc)) from None
    text = "\n".join(f"{h['message']}signature: {h['signature']}\n"
                     f"public_key: {h['public_key']}\n" for h in heads.values())
    _print(heads, args.json, text.rstrip("\n"))
    return 0


def _footage_arguments(parser) -> None:
    """R-01: who, for which purpose of article 1, and why in words."""
    from firmware.governance.access import PURPOSES
    parser.add_argument("--user", help="your personal account; password from NVR_PASSWORD")
    parser.add_argument("--purpose", choices=list(PURPOSES), help="purpose from article 1")
    parser.add_argument("--reason", help="why, in words (request, incident)")


def _requests(args):
    cfg = _config(args)
    gov = _governance(cfg)
    return cfg, gov, gov.requests(_store(cfg))


def _request_json(row: dict) -> dict:
    out = dict(row)
    for key in ("start", "end", "received", "decided_at", "declaration_at", "created"):
        out[key] = _iso(out.get(key))
    if out.get("decision_due") is not None:
        from firmware.governance.bounds import when
        from firmware.governance.requests import AMSTERDAM
        out["decision_due"] = when(out["decision_due"], AMSTERDAM, iso=True)
    return out


def _request_call(args, fn, *fa, **kw) -> dict:
    from firmware.governance.requests import RequestError
    from firmware.storage.holds import HoldError
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    try:
        return _request_json(getattr(reqs, fn)(actor, *fa, **kw))
    except (RequestError, HoldError) as exc:
        raise CliError(str(exc)) from None


def _print_request(row: dict, as_json: bool) -> None:
    due = f", decision due {row['decision_due']}" if row.get("decision_due") else ""
    late = " OVERDUE" if row.get("overdue") else ""
    if row.get("decided_at") and row.get("decision_due"):       # late stays late
        late = " DECIDED LATE" if row.get("decided_late") else " decided in time"
    _print(row, as_json, f"request {row['id']} (art. {row['article']}) {row['status']}{due}"
                         f"{late}")


def cmd_request_add(args) -> int:
    _config(args).camera(args.camera)
    if args.article == 9:
        missing = [o for o in ("reference", "requester", "legal_basis") if not getattr(args, o)]
        if missing:
            raise CliError("an art. 9 request needs " + ", ".join(f"--{m.replace('_', '-')}"
                                                                  for m in missing))
        row = _request_call(args, "add_article9", reference=args.reference,
                            requester=args.requester, legal_basis=args.legal_basis,
                            camera=args.camera, start=args.start, end=args.end,
                            received=args.received)
    else:
        if not (args.requester and args.motivation and args.received):
            raise CliError("an art. 10 request needs --requester, --motivation and --received")
        row = _request_call(args, "add_article10", requester=args.requester,
                            requester_kind=args.requester_kind, motivation=args.motivation,
                            received=args.received, camera=args.camera, start=args.start,
                            end=args.end, reference=args.reference or "",
                            acts_for=args.acts_for)
    _print_request(row, args.json)
    return 0


def cmd_request_decide(args) -> int:
    if args.approve == args.refuse:
        raise CliError("say --approve or --refuse")
    _print_request(_request_call(args, "decide", args.id, approve=args.approve,
                                 reason=args.reason, weighing=args.weighing, blur=args.blur),
                   args.json)
    return 0


def cmd_request_identity(args) -> int:
    """Art. 10 lid 4: --document-type and --last-digits; art. 9 lid 3: --officer too (the
    governance layer chooses by the request's article)."""
    _print_request(_request_call(args, "record_identity", args.id,
                                 officer=args.officer or "",
                                 document_type=args.document_type or "",
                                 last_digits=args.last_digits or ""), args.json)
    return 0


def cmd_request_declaration(args) -> int:
    _print_request(_request_call(args, "record_declaration", args.id, args.signed_by),
                   args.json)
    return 0


def cmd_request_close(args) -> int:
    _print_request(_request_call(args, "close", args.id, args.reason), args.json)
    return 0


def _scans(args):
    from firmware.governance.scans import Scans
    cfg = _config(args)
    gov = _governance(cfg)
    return gov, Scans.open(gov, cfg)


def _scan_json(row: dict) -> dict:
    return {**row, "added": _iso(row.get("added"))}


def cmd_request_attach(args) -> int:
    """Art. 10 lid 6: a scan of the paper file (written request, signed declaration, decision
    letter) sealed under the device keys and attached to the request (governance/scans.py)."""
    from firmware.governance.scans import MAX_BYTES, ScanError
    gov, scans = _scans(args)
    actor = _login(gov, args, None)
    path = Path(args.file)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ScanError(f"{path} is larger than {MAX_BYTES // 1048576} MB: scan at a lower "
                            "resolution or in greyscale and try again")
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except ScanError as exc:
        raise CliError(str(exc)) from None
    try:
        row = scans.attach(actor, args.id, args.kind, data, path.name)
    except ScanError as exc:
        raise CliError(str(exc)) from None
    _print(_scan_json(row), args.json, f"scan {row['id']} ({row['kind']}, {row['size']} bytes, "
                                       f"sha256 {row['sha256']}) attached to request {args.id}")
    return 0


def cmd_request_scans(args) -> int:
    from firmware.governance.scans import KINDS, ScanError
    gov, scans = _scans(args)
    actor = _login(gov, args, None)
    try:
        rows = [_scan_json(r) for r in scans.list(actor, args.id)]
    except ScanError as exc:
        raise CliError(str(exc)) from None
    _print(rows, args.json, "\n".join(
        f"{r['id']:>4} {KINDS[r['kind']]:24} {r['filename']}  {r['size']} bytes  "
        f"added {r['added']} by {r['added_by']}  sha256 {r['sha256']}" for r in rows)
        or f"request {args.id} has no scans")
    return 0


def _read_requests(args):
    from firmware.governance.roles import Action
    cfg, gov, reqs = _requests(args)
    _login(gov, args, Action.REQUEST_READ)
    return reqs


def cmd_request_list(args) -> int:
    rows = [_request_json(r) for r in _read_requests(args).list()]
    if args.overdue:
        rows = [r for r in rows if r["overdue"]]
    _print(rows, args.json, "\n".join(
        f"{r['id']:>4} art. {r['article']:<2} {r['status']:10} {r['camera_id']:10} "
        f"{r['requester']}{'  OVERDUE' if r['overdue'] else ''}"
        f"{'  DECIDED LATE' if r['decided_late'] else ''}" for r in rows) or "no requests")
    return 0


def cmd_request_show(args) -> int:
    from firmware.governance.requests import RequestError
    try:
        row = _request_json(_read_requests(args).show(args.id))
    except RequestError as exc:
        raise CliError(str(exc)) from None
    _print_request(row, args.json)
    return 0


def _export_desk(args):
    """The configuration, governance, store and logged-in --user for an export step."""
    cfg = _config(args)
    gov = _governance(cfg)
    store = _store(cfg)
    return cfg, gov, store, _login(gov, args, None)


def _export_errors():
    from firmware.export.helpers import ExportError
    from firmware.governance.requests import RequestError
    return ExportError, RequestError


def cmd_export_create(args) -> int:
    from firmware.export.helpers import helper_for
    from firmware.export.service import make_export
    cfg, gov, store, actor = _export_desk(args)
    try:
        req = gov.requests(store).show(args.request)
        # The password comes from the environment or a prompt, never an argument (which
        # other users of the machine can read in the process list).
        password = _password("NVR_EXPORT_PASSWORD", "archive password (give it to the "
                             "recipient apart from the stick): ")
        export = make_export(gov, store, helper_for(cfg), actor, request_id=req["id"],
                             camera=req["camera_id"],
                             start=req["start"] if args.start is None else args.start,
                             end=req["end"] if args.end is None else args.end,
                             password=password, min_password=cfg.export.min_password)
    except _export_errors() as exc:
        raise CliError(str(exc)) from None
    _print(export, args.json, f"export {export['id']} written to {export['archive']['path']}: "
                              f"{len(export['files'])} file(s), archive SHA-256 "
                              f"{export['archive']['sha256']}; record the handover with "
                              f"nvr export handover {export['id']} --medium LABEL")
    return 0


def cmd_export_handover(args) -> int:
    from firmware.export.service import hand_over
    _, gov, store, actor = _export_desk(args)
    try:
        row = hand_over(gov, store, actor, args.id, medium=args.medium)
    except _export_errors() as exc:
        raise CliError(str(exc)) from None
    _print(row, args.json, f"export {args.id} handed over to {row['recipient']} on "
                           f"{row['medium']}; print the declaration with nvr export "
                           f"declaration {args.id} --out FILE.pdf")
    return 0


def cmd_export_list(args) -> int:
    from firmware.export.service import list_exports
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    _login(gov, args, Action.EXPORT)
    rows = list_exports(gov.requests(_store(cfg)).db)
    _print(rows, args.json, "\n".join(
        f"{r['id']:>4} request {r['request_id']:<4} {r['camera_id']:10} {len(r['files'])} "
        f"file(s) {'handed over to ' + r['handover']['recipient'] if r['handover'] else 'not handed over'}"
        for r in rows) or "no exports")
    return 0


def cmd_export_declaration(args) -> int:
    from firmware.export.helpers import ExportError
    from firmware.export.service import show_export
    from firmware.governance.paperwork import export_declaration_file
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    store = _store(cfg)
    actor = _login(gov, args, Action.EXPORT)
    try:
        export = show_export(gov.requests(store).db, args.id)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    export_declaration_file(gov, actor, store, export, _device_label(cfg), Path(args.out))
    print(f"wrote {args.out} ({len(export['files'])} file(s) with SHA-256)")
    return 0


def _device_label(cfg) -> str:
    """The device as people know it in documents: its name, else its configured id."""
    return cfg.device.name or cfg.device.id


def _grants_call(args, fn, *fa, **kw):
    from firmware.governance.delegation import GrantError
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    try:
        return gov, getattr(gov.grants, fn)(actor, *fa, **kw)
    except GrantError as exc:
        raise CliError(str(exc)) from None


def cmd_delegation_add(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    grantee = gov.accounts.get(args.grantee)
    try:
        actions = {Action(a.strip()) for a in args.actions.split(",")}
    except ValueError:
        raise CliError("--actions is a comma-separated list of live, playback, export") from None
    _, did = _grants_call(args, "delegate", args.grantee, grantee.role if grantee else None,
                          actions, {c.strip() for c in args.cameras.split(",")}, args.reason,
                          args.expires)
    _print({"id": did}, args.json, f"delegation {did} granted to {args.grantee}")
    return 0


def cmd_delegation_revoke(args) -> int:
    _grants_call(args, "revoke", args.id, reason=args.reason)
    print(f"delegation {args.id} revoked")
    return 0


def cmd_visit_open(args) -> int:
    _, vid = _grants_call(args, "open_visit", visitor=args.visitor,
                          organisation=args.organisation, identity=args.identity,
                          legal_basis=args.legal_basis, reason=args.reason,
                          cameras=set(args.camera), start=args.start, end=args.end,
                          minutes=args.minutes)
    _print({"id": vid}, args.json, f"visit {vid} open for {args.minutes} minutes")
    return 0


def cmd_visit_close(args) -> int:
    _grants_call(args, "close_visit", args.id, reason=args.reason)
    print(f"visit {args.id} closed")
    return 0


def cmd_grants_list(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    _login(gov, args, Action.DELEGATE if args.kind == "delegation" else Action.IDENTIFY)
    rows = gov.grants.list_delegations() if args.kind == "delegation" else \
        gov.grants.list_visits()
    _print(rows, args.json, "\n".join(str(r) for r in rows) or "none")
    return 0


def _iso_date(text: str):
    from datetime import date
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-04-24") from None


def cmd_logbook_export(args) -> int:
    from firmware.governance.paperwork import logbook_file
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.LOGBOOK_READ)
    count = logbook_file(gov, actor, args.book, args.format, cfg, Path(args.out))
    print(f"wrote {args.out} ({count} entries)")
    return 0


def cmd_request_declaration_pdf(args) -> int:
    from firmware.governance.letters import LetterError, article10_declaration_file
    from firmware.governance.paperwork import request_declaration_file
    from firmware.governance.requests import RequestError
    from firmware.governance.roles import Action
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, Action.IDENTIFY)
    try:
        if reqs.show(args.id)["article"] == 10:          # art. 10 lid 5: once approved
            article10_declaration_file(gov, actor, cfg, reqs.store, args.id, Path(args.out))
            print(f"wrote {args.out}")
            return 0
        count = request_declaration_file(gov, actor, reqs.store, args.id, _device_label(cfg),
                                         Path(args.out))
    except (RequestError, LetterError) as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {args.out} ({count} file(s) with SHA-256)")
    return 0


def cmd_request_inzage(args) -> int:
    """Art. 10 lid 4-5: the segments an approved, identified, declared request may show."""
    from firmware.governance.access import AccessRefused
    from firmware.governance.requests import RequestError
    from firmware.governance.viewing import open_viewing
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    try:
        found = open_viewing(reqs, reqs.store, actor, args.id)
    except (AccessRefused, RequestError) as exc:
        raise CliError(str(exc)) from None
    rows = [{"id": s["id"], "start": _iso(s["start"]), "end": _iso(s["end"])}
            for s in found["segments"]]
    _print(rows, args.json, "\n".join(f"{r['id']}  {r['start']} .. {r['end']}" for r in rows)
           or "no footage left in the request's window")
    return 0


def cmd_request_play(args) -> int:
    """Art. 10 lid 4-5: one segment of the request's window into a player's pipe, blurred in
    memory when asked; checked and logged like the web's inzage."""
    from firmware.governance.access import AccessRefused
    from firmware.governance.requests import RequestError
    from firmware.governance.viewing import (RegionError, blur_settings, parse_regions,
                                             show_request_segment)
    from firmware.storage.segcrypt import SegmentError
    from firmware.storage.store import KeyErased, SegmentMissing
    _refuse_unless_pipe(args.segment)
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    _footage_here(cfg, gov, actor, f"request {args.id}")
    try:
        regions = parse_regions(args.regions)
        show_request_segment(reqs, reqs.store, actor, args.id, args.segment,
                             blur_settings(args.detect, regions))
        data = b"".join(reqs.store.read_segment(args.segment))      # in memory only
    except (AccessRefused, RequestError, RegionError, KeyErased, SegmentError,
            SegmentMissing) as exc:
        raise CliError(str(exc)) from None
    if args.detect or regions:
        from firmware.playback.blur import BlurError, blur_mp4
        try:
            data = blur_mp4(data, regions=regions, detect=args.detect)
        except BlurError as exc:
            raise CliError(exc.message) from None
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:                    # the player was closed: fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_request_letter(args) -> int:
    """The decision letter of an art. 10 request (art. 10 lid 3), as PDF."""
    from firmware.governance.letters import LetterError, decision_letter_file
    from firmware.governance.requests import RequestError
    from firmware.governance.service import Refused
    cfg, gov, reqs = _requests(args)
    actor = _login(gov, args, None)
    try:
        decision_letter_file(gov, actor, cfg, reqs.store, args.id, Path(args.out))
    except (RequestError, LetterError, Refused) as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {args.out}")
    return 0


def cmd_report(args) -> int:
    from firmware.governance.paperwork import PaperworkError, report_file
    from firmware.governance.roles import Action
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.LOGBOOK_READ)
    try:
        out = report_file(gov, actor, cfg, _store(cfg), args.since, args.to, Path(args.out))
    except PaperworkError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {out}")
    return 0


def _decision_call(args, fn, *fa, **kw) -> dict:
    """Art. 12 (R-80): one step of a decision outside the rules, from an authenticated
    account (`firmware.governance.decisions`)."""
    from firmware.governance.decisions import DecisionError
    gov = _governance(_config(args))
    actor = _login(gov, args, None)
    try:
        return getattr(gov.decisions(), fn)(actor, *fa, **kw)
    except DecisionError as exc:
        raise CliError(str(exc)) from None


def _print_decision(row: dict, as_json: bool) -> None:
    row = {**row, "opened": _iso(row["opened"]), "decided_at": _iso(row["decided_at"]),
           "advice": {k: {**a, "given": _iso(a["given"])} for k, a in row["advice"].items()}}
    advice = ", ".join(f"{k} advice by {a['adviser']}" for k, a in row["advice"].items())
    text = (f"decision {row['id']} {row['status']}: {row['question']}"
            + (f"\n  advice: {advice}" if advice else "\n  advice: none yet")
            + (f"\n  decided by {row['decided_by']} (recorded by {row['recorded_by']}): "
               f"{row['decision']}" if row["decided_at"] else ""))
    _print(row, as_json, text)


def cmd_decision_open(args) -> int:
    _print_decision(_decision_call(args, "open", args.question), args.json)
    return 0


def cmd_decision_advise(args) -> int:
    _print_decision(_decision_call(args, "advise", args.id, args.advice), args.json)
    return 0


def cmd_decision_record(args) -> int:
    _print_decision(_decision_call(args, "record", args.id, args.decision,
                                   on_behalf_of=args.on_behalf_of), args.json)
    return 0


def cmd_decision_list(args) -> int:
    from firmware.governance.roles import Action
    gov = _governance(_config(args))
    _login(gov, args, Action.DECISION_READ)
    rows = [{**r, "opened": _iso(r["opened"]), "decided_at": _iso(r["decided_at"])}
            for r in gov.decisions().list()]
    _print(rows, args.json, "\n".join(f"{r['id']:>4} {r['status']:8} {r['question']}"
                                      for r in rows) or "no decisions")
    return 0


# --- workstations of the secured room (art. 4 lid 1) -------------------------------------------

def _clients(args):
    """Log in as a technisch-beheerder (Action.CONFIG); the device's workstation certificates."""
    from firmware.governance.roles import Action
    from firmware.system.clients import Clients
    cfg = _config(args)
    gov = _governance(cfg)
    actor = _login(gov, args, Action.CONFIG)
    return cfg, actor, Clients(gov.accounts.db, gov.logbook, cfg.storage.key_dir, cfg.device.id)


def cmd_client_issue(args) -> int:
    """A client certificate for a computer in the secured room, as a PKCS#12 bundle to import
    in its browser, and the device's server certificate so that browser can trust the device."""
    import socket
    from firmware.system.clients import ClientError
    from firmware.web.server import ensure_certificate
    out = Path(args.out)
    bundle_path, server_path = out / f"{args.name}.p12", out / "nvr-apparaat.crt"
    for path in (bundle_path, server_path):
        if path.exists():
            raise CliError(f"{path} exists already; choose another --out directory or move it")
    cfg, actor, clients = _clients(args)
    given = os.environ.get("NVR_BUNDLE_PASSWORD") or None
    try:
        bundle, password, record = clients.issue(actor, args.name, password=given,
                                                 days=args.days)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(bundle_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bundle)
    cert, _ = ensure_certificate(cfg.storage.key_dir, socket.gethostname())
    server_path.write_bytes(Path(cert).read_bytes())
    until = datetime.fromtimestamp(record["not_after"], timezone.utc).isoformat(timespec="minutes")
    print(f"workstation certificate for {args.name} (serial {record['serial']}, valid until "
          f"{until}) written to {bundle_path}")
    print(f"the device's server certificate, to trust in that browser: {server_path}")
    if given is None:
        print(f"password of the bundle (shown once, give it with the file in person): {password}")
    print("Import the bundle in the browser of the computer in the secured room (personal "
          "certificates), then remove the file from any other medium.")
    return 0


def cmd_client_list(args) -> int:
    _, _, clients = _clients(args)
    rows = [{**r, "issued": _iso(r["issued"]), "not_after": _iso(r["not_after"]),
             "revoked": _iso(r["revoked"])} for r in clients.list()]
    _print(rows, args.json, "\n".join(
        f"{r['name']:24} {r['state']:8} until {r['not_after']}  serial {r['serial']}  "
        f"issued by {r['issued_by']}" + (f", revoked by {r['revoked_by']}" if r["revoked"]
                                         else "")
        for r in rows) or "no workstation certificates")
    return 0


def cmd_client_revoke(args) -> int:
    from firmware.system.clients import ClientError
    _, actor, clients = _clients(args)
    try:
        rows = clients.revoke(actor, args.name)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    print(f"revoked {len(rows)} certificate(s) of workstation {args.name}: it shows no footage "
          "from its next request on")
    return 0


def _group(sub, name: str, help: str):
    """A command with actions of its own: `nvr NAME ACTION ...`."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_action", required=True,
                                                          metavar="ACTION")


def _action(group, name: str, func, help: str, json: bool = True) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help)
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nvr", description="Compliance-first video recorder.")
    p.add_argument("--version", action="version", version=f"nvr {__version__}")
    p.add_argument("--config", metavar="FILE",
                   help=f"configuration file (default: ${CONFIG_ENV})")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="write a ready-to-run configuration into a new directory")
    s.add_argument("directory")
    s.add_argument("--source", default="synthetic",
                   choices=["synthetic", "picamera2", "file", "v4l2"],
                   help="camera source of the first camera (default: synthetic)")
    s.add_argument("--staff-in-view", choices=["yes", "no", "ja", "nee"],
                   help="does the camera see staff at work (art. 11)? asked when not given")
    s.add_argument("--works-council-reference", help="the works council's approval (art. 11)")
    s.add_argument("--works-council-date", help="its date, YYYY-MM-DD")
    s.add_argument("--dpia-reference", help="the DPIA's reference; asked when not given")
    s.add_argument("--dpia-date", help="the date the DPIA was completed, YYYY-MM-DD")
    s.add_argument("--signage", action="append", metavar="PLACE",
                   help="where a sign announcing camera surveillance hangs (art. 6 lid 3); "
                        "repeat for every entrance")
    s.set_defaults(func=cmd_init)

    _action(_group(sub, "config", "configuration commands"), "check", cmd_config_check,
            "validate the configuration and report problems", json=False)

    s = sub.add_parser("run", help="record every configured camera until Ctrl-C")
    s.add_argument("--no-web", action="store_true",
                   help="do not start the web interface (it runs as its own service)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("web", help="serve the web interface over TLS")
    s.set_defaults(func=cmd_web)

    s = sub.add_parser("ingest", help="run the recording pipeline on a video file")
    s.add_argument("video")
    s.add_argument("--camera", required=True, help="camera id whose settings apply")
    s.add_argument("--start", type=_iso_time, default=None,
                   help="time of the first frame, ISO 8601 with zone (default: now)")
    s.add_argument("--realtime", action="store_true", help="pace frames at the video's rate")
    s.add_argument("--json", action="store_true", help="print a JSON summary")
    s.set_defaults(func=cmd_ingest)

    recs = _group(sub, "recordings", "stored recordings")
    c = _action(recs, "list", cmd_recordings_list, "list stored segments")
    c.add_argument("--camera")
    _action(recs, "verify", cmd_recordings_verify, "decrypt and authenticate every segment")

    c = _action(_group(sub, "segment", "one segment"), "play", cmd_segment_play,
                "decrypt a segment (by id, or a file, also a copy taken elsewhere) into a "
                "pipe: nvr segment play ID ... | ffplay -", json=False)
    c.add_argument("target", metavar="FILE|ID")
    _footage_arguments(c)

    c = _action(_group(sub, "retention", "retention by cryptographic erase"), "run",
                cmd_retention_run, "run one retention sweep now")
    c.add_argument("--clock-checked", action="store_true",
                   help="the time is right (checked by hand): erase by it even though the "
                        "clock is not synchronised and far ahead of the last recording")

    holds = _group(sub, "hold", "holds on footage (R-41)")
    c = _action(holds, "add", cmd_hold_add, "hold a camera's footage in a time window")
    c.add_argument("--camera", required=True)
    c.add_argument("--start", type=_iso_time, required=True)
    c.add_argument("--end", type=_iso_time, required=True)
    c.add_argument("--reason", required=True)
    c.add_argument("--reference", required=True)
    c.add_argument("--user", help="your account (beheerder); password from NVR_PASSWORD")
    c = _action(holds, "release", cmd_hold_release, "release a hold (not one of a request "
                "still open: close the request)")
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user", help="your account (beheerder); password from NVR_PASSWORD")
    _action(holds, "list", cmd_hold_list, "list holds")

    from firmware.governance.roles import Role
    users = _group(sub, "user", "personal accounts (R-10, R-81)")
    c = _action(users, "add", cmd_user_add, "add an account: by a technisch-beheerder with a "
                "one-time setup code for the owner; the first technisch-beheerder and manager "
                "choose a password (NVR_NEW_PASSWORD or a prompt)", json=False)
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--enrollment-code", help="the one-time code from nvr init (the first "
                   "technisch-beheerder, the first manager-bedrijfsvoering)")
    c.add_argument("--user", help="your account (a technisch-beheerder); NVR_PASSWORD")
    _action(users, "list", cmd_user_list, "list accounts")
    c = _action(users, "disable", cmd_user_disable, "disable an account", json=False)
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user", required=True)
    c = _action(users, "enable", cmd_user_enable, "propose a disabled account for use again "
                "(a manager-bedrijfsvoering approves it)", json=False)
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user", required=True)
    c = _action(users, "passwd", cmd_user_passwd, "change your own password", json=False)
    c.add_argument("name")
    c.add_argument("--user", help="your account (must be NAME)")
    c = _action(users, "reset-code", cmd_user_reset_code,
                "a one-time code for the owner to set a new password (technisch-beheerder)",
                json=False)
    c.add_argument("name")
    c.add_argument("--user", required=True)
    c = _action(users, "reset", cmd_user_reset, "set your new password with a reset code; "
                "password from NVR_NEW_PASSWORD or a prompt", json=False)
    c.add_argument("name")
    c.add_argument("--code", required=True)
    c = _action(users, "pending", cmd_user_pending, "accounts awaiting approval (manager)")
    c.add_argument("--user", required=True)
    c = _action(users, "approve", cmd_user_approve, "approve an account of any role but "
                "technisch-beheerder (manager-bedrijfsvoering, art. 2, art. 3.1)", json=False)
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=[r.value for r in Role],
                   help="the role you approve, as `user pending` shows it")
    c.add_argument("--user", required=True)
    c = _action(users, "role", cmd_user_role, "change an account's role (technisch-beheerder)",
                json=False)
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--user", required=True)

    reqs = _group(sub, "request", "requests for footage, art. 9 and 10")
    c = _action(reqs, "add", cmd_request_add, "register (art. 9) or take in (art. 10)")
    c.add_argument("--article", type=int, choices=[9, 10], required=True)
    c.add_argument("--reference")
    c.add_argument("--requester")
    c.add_argument("--requester-kind", default="citizen",
                   choices=["citizen", "company", "insurer", "lawyer", "other"])
    c.add_argument("--acts-for", choices=["defence-of-suspect", "victim", "civil-claim", "other"],
                   help="art. 10: what a lawyer acts for; the defence of a suspect goes "
                        "through the officier van justitie (art. 10 lid 2)")
    c.add_argument("--legal-basis", choices=["126nd", "126nda"])
    c.add_argument("--motivation")
    c.add_argument("--received", type=_iso_time)
    c.add_argument("--camera", required=True)
    c.add_argument("--start", type=_iso_time, required=True)
    c.add_argument("--end", type=_iso_time, required=True)
    c.add_argument("--user")
    c = _action(reqs, "decide", cmd_request_decide, "approve or refuse an art. 10 request")
    c.add_argument("id", type=int)
    c.add_argument("--approve", action="store_true")
    c.add_argument("--refuse", action="store_true")
    c.add_argument("--reason", required=True)
    c.add_argument("--weighing", help="others in view weighed against the requester's "
                                      "interest (toelichting art. 10); needed to approve")
    c.add_argument("--blur", choices=["none", "detect", "regions"], default="none",
                   help="the blurring the inzage must show (toelichting art. 10): none, "
                        "detect (people detected automatically) or regions (at least one drawn "
                        "region); binding on every segment shown")
    c.add_argument("--user")
    c = _action(reqs, "identity", cmd_request_identity, "record the in-person identity check")
    c.add_argument("id", type=int)
    c.add_argument("--officer", help="art. 9 lid 3: the officer's name and rank")
    c.add_argument("--document-type", choices=["dienstpas", "paspoort", "identiteitskaart",
                                               "rijbewijs", "verblijfsdocument"],
                   help="art. 9 lid 3, art. 10 lid 4")
    c.add_argument("--last-digits", help="art. 9 lid 3, art. 10 lid 4: the last 2-4 "
                   "characters of the document number, never the full number or a BSN")
    c.add_argument("--user")
    c = _action(reqs, "declaration", cmd_request_declaration, "record the signed declaration")
    c.add_argument("id", type=int)
    c.add_argument("--signed-by", required=True)
    c.add_argument("--user")
    c = _action(reqs, "close", cmd_request_close, "the request is handled: release its hold")
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True)
    c.add_argument("--user")
    c = _action(reqs, "list", cmd_request_list, "list requests")
    c.add_argument("--overdue", action="store_true")
    c.add_argument("--user")
    c = _action(reqs, "show", cmd_request_show, "one request")
    c.add_argument("id", type=int)
    c.add_argument("--user")

    c = _action(reqs, "attach", cmd_request_attach,
                "attach a scan (PDF, PNG, JPEG) of the paper file, stored encrypted")
    c.add_argument("id", type=int)
    c.add_argument("file")
    c.add_argument("--kind", required=True,
                   choices=["written-request", "declaration", "decision-letter"])
    c.add_argument("--user")
    c = _action(reqs, "scans", cmd_request_scans, "list the scans of a request")
    c.add_argument("id", type=int)
    c.add_argument("--user")

    exports = _group(sub, "export", "exports to police and prosecutor (art. 9, R-60..R-62)")
    c = _action(exports, "create", cmd_export_create, "write the package for a registered art. 9 "
                "request after the officer's identity and declaration; password from "
                "NVR_EXPORT_PASSWORD or a prompt")
    c.add_argument("--request", type=int, required=True)
    c.add_argument("--start", type=_iso_time, help="default: the request's window")
    c.add_argument("--end", type=_iso_time, help="default: the request's window")
    c.add_argument("--user")
    c = _action(exports, "handover", cmd_export_handover, "record the handover of an export "
                "to the identified officer (art. 9 lid 2-4)")
    c.add_argument("id", type=int)
    c.add_argument("--medium", required=True, help="the stick's label or serial number")
    c.add_argument("--user")
    c = _action(exports, "list", cmd_export_list, "list exports and their handovers")
    c.add_argument("--user")
    c = _action(exports, "declaration", cmd_export_declaration, "print the art. 9 declaration "
                "of an export (R-62)", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--out", required=True)
    c.add_argument("--user")

    dels = _group(sub, "delegation", "delegations from the beheerder to designees (R-12)")
    c = _action(dels, "add", cmd_delegation_add, "grant a delegation")
    c.add_argument("--grantee", required=True)
    c.add_argument("--actions", required=True, help="comma-separated: live,playback,export")
    c.add_argument("--cameras", required=True, help="comma-separated camera ids")
    c.add_argument("--reason", required=True)
    c.add_argument("--expires", type=_iso_time, required=True)
    c.add_argument("--user")
    c = _action(dels, "revoke", cmd_delegation_revoke, "revoke a delegation", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user")
    c = _action(dels, "list", cmd_grants_list, "list delegations")
    c.add_argument("--user")
    c.set_defaults(kind="delegation")

    visits = _group(sub, "visit", "visits of police and prosecutor (R-11, art. 5.4)")
    c = _action(visits, "open", cmd_visit_open, "register the visitors and open their session")
    c.add_argument("--visitor", required=True)
    c.add_argument("--organisation", required=True)
    c.add_argument("--identity", required=True, help="how identity was checked")
    c.add_argument("--legal-basis", required=True, choices=["126nd", "126nda"])
    c.add_argument("--reason", required=True)
    c.add_argument("--camera", action="append", required=True)
    c.add_argument("--start", type=_iso_time, required=True)
    c.add_argument("--end", type=_iso_time, required=True)
    c.add_argument("--minutes", type=int, default=60)
    c.add_argument("--user")
    c = _action(visits, "close", cmd_visit_close, "close a visit", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--reason", required=True, help="why; the logbook records it")
    c.add_argument("--user")
    c = _action(visits, "list", cmd_grants_list, "list visits")
    c.add_argument("--user")
    c.set_defaults(kind="visit")

    c = _action(reqs, "declaration-pdf", cmd_request_declaration_pdf,
                "print the pre-filled declaration with file hashes (R-62, R-73)", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
    c = _action(reqs, "inzage", cmd_request_inzage,
                "the segments an approved art. 10 request may show (art. 10 lid 4-5)")
    c.add_argument("id", type=int)
    c.add_argument("--user")
    c = _action(reqs, "play", cmd_request_play, "one segment of an art. 10 request's window "
                "into a player: nvr request play ID SEGMENT --user U | ffplay -", json=False)
    c.add_argument("id", type=int)
    c.add_argument("segment", help="a segment id from `nvr request inzage`")
    c.add_argument("--detect", action="store_true", help="blur detected people")
    c.add_argument("--regions", default="", help="blur rectangles x,y,w,h as fractions of the "
                                                 "frame, several separated by ;")
    c.add_argument("--user")
    c = _action(reqs, "letter", cmd_request_letter,
                "the decision letter of an art. 10 request, as PDF (art. 10 lid 3)", json=False)
    c.add_argument("id", type=int)
    c.add_argument("--out", required=True)
    c.add_argument("--user")

    c = sub.add_parser("report", help="the DPIA / DPO report as PDF (R-83)")
    c.add_argument("--from", dest="since", type=_iso_date, required=True)
    c.add_argument("--to", type=_iso_date, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--user")
    c.set_defaults(func=cmd_report)

    decisions = _group(sub, "decision", "decisions outside the rules (art. 12, R-80)")
    c = _action(decisions, "open", cmd_decision_open,
                "put a situation the regulation does not cover to the eindverantwoordelijke")
    c.add_argument("--question", required=True)
    c.add_argument("--user", required=True)
    c = _action(decisions, "advise", cmd_decision_advise,
                "your advice as privacy officer or functionaris gegevensbescherming")
    c.add_argument("id", type=int)
    c.add_argument("--advice", required=True)
    c.add_argument("--user", required=True)
    c = _action(decisions, "record", cmd_decision_record,
                "record the decision of the gemeentesecretaris/algemeen directeur, after "
                "both advices")
    c.add_argument("id", type=int)
    c.add_argument("--decision", required=True)
    c.add_argument("--on-behalf-of", help="manager bedrijfsvoering: the gemeentesecretaris/"
                                          "algemeen directeur you record for (art. 3 lid 1)")
    c.add_argument("--user", required=True)
    c = _action(decisions, "list", cmd_decision_list, "questions and decisions")
    c.add_argument("--user", required=True)

    c = _action(users, "totp", cmd_user_totp, "turn on the second factor for your account",
                json=False)
    c.add_argument("--user", required=True)

    books = _group(sub, "logbook", "the logbooks (R-50, R-51)")
    c = _action(books, "verify", cmd_logbook_verify, "verify the hash chains and signed heads")
    c.add_argument("--user", required=True)
    c = _action(books, "head", cmd_logbook_head, "the signed head of each book, to record "
                "outside the device")
    c.add_argument("--book", choices=["usage", "inzien"], action="append")
    c = _action(books, "export", cmd_logbook_export, "export a logbook", json=False)
    c.add_argument("--book", choices=["usage", "inzien"], required=True)
    c.add_argument("--format", choices=["csv", "pdf"], required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--user")

    clients = _group(sub, "client", "client certificates of the workstations in the secured "
                     "room (art. 4 lid 1)")
    c = _action(clients, "issue", cmd_client_issue, "issue a certificate bundle (PKCS#12) for "
                "a workstation's browser; password from NVR_BUNDLE_PASSWORD or made and "
                "printed once", json=False)
    c.add_argument("name", help="the workstation, e.g. centrale-ruimte")
    c.add_argument("--out", default=".", help="directory for NAME.p12 and nvr-apparaat.crt")
    c.add_argument("--days", type=int, default=730, help="validity in days (default 730)")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    c = _action(clients, "list", cmd_client_list, "every certificate issued, with its state")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    c = _action(clients, "revoke", cmd_client_revoke, "revoke a workstation's certificate",
                json=False)
    c.add_argument("name")
    c.add_argument("--user", required=True, help="your account (technisch-beheerder)")
    return p


def _undecodable(argv: list[str]) -> str | None:
    """An argument whose bytes were not UTF-8 (Python keeps them as lone surrogates, which
    cannot be stored or logged), or None."""
    for arg in argv:
        if any("\ud800" <= ch <= "\udfff" for ch in arg):
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    bad = _undecodable(sys.argv[1:] if argv is None else argv)
    if bad is not None:
        print(f"nvr: the argument {ascii(bad)} is not UTF-8 text; type it again in a UTF-8 "
              "terminal", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.command == "ingest" and not args.verbose:
        logging.getLogger("firmware").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, StorageError) as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as exc:                  # documents.FontsMissing (fpdf not imported
        documents = sys.modules.get("firmware.governance.documents")   # for every command)
        if documents is None or not isinstance(exc, documents.FontsMissing):
            raise
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.DatabaseError as exc:         # the index, found damaged or busy on the way
        from firmware.storage import index
        problem = index.damaged(Path("index.sqlite3"), exc) if index.is_damage(exc) else \
            f"the index could not be read ({exc}); try again"
        print(f"nvr: {problem}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
