"""The device itself: `nvr init`, `config check`, `run` (the recorder) and `web` (the web
interface, its own process)."""

from __future__ import annotations

import faulthandler
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from firmware.cli.common import (EXIT_FAILED, EXIT_USAGE, CliError, _action, _config, _governance,
                                 _group, _login, _reconciled, _record_config_changes, _store,
                                 nvr_command)
from firmware.i18n import _


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
        print(f"  {nvr_command()} --config {shlex.quote(str(path))} user add NAME --role "
              f"{role.value} --enrollment-code {code}")
    print(f"start the recorder with: {nvr_command()} --config {shlex.quote(str(path))} run")
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


def cmd_config_install(args) -> int:
    """Issue 14 (R-11): the configuration put in place without root's shell; `sudo nvr-admin
    config install FILE` runs this as root and restarts the units when it changed."""
    from firmware.config import CONFIG_ENV
    from firmware.system.config_install import FixedKeyChanged, install
    target = args.config or os.environ.get(CONFIG_ENV)
    if not target:
        raise CliError("no configuration given: pass --config FILE (the one to replace)")
    try:
        text = (sys.stdin.read() if args.source == "-"
                else Path(args.source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {args.source}: {exc}; give a readable UTF-8 TOML file")
    if args.check_only:       # nvr-admin runs this as its caller first (reviewer A): the
        from firmware.config import parse          # file checks (a camera's file exists?)
        parse(text, source=str(target), base=Path(target).parent)   # answer with the
        print(_("%(path)s: the new file passes the check", path=target))   # caller's rights
        return 0
    try:
        done = install(text, Path(target), files=not args.files_checked)
    except FixedKeyChanged as exc:                 # the storage paths stay
        raise CliError(f"{target}: {exc}") from None
    if not done.changed:
        print(_("%(path)s: unchanged", path=target))
    else:
        print(_("%(path)s: installed; changed: %(keys)s", path=target,
                keys=", ".join(done.keys) or _("(layout only)")))
    return 0


def _warn_swap() -> None:
    """Decrypted video and keys must not reach swap (docs/storage.md, Swap)."""
    from firmware.system.swap import swap_warning
    warning = swap_warning()
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def _note_unclean_end(cfg, store) -> bool:
    """Issue 12 item 2: a start after an unclean end of the recorder (killed, crashed, the
    watchdog, a power cut) is counted in the index and written to the usage logbook. Returns
    whether there was one."""
    from firmware.governance.logbook import SYSTEM
    from firmware.storage import restarts
    row = restarts.begin_run(store)
    if row is None:
        return False
    details = {"previous_start": row["previous_start"], "previous_pid": row["previous_pid"],
               "nrestarts": row["nrestarts"]}
    gov = _governance(cfg)
    try:
        gov.logbook.append("usage", SYSTEM, "recorder-restart",
                           details={k: v for k, v in details.items() if v is not None},
                           at=row["at"])
    finally:
        gov.close()
    print(f"recorder restarted after an unclean end: the recorder before it (pid "
          f"{row['previous_pid']}) did not stop cleanly (killed, crashed, stopped by the "
          f"watchdog or before it was ready, or the power went); {restarts.count(store)} such "
          "restart(s) counted, this "
          "one in the usage logbook", flush=True)
    return True


def cmd_run(args) -> int:
    from firmware.recording.sealing import SealThread
    from firmware.recording.service import RecorderService
    from firmware.recording.watchdog import Watchdog, failure_bound
    from firmware.storage import restarts
    from firmware.system.notify import Notifier
    from firmware.storage.retention import RetentionThread
    from firmware.system.memory import limit_malloc_arenas
    from firmware.governance.introduction import refusals
    from firmware.system.gpio import start_gpio, stop_gpio
    cfg = _config(args)
    _warn_swap()
    _record_config_changes(cfg, "nvr run")
    refused = refusals(cfg)                 # the DPIA (introduction), art. 11
    if len(refused) == len(cfg.cameras):    # before anything starts
        messages = list(dict.fromkeys(r.message for r in refused.values()))
        raise CliError("no camera may record: " + "; ".join(messages))
    limit_malloc_arenas()
    # systemd's watchdog ends a hung recorder with SIGABRT: the journal then shows where every
    # thread was (a stalled camera, a write that hangs).
    faulthandler.enable(all_threads=True)
    print(f"other commands: {nvr_command()} --config {shlex.quote(str(cfg.source))} COMMAND "
          f"({nvr_command()} --help lists them)", flush=True)
    store = _store(cfg, owner="record")          # owned for the recorder's life (issue 9)
    if _reconciled(store.reconciliation):
        print(_reconciled(store.reconciliation), flush=True)
    unclean = _note_unclean_end(cfg, store)
    service = RecorderService(cfg, store, unclean_start=unclean)
    watchdog = Watchdog(service, store, Notifier(),    # sd_notify: READY, WATCHDOG, STATUS
                        failure_bound=failure_bound(cfg.storage.watchdog_failure_seconds,
                                                    cfg.storage.segment_seconds))
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
    retention = RetentionThread(store, service.stop_event,    # prunes erased hashes
                                open_governance=lambda: _governance(cfg))
    retention.start()
    sealer = SealThread(store, lambda: _governance(cfg))   # hashes under the logbook
    sealer.start()
    gpio = None
    ended = False
    try:
        service.start()
        gpio = start_gpio(cfg, store, service.status)      # [gpio]: LED, case switch, eject
        print(f"recording {len(service.workers)} camera(s) into {cfg.storage.data_dir}; "
              "Ctrl-C stops", flush=True)
        while service.alive() and not stop:
            watchdog.check()                # pings systemd only while frames and writes flow
            service.stop_event.wait(0.5)
        ended = True
    finally:
        stop_gpio(gpio)
        watchdog.stopping()
        service.stop()
        if web is not None:
            web.terminate()
            web.wait(10)
        retention.join(10)
        failed = [w for w in service.workers if w.error]
        # Under systemd, a stop before READY=1 is its start timeout (a camera that never
        # delivered): a failed start, counted as a restart at the next one (redteam12).
        started = watchdog.ready or not watchdog.notifier.enabled
        if ended and (stop and started or not stop and not failed):   # a clean stop
            store.drain()
            restarts.end_run(store)
        sealer.finish()                     # seals what is stored, before the store closes
        store.close()
    print("stopped; open segments closed", flush=True)
    return EXIT_FAILED if failed and not stop else 0


def cmd_tamper_ack(args) -> int:
    """The technisch beheerder acknowledges the case tamper alarm (system/case.py)."""
    from firmware.system.case import CaseError, acknowledge
    cfg = _config(args)
    gov = _governance(cfg)
    store = _store(cfg)
    try:
        actor = _login(gov, args, None)
        alarm = acknowledge(gov.logbook, store, actor, args.reason or "")
    except CaseError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
        gov.close()
    print(f"case tamper alarm acknowledged (it was: {alarm['detail']})")
    return 0


WEB_NICE = 10


def _first_account_hint(cfg) -> None:
    gov = _governance(cfg)
    if gov.accounts.count() == 0:
        print("no accounts yet. Make the first (a technisch-beheerder), as root:\n"
              f"  {nvr_command()} --config {shlex.quote(str(cfg.source))} user add NAME --role "
              "technisch-beheerder\n"
              "or as any user with the one-time code `nvr init` printed: add "
              "--enrollment-code CODE; or with that code in the browser, on the web "
              "interface's page /eerste-account. Then log in at the web interface's URL.",
              flush=True)
    gov.close()


def _remove_stale_update_copies(cfg) -> None:
    """The copies of update bundles a power cut or SIGKILL left on the footage disk (R-42):
    nvr-web made them (`nvr update` runs as nvr-web) and alone may remove them, and the web
    starts at every boot (firmware/system/update.py remove_stale_copies)."""
    from firmware.system.update import remove_stale_copies
    for removed in remove_stale_copies(cfg.storage.data_dir):
        print(f"removed {removed}: the copy of an update bundle an interrupted `nvr update` "
              "left on the footage disk", flush=True)


def cmd_web(args) -> int:
    """Serve the web interface (R-20) until SIGINT or SIGTERM."""
    import threading
    from firmware.web import create_app
    from firmware.web.server import WebServer
    cfg = _config(args)
    _warn_swap()
    _record_config_changes(cfg, "nvr web")
    _remove_stale_update_copies(cfg)
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


def add_parser(sub) -> None:
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

    config = _group(sub, "config", "configuration commands")
    _action(config, "check", cmd_config_check,
            "validate the configuration and report problems", json=False)
    s = _action(config, "install",
                cmd_config_install, "check a new configuration file like `config check` and "
                "put it in place of --config (0640 root:nvr when run as root)", json=False)
    s.add_argument("source", metavar="FILE", help="the new configuration; - reads standard input")
    s.add_argument("--check-only", action="store_true",
                   help="check the new file as `config check` would and write nothing (what "
                        "`sudo nvr-admin config install` runs with the caller's rights first)")
    s.add_argument("--files-checked", action="store_true",
                   help="leave out whether a camera's file exists: checked with the caller's "
                        "rights by --check-only (sudo nvr-admin), so root's answer tells nothing "
                        "about paths the caller may not see")

    s = sub.add_parser("run", help="record every configured camera until Ctrl-C")
    s.add_argument("--no-web", action="store_true",
                   help="do not start the web interface (it runs as its own service)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("web", help="serve the web interface over TLS")
    s.set_defaults(func=cmd_web)

    s = _action(_group(sub, "device", "the device's own hardware"), "tamper-ack",
                cmd_tamper_ack, "acknowledge the case tamper alarm once the case is closed "
                "(technisch beheerder)", json=False)
    s.add_argument("--user", help="your personal account; password from NVR_PASSWORD")
    s.add_argument("--reason", help="what was done in the case, and by whom")
