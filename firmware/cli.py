"""The `nvr` command."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from firmware import __version__
from firmware.config import CONFIG_ENV, Config, ConfigError, load

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


def _config(args) -> Config:
    return load(args.config)


def cmd_init(args) -> int:
    from firmware.provision import InitError, init_device
    try:
        path = init_device(Path(args.directory), args.source)
    except InitError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {path}")
    print(f"start the recorder with: nvr --config {path} run")
    return 0


def cmd_config_check(args) -> int:
    cfg = _config(args)
    print(f"{cfg.source}: OK, {len(cfg.cameras)} camera(s)")
    for cam in cfg.cameras:
        reason = cam.recording_blocked_reason()
        if reason:
            print(f"  warning: {reason}")
    return 0


def _sink(cfg: Config):
    from firmware.storage.plaindir import DirectorySink
    return DirectorySink(cfg.storage.data_dir / "segments")


def cmd_ingest(args) -> int:
    from firmware.capture.sources import SourceError
    from firmware.recording.ingest import ingest
    cfg = _config(args)
    video = Path(args.video)
    if not video.is_file():
        raise CliError(f"{video}: no such file")
    try:
        summary = ingest(cfg, args.camera, video, _sink(cfg), start=args.start,
                         realtime=args.realtime)
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


def cmd_run(args) -> int:
    from firmware.recording.service import RecorderService
    from firmware.system.memory import limit_malloc_arenas
    cfg = _config(args)
    limit_malloc_arenas()
    service = RecorderService(cfg, _sink(cfg))
    stop = []

    def _stop(signum, frame):
        stop.append(signum)
        service.stop_event.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    service.start()
    if not service.workers:
        raise CliError("no camera may record: " + "; ".join(service.refused.values()))
    print(f"recording {len(service.workers)} camera(s) into {cfg.storage.data_dir}; "
          "Ctrl-C stops", flush=True)
    while service.alive() and not stop:
        service.stop_event.wait(0.5)
    service.stop()
    failed = [w for w in service.workers if w.error]
    print("stopped; open segments closed", flush=True)
    return EXIT_FAILED if failed and not stop else 0


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
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("config", help="configuration commands")
    csub = s.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    c = csub.add_parser("check", help="validate the configuration and report problems")
    c.set_defaults(func=cmd_config_check)

    s = sub.add_parser("run", help="record every configured camera until Ctrl-C")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("ingest", help="run the recording pipeline on a video file")
    s.add_argument("video")
    s.add_argument("--camera", required=True, help="camera id whose settings apply")
    s.add_argument("--start", type=_iso_time, default=None,
                   help="time of the first frame, ISO 8601 with zone (default: now)")
    s.add_argument("--realtime", action="store_true", help="pace frames at the video's rate")
    s.add_argument("--json", action="store_true", help="print a JSON summary")
    s.set_defaults(func=cmd_ingest)
    return p


def main(argv: list[str] | None = None) -> int:
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
    except CliError as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
