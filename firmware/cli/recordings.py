"""Recordings: `nvr ingest` (the pipeline on a video file), `recordings list|verify`, `segment
play` and `retention run`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from firmware.cli.common import (EXIT_FAILED, CliError, _action, _config, _footage_arguments,
                                 _footage_here, _governance, _group, _iso, _iso_time, _login,
                                 _print, _reconciled, _refuse_unless_pipe, _store)


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
    cfg = _config(args)
    store = _store(cfg)
    try:
        rec = store.settle("verify")
    except StoreBusy:
        rec = None                              # the recorder owns it: reconciling is its job
    checked, problems = store.verify(vouched=_logbook_vouches(cfg, store))
    alarms = store.alarms()
    waiting = store.quarantined()
    bad = {p["segment"] for p in problems}          # a segment may fail more than one check
    result = {"checked": checked, "ok": max(0, checked - len(bad)), "problems": problems,
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


def _logbook_vouches(cfg, store):
    """Whether a usage logbook entry is the device's own (storage/hashes.py `Vouch`), asked only
    of a chain that starts after a prune: the logbook is opened then, not for every verify."""
    from firmware.storage.hashes import chain_start
    with store.lock:
        if chain_start(store.db)[0] == 0:
            return None
    try:
        gov = _governance(cfg)
    except OSError as exc:
        raise CliError(f"the recording-time hashes start after a prune, and only the logbook "
                       f"can vouch for it, but it cannot be opened ({exc}): run `nvr recordings "
                       "verify` as the recorder's user (nvr-admin)") from None
    return lambda entry: gov.logbook.genuine("usage", entry)


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
    from firmware.governance.clockcheck import (DECLARE, NotLogged, erase_by_declared_clock,
                                                os_account)
    from firmware.i18n import _
    from firmware.storage.retention import sweep
    if args.user is not None and not args.clock_checked:
        raise CliError(_("--user goes with --clock-checked (who declares the clock right); a "
                         "sweep by a trusted clock needs no account: leave --user out"))
    cfg = _config(args)
    store = _store(cfg)
    try:                    # with the logbook the sweep prunes the hashes of erased segments
        gov = _governance(cfg)
    except OSError as exc:  # erasing never waits for the logbook; the hashes wait for it
        if args.clock_checked:      # a declared clock erases only once it is logged
            raise CliError(_("the logbook cannot be opened (%(error)s), and erasing by a clock "
                             "declared right is logged first (R-40, R-50): nothing was erased; "
                             "run it as the recorder's user: sudo nvr-admin retention run "
                             "--clock-checked --user NAME", error=exc)) from None
        gov = None
        print(f"nvr: the logbook cannot be opened ({exc}): footage is erased, the hashes of "
              "erased segments are removed by a later sweep", file=sys.stderr)
    try:
        if args.clock_checked:      # who declares the clock right, logged before any erase
            who = _login(gov, args, DECLARE).name if args.user is not None else os_account()
            try:
                report = erase_by_declared_clock(gov.logbook, store, who,
                                                 account=args.user is not None)
            except NotLogged as exc:
                raise CliError(str(exc)) from None
        else:
            report = sweep(store, purge=True, logbook=gov and gov.logbook)
    finally:
        if gov is not None:
            gov.close()
    horizon = report.horizon_seconds
    text = (f"destroyed {len(report.slots_destroyed)} slot key(s), erased "
            f"{len(report.segments_erased)} segment(s), freed {report.bytes_freed} bytes, "
            f"removed {report.hashes_pruned} recording-time hash(es) of erased segments; "
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


def add_parser(sub) -> None:
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
                        "clock is not synchronised and far ahead of the last recording; logged "
                        "in the usage logbook with who declared it, before any key is destroyed")
    c.add_argument("--user", help="with --clock-checked: your account (technisch beheerder, "
                   "R-11 system configuration; required under sudo nvr-admin); password from "
                   "NVR_PASSWORD")
